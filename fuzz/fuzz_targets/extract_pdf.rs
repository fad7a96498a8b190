#![no_main]
//! The PDF reader (object syntax, filters, object streams, decryption) on
//! raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Pdf, data));
