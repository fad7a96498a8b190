#![no_main]
//! ClamAV database parsing: any bytes as each kind of database file and as
//! a signed container. A malformed database is an error, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::clamav_parse(data));
