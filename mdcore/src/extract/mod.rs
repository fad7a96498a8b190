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
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blob::{Blob, BlobWriter};
use crate::kind::Kind;
use crate::limits::{Budget, Stop};
use crate::verdict::ResultCode;

pub(crate) mod alz;
pub(crate) mod ar;
pub(crate) mod arj;
pub(crate) mod autoit;
pub(crate) mod bzip2;
pub(crate) mod cab;
pub(crate) mod carved;
pub(crate) mod chm;
pub(crate) mod compress;
pub(crate) mod cpio;
pub(crate) mod disk;
pub(crate) mod encoded;
pub(crate) mod fat;
pub(crate) mod gzip;
pub(crate) mod installshield;
pub(crate) mod iscab;
pub(crate) mod iso;
pub(crate) mod lz4;
pub(crate) mod lzh;
pub(crate) mod lzip;
pub(crate) mod lzma;
pub(crate) mod lzop;
pub(crate) mod mail;
pub(crate) mod nsis;
pub(crate) mod ntfs;
pub(crate) mod ole2;
pub(crate) mod onenote;
pub(crate) mod pdf;
#[cfg(feature = "rar")]
pub(crate) mod quantum;
pub(crate) mod rar;
pub(crate) mod rpm;
pub(crate) mod rtf;
pub(crate) mod sevenz;
pub(crate) mod sis;
pub(crate) mod szdd;
pub(crate) mod tar;
pub(crate) mod text;
pub(crate) mod tnef;
pub(crate) mod vba;
pub(crate) mod vhdx;
pub(crate) mod warc;
pub(crate) mod xar;
pub(crate) mod xz;
pub(crate) mod zip;
pub(crate) mod zstd;

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
    /// A remark for the child's node that is not a failure (how it was
    /// found, which reading of its container it comes from).
    pub(crate) note: Option<String>,
}

impl Child {
    pub(crate) fn failed(name: String, issue: Issue) -> Child {
        Child {
            name,
            data: None,
            issue: Some(issue),
            note: None,
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

/// What an extractor may use besides the container's bytes, and what it
/// tells the walker besides its children.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    pub(crate) budget: &'a Budget,
    /// Passwords to try on encrypted archives, in order (the empty password
    /// is not implied).
    pub(crate) passwords: &'a [String],
    /// The container's own name (gzip uses it to name its member).
    pub(crate) name: &'a str,
    /// Where the container's own bytes end, as its reader found them
    /// (`u64::MAX` until it says). The walker searches what follows for
    /// further archives.
    end: AtomicU64,
    /// Remarks on the container that are not failures (two readings of a
    /// zip that disagree, entries only one reading sees, trailing bytes).
    notes: Mutex<Vec<String>>,
    /// Type detection, given by the walker (readers do not import
    /// detection, which walks the registry that lists the readers).
    identify: Identify,
}

/// What an object's first bytes are, and the extension that names it
/// (`bin` for unknown bytes): `crate::detect::identify`.
pub(crate) type Identify = fn(&[u8]) -> (Kind, &'static str);

impl<'a> Cx<'a> {
    pub(crate) fn new(
        budget: &'a Budget,
        passwords: &'a [String],
        name: &'a str,
        identify: Identify,
    ) -> Cx<'a> {
        Cx {
            budget,
            passwords,
            name,
            end: AtomicU64::new(u64::MAX),
            notes: Mutex::new(Vec::new()),
            identify,
        }
    }

    /// The kind of `data` and the extension that names it (type detection,
    /// as the walker does it).
    pub(crate) fn identify(&self, data: &[u8]) -> (Kind, &'static str) {
        (self.identify)(data)
    }

    /// Records where the container's bytes end (the furthest call wins).
    pub(crate) fn consumed(&self, end: usize) {
        let end = end as u64;
        let _ = self
            .end
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (old == u64::MAX || end > old).then_some(end)
            });
    }

    /// Where the container's bytes end, if its reader said.
    pub(crate) fn end(&self) -> Option<usize> {
        match self.end.load(Ordering::Relaxed) {
            u64::MAX => None,
            e => usize::try_from(e).ok(),
        }
    }

    /// Adds a remark to the container's node.
    pub(crate) fn note(&self, note: impl Into<String>) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(note.into());
        }
    }

    /// The remarks made so far.
    pub(crate) fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }
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
            note: None,
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
                issue = Some(decode_error(&e, w.len()));
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

/// Hands bytes already in memory (a decoded part, an embedded file) to the
/// walker as a child: copied through [`read_child`], so charged to the
/// budget and cut at the object limit, with a note and the damage its
/// reader found (unless the copy itself was cut). `Ok(Flow::Stop)` when
/// the walker said stop; `Err` when a tree-wide limit was reached.
pub(crate) fn hand_over(
    sink: &mut Sink<'_, '_>,
    cx: &Cx<'_>,
    name: String,
    bytes: &[u8],
    note: Option<String>,
    damage: Option<Issue>,
) -> Result<Flow, Issue> {
    hand_over_from(sink, cx, name, &mut &bytes[..], note, damage)
}

/// [`hand_over`] for bytes read from `r` (a staged file, a decoder).
pub(crate) fn hand_over_from(
    sink: &mut Sink<'_, '_>,
    cx: &Cx<'_>,
    name: String,
    r: &mut dyn Read,
    note: Option<String>,
    damage: Option<Issue>,
) -> Result<Flow, Issue> {
    let produced = read_child(r, cx.budget);
    let stop = produced.stop;
    let mut child = produced.into_child(name);
    child.note = note;
    if child.issue.is_none() {
        child.issue = damage;
    }
    if sink(Entry::Ready(child)) == Flow::Stop {
        return Ok(Flow::Stop);
    }
    match stop {
        Some(s) => Err(Issue::stopped(s)),
        None => Ok(Flow::Continue),
    }
}

/// What a decoder's error means: a refused memory demand (an xz or 7z
/// dictionary, a zstd window above our caps) is a size limit (13) — the data
/// may well be intact, we chose not to allocate that much — anything else is
/// damage (3).
pub(crate) fn decode_error(e: &io::Error, produced: u64) -> Issue {
    if is_memory_refusal(e) {
        return memory_limit_issue(&e.to_string());
    }
    Issue::corrupt(format!("decoding failed after {produced} bytes: {e}"))
}

/// The issue for a decoder that would need more memory than we allow.
pub(crate) fn memory_limit_issue(detail: &str) -> Issue {
    Issue::new(
        ResultCode::ExceededArchiveSize,
        format!("not decoded: the decoder would need more memory than the limit allows ({detail})"),
    )
}

pub(crate) fn is_memory_refusal(e: &io::Error) -> bool {
    // lzma-rust2 (7z, zip LZMA/XZ) refuses a dictionary as `OutOfMemory`.
    if e.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    if let Some(liblzma::stream::Error::MemLimit) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<liblzma::stream::Error>())
    {
        return true;
    }
    if let Some(sevenz_rust2::Error::MaxMemLimited { .. }) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<sevenz_rust2::Error>())
    {
        return true;
    }
    // zstd reports a window above `window_log_max` as
    // "Frame requires too much memory for decoding".
    // lzma-rust2 refuses a declared LZMA dictionary above 4 GiB - 1 with
    // "dict size too large".
    let text = e.to_string().to_ascii_lowercase();
    text.contains("too much memory")
        || text.contains("memory limit")
        || (text.contains("dict") && text.contains("too large"))
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
/// `a.tgz` -> `a.tar` (and the other tarball short forms: `.tbz`,
/// `.tbz2`, `.txz`, `.tzst`, `.tlz`, `.taz`, `.tlzma`), otherwise the name without its last extension, or
/// `name` + `.out` when there is none.
pub(crate) fn strip_compression_ext(name: &str, exts: &[&str]) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    if let Some((stem, ext)) = base.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if matches!(
            ext.as_str(),
            "tgz" | "tbz" | "tbz2" | "txz" | "tzst" | "tlz" | "taz" | "tlzma" | "tlz4" | "tzo"
        ) {
            return format!("{stem}.tar");
        }
        if exts.contains(&ext.as_str()) && !stem.is_empty() {
            return stem.to_string();
        }
    }
    format!("{base}.out")
}

/// One decoder per member of a file of concatenated members (gzip members,
/// bzip2 and xz streams, zstd frames), read as one stream, stopping cleanly
/// where the next bytes do not start a member — so data after the last
/// member is not "corruption" but trailing bytes, which the walker searches
/// for further archives.
pub(crate) struct Members<'a, D> {
    total: usize,
    rest: &'a [u8],
    dec: Option<D>,
    /// A decoder for the member at the start of the bytes, or `None` when
    /// they do not start one.
    open: fn(&'a [u8]) -> io::Result<Option<D>>,
    /// The bytes after a finished member.
    close: fn(D) -> &'a [u8],
    finished: bool,
}

impl<'a, D: Read> Members<'a, D> {
    pub(crate) fn new(
        data: &'a [u8],
        open: fn(&'a [u8]) -> io::Result<Option<D>>,
        close: fn(D) -> &'a [u8],
    ) -> io::Result<Self> {
        let dec = open(data)?;
        Ok(Members {
            total: data.len(),
            rest: data,
            finished: dec.is_none(),
            dec,
            open,
            close,
        })
    }

    /// The current member's decoder (to read its header).
    pub(crate) fn current(&self) -> Option<&D> {
        self.dec.as_ref()
    }

    /// Where the last member ended, once every member was read to its end.
    pub(crate) fn end(&self) -> Option<usize> {
        self.finished.then(|| self.total - self.rest.len())
    }
}

impl<D: Read> Read for Members<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if let Some(done) = self.dec.take() {
                self.rest = (self.close)(done);
            }
            self.dec = (self.open)(self.rest)?;
            self.finished = self.dec.is_none();
        }
    }
}

/// A single-stream format read as concatenated members: one child, and the
/// container's end reported to the walker (or, when decoding failed part
/// way, the whole container left to the carver after its first byte).
pub(crate) fn members<'a, D: Read>(
    reader: Members<'a, D>,
    name: String,
    cx: &Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    one_child(reader, |r| r.end().unwrap_or(1), name, cx, sink)
}

/// A single-stream format's one child: decoded from `reader`, the
/// container's end (`end`, asked once the reading is done) reported to
/// the walker, and the child handed over.
pub(crate) fn one_child<'a, R: Read>(
    mut reader: R,
    end: impl FnOnce(&R) -> usize,
    name: String,
    cx: &Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    let produced = read_child(&mut reader, cx.budget);
    cx.consumed(end(&reader));
    let stop = produced.stop;
    sink(Entry::Ready(produced.into_child(name)));
    match stop {
        Some(s) => Err(Issue::stopped(s)),
        None => Ok(()),
    }
}

/// Copies the part of a decoded block not yet handed out (`out` from
/// `given`) into `buf`: the bytes copied (0 when the block is used up),
/// for block decoders' `Read` impls.
pub(crate) fn give_out(out: &[u8], given: &mut usize, buf: &mut [u8]) -> usize {
    let left = out.get(*given..).unwrap_or_default();
    let n = left.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), left.get(..n)) {
        dst.copy_from_slice(src);
    }
    *given += n;
    n
}

/// Decodes up to 64 KiB from `r`: whether the data there is a real stream
/// (the carver's check for formats without a header checksum). It is if it
/// ends cleanly or yields 64 KiB without an error.
pub(crate) fn trial_decode(r: &mut dyn Read) -> bool {
    let mut buf = vec![0u8; 16 << 10];
    let mut total = 0usize;
    while total < (64 << 10) {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
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
        assert_eq!(strip_compression_ext("a.TLZ", &["lz"]), "a.tar");
        assert_eq!(strip_compression_ext("a.taz", &["z"]), "a.tar");
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
