//! The embedded store of `mdscan serve`: a redb database (results, the hash
//! index, batches, the list of accepted-but-unfinished scans, callbacks
//! still owed) and a content-addressed directory of uploaded files. Every
//! write is one ACID transaction, durable when it returns, so results
//! survive a restart and a scan accepted before a crash is found again at
//! start-up. Read-modify-write steps (start, cancel, batch changes) run
//! inside one write transaction, which redb serialises: no update is lost
//! to a racing one.
//!
//! The writes of every scan (submitted, started, finished) go through one
//! writer thread that commits what is waiting together (group commit): one
//! fsync for many scans instead of one each, and each caller is answered
//! only once its write is durable. If one write of a group fails, each is
//! run again in a transaction of its own, so a failure stays with its
//! caller.
//!
//! Retention: `done` lists finished scans by finish time and `blob_use`
//! the last upload of each kept file, so [`Store::sweep`] removes what is
//! past its time without reading the rest.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::super::{
    AuditEvent, AuditQuery, Batch, BatchEnd, Entry, HistoryQuery, Pager, Scan, Session, State,
    now_ms,
};

const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("results");
const HASHES: TableDefinition<&str, &str> = TableDefinition::new("hashes");
const BATCHES: TableDefinition<&str, &[u8]> = TableDefinition::new("batches");
const PENDING: TableDefinition<&str, u64> = TableDefinition::new("pending");
/// data_id -> finish time of scans whose callback is not yet delivered.
const CALLBACKS: TableDefinition<&str, u64> = TableDefinition::new("callbacks");
/// Login sessions (JSON), expired ones dropped when a new one is stored.
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (finish time, data_id) of every finished scan: what the sweep walks.
const DONE: TableDefinition<(u64, &str), ()> = TableDefinition::new("done");
/// SHA-256 of a kept upload -> when it was last uploaded.
const BLOB_USE: TableDefinition<&str, u64> = TableDefinition::new("blob_use");

/// The audit log: (time, sequence) -> entry (JSON). Append-only; the sweep
/// drops entries past their retention.
const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit");

/// (upload time, data_id) of every submitted scan: the history, newest
/// last.
const HISTORY: TableDefinition<(u64, &str), ()> = TableDefinition::new("history");

/// (kind, key) -> value: users and API keys made through the API.
const RECORDS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("records");

/// Finished scans removed per write transaction by the sweep.
const SWEEP_CHUNK: usize = 500;

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    pub(crate) results: usize,
    pub(crate) batches: usize,
    pub(crate) files: usize,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("store: {0}")]
    Db(String),
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
}

fn dberr<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

#[derive(Debug)]
pub(crate) struct Store {
    db: Arc<Database>,
    dir: PathBuf,
    /// The group-commit writer ([`Store::write`]) and its thread, joined
    /// on drop so the database is closed when the store is.
    writer: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.writer = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes committed together at most (a bound on one transaction's size).
const GROUP_MAX: usize = 256;

/// The changes of one write, made in the transaction it is given.
type WriteFn = dyn FnMut(&WriteTransaction) -> Result<(), StoreError> + Send;

/// One write waiting for the writer thread: `run` makes its changes in the
/// group's transaction (and may run again in one of its own), `done` gets
/// the outcome once committed.
struct Job {
    run: Box<WriteFn>,
    done: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

/// The writer thread: takes what waits, runs it in one transaction, commits
/// once, answers everyone; alone again each, if one of them failed.
fn writer(db: Arc<Database>, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_MAX
            && let Ok(j) = rx.try_recv()
        {
            jobs.push(j);
        }
        let together = db.begin_write().map_err(dberr).and_then(|tx| {
            for j in &mut jobs {
                (j.run)(&tx)?;
            }
            tx.commit().map_err(dberr)
        });
        if together.is_ok() {
            for j in jobs {
                (j.done)(Ok(()));
            }
            continue;
        }
        for mut j in jobs {
            let alone = db.begin_write().map_err(dberr).and_then(|tx| {
                (j.run)(&tx)?;
                tx.commit().map_err(dberr)
            });
            (j.done)(alone);
        }
    }
}

fn root_bytes(scan: &Scan) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Entry::Root(Box::new(scan.clone()))).map_err(dberr)
}

fn read_scan(t: &impl ReadableTable<&'static str, &'static [u8]>, id: &str) -> Option<Scan> {
    let v = t.get(id).ok()??;
    match serde_json::from_slice(v.value()).ok()? {
        Entry::Root(s) => Some(*s),
        Entry::Child { .. } => None,
    }
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        let tmp = dir.join("tmp");
        // Uploads a crashed process left half-written.
        if tmp.is_dir() {
            for e in std::fs::read_dir(&tmp)?.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        std::fs::create_dir_all(&tmp)?;
        let db = Database::create(dir.join("mdscan.redb")).map_err(dberr)?;
        let tx = db.begin_write().map_err(dberr)?;
        tx.open_table(RESULTS).map_err(dberr)?;
        tx.open_table(HASHES).map_err(dberr)?;
        tx.open_table(BATCHES).map_err(dberr)?;
        tx.open_table(PENDING).map_err(dberr)?;
        tx.open_table(CALLBACKS).map_err(dberr)?;
        tx.open_table(SESSIONS).map_err(dberr)?;
        {
            // A store written before the sweep existed: list its finished
            // scans once, so they age out like new ones.
            let mut done = tx.open_table(DONE).map_err(dberr)?;
            if done.is_empty().map_err(dberr)? {
                let t = tx.open_table(RESULTS).map_err(dberr)?;
                for item in t.iter().map_err(dberr)? {
                    let (k, v) = item.map_err(dberr)?;
                    if let Ok(Entry::Root(scan)) = serde_json::from_slice::<Entry>(v.value())
                        && scan.state == State::Done
                    {
                        let at = scan.finished_ms.unwrap_or(scan.upload_ms);
                        done.insert((at, k.value()), ()).map_err(dberr)?;
                    }
                }
            }
            tx.open_table(BLOB_USE).map_err(dberr)?;
            tx.open_table(AUDIT).map_err(dberr)?;
            tx.open_table(RECORDS).map_err(dberr)?;
            // A store written before the history existed: list its scans.
            let mut h = tx.open_table(HISTORY).map_err(dberr)?;
            if h.is_empty().map_err(dberr)? {
                let t = tx.open_table(RESULTS).map_err(dberr)?;
                for item in t.iter().map_err(dberr)? {
                    let (k, v) = item.map_err(dberr)?;
                    if let Ok(Entry::Root(scan)) = serde_json::from_slice::<Entry>(v.value()) {
                        h.insert((scan.upload_ms, k.value()), ()).map_err(dberr)?;
                    }
                }
            }
        }
        tx.commit().map_err(dberr)?;
        let db = Arc::new(db);
        let (writer_tx, rx) = mpsc::channel();
        let w = db.clone();
        let thread = std::thread::Builder::new()
            .name("mdscan-store".into())
            .spawn(move || writer(w, rx))?;
        Ok(Store {
            db,
            dir: dir.to_path_buf(),
            writer: Some(writer_tx),
            thread: Some(thread),
        })
    }

    /// Runs `f` in a write transaction shared with the other writes waiting
    /// (group commit) and returns its result once committed. `f` may run
    /// twice (the second time alone, after a failure of the group), so it
    /// must only write through the transaction it is given.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            run: Box::new(move |t| {
                let r = f(t)?;
                if let Ok(mut s) = slot.lock() {
                    *s = Some(r);
                }
                Ok(())
            }),
            done: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        };
        let gone = || StoreError::Db("the store writer has stopped".into());
        self.writer
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())??;
        out.lock().ok().and_then(|mut s| s.take()).ok_or_else(gone)
    }

    /// A fresh path for an upload in progress (same file system as blobs).
    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.dir.join("tmp").join(id)
    }

    /// Where the file with this SHA-256 is kept.
    pub(crate) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }

    /// Moves a finished upload into the blob directory, durably: the
    /// rename is followed by an fsync of the directory.
    pub(crate) fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), StoreError> {
        std::fs::rename(tmp, self.blob_path(sha256))?;
        std::fs::File::open(self.dir.join("blobs"))?.sync_all()?;
        Ok(())
    }

    pub(crate) fn free_disk(&self) -> u64 {
        fs4::available_space(&self.dir).unwrap_or(0)
    }

    /// Records a submitted scan; not-done scans are also listed as pending
    /// so a restart picks them up.
    pub(crate) async fn put_scan(&self, scan: &Scan) -> Result<(), StoreError> {
        let bytes = root_bytes(scan)?;
        let (id, sha256, upload_ms, done) = (
            scan.data_id.clone(),
            scan.sha256.clone(),
            scan.upload_ms,
            scan.state == State::Done,
        );
        self.write(move |tx| {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            t.insert(id.as_str(), bytes.as_slice()).map_err(dberr)?;
            let mut p = tx.open_table(PENDING).map_err(dberr)?;
            if done {
                p.remove(id.as_str()).map_err(dberr)?;
            } else {
                p.insert(id.as_str(), upload_ms).map_err(dberr)?;
            }
            let mut b = tx.open_table(BLOB_USE).map_err(dberr)?;
            b.insert(sha256.as_str(), now_ms()).map_err(dberr)?;
            let mut h = tx.open_table(HISTORY).map_err(dberr)?;
            h.insert((upload_ms, id.as_str()), ()).map_err(dberr)?;
            Ok(())
        })
        .await
    }

    /// Scans submitted in `q`'s period, newest first, through `pager`.
    pub(crate) fn history(
        &self,
        q: &HistoryQuery,
        pager: &mut Pager<'_>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let h = tx.open_table(HISTORY).map_err(dberr)?;
        let results = tx.open_table(RESULTS).map_err(dberr)?;
        let range = h
            .range::<(u64, &str)>((q.from_ms, "")..(q.to_ms.saturating_add(1), ""))
            .map_err(dberr)?;
        for item in range.rev() {
            let (k, _) = item.map_err(dberr)?;
            if !pager.offer(read_scan(&results, k.value().1)) {
                break;
            }
        }
        Ok(())
    }

    /// Marks a queued scan as processing and returns it; `None` when it is
    /// unknown or already done.
    pub(crate) async fn start(&self, id: &str) -> Result<Option<Scan>, StoreError> {
        let id = id.to_string();
        self.write(move |tx| {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            match read_scan(&t, &id) {
                Some(mut s) if s.state != State::Done => {
                    s.state = State::Processing;
                    s.started_ms = Some(now_ms());
                    t.insert(id.as_str(), root_bytes(&s)?.as_slice())
                        .map_err(dberr)?;
                    Ok(Some(s))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    /// Records a cancel request for a scan that is not done; `false` when
    /// it is done or unknown (a finished result is never rewritten).
    pub(crate) fn request_cancel(&self, id: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let done = {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            match read_scan(&t, id) {
                Some(mut s) if s.state != State::Done => {
                    s.cancel_requested = true;
                    t.insert(id, root_bytes(&s)?.as_slice()).map_err(dberr)?;
                    true
                }
                _ => false,
            }
        };
        tx.commit().map_err(dberr)?;
        Ok(done)
    }

    /// Stores a finished scan: the root with its report, one entry per
    /// extracted object, the hash index and, when it has a callback, the
    /// delivery owed — one transaction. Idempotent.
    pub(crate) async fn finish(&self, scan: &Scan) -> Result<(), StoreError> {
        let bytes = root_bytes(scan)?;
        // Serialised here, not in the writer thread: it runs them for the
        // whole group.
        let mut children = Vec::new();
        let mut hashes = Vec::new();
        if let Some(report) = &scan.report {
            for o in mdcluster::indexed(&scan.data_id, &report.root) {
                if !o.path.is_empty() {
                    let entry = Entry::Child {
                        root_id: scan.data_id.clone(),
                        path: o.path,
                    };
                    children.push((o.id.clone(), serde_json::to_vec(&entry).map_err(dberr)?));
                }
                for hash in [&o.node.md5, &o.node.sha1, &o.node.sha256] {
                    if !hash.is_empty() {
                        hashes.push((hash.clone(), o.id.clone()));
                    }
                }
            }
        }
        let id = scan.data_id.clone();
        let at = scan.finished_ms.unwrap_or_else(now_ms);
        let callback = scan.callback_url.is_some();
        self.write(move |tx| {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            let mut h = tx.open_table(HASHES).map_err(dberr)?;
            t.insert(id.as_str(), bytes.as_slice()).map_err(dberr)?;
            for (child, entry) in &children {
                t.insert(child.as_str(), entry.as_slice()).map_err(dberr)?;
            }
            for (hash, object) in &hashes {
                h.insert(hash.as_str(), object.as_str()).map_err(dberr)?;
            }
            let mut p = tx.open_table(PENDING).map_err(dberr)?;
            p.remove(id.as_str()).map_err(dberr)?;
            let mut d = tx.open_table(DONE).map_err(dberr)?;
            d.insert((at, id.as_str()), ()).map_err(dberr)?;
            if callback {
                let mut c = tx.open_table(CALLBACKS).map_err(dberr)?;
                c.insert(id.as_str(), now_ms()).map_err(dberr)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) fn get(&self, data_id: &str) -> Result<Option<Entry>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(RESULTS).map_err(dberr)?;
        let Some(v) = t.get(data_id).map_err(dberr)? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(v.value()).ok())
    }

    pub(crate) fn get_scan(&self, data_id: &str) -> Result<Option<Scan>, StoreError> {
        Ok(match self.get(data_id)? {
            Some(Entry::Root(s)) => Some(*s),
            _ => None,
        })
    }

    /// Latest data_id for an MD5, SHA-1 or SHA-256 (lower-case hex).
    pub(crate) fn by_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(HASHES).map_err(dberr)?;
        Ok(t.get(hash).map_err(dberr)?.map(|v| v.value().to_string()))
    }

    /// Scans accepted but not finished, oldest first.
    pub(crate) fn pending(&self) -> Result<Vec<String>, StoreError> {
        self.ids_by_time(PENDING)
    }

    /// Scans whose callback is still owed, oldest first.
    pub(crate) fn callbacks(&self) -> Result<Vec<String>, StoreError> {
        self.ids_by_time(CALLBACKS)
    }

    pub(crate) fn callback_done(&self, data_id: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut c = tx.open_table(CALLBACKS).map_err(dberr)?;
            c.remove(data_id).map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
    }

    fn ids_by_time(&self, table: TableDefinition<&str, u64>) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(table).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            out.push((v.value(), k.value().to_string()));
        }
        out.sort();
        Ok(out.into_iter().map(|(_, id)| id).collect())
    }

    /// Stores a session, dropping the expired ones.
    pub(crate) fn put_session(&self, id: &str, s: &Session) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(s).map_err(dberr)?;
        let now = now_ms();
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(dberr)?;
            t.retain(|_, v| serde_json::from_slice::<Session>(v).is_ok_and(|s| s.expires_ms > now))
                .map_err(dberr)?;
            t.insert(id, bytes.as_slice()).map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
    }

    pub(crate) fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(SESSIONS).map_err(dberr)?;
        Ok(match t.get(id).map_err(dberr)? {
            Some(v) => serde_json::from_slice(v.value()).ok(),
            None => None,
        })
    }

    pub(crate) fn drop_session(&self, id: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(dberr)?;
            t.remove(id).map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
    }

    pub(crate) fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(RECORDS).map_err(dberr)?;
        Ok(t.get((kind, key))
            .map_err(dberr)?
            .map(|v| v.value().to_vec()))
    }

    pub(crate) fn records(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(RECORDS).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.range((kind, "")..).map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            let (k_kind, k_key) = k.value();
            if k_kind != kind {
                break;
            }
            out.push((k_key.to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub(crate) fn has_records(&self, kind: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(RECORDS).map_err(dberr)?;
        let mut range = t.range((kind, "")..).map_err(dberr)?;
        Ok(match range.next() {
            Some(item) => item.map_err(dberr)?.0.value().0 == kind,
            None => false,
        })
    }

    /// Stores a record; with `only_new`, only when the key is free.
    pub(crate) fn put_record(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(RECORDS).map_err(dberr)?;
            if only_new && t.get((kind, key)).map_err(dberr)?.is_some() {
                return Ok(false);
            }
            t.insert((kind, key), value).map_err(dberr)?;
        }
        tx.commit().map_err(dberr)?;
        Ok(true)
    }

    pub(crate) fn delete_record(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let was = {
            let mut t = tx.open_table(RECORDS).map_err(dberr)?;
            t.remove((kind, key)).map_err(dberr)?.is_some()
        };
        tx.commit().map_err(dberr)?;
        Ok(was)
    }

    /// Removes scans finished before `results_before` (the root, its
    /// extracted objects, their hash-index entries where they are still
    /// the latest, an undelivered callback), batches started before it,
    /// expired sessions, and kept files last uploaded before
    /// `files_before` that no unfinished scan needs. Times in ms since the
    /// epoch.
    pub(crate) fn sweep(
        &self,
        results_before: u64,
        files_before: u64,
    ) -> Result<Swept, StoreError> {
        let mut out = Swept::default();
        loop {
            let n = self.sweep_results(results_before)?;
            out.results += n;
            if n < SWEEP_CHUNK {
                break;
            }
        }
        let now = now_ms();
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut b = tx.open_table(BATCHES).map_err(dberr)?;
            let before = b.len().map_err(dberr)?;
            b.retain(|_, v| {
                serde_json::from_slice::<Batch>(v).is_ok_and(|b| b.start_ms >= results_before)
            })
            .map_err(dberr)?;
            out.batches = usize::try_from(before - b.len().map_err(dberr)?).unwrap_or(0);
            let mut t = tx.open_table(SESSIONS).map_err(dberr)?;
            t.retain(|_, v| serde_json::from_slice::<Session>(v).is_ok_and(|s| s.expires_ms > now))
                .map_err(dberr)?;
        }
        tx.commit().map_err(dberr)?;
        out.files = self.sweep_files(files_before)?;
        Ok(out)
    }

    fn sweep_results(&self, before: u64) -> Result<usize, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let mut n = 0;
        {
            let mut done = tx.open_table(DONE).map_err(dberr)?;
            let mut results = tx.open_table(RESULTS).map_err(dberr)?;
            let mut hashes = tx.open_table(HASHES).map_err(dberr)?;
            let mut callbacks = tx.open_table(CALLBACKS).map_err(dberr)?;
            let mut history = tx.open_table(HISTORY).map_err(dberr)?;
            let old: Vec<(u64, String)> = done
                .range::<(u64, &str)>(..(before, ""))
                .map_err(dberr)?
                .take(SWEEP_CHUNK)
                .filter_map(|i| i.ok().map(|(k, _)| (k.value().0, k.value().1.to_string())))
                .collect();
            for (at, id) in old {
                done.remove((at, id.as_str())).map_err(dberr)?;
                n += 1;
                let Some(scan) = read_scan(&results, &id) else {
                    continue;
                };
                results.remove(id.as_str()).map_err(dberr)?;
                callbacks.remove(id.as_str()).map_err(dberr)?;
                history
                    .remove((scan.upload_ms, id.as_str()))
                    .map_err(dberr)?;
                let Some(report) = &scan.report else { continue };
                for o in mdcluster::indexed(&id, &report.root) {
                    if !o.path.is_empty() {
                        results.remove(o.id.as_str()).map_err(dberr)?;
                    }
                    for hash in [&o.node.md5, &o.node.sha1, &o.node.sha256] {
                        let latest = hashes
                            .get(hash.as_str())
                            .map_err(dberr)?
                            .is_some_and(|v| v.value() == o.id);
                        if latest {
                            hashes.remove(hash.as_str()).map_err(dberr)?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(dberr)?;
        Ok(n)
    }

    /// Removes kept files last uploaded before `before` (and files the
    /// index does not know, by their age) unless an unfinished scan needs
    /// them. A file written since (a new upload of the same bytes) is
    /// newer than `before` and stays.
    fn sweep_files(&self, before: u64) -> Result<usize, StoreError> {
        let needed: std::collections::HashSet<String> = self
            .pending()?
            .iter()
            .filter_map(|id| self.get_scan(id).ok().flatten())
            .map(|s| s.sha256)
            .collect();
        let known: std::collections::HashMap<String, u64> = {
            let tx = self.db.begin_read().map_err(dberr)?;
            let t = tx.open_table(BLOB_USE).map_err(dberr)?;
            t.iter()
                .map_err(dberr)?
                .filter_map(|i| i.ok().map(|(k, v)| (k.value().to_string(), v.value())))
                .collect()
        };
        let mut gone = Vec::new();
        for e in std::fs::read_dir(self.dir.join("blobs"))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let used = known.get(&name).copied().unwrap_or(0);
            if used < before && modified < before && !needed.contains(&name) {
                std::fs::remove_file(e.path())?;
                gone.push(name);
            }
        }
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(BLOB_USE).map_err(dberr)?;
            for sha in &gone {
                // Only if not uploaded again meanwhile.
                let again = t
                    .get(sha.as_str())
                    .map_err(dberr)?
                    .is_some_and(|v| v.value() >= before);
                if !again {
                    t.remove(sha.as_str()).map_err(dberr)?;
                }
            }
        }
        tx.commit().map_err(dberr)?;
        Ok(gone.len())
    }

    /// Appends an audit entry (its own durable transaction).
    pub(crate) fn audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(e).map_err(dberr)?;
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(AUDIT).map_err(dberr)?;
            // The next sequence number at this millisecond (write
            // transactions are serialised, so it is unique).
            let seq = t
                .range((e.time_ms, 0)..=(e.time_ms, u64::MAX))
                .map_err(dberr)?
                .next_back()
                .and_then(|i| i.ok())
                .map_or(0, |(k, _)| k.value().1.saturating_add(1));
            t.insert((e.time_ms, seq), bytes.as_slice())
                .map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
    }

    /// Audit entries matching `q`, newest first, at most `q.limit`.
    pub(crate) fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(AUDIT).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t
            .range((q.from_ms, 0)..=(q.to_ms, u64::MAX))
            .map_err(dberr)?
            .rev()
        {
            if out.len() >= q.limit {
                break;
            }
            let (_, v) = item.map_err(dberr)?;
            if let Ok(e) = serde_json::from_slice::<AuditEvent>(v.value())
                && q.matches(&e)
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Drops audit entries older than `before` (ms since the epoch).
    pub(crate) fn sweep_audit(&self, before: u64) -> Result<u64, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let n = {
            let mut t = tx.open_table(AUDIT).map_err(dberr)?;
            let old = t.len().map_err(dberr)?;
            t.retain_in((0, 0)..(before, 0), |_, _| false)
                .map_err(dberr)?;
            old - t.len().map_err(dberr)?
        };
        tx.commit().map_err(dberr)?;
        Ok(n)
    }

    pub(crate) fn put_batch(&self, b: &Batch) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(b).map_err(dberr)?;
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(BATCHES).map_err(dberr)?;
            t.insert(b.batch_id.as_str(), bytes.as_slice())
                .map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
    }

    pub(crate) fn get_batch(&self, id: &str) -> Result<Option<Batch>, StoreError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(BATCHES).map_err(dberr)?;
        Ok(match t.get(id).map_err(dberr)? {
            Some(v) => serde_json::from_slice(v.value()).ok(),
            None => None,
        })
    }

    /// Changes a batch inside one write transaction; `f` returns whether to
    /// write it back. Returns the batch as stored, or `None` when unknown.
    fn update_batch(
        &self,
        id: &str,
        f: impl FnOnce(&mut Batch) -> bool,
    ) -> Result<Option<(Batch, bool)>, StoreError> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let out = {
            let mut t = tx.open_table(BATCHES).map_err(dberr)?;
            let current: Option<Batch> = match t.get(id).map_err(dberr)? {
                Some(v) => serde_json::from_slice(v.value()).ok(),
                None => None,
            };
            match current {
                Some(mut b) => {
                    let changed = f(&mut b);
                    if changed {
                        let bytes = serde_json::to_vec(&b).map_err(dberr)?;
                        t.insert(id, bytes.as_slice()).map_err(dberr)?;
                    }
                    Some((b, changed))
                }
                None => None,
            }
        };
        tx.commit().map_err(dberr)?;
        Ok(out)
    }

    /// Appends a scan to an open batch; `false` when closed or unknown.
    pub(crate) fn batch_add(&self, id: &str, data_id: &str) -> Result<bool, StoreError> {
        let r = self.update_batch(id, |b| {
            if b.is_closed || b.cancelled {
                return false;
            }
            b.files.push(data_id.to_string());
            true
        })?;
        Ok(r.is_some_and(|(_, added)| added))
    }

    pub(crate) fn batch_end(&self, id: &str, end: BatchEnd) -> Result<Option<Batch>, StoreError> {
        let r = self.update_batch(id, |b| {
            let before = (b.is_closed, b.cancelled);
            b.is_closed = true;
            if end == BatchEnd::Cancel {
                b.cancelled = true;
            }
            before != (b.is_closed, b.cancelled)
        })?;
        Ok(r.map(|(b, _)| b))
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::child_id;
    use super::*;

    fn scan(id: &str) -> Scan {
        let mut s = crate::serve::doc::unreadable(
            id,
            &Batch {
                batch_id: "b".into(),
                owner: None,
                workflow: "File scan".into(),
                user_agent: String::new(),
                user_data: String::new(),
                is_closed: false,
                cancelled: false,
                start_time: String::new(),
                start_ms: 0,
                files: Vec::new(),
            },
        );
        s.state = State::Queued;
        s.report = None;
        s.callback_url = Some("http://example.invalid/".into());
        s
    }

    /// Many writers at once share commits; a write that fails inside a
    /// group fails alone, and everything the others wrote is there after a
    /// reopen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn grouped_writes_are_durable_and_a_failure_stays_with_its_caller() {
        let dir = tempfile::tempdir().unwrap();
        let st = Arc::new(Store::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let st = st.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("s{i:03}");
                st.put_scan(&scan(&id)).await.unwrap();
                if i % 10 == 1 {
                    // A write that fails after writing: its change must not
                    // land, and the writes grouped with it must.
                    let bad = id.clone();
                    let r = st
                        .write(move |tx| {
                            let mut t = tx.open_table(PENDING).map_err(dberr)?;
                            t.remove(bad.as_str()).map_err(dberr)?;
                            Err::<(), _>(StoreError::Db("refused".into()))
                        })
                        .await;
                    assert!(r.is_err());
                }
                let mut s = st.start(&id).await.unwrap().unwrap();
                if i % 2 == 0 {
                    s.state = State::Done;
                    s.report = Some(crate::serve::backend::failed_report(&id, "x"));
                    st.finish(&s).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(Arc::into_inner(st).unwrap());
        let st = Store::open(dir.path()).unwrap();
        let pending = st.pending().unwrap();
        assert_eq!(pending.len(), 100);
        assert!(
            pending
                .iter()
                .all(|id| id[1..].parse::<u32>().unwrap() % 2 == 1)
        );
        for i in 0..200 {
            let s = st.get_scan(&format!("s{i:03}")).unwrap().unwrap();
            let want = if i % 2 == 0 {
                State::Done
            } else {
                State::Processing
            };
            assert_eq!(s.state, want, "s{i:03}");
        }
    }

    #[tokio::test]
    async fn a_cancel_after_the_result_does_not_overwrite_it() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store::open(dir.path()).unwrap();
        st.put_scan(&scan("a")).await.unwrap();
        let mut s = st.start("a").await.unwrap().unwrap();
        assert_eq!(s.state, State::Processing);
        s.state = State::Done;
        s.report = Some(crate::serve::backend::failed_report("a", "x"));
        st.finish(&s).await.unwrap();
        assert!(!st.request_cancel("a").unwrap());
        let back = st.get_scan("a").unwrap().unwrap();
        assert_eq!(back.state, State::Done);
        assert!(back.report.is_some() && !back.cancel_requested);
        assert!(st.start("a").await.unwrap().is_none());
        // The finished scan owes its callback, until delivered.
        assert_eq!(st.callbacks().unwrap(), vec!["a".to_string()]);
        st.callback_done("a").unwrap();
        assert!(st.callbacks().unwrap().is_empty());
    }

    #[test]
    fn batch_changes_are_atomic_and_never_undone() {
        let dir = tempfile::tempdir().unwrap();
        let st = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let mut b = Batch {
            batch_id: "b1".into(),
            owner: None,
            workflow: "File scan".into(),
            user_agent: String::new(),
            user_data: String::new(),
            is_closed: false,
            cancelled: false,
            start_time: String::new(),
            start_ms: 0,
            files: Vec::new(),
        };
        st.put_batch(&b).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let st = st.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        assert!(st.batch_add("b1", &format!("{t}-{i}")).unwrap());
                    }
                });
            }
        });
        b = st.get_batch("b1").unwrap().unwrap();
        assert_eq!(b.files.len(), 200);
        let c = st.batch_end("b1", BatchEnd::Cancel).unwrap().unwrap();
        assert!(c.cancelled && c.is_closed);
        let c = st.batch_end("b1", BatchEnd::Close).unwrap().unwrap();
        assert!(c.cancelled, "a close must not undo a cancel");
        assert!(!st.batch_add("b1", "late").unwrap());
        assert!(!st.batch_add("nope", "x").unwrap());
        assert!(st.batch_end("nope", BatchEnd::Close).unwrap().is_none());
    }

    #[test]
    fn records_are_kept_per_kind_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let st = Store::open(dir.path()).unwrap();
            assert!(st.put_record("user", "alice", b"a1", true).unwrap());
            assert!(!st.put_record("user", "alice", b"a2", true).unwrap());
            assert!(st.put_record("user", "bob", b"b1", false).unwrap());
            assert!(st.put_record("apikey", "k1", b"x", true).unwrap());
            assert!(st.put_record("user", "alice", b"a3", false).unwrap());
        }
        let st = Store::open(dir.path()).unwrap();
        let users = st.records("user").unwrap();
        assert_eq!(
            users,
            vec![
                ("alice".to_string(), b"a3".to_vec()),
                ("bob".into(), b"b1".to_vec())
            ]
        );
        assert_eq!(st.records("apikey").unwrap().len(), 1);
        assert_eq!(st.record("user", "bob").unwrap().unwrap(), b"b1");
        assert!(st.delete_record("user", "bob").unwrap());
        assert!(!st.delete_record("user", "bob").unwrap());
        assert!(st.record("user", "bob").unwrap().is_none());
        assert!(st.records("nothing").unwrap().is_empty());
        assert!(st.has_records("apikey").unwrap() && st.has_records("user").unwrap());
        // A kind sorted before one that exists, and one after every kind.
        assert!(!st.has_records("apike").unwrap() && !st.has_records("zzz").unwrap());
    }

    #[test]
    fn sessions_survive_a_reopen_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let live = Session {
            user: "alice".into(),
            admin: false,
            expires_ms: now_ms() + 60_000,
        };
        {
            let st = Store::open(dir.path()).unwrap();
            st.put_session(
                "old",
                &Session {
                    expires_ms: 1,
                    ..live.clone()
                },
            )
            .unwrap();
            st.put_session("s1", &live).unwrap();
        }
        let st = Store::open(dir.path()).unwrap();
        assert_eq!(st.session("s1").unwrap().unwrap().user, "alice");
        // Expired sessions are dropped when another is stored.
        assert!(st.session("old").unwrap().is_none());
        st.drop_session("s1").unwrap();
        assert!(st.session("s1").unwrap().is_none());
    }

    #[test]
    fn half_written_uploads_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("tmp").join("stale"), b"partial").unwrap();
        let st = Store::open(dir.path()).unwrap();
        assert!(!st.tmp_path("stale").exists());
    }

    #[tokio::test]
    async fn the_sweep_removes_what_is_past_retention_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store::open(dir.path()).unwrap();
        let scanner = mdcore::ScannerBuilder::new().threads(1).build().unwrap();
        let zip = {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.start_file("in.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, b"inner").unwrap();
            w.finish().unwrap().into_inner()
        };
        let report = scanner.scan_bytes(&zip, &mdcore::ScanOptions::new().name("a.zip"));
        let inner_sha = report.root.children[0].sha256.clone();
        for (id, sha) in [("old", "s-old"), ("new", "s-new"), ("waiting", "s-wait")] {
            let mut s = scan(id);
            s.sha256 = sha.into();
            st.put_scan(&s).await.unwrap();
            std::fs::write(st.blob_path(sha), b"x").unwrap();
            if id != "waiting" {
                let mut s = st.start(id).await.unwrap().unwrap();
                s.state = State::Done;
                s.report = Some(report.clone());
                s.finished_ms = Some(if id == "old" { 1000 } else { now_ms() });
                st.finish(&s).await.unwrap();
            }
        }
        let old_child = child_id("old", &[0]);
        assert!(st.get(&old_child).unwrap().is_some());
        // Files: everything was uploaded just now, so only results go.
        let swept = st.sweep(now_ms() - 60_000, 0).unwrap();
        assert_eq!(swept.results, 1);
        assert_eq!(swept.files, 0);
        assert!(st.get_scan("old").unwrap().is_none());
        assert!(st.get(&old_child).unwrap().is_none());
        assert!(st.callbacks().unwrap().iter().all(|c| c != "old"));
        // The hash index points at the newer scan's object, which stays.
        assert_eq!(st.by_hash(&inner_sha).unwrap(), Some(child_id("new", &[0])));
        assert!(st.get_scan("new").unwrap().is_some());
        // Files past their time go, except one a queued scan still needs.
        let swept = st.sweep(0, now_ms() + 60_000).unwrap();
        assert_eq!(swept.files, 2);
        assert!(!st.blob_path("s-old").exists() && !st.blob_path("s-new").exists());
        assert!(st.blob_path("s-wait").exists());
        // Results written before the sweep existed (no `done` table) are
        // listed at open and age out too.
        drop(st);
        {
            let db = Database::open(dir.path().join("mdscan.redb")).unwrap();
            let tx = db.begin_write().unwrap();
            tx.delete_table(DONE).unwrap();
            tx.commit().unwrap();
        }
        let st = Store::open(dir.path()).unwrap();
        assert_eq!(st.sweep(now_ms() + 60_000, 0).unwrap().results, 1);
        assert!(st.get_scan("new").unwrap().is_none());
        assert!(st.by_hash(&inner_sha).unwrap().is_none());
    }

    #[test]
    fn the_audit_log_is_ordered_filtered_durable_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let ev = |t: u64, user: &str, action: &str| AuditEvent {
            time_ms: t,
            user: Some(user.into()),
            address: None,
            action: action.into(),
            target: None,
            outcome: "ok".into(),
        };
        {
            let st = Store::open(dir.path()).unwrap();
            st.audit(&ev(100, "a", "login")).unwrap();
            // Two in one millisecond are both kept, in order.
            st.audit(&ev(200, "b", "download")).unwrap();
            st.audit(&ev(200, "a", "cancel")).unwrap();
        }
        let st = Store::open(dir.path()).unwrap();
        let all = AuditQuery {
            from_ms: 0,
            to_ms: u64::MAX / 2,
            limit: 100,
            ..AuditQuery::default()
        };
        let got: Vec<String> = st
            .audit_log(&all)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(got, vec!["cancel", "download", "login"]);
        let only_a = AuditQuery {
            user: Some("a".into()),
            ..all.clone()
        };
        assert_eq!(st.audit_log(&only_a).unwrap().len(), 2);
        let window = AuditQuery {
            from_ms: 150,
            limit: 1,
            ..all.clone()
        };
        assert_eq!(st.audit_log(&window).unwrap()[0].action, "cancel");
        assert_eq!(st.sweep_audit(150).unwrap(), 1);
        assert_eq!(st.audit_log(&all).unwrap().len(), 2);
    }
}
