//! The in-process backend of `mdscan serve`: the embedded store, a bounded
//! queue and `workers` tasks that run mdcore on the blocking pool.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mdcore::{CancelToken, Report, ScanOptions};
use tokio::sync::{Notify, broadcast, mpsc};

use super::{
    AuditEvent, AuditQuery, Backend, BackendError, Batch, BatchEnd, BlobFile, Callback, Counters,
    Entry, HistoryPage, HistoryQuery, NodeStatus, Pager, RecordKind, Scan, Session, State,
    failed_report, now_ms,
};
use crate::serve::config::Config;
use crate::serve::engines::LiveScanner;

mod store;

pub(crate) use store::Store;

/// A scan being worked on.
struct Running {
    cancel: CancelToken,
    bytes: Arc<AtomicU64>,
    size: u64,
}

pub(crate) struct Local {
    cfg: Config,
    scanner: LiveScanner,
    /// Reloads done since start.
    reloads: AtomicU64,
    store: Arc<Store>,
    queue: mpsc::Sender<String>,
    running: Mutex<HashMap<String, Running>>,
    /// Cancels that arrived while a scan was between the queue and its
    /// `running` entry; taken when the entry is made (under the same lock),
    /// so no cancel is lost to a racing worker.
    early_cancels: Mutex<HashSet<String>>,
    finished: broadcast::Sender<String>,
    /// Callbacks owed, in order (the store holds them durably).
    callbacks: Mutex<VecDeque<String>>,
    callback_ready: Notify,
    /// Failed logins (this one process serves them all).
    logins: Counters,
}

/// Scans out of the queue (being marked started, or waiting for a slot)
/// per scan slot.
const STARTING_PER_WORKER: usize = 8;

impl Local {
    /// Builds the scanner, opens the store and starts `cfg.workers`
    /// workers. Scans found pending in the store (the server stopped while
    /// they were queued or running) are queued again, and callbacks still
    /// owed are delivered again.
    pub(crate) fn start(cfg: Config) -> Result<Arc<Local>, String> {
        let scanner = LiveScanner::new(&cfg, cfg.threads)?;
        let store = Arc::new(Store::open(&cfg.data_dir()).map_err(|e| e.to_string())?);
        let pending = store.pending().map_err(|e| e.to_string())?;
        let owed = store.callbacks().map_err(|e| e.to_string())?;
        // Room for the configured queue plus whatever was pending at start.
        let (tx, rx) = mpsc::channel(cfg.queue_size.max(1) + pending.len());
        let workers = cfg.workers;
        let local = Arc::new(Local {
            cfg,
            scanner,
            reloads: AtomicU64::new(0),
            store,
            queue: tx,
            running: Mutex::new(HashMap::new()),
            early_cancels: Mutex::new(HashSet::new()),
            finished: broadcast::channel(1024).0,
            callbacks: Mutex::new(owed.into()),
            callback_ready: Notify::new(),
            logins: Counters::default(),
        });
        for id in pending {
            let _ = local.queue.try_send(id);
        }
        // `workers` scans run at once. A scan leaves the queue with a place
        // among `workers * STARTING_PER_WORKER` (so it can be marked started
        // while others run), takes one of the `workers` slots to run, and
        // gives both back when its scan ends, before its result is stored:
        // no slot waits on the store's commits.
        let places = Arc::new(tokio::sync::Semaphore::new(workers * STARTING_PER_WORKER));
        let slots = Arc::new(tokio::sync::Semaphore::new(workers));
        let l = local.clone();
        let mut rx = rx;
        tokio::spawn(async move {
            loop {
                let Ok(place) = places.clone().acquire_owned().await else {
                    break;
                };
                let Some(id) = rx.recv().await else { break };
                tokio::spawn(l.clone().process(id, place, slots.clone()));
            }
        });
        Ok(local)
    }

    async fn process(
        self: Arc<Self>,
        id: String,
        place: tokio::sync::OwnedSemaphorePermit,
        slots: Arc<tokio::sync::Semaphore>,
    ) {
        let scan = match self.store.start(&id).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                eprintln!("mdscan: can not start {id}: {e}");
                return;
            }
        };
        let Ok(slot) = slots.acquire_owned().await else {
            return;
        };
        let cancel = CancelToken::new();
        if scan.cancel_requested {
            cancel.cancel();
        }
        let bytes = Arc::new(AtomicU64::new(0));
        if let Ok(mut m) = self.running.lock() {
            // A cancel that came while this scan was leaving the queue.
            if self.early_cancels.lock().is_ok_and(|mut e| e.remove(&id)) {
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
        let me = self.clone();
        let blob = self.store.blob_path(&scan.sha256);
        let job = scan.clone();
        let report = tokio::task::spawn_blocking(move || me.run_scan(&job, &blob, cancel, bytes))
            .await
            .unwrap_or_else(|_| failed_report(&scan.display_name, "the scan crashed"));
        if let Ok(mut m) = self.running.lock() {
            m.remove(&id);
        }
        drop((slot, place));
        let mut scan = scan;
        scan.report = Some(report);
        scan.state = State::Done;
        scan.finished_ms = Some(now_ms());
        if let Err(e) = self.store.finish(&scan).await {
            eprintln!("mdscan: can not store the result of {id}: {e}");
            return;
        }
        if scan.callback_url.is_some() {
            if let Ok(mut q) = self.callbacks.lock() {
                q.push_back(id.clone());
            }
            self.callback_ready.notify_one();
        }
        let _ = self.finished.send(id);
    }

    fn run_scan(
        &self,
        scan: &Scan,
        blob: &Path,
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
        // The upload was hashed as it arrived; the blob is stored under its
        // SHA-256, so these are the digests of the bytes scanned.
        if let Some(d) = mdcore::Digests::from_hex(&scan.md5, &scan.sha1, &scan.sha256) {
            opts = opts.digests(d);
        }
        let limits = workflow.limits();
        let spec = mdcluster::job::Spec {
            block_codes: &workflow.block_codes,
            sanitize: &workflow.sanitize,
            limits: &limits,
        };
        let keep = |copy: &[u8], sha: &str| {
            let tmp = self.store.tmp_path(&format!("sanitized-{}", scan.data_id));
            let kept = write_synced(&tmp, copy)
                .map_err(|e| e.to_string())
                .and_then(|()| self.store.keep_blob(&tmp, sha).map_err(|e| e.to_string()));
            if kept.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            kept
        };
        let scanner = self.scanner.get();
        mdcluster::job::run(&scanner, blob, &scan.display_name, &opts, spec, keep)
    }
}

fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn failed(e: impl std::fmt::Display) -> BackendError {
    BackendError::failed(e)
}

impl Backend for Local {
    fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    fn accepting(&self) -> bool {
        self.queue.capacity() > 0 && self.queued() < self.cfg.queue_size
    }

    async fn healthy(&self) -> bool {
        self.store.pending().is_ok()
    }

    fn engines(&self) -> Vec<mdcore::EngineInfo> {
        self.scanner.engines()
    }

    fn free_disk(&self) -> u64 {
        self.store.free_disk()
    }

    fn tmp_path(&self, id: &str) -> PathBuf {
        self.store.tmp_path(id)
    }

    async fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), BackendError> {
        // A rename and a directory fsync: off the runtime's threads.
        let (store, path, sha) = (self.store.clone(), tmp.to_path_buf(), sha256.to_string());
        let r = tokio::task::spawn_blocking(move || store.keep_blob(&path, &sha))
            .await
            .map_err(failed)
            .and_then(|r| r.map_err(failed));
        if r.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        r
    }

    async fn blob(&self, sha256: &str) -> Result<BlobFile, BackendError> {
        Ok(mdcluster::LocalBlob::Shared(self.store.blob_path(sha256)))
    }

    async fn submit(&self, scan: Scan) -> Result<(), BackendError> {
        let busy = || BackendError::Busy("the queue is full".into());
        if !self.accepting() {
            return Err(busy());
        }
        let permit = self.queue.try_reserve().map_err(|_| busy())?;
        self.store.put_scan(&scan).await.map_err(failed)?;
        permit.send(scan.data_id);
        Ok(())
    }

    async fn entry(&self, id: &str) -> Result<Option<Entry>, BackendError> {
        self.store.get(id).map_err(failed)
    }

    async fn scan(&self, id: &str) -> Result<Option<Scan>, BackendError> {
        self.store.get_scan(id).map_err(failed)
    }

    async fn by_hash(&self, hash: &str) -> Result<Option<String>, BackendError> {
        self.store.by_hash(hash).map_err(failed)
    }

    async fn progress(&self, id: &str) -> u8 {
        let running = self.running.lock().ok();
        let Some(r) = running.as_ref().and_then(|m| m.get(id)) else {
            return 0;
        };
        let done = r.bytes.load(Ordering::Relaxed);
        let pct = done.saturating_mul(100) / r.size.max(1);
        u8::try_from(pct.clamp(1, 99)).unwrap_or(99)
    }

    async fn cancel(&self, id: &str) -> bool {
        {
            let Ok(running) = self.running.lock() else {
                return false;
            };
            if let Some(r) = running.get(id) {
                r.cancel.cancel();
                return true;
            }
            // Not running yet: remembered in memory (under the `running`
            // lock) for a worker about to start it, and in the store for a
            // restart.
            if let Ok(mut early) = self.early_cancels.lock() {
                early.insert(id.to_string());
            }
        }
        // One transaction: a scan that finished meanwhile keeps its result.
        let requested = self.store.request_cancel(id).unwrap_or(false);
        if !requested && let Ok(mut early) = self.early_cancels.lock() {
            early.remove(id);
        }
        requested
    }

    async fn history(
        &self,
        q: &HistoryQuery,
        keep: &(dyn Fn(&Scan) -> bool + Send + Sync),
    ) -> Result<HistoryPage, BackendError> {
        let mut pager = Pager::new(q, keep);
        self.store.history(q, &mut pager).map_err(failed)?;
        Ok(pager.finish())
    }

    async fn open_batch(&self, b: &Batch) -> Result<(), BackendError> {
        self.store.put_batch(b).map_err(failed)
    }

    async fn batch(&self, id: &str) -> Result<Option<Batch>, BackendError> {
        self.store.get_batch(id).map_err(failed)
    }

    async fn batch_add(&self, id: &str, data_id: &str) -> Result<bool, BackendError> {
        self.store.batch_add(id, data_id).map_err(failed)
    }

    async fn batch_end(&self, id: &str, end: BatchEnd) -> Result<Option<Batch>, BackendError> {
        self.store.batch_end(id, end).map_err(failed)
    }

    async fn put_session(&self, id: &str, s: &Session) -> Result<(), BackendError> {
        self.store.put_session(id, s).map_err(failed)
    }

    async fn session(&self, id: &str) -> Option<Session> {
        let s = self.store.session(id).ok()??;
        (s.expires_ms > now_ms()).then_some(s)
    }

    async fn drop_session(&self, id: &str) {
        let _ = self.store.drop_session(id);
    }

    async fn login_failures(&self, key: &str) -> u64 {
        self.logins.get(key)
    }

    async fn login_failed(&self, key: &str, window: Duration) {
        self.logins.add(key, window);
    }

    async fn sweep(&self) -> Option<String> {
        let now = now_ms();
        let results = now.saturating_sub(self.cfg.retention_secs.saturating_mul(1000));
        let files = now.saturating_sub(self.cfg.file_retention_secs.saturating_mul(1000));
        let audit = now.saturating_sub(self.cfg.audit_retention_secs.saturating_mul(1000));
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            store.sweep_audit(audit)?;
            store.sweep(results, files)
        })
        .await;
        match r {
            Ok(Ok(s)) if s.results + s.batches + s.files > 0 => Some(format!(
                "retention: removed {} result(s), {} batch(es) and {} file(s)",
                s.results, s.batches, s.files
            )),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(format!("retention sweep failed: {e}")),
            Err(e) => Some(format!("retention sweep failed: {e}")),
        }
    }

    async fn audit(&self, e: &AuditEvent) {
        let store = self.store.clone();
        let e = e.clone();
        let r = tokio::task::spawn_blocking(move || store.audit(&e)).await;
        if !matches!(r, Ok(Ok(()))) {
            eprintln!("mdscan: can not write the audit log: {r:?}");
        }
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, BackendError> {
        let store = self.store.clone();
        let q = q.clone();
        tokio::task::spawn_blocking(move || store.audit_log(&q))
            .await
            .map_err(failed)?
            .map_err(failed)
    }

    async fn record(&self, kind: RecordKind, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.store.record(kind.as_str(), key).map_err(failed)
    }

    async fn records(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.store.records(kind.as_str()).map_err(failed)
    }

    async fn has_records(&self, kind: RecordKind) -> Result<bool, BackendError> {
        self.store.has_records(kind.as_str()).map_err(failed)
    }

    async fn put_record(
        &self,
        kind: RecordKind,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> Result<bool, BackendError> {
        self.store
            .put_record(kind.as_str(), key, value, only_new)
            .map_err(failed)
    }

    async fn delete_record(&self, kind: RecordKind, key: &str) -> Result<bool, BackendError> {
        self.store.delete_record(kind.as_str(), key).map_err(failed)
    }

    async fn drain(&self, _node: &str) -> Result<bool, BackendError> {
        Err(failed(
            "a standalone server has no workers to drain; stop it with SIGTERM",
        ))
    }

    async fn reload_engines(&self) -> Result<(u64, Vec<mdcore::EngineInfo>), BackendError> {
        let engines = self.scanner.reload().await.map_err(failed)?;
        Ok((self.reloads.fetch_add(1, Ordering::Relaxed) + 1, engines))
    }

    async fn nodes(&self) -> Vec<NodeStatus> {
        vec![mdcluster::sysinfo::node_status(
            "local",
            &self.cfg.listen.to_string(),
            &self.scanner.engines(),
            self.free_disk(),
            self.queued(),
            self.cfg.queue_size,
        )]
    }

    fn finished(&self) -> broadcast::Receiver<String> {
        self.finished.subscribe()
    }

    async fn next_callback(&self, wait: Duration) -> Option<Callback> {
        let take = || {
            let id = self.callbacks.lock().ok()?.pop_front()?;
            Some(Callback {
                key: id.clone(),
                data_id: id,
            })
        };
        if let Some(cb) = take() {
            return Some(cb);
        }
        let _ = tokio::time::timeout(wait, self.callback_ready.notified()).await;
        take()
    }

    async fn delivered(&self, cb: &Callback) {
        if let Err(e) = self.store.callback_done(&cb.key) {
            eprintln!("mdscan: {e}");
        }
    }
}
