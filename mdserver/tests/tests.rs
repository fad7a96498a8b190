//! mdserver integration tests: one binary.

mod cli;
mod cluster;
mod server;
