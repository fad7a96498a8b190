#![no_main]
//! The OLE2 extractor (cfb, VBA, Ole10Native, .msg, PowerPoint objects) on
//! raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Ole2, data));
