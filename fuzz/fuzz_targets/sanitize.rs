#![no_main]
//! Sanitization of hostile bytes, read as an Office document (OOXML or
//! 97-2003), RTF, PDF, a zip or whatever they are: never panics; a copy it
//! makes sanitizes again (what it writes, it can read).
use mdcore::sanitize::{SanitizeOptions, sanitize};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let name = match data.first().map(|b| b % 6) {
        Some(0) => "a.docm",
        Some(1) => "a.rtf",
        Some(2) => "a.pdf",
        Some(3) => "a.doc",
        Some(4) => "a.zip",
        _ => "a.bin",
    };
    let opts = SanitizeOptions::new();
    if let Ok(copy) = sanitize(data, name, &opts) {
        let again = sanitize(&copy.data, name, &opts);
        assert!(again.is_ok(), "a sanitized copy does not sanitize again: {again:?}");
    }
});
