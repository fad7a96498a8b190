//! "Scan one file under a workflow": the one job that `mdscan serve`'s
//! local backend and every cluster worker run. A scan of the file with the
//! options the caller built (name, limits, passwords, cancel, progress,
//! digests, fan-out), then — when the workflow sanitizes — a sanitized copy
//! made without the members this scan blocked, the copy scanned on its own
//! and handed to the caller to keep. Blocking: run it off the async threads.

use std::path::Path;

use mdcore::sanitize::{Blocked, Policy, Record};
use mdcore::{Limits, Report, ResultCode, ScanOptions, Scanner};

/// What a workflow asks of one file beyond mdcore's scan options.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    /// The result codes that block (a workflow's `block_codes`): members
    /// with one of them as their own result are left out of a sanitized
    /// archive.
    pub block_codes: &'a [u8],
    /// The workflow's sanitization (off: no copy).
    pub sanitize: &'a Policy,
    /// The limits the sanitized copy is scanned under.
    pub copy_limits: &'a Limits,
}

/// Scans the file at `path` (named `name` in reports) with `opts`, then
/// sanitizes it as `spec` says; `keep` stores a copy under its SHA-256 (an
/// error there makes the sanitization fail, and the copy is not offered).
/// A file that can not be read is a Failed report, never an error.
pub fn run(
    scanner: &Scanner,
    path: &Path,
    name: &str,
    opts: &ScanOptions,
    spec: Spec<'_>,
    keep: impl FnOnce(&[u8], &str) -> Result<(), String>,
) -> Report {
    let mut report = scanner
        .scan_path(path, opts)
        .unwrap_or_else(|e| Report::unscanned(name, ResultCode::Failed, &e.to_string()));
    if spec.sanitize.enabled {
        let blocked = blocked(&report, spec.block_codes);
        report.sanitization = sanitize(scanner, path, name, &blocked, spec, keep);
    }
    report
}

/// The members of `report` a sanitized archive leaves out: those whose own
/// result `block_codes` blocks.
pub fn blocked(report: &Report, block_codes: &[u8]) -> Blocked {
    Blocked::from_report(report, |code| code.blocks_under(Some(block_codes)))
}

/// The sanitization step of [`run`] alone, for a scan already made (a
/// cluster worker scans under its watchdog, then sanitizes).
pub fn sanitize(
    scanner: &Scanner,
    path: &Path,
    name: &str,
    blocked: &Blocked,
    spec: Spec<'_>,
    keep: impl FnOnce(&[u8], &str) -> Result<(), String>,
) -> Option<Record> {
    let rescan = |copy: &[u8], copy_name: &str| {
        let opts = ScanOptions::new()
            .name(copy_name.to_string())
            .limits(spec.copy_limits.clone());
        scanner.scan_bytes(copy, &opts).root.scan_all_result_i
    };
    spec.sanitize.apply_path(path, name, blocked, rescan, keep)
}
