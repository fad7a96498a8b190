//! Zip archives: rebuilt from their central directory, each member that
//! has a sanitizer replaced by its sanitized copy (renamed when its type
//! changes: `a.docm` becomes `a.docx`), nested archives rebuilt the same
//! way, and a member that can not be read or sanitized (encrypted,
//! damaged, a sanitizer's failure) replaced by a short text file saying
//! why. Members without a sanitizer are kept as they are (the scan
//! examined them). Bytes outside the central directory's members — a
//! prefix, a second archive glued on, local entries the directory does
//! not list — do not reach the copy.

use std::collections::HashSet;
use std::io::{Cursor, Read, Write};

use super::{SanitizeError, SanitizeOptions, Sanitized, Tally};

/// Bytes the members of one archive (nested ones included) may expand to.
const MAX_EXPANDED: u64 = 1 << 30;
/// Archives inside archives rebuilt at most this deep.
const MAX_DEPTH: u32 = 8;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

/// Whether `data` is a zip that is not an Office package or another
/// format built on zip (ODF, EPUB, JAR and APK keep a manifest whose
/// meaning a plain rebuild would not keep).
pub(super) fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK")
        && zip::ZipArchive::new(Cursor::new(data)).is_ok_and(|z| {
            !z.file_names().any(|n| {
                let n = n.map(|n| n.to_ascii_lowercase()).unwrap_or_default();
                n == "mimetype" || n == "meta-inf/manifest.mf" || n == "androidmanifest.xml"
            })
        })
}

/// Expansion left for a whole tree of archives.
struct Budget {
    left: u64,
}

pub(super) fn sanitize(data: &[u8], opts: &SanitizeOptions) -> Result<Sanitized, SanitizeError> {
    let mut tally = Tally::default();
    let mut budget = Budget { left: MAX_EXPANDED };
    let data = rebuild(data, opts, &mut tally, "", 0, &mut budget)?;
    Ok(Sanitized {
        data,
        converted_to: "zip".into(),
        details: tally.into_details(),
    })
}

fn rebuild(
    data: &[u8],
    opts: &SanitizeOptions,
    tally: &mut Tally,
    prefix: &str,
    depth: u32,
    budget: &mut Budget,
) -> Result<Vec<u8>, SanitizeError> {
    let mut z = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| fail(format!("{prefix}the archive is not a readable zip: {e}")))?;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut names: HashSet<String> = HashSet::new();
    for i in 0..z.len() {
        let listed = z
            .name_for_index(i)
            .and_then(|n| n.ok())
            .map_or_else(|| format!("member-{i}"), |n| n.to_string());
        let (name, is_dir, read) = {
            let f = match z.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    let name = clean_name(&listed, i);
                    note(
                        &mut w,
                        &mut names,
                        &name,
                        &format!("it could not be read: {e}"),
                    )?;
                    tally.add("removed", "unreadable file", format!("{prefix}{name}"));
                    continue;
                }
            };
            let name = clean_name(&f.name().unwrap_or_default(), i);
            let is_dir = f.is_dir();
            let mut buf = Vec::new();
            let read = if is_dir {
                Ok(buf)
            } else {
                f.take(budget.left.saturating_add(1))
                    .read_to_end(&mut buf)
                    .map(|_| buf)
            };
            (name, is_dir, read)
        };
        if is_dir {
            let dir = format!("{}/", name.trim_end_matches('/'));
            if names.insert(dir.to_ascii_lowercase()) {
                w.add_directory(dir.as_str(), options())
                    .map_err(|e| fail(format!("{prefix}can not write {dir}: {e}")))?;
            }
            continue;
        }
        let member = match read {
            Ok(m) => m,
            Err(e) => {
                note(
                    &mut w,
                    &mut names,
                    &name,
                    &format!("it could not be read: {e}"),
                )?;
                tally.add("removed", "unreadable file", format!("{prefix}{name}"));
                continue;
            }
        };
        if member.len() as u64 > budget.left {
            return Err(fail(format!(
                "the archive expands past {} MiB",
                MAX_EXPANDED >> 20
            )));
        }
        budget.left -= member.len() as u64;
        let path = format!("{prefix}{name}");
        let kind = super::kind(&member, &name);
        let (out_name, out) = if kind == Some("archive") {
            if depth >= MAX_DEPTH {
                note(&mut w, &mut names, &name, "archives nest too deep")?;
                tally.add("removed", "file", path);
                continue;
            }
            match rebuild(&member, opts, tally, &format!("{path}/"), depth + 1, budget) {
                Ok(d) => (name, d),
                Err(SanitizeError::Failed(why)) if why.contains("expands past") => {
                    return Err(fail(why));
                }
                Err(e) => {
                    note(&mut w, &mut names, &name, &e.to_string())?;
                    tally.add("removed", "file", path);
                    continue;
                }
            }
        } else if kind.is_some() {
            match super::sanitize(&member, &name, opts) {
                Ok(s) => {
                    for d in &s.details {
                        tally.add_many(d, &path);
                    }
                    (renamed(&name, &s.converted_to), s.data)
                }
                Err(e) => {
                    note(&mut w, &mut names, &name, &e.to_string())?;
                    tally.add("removed", "file", path);
                    continue;
                }
            }
        } else {
            (name, member)
        };
        let out_name = unique(&mut names, &out_name);
        w.start_file(out_name.as_str(), options())
            .and_then(|()| w.write_all(&out).map_err(Into::into))
            .map_err(|e| fail(format!("{prefix}can not write {out_name}: {e}")))?;
    }
    Ok(w.finish()
        .map_err(|e| fail(format!("{prefix}can not finish the archive: {e}")))?
        .into_inner())
}

fn options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
}

/// A member name as written back: relative, `/`-separated, without `..`
/// or empty parts.
fn clean_name(name: &str, i: usize) -> String {
    let parts: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let mut out = parts.join("/");
    if name.ends_with('/') && !out.is_empty() {
        out.push('/');
    }
    if out.trim_end_matches('/').is_empty() {
        format!("member-{i}")
    } else {
        out
    }
}

/// `a.docm` with a sanitized `docx` inside becomes `a.docx`.
fn renamed(name: &str, converted_to: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => {
            if ext.eq_ignore_ascii_case(converted_to) {
                name.to_string()
            } else {
                format!("{stem}.{converted_to}")
            }
        }
        _ => format!("{name}.{converted_to}"),
    }
}

/// `name`, or `name (2)`, ... when the copy already holds it.
fn unique(names: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while !names.insert(candidate.to_ascii_lowercase()) {
        candidate = match name.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => format!("{stem} ({n}).{ext}"),
            _ => format!("{name} ({n})"),
        };
        n += 1;
    }
    candidate
}

/// Puts `name.txt` saying why the member is not in the copy.
fn note(
    w: &mut zip::ZipWriter<Cursor<Vec<u8>>>,
    names: &mut HashSet<String>,
    name: &str,
    why: &str,
) -> Result<(), SanitizeError> {
    let note_name = unique(names, &format!("{}.txt", name.trim_end_matches('/')));
    let text =
        format!("mdscan removed {name} from this archive: it could not be sanitized ({why}).\r\n");
    w.start_file(note_name.as_str(), options())
        .and_then(|()| w.write_all(text.as_bytes()).map_err(Into::into))
        .map_err(|e| fail(format!("can not write {note_name}: {e}")))
}
