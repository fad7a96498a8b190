#![no_main]
//! The MIME reader (headers, boundaries, transfer encodings, uuencode,
//! yEnc and BinHex blocks) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Mail, data));
