#![no_main]
//! The InstallShield launcher-data extractor on raw bytes (its decryption
//! has no checksum to fail, so raw mutations reach every path).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::InstallShield, data);
});
