//! Cluster state in Redis: scans and their results (kept for a configurable
//! retention), the hash index behind `GET /hash`, cancel flags, worker
//! heartbeats, and the bookkeeping of fanned-out archives.
//!
//! Keys (`{ns}` is the cluster's namespace, `mdscan` by default):
//! - `{ns}:scan:{id}` hash — `meta` (the gateway's record, opaque here),
//!   `state` (`queued`, `processing`, `done`), `report`, `started_ms`,
//!   `finished_ms`, `cancel`, `progress`, `worker`, `deadline_ms` (when a
//!   worker must be done with the whole tree), `task` (the root task, kept
//!   so the reconciler can publish it again) and `requeues`.
//! - `{ns}:open` sorted set — data_ids not yet done, scored by their last
//!   change (accepted, taken by a worker, requeued): what the reconciler
//!   looks at.
//! - `{ns}:history` sorted set — data_ids by creation time, for the scan
//!   history (entries past the retention are dropped as new ones come).
//! - `{ns}:blobs` sorted set — SHA-256 of uploads, scored by their last use
//!   (the retention sweep removes the old ones from the blob store).
//! - `{ns}:lock:{name}` — held by the one gateway running a periodic job.
//! - `{ns}:child:{id}` — `{"root_id":…, "path":[…]}` of an extracted object.
//! - `{ns}:hash:{hex}` — the data_id of the latest object with that digest.
//! - `{ns}:doc:{kind}:{id}` — documents the gateway keeps (login sessions,
//!   with their own expiry).
//! - `{ns}:rec:{kind}` hash — durable records the gateway keeps (users and
//!   API keys made through the API), key -> value; no expiry.
//! - `{ns}:batch:{id}` hash — `doc` (the gateway's record), `closed`,
//!   `cancelled`; `{ns}:batchfiles:{id}` the list of its data_ids. Appends
//!   and state changes are Lua scripts, so parallel uploads lose nothing and
//!   a close or cancel is never undone.
//! - `{ns}:events:finished` stream — one entry (`id`) per finished root;
//!   the consumer group `callbacks` delivers webhooks at least once.
//! - `{ns}:nodes` sorted set (score = last heartbeat) and `{ns}:node:{id}`.
//! - `{ns}:fan:{root}` hash — `parent` (the root's report with placeholders),
//!   `pending`, and the tree-wide `objects`/`bytes` counters; `{ns}:want:{root}`
//!   the set of expected child tokens; `{ns}:part:{root}` token -> report.
//! - `{ns}:attempt:{task}` — deliveries of a task (poison detection).
//!
//! Every write a worker makes is idempotent, so a redelivered task can
//! neither double-count a child nor corrupt a finished result.
//!
//! The methods of [`State`] are split by concern: scans, tasks and batches
//! here; the accounts the gateways keep (audit log, sign-in counters,
//! sessions, users and keys) in `accounts.rs`; workers and their status in
//! `nodes.rs`; fanned-out archives in `fanout.rs`.
//!
//! Values are bounded: a report whose JSON would pass [`MAX_REPORT_BYTES`]
//! is stored cut down with [`Report::cap`] (every code kept, the dropped
//! objects counted in a note), and the index of a big tree is written in
//! chunks before the result, so no single command grows with the archive.

use std::time::Duration;

use mdcore::Report;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, LinkTls, now_ms};

mod accounts;
mod fanout;
mod nodes;

/// A scan as stored.
#[derive(Clone, Debug, Default)]
pub struct ScanRecord {
    /// The gateway's own record (JSON).
    pub meta: String,
    /// `queued`, `processing` or `done`.
    pub state: String,
    /// The result, once done.
    pub report: Option<Report>,
    /// When a worker started it.
    pub started_ms: Option<u64>,
    /// When it finished.
    pub finished_ms: Option<u64>,
    /// A cancel was requested.
    pub cancel: bool,
    /// 0..=99 while running.
    pub progress: u8,
    /// The worker that took it.
    pub worker: Option<String>,
    /// When the worker must be done with the whole tree.
    pub deadline_ms: Option<u64>,
    /// The root task as published (JSON).
    pub task: Option<String>,
    /// Times the reconciler published it again.
    pub requeues: u64,
}

/// Largest report JSON stored as one value; bigger ones are cut down with
/// [`Report::cap`].
pub const MAX_REPORT_BYTES: usize = 32 << 20;

/// Longest name, note or threat string kept in a report that is cut down.
const MAX_TEXT: usize = 2048;

/// Index writes sent per round trip when a result is stored.
const INDEX_CHUNK: usize = 5000;

/// The report as stored: itself, or when its JSON passes
/// [`MAX_REPORT_BYTES`], a copy cut down until it fits. Returns the JSON
/// and, when cut, the copy (the index must follow the stored tree).
pub fn stored(report: &Report) -> Result<(String, Option<Report>), Error> {
    let ser = |r: &Report| serde_json::to_string(r).map_err(|e| Error::Redis(e.to_string()));
    let json = ser(report)?;
    if json.len() <= MAX_REPORT_BYTES {
        return Ok((json, None));
    }
    let nodes = report.root.iter().count();
    let mut max = nodes;
    loop {
        let mut r = report.clone();
        r.cap(max, MAX_TEXT);
        let json = ser(&r)?;
        if json.len() <= MAX_REPORT_BYTES || max <= 1 {
            return Ok((json, Some(r)));
        }
        // Scale the node count by the overshoot, with a margin.
        let scaled = u128::try_from(max).unwrap_or(u128::MAX) * (MAX_REPORT_BYTES as u128) * 9
            / 10
            / (json.len().max(1) as u128);
        let next = usize::try_from(scaled)
            .unwrap_or(1)
            .clamp(1, max.saturating_sub(1).max(1));
        max = next;
    }
}

/// Where an extracted object sits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRef {
    /// The root scan.
    pub root_id: String,
    /// Child indexes from the root.
    pub path: Vec<u32>,
}

/// A root's fan-out, as the finalizing worker reads it.
#[derive(Debug)]
pub struct Fan {
    /// The root's report with placeholders.
    pub parent: Report,
    /// Token -> child report.
    pub parts: Vec<(String, Report)>,
}

const FAN_OPEN: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'parent', ARGV[1], 'pending', ARGV[2], 'objects', ARGV[3], 'bytes', ARGV[4])
for i = 6, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
";

const FAN_PART: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return -2 end
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) == 1 then
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'objects', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[4])
  return redis.call('HINCRBY', KEYS[1], 'pending', -1)
end
return tonumber(redis.call('HGET', KEYS[1], 'pending'))
";

/// Decrements an attempt counter, never below zero (a refund after the key
/// expired is a no-op).
const REFUND: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
    if n > 0 then return redis.call('DECR', KEYS[1]) end return 0";

const START: &str = r"
local s = redis.call('HGET', KEYS[1], 'state')
if not s or s == 'done' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'processing', 'started_ms', ARGV[2], 'worker', ARGV[3], 'deadline_ms', ARGV[4])
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1])
return 1
";

const CANCEL: &str = r"
local s = redis.call('HGET', KEYS[1], 'state')
if not s or s == 'done' then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
return 1
";

const BATCH_ADD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'closed') == '1' then return 0 end
if redis.call('HGET', KEYS[1], 'cancelled') == '1' then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
";

const BATCH_END: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'closed', '1')
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'cancelled', '1') end
return 1
";

/// Removes a blob's use record only if it was not used again meanwhile.
const FORGET_BLOB: &str = r"
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
";

const LOCK: &str = r"
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// A batch as stored: the gateway's record and what changed since.
#[derive(Clone, Debug, Default)]
pub struct BatchRecord {
    /// The gateway's record (JSON), as created.
    pub doc: String,
    /// Closed (no more files join).
    pub closed: bool,
    /// Cancelled.
    pub cancelled: bool,
    /// Its data_ids, in the order they joined.
    pub files: Vec<String>,
}

/// The cluster's Redis.
#[derive(Clone)]
pub struct State {
    client: redis::Client,
    con: ConnectionManager,
    ns: String,
    retention_s: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("ns", &self.ns)
            .field("retention_s", &self.retention_s)
            .finish()
    }
}

fn rerr(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

impl State {
    /// Connects lazily (the first command connects); reconnects by itself
    /// after Redis restarts.
    pub fn new(url: &str, ns: &str, retention_s: u64) -> Result<State, Error> {
        State::with_tls(url, &LinkTls::default(), ns, retention_s)
    }

    /// [`State::new`], with `tls` for a `rediss://` URL.
    pub fn with_tls(url: &str, tls: &LinkTls, ns: &str, retention_s: u64) -> Result<State, Error> {
        let client = tls.redis_client(url)?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let con = ConnectionManager::new_lazy_with_config(client.clone(), cfg).map_err(rerr)?;
        Ok(State {
            client,
            con,
            ns: ns.to_string(),
            retention_s: retention_s.max(1),
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.ns)
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> bool {
        let mut c = self.con.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
    }

    /// Records a new scan (`queued`) with the root task it was published
    /// as, lists it as open, and marks its upload (`sha256`) as used now.
    pub async fn create_scan(
        &self,
        id: &str,
        meta: &str,
        task: &str,
        sha256: &str,
    ) -> Result<(), Error> {
        let k = self.key("scan", id);
        let now = now_ms();
        let mut c = self.con.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(&k, &[("meta", meta), ("state", "queued"), ("task", task)])
            .ignore()
            .expire(&k, self.retention_i())
            .ignore()
            .zadd(self.open_key(), id, now)
            .ignore()
            .zadd(self.blobs_key(), sha256, now)
            .ignore()
            .zadd(self.history_key(), id, now)
            .ignore()
            // The history lists a scan as long as its record lives.
            .zrembyscore(
                self.history_key(),
                0,
                now.saturating_sub(self.retention_s.saturating_mul(1000)),
            )
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    fn history_key(&self) -> String {
        format!("{}:history", self.ns)
    }

    /// Scans created in `from_ms..=to_ms`, newest first: `count` ids from
    /// the `offset`-th.
    pub async fn history(
        &self,
        from_ms: u64,
        to_ms: u64,
        offset: usize,
        count: usize,
    ) -> Result<Vec<String>, Error> {
        let mut c = self.con.clone();
        redis::cmd("ZREVRANGEBYSCORE")
            .arg(self.history_key())
            .arg(to_ms)
            .arg(from_ms)
            .arg("LIMIT")
            .arg(offset)
            .arg(count)
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    fn open_key(&self) -> String {
        format!("{}:open", self.ns)
    }

    fn blobs_key(&self) -> String {
        format!("{}:blobs", self.ns)
    }

    fn retention_i(&self) -> i64 {
        i64::try_from(self.retention_s).unwrap_or(i64::MAX)
    }

    /// Forgets a scan that could not be queued.
    pub async fn drop_scan(&self, id: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::pipe()
            .atomic()
            .del(self.key("scan", id))
            .ignore()
            .zrem(self.history_key(), id)
            .ignore()
            .zrem(self.open_key(), id)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// Members of the sorted set `key` scored at most `before_ms`, lowest
    /// first, at most `limit`.
    async fn scored_before(
        &self,
        key: String,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        let mut c = self.con.clone();
        redis::cmd("ZRANGEBYSCORE")
            .arg(key)
            .arg(0)
            .arg(before_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    /// Open (not done) data_ids whose last change is older than
    /// `before_ms`, oldest first, at most `limit`.
    pub async fn open_before(&self, before_ms: u64, limit: usize) -> Result<Vec<String>, Error> {
        self.scored_before(self.open_key(), before_ms, limit).await
    }

    /// When the oldest open scan last changed (`None`: nothing is open).
    pub async fn oldest_open(&self) -> Result<Option<u64>, Error> {
        let mut c = self.con.clone();
        let v: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(self.open_key())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.first().map(|(_, s)| *s as u64))
    }

    /// Removes a data_id from the open list (its record is done or gone).
    pub async fn forget_open(&self, id: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("ZREM")
            .arg(self.open_key())
            .arg(id)
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// Counts a republish of a scan's task and restarts its clock.
    pub async fn requeued(&self, id: &str) -> Result<u64, Error> {
        let mut c = self.con.clone();
        let (n,): (u64,) = redis::pipe()
            .atomic()
            .hincr(self.key("scan", id), "requeues", 1)
            .cmd("ZADD")
            .arg(self.open_key())
            .arg("XX")
            .arg(now_ms())
            .arg(id)
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n)
    }

    /// Uploads last used before `before_ms`, at most `limit`.
    pub async fn blobs_before(&self, before_ms: u64, limit: usize) -> Result<Vec<String>, Error> {
        self.scored_before(self.blobs_key(), before_ms, limit).await
    }

    /// When an upload was last used, if it is listed.
    pub async fn blob_used(&self, sha256: &str) -> Result<Option<u64>, Error> {
        let mut c = self.con.clone();
        let v: Option<f64> = redis::cmd("ZSCORE")
            .arg(self.blobs_key())
            .arg(sha256)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.map(|s| s as u64))
    }

    /// Forgets an upload the sweep removed, unless it was used again after
    /// `before_ms` (a new upload of the same bytes).
    pub async fn forget_blob(&self, sha256: &str, before_ms: u64) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(FORGET_BLOB)
            .key(self.blobs_key())
            .arg(sha256)
            .arg(before_ms)
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Takes (or keeps) the lock `name` for `ttl`; `false` when another
    /// process holds it. For jobs one gateway of a cluster runs at a time.
    pub async fn lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(LOCK)
            .key(self.key("lock", name))
            .arg(holder)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// A scan, if known.
    pub async fn scan(&self, id: &str) -> Result<Option<ScanRecord>, Error> {
        let mut c = self.con.clone();
        let map: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key("scan", id))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        let Some(meta) = map.get("meta") else {
            return Ok(None);
        };
        let num = |f: &str| map.get(f).and_then(|v| v.parse::<u64>().ok());
        Ok(Some(ScanRecord {
            meta: meta.clone(),
            state: map.get("state").cloned().unwrap_or_default(),
            report: map.get("report").and_then(|r| serde_json::from_str(r).ok()),
            started_ms: num("started_ms"),
            finished_ms: num("finished_ms"),
            cancel: map.get("cancel").is_some_and(|v| v == "1"),
            progress: num("progress").map_or(0, |p| u8::try_from(p.min(99)).unwrap_or(99)),
            worker: map.get("worker").cloned(),
            deadline_ms: num("deadline_ms"),
            task: map.get("task").cloned(),
            requeues: num("requeues").unwrap_or(0),
        }))
    }

    /// Where an extracted object sits, if `id` names one.
    pub async fn child(&self, id: &str) -> Result<Option<ChildRef>, Error> {
        let mut c = self.con.clone();
        let v: Option<String> = redis::cmd("GET")
            .arg(self.key("child", id))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// The latest data_id with this MD5, SHA-1 or SHA-256.
    pub async fn by_hash(&self, hash: &str) -> Result<Option<String>, Error> {
        let mut c = self.con.clone();
        redis::cmd("GET")
            .arg(self.key("hash", hash))
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    /// Flags a queued or running scan as cancelled; `false` if it is done
    /// or unknown.
    pub async fn cancel(&self, id: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(CANCEL)
            .key(self.key("scan", id))
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Whether a cancel was requested.
    pub async fn cancelled(&self, id: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let v: Option<String> = redis::cmd("HGET")
            .arg(self.key("scan", id))
            .arg("cancel")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.as_deref() == Some("1"))
    }

    /// Creates a batch (open, no files) for the retention period.
    pub async fn create_batch(&self, id: &str, doc: &str) -> Result<(), Error> {
        let k = self.key("batch", id);
        let mut c = self.con.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(&k, &[("doc", doc), ("closed", "0"), ("cancelled", "0")])
            .ignore()
            .expire(&k, self.retention_i())
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// A batch, if known.
    pub async fn batch(&self, id: &str) -> Result<Option<BatchRecord>, Error> {
        let mut c = self.con.clone();
        let (fields, files): (std::collections::HashMap<String, String>, Vec<String>) =
            redis::pipe()
                .atomic()
                .hgetall(self.key("batch", id))
                .lrange(self.key("batchfiles", id), 0, -1)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
        let Some(doc) = fields.get("doc") else {
            return Ok(None);
        };
        Ok(Some(BatchRecord {
            doc: doc.clone(),
            closed: fields.get("closed").is_some_and(|v| v == "1"),
            cancelled: fields.get("cancelled").is_some_and(|v| v == "1"),
            files,
        }))
    }

    /// Appends a data_id to an open batch, atomically; `false` when the
    /// batch is unknown, closed or cancelled.
    pub async fn batch_add(&self, id: &str, data_id: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(BATCH_ADD)
            .key(self.key("batch", id))
            .key(self.key("batchfiles", id))
            .arg(data_id)
            .arg(self.retention_s)
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Closes (and with `cancel` cancels) a batch; `false` when unknown.
    pub async fn batch_end(&self, id: &str, cancel: bool) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(BATCH_END)
            .key(self.key("batch", id))
            .arg(if cancel { "1" } else { "0" })
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    pub(crate) fn events_key(&self) -> String {
        self.key("events", "finished")
    }

    /// A reader of the "finished" events on a connection of its own (its
    /// reads block).
    pub fn events(&self) -> Result<crate::events::Events, Error> {
        crate::events::Events::new(&self.client, self.events_key())
    }

    /// How many attempts at a task are charged: scans that started and
    /// did not end (their worker died or hung).
    pub async fn attempts(&self, task_id: &str) -> Result<u64, Error> {
        let mut c = self.con.clone();
        let n: Option<u64> = redis::cmd("GET")
            .arg(self.key("attempt", task_id))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n.unwrap_or(0))
    }

    /// Gives back an attempt charged by [`State::attempt`]: the scan ended
    /// (whatever its verdict), or its worker is leaving for another task's
    /// sake.
    pub async fn refund(&self, task_id: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        let _: i64 = redis::Script::new(REFUND)
            .key(self.key("attempt", task_id))
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(())
    }

    /// Charges one attempt at a task, right before its scan starts; returns
    /// the count.
    pub async fn attempt(&self, task_id: &str) -> Result<u64, Error> {
        let k = self.key("attempt", task_id);
        let mut c = self.con.clone();
        let (n,): (u64,) = redis::pipe()
            .atomic()
            .incr(&k, 1)
            .expire(&k, self.retention_i())
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n)
    }

    /// Marks a root scan as being worked on (unless it is already done),
    /// with the time its whole tree must be done by.
    pub async fn start(&self, id: &str, worker: &str, deadline_ms: u64) -> Result<(), Error> {
        let mut c = self.con.clone();
        let _: i64 = redis::Script::new(START)
            .key(self.key("scan", id))
            .key(self.open_key())
            .arg(id)
            .arg(now_ms())
            .arg(worker)
            .arg(deadline_ms)
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(())
    }

    /// Whether a root scan has its final result.
    pub async fn done(&self, id: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let v: Option<String> = redis::cmd("HGET")
            .arg(self.key("scan", id))
            .arg("state")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.as_deref() == Some("done"))
    }

    /// Whether the scan record exists at all (it expires with the retention).
    pub async fn exists(&self, id: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.key("scan", id))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Progress of a root scan (0..=99 while running), without reading the
    /// rest of the record.
    pub async fn progress(&self, id: &str) -> Result<u8, Error> {
        let mut c = self.con.clone();
        let v: Option<u64> = redis::cmd("HGET")
            .arg(self.key("scan", id))
            .arg("progress")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.map_or(0, |p| u8::try_from(p.min(99)).unwrap_or(99)))
    }

    /// Progress of a running root scan, 0..=99.
    pub async fn set_progress(&self, id: &str, pct: u8) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("HSET")
            .arg(self.key("scan", id))
            .arg("progress")
            .arg(pct.min(99))
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// Stores a root's final result: first the index (one entry per
    /// extracted object, and the hash index) in chunks, then the report,
    /// the "finished" event and the end of its open listing in one atomic
    /// transaction. Idempotent. A report too big for one value is stored
    /// cut down (see [`stored`]).
    pub async fn finish(&self, id: &str, report: &Report) -> Result<(), Error> {
        let k = self.key("scan", id);
        let (json, cut) = stored(report)?;
        let tree = cut.as_ref().unwrap_or(report);
        let ttl = self.retention_s;
        let mut index: Vec<(String, String)> = Vec::new();
        for o in crate::indexed(id, &tree.root) {
            if !o.path.is_empty() {
                let entry = serde_json::to_string(&ChildRef {
                    root_id: id.to_string(),
                    path: o.path,
                })
                .map_err(|e| Error::Redis(e.to_string()))?;
                index.push((self.key("child", &o.id), entry));
            }
            for hash in [&o.node.md5, &o.node.sha1, &o.node.sha256] {
                if !hash.is_empty() {
                    index.push((self.key("hash", hash), o.id.clone()));
                }
            }
        }
        let mut c = self.con.clone();
        for chunk in index.chunks(INDEX_CHUNK) {
            let mut p = redis::pipe();
            for (key, value) in chunk {
                p.cmd("SET").arg(key).arg(value).arg("EX").arg(ttl).ignore();
            }
            p.query_async::<()>(&mut c).await.map_err(rerr)?;
        }
        let mut p = redis::pipe();
        p.atomic();
        p.cmd("HSET")
            .arg(&k)
            .arg("state")
            .arg("done")
            .arg("report")
            .arg(json)
            .arg("finished_ms")
            .arg(now_ms())
            .arg("progress")
            .arg(100)
            .ignore();
        p.expire(&k, self.retention_i()).ignore();
        p.zrem(self.open_key(), id).ignore();
        // The "finished" event every gateway reads (sync waiters, callbacks).
        p.cmd("XADD")
            .arg(self.events_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(crate::events::KEEP)
            .arg("*")
            .arg("id")
            .arg(id)
            .ignore();
        p.query_async::<()>(&mut c).await.map_err(rerr)
    }
}
