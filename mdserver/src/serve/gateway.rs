//! The cluster backend of the HTTP API (`mdscan gateway`): uploads go to
//! the shared blob store, scans are recorded in Redis and published as
//! tasks on RabbitMQ; `mdscan worker`s do the scanning and write results
//! back to Redis, where every gateway reads them.
//!
//! While RabbitMQ or Redis is unreachable, new uploads are refused with 503
//! before their body is read; an accepted upload is always stored and
//! queued.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mdcluster::queue::{Names, Publisher};
use mdcluster::{Blobs, Endpoints, LocalBlob, Task};

use super::app::{App, Refused};
use super::config::Config;
use super::store::{Batch, Entry, Scan, State as ScanState};

pub(crate) struct Gateway {
    state: mdcluster::State,
    blobs: Blobs,
    publisher: Arc<Publisher>,
    tmp: PathBuf,
    /// Tasks waiting in RabbitMQ, refreshed every second.
    depth: Arc<AtomicUsize>,
    /// RabbitMQ and Redis answered at the last check.
    up: Arc<AtomicBool>,
}

impl Gateway {
    pub(crate) fn new(cfg: &Config, endpoints: Endpoints) -> Result<Gateway, String> {
        let state = mdcluster::State::new(
            &endpoints.redis_url,
            &endpoints.namespace,
            endpoints.retention_s,
        )
        .map_err(|e| e.to_string())?;
        let blobs = Blobs::from_url(&endpoints.blob_url).map_err(|e| e.to_string())?;
        let tmp = cfg.data_dir().join("gateway-tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("can not create {}: {e}", tmp.display()))?;
        let publisher = Publisher::new(&endpoints.amqp_url, Names::new(&endpoints.namespace));
        Ok(Gateway {
            state,
            blobs,
            publisher,
            tmp,
            depth: Arc::new(AtomicUsize::new(0)),
            up: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Watches the services: queue depth and reachability, every second.
    pub(crate) fn spawn_monitor(&self) {
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

    pub(crate) fn queued(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub(crate) fn ready(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub(crate) async fn healthy(&self) -> bool {
        self.state.ping().await && self.publisher.depth().await.is_ok()
    }

    pub(crate) async fn submit(&self, app: &Arc<App>, scan: Scan) -> Result<(), Refused> {
        let Some(workflow) = app.cfg.workflow(&scan.workflow) else {
            return Err(Refused::Store("the workflow no longer exists".into()));
        };
        let meta = serde_json::to_string(&scan).map_err(|e| Refused::Store(e.to_string()))?;
        let task = Task {
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
        };
        if let Err(e) = self.state.create_scan(&scan.data_id, &meta).await {
            eprintln!("mdscan gateway: {e}");
            return Err(Refused::Busy);
        }
        if let Err(e) = self.publisher.publish(&task).await {
            eprintln!("mdscan gateway: {e}");
            let _ = self.state.drop_scan(&scan.data_id).await;
            return Err(Refused::Busy);
        }
        if let Some(url) = scan.callback_url.clone() {
            // The callback is sent by the gateway that accepted the file,
            // when a worker has stored the result.
            let app = app.clone();
            let id = scan.data_id.clone();
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
                while tokio::time::Instant::now() < deadline {
                    if let Ok(Some(s)) = app.get_scan(&id).await
                        && s.state == ScanState::Done
                    {
                        let doc = super::api::root_document(&app, &s);
                        super::webhook::deliver(url, doc).await;
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        Ok(())
    }

    pub(crate) async fn get_scan(&self, id: &str) -> Result<Option<Scan>, String> {
        let Some(rec) = self.state.scan(id).await.map_err(|e| e.to_string())? else {
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
            scan.report = Some(super::app::failed_report(
                &scan.display_name,
                "the result is unreadable",
            ));
        }
        Ok(Some(scan))
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Entry>, String> {
        if let Some(s) = self.get_scan(id).await? {
            return Ok(Some(Entry::Root(Box::new(s))));
        }
        Ok(self
            .state
            .child(id)
            .await
            .map_err(|e| e.to_string())?
            .map(|c| Entry::Child {
                root_id: c.root_id,
                path: c.path,
            }))
    }

    pub(crate) async fn by_hash(&self, hash: &str) -> Result<Option<String>, String> {
        self.state.by_hash(hash).await.map_err(|e| e.to_string())
    }

    pub(crate) async fn get_batch(&self, id: &str) -> Result<Option<Batch>, String> {
        let doc = self
            .state
            .doc("batch", id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(doc.and_then(|d| serde_json::from_str(&d).ok()))
    }

    pub(crate) async fn put_batch(&self, b: &Batch) -> Result<(), String> {
        let json = serde_json::to_string(b).map_err(|e| e.to_string())?;
        self.state
            .put_doc("batch", &b.batch_id, &json)
            .await
            .map_err(|e| e.to_string())
    }

    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.tmp.join(id)
    }

    pub(crate) async fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), String> {
        let key = mdcluster::upload_key(sha256);
        let stored = match self.blobs.exists(&key).await {
            Ok(true) => Ok(()),
            _ => self
                .blobs
                .put_file(&key, tmp)
                .await
                .map_err(|e| e.to_string()),
        };
        let _ = tokio::fs::remove_file(tmp).await;
        stored
    }

    pub(crate) async fn blob(&self, sha256: &str) -> Result<LocalBlob, String> {
        self.blobs
            .fetch(&mdcluster::upload_key(sha256), &self.tmp)
            .await
            .map_err(|e| e.to_string())
    }

    pub(crate) fn free_disk(&self) -> u64 {
        self.blobs.free_space()
    }

    pub(crate) async fn nodes(&self) -> Vec<serde_json::Value> {
        self.state.nodes().await.unwrap_or_default()
    }

    pub(crate) async fn progress(&self, id: &str) -> u8 {
        self.state.progress(id).await.unwrap_or(0)
    }

    pub(crate) async fn cancel(&self, id: &str) -> bool {
        self.state.cancel(id).await.unwrap_or(false)
    }
}
