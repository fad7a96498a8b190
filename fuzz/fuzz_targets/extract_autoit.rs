#![no_main]
//! The AutoIt extractor on raw bytes, and on a valid container built
//! around them (`mdcore::fuzzing::autoit_sample`: one entry, encrypted and
//! checksummed), so encryption and checksums do not stop the fuzzer at the
//! door.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::AutoIt, data);
    mdscan_fuzz::extract(mdcore::Kind::AutoIt, &mdcore::fuzzing::autoit_sample(data));
});
