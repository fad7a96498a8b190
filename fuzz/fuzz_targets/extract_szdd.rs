#![no_main]
//! The SZDD and KWAJ (MS compress.exe) extractors on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::Szdd, data);
    mdscan_fuzz::extract(mdcore::Kind::Kwaj, data);
});
