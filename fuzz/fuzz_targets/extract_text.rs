#![no_main]
//! The text reader (encoded blocks, data: URIs, base64 runs) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Text, data));
