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

// ---------------------------------------------------------------------------
// Errors and the panic boundary.

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

struct Fail(MDC_RESULT, String);

type Outcome = Result<(), Fail>;

fn invalid(what: &str) -> Fail {
    Fail(MDC_INVALID_ARGUMENT, what.to_string())
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, turning errors into a code plus a thread-local message and a
/// panic into `MDC_PANIC`.
fn guard(f: impl FnOnce() -> Outcome) -> MDC_RESULT {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => MDC_OK,
        Ok(Err(Fail(code, msg))) => {
            set_error(&msg);
            code
        }
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            set_error(&format!("internal error (panic): {why}"));
            MDC_PANIC
        }
    }
}

/// The message of the last failed call on this thread ("" if none). The
/// pointer is valid until the next failing call on the same thread.
#[unsafe(no_mangle)]
pub extern "C" fn mdc_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_ptr())).unwrap_or(c"internal error".as_ptr())
}

/// The library version, a static string.
#[unsafe(no_mangle)]
pub extern "C" fn mdc_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

// ---------------------------------------------------------------------------
// The handle registry: a pointer is only dereferenced if it is a live handle
// of the expected kind.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Config,
    Scanner,
    Report,
    Cancel,
}

fn registry() -> MutexGuard<'static, HashMap<usize, Kind>> {
    static LIVE: LazyLock<Mutex<HashMap<usize, Kind>>> = LazyLock::new(Mutex::default);
    // A panic while holding the lock cannot leave the map inconsistent
    // (single inserts and removes), so a poisoned lock is still usable.
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

trait Handle: Sized {
    const KIND: Kind;
}
impl Handle for mdc_config {
    const KIND: Kind = Kind::Config;
}
impl Handle for mdc_scanner {
    const KIND: Kind = Kind::Scanner;
}
impl Handle for mdc_report {
    const KIND: Kind = Kind::Report;
}
impl Handle for mdc_cancel {
    const KIND: Kind = Kind::Cancel;
}

fn register<T: Handle>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    registry().insert(ptr as usize, T::KIND);
    ptr
}

fn is_live<T: Handle>(ptr: *const T) -> bool {
    !ptr.is_null() && registry().get(&(ptr as usize)) == Some(&T::KIND)
}

/// Borrows a live handle.
fn handle<'a, T: Handle>(ptr: *const T, what: &str) -> Result<&'a T, Fail> {
    if ptr.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    if !is_live(ptr) {
        return Err(invalid(&format!("{what} is not a live handle")));
    }
    // SAFETY: `ptr` came from `register::<T>` (same kind) and has not been
    // destroyed; the caller promises not to destroy it during this call.
    Ok(unsafe { &*ptr })
}

/// Mutably borrows a live handle.
fn handle_mut<'a, T: Handle>(ptr: *mut T, what: &str) -> Result<&'a mut T, Fail> {
    handle(ptr.cast_const(), what)?;
    // SAFETY: as in `handle`; the API documents that configs and reports are
    // used by one thread at a time.
    Ok(unsafe { &mut *ptr })
}

/// Destroys a handle; NULL is fine, anything not live is refused.
fn destroy<T: Handle>(ptr: *mut T, what: &str) -> MDC_RESULT {
    guard(|| {
        if ptr.is_null() {
            return Ok(());
        }
        {
            let mut live = registry();
            // Only a live handle of this kind is removed (and freed).
            if live.get(&(ptr as usize)) != Some(&T::KIND) {
                return Err(invalid(&format!("{what} is not a live handle")));
            }
            live.remove(&(ptr as usize));
        }
        // SAFETY: `ptr` was produced by `Box::into_raw` in `register` and was
        // just removed from the registry, so it is freed exactly once.
        drop(unsafe { Box::from_raw(ptr) });
        Ok(())
    })
}

/// Writes `value` through a caller's out-pointer.
///
/// # Safety
/// `out` must be NULL or valid for writing a `T`.
unsafe fn put<T>(out: *mut T, value: T) -> Outcome {
    if out.is_null() {
        return Err(invalid("output pointer is NULL"));
    }
    // SAFETY: non-NULL, and the caller promises it points to writable
    // storage for a `T`.
    unsafe { out.write(value) };
    Ok(())
}

/// A UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string that outlives `'a`.
unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: non-NULL; the caller promises a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| invalid(&format!("{what} is not UTF-8")))
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Configuration.

/// Creates a configuration with the defaults: the built-in rules (EICAR),
/// default limits, one scan thread per core.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_create(out: *mut *mut mdc_config) -> MDC_RESULT {
    guard(|| {
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        let h = register(mdc_config {
            builder: ScannerBuilder::new(),
        });
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, h) }
    })
}

/// Destroys a configuration (scanners built from it stay valid).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_destroy(config: *mut mdc_config) -> MDC_RESULT {
    destroy(config, "config")
}

/// Adds a YARA rule file or a directory of `.yar`/`.yara` files.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_add_rules(
    config: *mut mdc_config,
    path: *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        c.builder.rules_path(unsafe { text(path, "path") }?);
        Ok(())
    })
}

/// Adds a hash block list (plain, ClamAV `.hdb`/`.hsb`; `.fp`/`.sfp` are
/// allow lists).
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_add_hash_list(
    config: *mut mdc_config,
    path: *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        c.builder.hash_list(unsafe { text(path, "path") }?);
        Ok(())
    })
}

/// Adds a hash allow list: listed objects are reported as allowed and skip
/// the other engines.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_add_allow_list(
    config: *mut mdc_config,
    path: *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        c.builder.allow_list(unsafe { text(path, "path") }?);
        Ok(())
    })
}

/// Adds an archive password tried on every encrypted archive.
///
/// # Safety
/// `password` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_add_password(
    config: *mut mdc_config,
    password: *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        c.builder.password(unsafe { text(password, "password") }?);
        Ok(())
    })
}

/// Turns the built-in rules (EICAR test file) on or off.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_set_default_rules(
    config: *mut mdc_config,
    enabled: bool,
) -> MDC_RESULT {
    guard(|| {
        handle_mut(config, "config")?.builder.default_rules(enabled);
        Ok(())
    })
}

/// Sets the number of scan threads (0: one per core).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_set_threads(
    config: *mut mdc_config,
    threads: usize,
) -> MDC_RESULT {
    guard(|| {
        handle_mut(config, "config")?.builder.threads(threads);
        Ok(())
    })
}

/// Fills `out` with the default limits.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_limits_default(out: *mut MDC_LIMITS) -> MDC_RESULT {
    guard(|| {
        let l = Limits::default();
        let v = MDC_LIMITS {
            max_depth: l.max_depth,
            max_objects: l.max_objects,
            max_total_bytes: l.max_total_bytes,
            max_object_size: l.max_object_size,
            max_ratio: l.max_ratio,
            timeout_ms: u64::try_from(l.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// Sets the archive limits (start from `mdc_limits_default`).
///
/// # Safety
/// `limits` must be NULL or point to an `MDC_LIMITS`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_set_limits(
    config: *mut mdc_config,
    limits: *const MDC_LIMITS,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        if limits.is_null() {
            return Err(invalid("limits is NULL"));
        }
        // SAFETY: non-NULL; the caller promises an `MDC_LIMITS`.
        let l = unsafe { *limits };
        if l.timeout_ms == 0 {
            return Err(invalid("limits.timeout_ms is 0"));
        }
        c.builder.limits(Limits {
            max_depth: l.max_depth,
            max_objects: l.max_objects,
            max_total_bytes: l.max_total_bytes,
            max_object_size: l.max_object_size,
            max_ratio: l.max_ratio,
            timeout: Duration::from_millis(l.timeout_ms),
            ..Limits::default()
        });
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Scanner.

/// Builds a scanner: compiles rules, loads hash lists. A rule that does not
/// compile gives `MDC_CONFIG_ERROR` and a message naming file and line.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_scanner_create(
    config: *const mdc_config,
    out: *mut *mut mdc_scanner,
) -> MDC_RESULT {
    guard(|| {
        let c = handle(config, "config")?;
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        let scanner = c.builder.build().map_err(|e| {
            let code = match e {
                mdcore::errors::Error::Io { .. } => MDC_IO_ERROR,
                _ => MDC_CONFIG_ERROR,
            };
            Fail(code, e.to_string())
        })?;
        let h = register(mdc_scanner { scanner });
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, h) }
    })
}

/// Destroys a scanner. No scan may be running on it.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_scanner_destroy(scanner: *mut mdc_scanner) -> MDC_RESULT {
    destroy(scanner, "scanner")
}

/// A `Send + Sync` carrier for the caller's callback and its data.
#[derive(Clone, Copy)]
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, u64, u64),
    user_data: *mut c_void,
}

// SAFETY: the API documents that the callback is called from scan threads,
// so the caller's `user_data` must be usable from them.
unsafe impl Send for Callback {}
// SAFETY: as above.
unsafe impl Sync for Callback {}

impl Callback {
    fn call(&self, objects: u64, bytes: u64) {
        // SAFETY: a function pointer the caller gave us, with its own data.
        unsafe { (self.f)(self.user_data, objects, bytes) }
    }
}

/// Turns `MDC_SCAN_OPTIONS` into mdcore's options.
///
/// # Safety
/// `opts` must be NULL or point to an `MDC_SCAN_OPTIONS` whose pointers
/// follow its documentation.
unsafe fn options(opts: *const MDC_SCAN_OPTIONS) -> Result<ScanOptions, Fail> {
    let mut o = ScanOptions::new();
    if opts.is_null() {
        return Ok(o);
    }
    // SAFETY: non-NULL; the caller promises an `MDC_SCAN_OPTIONS`.
    let opts = unsafe { &*opts };
    if !opts.name.is_null() {
        o = o.name(unsafe { text(opts.name, "options.name") }?);
    }
    if !opts.cancel.is_null() {
        o = o.cancel(handle(opts.cancel, "options.cancel")?.token.clone());
    }
    if let Some(f) = opts.progress {
        let cb = Callback {
            f,
            user_data: opts.user_data,
        };
        o = o.progress(move |p| cb.call(p.objects, p.bytes));
    }
    if opts.password_count > 0 {
        if opts.passwords.is_null() {
            return Err(invalid("options.passwords is NULL but password_count > 0"));
        }
        // SAFETY: non-NULL; the caller promises `password_count` entries.
        let list = unsafe { std::slice::from_raw_parts(opts.passwords, opts.password_count) };
        for p in list {
            o = o.password(unsafe { text(*p, "options.passwords[i]") }?);
        }
    }
    Ok(o)
}

fn report_handle(report: Report) -> *mut mdc_report {
    let threats = report
        .threats()
        .iter()
        .map(|t| {
            [
                c_string(&t.threat),
                c_string(&t.display_name),
                c_string(&t.engine),
            ]
        })
        .collect();
    register(mdc_report {
        code_text: c_string(report.verdict().as_str()),
        threats,
        report,
    })
}

/// Scans `len` bytes at `data` (NULL is allowed when `len` is 0).
///
/// # Safety
/// `data` must point to `len` readable bytes; `options` must be NULL or
/// point to an `MDC_SCAN_OPTIONS`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_scanner_scan_buffer(
    scanner: *const mdc_scanner,
    data: *const u8,
    len: usize,
    options: *const MDC_SCAN_OPTIONS,
    out: *mut *mut mdc_report,
) -> MDC_RESULT {
    guard(|| {
        let s = handle(scanner, "scanner")?;
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        if data.is_null() && len > 0 {
            return Err(invalid("data is NULL"));
        }
        if isize::try_from(len).is_err() {
            return Err(invalid("len is too large"));
        }
        // SAFETY: the caller's contract on `options`.
        let opts = unsafe { self::options(options) }?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, `len` fits `isize`, and the caller promises
            // `len` readable bytes that outlive this call.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let report = s.scanner.scan_bytes(bytes, &opts);
        let h = report_handle(report);
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, h) }
    })
}

/// Scans a file (memory-mapped when large: do not modify it meanwhile).
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `options` must be NULL
/// or point to an `MDC_SCAN_OPTIONS`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_scanner_scan_file(
    scanner: *const mdc_scanner,
    path: *const c_char,
    options: *const MDC_SCAN_OPTIONS,
    out: *mut *mut mdc_report,
) -> MDC_RESULT {
    guard(|| {
        let s = handle(scanner, "scanner")?;
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        let path = unsafe { text(path, "path") }?;
        // SAFETY: the caller's contract on `options`.
        let opts = unsafe { self::options(options) }?;
        let report = s
            .scanner
            .scan_path(path, &opts)
            .map_err(|e| Fail(MDC_IO_ERROR, e.to_string()))?;
        let h = report_handle(report);
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, h) }
    })
}

// ---------------------------------------------------------------------------
// Cancel.

/// Creates a cancel switch; pass it in `MDC_SCAN_OPTIONS.cancel`.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_cancel_create(out: *mut *mut mdc_cancel) -> MDC_RESULT {
    guard(|| {
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        let h = register(mdc_cancel {
            token: CancelToken::new(),
        });
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, h) }
    })
}

/// Cancels every scan using this switch; callable from any thread. The
/// scans end soon after with code 19 (Canceled).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_cancel_cancel(cancel: *const mdc_cancel) -> MDC_RESULT {
    guard(|| {
        handle(cancel, "cancel")?.token.cancel();
        Ok(())
    })
}

/// Destroys a cancel switch (scans using it keep their own reference).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_cancel_destroy(cancel: *mut mdc_cancel) -> MDC_RESULT {
    destroy(cancel, "cancel")
}

// ---------------------------------------------------------------------------
// Report.

/// Destroys a report and every string obtained from it.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_destroy(report: *mut mdc_report) -> MDC_RESULT {
    destroy(report, "report")
}

/// The overall result code (`scan_all_result_i`: 0 no threat, 1 infected,
/// 12 encrypted, 13-16 limits, 19 canceled, ... see the README).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_code(report: *const mdc_report, out: *mut u32) -> MDC_RESULT {
    guard(|| {
        let v = u32::from(handle(report, "report")?.report.verdict().as_i());
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// The overall result as text (`scan_all_result_a`, e.g. "Infected"); valid
/// until the report is destroyed.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_code_string(
    report: *const mdc_report,
    out: *mut *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let v = handle(report, "report")?.code_text.as_ptr();
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// Whether MetaDefender's default workflow would block the input (a threat,
/// an encrypted archive, a limit hit, ...).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_blocked(
    report: *const mdc_report,
    out: *mut bool,
) -> MDC_RESULT {
    guard(|| {
        let v = handle(report, "report")?.report.blocked();
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// Number of objects in the report tree (the input and everything
/// extracted from it).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_node_count(
    report: *const mdc_report,
    out: *mut usize,
) -> MDC_RESULT {
    guard(|| {
        let v = handle(report, "report")?.report.root.iter().count();
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// Number of detections anywhere in the tree.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_threat_count(
    report: *const mdc_report,
    out: *mut usize,
) -> MDC_RESULT {
    guard(|| {
        let v = handle(report, "report")?.threats.len();
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// Detection `index` (0-based, tree order).
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_threat(
    report: *const mdc_report,
    index: usize,
    out: *mut MDC_THREAT,
) -> MDC_RESULT {
    guard(|| {
        let r = handle(report, "report")?;
        let t = r.threats.get(index).ok_or_else(|| {
            invalid(&format!(
                "threat index {index} out of range ({} threats)",
                r.threats.len()
            ))
        })?;
        let v = MDC_THREAT {
            name: t[0].as_ptr(),
            object: t[1].as_ptr(),
            engine: t[2].as_ptr(),
        };
        // SAFETY: the caller's contract on `out`.
        unsafe { put(out, v) }
    })
}

/// The whole report as JSON (the format `mdscan scan --json` prints), in a
/// buffer to release with `mdc_buffer_free`.
///
/// # Safety
/// Handle arguments must be NULL, or pointers this library returned and
/// did not destroy on another thread meanwhile; out-pointers must be NULL
/// or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_report_json(
    report: *const mdc_report,
    out: *mut MDC_BUFFER,
) -> MDC_RESULT {
    guard(|| {
        let r = handle(report, "report")?;
        if out.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        let json = r.report.to_json();
        let len = json.len();
        let mut bytes = json.into_bytes();
        bytes.push(0);
        let data = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, MDC_BUFFER { data, len }) }
    })
}

/// Releases a buffer's bytes and zeroes it; NULL and zeroed buffers are
/// fine.
///
/// # Safety
/// `buffer` must be NULL or point to an `MDC_BUFFER` filled by mdscan (or
/// zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_buffer_free(buffer: *mut MDC_BUFFER) -> MDC_RESULT {
    guard(|| {
        if buffer.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL; the caller promises an `MDC_BUFFER`.
        let b = unsafe { &mut *buffer };
        if !b.data.is_null() {
            let whole = std::ptr::slice_from_raw_parts_mut(b.data, b.len + 1);
            // SAFETY: `data` came from `Box<[u8]>` of `len + 1` bytes in
            // `mdc_report_json`; zeroing below prevents a double free.
            drop(unsafe { Box::from_raw(whole) });
        }
        b.data = std::ptr::null_mut();
        b.len = 0;
        Ok(())
    })
}

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
