//! mdcore: the mdscan scanning library.
//!
//! Bytes flow through four stages, each in its own module:
//!
//! 1. **detect** — a [`FileType`] from magic bytes (a pure function of a prefix);
//! 2. **extract** — one extractor per container format yields the children of an
//!    object, under the per-root [`Limits`];
//! 3. **engines** — every [`Engine`] (YARA-X rules, hash block/allow lists, your
//!    own) looks at every object, archives and their members alike;
//! 4. **verdict** — per-object [`ResultCode`]s rolled up worst-first to the root.
//!
//! The walker is the only place that recurses: children of one archive are
//! scanned on a rayon pool while the archive is still being extracted. The
//! outcome is a [`Report`], a tree with one [`Node`] per object, serializable
//! with serde in the field names of the MetaDefender Core result document.
//!
//! A [`Scanner`] is built once by a [`ScannerBuilder`], is immutable,
//! `Send + Sync`, cheap to clone, and scans any number of inputs concurrently.
//!
//! ```
//! use mdcore::{ScanOptions, ScannerBuilder, ResultCode};
//!
//! let scanner = ScannerBuilder::new().build()?;
//! let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
//! let report = scanner.scan_bytes(eicar, &ScanOptions::new().name("eicar.com"));
//! assert_eq!(report.root.scan_all_result_i, ResultCode::Infected);
//! assert_eq!(report.threats()[0].threat, "EICAR_Test_File");
//! # Ok::<(), mdcore::errors::Error>(())
//! ```
pub use crate::blob::Blob;
pub use crate::detect::detect;
pub use crate::digest::{Digests, hex};
pub use crate::engines::clamav::{ClamAvBuilder, ClamAvEngine, DatabaseInfo};
pub use crate::engines::hash::{HashEngine, HashEngineBuilder, ListKind};
#[cfg(feature = "yara")]
pub use crate::engines::yara::{YaraEngine, YaraEngineBuilder};
pub use crate::engines::{Engine, EngineCode, EngineInfo, EngineKind, EngineResult, ObjectView};
pub use crate::kind::{FileType, Kind};
pub use crate::limits::{CancelToken, Limits};
pub use crate::report::{Detection, EngineDetail, Node, Report};
pub use crate::scanner::{Origin, ScanOptions, Scanner, ScannerBuilder};
pub use crate::time::iso8601;
pub use crate::verdict::{DEFAULT_BLOCK_CODES, ResultCode};
pub use crate::walk::{Progress, SplitChild};

pub mod errors;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

mod blob;
mod bytes;
mod detect;
mod digest;
mod engines;
mod extract;
mod formats;
mod kind;
mod limits;
mod report;
pub mod sanitize;
mod scanner;
mod time;
mod verdict;
/// Vulnerability assessment, the engine in [`engines::vuln`], under the
/// name it has always had.
pub use engines::vuln;
mod walk;
mod xml;
