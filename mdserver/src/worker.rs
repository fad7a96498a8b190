//! `mdscan worker`: a cluster worker — scans tasks from RabbitMQ, writes
//! results to Redis (mdcluster's worker loop, configured here).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::runtime::{block_on, shutdown_signal};
use crate::serve::{ClusterArgs, Config};

/// Arguments of `mdscan worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// A TOML configuration file (see README); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Local scratch space (downloaded blobs, spooled children)
    /// [default: <user data dir>/mdscan].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Tasks scanned at once (RabbitMQ prefetch).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Fan out root archives of at least this many bytes.
    #[arg(long, value_name = "BYTES")]
    fanout_size: Option<u64>,
    /// Fan out the children of a root past this many.
    #[arg(long, value_name = "N")]
    fanout_entries: Option<u64>,
    /// Deliveries of a task before it is recorded as Failed.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u64>,
    /// This worker's name in /stat/nodes [default: host-pid].
    #[arg(long, value_name = "NAME")]
    id: Option<String>,
    /// A YARA rule file or directory (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// A hash list (repeatable).
    #[arg(long = "hashes", value_name = "FILE")]
    hashes: Vec<PathBuf>,
    /// A ClamAV signature database file or directory (repeatable; adds to
    /// the config's `[engines.clamav] databases`).
    #[arg(long = "database", value_name = "PATH")]
    databases: Vec<PathBuf>,
    /// A vulnerability feed: OSV records (JSON files, directories, OSV's
    /// per-ecosystem zips) or a CPE-style product feed (repeatable).
    #[arg(long = "vuln-feed", value_name = "PATH")]
    vuln_feeds: Vec<PathBuf>,
}

/// `mdscan worker`: scans the cluster's tasks until SIGTERM or Ctrl-C.
pub(crate) fn run(args: WorkerArgs) -> std::process::ExitCode {
    let cfg = match &args.config {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    };
    let mut cfg = match cfg.and_then(Config::finish) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    args.cluster.apply(&mut cfg);
    if let Some(d) = &args.data_dir {
        cfg.data_dir = Some(d.clone());
    }
    let c = &mut cfg.cluster;
    if let Some(n) = args.concurrency {
        c.concurrency = n;
    }
    if let Some(n) = args.fanout_size {
        c.fanout_size = n;
    }
    if let Some(n) = args.fanout_entries {
        c.fanout_entries = n;
    }
    if let Some(n) = args.max_attempts {
        c.max_attempts = n;
    }
    if c.concurrency == 0 || c.max_attempts == 0 {
        eprintln!("mdscan: `concurrency` and `max_attempts` must be at least 1");
        return std::process::ExitCode::from(2);
    }
    cfg.rules.extend(args.rules.iter().cloned());
    cfg.hashes.extend(args.hashes.iter().cloned());
    cfg.engines
        .clamav
        .databases
        .extend(args.databases.iter().cloned());
    cfg.vulnerability_feeds
        .extend(args.vuln_feeds.iter().cloned());
    let scanner = match cfg.scanner(cfg.threads) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", mdcluster::sysinfo::hostname(), std::process::id()));
    let endpoints = match cfg.endpoints() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let wc = mdcluster::worker::WorkerConfig {
        endpoints,
        tmp_dir: cfg.data_dir().join(format!("worker-{id}")),
        id,
        concurrency: cfg.cluster.concurrency,
        fanout_size: cfg.cluster.fanout_size,
        fanout_entries: cfg.cluster.fanout_entries,
        max_attempts: cfg.cluster.max_attempts,
        drain_timeout: Duration::from_secs(cfg.cluster.drain_secs),
        rebuild: Some({
            let cfg = cfg.clone();
            mdcluster::worker::Rebuild(std::sync::Arc::new(move || cfg.scanner(cfg.threads)))
        }),
    };
    block_on(async move {
        eprintln!(
            "mdscan worker {}: RabbitMQ {}, Redis {}, blobs {}, namespace {}",
            wc.id,
            mdcluster::queue::redact(&wc.endpoints.amqp_url),
            mdcluster::queue::redact(&wc.endpoints.redis_url),
            wc.endpoints.blob_url,
            wc.endpoints.namespace
        );
        let tmp = wc.tmp_dir.clone();
        let r = mdcluster::worker::run(wc, scanner, shutdown_signal())
            .await
            .map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(tmp);
        r
    })
}
