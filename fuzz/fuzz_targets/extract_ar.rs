#![no_main]
//! The ar reader (Debian packages, static libraries) on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::extract(mdcore::Kind::Ar, data));
