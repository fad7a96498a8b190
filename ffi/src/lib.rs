//! The C API of mdscan: build a scanner from a configuration, scan buffers
//! and files, read the verdict, threats and the JSON report.
//!
//! Conventions (see `ffi/README.md`):
//! - every function returns an [`MDC_RESULT`]; on failure
//!   [`mdc_last_error`] gives a message for the calling thread;
//! - handles are opaque, created by `*_create` (or a scan) and released by
//!   the matching `*_destroy`, which accepts NULL;
//! - a handle pointer that is not live (never created, already destroyed,
//!   or a handle of another kind) is rejected with `MDC_INVALID_ARGUMENT`
//!   instead of being dereferenced: live handles are kept in a registry;
//! - no Rust panic crosses the boundary: every export runs under
//!   `catch_unwind` and reports `MDC_PANIC`.
//!
//! Thread safety: a scanner may be used by many threads at once; a config
//! or a report by one thread at a time; `mdc_cancel_cancel` may be called
//! from any thread while a scan runs.

#![allow(non_camel_case_types)]
// The one crate of the workspace allowed `unsafe` (its lints are the
// workspace's otherwise): every export dereferences C pointers. Each
// unsafe operation sits in its own block, even inside an `unsafe fn`.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use mdcore::{CancelToken, Limits, Report, ScanOptions, Scanner, ScannerBuilder};

/// The outcome of every call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MDC_RESULT {
    /// Success.
    MDC_OK = 0,
    /// A NULL or dangling handle, a NULL out-pointer, a string that is not
    /// UTF-8, an index out of range.
    MDC_INVALID_ARGUMENT = 1,
    /// The configuration is unusable (a rule that does not compile, a bad
    /// hash list line); the message says which file and line.
    MDC_CONFIG_ERROR = 2,
    /// A file could not be read.
    MDC_IO_ERROR = 3,
    /// A bug inside mdscan was caught at the boundary; the handle involved
    /// should be destroyed.
    MDC_PANIC = 4,
    /// No sanitizer takes this file type (`mdc_sanitize_buffer`).
    MDC_UNSUPPORTED = 5,
    /// The file is of a sanitized type but could not be rebuilt
    /// (`mdc_sanitize_buffer`); the message says why.
    MDC_SANITIZE_FAILED = 6,
}

use MDC_RESULT::*;

/// Bytes owned by mdscan, released with [`mdc_buffer_free`]. `data` is
/// followed by a NUL byte not counted in `len`, so text can be used as a C
/// string.
#[repr(C)]
#[derive(Debug)]
pub struct MDC_BUFFER {
    /// The bytes, or NULL for an empty buffer.
    pub data: *mut u8,
    /// Their count.
    pub len: usize,
}

/// Archive limits for every scan of a scanner (see `mdcore::Limits`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MDC_LIMITS {
    /// Deepest nesting level extracted.
    pub max_depth: u32,
    /// Objects per input, the input included.
    pub max_objects: u64,
    /// Bytes extracted per input.
    pub max_total_bytes: u64,
    /// Largest single extracted object.
    pub max_object_size: u64,
    /// Largest expansion ratio of an archive member.
    pub max_ratio: u64,
    /// Wall-clock limit per input, milliseconds.
    pub timeout_ms: u64,
}

/// Called after each finished object with the objects and bytes done so
/// far. It may be called from several threads at once.
pub type MDC_PROGRESS_FN =
    Option<unsafe extern "C" fn(user_data: *mut c_void, objects: u64, bytes: u64)>;

/// Per-scan options; every field may be zero/NULL.
#[repr(C)]
#[derive(Debug)]
pub struct MDC_SCAN_OPTIONS {
    /// Name of the input (used in display paths); NULL for the default.
    pub name: *const c_char,
    /// A cancel handle from `mdc_cancel_create`, or NULL.
    pub cancel: *const mdc_cancel,
    /// Progress callback, or NULL.
    pub progress: MDC_PROGRESS_FN,
    /// Passed to `progress` unchanged.
    pub user_data: *mut c_void,
    /// Archive passwords to try for this scan.
    pub passwords: *const *const c_char,
    /// Number of entries in `passwords`.
    pub password_count: usize,
}

/// One detection: pointers valid until the report is destroyed.
#[repr(C)]
#[derive(Debug)]
pub struct MDC_THREAT {
    /// Threat (rule or list entry) name.
    pub name: *const c_char,
    /// Display path of the object, e.g. `outer.zip/inner.zip/eicar.com`.
    pub object: *const c_char,
    /// The engine that found it.
    pub engine: *const c_char,
}

/// Scanner configuration (opaque).
#[derive(Debug)]
pub struct mdc_config {
    builder: ScannerBuilder,
}

/// An immutable scanner (opaque); thread safe.
#[derive(Debug)]
pub struct mdc_scanner {
    scanner: Scanner,
}

/// The result of one scan (opaque).
#[derive(Debug)]
pub struct mdc_report {
    report: Report,
    code_text: CString,
    threats: Vec<[CString; 3]>,
}

/// A cancel switch for scans in progress (opaque).
#[derive(Debug)]
pub struct mdc_cancel {
    token: CancelToken,
}

// One file per handle type, as yara-x's C API does. The order of these
// declarations is the order of mdc.h (cbindgen follows it).
mod error;

mod handle;

mod config;

mod scanner;

mod cancel;

mod report;

mod sanitize;

pub use cancel::*;
pub use config::*;
pub use error::*;
#[allow(unused_imports)]
pub(crate) use handle::*;
pub use report::*;
pub use sanitize::*;
pub use scanner::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_by_kind_and_liveness() {
        // SAFETY: every pointer passed is NULL, a live handle, or checked by
        // the registry before use — which is what this test is about.
        unsafe {
            let mut cfg = std::ptr::null_mut();
            assert_eq!(mdc_config_create(&mut cfg), MDC_OK);
            // A config pointer is not a scanner.
            let mut r = std::ptr::null_mut();
            let code = mdc_scanner_scan_buffer(
                cfg.cast::<mdc_scanner>(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                &mut r,
            );
            assert_eq!(code, MDC_INVALID_ARGUMENT);
            assert_eq!(mdc_config_destroy(cfg), MDC_OK);
            assert_eq!(mdc_config_destroy(cfg), MDC_INVALID_ARGUMENT);
            assert_eq!(mdc_config_destroy(std::ptr::null_mut()), MDC_OK);
            let msg = CStr::from_ptr(mdc_last_error());
            assert!(msg.to_str().unwrap().contains("not a live handle"));
        }
    }

    #[test]
    fn json_buffer_round_trip() {
        // SAFETY: live handles and valid out-pointers throughout.
        unsafe {
            let mut cfg = std::ptr::null_mut();
            assert_eq!(mdc_config_create(&mut cfg), MDC_OK);
            let mut s = std::ptr::null_mut();
            assert_eq!(mdc_scanner_create(cfg, &mut s), MDC_OK);
            let mut r = std::ptr::null_mut();
            let data = b"hello";
            let code =
                mdc_scanner_scan_buffer(s, data.as_ptr(), data.len(), std::ptr::null(), &mut r);
            assert_eq!(code, MDC_OK);
            let mut b = MDC_BUFFER {
                data: std::ptr::null_mut(),
                len: 0,
            };
            assert_eq!(mdc_report_json(r, &mut b), MDC_OK);
            let text = std::slice::from_raw_parts(b.data, b.len);
            assert!(
                std::str::from_utf8(text)
                    .unwrap()
                    .contains("\"scan_all_result_i\":0")
            );
            assert_eq!(mdc_buffer_free(&mut b), MDC_OK);
            assert!(b.data.is_null());
            assert_eq!(mdc_buffer_free(&mut b), MDC_OK);
            assert_eq!(mdc_report_destroy(r), MDC_OK);
            assert_eq!(mdc_scanner_destroy(s), MDC_OK);
            assert_eq!(mdc_config_destroy(cfg), MDC_OK);
        }
    }
}
