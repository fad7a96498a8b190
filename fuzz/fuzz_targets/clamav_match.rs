#![no_main]
//! ClamAV body-signature matching: the first line is a signature (target,
//! offset, hex pattern), the rest the bytes it is matched against. No
//! panic, no hang: a search that runs long reports a failure.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mdscan_fuzz::clamav_match(data));
