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
//! | Office Open XML (docx/docm, xlsx/xlsm, pptx/pptm and their templates) | VBA projects and their signatures, Excel 4.0 macro sheets, ActiveX controls, embedded OLE objects and packages (their pictures stay), custom UI (ribbon callbacks), external relationships other than hyperlinks (remote templates, linked images, frames, external workbooks and DDE links), DDE/DDEAUTO fields and fields whose command is computed, DDE formulas |

use serde::Serialize;

mod ooxml;
mod rtf;

/// What to remove beyond the active content that is always removed.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SanitizeOptions {}

impl SanitizeOptions {
    /// The defaults: every kind of active content a sanitizer knows is removed.
    pub fn new() -> SanitizeOptions {
        SanitizeOptions::default()
    }
}

/// One kind of object acted on, in MetaDefender's `sanitization_details`
/// form: `{"action": "removed", "object_name": "macro", "count": 1,
/// "object_details": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// `removed` or `sanitized`.
    pub action: String,
    /// The kind of object (`macro`, `ActiveX`, `OLE`, `DDE`, ...).
    pub object_name: String,
    /// How many were acted on.
    pub count: u32,
    /// What each one was (part names, link targets), at most
    /// [`MAX_OBJECT_DETAILS`] of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub object_details: Vec<String>,
}

/// Object details kept per [`Detail`].
pub const MAX_OBJECT_DETAILS: usize = 50;

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

impl Sanitized {
    /// MetaDefender's `sanitization_details` object.
    pub fn details_json(&self) -> serde_json::Value {
        serde_json::json!({
            "description": "Sanitized successfully.",
            "details": self.details,
        })
    }
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

/// Builds the sanitized copy of `data`. The type is decided by the content;
/// `name`'s extension only makes a damaged document of a sanitized type
/// fail rather than count as unsupported.
pub fn sanitize(
    data: &[u8],
    name: &str,
    _opts: &SanitizeOptions,
) -> Result<Sanitized, SanitizeError> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if ooxml::is_package(data) {
        return ooxml::sanitize(data);
    }
    if rtf::is_rtf(data) {
        return rtf::sanitize(data);
    }
    if OOXML_EXTENSIONS.contains(&ext.as_str()) {
        return ooxml::sanitize(data);
    }
    let ft = crate::detect::detect(data);
    Err(SanitizeError::Unsupported(ft.description.into_owned()))
}

/// Counts objects acted on, by action and kind, in the order first seen.
#[derive(Debug, Default)]
pub(crate) struct Tally(Vec<Detail>);

impl Tally {
    pub(crate) fn add(&mut self, action: &str, object: &str, what: impl Into<String>) {
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
        if let Some(d) = self.0.get_mut(i) {
            d.count = d.count.saturating_add(1);
            let what = what.into();
            if d.object_details.len() < MAX_OBJECT_DETAILS && !what.is_empty() {
                d.object_details.push(what);
            }
        }
    }

    pub(crate) fn into_details(self) -> Vec<Detail> {
        self.0
    }
}
