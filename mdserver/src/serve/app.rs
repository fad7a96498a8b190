//! The server's state: configuration, scanner, sessions, and the backend
//! that holds scans: in-process (`mdscan serve`: embedded store, local
//! queue and workers) or the cluster (`mdscan gateway`: Redis, RabbitMQ and
//! the shared blob store, with `mdscan worker`s doing the scanning). The
//! HTTP API sees one set of methods either way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mdcore::{CancelToken, Report, ResultCode, ScanOptions, Scanner};
use tokio::sync::{Notify, mpsc};

use super::config::Config;
use super::store::{Batch, Entry, Scan, State, Store};

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 32 lower-case hex characters from the OS random source.
pub(crate) fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A scan being worked on.
struct Running {
    cancel: CancelToken,
    bytes: Arc<AtomicU64>,
    size: u64,
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) admin: bool,
    pub(crate) expires: Instant,
}

pub(crate) struct App {
    pub(crate) cfg: Config,
    pub(crate) scanner: Scanner,
    backend: Backend,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    /// Woken whenever a scan finishes (`POST /file/sync` waits on it).
    pub(crate) finished: Notify,
    pub(crate) started: Instant,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("cfg", &self.cfg).finish()
    }
}

enum Backend {
    Local(Local),
    Cluster(super::gateway::Gateway),
}

/// The in-process backend of `mdscan serve`.
pub(crate) struct Local {
    pub(crate) store: Store,
    queue: mpsc::Sender<String>,
    running: Mutex<HashMap<String, Running>>,
    /// Cancels that arrived while a scan was between the queue and its
    /// `running` entry; taken when the entry is made (under the same lock),
    /// so no cancel is lost to a racing worker.
    early_cancels: Mutex<std::collections::HashSet<String>>,
}

/// A stored file, readable as a local file while this value lives.
pub(crate) type BlobFile = mdcluster::LocalBlob;

/// Why a submission was refused.
#[derive(Debug)]
pub(crate) enum Refused {
    Busy,
    Store(String),
}

impl App {
    /// Builds the scanner, opens the store and starts `cfg.workers` workers.
    /// Scans found pending in the store (the server stopped while they were
    /// queued or running) are queued again.
    pub(crate) fn start(cfg: Config) -> Result<Arc<App>, String> {
        let scanner = cfg.scanner(cfg.threads)?;
        let store = Store::open(&cfg.data_dir()).map_err(|e| e.to_string())?;
        let pending = store.pending().map_err(|e| e.to_string())?;
        // Room for the configured queue plus whatever was pending at start.
        let (tx, rx) = mpsc::channel(cfg.queue_size.max(1) + pending.len());
        let app = Arc::new(App {
            cfg,
            scanner,
            backend: Backend::Local(Local {
                store,
                queue: tx,
                running: Mutex::new(HashMap::new()),
                early_cancels: Mutex::new(std::collections::HashSet::new()),
            }),
            sessions: Mutex::new(HashMap::new()),
            finished: Notify::new(),
            started: Instant::now(),
        });
        for id in pending {
            let _ = app.local().map(|l| l.queue.try_send(id));
        }
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..app.cfg.workers {
            let app = app.clone();
            let rx = rx.clone();
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(id) = next else { break };
                    app.clone().process(id).await;
                }
            });
        }
        Ok(app)
    }

    /// The gateway over a cluster: same API, scans done by `mdscan worker`s.
    pub(crate) fn start_gateway(
        cfg: Config,
        endpoints: mdcluster::Endpoints,
    ) -> Result<Arc<App>, String> {
        // The gateway scans nothing; its scanner describes the engines.
        let scanner = cfg.scanner(1)?;
        let gateway = super::gateway::Gateway::new(&cfg, endpoints)?;
        let app = Arc::new(App {
            cfg,
            scanner,
            backend: Backend::Cluster(gateway),
            sessions: Mutex::new(HashMap::new()),
            finished: Notify::new(),
            started: Instant::now(),
        });
        if let Backend::Cluster(g) = &app.backend {
            g.spawn_monitor();
        }
        Ok(app)
    }

    fn local(&self) -> Option<&Local> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            Backend::Cluster(_) => None,
        }
    }

    /// Scans waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        match &self.backend {
            Backend::Local(l) => l.queue.max_capacity() - l.queue.capacity(),
            Backend::Cluster(g) => g.queued(),
        }
    }

    pub(crate) fn queue_room(&self) -> bool {
        match &self.backend {
            Backend::Local(l) => l.queue.capacity() > 0 && self.queued() < self.cfg.queue_size,
            Backend::Cluster(g) => g.ready() && self.queued() < self.cfg.queue_size,
        }
    }

    /// Records a new scan durably, then queues it.
    pub(crate) async fn submit(self: &Arc<Self>, scan: Scan) -> Result<(), Refused> {
        if !self.queue_room() {
            return Err(Refused::Busy);
        }
        let l = match &self.backend {
            Backend::Local(l) => l,
            Backend::Cluster(g) => return g.submit(self, scan).await,
        };
        let permit = l.queue.try_reserve().map_err(|_| Refused::Busy)?;
        l.store
            .put_scan(&scan)
            .map_err(|e| Refused::Store(e.to_string()))?;
        permit.send(scan.data_id);
        Ok(())
    }

    /// Whether the store answers.
    pub(crate) async fn healthy(&self) -> bool {
        match &self.backend {
            Backend::Local(l) => l.store.pending().is_ok(),
            Backend::Cluster(g) => g.healthy().await,
        }
    }

    /// What `id` names: a submitted file or an object inside one.
    pub(crate) async fn get(&self, id: &str) -> Result<Option<Entry>, String> {
        match &self.backend {
            Backend::Local(l) => l.store.get(id).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.get(id).await,
        }
    }

    pub(crate) async fn get_scan(&self, id: &str) -> Result<Option<Scan>, String> {
        match &self.backend {
            Backend::Local(l) => l.store.get_scan(id).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.get_scan(id).await,
        }
    }

    pub(crate) async fn by_hash(&self, hash: &str) -> Result<Option<String>, String> {
        match &self.backend {
            Backend::Local(l) => l.store.by_hash(hash).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.by_hash(hash).await,
        }
    }

    pub(crate) async fn get_batch(&self, id: &str) -> Result<Option<Batch>, String> {
        match &self.backend {
            Backend::Local(l) => l.store.get_batch(id).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.get_batch(id).await,
        }
    }

    pub(crate) async fn put_batch(&self, b: &Batch) -> Result<(), String> {
        match &self.backend {
            Backend::Local(l) => l.store.put_batch(b).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.put_batch(b).await,
        }
    }

    /// A fresh local path for an upload in progress.
    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        match &self.backend {
            Backend::Local(l) => l.store.tmp_path(id),
            Backend::Cluster(g) => g.tmp_path(id),
        }
    }

    /// Keeps a finished upload (content-addressed).
    pub(crate) async fn keep_blob(
        &self,
        tmp: &std::path::Path,
        sha256: &str,
    ) -> Result<(), String> {
        match &self.backend {
            Backend::Local(l) => l.store.keep_blob(tmp, sha256).map_err(|e| e.to_string()),
            Backend::Cluster(g) => g.keep_blob(tmp, sha256).await,
        }
    }

    /// The stored file with this SHA-256.
    pub(crate) async fn blob(&self, sha256: &str) -> Result<BlobFile, String> {
        match &self.backend {
            Backend::Local(l) => Ok(mdcluster::LocalBlob::Shared(l.store.blob_path(sha256))),
            Backend::Cluster(g) => g.blob(sha256).await,
        }
    }

    pub(crate) fn free_disk(&self) -> u64 {
        match &self.backend {
            Backend::Local(l) => l.store.free_disk(),
            Backend::Cluster(g) => g.free_disk(),
        }
    }

    /// Statuses for `GET /stat/nodes`: this process, or the cluster's
    /// live workers.
    pub(crate) async fn nodes(&self) -> Vec<serde_json::Value> {
        if let Backend::Cluster(g) = &self.backend {
            return g.nodes().await;
        }
        vec![mdcluster::sysinfo::node_status(
            "local",
            &self.cfg.listen.to_string(),
            self.scanner.engines(),
            self.free_disk(),
            self.queued(),
            self.cfg.queue_size,
        )]
    }

    /// Progress of a running scan, 0..=99.
    pub(crate) async fn progress(&self, data_id: &str) -> u8 {
        let l = match &self.backend {
            Backend::Local(l) => l,
            Backend::Cluster(g) => return g.progress(data_id).await,
        };
        let running = l.running.lock().ok();
        let Some(r) = running.as_ref().and_then(|m| m.get(data_id)) else {
            return 0;
        };
        let done = r.bytes.load(Ordering::Relaxed);
        let pct = done.saturating_mul(100) / r.size.max(1);
        u8::try_from(pct.clamp(1, 99)).unwrap_or(99)
    }

    /// Cancels a queued or running scan. `false` when it is already done or
    /// unknown.
    pub(crate) async fn cancel(&self, data_id: &str) -> bool {
        let l = match &self.backend {
            Backend::Local(l) => l,
            Backend::Cluster(g) => return g.cancel(data_id).await,
        };
        {
            let Ok(running) = l.running.lock() else {
                return false;
            };
            if let Some(r) = running.get(data_id) {
                r.cancel.cancel();
                return true;
            }
            // Not running yet: remembered in memory (under the `running`
            // lock) for a worker about to start it, and in the store for a
            // restart.
            if let Ok(mut early) = l.early_cancels.lock() {
                early.insert(data_id.to_string());
            }
        }
        match l.store.get_scan(data_id) {
            Ok(Some(mut s)) if s.state != State::Done => {
                s.cancel_requested = true;
                l.store.put_scan(&s).is_ok()
            }
            _ => {
                if let Ok(mut early) = l.early_cancels.lock() {
                    early.remove(data_id);
                }
                false
            }
        }
    }

    async fn process(self: Arc<Self>, id: String) {
        let Some(l) = self.local() else { return };
        let Ok(Some(mut scan)) = l.store.get_scan(&id) else {
            return;
        };
        if scan.state == State::Done {
            return;
        }
        scan.state = State::Processing;
        scan.started_ms = Some(now_ms());
        let _ = l.store.put_scan(&scan);
        let cancel = CancelToken::new();
        if scan.cancel_requested {
            cancel.cancel();
        }
        let bytes = Arc::new(AtomicU64::new(0));
        if let Ok(mut m) = l.running.lock() {
            // A cancel that came while this scan was leaving the queue.
            if l.early_cancels.lock().is_ok_and(|mut e| e.remove(&id)) {
                cancel.cancel();
            }
            m.insert(
                id.clone(),
                Running {
                    cancel: cancel.clone(),
                    bytes: bytes.clone(),
                    size: scan.file_size,
                },
            );
        }
        let app = self.clone();
        let blob = l.store.blob_path(&scan.sha256);
        let job = scan.clone();
        let report = tokio::task::spawn_blocking(move || app.run_scan(&job, blob, cancel, bytes))
            .await
            .unwrap_or_else(|_| failed_report(&scan.display_name, "the scan crashed"));
        if let Ok(mut m) = l.running.lock() {
            m.remove(&id);
        }
        scan.report = Some(report);
        scan.state = State::Done;
        scan.finished_ms = Some(now_ms());
        if let Err(e) = l.store.finish(&scan) {
            eprintln!("mdscan: can not store the result of {id}: {e}");
        }
        self.finished.notify_waiters();
        if let Some(url) = scan.callback_url.clone() {
            let doc = super::api::root_document(&self, &scan);
            tokio::spawn(super::webhook::deliver(url, doc));
        }
    }

    fn run_scan(
        &self,
        scan: &Scan,
        blob: PathBuf,
        cancel: CancelToken,
        bytes: Arc<AtomicU64>,
    ) -> Report {
        let Some(workflow) = self.cfg.workflow(&scan.workflow) else {
            return failed_report(&scan.display_name, "the workflow no longer exists");
        };
        let mut opts = ScanOptions::new()
            .name(scan.display_name.clone())
            .cancel(cancel)
            .limits(workflow.limits())
            .progress(move |p| bytes.store(p.bytes, Ordering::Relaxed));
        for p in scan.passwords.iter().chain(&workflow.passwords) {
            opts = opts.password(p.clone());
        }
        self.scanner
            .scan_path(&blob, &opts)
            .unwrap_or_else(|e| failed_report(&scan.display_name, &e.to_string()))
    }

    /// Drops expired sessions and returns the live one for `id`.
    pub(crate) fn session(&self, id: &str) -> Option<Session> {
        let mut m = self.sessions.lock().ok()?;
        let now = Instant::now();
        m.retain(|_, s| s.expires > now);
        m.get(id).cloned()
    }

    pub(crate) fn login(&self, user: &str, admin: bool) -> String {
        let id = new_id();
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(
                id.clone(),
                Session {
                    user: user.into(),
                    admin,
                    expires: Instant::now() + Duration::from_secs(self.cfg.session_ttl_secs),
                },
            );
        }
        id
    }
}

/// A report for a root that could not be scanned at all (code 3).
pub(crate) fn failed_report(name: &str, why: &str) -> Report {
    Report::unscanned(name, ResultCode::Failed, why)
}
