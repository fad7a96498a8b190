//! Engines: one trait, several implementations — hash lists, YARA-X,
//! ClamAV's signature databases ([`clamav`]) and the vulnerability
//! assessment ([`vuln`]).
//!
//! An engine looks at one object at a time — archives and each of their
//! members alike — and never looks inside containers itself: the walker
//! hands it every object. Engines must be `Send + Sync`; the walker calls
//! them from many pool threads at once. A detection engine's verdict goes
//! to the object's `scan_details`; an engine of
//! [`EngineKind::Vulnerability`] reports what it found in
//! [`EngineResult::vulnerabilities`], which become the object's
//! vulnerabilities (code 18) instead.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Digests;
use crate::kind::FileType;

pub mod clamav;
pub mod hash;
pub mod vuln;
#[cfg(feature = "yara")]
pub mod yara;

/// What an engine is, as `/stat/engines` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Stable identifier (`eng_id`).
    pub id: String,
    /// Display name (`eng_name`, and the key in `scan_details`).
    pub name: String,
    /// Engine version (`eng_ver`).
    pub version: String,
    /// When its definitions were last updated, ISO 8601 (`def_time`).
    pub def_time: String,
    /// Its category (`engine_type`).
    pub kind: EngineKind,
}

/// Engine categories of MetaDefender's `/stat/engines`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EngineKind {
    /// A detection engine.
    Av,
    /// An archive handler.
    Archive,
    /// File type detection.
    Filetype,
    /// Utility.
    Util,
    /// The vulnerability assessment's feed.
    Vulnerability,
}

/// What an engine sees of one object.
#[derive(Debug)]
pub struct ObjectView<'a> {
    /// The bytes.
    pub data: &'a [u8],
    /// Its digests, computed once by the walker.
    pub digests: &'a Digests,
    /// Its detected type.
    pub file_type: &'a FileType,
    /// Its path from the root, e.g. `a.zip/dir/b.exe`.
    pub display_name: &'a str,
}

/// A single engine's result code: MetaDefender allows only these per engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineCode {
    /// 0.
    NoThreat,
    /// 1.
    Infected,
    /// 2.
    Suspicious,
    /// 3 — the engine failed on this object (error, timeout).
    Failed,
    /// 10.
    NotScanned,
    /// 19.
    Canceled,
    /// 22.
    PotentiallyUnwanted,
    /// 23 — the engine does not handle this type.
    Unsupported,
}

impl EngineCode {
    /// The numeric code (`scan_result_i`).
    pub fn as_i(self) -> u8 {
        match self {
            EngineCode::NoThreat => 0,
            EngineCode::Infected => 1,
            EngineCode::Suspicious => 2,
            EngineCode::Failed => 3,
            EngineCode::NotScanned => 10,
            EngineCode::Canceled => 19,
            EngineCode::PotentiallyUnwanted => 22,
            EngineCode::Unsupported => 23,
        }
    }

    /// The code for a number, if it is one an engine may use.
    pub fn from_i(i: u8) -> Option<EngineCode> {
        [
            EngineCode::NoThreat,
            EngineCode::Infected,
            EngineCode::Suspicious,
            EngineCode::Failed,
            EngineCode::NotScanned,
            EngineCode::Canceled,
            EngineCode::PotentiallyUnwanted,
            EngineCode::Unsupported,
        ]
        .into_iter()
        .find(|c| c.as_i() == i)
    }

    /// The same code on the overall scale.
    pub fn to_result(self) -> crate::ResultCode {
        use crate::ResultCode as R;
        match self {
            EngineCode::NoThreat => R::NoThreat,
            EngineCode::Infected => R::Infected,
            EngineCode::Suspicious => R::Suspicious,
            EngineCode::Failed => R::Failed,
            EngineCode::NotScanned => R::NotScanned,
            EngineCode::Canceled => R::Canceled,
            EngineCode::PotentiallyUnwanted => R::PotentiallyUnwantedProgram,
            EngineCode::Unsupported => R::UnsupportedFileType,
        }
    }

    /// Whether this result flags the object.
    pub fn is_detection(self) -> bool {
        matches!(
            self,
            EngineCode::Infected | EngineCode::Suspicious | EngineCode::PotentiallyUnwanted
        )
    }
}

impl Serialize for EngineCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.as_i())
    }
}

impl<'de> Deserialize<'de> for EngineCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let i = u8::deserialize(d)?;
        EngineCode::from_i(i)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown engine code `{i}`")))
    }
}

/// An allow/block list decision: the object is known, other engines skip it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListVerdict {
    /// Known good: code 7.
    Allow,
    /// Known bad: code 8.
    Block,
}

/// One engine's verdict on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineResult {
    /// The code.
    pub code: EngineCode,
    /// Names of what was found, empty when nothing was.
    pub threats: Vec<String>,
    /// Set by list engines when the object is on a list; the walker then
    /// skips the remaining engines and does not extract the object.
    pub list: Option<ListVerdict>,
    /// Why the engine failed, for [`EngineCode::Failed`].
    pub error: Option<String>,
    /// The engine stopped because its time ran out: the engine's own code is
    /// [`EngineCode::Failed`] (an engine may not report 16), and the object
    /// gets 16 (Exceeded Archive Timeout).
    pub timed_out: bool,
    /// Vulnerable software found (engines of [`EngineKind::Vulnerability`]).
    pub vulnerabilities: Vec<vuln::Finding>,
}

impl EngineResult {
    /// Nothing found.
    pub fn clean() -> Self {
        EngineResult {
            code: EngineCode::NoThreat,
            threats: Vec::new(),
            list: None,
            error: None,
            timed_out: false,
            vulnerabilities: Vec::new(),
        }
    }

    /// The engine failed on this object.
    pub fn failed(why: impl Into<String>) -> Self {
        EngineResult {
            code: EngineCode::Failed,
            threats: Vec::new(),
            list: None,
            error: Some(why.into()),
            timed_out: false,
            vulnerabilities: Vec::new(),
        }
    }

    /// The engine ran out of time on this object (the object gets code 16).
    pub fn timed_out(why: impl Into<String>) -> Self {
        EngineResult {
            timed_out: true,
            ..EngineResult::failed(why)
        }
    }
}

/// A detection engine.
///
/// Implementations are called concurrently from pool threads; `scan` must not
/// panic (the walker contains a panic as a failure of this engine on this
/// object, but a panic is still a bug).
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// Identity and definitions.
    fn info(&self) -> &EngineInfo;

    /// Examines one object. `timeout` is what is left of the scan's time
    /// budget; an engine that can stop early should.
    fn scan(&self, object: &ObjectView<'_>, timeout: Duration) -> EngineResult;
}
