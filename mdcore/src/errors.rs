//! Errors returned to the caller.
//!
//! `Err` is for the caller's mistakes and the environment: a rule file that does
//! not compile, a hash list with a bad line, an input that cannot be read.
//! Damage *inside* a scanned object is never an `Err`: it is a note and a result
//! code on the node where it happened (see [`crate::Node`]).

use std::path::PathBuf;

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
    /// The scanner configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
}
