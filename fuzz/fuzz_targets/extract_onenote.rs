#![no_main]
//! The OneNote reader (FileDataStoreObject search and FSSHTTPB packages) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::OneNote, data));
