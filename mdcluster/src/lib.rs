//! mdcluster: mdscan spread over many processes and machines.
//!
//! The same `mdscan` binary plays two roles. The **gateway** speaks the HTTP
//! API of `mdscan serve`, stores uploads in the shared [`Blobs`] store,
//! records scans in Redis ([`State`]) and publishes [`Task`]s on RabbitMQ
//! ([`queue`]). **Workers** ([`worker::run`]) consume tasks, scan with
//! mdcore, write results to Redis, and only then acknowledge. A worker that
//! opens a big archive hands its children to the whole cluster as child
//! tasks; the last child to finish puts the report together, which reads as
//! a single-process scan of the same file would.
//!
//! Delivery is at-least-once and every result write is idempotent, so a
//! worker killed at any moment loses nothing and doubles nothing.
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

pub mod blob;
pub mod events;
pub mod job;
pub mod queue;
pub mod state;
pub mod sysinfo;
pub mod task;
pub mod tls;
pub mod upkeep;
pub mod worker;

pub use blob::{BlobStore, Blobs, DirStore, LocalBlob, S3Store};
pub use state::{BatchRecord, ChildRef, ScanRecord, State};
pub use task::Task;
pub use tls::{ClientCert, LinkTls};

/// What can go wrong talking to the cluster's services.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// RabbitMQ.
    #[error("RabbitMQ: {0}")]
    Amqp(String),
    /// Redis.
    #[error("Redis: {0}")]
    Redis(String),
    /// The blob store.
    #[error("blob store: {0}")]
    Blob(String),
    /// TLS settings of the links.
    #[error("TLS: {0}")]
    Tls(String),
    /// Local files.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the cluster's services are. Every process of one cluster uses the
/// same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// `amqp://user:pass@host:5672/%2f`, or `amqps://` for TLS.
    pub amqp_url: String,
    /// `redis://host:6379/0`, or `rediss://` for TLS.
    pub redis_url: String,
    /// `file:///shared/dir` or `s3://bucket/prefix` (its endpoint from
    /// `AWS_ENDPOINT`, `https://` by default).
    pub blob_url: String,
    /// Roots and client certificate of the TLS links.
    pub tls: LinkTls,
    /// Prefix of every queue and key, so clusters can share services.
    pub namespace: String,
    /// How long results are kept in Redis, in seconds.
    pub retention_s: u64,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            redis_url: "redis://127.0.0.1:6379/".into(),
            blob_url: format!(
                "file://{}",
                std::env::temp_dir().join("mdscan-blobs").display()
            ),
            namespace: "mdscan".into(),
            retention_s: 7 * 24 * 3600,
            tls: LinkTls::default(),
        }
    }
}

impl Endpoints {
    /// The Redis state of this cluster.
    pub fn state(&self) -> Result<State, Error> {
        State::with_tls(
            &self.redis_url,
            &self.tls,
            &self.namespace,
            self.retention_s,
        )
    }

    /// The shared blob store.
    pub fn blobs(&self) -> Result<Blobs, Error> {
        Blobs::from_url_tls(&self.blob_url, &self.tls)
    }

    /// A task publisher (connects on first use).
    pub fn publisher(&self) -> std::sync::Arc<queue::Publisher> {
        queue::Publisher::with_tls(
            &self.amqp_url,
            self.tls.clone(),
            queue::Names::new(&self.namespace),
        )
    }

    /// A RabbitMQ connection and channel, the queues declared.
    pub async fn amqp(&self) -> Result<(lapin::Connection, lapin::Channel), Error> {
        queue::open_tls(
            &self.amqp_url,
            &self.tls,
            &queue::Names::new(&self.namespace),
        )
        .await
    }
}

/// Fault injection for the cluster tests: whether the variable `var`
/// names the end of `subject` (a blob key, a task name). Compiled only with
/// the `test-hooks` feature (the tests' build); a release binary ignores
/// `MDSCAN_TEST_*`.
#[cfg(feature = "test-hooks")]
pub(crate) fn fault(var: &str, subject: &str) -> bool {
    std::env::var(var).is_ok_and(|bad| !bad.is_empty() && subject.ends_with(&bad))
}

#[cfg(not(feature = "test-hooks"))]
pub(crate) fn fault(_var: &str, _subject: &str) -> bool {
    false
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The data_id of the object at `path` inside root `root_id`: stable, so a
/// rewritten result (a redelivered task) gives the same ids.
pub fn child_id(root_id: &str, path: &[u32]) -> String {
    let mut h = Sha256::new();
    h.update(root_id.as_bytes());
    for p in path {
        h.update(b"/");
        h.update(p.to_le_bytes());
    }
    let digest = h.finalize();
    mdcore::hex(digest.get(..16).unwrap_or_default())
}

/// One object of a result tree with the data_id it is stored under.
#[derive(Debug)]
pub struct Indexed<'a> {
    /// The object.
    pub node: &'a mdcore::Node,
    /// Child indexes from the root (empty: the root itself).
    pub path: Vec<u32>,
    /// `root_id` for the root, else [`child_id`] of `path`.
    pub id: String,
}

/// Every object of the tree under `root` (the root first), each with its
/// path and data_id: what the stores index a finished result by.
pub fn indexed<'a>(root_id: &str, root: &'a mdcore::Node) -> Vec<Indexed<'a>> {
    let mut out = Vec::new();
    let mut stack: Vec<(&mdcore::Node, Vec<u32>)> = vec![(root, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        for (i, c) in node.children.iter().enumerate() {
            let mut sub = path.clone();
            sub.push(u32::try_from(i).unwrap_or(u32::MAX));
            stack.push((c, sub));
        }
        let id = if path.is_empty() {
            root_id.to_string()
        } else {
            child_id(root_id, &path)
        };
        out.push(Indexed { node, path, id });
    }
    out
}

/// Blob key of an uploaded file (content-addressed).
pub fn upload_key(sha256: &str) -> String {
    format!("uploads/{sha256}")
}
