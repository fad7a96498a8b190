//! "Scan one file under a workflow": the one job that `mdscan serve`'s
//! local backend and every cluster worker run. A scan of the file with the
//! options the caller built (name, limits, passwords, cancel, progress,
//! digests, fan-out), then — when the workflow sanitizes — a sanitized copy
//! made without the members this scan blocked, the copy scanned on its own
//! and handed to the caller to keep. The whole job runs on the workflow's
//! one clock: the sanitization and the copy's scan get what is left of the
//! time limit when the scan ends (none left: the sanitization fails, and
//! no copy is offered). Blocking: run it off the async threads.

use std::path::Path;
use std::time::Instant;

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
    /// The workflow's limits: archives are rebuilt under them, the copy is
    /// scanned under them, and their time limit covers the whole job.
    pub limits: &'a Limits,
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
    let started = Instant::now();
    let mut report = scanner
        .scan_path(path, opts)
        .unwrap_or_else(|e| Report::unscanned(name, ResultCode::Failed, &e.to_string()));
    if spec.sanitize.enabled {
        let blocked = blocked(&report, spec.block_codes);
        report.sanitization = sanitize(scanner, path, name, &blocked, spec, started, keep);
    }
    report
}

/// The members of `report` a sanitized archive leaves out: those whose own
/// result `block_codes` blocks.
pub fn blocked(report: &Report, block_codes: &[u8]) -> Blocked {
    Blocked::from_report(report, |code| code.blocks_under(Some(block_codes)))
}

/// The sanitization step of [`run`]: `spec`'s limits with the time left
/// since `started`.
fn sanitize(
    scanner: &Scanner,
    path: &Path,
    name: &str,
    blocked: &Blocked,
    spec: Spec<'_>,
    started: Instant,
    keep: impl FnOnce(&[u8], &str) -> Result<(), String>,
) -> Option<Record> {
    let left = |limits: &Limits| Limits {
        timeout: limits.timeout.saturating_sub(started.elapsed()),
        ..limits.clone()
    };
    let rescan = |copy: &[u8], copy_name: &str| {
        let opts = ScanOptions::new()
            .name(copy_name.to_string())
            .limits(left(spec.limits));
        scanner.scan_bytes(copy, &opts).root.scan_all_result_i
    };
    spec.sanitize
        .apply_path(path, name, blocked, &left(spec.limits), rescan, keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip of one member, stored.
    fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file(name, o).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn the_sanitization_runs_on_what_is_left_of_the_jobs_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, zip_of("notes.txt", b"plain notes")).unwrap();
        let scanner = mdcore::ScannerBuilder::new().build().unwrap();
        let policy = Policy {
            enabled: true,
            ..Policy::default()
        };
        let run_with = |limits: &Limits| {
            let mut kept = None;
            let spec = Spec {
                block_codes: &[],
                sanitize: &policy,
                limits,
            };
            let opts = ScanOptions::new().name("a.zip").limits(limits.clone());
            let report = run(&scanner, &path, "a.zip", &opts, spec, |copy, _| {
                kept = Some(copy.to_vec());
                Ok(())
            });
            (report, kept)
        };
        // Time enough: a copy, scanned and kept.
        let (report, kept) = run_with(&Limits::default());
        let rec = report.sanitization.expect("sanitized");
        assert!(rec.failure.is_none(), "{rec:?}");
        assert_eq!(rec.copy_result, Some(ResultCode::NoThreat));
        assert!(kept.is_some());
        // No time left once the scan is done: the copy is not made.
        let none = Limits {
            timeout: std::time::Duration::ZERO,
            ..Limits::default()
        };
        let (report, kept) = run_with(&none);
        let rec = report.sanitization.expect("a record");
        let why = rec.failure.expect("the sanitization failed");
        assert!(why.contains("time limit"), "{why}");
        assert!(kept.is_none());
    }
}
