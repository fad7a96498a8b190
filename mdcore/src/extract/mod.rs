//! Extractors: one file per container format, behind one trait.
//!
//! An extractor turns a container's bytes into children and nothing more: it
//! never scans and never recurses (the walker does both). It yields each
//! child through a sink as soon as it is known, so the walker can scan
//! children on the pool while extraction goes on. Formats whose members are
//! independent (zip entries, cab folders, 7z blocks) yield *deferred*
//! children whose decoding itself runs on the pool.
//!
//! Every byte a decoder produces goes through [`read_child`], which charges
//! the per-root budget and cuts objects at the size limit. Declared sizes
//! are never used to allocate. Entry names pass through [`sanitize_name`]
//! and are only labels: nothing is ever written to a path from an archive.

use std::io::{self, Read};

use crate::blob::{Blob, BlobWriter};
use crate::detect::Kind;
use crate::limits::{Budget, Stop};
use crate::verdict::ResultCode;

mod bzip2;
mod cab;
mod cpio;
mod gzip;
mod rpm;
mod sevenz;
mod sfx;
mod tar;
mod xz;
mod zip;
mod zstd;

/// Why (part of) an object could not be examined: a code and a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issue {
    pub(crate) code: ResultCode,
    pub(crate) note: String,
}

impl Issue {
    pub(crate) fn new(code: ResultCode, note: impl Into<String>) -> Issue {
        Issue {
            code,
            note: note.into(),
        }
    }

    /// Corrupt or truncated data (3).
    pub(crate) fn corrupt(note: impl Into<String>) -> Issue {
        Issue::new(ResultCode::Failed, note)
    }

    /// A tree-wide limit stopped extraction.
    pub(crate) fn stopped(stop: Stop) -> Issue {
        let why = match stop {
            Stop::Size => "the size or expansion limit was reached",
            Stop::Files => "the object count limit was reached",
            Stop::Timeout => "the time limit was reached",
            Stop::Cancelled => "the scan was cancelled",
        };
        Issue::new(stop.code(), format!("extraction stopped: {why}"))
    }
}

/// An extracted object.
#[derive(Debug)]
pub(crate) struct Child {
    /// Sanitized entry name.
    pub(crate) name: String,
    /// Its bytes; `None` when nothing could be produced (wrong password,
    /// unsupported method), in which case `issue` says why.
    pub(crate) data: Option<Blob>,
    /// A reason the object is not whole or not examinable.
    pub(crate) issue: Option<Issue>,
}

impl Child {
    pub(crate) fn failed(name: String, issue: Issue) -> Child {
        Child {
            name,
            data: None,
            issue: Some(issue),
        }
    }
}

/// Where a deferred job sends the children it decodes.
pub(crate) type Emit<'e> = dyn FnMut(Child) -> Flow + 'e;

/// A job that decodes one independent part of a container (a zip member, a
/// cab folder, a 7z block) and emits its children; runs on any pool thread.
pub(crate) type Job<'a> = Box<dyn FnOnce(&mut Emit<'_>) + Send + 'a>;

/// What an extractor yields.
pub(crate) enum Entry<'a> {
    /// A child whose bytes are already decoded.
    Ready(Child),
    /// Children decoded later, in parallel with their siblings. `members`
    /// is how many children the job will emit; they are admitted against
    /// the object limit when the job is yielded, before any work is queued.
    Deferred { members: u64, job: Job<'a> },
}

/// The sink's answer: keep going or stop (a tree-wide limit was reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

pub(crate) type Sink<'s, 'a> = dyn FnMut(Entry<'a>) -> Flow + 's;

/// What an extractor may use besides the container's bytes.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    pub(crate) budget: &'a Budget,
    /// Passwords to try on encrypted archives, in order (the empty password
    /// is not implied).
    pub(crate) passwords: &'a [String],
    /// The container's own name (gzip uses it to name its member).
    pub(crate) name: &'a str,
}

/// A container format.
pub(crate) trait Extractor: Sync {
    /// Yields the children of `data` into `sink`. `Err` is a problem with the
    /// container as a whole (corrupt header, truncated stream, a limit that
    /// stopped it); children yielded before it stand.
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue>;
}

/// The extractor for a kind, if it is a container.
pub(crate) fn extractor_for(kind: Kind) -> Option<&'static dyn Extractor> {
    Some(match kind {
        Kind::Zip => &zip::Zip,
        Kind::Gzip => &gzip::Gzip,
        Kind::Bzip2 => &bzip2::Bzip2,
        Kind::Xz => &xz::Xz,
        Kind::Zstd => &zstd::Zstd,
        Kind::Tar => &tar::Tar,
        Kind::SevenZip => &sevenz::SevenZip,
        Kind::Cab => &cab::Cab,
        Kind::Rpm => &rpm::Rpm,
        Kind::Cpio => &cpio::Cpio,
        Kind::Pe => &sfx::Sfx,
        _ => return None,
    })
}

/// What [`read_child`] produced.
#[derive(Debug)]
pub(crate) struct Produced {
    pub(crate) blob: Blob,
    /// Set when the object is incomplete: cut at a limit, or the decoder
    /// failed part-way (the bytes before the failure are kept).
    pub(crate) issue: Option<Issue>,
    /// Set when a tree-wide limit was reached: the extractor must stop.
    pub(crate) stop: Option<Stop>,
}

impl Produced {
    pub(crate) fn into_child(self, name: String) -> Child {
        Child {
            name,
            data: Some(self.blob),
            issue: self.issue,
        }
    }
}

const CHUNK: usize = 128 << 10;

/// Decodes one object from `r` into a blob, charging every byte to the
/// budget. Stops at the per-object size limit (the object keeps what was
/// produced and gets code 13) and at any tree-wide limit. A decoder error
/// keeps the bytes produced so far and becomes an issue (code 3).
pub(crate) fn read_child(r: &mut dyn Read, budget: &Budget) -> Produced {
    let limits = &budget.limits;
    let mut w = BlobWriter::new(limits.spill_threshold);
    let mut buf = vec![0u8; CHUNK];
    let mut issue = None;
    let mut stop = None;
    loop {
        // Never read past the per-object limit: ask for at most one byte more
        // than what is left, to learn whether the object goes on.
        let left = limits.max_object_size.saturating_sub(w.len());
        let want = usize::try_from(left.saturating_add(1)).map_or(CHUNK, |l| l.min(CHUNK));
        let Some(window) = buf.get_mut(..want) else {
            break;
        };
        let n = match r.read(window) {
            Ok(0) => break,
            Ok(n) => n.min(want),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                issue = Some(Issue::corrupt(format!(
                    "decoding failed after {} bytes: {e}",
                    w.len()
                )));
                break;
            }
        };
        let take = usize::try_from(left).map_or(n, |l| n.min(l));
        if let Err(s) = budget.charge(take as u64) {
            stop = Some(s);
        }
        if let Err(e) = w.write(window.get(..take).unwrap_or_default()) {
            issue = Some(Issue::corrupt(format!("can not store extracted data: {e}")));
            break;
        }
        if take < n {
            issue = Some(Issue::new(
                ResultCode::ExceededArchiveSize,
                format!(
                    "object cut at the size limit of {} bytes",
                    limits.max_object_size
                ),
            ));
            break;
        }
        if let Some(s) = stop {
            issue = Some(Issue::stopped(s));
            break;
        }
    }
    let blob = match w.finish() {
        Ok(b) => b,
        Err(e) => {
            issue = Some(Issue::corrupt(format!("can not store extracted data: {e}")));
            Blob::from_vec(Vec::new())
        }
    };
    Produced { blob, issue, stop }
}

/// Turns an entry name from an archive into a safe label: backslashes become
/// slashes, drive letters, leading slashes, `.` and `..` components, NULs and
/// control characters are removed. The result is never empty.
pub(crate) fn sanitize_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c == '\\' { '/' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let mut parts = Vec::new();
    for (i, part) in cleaned.split('/').enumerate() {
        // `C:` as the first component is a drive letter.
        if i == 0 && part.len() == 2 && part.ends_with(':') {
            continue;
        }
        match part {
            "" | "." | ".." => {}
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        "[unnamed]".into()
    } else {
        parts.join("/")
    }
}

/// The name of a single-member compressed file: `a.tar.gz` -> `a.tar`,
/// `a.tgz` -> `a.tar`, otherwise the name without its last extension, or
/// `name` + `.out` when there is none.
pub(crate) fn strip_compression_ext(name: &str, exts: &[&str]) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    if let Some((stem, ext)) = base.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if matches!(ext.as_str(), "tgz" | "tbz" | "tbz2" | "txz" | "tzst") {
            return format!("{stem}.tar");
        }
        if exts.contains(&ext.as_str()) && !stem.is_empty() {
            return stem.to_string();
        }
    }
    format!("{base}.out")
}

/// A decoder stream for a single-member compressed format yields one child.
pub(crate) fn single_stream<'a>(
    reader: &mut dyn Read,
    name: String,
    cx: &Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    let produced = read_child(reader, cx.budget);
    let stop = produced.stop;
    sink(Entry::Ready(produced.into_child(name)));
    match stop {
        Some(s) => Err(Issue::stopped(s)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn names_are_labels_not_paths() {
        assert_eq!(sanitize_name("../../etc/passwd"), "etc/passwd");
        assert_eq!(sanitize_name("/abs/path"), "abs/path");
        assert_eq!(sanitize_name("C:\\Windows\\evil.dll"), "Windows/evil.dll");
        assert_eq!(sanitize_name("a/./b//c"), "a/b/c");
        assert_eq!(sanitize_name("nul\0byte"), "nulbyte");
        assert_eq!(sanitize_name(".."), "[unnamed]");
        assert_eq!(sanitize_name(""), "[unnamed]");
    }

    #[test]
    fn compression_names() {
        assert_eq!(strip_compression_ext("a.tar.gz", &["gz"]), "a.tar");
        assert_eq!(strip_compression_ext("dir/a.tgz", &["gz"]), "a.tar");
        assert_eq!(strip_compression_ext("blob", &["gz"]), "blob.out");
        assert_eq!(strip_compression_ext(".gz", &["gz"]), ".gz.out");
    }

    #[test]
    fn read_child_cuts_at_object_limit_and_charges_budget() {
        let limits = Limits {
            max_object_size: 1000,
            ..Limits::default()
        };
        let budget = Budget::new(limits, 10_000, None);
        let data = vec![1u8; 5000];
        let p = read_child(&mut &data[..], &budget);
        assert_eq!(p.blob.len(), 1000);
        assert_eq!(
            p.issue.map(|i| i.code),
            Some(ResultCode::ExceededArchiveSize)
        );
        assert_eq!(p.stop, None);
        assert_eq!(budget.produced(), 1000);
        // exactly at the limit is fine
        let p = read_child(&mut &data[..1000], &budget);
        assert_eq!(p.blob.len(), 1000);
        assert!(p.issue.is_none());
    }

    #[test]
    fn read_child_keeps_bytes_before_an_error() {
        struct Failing(u8);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "bad block"));
                }
                self.0 -= 1;
                buf[..3].copy_from_slice(b"abc");
                Ok(3)
            }
        }
        let budget = Budget::new(Limits::default(), 10, None);
        let p = read_child(&mut Failing(2), &budget);
        assert_eq!(&*p.blob, b"abcabc");
        let issue = p.issue.unwrap();
        assert_eq!(issue.code, ResultCode::Failed);
        assert!(issue.note.contains("bad block"), "{}", issue.note);
    }
}
