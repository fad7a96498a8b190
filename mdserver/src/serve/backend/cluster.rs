//! The cluster backend (`mdscan gateway`): uploads go to the shared blob
//! store, scans are recorded in Redis and published as tasks on RabbitMQ;
//! `mdscan worker`s do the scanning and write results back to Redis, where
//! every gateway reads them. Finished scans arrive as events on a Redis
//! stream (mdcluster's `events`), tailed by every gateway; callbacks are
//! taken from it through a consumer group, so they are delivered even when
//! the gateway that accepted the file is gone.
//!
//! While RabbitMQ or Redis is unreachable, new uploads are refused with 503
//! before their body is read; an accepted upload is always stored and
//! queued.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mdcluster::events::Events;
use mdcluster::queue::Publisher;
use mdcluster::{Blobs, Endpoints, LocalBlob, Task};
use tokio::sync::{Mutex, broadcast};

use super::{
    AuditEvent, AuditQuery, Backend, BackendError, Batch, BatchEnd, Callback, Entry, HistoryPage,
    HistoryQuery, NodeStatus, Pager, RecordKind, Scan, Session, State as ScanState, failed_report,
    now_ms,
};
use crate::serve::config::Config;
use crate::serve::engines::LiveScanner;

pub(crate) struct Cluster {
    cfg: Config,
    /// Describes the engines (the gateway scans nothing), and checks a
    /// reload's definitions before the workers are asked to load them.
    scanner: LiveScanner,
    state: mdcluster::State,
    events: Events,
    blobs: Blobs,
    publisher: Arc<Publisher>,
    tmp: PathBuf,
    /// This gateway's name in the callbacks consumer group.
    consumer: String,
    /// Tasks waiting in RabbitMQ, refreshed every second.
    depth: Arc<AtomicUsize>,
    /// RabbitMQ and Redis answered at the last check.
    up: Arc<AtomicBool>,
    finished: broadcast::Sender<String>,
    /// Callbacks claimed and not yet handed out.
    claimed: Mutex<std::collections::VecDeque<mdcluster::events::Event>>,
}

fn failed(e: impl std::fmt::Display) -> BackendError {
    BackendError::failed(e)
}

impl Cluster {
    /// Connects (lazily) and starts the monitor and the event tail.
    pub(crate) fn start(cfg: Config, endpoints: &Endpoints) -> Result<Arc<Cluster>, String> {
        let scanner = LiveScanner::new(&cfg, 1)?;
        endpoints.tls.check().map_err(|e| e.to_string())?;
        let state = endpoints.state().map_err(|e| e.to_string())?;
        let events = state.events().map_err(|e| e.to_string())?;
        let blobs = endpoints.blobs().map_err(|e| e.to_string())?;
        let tmp = cfg.data_dir().join("gateway-tmp");
        // Uploads a crashed gateway left half-written.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("can not create {}: {e}", tmp.display()))?;
        let publisher = endpoints.publisher();
        let consumer = format!("{}-{}", mdcluster::sysinfo::hostname(), std::process::id());
        let c = Arc::new(Cluster {
            cfg,
            scanner,
            state,
            events,
            blobs,
            publisher,
            tmp,
            consumer,
            depth: Arc::new(AtomicUsize::new(0)),
            up: Arc::new(AtomicBool::new(false)),
            finished: broadcast::channel(1024).0,
            claimed: Mutex::new(std::collections::VecDeque::new()),
        });
        c.spawn_monitor();
        // The tail blocks on its own connection, so it never waits behind
        // the callbacks' blocking reads (nor they behind it).
        c.spawn_tail(c.state.events().map_err(|e| e.to_string())?);
        Ok(c)
    }

    /// Watches the services: queue depth and reachability, every second.
    fn spawn_monitor(&self) {
        let publisher = self.publisher.clone();
        let state = self.state.clone();
        let depth = self.depth.clone();
        let up = self.up.clone();
        tokio::spawn(async move {
            let mut was_up = true;
            loop {
                let q = publisher.depth().await;
                let r = state.ping().await;
                let now_up = q.is_ok() && r;
                if let Ok(n) = q {
                    depth.store(usize::try_from(n).unwrap_or(usize::MAX), Ordering::Relaxed);
                }
                if now_up != was_up {
                    match (&q, now_up) {
                        (_, true) => eprintln!("mdscan gateway: RabbitMQ and Redis reachable"),
                        (Err(e), false) => eprintln!("mdscan gateway: {e}; uploads get 503"),
                        (Ok(_), false) => {
                            eprintln!("mdscan gateway: Redis unreachable; uploads get 503")
                        }
                    }
                    was_up = now_up;
                }
                up.store(now_up, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Tails the "finished" stream and wakes this gateway's waiters.
    fn spawn_tail(&self, events: Events) {
        let tx = self.finished.clone();
        tokio::spawn(async move {
            let mut after: Option<String> = None;
            loop {
                let from = match &after {
                    Some(a) => a.clone(),
                    None => match events.last().await {
                        Ok(l) => {
                            after = Some(l.clone());
                            l
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    },
                };
                match events.tail(&from, Duration::from_secs(5)).await {
                    Ok(list) => {
                        for e in list {
                            after = Some(e.entry.clone());
                            let _ = tx.send(e.data_id);
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        });
    }

    fn task(&self, scan: &Scan) -> Result<Task, BackendError> {
        let Some(workflow) = self.cfg.workflow(&scan.workflow) else {
            return Err(failed("the workflow no longer exists"));
        };
        Ok(Task {
            root: scan.data_id.clone(),
            token: None,
            blob: mdcluster::upload_key(&scan.sha256),
            name: scan.display_name.clone(),
            size: scan.file_size,
            origin: None,
            limits: workflow.limits(),
            passwords: scan
                .passwords
                .iter()
                .chain(&workflow.passwords)
                .cloned()
                .collect(),
            deadline_ms: 0,
            sanitize: workflow.sanitize.clone(),
            block_codes: workflow.block_codes.clone(),
        })
    }
}

impl Backend for Cluster {
    fn queued(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn accepting(&self) -> bool {
        self.up.load(Ordering::Relaxed) && self.queued() < self.cfg.queue_size
    }

    async fn healthy(&self) -> bool {
        self.state.ping().await && self.publisher.depth().await.is_ok()
    }

    fn engines(&self) -> Vec<mdcore::EngineInfo> {
        self.scanner.engines()
    }

    /// Free space where uploads land first (the gateway's temporary
    /// directory); an object store reports none of its own.
    fn free_disk(&self) -> u64 {
        fs4::available_space(&self.tmp).unwrap_or(0)
    }

    fn tmp_path(&self, id: &str) -> PathBuf {
        self.tmp.join(id)
    }

    async fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), BackendError> {
        let key = mdcluster::upload_key(sha256);
        let stored = match self.blobs.exists(&key).await {
            Ok(true) => Ok(()),
            _ => self
                .blobs
                .put_file(&key, tmp)
                .await
                .map_err(|e| BackendError::Busy(e.to_string())),
        };
        let _ = tokio::fs::remove_file(tmp).await;
        stored
    }

    async fn blob(&self, sha256: &str) -> Result<LocalBlob, BackendError> {
        self.blobs
            .fetch(&mdcluster::upload_key(sha256), &self.tmp)
            .await
            .map_err(failed)
    }

    async fn submit(&self, scan: Scan) -> Result<(), BackendError> {
        if !self.accepting() {
            return Err(BackendError::Busy("the cluster is not accepting".into()));
        }
        let task = self.task(&scan)?;
        let meta = serde_json::to_string(&scan).map_err(failed)?;
        let task_json = serde_json::to_string(&task).map_err(failed)?;
        if let Err(e) = self
            .state
            .create_scan(&scan.data_id, &meta, &task_json, &scan.sha256)
            .await
        {
            return Err(BackendError::Busy(e.to_string()));
        }
        if let Err(e) = self.publisher.publish(&task).await {
            let _ = self.state.drop_scan(&scan.data_id).await;
            return Err(BackendError::Busy(e.to_string()));
        }
        Ok(())
    }

    async fn entry(&self, id: &str) -> Result<Option<Entry>, BackendError> {
        if let Some(s) = self.scan(id).await? {
            return Ok(Some(Entry::Root(Box::new(s))));
        }
        Ok(self
            .state
            .child(id)
            .await
            .map_err(failed)?
            .map(|c| Entry::Child {
                root_id: c.root_id,
                path: c.path,
            }))
    }

    async fn scan(&self, id: &str) -> Result<Option<Scan>, BackendError> {
        let Some(rec) = self.state.scan(id).await.map_err(failed)? else {
            return Ok(None);
        };
        let Ok(mut scan) = serde_json::from_str::<Scan>(&rec.meta) else {
            return Ok(None);
        };
        scan.state = match rec.state.as_str() {
            "done" => ScanState::Done,
            "processing" => ScanState::Processing,
            _ => ScanState::Queued,
        };
        scan.report = rec.report;
        scan.started_ms = rec.started_ms;
        scan.finished_ms = rec.finished_ms;
        scan.cancel_requested = rec.cancel;
        if scan.state == ScanState::Done && scan.report.is_none() {
            scan.report = Some(failed_report(
                &scan.display_name,
                "the result is unreadable",
            ));
        }
        Ok(Some(scan))
    }

    async fn history(
        &self,
        q: &HistoryQuery,
        keep: &(dyn Fn(&Scan) -> bool + Send + Sync),
    ) -> Result<HistoryPage, BackendError> {
        const CHUNK: usize = 200;
        let mut pager = Pager::new(q, keep);
        let mut offset = 0;
        'walk: loop {
            let ids = self
                .state
                .history(q.from_ms, q.to_ms, offset, CHUNK)
                .await
                .map_err(failed)?;
            for id in &ids {
                if !pager.offer(self.scan(id).await?) {
                    break 'walk;
                }
            }
            if ids.len() < CHUNK {
                break;
            }
            offset += CHUNK;
        }
        Ok(pager.finish())
    }

    async fn by_hash(&self, hash: &str) -> Result<Option<String>, BackendError> {
        self.state.by_hash(hash).await.map_err(failed)
    }

    async fn progress(&self, id: &str) -> u8 {
        self.state.progress(id).await.unwrap_or(0)
    }

    async fn cancel(&self, id: &str) -> bool {
        self.state.cancel(id).await.unwrap_or(false)
    }

    async fn open_batch(&self, b: &Batch) -> Result<(), BackendError> {
        let json = serde_json::to_string(b).map_err(failed)?;
        self.state
            .create_batch(&b.batch_id, &json)
            .await
            .map_err(failed)
    }

    async fn batch(&self, id: &str) -> Result<Option<Batch>, BackendError> {
        let Some(rec) = self.state.batch(id).await.map_err(failed)? else {
            return Ok(None);
        };
        let Ok(mut b) = serde_json::from_str::<Batch>(&rec.doc) else {
            return Ok(None);
        };
        b.is_closed = rec.closed;
        b.cancelled = rec.cancelled;
        b.files = rec.files;
        Ok(Some(b))
    }

    async fn batch_add(&self, id: &str, data_id: &str) -> Result<bool, BackendError> {
        self.state.batch_add(id, data_id).await.map_err(failed)
    }

    async fn batch_end(&self, id: &str, end: BatchEnd) -> Result<Option<Batch>, BackendError> {
        if !self
            .state
            .batch_end(id, end == BatchEnd::Cancel)
            .await
            .map_err(failed)?
        {
            return Ok(None);
        }
        self.batch(id).await
    }

    async fn put_session(&self, id: &str, s: &Session) -> Result<(), BackendError> {
        let json = serde_json::to_string(s).map_err(failed)?;
        let ttl = s.expires_ms.saturating_sub(now_ms()) / 1000;
        self.state
            .put_doc("session", id, &json, ttl)
            .await
            .map_err(failed)
    }

    async fn session(&self, id: &str) -> Option<Session> {
        let json = self.state.doc("session", id).await.ok()??;
        let s: Session = serde_json::from_str(&json).ok()?;
        (s.expires_ms > now_ms()).then_some(s)
    }

    async fn drop_session(&self, id: &str) {
        let _ = self.state.drop_doc("session", id).await;
    }

    async fn login_failures(&self, key: &str) -> u64 {
        // Redis unreachable: no session could be stored either; refuse.
        self.state
            .hits(&format!("login:{key}"))
            .await
            .unwrap_or(u64::MAX)
    }

    async fn login_failed(&self, key: &str, window: Duration) {
        let _ = self.state.hit(&format!("login:{key}"), window).await;
    }

    /// One gateway at a time (a lock in Redis): the reconciler's pass, then
    /// the retention sweep of the blob store. Redis expires results itself.
    async fn sweep(&self) -> Option<String> {
        let every = Duration::from_secs(self.cfg.sweep_interval_secs);
        match self.state.lock("upkeep", &self.consumer, every * 2).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(format!("upkeep skipped: {e}")),
        }
        let rc = mdcluster::upkeep::ReconcileConfig {
            stuck_after: Duration::from_secs(self.cfg.cluster.stuck_after_secs),
            max_requeues: self.cfg.cluster.max_requeues,
        };
        let mut said = Vec::new();
        match mdcluster::upkeep::reconcile(&self.state, &self.publisher, &rc).await {
            Ok(r) if !r.requeued.is_empty() || !r.failed.is_empty() => said.push(format!(
                "reconciler: {} stuck scan(s) published again, {} stored as Failed",
                r.requeued.len(),
                r.failed.len()
            )),
            Ok(_) => {}
            Err(e) => said.push(format!("reconciler: {e}")),
        }
        let audit_keep = self.cfg.audit_retention_secs.saturating_mul(1000);
        if let Err(e) = self
            .state
            .audit_trim(now_ms().saturating_sub(audit_keep))
            .await
        {
            said.push(format!("audit trim: {e}"));
        }
        let keep = Duration::from_secs(self.cfg.file_retention_secs);
        match mdcluster::upkeep::sweep(&self.state, &self.blobs, keep).await {
            Ok(s) if s.uploads + s.children > 0 => said.push(format!(
                "retention: removed {} upload(s) and {} child blob(s)",
                s.uploads, s.children
            )),
            Ok(_) => {}
            Err(e) => said.push(format!("retention sweep: {e}")),
        }
        (!said.is_empty()).then(|| said.join("; "))
    }

    async fn audit(&self, e: &AuditEvent) {
        let r = match serde_json::to_string(e) {
            Ok(json) => self.state.audit_add(e.time_ms, &json).await,
            Err(err) => Err(mdcluster::Error::Redis(err.to_string())),
        };
        if let Err(err) = r {
            eprintln!("mdscan gateway: can not write the audit log: {err}");
        }
    }

    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, BackendError> {
        // Read in pages by stream id, filtering, until `limit` match or
        // the range ends (the id cursor never skips entries that share a
        // millisecond).
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        let mut end = format!("{}-18446744073709551615", q.to_ms);
        loop {
            let page = self
                .state
                .audit_page(q.from_ms, &end, PAGE)
                .await
                .map_err(failed)?;
            let n = page.len();
            let last = page.last().map(|(id, _)| id.clone());
            for (_, json) in page {
                let Ok(e) = serde_json::from_str::<AuditEvent>(&json) else {
                    continue;
                };
                if q.matches(&e) {
                    out.push(e);
                    if out.len() >= q.limit {
                        return Ok(out);
                    }
                }
            }
            match last {
                Some(id) if n == PAGE => end = format!("({id}"),
                _ => return Ok(out),
            }
        }
    }

    async fn record(&self, kind: RecordKind, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.state.record(kind.as_str(), key).await.map_err(failed)
    }

    async fn records(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.state.records(kind.as_str()).await.map_err(failed)
    }

    async fn has_records(&self, kind: RecordKind) -> Result<bool, BackendError> {
        self.state.has_records(kind.as_str()).await.map_err(failed)
    }

    async fn put_record(
        &self,
        kind: RecordKind,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> Result<bool, BackendError> {
        self.state
            .put_record(kind.as_str(), key, value, only_new)
            .await
            .map_err(failed)
    }

    async fn delete_record(&self, kind: RecordKind, key: &str) -> Result<bool, BackendError> {
        self.state
            .drop_record(kind.as_str(), key)
            .await
            .map_err(failed)
    }

    async fn drain(&self, node: &str) -> Result<bool, BackendError> {
        self.state.request_drain(node).await.map_err(failed)
    }

    /// Compiled here first, so definitions that do not compile never
    /// reach the workers.
    async fn reload_engines(&self) -> Result<(u64, Vec<mdcore::EngineInfo>), BackendError> {
        let engines = self.scanner.reload().await.map_err(failed)?;
        let n = self
            .state
            .request_engine_reload()
            .await
            .map_err(|e| BackendError::Busy(e.to_string()))?;
        Ok((n, engines))
    }

    async fn nodes(&self) -> Vec<NodeStatus> {
        self.state.nodes().await.unwrap_or_default()
    }

    fn finished(&self) -> broadcast::Receiver<String> {
        self.finished.subscribe()
    }

    async fn next_callback(&self, wait: Duration) -> Option<Callback> {
        let mut q = self.claimed.lock().await;
        if q.is_empty() {
            match self.events.claim(&self.consumer, wait).await {
                Ok(list) => q.extend(list),
                Err(_) => {
                    tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                    return None;
                }
            }
        }
        q.pop_front().map(|e| Callback {
            key: e.entry,
            data_id: e.data_id,
        })
    }

    async fn delivered(&self, cb: &Callback) {
        if let Err(e) = self.events.ack(&cb.key).await {
            eprintln!("mdscan gateway: {e}");
        }
    }
}
