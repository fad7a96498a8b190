//! `mdc_sanitize_buffer`: a sanitized copy of a document or archive in one
//! call (see `mdcore::sanitize`).

#[allow(unused_imports)]
use crate::*;

/// Flag of [`mdc_sanitize_buffer`]: keep files embedded in documents (PDF
/// attachments); by default they are removed.
pub const MDC_SANITIZE_KEEP_EMBEDDED_FILES: u32 = 1;

/// Sanitizes `len` bytes at `data`: the copy is rebuilt without its active
/// content (macros, scripts, embedded objects, external links; see
/// mdcore's `sanitize` module for each format). `name` (may be NULL) is the
/// file's name; its extension only makes a damaged file of a sanitized
/// type fail rather than count as unsupported.
///
/// On `MDC_OK`, `copy` holds the sanitized copy and `details` (may be
/// NULL) MetaDefender's `post_processing` JSON (what was removed); release
/// both with `mdc_buffer_free`. `MDC_UNSUPPORTED` when no sanitizer takes
/// the type, `MDC_SANITIZE_FAILED` when the file can not be rebuilt
/// (`mdc_last_error` says why): the buffers are then left empty, and the
/// original must not be used in place of a copy.
///
/// # Safety
/// `data` must point to `len` readable bytes (NULL when `len` is 0);
/// `name` must be NULL or a NUL-terminated string; `copy` and `details`
/// must be NULL or valid for writing an `MDC_BUFFER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mdc_sanitize_buffer(
    data: *const u8,
    len: usize,
    name: *const c_char,
    flags: u32,
    copy: *mut MDC_BUFFER,
    details: *mut MDC_BUFFER,
) -> MDC_RESULT {
    guard(|| {
        if copy.is_null() {
            return Err(invalid("output pointer is NULL"));
        }
        if data.is_null() && len > 0 {
            return Err(invalid("data is NULL"));
        }
        if isize::try_from(len).is_err() {
            return Err(invalid("len is too large"));
        }
        if flags & !MDC_SANITIZE_KEEP_EMBEDDED_FILES != 0 {
            return Err(invalid("unknown flags"));
        }
        let name = if name.is_null() {
            ""
        } else {
            // SAFETY: the caller's contract on `name`.
            unsafe { text(name, "name") }?
        };
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, `len` fits `isize`, and the caller promises
            // `len` readable bytes for the duration of the call.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let opts = mdcore::sanitize::SanitizeOptions::new()
            .remove_embedded_files(flags & MDC_SANITIZE_KEEP_EMBEDDED_FILES == 0);
        let s = match mdcore::sanitize::sanitize(bytes, name, &opts) {
            Ok(s) => s,
            Err(e @ mdcore::sanitize::SanitizeError::Unsupported(_)) => {
                return Err(Fail(MDC_UNSUPPORTED, e.to_string()));
            }
            Err(e) => return Err(Fail(MDC_SANITIZE_FAILED, e.to_string())),
        };
        let json = mdcore::sanitize::post_processing(
            Some(&mdcore::sanitize::Record::of(&s)),
            &mdcore::sanitize::copy_name(name, &s.converted_to),
        )
        .to_string();
        if !details.is_null() {
            // SAFETY: the caller's contract on `details` (non-NULL here).
            unsafe { put(details, buffer(json.into_bytes())) }?;
        }
        // SAFETY: the caller's contract on `copy` (checked non-NULL above).
        unsafe { put(copy, buffer(s.data)) }
    })
}
