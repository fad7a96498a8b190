//! The embedded store of `mdscan serve`: a redb database (results, the hash
//! index, batches, the list of accepted-but-unfinished scans) and a
//! content-addressed directory of uploaded files. Every write is one ACID
//! transaction, durable when it returns, so results survive a restart and a
//! scan accepted before a crash is found again at start-up.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("results");
const HASHES: TableDefinition<&str, &str> = TableDefinition::new("hashes");
const BATCHES: TableDefinition<&str, &[u8]> = TableDefinition::new("batches");
const PENDING: TableDefinition<&str, u64> = TableDefinition::new("pending");

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

#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    dir: PathBuf,
}

pub(crate) use mdcluster::child_id;

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let db = Database::create(dir.join("mdscan.redb")).map_err(dberr)?;
        let tx = db.begin_write().map_err(dberr)?;
        tx.open_table(RESULTS).map_err(dberr)?;
        tx.open_table(HASHES).map_err(dberr)?;
        tx.open_table(BATCHES).map_err(dberr)?;
        tx.open_table(PENDING).map_err(dberr)?;
        tx.commit().map_err(dberr)?;
        Ok(Store {
            db,
            dir: dir.to_path_buf(),
        })
    }

    /// A fresh path for an upload in progress (same file system as blobs).
    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.dir.join("tmp").join(id)
    }

    /// Where the file with this SHA-256 is kept.
    pub(crate) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }

    /// Moves a finished upload into the blob directory.
    pub(crate) fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), StoreError> {
        std::fs::rename(tmp, self.blob_path(sha256))?;
        Ok(())
    }

    pub(crate) fn free_disk(&self) -> u64 {
        fs4::available_space(&self.dir).unwrap_or(0)
    }

    /// Records a submitted or updated scan; not-done scans are also listed
    /// as pending so a restart picks them up.
    pub(crate) fn put_scan(&self, scan: &Scan) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&Entry::Root(Box::new(scan.clone()))).map_err(dberr)?;
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            t.insert(scan.data_id.as_str(), bytes.as_slice())
                .map_err(dberr)?;
            let mut p = tx.open_table(PENDING).map_err(dberr)?;
            if scan.state == State::Done {
                p.remove(scan.data_id.as_str()).map_err(dberr)?;
            } else {
                p.insert(scan.data_id.as_str(), scan.upload_ms)
                    .map_err(dberr)?;
            }
        }
        tx.commit().map_err(dberr)
    }

    /// Stores a finished scan: the root with its report, one entry per
    /// extracted object, and the hash index — one transaction. Idempotent.
    pub(crate) fn finish(&self, scan: &Scan) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&Entry::Root(Box::new(scan.clone()))).map_err(dberr)?;
        let tx = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = tx.open_table(RESULTS).map_err(dberr)?;
            let mut h = tx.open_table(HASHES).map_err(dberr)?;
            t.insert(scan.data_id.as_str(), bytes.as_slice())
                .map_err(dberr)?;
            if let Some(report) = &scan.report {
                let mut stack: Vec<(&mdcore::Node, Vec<u32>)> = vec![(&report.root, Vec::new())];
                while let Some((node, path)) = stack.pop() {
                    let id = if path.is_empty() {
                        scan.data_id.clone()
                    } else {
                        let id = child_id(&scan.data_id, &path);
                        let entry = Entry::Child {
                            root_id: scan.data_id.clone(),
                            path: path.clone(),
                        };
                        let e = serde_json::to_vec(&entry).map_err(dberr)?;
                        t.insert(id.as_str(), e.as_slice()).map_err(dberr)?;
                        id
                    };
                    for hash in [&node.md5, &node.sha1, &node.sha256] {
                        if !hash.is_empty() {
                            h.insert(hash.as_str(), id.as_str()).map_err(dberr)?;
                        }
                    }
                    for (i, c) in node.children.iter().enumerate() {
                        let mut p = path.clone();
                        p.push(u32::try_from(i).unwrap_or(u32::MAX));
                        stack.push((c, p));
                    }
                }
            }
            let mut p = tx.open_table(PENDING).map_err(dberr)?;
            p.remove(scan.data_id.as_str()).map_err(dberr)?;
        }
        tx.commit().map_err(dberr)
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
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(PENDING).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            out.push((v.value(), k.value().to_string()));
        }
        out.sort();
        Ok(out.into_iter().map(|(_, id)| id).collect())
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
}
