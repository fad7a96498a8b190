//! `mdscan serve`: the standalone server — MetaDefender Core v4 compatible
//! HTTP API (hyper 1 on tokio), an in-process scan queue feeding mdcore on a
//! bounded set of workers, and an embedded durable store. No external
//! service is needed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

mod api;
mod backend;
mod clamd;
mod config;
mod console;
mod doc;
mod engines;
mod http;
mod icap;
mod identity;
mod intake;
mod metrics;
mod roles;
mod tls;
mod webhook;
mod workflows;

pub(crate) use api::hash_password;
pub(crate) use config::Config;

use crate::runtime::{block_on, shutdown_signal};
use backend::Backend;

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
    /// A ClamAV signature database file or directory (repeatable; adds to
    /// the config's `[engines.clamav] databases`).
    #[arg(long = "database", value_name = "PATH")]
    databases: Vec<PathBuf>,
    /// A vulnerability feed: OSV records (JSON files, directories, OSV's
    /// per-ecosystem zips) or a CPE-style product feed (repeatable).
    #[arg(long = "vuln-feed", value_name = "PATH")]
    vuln_feeds: Vec<PathBuf>,
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
    /// PEM roots trusted for amqps://, rediss:// and https S3, beside the
    /// system's (added to the config file's `[tls] ca`).
    #[arg(long = "tls-ca", env = "MDSCAN_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate for RabbitMQ and Redis servers that ask for
    /// one (with --tls-client-key).
    #[arg(long, env = "MDSCAN_TLS_CLIENT_CERT", value_name = "FILE")]
    tls_client_cert: Option<PathBuf>,
    /// The client certificate's PEM private key.
    #[arg(long, env = "MDSCAN_TLS_CLIENT_KEY", value_name = "FILE")]
    tls_client_key: Option<PathBuf>,
}

impl ClusterArgs {
    pub(crate) fn apply(&self, cfg: &mut Config) {
        if let Some(v) = &self.tls_ca {
            cfg.tls.ca.push(v.clone());
        }
        let c = &mut cfg.cluster;
        if let Some(v) = &self.tls_client_cert {
            c.client_cert = Some(v.clone());
        }
        if let Some(v) = &self.tls_client_key {
            c.client_key = Some(v.clone());
        }
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
        cfg.engines
            .clamav
            .databases
            .extend(self.databases.iter().cloned());
        cfg.vulnerability_feeds
            .extend(self.vuln_feeds.iter().cloned());
        cfg.finish()
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
        cfg.check_exposure()?;
        let backend = backend::local::Local::start(cfg.clone())?;
        serve(cfg, backend, "").await
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
    args.cluster.apply(&mut cfg);
    block_on(async move {
        cfg.check_exposure()?;
        let endpoints = cfg.endpoints()?;
        let what = format!(
            " as a cluster gateway (RabbitMQ {}, Redis {}, blobs {}, namespace {})",
            mdcluster::queue::redact(&endpoints.amqp_url),
            mdcluster::queue::redact(&endpoints.redis_url),
            endpoints.blob_url,
            endpoints.namespace
        );
        let backend = backend::cluster::Cluster::start(cfg.clone(), &endpoints)?;
        serve(cfg, backend, &what).await
    })
}

/// The background sweep: retention (and in a cluster the reconciler),
/// once at start and then every `every`.
fn spawn_sweep<B: Backend>(backend: Arc<B>, every: Duration) {
    tokio::spawn(async move {
        loop {
            if let Some(done) = backend.sweep().await {
                eprintln!("mdscan: {done}");
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// One HTTP/1.1 connection over `io` (plain or TLS).
fn http1<S, F>(io: S, svc: F) -> hyper::server::conn::http1::Connection<TokioIo<S>, F>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: hyper::service::HttpService<hyper::body::Incoming, ResBody = api::Body>,
{
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Slow-loris: a client must send its headers promptly.
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(io), svc)
}

/// Puts the workflows edited through the API in force now and reads them
/// again every `workflows::REFRESH` (edits made on another gateway).
async fn spawn_workflows<B: Backend>(backend: Arc<B>, cfg: Arc<Config>) {
    if let Err(e) = workflows::refresh(&cfg, backend.as_ref()).await {
        eprintln!("mdscan: edited workflows not read yet: {e}");
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(workflows::REFRESH).await;
            if let Err(e) = workflows::refresh(&cfg, backend.as_ref()).await {
                eprintln!("mdscan: edited workflows not read: {e}");
            }
        }
    });
}

/// The answer to a connection past `max_connections`: one 503, then close.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 5\r\nconnection: close\r\ncontent-length: 49\r\n\r\n\
{\"err\":\"Server is too busy. Try again later.\"}   ";

async fn serve<B: Backend>(cfg: Config, backend: Arc<B>, what: &str) -> Result<(), String> {
    let listen = cfg.listen;
    let grace = Duration::from_secs(cfg.shutdown_timeout_secs);
    let data_dir = cfg.data_dir();
    let cfg = Arc::new(cfg);
    let tls = tls::server(&cfg)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("can not listen on {listen}: {e}"))?;
    eprintln!(
        "mdscan: serving the MetaDefender Core v4 API on {}://{}{what} (data in {})",
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr().map_or(listen, |a| a),
        data_dir.display()
    );
    if let Some(t) = &tls {
        eprintln!(
            "mdscan: TLS certificate {}; SHA-256 fingerprint {}",
            t.source, t.fingerprint
        );
    } else if !listen.ip().is_loopback() {
        eprintln!("mdscan: warning: plain HTTP beyond loopback (`[tls] enabled = false`)");
    }
    let acceptor = tls.map(|t| t.acceptor);
    webhook::spawn(backend.clone(), cfg.clone())?;
    spawn_workflows(backend.clone(), cfg.clone()).await;
    spawn_sweep(
        backend.clone(),
        Duration::from_secs(cfg.sweep_interval_secs),
    );
    let clamd_stop = Arc::new(tokio::sync::Notify::new());
    clamd::spawn(cfg.clone(), backend.clone(), clamd_stop.clone()).await?;
    icap::spawn(cfg.clone(), backend.clone()).await?;
    let metrics = metrics::Metrics::new();
    metrics::spawn(backend.clone(), metrics.clone());
    let api = api::Api::new(cfg.clone(), backend, metrics.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    let mut backoff = Duration::from_millis(5);
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let (mut stream, peer) = match conn {
                    Ok(c) => {
                        backoff = Duration::from_millis(5);
                        c
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do
                        // not spin.
                        eprintln!("mdscan: accept: {e}; retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    metrics.connection_refused();
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(OVERLOADED)).await;
                        let _ = stream.shutdown().await;
                    });
                    continue;
                };
                let api = api.clone();
                let svc = service_fn(move |mut req| {
                    let api = api.clone();
                    req.extensions_mut().insert::<SocketAddr>(peer);
                    async move { Ok::<_, std::convert::Infallible>(api::handle(api, req).await) }
                });
                let Some(acceptor) = acceptor.clone() else {
                    let conn = graceful.watch(http1(stream, svc));
                    tokio::spawn(async move {
                        let _ = conn.await;
                        drop(permit);
                    });
                    continue;
                };
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    // The handshake has the same deadline as the headers.
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await
                    {
                        let _ = watcher.watch(http1(tls, svc)).await;
                    }
                    drop(permit);
                });
            }
            _ = &mut stop => {
                eprintln!("mdscan: shutting down");
                break;
            }
            () = clamd_stop.notified() => {
                eprintln!("mdscan: shutting down (clamd SHUTDOWN)");
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
