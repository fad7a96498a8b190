#![no_main]
//! The NSIS installer-data extractor (the `nsis` crate behind our PE stub)
//! on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Nsis, data));
