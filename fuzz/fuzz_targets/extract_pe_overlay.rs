#![no_main]
//! The pe_overlay extractor on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Pe, data));
