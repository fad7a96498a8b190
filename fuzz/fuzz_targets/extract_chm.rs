#![no_main]
//! The CHM (ITSF, LZX section) extractor on raw bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::Chm, data);
});
