//! "Finished" events: every root that reaches its final result adds one
//! entry to the Redis stream `{ns}:events:finished` (in the same
//! transaction as the result, see [`State::finish`](crate::State::finish)).
//!
//! Two readers use it. Every gateway tails it ([`Events::tail`]) to wake
//! its `POST /file/sync` waiters, whichever worker finished the scan. The
//! consumer group `callbacks` hands each entry to one gateway
//! ([`Events::claim`]), which acknowledges it once the webhook is sent or
//! given up ([`Events::ack`]); entries a gateway took and never
//! acknowledged (it died) are claimed again by another after
//! [`RECLAIM_AFTER`]: delivery is at least once and survives the gateway
//! that accepted the file.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamReadReply};

use crate::Error;

/// Entries the stream keeps (approximately); older ones are trimmed.
pub const KEEP: u64 = 100_000;
/// A callback taken by a gateway that did not acknowledge it for this long
/// is taken again by another.
pub const RECLAIM_AFTER: Duration = Duration::from_secs(300);
const GROUP: &str = "callbacks";

fn rerr(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

/// One event: its stream entry and the data_id that finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The stream entry id (what [`Events::ack`] takes).
    pub entry: String,
    /// The root that finished.
    pub data_id: String,
}

/// A reader of the "finished" stream.
#[derive(Clone)]
pub struct Events {
    con: ConnectionManager,
    key: String,
    /// The `callbacks` group is known to exist (reset when a read says it
    /// does not, e.g. after Redis lost its data).
    grouped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("key", &self.key).finish()
    }
}

fn events(ids: Vec<redis::streams::StreamId>) -> Vec<Event> {
    ids.into_iter()
        .map(|e| Event {
            data_id: e.get::<String>("id").unwrap_or_default(),
            entry: e.id,
        })
        .collect()
}

impl Events {
    pub(crate) fn new(client: &redis::Client, key: String) -> Result<Events, Error> {
        // Reads block for up to a few seconds: the response timeout is
        // above the longest block asked for.
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(30)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let con = ConnectionManager::new_lazy_with_config(client.clone(), cfg).map_err(rerr)?;
        Ok(Events {
            con,
            key,
            grouped: Default::default(),
        })
    }

    /// The id of the newest entry ("0-0" when the stream is empty): where a
    /// tail starts.
    pub async fn last(&self) -> Result<String, Error> {
        let mut c = self.con.clone();
        let r: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&self.key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(r.ids
            .into_iter()
            .next()
            .map_or_else(|| "0-0".into(), |e| e.id))
    }

    /// Entries after `after`, waiting up to `block` for the first one.
    pub async fn tail(&self, after: &str, block: Duration) -> Result<Vec<Event>, Error> {
        let mut c = self.con.clone();
        let r: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(256)
            .arg("BLOCK")
            .arg(block.as_millis().min(20_000) as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(after)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(
            r.map(|r| r.keys.into_iter().flat_map(|k| events(k.ids)).collect())
                .unwrap_or_default(),
        )
    }

    /// Makes sure the `callbacks` group exists (from the start of the
    /// stream, so nothing finished before the first gateway is missed).
    async fn group(&self) -> Result<(), Error> {
        let mut c = self.con.clone();
        let r: Result<(), _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(rerr(e)),
        }
    }

    /// Callbacks for `consumer` to deliver: first entries another consumer
    /// took and left unacknowledged for [`RECLAIM_AFTER`], else new ones
    /// (waiting up to `block`).
    pub async fn claim(&self, consumer: &str, block: Duration) -> Result<Vec<Event>, Error> {
        use std::sync::atomic::Ordering;
        if !self.grouped.load(Ordering::Relaxed) {
            self.group().await?;
            self.grouped.store(true, Ordering::Relaxed);
        }
        let r = self.claim_in_group(consumer, block).await;
        if r.as_ref().is_err_and(|e| e.to_string().contains("NOGROUP")) {
            self.grouped.store(false, Ordering::Relaxed);
        }
        r
    }

    async fn claim_in_group(&self, consumer: &str, block: Duration) -> Result<Vec<Event>, Error> {
        let mut c = self.con.clone();
        let stale: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.key)
            .arg(GROUP)
            .arg(consumer)
            .arg(RECLAIM_AFTER.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(32)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        if !stale.claimed.is_empty() {
            return Ok(events(stale.claimed));
        }
        let r: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(32)
            .arg("BLOCK")
            .arg(block.as_millis().min(20_000) as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(">")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(
            r.map(|r| r.keys.into_iter().flat_map(|k| events(k.ids)).collect())
                .unwrap_or_default(),
        )
    }

    /// The callback of this entry is done with (sent, given up, or none).
    pub async fn ack(&self, entry: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("XACK")
            .arg(&self.key)
            .arg(GROUP)
            .arg(entry)
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }
}
