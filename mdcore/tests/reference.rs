//! The differential harness over third-party files: every file of
//! libmspack's test set (`../shared/fixtures/libmspack`: cabinets, CHM,
//! its CVE cases) and of ClamAV's (`/usr/share/clamav-testfiles`, Debian's
//! clamav-testfiles) is unpacked by the reference tools that read it —
//! cabextract (libmspack itself), 7-Zip and bsdtar — and scanned by
//! mdscan. For each member a tool writes (non-empty), mdscan must have
//! scanned the same bytes somewhere in its tree ("complete"); a member
//! whose name mdscan has with other bytes is "wrong bytes"; one it does
//! not have at all is "missing". The harness fails on any wrong byte and
//! on any file mdscan allows (No Threat) while missing a member a tool
//! wrote; missing members of a file mdscan blocks are counted, not
//! failed (mdscan said it did not see everything). It prints a table per
//! format and writes it to `target/reference-harness.txt`.
//!
//! Known disagreements, each with its reason, are listed in `EXPECTED`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mdcore::{Node, ResultCode};

use crate::util::*;

/// (file name, tool, why the tool's reading is not one mdscan scans).
const EXPECTED: &[(&str, &str, &str)] = &[];

fn fixtures() -> Option<PathBuf> {
    fixtures_with("libmspack")
}

/// Every regular file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What a tool wrote: (path below the output directory, sha256) of every
/// non-empty file, and whether it reported success.
struct Reading {
    tool: &'static str,
    ok: bool,
    members: Vec<(String, String)>,
}

/// Runs `tool` to unpack `file` into a fresh directory; `None` when the
/// tool is not installed (a visible skip, or a failure under CI).
fn unpack(tool: &'static str, file: &Path) -> Option<Reading> {
    let out = tempfile::tempdir().unwrap();
    let o = out.path();
    let args: Vec<String> = match tool {
        "cabextract" => vec!["-q".into(), "-d".into(), o.display().to_string()],
        "7zz" => vec![
            "x".into(),
            "-y".into(),
            "-bd".into(),
            "-p-".into(),
            format!("-o{}", o.display()),
        ],
        "bsdtar" => vec![
            "-x".into(),
            "-C".into(),
            o.display().to_string(),
            "-f".into(),
        ],
        _ => unreachable!(),
    };
    let status = match std::process::Command::new(tool)
        .args(&args)
        .arg(file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            shared::skip(format_args!("{tool} is not installed"));
            return None;
        }
        Err(e) => panic!("{tool}: {e}"),
    };
    let members = files_under(o)
        .into_iter()
        .filter_map(|p| {
            let data = std::fs::read(&p).ok()?;
            (!data.is_empty()).then(|| {
                let rel = p.strip_prefix(o).unwrap().display().to_string();
                (rel, sha256_hex(&data))
            })
        })
        .collect();
    Some(Reading {
        tool,
        ok: status.success(),
        members,
    })
}

/// Every node below the root: (base name, sha256, whether mdscan says it
/// examined the node's bytes whole — a node that carries a code for what
/// it could not read, such as 23 for a method not decoded, does not).
fn tree(n: &Node, out: &mut Vec<(String, String, bool)>) {
    for c in &n.children {
        let base = c.name.rsplit('/').next().unwrap_or(&c.name).to_string();
        let whole = matches!(
            c.own_result_i,
            ResultCode::NoThreat | ResultCode::Infected | ResultCode::Suspicious
        );
        out.push((base, c.sha256.clone(), whole));
        tree(c, out);
    }
}

#[derive(Default)]
struct Row {
    files: usize,
    members: usize,
    bytes_ok: usize,
    complete: usize,
    wrong: usize,
    missing_blocked: usize,
    missing_allowed: usize,
}

/// The tools that read a file, by what mdscan says it is.
fn readers(file_type: &str) -> &'static [&'static str] {
    match file_type {
        "application/vnd.ms-cab-compressed" => &["cabextract", "7zz"],
        // Executables: 7-Zip lists a PE's sections and resources, which
        // are not files a victim gets; their embedded archives are carved.
        "application/x-dosexec"
        | "application/x-msdownload"
        | "application/x-executable"
        | "application/x-elf"
        | "application/x-mach-binary" => &[],
        // Plain data: 7-Zip and bsdtar refuse it.
        "application/octet-stream" | "text/plain" => &[],
        _ => &["7zz", "bsdtar"],
    }
}

#[test]
fn every_member_a_reference_tool_writes_is_scanned_or_the_file_blocks() {
    let mut corpus: Vec<PathBuf> = Vec::new();
    match fixtures() {
        Some(f) => {
            for sub in ["libmspack/cabd", "libmspack/chmd"] {
                corpus.extend(files_under(&f.join(sub)));
            }
        }
        None if std::env::var_os("CI").is_some() => {
            panic!("the shared fixtures (libmspack) are not found; set MDSCAN_FIXTURES")
        }
        None => shared::skip("the shared fixtures are not found"),
    }
    let clam = Path::new("/usr/share/clamav-testfiles");
    if clam.is_dir() {
        corpus.extend(files_under(clam));
    } else if std::env::var_os("CI").is_some() {
        panic!("clamav-testfiles is not installed (CI installs it)");
    } else {
        shared::skip("clamav-testfiles is not installed");
    }
    corpus.retain(|p| p.extension().is_none_or(|e| e != "pl"));
    let mut table: BTreeMap<String, Row> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut expected_seen = BTreeSet::new();
    for file in &corpus {
        let data = std::fs::read(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let report = scan(&data, &name);
        let ft = report.root.file_type.clone();
        let mut ours = Vec::new();
        tree(&report.root, &mut ours);
        let our_shas: BTreeSet<&str> = ours.iter().map(|(_, s, _)| s.as_str()).collect();
        let row = table.entry(ft.clone()).or_default();
        row.files += 1;
        let blocked = report.verdict() != ResultCode::NoThreat;
        let mut whole = true;
        let readings: Vec<Reading> = readers(&ft)
            .iter()
            .filter_map(|tool| unpack(tool, file))
            .collect();
        // A tool that fails on a file another tool reads may write junk
        // (bsdtar writes a zip member of a method it lacks as it is
        // stored); the tools that succeed are the reference then.
        let any_ok = readings.iter().any(|r| r.ok);
        for reading in readings.iter().filter(|r| r.ok || !any_ok) {
            for (path, sha) in &reading.members {
                row.members += 1;
                if our_shas.contains(sha.as_str()) {
                    row.bytes_ok += 1;
                    continue;
                }
                if EXPECTED
                    .iter()
                    .any(|(f, t, _)| *f == name && *t == reading.tool)
                {
                    expected_seen.insert((name.clone(), reading.tool));
                    continue;
                }
                let base = path.rsplit('/').next().unwrap_or(path);
                // Our node of that name, examined whole, with other bytes.
                let same_name = ours.iter().any(|(b, _, whole)| b == base && *whole);
                whole = false;
                if same_name {
                    row.wrong += 1;
                    failures.push(format!(
                        "{name} ({ft}): {} wrote `{path}` ({sha}); mdscan scanned other bytes under that name",
                        reading.tool
                    ));
                } else if blocked {
                    row.missing_blocked += 1;
                } else {
                    row.missing_allowed += 1;
                    failures.push(format!(
                        "{name} ({ft}): {} wrote `{path}` ({sha}), which mdscan did not reach, and mdscan allowed the file",
                        reading.tool
                    ));
                }
            }
        }
        if whole {
            row.complete += 1;
        }
    }
    let mut text = String::from(
        "format | files | complete | members written | same bytes | wrong bytes | missing (blocked) | missing (allowed)\n---|---|---|---|---|---|---|---\n",
    );
    for (ft, r) in &table {
        text.push_str(&format!(
            "{ft} | {} | {} | {} | {} | {} | {} | {}\n",
            r.files,
            r.complete,
            r.members,
            r.bytes_ok,
            r.wrong,
            r.missing_blocked,
            r.missing_allowed
        ));
    }
    println!("{text}");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("reference-harness.txt"), &text);
    for (f, t, why) in EXPECTED {
        assert!(
            expected_seen.contains(&(f.to_string(), *t)),
            "EXPECTED lists {f} for {t} ({why}), which no longer disagrees: remove it"
        );
    }
    assert!(failures.is_empty(), "{}\n{}", failures.join("\n"), text);
}
