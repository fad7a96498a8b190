//! Errors and the panic boundary: `MDC_RESULT` codes, the thread-local
//! message of `mdc_last_error`, `mdc_version`.

#[allow(unused_imports)]
use crate::*;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) struct Fail(pub(crate) MDC_RESULT, pub(crate) String);

pub(crate) type Outcome = Result<(), Fail>;

pub(crate) fn invalid(what: &str) -> Fail {
    Fail(MDC_INVALID_ARGUMENT, what.to_string())
}

pub(crate) fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, turning errors into a code plus a thread-local message and a
/// panic into `MDC_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> Outcome) -> MDC_RESULT {
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
