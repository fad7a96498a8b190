//! `mdc_scanner`: an immutable, thread-safe scanner; scanning buffers and
//! files.

#[allow(unused_imports)]
use crate::*;

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
pub(crate) struct Callback {
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
pub(crate) unsafe fn options(opts: *const MDC_SCAN_OPTIONS) -> Result<ScanOptions, Fail> {
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

pub(crate) fn report_handle(report: Report) -> *mut mdc_report {
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
