#![no_main]
//! Sanitization of hostile bytes, read as an Office document, as RTF or as
//! whatever they are: never panics; a copy it makes sanitizes again
//! (what it writes, it can read).
use mdcore::sanitize::{SanitizeOptions, sanitize};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let name = match data.first().map(|b| b % 3) {
        Some(0) => "a.docm",
        Some(1) => "a.rtf",
        _ => "a.bin",
    };
    let opts = SanitizeOptions::new();
    if let Ok(copy) = sanitize(data, name, &opts) {
        let again = sanitize(&copy.data, name, &opts);
        assert!(again.is_ok(), "a sanitized copy does not sanitize again: {again:?}");
    }
});
