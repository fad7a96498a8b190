//! Archives, rebuilt from their sanitized members in the same format where
//! mdscan has a writer for it — zip, tar, 7z, and the one-member gzip,
//! bzip2, xz and Zstandard — and as a zip otherwise (RAR, cabinet, LZH,
//! ARJ, cpio, ALZip).
//!
//! Each member that has a sanitizer is replaced by its sanitized copy
//! (renamed when its type changes: `a.docm` becomes `a.docx`), nested
//! archives are rebuilt the same way, and a member the scan blocked
//! ([`super::Blocked`]), or one that can not be read or sanitized
//! (encrypted, damaged, a sanitizer's failure), is replaced by a short text
//! file saying why. Members without a sanitizer are kept as they are (the
//! scan examined them). Bytes outside the members — a prefix, a second
//! archive glued on, entries the reader does not list — do not reach the
//! copy.
//!
//! Members are read as the walker reads one container
//! ([`crate::formats::each_member`]: the registry's extractor, every member
//! admitted as the scan admits it), so the copy holds the objects the scan
//! examined, read the same way — both readings of a zip whose central
//! directory and local headers disagree, for one. One budget, built from
//! [`SanitizeOptions::limits`] (the workflow's limits), covers the whole
//! tree: bytes decoded, objects, depth and time as for the scan. A tree
//! that reaches a tree-wide limit is not sanitized (an error); an archive
//! nested deeper than the depth limit is replaced by a note. Empty
//! directories are not written back.

use std::collections::HashSet;
use std::io::{Cursor, Write};

use super::{SanitizeError, SanitizeOptions, Sanitized, Tally};
use crate::extract::{Child, Cx, Flow, Issue};
use crate::formats::{self, Rebuild};
use crate::kind::Kind;
use crate::limits::Budget;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

/// How an archive is read and written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// Read from the central directory, written as zip.
    Zip,
    /// Read by the scanner's extractor, written as the same format.
    Tar,
    SevenZip,
    /// One member, compressed again the same way.
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    /// Read by the scanner's extractor, written as zip.
    AsZip(Kind),
}

impl Format {
    /// The copy's type: its usual extension.
    fn extension(self) -> &'static str {
        match self {
            Format::Zip | Format::AsZip(_) => "zip",
            Format::Tar => "tar",
            Format::SevenZip => "7z",
            Format::Gzip => "gz",
            Format::Bzip2 => "bz2",
            Format::Xz => "xz",
            Format::Zstd => "zst",
        }
    }

    /// The format's type in the registry, for its other usual extensions.
    fn kind(self) -> Kind {
        match self {
            Format::Zip => Kind::Zip,
            Format::Tar => Kind::Tar,
            Format::SevenZip => Kind::SevenZip,
            Format::Gzip => Kind::Gzip,
            Format::Bzip2 => Kind::Bzip2,
            Format::Xz => Kind::Xz,
            Format::Zstd => Kind::Zstd,
            Format::AsZip(_) => Kind::Zip,
        }
    }

    /// The copy's type as named: `name`'s own extension when it is a usual
    /// one for the format written (`.tgz` stays `tgz`), else the format's.
    fn converted_to(self, name: &str) -> String {
        let ext = super::extension(name);
        if !ext.is_empty() && crate::formats::extension_fits(self.kind(), &ext) {
            ext
        } else {
            self.extension().into()
        }
    }
}

/// The archive format of `data`, when it is one the rebuild takes (the
/// registry's `rebuild` column says which). A zip that is an Office package
/// or another format built on zip (ODF, EPUB, JAR and APK keep a manifest
/// whose meaning a plain rebuild would not keep) is not.
pub(super) fn format_of(data: &[u8]) -> Option<Format> {
    if data.starts_with(b"PK") {
        return is_plain_zip(data).then_some(Format::Zip);
    }
    let kind = crate::detect::detect(data).kind;
    match formats::rebuild(kind) {
        Rebuild::No => None,
        Rebuild::AsZip => Some(Format::AsZip(kind)),
        Rebuild::Same => Some(match kind {
            Kind::Tar => Format::Tar,
            Kind::SevenZip => Format::SevenZip,
            Kind::Gzip => Format::Gzip,
            Kind::Bzip2 => Format::Bzip2,
            Kind::Xz => Format::Xz,
            Kind::Zstd => Format::Zstd,
            // A format the registry says is rebuilt in its own format but
            // this file has no writer for: written as a zip rather than
            // passed through.
            other => Format::AsZip(other),
        }),
    }
}

fn is_plain_zip(data: &[u8]) -> bool {
    // An empty zip (its end record alone) has no central directory to
    // read; it is what the rebuild writes for an archive with no member.
    if crate::extract::zip::is_empty(data) {
        return true;
    }
    crate::extract::zip::central_names(data).is_some_and(|names| {
        !names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            n == "mimetype" || n == "meta-inf/manifest.mf" || n == "androidmanifest.xml"
        })
    })
}

pub(super) fn sanitize(
    data: &[u8],
    name: &str,
    opts: &SanitizeOptions,
) -> Result<Sanitized, SanitizeError> {
    let format = format_of(data).ok_or_else(|| fail("not an archive mdscan rebuilds"))?;
    let mut tally = Tally::default();
    let budget = Budget::new(opts.limits.clone(), data.len() as u64, None);
    let mut job = Job {
        opts,
        tally: &mut tally,
        budget: &budget,
    };
    let data = job.rebuild(format, data, name, "", 0)?;
    Ok(Sanitized {
        data,
        converted_to: format.converted_to(name),
        details: tally.into_details(),
    })
}

/// One member as read: its cleaned name, and its bytes or why there are
/// none.
struct Member<'m> {
    name: String,
    data: Result<&'m [u8], String>,
}

/// State shared by a whole tree of archives.
struct Job<'j> {
    opts: &'j SanitizeOptions,
    tally: &'j mut Tally,
    /// The tree's one budget: every level reads its members against it.
    budget: &'j Budget,
}

/// What becomes of one member in the copy.
enum Put {
    /// Written under this name.
    File(String, Vec<u8>),
    /// Replaced by a text file saying why.
    Note(String, String),
}

impl Job<'_> {
    /// The copy of the archive `data` (of `format`, named `name`); member
    /// paths in the details start with `prefix`.
    fn rebuild(
        &mut self,
        format: Format,
        data: &[u8],
        name: &str,
        prefix: &str,
        depth: u32,
    ) -> Result<Vec<u8>, SanitizeError> {
        match format {
            Format::Gzip | Format::Bzip2 | Format::Xz | Format::Zstd => {
                self.recompress(format, data, name, prefix, depth)
            }
            _ => {
                let mut out = Writer::new(format, prefix)?;
                let budget = self.budget;
                read_members(format.read_kind(), data, name, budget, prefix, &mut |m| {
                    let put = self.member(m, prefix, depth)?;
                    out.put(put)
                })?;
                out.finish()
            }
        }
    }

    /// A one-member compressed file: its member sanitized (or rebuilt,
    /// `a.tar.gz`), compressed again the same way.
    fn recompress(
        &mut self,
        format: Format,
        data: &[u8],
        name: &str,
        prefix: &str,
        depth: u32,
    ) -> Result<Vec<u8>, SanitizeError> {
        let mut inner: Option<(String, Vec<u8>)> = None;
        let mut count = 0usize;
        let budget = self.budget;
        read_members(format.read_kind(), data, name, budget, prefix, &mut |m| {
            count += 1;
            if count > 1 {
                return Err(fail(format!(
                    "{prefix}the compressed file holds more than one stream"
                )));
            }
            match self.member(m, prefix, depth)? {
                Put::File(n, d) => inner = Some((n, d)),
                Put::Note(n, why) => {
                    return Err(fail(format!("{prefix}{n} could not be sanitized ({why})")));
                }
            }
            Ok(())
        })?;
        let (member, bytes) =
            inner.ok_or_else(|| fail(format!("{prefix}the compressed file is empty")))?;
        compress(format, &member, &bytes)
            .map_err(|e| fail(format!("{prefix}can not compress {member}: {e}")))
    }

    /// Decides what becomes of one member.
    fn member(&mut self, m: Member<'_>, prefix: &str, depth: u32) -> Result<Put, SanitizeError> {
        let name = m.name;
        let path = format!("{prefix}{name}");
        let member = match m.data {
            Ok(d) => d,
            Err(why) => {
                self.tally.add("removed", "unreadable file", path);
                return Ok(Put::Note(name, format!("it could not be read: {why}")));
            }
        };
        if let Some(why) = self.opts.blocked.reason(member) {
            self.tally.add("removed", "blocked file", path);
            return Ok(Put::Note(name, format!("the scan blocked it: {why}")));
        }
        // What takes the member is decided as for a file of its own (an
        // Office package is a zip, but is sanitized as a document).
        let kind = super::kind(member, &name);
        if let Some(format) = format_of(member).filter(|_| kind == Some("archive")) {
            // The member is one level below the archive read; the scan
            // opens a container only above the depth limit.
            let limit = self.opts.limits.depth();
            if depth + 1 >= limit {
                self.tally.add("removed", "file", path);
                return Ok(Put::Note(
                    name,
                    format!("archives nest deeper than the depth limit ({limit})"),
                ));
            }
            return match self.rebuild(format, member, &name, &format!("{path}/"), depth + 1) {
                Ok(d) => Ok(Put::File(renamed(&name, &format.converted_to(&name)), d)),
                // A tree-wide limit stops the whole copy, not one member.
                Err(e) if self.budget.check().is_err() => Err(e),
                Err(e) => {
                    self.tally.add("removed", "file", path);
                    Ok(Put::Note(name, e.to_string()))
                }
            };
        }
        if kind.is_none() {
            // A container mdscan opens but neither rebuilds nor sanitizes
            // (a disc image, a mail, an ODF or JAR package...) could carry
            // anything: it is left out, never passed through. Text is read
            // for encoded blocks but passes as text.
            let ft = crate::detect::detect(member);
            if ft.kind.is_container() && ft.kind != Kind::Text {
                self.tally.add("removed", "file", path);
                return Ok(Put::Note(
                    name,
                    format!("{} can not be rebuilt", ft.description),
                ));
            }
            return Ok(Put::File(name, member.to_vec()));
        }
        match super::sanitize(member, &name, self.opts) {
            Ok(s) => {
                for d in &s.details {
                    self.tally.add_many(d, &path);
                }
                Ok(Put::File(renamed(&name, &s.converted_to), s.data))
            }
            Err(e) => {
                self.tally.add("removed", "file", path);
                Ok(Put::Note(name, e.to_string()))
            }
        }
    }
}

impl Format {
    /// The registry type whose extractor reads this format.
    fn read_kind(self) -> Kind {
        match self {
            Format::AsZip(k) => k,
            f => f.kind(),
        }
    }
}

/// Reads the members of an archive of `kind` with the walker's reading of
/// one container, against the tree's budget (no passwords: an encrypted
/// member is one that can not be read).
fn read_members(
    kind: Kind,
    data: &[u8],
    name: &str,
    budget: &Budget,
    prefix: &str,
    f: &mut dyn FnMut(Member<'_>) -> Result<(), SanitizeError>,
) -> Result<(), SanitizeError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cx = Cx::new(budget, &[], base, crate::detect::identify);
    // A tree-wide limit reached (a member cut at the byte limit, the
    // clock) stops the whole copy, not one member.
    let stopped = |stop| {
        fail(format!(
            "the archive was not sanitized: {}",
            Issue::stopped(stop).note
        ))
    };
    let mut failure: Option<SanitizeError> = None;
    let mut index = 0usize;
    let read = crate::formats::each_member(kind, data, &cx, &mut |c: Child| {
        if let Err(stop) = budget.check() {
            failure = Some(stopped(stop));
            return Flow::Stop;
        }
        let data = match (&c.data, &c.issue) {
            (Some(d), None) => Ok(d.as_slice()),
            (_, Some(issue)) => Err(issue.note.clone()),
            (None, None) => Err("nothing could be decoded".to_string()),
        };
        index += 1;
        let member = Member {
            name: clean_name(&c.name, index),
            data,
        };
        match f(member) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                failure = Some(e);
                Flow::Stop
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    budget.check().map_err(stopped)?;
    read.map_err(|issue| {
        fail(format!(
            "{prefix}the archive could not be read whole: {}",
            issue.note
        ))
    })
}

/// The copy being written.
enum Out {
    Zip(Box<zip::ZipWriter<Cursor<Vec<u8>>>>),
    Tar(tar::Builder<Vec<u8>>),
    SevenZip(Box<sevenz_rust2::ArchiveWriter<Cursor<Vec<u8>>>>),
}

/// An `Out` with the names it holds and the prefix of its errors.
struct Writer {
    out: Out,
    names: HashSet<String>,
    prefix: String,
}

impl Writer {
    fn new(format: Format, prefix: &str) -> Result<Writer, SanitizeError> {
        let out = match format {
            Format::Tar => Out::Tar(tar::Builder::new(Vec::new())),
            Format::SevenZip => Out::SevenZip(Box::new(
                sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new()))
                    .map_err(|e| fail(format!("{prefix}can not start the archive: {e}")))?,
            )),
            _ => Out::Zip(Box::new(zip::ZipWriter::new(Cursor::new(Vec::new())))),
        };
        Ok(Writer {
            out,
            names: HashSet::new(),
            prefix: prefix.to_string(),
        })
    }

    fn put(&mut self, put: Put) -> Result<(), SanitizeError> {
        match put {
            Put::File(name, data) => {
                let name = unique(&mut self.names, &name);
                self.file(&name, &data)
            }
            Put::Note(name, why) => {
                let note_name = unique(
                    &mut self.names,
                    &format!("{}.txt", name.trim_end_matches('/')),
                );
                // Names and reasons quote the attacker's bytes: escaped, so
                // the note never reads as another format (a name holding
                // `%PDF-` would make it a PDF to the next reader).
                let text = format!(
                    "mdscan removed {} from this archive: it could not be sanitized ({}).\r\n",
                    plain(&name),
                    plain(&why)
                );
                self.file(&note_name, text.as_bytes())
            }
        }
    }

    fn file(&mut self, name: &str, data: &[u8]) -> Result<(), SanitizeError> {
        let written: std::io::Result<()> = match &mut self.out {
            Out::Zip(w) => w
                .start_file(name, zip_options())
                .map_err(std::io::Error::other)
                .and_then(|()| w.write_all(data)),
            Out::Tar(b) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_mtime(0);
                b.append_data(&mut h, name, data)
            }
            Out::SevenZip(w) => w
                .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(data))
                .map(|_| ())
                .map_err(std::io::Error::other),
        };
        written.map_err(|e| fail(format!("{}can not write {name}: {e}", self.prefix)))
    }

    fn finish(mut self) -> Result<Vec<u8>, SanitizeError> {
        if self.names.is_empty()
            && let Out::Tar(b) = &mut self.out
        {
            // A tar with no file (only directories, links...) would be
            // written as its end blocks alone, zeros no reader takes for a
            // tar: the copy holds its top directory, so it stays a tar
            // (and sanitizes again).
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o755);
            h.set_mtime(0);
            b.append_data(&mut h, "./", std::io::empty())
                .map_err(|e| fail(format!("{}can not write ./: {e}", self.prefix)))?;
        }
        let done: std::io::Result<Vec<u8>> = match self.out {
            Out::Zip(w) => w
                .finish()
                .map(Cursor::into_inner)
                .map_err(std::io::Error::other),
            Out::Tar(b) => b.into_inner(),
            Out::SevenZip(w) => w.finish().map(Cursor::into_inner),
        };
        done.map_err(|e| fail(format!("{}can not finish the archive: {e}", self.prefix)))
    }
}

fn zip_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
}

/// `data` compressed as `format` (a one-member format), the member named
/// `member` where the format keeps a name (gzip).
fn compress(format: Format, member: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match format {
        Format::Gzip => {
            let base = member.rsplit('/').next().unwrap_or(member);
            let mut e = flate2::GzBuilder::new()
                .filename(base.as_bytes())
                .mtime(0)
                .write(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Format::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Format::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data)?;
            e.finish()
        }
        Format::Zstd => zstd::stream::encode_all(data, 3),
        _ => Err(std::io::Error::other("not a one-member format")),
    }
}

/// Bytes of one path component written back (what file systems allow).
const MAX_COMPONENT: usize = 255;
/// Components of one member path written back.
const MAX_COMPONENTS: usize = 32;

/// A member name as written back: relative, `/`-separated, without `..`
/// or empty parts, each part at most 255 bytes, and without control
/// characters or the characters Windows refuses in names (`%` too). The
/// names stand near the start of the copy (a zip's first local header),
/// where Acrobat looks for `%PDF-` and browsers sniff markup: a name must
/// not make the copy read as another format.
fn clean_name(name: &str, i: usize) -> String {
    let parts: Vec<String> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .take(MAX_COMPONENTS)
        .map(|p| {
            let mut part = String::new();
            for c in p.chars() {
                let c = if c.is_control() || "%<>:\"|?*".contains(c) {
                    '_'
                } else {
                    c
                };
                if part.len() + c.len_utf8() > MAX_COMPONENT {
                    break;
                }
                part.push(c);
            }
            part
        })
        .collect();
    let out = parts.join("/");
    if out.is_empty() || out == "[unnamed]" {
        format!("member-{i}")
    } else {
        out
    }
}

/// `text` with everything but letters, digits and plain punctuation
/// escaped (`%` becomes `\x25`), at most 300 characters of it.
fn plain(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(300) {
        if c.is_ascii_alphanumeric() || " ._-/(),:'`".contains(c) {
            out.push(c);
        } else if c.is_ascii() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    if text.chars().count() > 300 {
        out.push_str("...");
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_quoting_a_hostile_name_is_still_plain_text() {
        let quoted = plain("a/%PDF-1.7 <script>\u{7}é.pdf");
        assert_eq!(quoted, "a/\\x25PDF-1.7 \\x3cscript\\x3e\\x07\\u{e9}.pdf");
        assert!(plain(&"x".repeat(400)).ends_with("..."));
        // A rebuilt archive whose note quotes such a name sanitizes again.
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("%PDF-1.7 1 0 obj.pdf", zip_options()).unwrap();
        w.write_all(b"not a pdf").unwrap();
        w.start_file("%PDF-1.7 <html> kept.bin", zip_options())
            .unwrap();
        w.write_all(b"kept").unwrap();
        let zip = w.finish().unwrap().into_inner();
        let opts = SanitizeOptions::new();
        let first = sanitize(&zip, "a.zip", &opts).unwrap();
        assert!(!first.data.windows(5).any(|w| w == b"%PDF-"));
        let again = sanitize(&first.data, "a.zip", &opts).unwrap();
        assert!(again.details.is_empty(), "{:?}", again.details);
        let names: Vec<String> = zip::ZipArchive::new(Cursor::new(first.data))
            .unwrap()
            .file_names()
            .map(|n| n.unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["_PDF-1.7 1 0 obj.pdf.txt", "_PDF-1.7 _html_ kept.bin"]
        );
        assert_eq!(clean_name(&"x".repeat(300), 0).len(), 255);
        assert_eq!(clean_name("a\\..\\b:c\u{7}", 0), "a/b_c_");
    }

    #[test]
    fn a_tar_of_directories_only_is_rebuilt_as_a_tar_that_sanitizes_again() {
        // Found by fuzzing (sanitize): its copy was the end blocks alone,
        // zeros that no longer read as a tar.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h, "d/", std::io::empty()).unwrap();
        let tar = b.into_inner().unwrap();
        let opts = SanitizeOptions::new();
        let first = sanitize(&tar, "a.tar", &opts).unwrap();
        assert_eq!(format_of(&first.data), Some(Format::Tar));
        let again = sanitize(&first.data, "a.tar", &opts).unwrap();
        assert_eq!(again.data, first.data);
    }

    #[test]
    fn an_archive_with_no_member_is_rebuilt_as_an_empty_zip_that_sanitizes_again() {
        // Found by fuzzing (sanitize): a cabinet with no file became an
        // empty zip, which the rebuild then did not take for a zip.
        let empty = zip::ZipWriter::new(Cursor::new(Vec::new()))
            .finish()
            .unwrap()
            .into_inner();
        let opts = SanitizeOptions::new();
        let first = sanitize(&empty, "a.zip", &opts).unwrap();
        assert!(crate::extract::zip::is_empty(&first.data));
        let again = sanitize(&first.data, "a.zip", &opts).unwrap();
        assert_eq!(again.data, first.data);
        assert!(!crate::extract::zip::is_empty(
            b"PK\x05\x06\0\0\0\0\x01\0\x01\0\0\0\0\0\0\0\0\0\0\0"
        ));
    }
}
