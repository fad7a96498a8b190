#![no_main]
//! The RTF reader (objdata hex, OLE1 headers, bin runs) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Rtf, data));
