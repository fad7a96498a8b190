#![no_main]
//! The LZMA-alone extractor on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::LzmaAlone, data));
