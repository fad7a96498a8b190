//! mdserver integration tests: one binary.

mod cli;
mod server;
