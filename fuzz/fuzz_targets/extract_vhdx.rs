#![no_main]
//! The VHDX extractor on raw bytes, and on a valid container built
//! around them (`mdcore::fuzzing::vhdx_image`: headers and region tables
//! at their offsets with valid CRC-32C), so checksums do not stop the fuzzer
//! at the door.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::Vhdx, data);
    mdscan_fuzz::extract(mdcore::Kind::Vhdx, &mdcore::fuzzing::vhdx_image(data));
});
