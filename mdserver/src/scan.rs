//! `mdscan scan PATH...`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use mdcore::{Limits, Report, ScanOptions, Scanner, ScannerBuilder};

/// Arguments of `mdscan scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files or directories (searched recursively) to scan; `-` reads
    /// standard input (`cat x | mdscan scan -`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// A YARA rule file or a directory of `.yar`/`.yara` files (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// A hash block list: ClamAV `.hdb`/`.hsb` or one hash per line; `.fp`
    /// and `.sfp` files are allow lists (repeatable).
    #[arg(long = "hashes", value_name = "FILE")]
    hashes: Vec<PathBuf>,
    /// A ClamAV signature database: a file (`.cvd`, `.cld`, `.hdb`,
    /// `.ndb`, ...) or a directory of them, as clamscan's `-d`
    /// (repeatable).
    #[arg(short = 'd', long = "database", value_name = "PATH")]
    databases: Vec<PathBuf>,
    /// A hash allow list, whatever its extension (repeatable).
    #[arg(long = "allow", value_name = "FILE")]
    allow: Vec<PathBuf>,
    /// A vulnerability feed: OSV records (JSON files, directories, OSV's
    /// per-ecosystem zips) or a CPE-style product feed (repeatable).
    #[arg(long = "vuln-feed", value_name = "PATH")]
    vuln_feeds: Vec<PathBuf>,
    /// A YARA external variable for every rule, `NAME=VALUE` (as YARA's
    /// `-d`: `true`/`false` a boolean, a decimal an integer, else a
    /// string; repeatable). LOKI's `filename`, `filepath`, `extension`,
    /// `filetype` and `owner` are always defined, per object.
    #[arg(long = "define", value_name = "NAME=VALUE", value_parser = parse_define)]
    defines: Vec<(String, String)>,
    /// Do not load the built-in rules (EICAR test file).
    #[arg(long)]
    no_default_rules: bool,
    /// Print one JSON report per input file, one per line.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Deepest archive nesting extracted (default 16).
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,
    /// Most objects extracted from one input (default 100000).
    #[arg(long, value_name = "N")]
    max_files: Option<u64>,
    /// Most bytes extracted from one input; accepts K, M, G suffixes
    /// (default 16G).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_size: Option<u64>,
    /// Largest expansion factor of an input, checked past 64 MiB of
    /// output (default 200).
    #[arg(long, value_name = "N")]
    max_ratio: Option<u64>,
    /// Time limit per input, in seconds (default 300).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// A password to try on encrypted archives (repeatable).
    #[arg(long = "password", value_name = "PW")]
    passwords: Vec<String>,
    /// Report code 17 when a file's extension contradicts its content.
    #[arg(long)]
    type_mismatch: bool,
    /// Write a sanitized copy of each input that has a sanitizer (Office
    /// documents) into this directory; with --json, each report gets
    /// MetaDefender's `post_processing` object.
    #[arg(long, value_name = "DIR")]
    sanitize: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix `{c}` (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size in bytes"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

fn build_scanner(args: &ScanArgs) -> Result<Scanner, mdcore::errors::Error> {
    let mut limits = Limits::default();
    if let Some(n) = args.max_depth {
        limits.max_depth = n;
    }
    if let Some(n) = args.max_ratio {
        limits.max_ratio = n;
    }
    if let Some(n) = args.max_files {
        limits.max_objects = n;
    }
    if let Some(n) = args.max_size {
        limits.max_total_bytes = n;
    }
    if let Some(secs) = args.timeout {
        limits.timeout = Duration::try_from_secs_f64(secs).map_err(|_| {
            mdcore::errors::Error::Config(format!("`{secs}` is not a valid timeout"))
        })?;
    }
    let mut b = ScannerBuilder::new();
    b.limits(limits)
        .default_rules(!args.no_default_rules)
        .threads(args.threads)
        .type_mismatch(args.type_mismatch);
    add_sources(
        &mut b,
        &args.rules,
        &args.hashes,
        &args.allow,
        &args.passwords,
    );
    for f in &args.vuln_feeds {
        b.vulnerability_feed(f);
    }
    for d in &args.databases {
        b.clamav_database(d);
    }
    for (name, value) in &args.defines {
        b.yara_define(name, value);
    }
    b.build()
}

/// `NAME=VALUE` of `--define`.
fn parse_define(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// Adds rule paths, hash block and allow lists and archive passwords: what
/// `scan` flags and the `serve` config both give.
pub(crate) fn add_sources(
    b: &mut ScannerBuilder,
    rules: &[PathBuf],
    hashes: &[PathBuf],
    allow: &[PathBuf],
    passwords: &[String],
) {
    for r in rules {
        b.rules_path(r);
    }
    for h in hashes {
        b.hash_list(h);
    }
    for a in allow {
        b.allow_list(a);
    }
    for p in passwords {
        b.password(p);
    }
}

/// Expands directories into the files below them (symbolic links to
/// directories are not followed, so a link loop cannot trap the walk).
fn collect(paths: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(p) = stack.pop() {
        if p.as_os_str() == "-" {
            // Standard input, as clamscan reads it.
            out.push(p);
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => {
                let is_link =
                    std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
                if is_link && !paths.contains(&p) {
                    continue;
                }
                match std::fs::read_dir(&p) {
                    Ok(rd) => {
                        let mut children: Vec<PathBuf> =
                            rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                        children.sort();
                        stack.extend(children.into_iter().rev());
                    }
                    Err(e) => errors.push(format!("can not read `{}`: {e}", p.display())),
                }
            }
            Ok(m) if m.is_file() => out.push(p),
            Ok(_) => {} // sockets, devices, FIFOs: nothing to scan
            Err(e) => errors.push(format!("can not read `{}`: {e}", p.display())),
        }
    }
    out
}

pub(crate) fn run(args: ScanArgs) -> ExitCode {
    let scanner = match build_scanner(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return ExitCode::from(2);
        }
    };
    let mut errors = Vec::new();
    let files = collect(&args.paths, &mut errors);
    for e in &errors {
        eprintln!("mdscan: {e}");
    }
    if let Some(dir) = &args.sanitize
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("mdscan: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });

    // Several files at once: the scanner's pool parallelizes inside one
    // file; separate callers keep it busy across many small files.
    let next = AtomicUsize::new(0);
    let outcome = Mutex::new(Outcome::default());
    let callers = scanner.threads().max(1);
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let stdin = path.as_os_str() == "-";
                    let opts = ScanOptions::new().name(if stdin {
                        "stdin".to_string()
                    } else {
                        path.display().to_string()
                    });
                    // Standard input is read as it comes; past the spill
                    // threshold it goes to a temporary file, so only the
                    // limits bound its size.
                    let result = if stdin {
                        scanner.scan_reader(std::io::stdin().lock(), &opts)
                    } else {
                        scanner.scan_path(path, &opts)
                    };
                    // Members the scan blocked are left out of a rebuilt
                    // archive (mdscan's default block list).
                    let cdr = match (args.sanitize.as_deref(), &result) {
                        (Some(_), Ok(_)) if stdin => {
                            eprintln!("mdscan: stdin: --sanitize takes files, not standard input");
                            None
                        }
                        (Some(dir), Ok(report)) => {
                            let blocked = mdcore::sanitize::Blocked::from_report(
                                report,
                                mdcore::ResultCode::blocks_by_default,
                            );
                            crate::sanitize::into_dir(path, dir, &blocked)
                        }
                        _ => None,
                    };
                    let shown = if stdin { Path::new("stdin") } else { path };
                    let line = render(&args, shown, &result, cdr.as_ref());
                    if let Some(bar) = &bar {
                        if let Some(line) = &line {
                            bar.println(line);
                        }
                        bar.inc(1);
                    } else if let Some(line) = line {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{line}");
                    }
                    if let Ok(mut o) = outcome.lock() {
                        o.add(&result);
                    }
                }
            });
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome.into_inner().unwrap_or_default();
    if !args.json {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "scanned {} files, {} objects, {:.1} MB in {:.2} s: {} threats, {} blocked ({} not examined), {} errors",
            outcome.files,
            outcome.objects,
            outcome.bytes as f64 / 1e6,
            secs,
            outcome.threats,
            outcome.blocked,
            outcome.not_examined,
            outcome.errors + errors.len()
        );
    }
    if outcome.errors > 0 || !errors.is_empty() {
        ExitCode::from(2)
    } else if outcome.blocked > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Default)]
struct Outcome {
    files: usize,
    objects: u64,
    bytes: u64,
    threats: usize,
    blocked: usize,
    /// Blocked because something in them was not fully examined (codes 3,
    /// 9, 10, 12–16, 19, 23) rather than for a detection.
    not_examined: usize,
    errors: usize,
}

impl Outcome {
    fn add(&mut self, r: &Result<Report, mdcore::errors::Error>) {
        match r {
            Ok(r) => {
                self.files += 1;
                self.objects += r.objects;
                self.bytes += r.root.file_size + r.bytes_extracted;
                self.threats += r.threats().len();
                self.blocked += usize::from(r.blocked());
                self.not_examined += usize::from(r.blocked() && r.verdict().is_incomplete());
            }
            Err(_) => self.errors += 1,
        }
    }
}

/// The line to print for one input, if any.
fn render(
    args: &ScanArgs,
    path: &Path,
    r: &Result<Report, mdcore::errors::Error>,
    cdr: Option<&serde_json::Value>,
) -> Option<String> {
    match r {
        Err(e) => {
            eprintln!("mdscan: {e}");
            None
        }
        Ok(report) if args.json => match cdr {
            None => Some(report.to_json()),
            Some(pp) => {
                let mut v: serde_json::Value = serde_json::from_str(&report.to_json()).ok()?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("post_processing".into(), pp.clone());
                }
                Some(v.to_string())
            }
        },
        Ok(report) => {
            if let Some(pp) = cdr {
                let line = match pp.get("converted_destination").and_then(|v| v.as_str()) {
                    Some(d) if !d.is_empty() => format!("{}: sanitized copy {d}", path.display()),
                    _ => format!(
                        "{}: not sanitized: {}",
                        path.display(),
                        pp.pointer("/sanitization_details/description")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                    ),
                };
                eprintln!("{line}");
            }
            let verdict = report.verdict();
            if verdict == mdcore::ResultCode::NoThreat || verdict == mdcore::ResultCode::Allowlisted
            {
                return None;
            }
            let mut threats: Vec<String> = report
                .threats()
                .into_iter()
                .map(|d| format!("{} in {}", d.threat, d.display_name))
                .collect();
            // Vulnerable software is named by its advisories.
            for n in report.root.iter() {
                for f in &n.vulnerabilities {
                    let ids: Vec<&str> = f.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
                    threats.push(format!(
                        "{} {} ({}) in {}",
                        f.product,
                        f.version,
                        ids.join(", "),
                        n.display_name
                    ));
                }
            }
            let detail = if threats.is_empty() {
                // Name where the code came from: the first node carrying it.
                report
                    .root
                    .iter()
                    .find(|n| n.own_result_i == verdict)
                    .and_then(|n| {
                        n.notes
                            .first()
                            .map(|note| format!("{}: {note}", n.display_name))
                    })
                    .unwrap_or_default()
            } else {
                threats.join("; ")
            };
            Some(format!(
                "{}: {} ({detail})",
                path.display(),
                verdict.as_str()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("abc").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
