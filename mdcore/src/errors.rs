//! Errors returned to the caller.
//!
//! `Err` is for the caller's mistakes and the environment: a rule file that does
//! not compile, a hash list with a bad line, an input that cannot be read.
//! Damage *inside* a scanned object is never an `Err`: it is a note and a result
//! code on the node where it happened (see [`crate::Node`]).

use std::path::PathBuf;

/// Ends every note about a panic mdcore contained (a decoder, extractor or
/// engine crashed; the node is Failed, code 3), so a caller or a fuzz target
/// tells a bug of mdscan's from damage in the input
/// ([`crate::Report::contained_crash`]).
pub(crate) const BUG_NOTE: &str = "(a bug in mdscan; please report it)";

/// Everything that can go wrong building a scanner or opening an input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file (input, rule file, hash list) could not be read.
    #[error("can not read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading the input stream failed.
    #[error("can not read the input: {0}")]
    Read(#[source] std::io::Error),
    /// A YARA rule set failed to compile; the message names file and line.
    #[error("can not compile YARA rules: {0}")]
    Rules(String),
    /// A line of a hash list is not in a supported format.
    #[error("`{path}` line {line}: {message}")]
    HashList {
        /// The list.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A ClamAV database does not load (a malformed line, a container that
    /// fails its checks).
    #[error("ClamAV database `{path}`{}: {message}", if *line > 0 { format!(" line {line}") } else { String::new() })]
    Database {
        /// The file (a container's member as `container/member`).
        path: PathBuf,
        /// 1-based line number; 0 for the file as a whole.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The scanner configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A vulnerability feed could not be loaded.
    #[error("vulnerability feed: {0}")]
    Feed(#[from] FeedError),
}

/// Why a vulnerability feed ([`crate::engines::vuln::Feed`]) could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// A feed file or directory could not be read.
    #[error("can not read `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A zip of OSV records could not be opened.
    #[error("can not open the zip `{path}`: {message}")]
    Archive {
        /// The zip.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A JSON document is not an OSV record, a list of them or a product
    /// feed.
    #[error("`{location}`: {message}")]
    Invalid {
        /// The file (and zip member) it came from; empty for a document
        /// given directly ([`crate::engines::vuln::Feed::add_json`]).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The paths held no advisory at all (a wrong path, most likely).
    #[error("no advisories in the vulnerability feed ({paths})")]
    Empty {
        /// The paths given, comma-separated.
        paths: String,
    },
}
