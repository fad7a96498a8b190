//! mdcore integration tests: one binary, one module per concern.

mod util;
use util::shared;
#[path = "support/cdr.rs"]
mod cdr;

mod archivers;
mod bombs;
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
mod sanitize;
mod scanning;
mod split;
mod vulnerability;
