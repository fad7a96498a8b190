//! Result codes and their roll-up: pure functions, no I/O.
//!
//! The codes and their strings are those of MetaDefender Core
//! (`scan_all_result_i` / `scan_all_result_a`); clients compare the strings
//! verbatim, so they must not change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A per-object or overall result code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResultCode {
    /// 0 — examined, nothing found.
    NoThreat,
    /// 1 — an engine found a threat.
    Infected,
    /// 2 — an engine found something suspicious.
    Suspicious,
    /// 3 — the object could not be examined (corrupt, engine error).
    Failed,
    /// 4 — legacy.
    CleanedDeleted,
    /// 7 — on an allow list; not examined further.
    Allowlisted,
    /// 8 — on a block list; not examined further.
    Blocklisted,
    /// 9 — nested deeper than the depth limit.
    ExceededArchiveDepth,
    /// 10 — no engine examined the object.
    NotScanned,
    /// 12 — encrypted, and no supplied password opened it.
    EncryptedArchive,
    /// 13 — total size, object size or expansion ratio limit.
    ExceededArchiveSize,
    /// 14 — object count limit.
    ExceededArchiveFileNumber,
    /// 15 — a password-protected document.
    PasswordProtectedDocument,
    /// 16 — time limit.
    ExceededArchiveTimeout,
    /// 17 — the name's extension contradicts the content.
    FileTypeMismatch,
    /// 18 — potentially vulnerable file.
    PotentiallyVulnerableFile,
    /// 19 — the scan was cancelled.
    Canceled,
    /// 20 — sensitive data found.
    SensitiveDataFound,
    /// 21 — a YARA rule matched (reported by products that keep YARA apart).
    YaraRuleMatched,
    /// 22 — potentially unwanted program.
    PotentiallyUnwantedProgram,
    /// 23 — a format or method mdscan does not support.
    UnsupportedFileType,
    /// 255 — still running.
    InProgress,
}

/// Roll-up precedence, worst first. The overall code of a node is the first
/// code of this list found on the node itself or anywhere below it.
///
/// Detections come first (an infected member makes its archive infected), then
/// the reasons an object was not fully examined (so "not examined" is never
/// hidden behind a clean sibling), then informational codes, and clean last;
/// allow-listed ranks below clean so that one allow-listed member does not make
/// its whole archive "allow-listed".
pub const PRECEDENCE: &[ResultCode] = &[
    ResultCode::Infected,
    ResultCode::Blocklisted,
    ResultCode::Suspicious,
    ResultCode::PotentiallyUnwantedProgram,
    ResultCode::YaraRuleMatched,
    ResultCode::PotentiallyVulnerableFile,
    ResultCode::SensitiveDataFound,
    ResultCode::EncryptedArchive,
    ResultCode::PasswordProtectedDocument,
    ResultCode::ExceededArchiveDepth,
    ResultCode::ExceededArchiveSize,
    ResultCode::ExceededArchiveFileNumber,
    ResultCode::ExceededArchiveTimeout,
    ResultCode::Failed,
    ResultCode::Canceled,
    ResultCode::UnsupportedFileType,
    ResultCode::NotScanned,
    ResultCode::FileTypeMismatch,
    ResultCode::CleanedDeleted,
    ResultCode::InProgress,
    ResultCode::NoThreat,
    ResultCode::Allowlisted,
];

impl ResultCode {
    /// The numeric code (`scan_all_result_i`).
    pub fn as_i(self) -> u8 {
        match self {
            ResultCode::NoThreat => 0,
            ResultCode::Infected => 1,
            ResultCode::Suspicious => 2,
            ResultCode::Failed => 3,
            ResultCode::CleanedDeleted => 4,
            ResultCode::Allowlisted => 7,
            ResultCode::Blocklisted => 8,
            ResultCode::ExceededArchiveDepth => 9,
            ResultCode::NotScanned => 10,
            ResultCode::EncryptedArchive => 12,
            ResultCode::ExceededArchiveSize => 13,
            ResultCode::ExceededArchiveFileNumber => 14,
            ResultCode::PasswordProtectedDocument => 15,
            ResultCode::ExceededArchiveTimeout => 16,
            ResultCode::FileTypeMismatch => 17,
            ResultCode::PotentiallyVulnerableFile => 18,
            ResultCode::Canceled => 19,
            ResultCode::SensitiveDataFound => 20,
            ResultCode::YaraRuleMatched => 21,
            ResultCode::PotentiallyUnwantedProgram => 22,
            ResultCode::UnsupportedFileType => 23,
            ResultCode::InProgress => 255,
        }
    }

    /// The code for a number, if it is one.
    pub fn from_i(i: u8) -> Option<ResultCode> {
        PRECEDENCE.iter().copied().find(|c| c.as_i() == i)
    }

    /// The exact string MetaDefender clients compare (`scan_all_result_a`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::NoThreat => "No Threat Detected",
            ResultCode::Infected => "Infected",
            ResultCode::Suspicious => "Suspicious",
            ResultCode::Failed => "Failed",
            ResultCode::CleanedDeleted => "Cleaned / Deleted",
            ResultCode::Allowlisted => "Allowlisted",
            ResultCode::Blocklisted => "Blocklisted",
            ResultCode::ExceededArchiveDepth => "Exceeded Archive Depth",
            ResultCode::NotScanned => "Not Scanned",
            ResultCode::EncryptedArchive => "Encrypted Archive",
            ResultCode::ExceededArchiveSize => "Exceeded Archive Size",
            ResultCode::ExceededArchiveFileNumber => "Exceeded Archive File Number",
            ResultCode::PasswordProtectedDocument => "Password Protected Document",
            ResultCode::ExceededArchiveTimeout => "Exceeded Archive Timeout",
            ResultCode::FileTypeMismatch => "File type Mismatch",
            ResultCode::PotentiallyVulnerableFile => "Potentially Vulnerable File",
            ResultCode::Canceled => "Canceled",
            ResultCode::SensitiveDataFound => "Sensitive data found",
            ResultCode::YaraRuleMatched => "Yara Rule Matched",
            ResultCode::PotentiallyUnwantedProgram => "Potentially Unwanted Program",
            ResultCode::UnsupportedFileType => "Unsupported file type",
            ResultCode::InProgress => "In Progress",
        }
    }

    /// Position in [`PRECEDENCE`]; lower is worse.
    fn rank(self) -> usize {
        PRECEDENCE
            .iter()
            .position(|c| *c == self)
            .unwrap_or(PRECEDENCE.len())
    }

    /// The worse of two codes.
    pub fn worst(self, other: ResultCode) -> ResultCode {
        if other.rank() < self.rank() {
            other
        } else {
            self
        }
    }

    /// Whether this code means the object was *not* fully examined.
    pub fn is_incomplete(self) -> bool {
        matches!(
            self,
            ResultCode::Failed
                | ResultCode::ExceededArchiveDepth
                | ResultCode::NotScanned
                | ResultCode::EncryptedArchive
                | ResultCode::ExceededArchiveSize
                | ResultCode::ExceededArchiveFileNumber
                | ResultCode::PasswordProtectedDocument
                | ResultCode::ExceededArchiveTimeout
                | ResultCode::Canceled
                | ResultCode::UnsupportedFileType
                | ResultCode::InProgress
        )
    }

    /// The codes mdscan blocks by default ([`DEFAULT_BLOCK_CODES`]): every
    /// final code but 0 (No Threat Detected), 4 (Cleaned) and 7
    /// (Allowlisted) — detections (1, 2, 8, 21, 22), findings (17, 18, 20) and
    /// every code that means the object was not fully examined (3, 9, 10, 12,
    /// 13, 14, 15, 16, 19, 23). Fail closed: what mdscan could not look at is
    /// never allowed unless a workflow says so.
    pub fn blocks_by_default(self) -> bool {
        DEFAULT_BLOCK_CODES.contains(&self.as_i())
    }

    /// Whether a file with this result is blocked under `block_codes` (a
    /// workflow's list), or under mdscan's default when there is no list
    /// ([`ResultCode::blocks_by_default`]). The one block decision: the
    /// server's documents, downloads, sanitization and cluster workers all
    /// ask it.
    pub fn blocks_under(self, block_codes: Option<&[u8]>) -> bool {
        match block_codes {
            Some(codes) => codes.contains(&self.as_i()),
            None => self.blocks_by_default(),
        }
    }
}

/// The codes that block by default (see [`ResultCode::blocks_by_default`]),
/// as numbers: what `mdscan scan` exits 1 for and what the server's default
/// workflow lists in `block_codes`.
pub const DEFAULT_BLOCK_CODES: &[u8] = &[
    1, 2, 3, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

/// The worst of any number of codes; [`ResultCode::NoThreat`] for none.
pub fn roll_up(codes: impl IntoIterator<Item = ResultCode>) -> ResultCode {
    codes
        .into_iter()
        .reduce(ResultCode::worst)
        .unwrap_or(ResultCode::NoThreat)
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.as_i())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let i = u8::deserialize(d)?;
        ResultCode::from_i(i)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown result code `{i}`")))
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_number_and_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for c in PRECEDENCE {
            assert!(seen.insert(c.as_i()), "duplicate number for {c:?}");
            assert_eq!(ResultCode::from_i(c.as_i()), Some(*c));
        }
        assert_eq!(ResultCode::from_i(5), None);
    }

    #[test]
    fn detections_beat_limits_and_limits_beat_clean() {
        use ResultCode::*;
        assert_eq!(roll_up([NoThreat, ExceededArchiveSize, Infected]), Infected);
        assert_eq!(
            roll_up([NoThreat, ExceededArchiveDepth]),
            ExceededArchiveDepth
        );
        assert_eq!(roll_up([Allowlisted, NoThreat]), NoThreat);
        assert_eq!(roll_up([Failed, EncryptedArchive]), EncryptedArchive);
        assert_eq!(roll_up([]), NoThreat);
    }

    #[test]
    fn everything_not_fully_examined_blocks_by_default() {
        for c in PRECEDENCE {
            if c.is_incomplete() && *c != ResultCode::InProgress {
                assert!(c.blocks_by_default(), "{c:?} must block by default");
            }
        }
        for c in [
            ResultCode::Infected,
            ResultCode::Suspicious,
            ResultCode::Blocklisted,
        ] {
            assert!(c.blocks_by_default(), "{c:?}");
        }
        for c in [
            ResultCode::NoThreat,
            ResultCode::CleanedDeleted,
            ResultCode::Allowlisted,
            ResultCode::InProgress,
        ] {
            assert!(!c.blocks_by_default(), "{c:?}");
        }
        let blocking = PRECEDENCE.iter().filter(|c| c.blocks_by_default()).count();
        assert_eq!(blocking, DEFAULT_BLOCK_CODES.len());
    }

    #[test]
    fn strings_are_the_ones_clients_compare() {
        assert_eq!(ResultCode::NoThreat.as_str(), "No Threat Detected");
        assert_eq!(ResultCode::InProgress.as_str(), "In Progress");
        assert_eq!(
            serde_json::to_string(&ResultCode::Blocklisted)
                .ok()
                .as_deref(),
            Some("8")
        );
    }
}
