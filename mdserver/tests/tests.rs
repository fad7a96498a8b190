//! mdserver integration tests: one binary.
// Tests assert by panicking: unwrap, expect, panic and indexing are
// how they fail (the workspace denies them in library code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod clamd;
mod cli;
mod cluster;
mod icap;
mod sanitize;
mod server;
mod vulnerability;

// The sanitization samples and verifiers of mdcore's tests.
#[path = "../../mdcore/tests/support/cdr.rs"]
mod cdr;
#[path = "../../mdcore/tests/support/shared.rs"]
mod shared;

/// reqwest's rustls (for the HTTPS cluster test) takes the process's
/// crypto provider: aws-lc-rs, the one the server itself uses. Call before
/// building a client.
pub(crate) fn http_client() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::blocking::Client::builder()
}
