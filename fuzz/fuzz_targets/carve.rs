#![no_main]
//! The carver on raw bytes: every hit lies inside the input, after where
//! the search started, and hits do not overlap.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let from = data.first().map_or(0, |b| usize::from(*b) % 64);
    mdcore::fuzzing::carve(data, from);
});
