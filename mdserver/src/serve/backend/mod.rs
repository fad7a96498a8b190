//! The backend contract: what the HTTP layer (`api/`) may ask of whatever
//! holds scans. Two implementations sit below it and never reach up:
//! [`local`] (`mdscan serve`: embedded store, in-process queue and workers)
//! and [`cluster`] (`mdscan gateway`: Redis, RabbitMQ and the shared blob
//! store, with `mdscan worker`s doing the scanning).
//!
//! The records here (scans, batches) are plain data; result documents are
//! rendered from them by `serve::doc`, never by a backend.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub(crate) mod cluster;
pub(crate) mod local;

/// A stored file, readable as a local file while this value lives.
pub(crate) type BlobFile = mdcluster::LocalBlob;

/// Why a backend could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    /// The queue is full or a service it needs is down: try again later.
    #[error("{0}")]
    Busy(String),
    /// Anything else (a store that failed, a record that does not parse).
    #[error("{0}")]
    Failed(String),
}

impl BackendError {
    pub(crate) fn failed(e: impl std::fmt::Display) -> BackendError {
        BackendError::Failed(e.to_string())
    }
}

/// Where a scan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum State {
    Queued,
    Processing,
    Done,
}

/// One submitted file and, once done, its report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Scan {
    pub(crate) data_id: String,
    pub(crate) batch_id: Option<String>,
    pub(crate) owner: Option<String>,
    pub(crate) display_name: String,
    pub(crate) file_size: u64,
    pub(crate) file_type: String,
    pub(crate) file_type_description: String,
    pub(crate) md5: String,
    pub(crate) sha1: String,
    pub(crate) sha256: String,
    pub(crate) upload_timestamp: String,
    pub(crate) upload_ms: u64,
    pub(crate) workflow: String,
    pub(crate) user_agent: String,
    pub(crate) username: String,
    pub(crate) passwords: Vec<String>,
    pub(crate) metadata: Option<String>,
    pub(crate) callback_url: Option<String>,
    /// Why `callback_url` will not be called (not an allowed address).
    #[serde(default)]
    pub(crate) callback_refused: Option<String>,
    pub(crate) state: State,
    pub(crate) cancel_requested: bool,
    pub(crate) started_ms: Option<u64>,
    pub(crate) finished_ms: Option<u64>,
    pub(crate) report: Option<mdcore::Report>,
}

/// What a data_id names: a submitted file, or an object inside one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Entry {
    Root(Box<Scan>),
    /// An extracted object: the root scan and the child indexes leading to it.
    Child {
        root_id: String,
        path: Vec<u32>,
    },
}

/// A batch of files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Batch {
    pub(crate) batch_id: String,
    pub(crate) owner: Option<String>,
    pub(crate) workflow: String,
    pub(crate) user_agent: String,
    pub(crate) user_data: String,
    pub(crate) is_closed: bool,
    pub(crate) cancelled: bool,
    pub(crate) start_time: String,
    pub(crate) start_ms: u64,
    pub(crate) files: Vec<String>,
}

/// What a batch is asked to become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchEnd {
    Close,
    Cancel,
}

/// A login session, kept by the backend so it survives a restart and is
/// seen by every gateway of a cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) admin: bool,
    /// Milliseconds since the epoch.
    pub(crate) expires_ms: u64,
}

/// A finished scan whose `callbackurl` is still owed a delivery. The
/// backend keeps it until [`Backend::delivered`] (at least once: a process
/// that dies before that leaves it for the next one).
#[derive(Clone, Debug)]
pub(crate) struct Callback {
    /// The backend's handle of this delivery.
    pub(crate) key: String,
    pub(crate) data_id: String,
}

/// One entry of the audit log: who did what, when, from where, and how it
/// ended. Append-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditEvent {
    /// Milliseconds since the epoch.
    pub(crate) time_ms: u64,
    /// The user or key identity (`apikey-…`); `None` on an open server or
    /// before sign-in.
    pub(crate) user: Option<String>,
    /// The client's address.
    pub(crate) address: Option<String>,
    /// `login`, `logout`, `download`, `cancel`, …
    pub(crate) action: String,
    /// What it was done to (a data_id, a batch id, a user name).
    pub(crate) target: Option<String>,
    /// `ok`, `denied`, `failed`, `limited`, or an HTTP status.
    pub(crate) outcome: String,
}

/// Which audit entries to read: newest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditQuery {
    pub(crate) from_ms: u64,
    pub(crate) to_ms: u64,
    pub(crate) user: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) limit: usize,
}

impl AuditQuery {
    pub(crate) fn matches(&self, e: &AuditEvent) -> bool {
        e.time_ms >= self.from_ms
            && e.time_ms <= self.to_ms
            && self
                .user
                .as_ref()
                .is_none_or(|u| e.user.as_ref() == Some(u))
            && self.action.as_ref().is_none_or(|a| &e.action == a)
    }
}

/// The kinds of small durable records the identity service keeps through
/// a backend (in redb for `serve`, in Redis hashes for a cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RecordKind {
    /// A user made through the API, by name.
    User,
    /// An API key, by the SHA-256 of its secret.
    ApiKey,
    /// A workflow edited through the API, by its name in lower case.
    Workflow,
}

impl RecordKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RecordKind::User => "user",
            RecordKind::ApiKey => "apikey",
            RecordKind::Workflow => "workflow",
        }
    }
}

/// Which scans a history read walks: submitted in `from_ms..=to_ms`,
/// newest first; the caller's filter decides which count.
#[derive(Clone, Debug)]
pub(crate) struct HistoryQuery {
    pub(crate) from_ms: u64,
    pub(crate) to_ms: u64,
    /// Matching scans skipped, then returned.
    pub(crate) first: usize,
    pub(crate) size: usize,
    /// Scans looked at before the read stops (a bound on one request).
    pub(crate) max_examined: usize,
}

/// One page of the history.
#[derive(Debug, Default)]
pub(crate) struct HistoryPage {
    pub(crate) scans: Vec<Scan>,
    /// More matching scans follow (or the walk stopped at `max_examined`
    /// before it could tell).
    pub(crate) more: bool,
    /// The walk stopped at `max_examined`: older scans were not looked at.
    pub(crate) truncated: bool,
}

/// Builds a history page from scans offered newest first (what both
/// backends' `history` do over their own time index).
pub(crate) struct Pager<'a> {
    q: &'a HistoryQuery,
    keep: &'a (dyn Fn(&Scan) -> bool + Send + Sync),
    page: HistoryPage,
    matched: usize,
    examined: usize,
}

impl<'a> Pager<'a> {
    pub(crate) fn new(
        q: &'a HistoryQuery,
        keep: &'a (dyn Fn(&Scan) -> bool + Send + Sync),
    ) -> Self {
        Pager {
            q,
            keep,
            page: HistoryPage::default(),
            matched: 0,
            examined: 0,
        }
    }

    /// Takes the next scan (`None`: listed but gone); `false` when the
    /// page is complete and no more are wanted.
    pub(crate) fn offer(&mut self, scan: Option<Scan>) -> bool {
        if self.examined >= self.q.max_examined {
            self.page.truncated = true;
            self.page.more = true;
            return false;
        }
        self.examined += 1;
        let Some(scan) = scan else { return true };
        if !(self.keep)(&scan) {
            return true;
        }
        if self.matched >= self.q.first + self.q.size {
            self.page.more = true;
            return false;
        }
        if self.matched >= self.q.first {
            self.page.scans.push(scan);
        }
        self.matched += 1;
        true
    }

    pub(crate) fn finish(self) -> HistoryPage {
        self.page
    }
}

/// A node's status for `GET /stat/nodes`.
pub(crate) type NodeStatus = serde_json::Value;

/// One set of methods over either backend. Every future is `Send`, so the
/// HTTP layer can run them on any tokio worker.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Scans accepted and waiting for a worker.
    fn queued(&self) -> usize;
    /// Whether a new scan would be taken now (queue room, services up).
    fn accepting(&self) -> bool;
    /// Whether the store (and in a cluster the broker) answers.
    fn healthy(&self) -> impl Future<Output = bool> + Send;
    /// The engines scans run with (in a cluster, the gateway's copy of
    /// them; each worker reports its own in `nodes`).
    fn engines(&self) -> Vec<mdcore::EngineInfo>;
    /// Free bytes where uploads are kept.
    fn free_disk(&self) -> u64;

    /// A fresh local path for an upload in progress.
    fn tmp_path(&self, id: &str) -> PathBuf;
    /// Keeps a finished upload under its SHA-256 (the temporary file is
    /// gone afterwards either way).
    fn keep_blob(
        &self,
        tmp: &Path,
        sha256: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// The stored file with this SHA-256.
    fn blob(&self, sha256: &str) -> impl Future<Output = Result<BlobFile, BackendError>> + Send;

    /// Records a new scan durably, then queues it.
    fn submit(&self, scan: Scan) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// What `id` names: a submitted file or an object inside one.
    fn entry(&self, id: &str) -> impl Future<Output = Result<Option<Entry>, BackendError>> + Send;
    /// The submitted file `id`.
    fn scan(&self, id: &str) -> impl Future<Output = Result<Option<Scan>, BackendError>> + Send;
    /// The latest data_id with this MD5, SHA-1 or SHA-256 (lower-case hex).
    fn by_hash(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;
    /// Progress of a running scan, 0..=99.
    fn progress(&self, id: &str) -> impl Future<Output = u8> + Send;
    /// Cancels a queued or running scan; `false` when it is done or unknown.
    fn cancel(&self, id: &str) -> impl Future<Output = bool> + Send;

    /// Submitted scans, newest first, that `keep` accepts (see
    /// [`HistoryQuery`]).
    fn history(
        &self,
        q: &HistoryQuery,
        keep: &(dyn Fn(&Scan) -> bool + Send + Sync),
    ) -> impl Future<Output = Result<HistoryPage, BackendError>> + Send;

    /// Stores a new batch.
    fn open_batch(&self, b: &Batch) -> impl Future<Output = Result<(), BackendError>> + Send;
    fn batch(&self, id: &str) -> impl Future<Output = Result<Option<Batch>, BackendError>> + Send;
    /// Appends a scan to an open batch, atomically: `false` when the batch
    /// is unknown, closed or cancelled (nothing is appended then).
    fn batch_add(
        &self,
        id: &str,
        data_id: &str,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
    /// Closes or cancels a batch, atomically, and returns it as it is now.
    fn batch_end(
        &self,
        id: &str,
        end: BatchEnd,
    ) -> impl Future<Output = Result<Option<Batch>, BackendError>> + Send;

    /// Stores a login session until it expires.
    fn put_session(
        &self,
        id: &str,
        s: &Session,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// A live session; `None` when unknown or expired.
    fn session(&self, id: &str) -> impl Future<Output = Option<Session>> + Send;
    fn drop_session(&self, id: &str) -> impl Future<Output = ()> + Send;

    /// Failed logins recorded for `key` (an address or a user name) in
    /// the current window; in a cluster, counted by every gateway together.
    fn login_failures(&self, key: &str) -> impl Future<Output = u64> + Send;
    /// Records a failed login for `key`; the count lapses `window` after
    /// the first failure.
    fn login_failed(&self, key: &str, window: Duration) -> impl Future<Output = ()> + Send;

    /// Removes what is past the retention: results, batches, sessions and
    /// uploads nothing needs; in a cluster also the reconciler's pass.
    /// Returns a line for the log when something was done.
    fn sweep(&self) -> impl Future<Output = Option<String>> + Send;

    /// Appends to the audit log (durably; a failure is logged, never
    /// silent).
    fn audit(&self, e: &AuditEvent) -> impl Future<Output = ()> + Send;
    /// Audit entries matching `q`, newest first.
    fn audit_log(
        &self,
        q: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, BackendError>> + Send;

    /// A stored record.
    fn record(
        &self,
        kind: RecordKind,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, BackendError>> + Send;
    /// Every record of a kind, as (key, value).
    fn records(
        &self,
        kind: RecordKind,
    ) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>, BackendError>> + Send;
    /// Whether any record of a kind exists (without reading them).
    fn has_records(
        &self,
        kind: RecordKind,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
    /// Stores a record durably. With `only_new`, nothing is written and
    /// `Ok(false)` returned when the key exists (atomically).
    fn put_record(
        &self,
        kind: RecordKind,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
    /// Removes a record: `Ok(false)` when there was none.
    fn delete_record(
        &self,
        kind: RecordKind,
        key: &str,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// Asks a worker to drain (stop taking tasks, finish what it holds,
    /// leave): `Ok(false)` when no live worker has that name; an error where
    /// there is nothing to drain (a standalone server).
    fn drain(&self, node: &str) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// Reads the detection definitions (YARA rules, hash lists) again from
    /// the configured paths and puts them in force for scans that start
    /// from now on; in a cluster every worker follows at its next
    /// heartbeat. Returns the reload's number and the engines now in
    /// force. Definitions that do not compile are a `Failed` error and
    /// change nothing.
    fn reload_engines(
        &self,
    ) -> impl Future<Output = Result<(u64, Vec<mdcore::EngineInfo>), BackendError>> + Send;

    /// This process, or the cluster's live workers.
    fn nodes(&self) -> impl Future<Output = Vec<NodeStatus>> + Send;
    /// The data_ids of scans as they finish, on this node or any.
    fn finished(&self) -> broadcast::Receiver<String>;
    /// The next owed callback, waiting up to `wait`.
    fn next_callback(&self, wait: Duration) -> impl Future<Output = Option<Callback>> + Send;
    /// The callback was sent, or given up on: forget it.
    fn delivered(&self, cb: &Callback) -> impl Future<Output = ()> + Send;
}

pub(crate) use mdcluster::child_id;

/// Counts per key in fixed windows, in memory: the login limit of a single
/// process (the cluster keeps its counts in Redis).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    m: Mutex<HashMap<String, (Instant, Duration, u64)>>,
}

impl Counters {
    pub(crate) fn get(&self, key: &str) -> u64 {
        let Ok(mut m) = self.m.lock() else {
            return u64::MAX;
        };
        let now = Instant::now();
        m.retain(|_, (since, window, _)| now.duration_since(*since) < *window);
        m.get(key).map_or(0, |(_, _, n)| *n)
    }

    pub(crate) fn add(&self, key: &str, window: Duration) {
        if let Ok(mut m) = self.m.lock() {
            let e = m
                .entry(key.to_string())
                .or_insert((Instant::now(), window, 0));
            e.2 = e.2.saturating_add(1);
        }
    }
}

/// A report for a root that could not be scanned at all (code 3).
pub(crate) fn failed_report(name: &str, why: &str) -> mdcore::Report {
    mdcore::Report::unscanned(name, mdcore::ResultCode::Failed, why)
}

/// Milliseconds since the epoch as ISO 8601, as MetaDefender shows times.
pub(crate) fn iso(ms: u64) -> String {
    mdcore::iso8601(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

pub(crate) fn now_ms() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 32 lower-case hex characters from the OS random source.
pub(crate) fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    mdcore::hex(&bytes)
}
