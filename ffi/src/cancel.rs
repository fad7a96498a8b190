//! `mdc_cancel`: a switch that stops scans in progress.

#[allow(unused_imports)]
use crate::*;

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
