#![no_main]
//! The TNEF (winmail.dat) reader on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Tnef, data));
