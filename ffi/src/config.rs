//! `mdc_config`: building a scanner configuration.

#[allow(unused_imports)]
use crate::*;

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

/// Adds a ClamAV signature database: a file (`.cvd`, `.cld`, `.cud`,
/// `.hdb`, `.hsb`, `.mdb`, `.msb`, `.ndb`, `.fp`, `.ign2`, ...) or a
/// directory of them, as clamscan's `-d`. Loaded by `mdc_scanner_create`; a
/// malformed database makes it fail, naming the file and line.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_config_add_database(
    config: *mut mdc_config,
    path: *const c_char,
) -> MDC_RESULT {
    guard(|| {
        let c = handle_mut(config, "config")?;
        c.builder.clamav_database(unsafe { text(path, "path") }?);
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
