#![no_main]
//! Type detection on any prefix: never panics, always names a type.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = mdcore::detect(data);
    assert!(!t.mime.is_empty());
});
