#![no_main]
//! The InstallShield cabinet extractor on raw bytes (IS 6 on checks each
//! file's MD5, but the table and chunk walks run before any check).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::InstallShieldCab, data);
});
