//! Side-by-side comparison on the generated corpus: `mdscan scan` against
//! `clamscan` with the same rules (the corpus's `bench.yar` and
//! `bench.hdb`), plus extraction-only baselines (bsdtar, 7z, cabextract,
//! gzip/xz/zstd). Prints, per input, the median wall time of `--runs` runs,
//! objects/s and MB/s (both from mdscan's own count of the objects and bytes
//! in the input), peak RSS, whether each scanner reported exactly the
//! expected detections, and the ratios the targets are stated in.
//!
//! ```sh
//! cargo build --release -p mdserver
//! cargo run --release -p mdscan-benches --bin compare -- \
//!     --corpus bench-corpus --mdscan target/release/mdscan
//! ```
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Parser;
use mdscan_benches::Layout;

/// Compares mdscan with clamscan and extraction-only tools.
#[derive(Debug, Parser)]
struct Args {
    /// The corpus written by `gen-corpus`.
    #[arg(long, default_value = "bench-corpus")]
    corpus: PathBuf,
    /// The mdscan binary (build it with `--release`).
    #[arg(long, default_value = "target/release/mdscan")]
    mdscan: PathBuf,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Sets to run: small, medium, seed, big, stream, leaf, docs, archivers.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "small,medium,big,stream,leaf"
    )]
    sets: Vec<String>,
    /// Skip clamscan (it is slow on the big sets).
    #[arg(long)]
    no_clamscan: bool,
    /// Also write the tables to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One timed run.
#[derive(Clone, Debug)]
struct Run {
    secs: f64,
    rss_kib: u64,
    stdout: String,
    ok: bool,
}

/// Runs `cmd args` under GNU time; stdout is kept only when `keep`.
fn timed(cmd: &str, args: &[String], keep: bool) -> Run {
    let stats = tempfile_path("time");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&stats)
        .arg(cmd)
        .args(args)
        .stdout(if keep { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("can not run {cmd}: {e}"));
    let text = std::fs::read_to_string(&stats).unwrap_or_default();
    let _ = std::fs::remove_file(&stats);
    let last = text.lines().last().unwrap_or_default().to_string();
    let mut it = last.split_whitespace();
    let secs = it.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
    let rss_kib = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Run {
        secs,
        rss_kib,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        // clamscan exits 1 when it found something; mdscan too.
        ok: matches!(out.status.code(), Some(0 | 1)),
    }
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mdscan-bench-{tag}-{}", std::process::id()))
}

fn median(runs: &[Run]) -> Run {
    let mut v = runs.to_vec();
    v.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let mut m = v[v.len() / 2].clone();
    m.rss_kib = runs.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    m.ok = runs.iter().all(|r| r.ok);
    m
}

fn repeat(n: usize, f: impl Fn() -> Run) -> Run {
    let runs: Vec<Run> = (0..n).map(|_| f()).collect();
    median(&runs)
}

fn base(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// (input basename, threat) pairs from `mdscan scan --json`, plus the
/// objects and bytes it examined. For a directory input the "input" is the
/// file that was scanned, else the input itself.
fn mdscan_detections(
    stdout: &str,
    input: &std::path::Path,
) -> (BTreeSet<(String, String)>, u64, u64) {
    let single = (!input.is_dir()).then(|| base(&input.display().to_string()));
    let mut set = BTreeSet::new();
    let (mut objects, mut bytes) = (0, 0);
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let Ok(r) = serde_json::from_str::<mdcore::Report>(line) else {
            continue;
        };
        objects += r.objects;
        bytes += r.bytes_extracted + r.root.file_size;
        for t in r.threats() {
            let name = single.clone().unwrap_or_else(|| base(&t.display_name));
            set.insert((name, t.threat));
        }
    }
    (set, objects, bytes)
}

/// (input basename, threat) pairs from `clamscan --infected`.
fn clamscan_detections(stdout: &str) -> BTreeSet<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_suffix(" FOUND"))
        .filter_map(|l| l.rsplit_once(": "))
        .map(|(path, name)| {
            let name = name.strip_prefix("YARA.").unwrap_or(name);
            let name = name.strip_suffix(".UNOFFICIAL").unwrap_or(name);
            (base(path), name.to_string())
        })
        .collect()
}

struct Case {
    set: &'static str,
    /// Path relative to the corpus (a file or the loose directory).
    input: &'static str,
    /// Extraction-only baselines: label and command line with `{}` for the input.
    baselines: Vec<(&'static str, &'static [&'static str])>,
    /// Whether to also measure mdscan on one thread.
    scaling: bool,
}

fn cases() -> Vec<Case> {
    let c = |set, input, baselines, scaling| Case {
        set,
        input,
        baselines,
        scaling,
    };
    vec![
        c("small", "small/loose", vec![], false),
        c(
            "small",
            "small/small.zip",
            vec![
                ("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..]),
                ("7z x -so", &["7z", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "small",
            "small/small.tar.gz",
            vec![("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..])],
            true,
        ),
        c(
            "small",
            "small/nested.zip",
            vec![(
                "bsdtar -xOf (outer level only)",
                &["bsdtar", "-xOf", "{}"][..],
            )],
            true,
        ),
        c(
            "medium",
            "medium/app.rpm",
            vec![("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..])],
            true,
        ),
        c(
            "medium",
            "medium/app.cab",
            vec![
                ("cabextract -p", &["cabextract", "-q", "-p", "{}"][..]),
                ("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..]),
                ("7z x -so", &["7z", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "medium",
            "medium/setup.exe",
            vec![("7z x -so", &["7z", "x", "-so", "{}"][..])],
            true,
        ),
        // The cluster benchmark's medium archives (3,000 files of 24-48 KiB).
        c(
            "seed",
            "seed/app.rpm",
            vec![("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..])],
            true,
        ),
        c(
            "seed",
            "seed/app.cab",
            vec![
                ("cabextract -p", &["cabextract", "-q", "-p", "{}"][..]),
                ("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..]),
            ],
            true,
        ),
        c(
            "seed",
            "seed/setup.exe",
            vec![("7z x -so", &["7z", "x", "-so", "{}"][..])],
            true,
        ),
        c(
            "big",
            "big/big.cab",
            vec![
                ("cabextract -p", &["cabextract", "-q", "-p", "{}"][..]),
                ("7z x -so", &["7z", "x", "-so", "{}"][..]),
            ],
            false,
        ),
        c(
            "big",
            "big/big.tar.zst",
            vec![("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..])],
            false,
        ),
        c(
            "stream",
            "stream/stream.gz",
            vec![("gzip -dc", &["gzip", "-dc", "{}"][..])],
            false,
        ),
        c(
            "stream",
            "stream/stream.xz",
            vec![("xz -dc", &["xz", "-dc", "{}"][..])],
            false,
        ),
        c(
            "stream",
            "stream/stream.zst",
            vec![("zstd -dc", &["zstd", "-qdc", "{}"][..])],
            false,
        ),
        // Leaves: examined whole and searched for embedded archives.
        c("leaf", "leaf/random.bin", vec![], false),
        c("leaf", "leaf/photo.png", vec![], false),
        // Documents and mail: no standard unpacker to compare with.
        c("docs", "docs/mail.eml", vec![], true),
        c("docs", "docs/mail.mbox", vec![], true),
        c("docs", "docs/report.pdf", vec![], true),
        c("docs", "docs/macro.doc", vec![], true),
        // Issue 11's archivers, beside the tools that read them.
        c(
            "archivers",
            "archivers/help.chm",
            vec![("7zz x -so", &["7zz", "x", "-so", "{}"][..])],
            true,
        ),
        c(
            "archivers",
            "archivers/lzx.cab",
            vec![
                ("cabextract -p", &["cabextract", "-q", "-p", "{}"][..]),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/files.alz",
            vec![(
                "unalz -d",
                &["unalz", "-d", "/tmp/mdscan-bench-unalz", "{}"][..],
            )],
            true,
        ),
        c(
            "archivers",
            "archivers/files.iso",
            vec![
                ("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..]),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/udf.img",
            vec![
                ("bsdtar -xOf", &["bsdtar", "-xOf", "{}"][..]),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/files.arj",
            vec![
                (
                    "arj e",
                    &["arj", "e", "-y", "{}", "/tmp/mdscan-bench-arj/"][..],
                ),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/files.lzh",
            vec![
                ("lha -p (lhasa)", &["lha", "-p", "{}"][..]),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/setup-nsis.exe",
            vec![("7zz x -so", &["7zz", "x", "-so", "{}"][..])],
            true,
        ),
        c(
            "archivers",
            "archivers/all.sz_",
            vec![
                ("msexpand", &["msexpand", "{}"][..]),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            false,
        ),
        c(
            "archivers",
            "archivers/disk.vhdx",
            vec![
                (
                    "qemu-img convert -O raw",
                    &[
                        "qemu-img",
                        "convert",
                        "-O",
                        "raw",
                        "{}",
                        "/tmp/mdscan-bench-vhdx.raw",
                    ][..],
                ),
                ("7zz x -so", &["7zz", "x", "-so", "{}"][..]),
            ],
            true,
        ),
        c(
            "archivers",
            "archivers/script.a3x",
            vec![(
                "autoit-ripper (PyPI)",
                &[
                    "target/autoit-venv/bin/autoit-ripper",
                    "{}",
                    "/tmp/mdscan-bench-a3x",
                ][..],
            )],
            true,
        ),
        // No InstallShield extractor runs on Linux: ClamAV only.
        c("archivers", "archivers/setup-is.exe", vec![], true),
        c(
            "archivers",
            "archivers/data1.cab",
            vec![(
                "unshield x",
                &["unshield", "-d", "/tmp/mdscan-bench-unshield", "x", "{}"][..],
            )],
            true,
        ),
    ]
}

fn expected(lay: &Layout, input: &str) -> BTreeSet<(String, String)> {
    std::fs::read_to_string(lay.expected())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (i, name, threat) = (f.next()?, f.next()?, f.next()?);
            (i == input).then(|| (name.to_string(), threat.to_string()))
        })
        .collect()
}

fn main() {
    let args = Args::parse();
    let lay = Layout {
        root: args.corpus.clone(),
    };
    let mdscan = args.mdscan.display().to_string();
    let mut report = String::new();
    let mut summary = String::new();
    let _ = writeln!(
        report,
        "| input | tool | median s | objects/s | MB/s | peak RSS MiB | detections |\n|---|---|---:|---:|---:|---:|---|"
    );
    for case in cases()
        .into_iter()
        .filter(|c| args.sets.iter().any(|s| s == c.set))
    {
        let input = lay.root.join(case.input);
        if !input.exists() {
            eprintln!("skipping {}: not generated", input.display());
            continue;
        }
        let want = expected(&lay, case.input);
        let scan = |threads: usize| {
            let mut a = vec![
                "scan".to_string(),
                "--json".into(),
                "--threads".into(),
                threads.to_string(),
                "--rules".into(),
                lay.rules().display().to_string(),
                "--hashes".into(),
                lay.hdb().display().to_string(),
            ];
            a.push(input.display().to_string());
            repeat(args.runs, || timed(&mdscan, &a, true))
        };
        let md = scan(2);
        let (found, objects, bytes) = mdscan_detections(&md.stdout, &input);
        let row = |tool: &str, r: &Run, det: &str| {
            format!(
                "| {} | {tool} | {:.2} | {:.0} | {:.1} | {:.0} | {det} |\n",
                case.input,
                r.secs,
                objects as f64 / r.secs,
                bytes as f64 / 1e6 / r.secs,
                r.rss_kib as f64 / 1024.0
            )
        };
        let verdict = |got: &BTreeSet<(String, String)>| {
            if *got == want {
                format!("{}/{} ok", got.len(), want.len())
            } else {
                let missing: Vec<_> = want.difference(got).take(3).collect();
                let extra: Vec<_> = got.difference(&want).take(3).collect();
                format!(
                    "{}/{} MISMATCH missing {missing:?} extra {extra:?}",
                    got.len(),
                    want.len()
                )
            }
        };
        report += &row("mdscan (2 threads)", &md, &verdict(&found));
        if case.scaling {
            let one = scan(1);
            report += &row(
                "mdscan (1 thread)",
                &one,
                &verdict(&mdscan_detections(&one.stdout, &input).0),
            );
            let _ = writeln!(
                summary,
                "- scaling {}: 2 threads {:.2}x one thread",
                case.input,
                one.secs / md.secs
            );
        }
        if !args.no_clamscan {
            let mut a: Vec<String> = [
                "--no-summary",
                "--infected",
                "--allmatch",
                "--recursive",
                "--max-filesize=4000M",
                "--max-scansize=4000M",
                "--max-files=1000000",
                "--max-recursion=32",
                "--max-scantime=3600000",
                "-d",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            a.push(lay.rules().display().to_string());
            a.push("-d".into());
            a.push(lay.hdb().display().to_string());
            a.push(input.display().to_string());
            let cl = repeat(args.runs, || timed("clamscan", &a, true));
            report += &row("clamscan", &cl, &verdict(&clamscan_detections(&cl.stdout)));
            let _ = writeln!(
                summary,
                "- {}: mdscan {:.2} s vs clamscan {:.2} s: {:.1}x",
                case.input,
                md.secs,
                cl.secs,
                cl.secs / md.secs
            );
        }
        let mut fastest: Option<(f64, &str)> = None;
        for (label, cmd) in &case.baselines {
            let argv: Vec<String> = cmd[1..]
                .iter()
                .map(|a| {
                    if *a == "{}" {
                        input.display().to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let r = repeat(args.runs, || timed(cmd[0], &argv, false));
            report += &row(label, &r, "(extraction only)");
            if r.ok && fastest.is_none_or(|(s, _)| r.secs < s) {
                fastest = Some((r.secs, label));
            }
        }
        if let Some((secs, label)) = fastest {
            let _ = writeln!(
                summary,
                "- {}: mdscan / fastest extraction ({label}) = {:.2}",
                case.input,
                md.secs / secs
            );
        }
        if md.rss_kib > 0 && case.set == "big" {
            let _ = writeln!(
                summary,
                "- {}: mdscan peak RSS {:.0} MiB",
                case.input,
                md.rss_kib as f64 / 1024.0
            );
        }
        print!(
            "{}",
            report
                .lines()
                .last()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        );
    }
    let text = format!("{report}\n{summary}");
    println!("\n{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).unwrap();
    }
}
