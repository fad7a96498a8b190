//! Content disarm and reconstruction: a copy of a document with its active
//! content removed — macros, ActiveX controls, embedded objects, DDE
//! fields, links that fetch on open — that still opens with the same text,
//! images and structure.
//!
//! A sanitizer rebuilds its format from what it read; it never patches the
//! original in place, so bytes it did not understand do not reach the copy.
//! What it can not rebuild is an error ([`SanitizeError`]), never the
//! original passed through.
//!
//! | format | what is removed |
//! |---|---|
//! | RTF | OLE objects (replaced by their result picture), object data and data stores anywhere, DDE/DDEAUTO and INCLUDETEXT/INCLUDEPICTURE/IMPORT fields (replaced by their shown result), bytes after the document |
//! | PDF | JavaScript (`/JS`, the JavaScript name tree), `/OpenAction`, `/AA`, actions that run, open, fetch or play (Launch, SubmitForm, ImportData, GoToR, GoToE, RichMedia, Rendition, ...) wherever they are, multimedia annotations, XFA forms, embedded files (unless kept), and every object the catalog no longer reaches; written anew, unencrypted |
//! | PNG, JPEG, GIF, BMP, TIFF, WebP | decoded and encoded again in the same format: metadata (EXIF, XMP, ICC, text chunks, comments) and trailing bytes gone; animated GIFs keep their frames |
//! | SVG | scripts, foreign objects and frames, event handlers, script URLs and references outside the file, animations that set them, styles that fetch, processing instructions; entity declarations fail |
//! | HTML | scripts, frames, embedded objects, `base`, `link`, meta refresh, event handlers, links that run script, resources fetched from outside the file, styles that fetch; navigation links stay |
//! | zip, tar, 7z, gzip, bzip2, xz, Zstandard (same format); RAR, cabinet, LZH, ARJ, cpio, ALZip (as zip) | rebuilt from their members: members with a sanitizer sanitized (and renamed when their type changes), nested archives rebuilt, members the scan blocked ([`Blocked`]) or that can not be read or sanitized replaced by a text file saying why |
//! | Word and Excel 97-2003 (compound files) | VBA projects (the `Macros` and `_VBA_PROJECT_CUR` storages, any storage with a VBA `dir`); Excel 4.0 macro sheets and VBA module sheets emptied into blank worksheets (BIFF8; an Excel 5/95 workbook with them fails), macro flags of defined names cleared |
//! | Office Open XML (docx/docm, xlsx/xlsm, pptx/pptm and their templates) | VBA projects and their signatures, Excel 4.0 macro sheets, ActiveX controls, embedded OLE objects and packages (their pictures stay), custom UI (ribbon callbacks), external relationships other than hyperlinks (remote templates, linked images, frames, external workbooks and DDE links), DDE/DDEAUTO fields and fields whose command is computed, DDE formulas |

use serde::{Deserialize, Serialize};

use crate::Limits;

// What a sanitization came to is a field of the report; its types live
// there and are named here too, where callers look for them.
pub use crate::report::{Detail, MAX_OBJECT_DETAILS, Record, post_processing};

mod archive;
mod html;
mod image;
mod ole;
mod ooxml;
mod pdf;
mod rtf;
mod svg;
mod xls;
mod xml;

/// What to remove beyond the active content that is always removed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SanitizeOptions {
    /// Remove files embedded in documents (PDF attachments and their
    /// annotations). Default: on.
    pub remove_embedded_files: bool,
    /// Members the scan blocked: a rebuilt archive leaves them out.
    pub blocked: Blocked,
    /// The limits a rebuilt archive is read under, as a scan is: bytes
    /// decoded, objects, depth and time for the whole tree. Default:
    /// [`Limits::default`]; a workflow passes its own.
    pub limits: Limits,
}

impl Default for SanitizeOptions {
    fn default() -> Self {
        SanitizeOptions {
            remove_embedded_files: true,
            blocked: Blocked::default(),
            limits: Limits::default(),
        }
    }
}

impl SanitizeOptions {
    /// The defaults: every kind of active content a sanitizer knows is
    /// removed, embedded files too.
    pub fn new() -> SanitizeOptions {
        SanitizeOptions::default()
    }

    /// Keeps (`false`) or removes (`true`) embedded files.
    pub fn remove_embedded_files(mut self, yes: bool) -> SanitizeOptions {
        self.remove_embedded_files = yes;
        self
    }

    /// The members a rebuilt archive leaves out (a text file in their place
    /// says why).
    pub fn blocked(mut self, blocked: Blocked) -> SanitizeOptions {
        self.blocked = blocked;
        self
    }

    /// The limits archives are rebuilt under.
    pub fn limits(mut self, limits: Limits) -> SanitizeOptions {
        self.limits = limits;
        self
    }
}

/// Objects the scan blocked, by SHA-256, with why: a rebuilt archive
/// replaces a member with these bytes by a text file saying why, wherever
/// in the tree it is. Built from the scan's report
/// ([`Blocked::from_report`]) or by hand.
#[derive(Clone, Debug, Default)]
pub struct Blocked(std::sync::Arc<std::collections::HashMap<[u8; 32], String>>);

impl Blocked {
    /// None blocked.
    pub fn new() -> Blocked {
        Blocked::default()
    }

    /// Adds the object with this SHA-256 (hex); `false` when `sha256` is
    /// not 64 hex digits.
    pub fn insert(&mut self, sha256: &str, why: impl Into<String>) -> bool {
        let Some(key) = parse_sha256(sha256) else {
            return false;
        };
        std::sync::Arc::make_mut(&mut self.0).insert(key, why.into());
        true
    }

    /// The objects below the root of `report` whose own result `blocks`
    /// (a workflow's block list; [`crate::ResultCode::blocks_by_default`]
    /// for mdscan's default). An object blocked only for what it holds is
    /// not listed: the rebuild goes inside it instead.
    pub fn from_report(
        report: &crate::Report,
        blocks: impl Fn(crate::ResultCode) -> bool,
    ) -> Blocked {
        fn walk(
            node: &crate::report::Node,
            blocks: &dyn Fn(crate::ResultCode) -> bool,
            out: &mut Blocked,
        ) {
            for child in &node.children {
                if blocks(child.own_result_i) {
                    let threats: Vec<&str> = child
                        .scan_details
                        .values()
                        .map(|d| d.threat_found.as_str())
                        .filter(|t| !t.is_empty())
                        .collect();
                    let why = if threats.is_empty() {
                        child.own_result_i.to_string()
                    } else {
                        format!("{} ({})", child.own_result_i, threats.join(", "))
                    };
                    out.insert(&child.sha256, why);
                }
                walk(child, blocks, out);
            }
        }
        let mut out = Blocked::default();
        walk(&report.root, &blocks, &mut out);
        out
    }

    /// How many objects are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Why `data` is blocked, when it is.
    pub(crate) fn reason(&self, data: &[u8]) -> Option<&str> {
        if self.0.is_empty() {
            return None;
        }
        use sha2::Digest as _;
        let key: [u8; 32] = sha2::Sha256::digest(data).into();
        self.0.get(&key).map(String::as_str)
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// A sanitized copy.
#[derive(Clone, Debug)]
pub struct Sanitized {
    /// The copy's bytes.
    pub data: Vec<u8>,
    /// The copy's file type as an extension (`docx` for a sanitized
    /// `docm`): MetaDefender's `converted_to`.
    pub converted_to: String,
    /// What was acted on; empty when there was nothing to remove (the copy
    /// is still rebuilt).
    pub details: Vec<Detail>,
}

/// Why no sanitized copy was made.
#[derive(Debug, thiserror::Error)]
pub enum SanitizeError {
    /// There is no sanitizer for this file type.
    #[error("no sanitizer for this file type ({0})")]
    Unsupported(String),
    /// The file is of a sanitized type but could not be rebuilt.
    #[error("{0}")]
    Failed(String),
}

/// Office Open XML extensions: a file named so is sanitized as a package
/// even when it does not read as one, so a damaged one fails instead of
/// being called a type without a sanitizer.
const OOXML_EXTENSIONS: &[&str] = &[
    "docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "xltx", "xltm", "xlam", "pptx", "pptm", "potx",
    "potm", "ppsx", "ppsm", "ppam",
];

/// The same for Word and Excel 97-2003 (a `.doc` that is HTML or text,
/// which Word opens, fails rather than passes).
const LEGACY_EXTENSIONS: &[&str] = &["doc", "dot", "xls", "xlt"];

/// The sanitizers, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sanitizer {
    Ooxml,
    Ole,
    Rtf,
    Pdf,
    Archive,
    Image,
    Svg,
    Html,
}

/// Which sanitizer takes `data`: decided by the content; `name`'s
/// extension only sends a damaged document of a sanitized type to its
/// sanitizer (to fail there).
fn sanitizer(data: &[u8], name: &str) -> Option<Sanitizer> {
    let ext = extension(name);
    Some(if ooxml::is_package(data) {
        Sanitizer::Ooxml
    } else if ole::is_legacy_office(data) {
        Sanitizer::Ole
    } else if rtf::is_rtf(data) {
        Sanitizer::Rtf
    } else if pdf::is_pdf(data) || ext == "pdf" {
        Sanitizer::Pdf
    } else if archive::format_of(data).is_some() {
        Sanitizer::Archive
    } else if svg::is_svg(data) || ext == "svg" {
        Sanitizer::Svg
    } else if html::is_html(data) || matches!(ext.as_str(), "html" | "htm" | "xhtml") {
        Sanitizer::Html
    } else if image::format_of(data).is_some() || image::EXTENSIONS.contains(&ext.as_str()) {
        Sanitizer::Image
    } else if OOXML_EXTENSIONS.contains(&ext.as_str()) {
        Sanitizer::Ooxml
    } else if LEGACY_EXTENSIONS.contains(&ext.as_str()) {
        Sanitizer::Ole
    } else {
        return None;
    })
}

/// Builds the sanitized copy of `data`. The type is decided by the content;
/// `name`'s extension only makes a damaged document of a sanitized type
/// fail rather than count as unsupported.
pub fn sanitize(
    data: &[u8],
    name: &str,
    opts: &SanitizeOptions,
) -> Result<Sanitized, SanitizeError> {
    match sanitizer(data, name) {
        Some(Sanitizer::Ooxml) => ooxml::sanitize(data),
        Some(Sanitizer::Ole) => ole::sanitize(data),
        Some(Sanitizer::Rtf) => rtf::sanitize(data),
        Some(Sanitizer::Pdf) => pdf::sanitize(data, opts),
        Some(Sanitizer::Archive) => archive::sanitize(data, name, opts),
        Some(Sanitizer::Image) => image::sanitize(data, name),
        Some(Sanitizer::Svg) => svg::sanitize(data),
        Some(Sanitizer::Html) => html::sanitize(data),
        None => Err(SanitizeError::Unsupported(
            crate::detect::detect(data).description.into_owned(),
        )),
    }
}

/// The kind of sanitizer that takes `data`, when there is one: `office`,
/// `rtf`, `pdf`, `archive`, `image`, `svg` or `html` (what [`sanitize`]
/// would dispatch on).
pub fn kind(data: &[u8], name: &str) -> Option<&'static str> {
    Some(match sanitizer(data, name)? {
        Sanitizer::Ooxml | Sanitizer::Ole => "office",
        Sanitizer::Rtf => "rtf",
        Sanitizer::Pdf => "pdf",
        Sanitizer::Archive => "archive",
        Sanitizer::Image => "image",
        Sanitizer::Svg => "svg",
        Sanitizer::Html => "html",
    })
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A workflow's sanitization: whether it runs, on which files, and what a
/// failure does. Serializable, so a cluster task carries it to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Sanitization on or off. Default: off.
    pub enabled: bool,
    /// The files sanitized: sanitizer kinds (`office`, `pdf`, `rtf`,
    /// `archive`, `image`, `svg`, `html`) or
    /// extensions (`docx`, `pdf`, `png`, matched against both the name and
    /// the detected type). Empty: every file a sanitizer takes. A listed
    /// type with no sanitizer yet is a failure, never a silent pass.
    pub file_types: Vec<String>,
    /// A file that should have been sanitized and was not is blocked
    /// (`true`, the default) or passes unsanitized with a note.
    pub block_on_failure: bool,
    /// Remove embedded files from documents. Default: on.
    pub remove_embedded_files: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: false,
            file_types: Vec::new(),
            block_on_failure: true,
            remove_embedded_files: true,
        }
    }
}

impl Policy {
    /// Whether this policy sanitizes `data` (named `name`).
    pub fn applies(&self, data: &[u8], name: &str) -> bool {
        if !self.enabled {
            return false;
        }
        let kind = kind(data, name);
        if self.file_types.is_empty() {
            return kind.is_some();
        }
        let ext = extension(name);
        let detected = crate::detect::detect(data).kind.extensions();
        self.file_types.iter().any(|t| {
            let t = t.trim().trim_start_matches('.').to_ascii_lowercase();
            kind == Some(t.as_str()) || t == ext || detected.contains(&t.as_str())
        })
    }

    /// Sanitizes `data` if this policy applies to it: `None` when it does
    /// not, else the record for the report and the copy (none when it
    /// failed).
    pub fn apply(&self, data: &[u8], name: &str) -> Option<(Record, Option<Vec<u8>>)> {
        self.apply_blocking(data, name, &Blocked::default(), &Limits::default())
    }

    /// [`Policy::apply`], archive members in `blocked` left out, archives
    /// read under `limits`.
    pub fn apply_blocking(
        &self,
        data: &[u8],
        name: &str,
        blocked: &Blocked,
        limits: &Limits,
    ) -> Option<(Record, Option<Vec<u8>>)> {
        if !self.applies(data, name) {
            return None;
        }
        let opts = SanitizeOptions::new()
            .remove_embedded_files(self.remove_embedded_files)
            .blocked(blocked.clone())
            .limits(limits.clone());
        Some(match sanitize(data, name, &opts) {
            Ok(s) => (Record::of(&s), Some(s.data)),
            Err(e) => (Record::failed(e.to_string()), None),
        })
    }
}

impl Policy {
    /// Sanitizes the file at `path` if this policy applies to it (archive
    /// members in `blocked`, what the file's own scan blocked, left out;
    /// archives read under `limits`):
    /// the copy is scanned by `rescan` (given the copy and its name; the verdict is
    /// kept in the record, so a copy that still blocks is never served)
    /// and handed with its SHA-256 to `keep`, which stores it. Returns the
    /// record for the report; `None` when the policy does not apply. A
    /// file that can not be read, or a copy `keep` fails to store, is a
    /// failed sanitization.
    pub fn apply_path(
        &self,
        path: &std::path::Path,
        name: &str,
        blocked: &Blocked,
        limits: &Limits,
        rescan: impl FnOnce(&[u8], &str) -> crate::ResultCode,
        keep: impl FnOnce(&[u8], &str) -> Result<(), String>,
    ) -> Option<Record> {
        if !self.enabled {
            return None;
        }
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => return Some(Record::failed(format!("the file could not be read: {e}"))),
        };
        let (mut record, copy) = self.apply_blocking(&data, name, blocked, limits)?;
        drop(data);
        let Some(copy) = copy else {
            return Some(record);
        };
        let copy_name = copy_name(name, &record.converted_to);
        record.copy_result = Some(rescan(&copy, &copy_name));
        match keep(&copy, &record.sha256) {
            Ok(()) => Some(record),
            Err(e) => Some(Record::failed(format!(
                "the sanitized copy could not be stored: {e}"
            ))),
        }
    }
}

/// The name a sanitized copy goes by: the last part of `name` with the
/// copy's extension (`in/report.docm` -> `report.docx`).
pub fn copy_name(name: &str, converted_to: &str) -> String {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .filter(|b| !b.is_empty())
        .unwrap_or("file");
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    format!("{stem}.{converted_to}")
}

impl Record {
    /// The record of a copy made.
    pub fn of(s: &Sanitized) -> Record {
        use sha2::Digest as _;
        let sha = sha2::Sha256::digest(&s.data);
        Record {
            converted_to: s.converted_to.clone(),
            sha256: crate::digest::hex(&sha),
            size: s.data.len() as u64,
            details: s.details.clone(),
            failure: None,
            copy_result: None,
        }
    }
}

/// Counts objects acted on, by action and kind, in the order first seen.
#[derive(Debug, Default)]
pub(crate) struct Tally(Vec<Detail>);

impl Tally {
    /// The entry for this action and kind, made when first seen.
    fn entry(&mut self, action: &str, object: &str) -> Option<&mut Detail> {
        let i = match self
            .0
            .iter()
            .position(|d| d.action == action && d.object_name == object)
        {
            Some(i) => i,
            None => {
                self.0.push(Detail {
                    action: action.into(),
                    object_name: object.into(),
                    count: 0,
                    object_details: Vec::new(),
                });
                self.0.len() - 1
            }
        };
        self.0.get_mut(i)
    }

    pub(crate) fn add(&mut self, action: &str, object: &str, what: impl Into<String>) {
        if let Some(d) = self.entry(action, object) {
            d.count = d.count.saturating_add(1);
            let what = what.into();
            if d.object_details.len() < MAX_OBJECT_DETAILS && !what.is_empty() {
                d.object_details.push(what);
            }
        }
    }

    /// Adds what was done inside the member at `path` of an archive.
    pub(crate) fn add_many(&mut self, d: &Detail, path: &str) {
        let Some(t) = self.entry(&d.action, &d.object_name) else {
            return;
        };
        t.count = t.count.saturating_add(d.count);
        let whats: Vec<String> = if d.object_details.is_empty() {
            vec![path.to_string()]
        } else {
            d.object_details
                .iter()
                .map(|w| format!("{path}: {w}"))
                .collect()
        };
        for w in whats {
            if t.object_details.len() < MAX_OBJECT_DETAILS {
                t.object_details.push(w);
            }
        }
    }

    pub(crate) fn into_details(self) -> Vec<Detail> {
        self.0
    }
}
