//! mdcore integration tests: one binary, one module per concern.
// Tests assert by panicking: unwrap, expect, panic and indexing are
// how they fail (the workspace denies them in library code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod util;
use util::shared;
#[path = "support/cdr.rs"]
mod cdr;

mod archivers;
mod bombs;
mod clamav;
mod disks;
mod documents;
mod embedded;
mod engines;
mod evasion;
mod formats;
mod hostile;
mod images;
mod mail;
mod pdf;
mod rar;
mod reference;
mod sanitize;
mod scanning;
mod split;
mod vulnerability;
