//! `mdscan`: the command-line front end of mdscan.
//!
//! Roles: `mdscan scan` scans files and directories with mdcore and prints a
//! summary or JSON reports; `mdscan serve` runs the standalone
//! MetaDefender Core compatible HTTP server; `mdscan gateway` and `mdscan
//! worker` are the two roles of a cluster (see mdcluster).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod runtime;
mod sanitize;
mod scan;
mod serve;
mod worker;

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
    /// Write the sanitized copy of a document (macros, ActiveX, embedded
    /// objects, DDE and remote links removed); exit 0 when written, 2 when
    /// the file could not be sanitized.
    Sanitize(sanitize::SanitizeArgs),
    /// Run the standalone HTTP server (MetaDefender Core v4 API) on
    /// 127.0.0.1:8008 with an embedded store; needs no external service.
    Serve(serve::ServeArgs),
    /// Run the same HTTP API as a cluster gateway: files go to the shared
    /// blob store, scans to RabbitMQ and Redis, for `mdscan worker`s.
    Gateway(serve::GatewayArgs),
    /// Run a cluster worker: scan tasks from RabbitMQ, results to Redis.
    Worker(worker::WorkerArgs),
    /// Print the argon2 hash of a password, for `users` in the config file.
    HashPassword {
        /// The password.
        password: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Sanitize(args) => sanitize::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Gateway(args) => serve::run_gateway(args),
        Command::Worker(args) => worker::run(args),
        Command::HashPassword { password } => match serve::hash_password(&password) {
            Ok(h) => {
                println!("{h}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mdscan: {e}");
                ExitCode::from(2)
            }
        },
    }
}
