//! The handle registry: a pointer is only dereferenced if it is a live
//! handle of the expected kind; out-pointer and string helpers.

#[allow(unused_imports)]
use crate::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Config,
    Scanner,
    Report,
    Cancel,
}

pub(crate) fn registry() -> MutexGuard<'static, HashMap<usize, Kind>> {
    static LIVE: LazyLock<Mutex<HashMap<usize, Kind>>> = LazyLock::new(Mutex::default);
    // A panic while holding the lock cannot leave the map inconsistent
    // (single inserts and removes), so a poisoned lock is still usable.
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) trait Handle: Sized {
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

pub(crate) fn register<T: Handle>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    registry().insert(ptr as usize, T::KIND);
    ptr
}

pub(crate) fn is_live<T: Handle>(ptr: *const T) -> bool {
    !ptr.is_null() && registry().get(&(ptr as usize)) == Some(&T::KIND)
}

/// Borrows a live handle.
pub(crate) fn handle<'a, T: Handle>(ptr: *const T, what: &str) -> Result<&'a T, Fail> {
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
pub(crate) fn handle_mut<'a, T: Handle>(ptr: *mut T, what: &str) -> Result<&'a mut T, Fail> {
    handle(ptr.cast_const(), what)?;
    // SAFETY: as in `handle`; the API documents that configs and reports are
    // used by one thread at a time.
    Ok(unsafe { &mut *ptr })
}

/// Destroys a handle; NULL is fine, anything not live is refused.
pub(crate) fn destroy<T: Handle>(ptr: *mut T, what: &str) -> MDC_RESULT {
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
pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> Outcome {
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
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: non-NULL; the caller promises a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| invalid(&format!("{what} is not UTF-8")))
}

pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}
