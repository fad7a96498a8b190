#![no_main]
//! The sevenz extractor on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::SevenZip, data));
