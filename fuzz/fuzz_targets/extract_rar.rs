#![no_main]
//! The RAR extractor (RARLAB's UnRAR through the `unrar` crate) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Rar, data));
