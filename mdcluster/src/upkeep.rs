//! A cluster's periodic upkeep, run by one gateway at a time (a lock in
//! Redis): the **reconciler**, which finds scans stuck queued or processing
//! and publishes them again or ends them as Failed (code 3, which blocks),
//! and the **retention sweep**, which removes uploads and left-over child
//! blobs from the blob store once nothing needs them. Scan records, the
//! hash index and fan-out bookkeeping expire in Redis by themselves (their
//! keys carry the retention as a TTL).
//!
//! How the reconciler tells a lost scan from a slow one:
//! - a **queued** scan whose record has not changed for `stuck_after` while
//!   the task queue is empty: its task was lost (a publish the broker
//!   confirmed and then lost, a queue purged by hand). Nothing is waiting
//!   that could be it.
//! - a **processing** scan `stuck_after` past the deadline its worker set
//!   for the whole tree (its time limit), with the queue empty: its worker
//!   died after taking it and the redelivery was lost, or a fanned-out
//!   child task was lost so the tree can never complete.
//!
//! Either is published again (the root task as the gateway first published
//! it; a redelivered root re-publishes its missing children), at most
//! `max_requeues` times; after that it is stored as Failed, with the parts
//! of a fanned-out tree that did arrive. A publish repeated for a scan that
//! was only slow is harmless: every result write is idempotent.

use std::time::Duration;

use mdcore::{Report, ResultCode};

use crate::queue::Publisher;
use crate::state::State;
use crate::task::Task;
use crate::{Blobs, Error, now_ms};

/// How the reconciler decides.
#[derive(Clone, Debug)]
pub struct ReconcileConfig {
    /// How long a scan may sit unchanged (queued) or past its deadline
    /// (processing) before it counts as stuck.
    pub stuck_after: Duration,
    /// Publishes of one stuck scan before it is stored as Failed.
    pub max_requeues: u64,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Scans published again.
    pub requeued: Vec<String>,
    /// Scans stored as Failed.
    pub failed: Vec<String>,
    /// Open entries dropped because their scan is done or expired.
    pub forgotten: usize,
}

/// Open scans looked at per pass.
const BATCH: usize = 1000;

/// One reconciler pass. Does nothing while tasks wait in the queue: a scan
/// behind them is not stuck, only late.
pub async fn reconcile(
    state: &State,
    publisher: &Publisher,
    cfg: &ReconcileConfig,
) -> Result<Reconciled, Error> {
    let mut out = Reconciled::default();
    let stuck_ms = u64::try_from(cfg.stuck_after.as_millis()).unwrap_or(u64::MAX);
    let now = now_ms();
    let ids = state
        .open_before(now.saturating_sub(stuck_ms), BATCH)
        .await?;
    if ids.is_empty() {
        return Ok(out);
    }
    let waiting = publisher.depth().await?;
    for id in ids {
        let Some(rec) = state.scan(&id).await? else {
            state.forget_open(&id).await?;
            out.forgotten += 1;
            continue;
        };
        if rec.state == "done" {
            state.forget_open(&id).await?;
            out.forgotten += 1;
            continue;
        }
        if waiting > 0 {
            continue;
        }
        if rec.state == "processing" && now < rec.deadline_ms.unwrap_or(0).saturating_add(stuck_ms)
        {
            continue;
        }
        let task: Option<Task> = rec
            .task
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        match task {
            Some(task) if rec.requeues < cfg.max_requeues => {
                publisher.publish(&task).await?;
                state.requeued(&id).await?;
                eprintln!(
                    "mdscan reconciler: {id} was stuck {}; published again ({} of {})",
                    rec.state,
                    rec.requeues + 1,
                    cfg.max_requeues
                );
                out.requeued.push(id);
            }
            task => {
                let name = task.map(|t| t.name).unwrap_or_else(|| id.clone());
                let why = format!(
                    "the cluster lost this scan: it stayed {} with nothing queued, and was \
                     published again {} time(s) without completing",
                    rec.state, rec.requeues
                );
                let report = match state.fan_collect(&id).await? {
                    Some(fan) => {
                        let mut r = fan.parent;
                        for (token, part) in fan.parts {
                            r.graft(&token, part);
                        }
                        r.fail_remote(&format!("{why} (this object's task was lost)"));
                        r.root.notes.push(why.clone());
                        if let Some(started) = rec.started_ms {
                            r.total_time = now.saturating_sub(started);
                        }
                        r
                    }
                    None => Report::unscanned(&name, ResultCode::Failed, &why),
                };
                state.finish(&id, &report).await?;
                let _ = state.fan_close(&id).await;
                eprintln!("mdscan reconciler: {id}: {why}; stored as Failed");
                out.failed.push(id);
            }
        }
    }
    Ok(out)
}

/// What one sweep removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Uploads removed from the blob store.
    pub uploads: usize,
    /// Child blobs of fanned-out archives removed.
    pub children: usize,
}

/// Keys looked at per sweep and folder.
const SWEEP_BATCH: usize = 5000;

/// One retention sweep: uploads not used for `keep` (and not needed by any
/// scan still open) are removed, as are blobs in `children/` older than
/// `keep` (a fanned-out child deletes its own blob when scanned; these are
/// left by lost trees) and upload blobs the use index does not know
/// (written by a gateway that died before recording them).
pub async fn sweep(state: &State, blobs: &Blobs, keep: Duration) -> Result<Swept, Error> {
    let mut out = Swept::default();
    let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
    let mut cutoff = now_ms().saturating_sub(keep_ms);
    // A scan still open may need any upload newer than it.
    if let Some(oldest) = state.oldest_open().await? {
        cutoff = cutoff.min(oldest.saturating_sub(1));
    }
    for sha in state.blobs_before(cutoff, SWEEP_BATCH).await? {
        // Removed from the index first: a new upload of the same bytes
        // after this point records it again (and the put recreates it).
        if state.forget_blob(&sha, cutoff).await? {
            blobs.delete(&crate::upload_key(&sha)).await?;
            out.uploads += 1;
        }
    }
    for key in blobs.list_older("uploads", cutoff, SWEEP_BATCH).await? {
        let sha = key.trim_start_matches("uploads/");
        if state.blob_used(sha).await?.is_none() {
            blobs.delete(&key).await?;
            out.uploads += 1;
        }
    }
    for key in blobs.list_older("children", cutoff, SWEEP_BATCH).await? {
        blobs.delete(&key).await?;
        out.children += 1;
    }
    Ok(out)
}
