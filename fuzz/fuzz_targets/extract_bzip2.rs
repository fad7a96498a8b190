#![no_main]
//! The bzip2 extractor on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Bzip2, data));
