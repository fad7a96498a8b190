//! `mdc_report`: reading a scan's verdict, threats and JSON.

#[allow(unused_imports)]
use crate::*;

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
        // SAFETY: the caller's contract on `out` (checked non-NULL above).
        unsafe { put(out, buffer(json.into_bytes())) }
    })
}

/// An `MDC_BUFFER` owning `bytes`, followed by a NUL not counted in
/// `len` (what [`mdc_buffer_free`] releases).
pub(crate) fn buffer(mut bytes: Vec<u8>) -> MDC_BUFFER {
    let len = bytes.len();
    bytes.push(0);
    let data = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
    MDC_BUFFER { data, len }
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
            // `buffer`; zeroing below prevents a double free.
            drop(unsafe { Box::from_raw(whole) });
        }
        b.data = std::ptr::null_mut();
        b.len = 0;
        Ok(())
    })
}
