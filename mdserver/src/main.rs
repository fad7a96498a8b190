//! `mdscan`: the command-line front end of mdscan.
//!
//! Today it has one role, `mdscan scan`, which scans files and directories
//! with mdcore and prints a summary or JSON reports.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod scan;

/// mdscan: an embeddable file-security scanner.
#[derive(Debug, Parser)]
#[command(name = "mdscan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files and directories; exit 0 when nothing was found, 1 when an
    /// input is blocked (threat or limit), 2 on an error.
    Scan(scan::ScanArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan::run(args),
    }
}
