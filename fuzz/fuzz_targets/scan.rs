#![no_main]
//! A whole scan of any bytes under tight limits: no panic, no hang, and the
//! report stays within the limits.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mdscan_fuzz::scan_and_check(data);
});
