//! `mdscan serve`: the standalone server — MetaDefender Core v4 compatible
//! HTTP API (hyper 1 on tokio), an in-process scan queue feeding mdcore on a
//! bounded set of workers, and an embedded durable store. No external
//! service is needed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

mod api;
mod app;
mod config;
mod doc;
mod gateway;
mod store;
mod webhook;

pub(crate) use config::Config;

/// Arguments of `mdscan serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (see README); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8008].
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Directory of the embedded store [default: <user data dir>/mdscan].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Scans that may wait in the queue before uploads get 503.
    #[arg(long, value_name = "N")]
    queue_size: Option<usize>,
    /// Scans run at once.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// A YARA rule file or directory (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// A hash list (repeatable).
    #[arg(long = "hashes", value_name = "FILE")]
    hashes: Vec<PathBuf>,
}

/// Where the cluster's services are; each flag also reads its `MDSCAN_*`
/// variable, and overrides the config file's `[cluster]` section.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// RabbitMQ [default: amqp://guest:guest@127.0.0.1:5672/%2f].
    #[arg(long, env = "MDSCAN_AMQP_URL", value_name = "URL")]
    amqp_url: Option<String>,
    /// Redis [default: redis://127.0.0.1:6379/].
    #[arg(long, env = "MDSCAN_REDIS_URL", value_name = "URL")]
    redis_url: Option<String>,
    /// Shared blob store: file:///shared/dir or s3://bucket/prefix.
    #[arg(long, env = "MDSCAN_BLOB_URL", value_name = "URL")]
    blob_url: Option<String>,
    /// Prefix of queue and key names, so clusters can share services
    /// [default: mdscan].
    #[arg(long, env = "MDSCAN_NAMESPACE", value_name = "NAME")]
    namespace: Option<String>,
}

impl ClusterArgs {
    fn apply(&self, c: &mut config::Cluster) {
        if let Some(v) = &self.amqp_url {
            c.amqp_url.clone_from(v);
        }
        if let Some(v) = &self.redis_url {
            c.redis_url.clone_from(v);
        }
        if let Some(v) = &self.blob_url {
            c.blob_url.clone_from(v);
        }
        if let Some(v) = &self.namespace {
            c.namespace.clone_from(v);
        }
    }
}

/// Arguments of `mdscan gateway`.
#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

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
}

impl ServeArgs {
    fn config(&self) -> Result<Config, String> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = Some(d.clone());
        }
        if let Some(n) = self.queue_size {
            cfg.queue_size = n;
        }
        if let Some(n) = self.workers {
            cfg.workers = n;
        }
        cfg.rules.extend(self.rules.iter().cloned());
        cfg.hashes.extend(self.hashes.iter().cloned());
        cfg.finish()
    }
}

/// Runs `f` on a multi-threaded runtime; exit code 2 on error.
fn block_on<F>(f: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mdscan: can not start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(f) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mdscan: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

pub(crate) fn run(args: ServeArgs) -> std::process::ExitCode {
    let cfg = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    block_on(async move {
        let app = app::App::start(cfg.clone())?;
        serve(cfg, app, "").await
    })
}

/// `mdscan gateway`: the same HTTP API over the cluster.
pub(crate) fn run_gateway(args: GatewayArgs) -> std::process::ExitCode {
    let mut cfg = match args.serve.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    args.cluster.apply(&mut cfg.cluster);
    block_on(async move {
        let endpoints = cfg.cluster.endpoints();
        let what = format!(
            " as a cluster gateway (RabbitMQ {}, Redis {}, blobs {}, namespace {})",
            mdcluster::queue::redact(&endpoints.amqp_url),
            mdcluster::queue::redact(&endpoints.redis_url),
            endpoints.blob_url,
            endpoints.namespace
        );
        let app = app::App::start_gateway(cfg.clone(), endpoints)?;
        serve(cfg, app, &what).await
    })
}

/// `mdscan worker`: scans the cluster's tasks until SIGTERM or Ctrl-C.
pub(crate) fn run_worker(args: WorkerArgs) -> std::process::ExitCode {
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
    args.cluster.apply(&mut cfg.cluster);
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
    let wc = mdcluster::worker::WorkerConfig {
        endpoints: cfg.cluster.endpoints(),
        tmp_dir: cfg.data_dir().join(format!("worker-{id}")),
        id,
        concurrency: cfg.cluster.concurrency,
        fanout_size: cfg.cluster.fanout_size,
        fanout_entries: cfg.cluster.fanout_entries,
        max_attempts: cfg.cluster.max_attempts,
        drain_timeout: Duration::from_secs(cfg.cluster.drain_secs),
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

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(cfg: Config, app: std::sync::Arc<app::App>, what: &str) -> Result<(), String> {
    let listen = cfg.listen;
    let grace = Duration::from_secs(cfg.shutdown_timeout_secs);
    let data_dir = cfg.data_dir();
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("can not listen on {listen}: {e}"))?;
    eprintln!(
        "mdscan: serving the MetaDefender Core v4 API on http://{}{what} (data in {})",
        listener.local_addr().map_or(listen, |a| a),
        data_dir.display()
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                let app = app.clone();
                let svc = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(api::handle(app, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    // Slow-loris: a client must send its headers promptly.
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut stop => {
                eprintln!("mdscan: shutting down");
                break;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("mdscan: open connections did not finish within {grace:?}; closing");
    }
    // Scans still queued or running are in the store's pending list and
    // resume at the next start.
    Ok(())
}
