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

pub(crate) fn run(args: ServeArgs) -> std::process::ExitCode {
    let cfg = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return std::process::ExitCode::from(2);
        }
    };
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
    match rt.block_on(serve(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mdscan: {e}");
            std::process::ExitCode::from(2)
        }
    }
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

async fn serve(cfg: Config) -> Result<(), String> {
    let listen = cfg.listen;
    let grace = Duration::from_secs(cfg.shutdown_timeout_secs);
    let data_dir = cfg.data_dir();
    let app = app::App::start(cfg)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("can not listen on {listen}: {e}"))?;
    eprintln!(
        "mdscan: serving the MetaDefender Core v4 API on http://{} (data in {})",
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
