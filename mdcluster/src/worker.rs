//! The worker role: consume tasks, scan with mdcore, store the result in
//! Redis, then acknowledge.
//!
//! - At most `concurrency` tasks are unacknowledged at once (prefetch).
//! - A task is acknowledged only after its result is durable in Redis; a
//!   worker that dies leaves its tasks to be redelivered to another.
//! - A scan that starts is charged an attempt in Redis and gives it back
//!   when it ends, so the count is of scans a worker died or hung in (a
//!   worker whose watchdog fires gives back the attempts of its other,
//!   innocent scans before it exits); a task charged `max_attempts` times
//!   is recorded as Failed (code 3, which blocks) and dead-lettered instead
//!   of looping. Redeliveries for a Redis or RabbitMQ outage cost nothing.
//! - A blob that can not be read yet is retried with back-off for
//!   [`BLOB_RETRY`] before the file is recorded as Failed.
//! - A root archive of `fanout_size` bytes or more, or with more than
//!   `fanout_entries` children, is split: its children go to the blob store
//!   and onto the queue as child tasks that any worker may take, with the
//!   root's remaining budget; the worker that stores the last child's
//!   result puts the report together.
//! - Asked to drain (`State::request_drain`, from the gateway's admin API)
//!   it does what it does on SIGTERM and leaves.
//! - On shutdown the worker stops taking tasks, finishes those it holds (up
//!   to `drain_timeout`) and returns the rest to the queue.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions, BasicRejectOptions};
use mdcore::{CancelToken, Origin, Report, ResultCode, ScanOptions, Scanner};
use sha2::{Digest, Sha256};

use crate::blob::Blobs;
use crate::queue::{self, Names, Publisher};
use crate::state::State;
use crate::task::Task;
use crate::{Endpoints, Error, fault, now_ms, sysinfo};

/// How long past its time limit a scan may run before the worker gives up
/// on it (and exits, see `process`).
const WATCHDOG_GRACE: Duration = Duration::from_secs(10);

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The cluster's services.
    pub endpoints: Endpoints,
    /// This worker's name in `/stat/nodes` (unique in the cluster).
    pub id: String,
    /// Tasks worked on at once (RabbitMQ prefetch).
    pub concurrency: usize,
    /// Root archives at least this big are fanned out.
    pub fanout_size: u64,
    /// Children of one root scanned here before the rest are fanned out.
    pub fanout_entries: u64,
    /// Deliveries of one task before it is recorded as Failed.
    pub max_attempts: u64,
    /// Where downloaded blobs and children are spooled.
    pub tmp_dir: PathBuf,
    /// How long a stopping worker waits for its running tasks.
    pub drain_timeout: Duration,
    /// Builds a scanner from the definitions on disk when the cluster is
    /// asked to reload them (`State::request_engine_reload`); without it
    /// the worker keeps the scanner it started with.
    pub rebuild: Option<Rebuild>,
}

/// Builds a fresh [`Scanner`] (runs on the blocking pool).
#[derive(Clone)]
pub struct Rebuild(pub Arc<dyn Fn() -> Result<Scanner, String> + Send + Sync>);

impl std::fmt::Debug for Rebuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rebuild")
    }
}

struct Ctx {
    cfg: WorkerConfig,
    /// The scanner in force; a task takes a clone when it starts.
    scanner: std::sync::RwLock<Scanner>,
    /// The reload number the scanner in force answers.
    engines_at: AtomicU64,
    state: State,
    blobs: Blobs,
    publisher: Arc<Publisher>,
    active: AtomicUsize,
    /// Tasks whose scan is running in this process (their attempt charged).
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Why a task was not acknowledged as done.
enum Outcome {
    /// Result stored: acknowledge.
    Done,
    /// Recorded as Failed after too many attempts: dead-letter it.
    Dead,
}

/// Runs a worker until `shutdown` completes.
pub async fn run(
    cfg: WorkerConfig,
    scanner: Scanner,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let names = Names::new(&cfg.endpoints.namespace);
    cfg.endpoints.tls.check()?;
    let state = cfg.endpoints.state()?;
    let blobs = cfg.endpoints.blobs()?;
    std::fs::create_dir_all(&cfg.tmp_dir)?;
    let publisher = cfg.endpoints.publisher();
    // A scanner built now is current with the last reload asked for.
    let engines_at = AtomicU64::new(state.engine_reload().await.unwrap_or(0));
    let ctx = Arc::new(Ctx {
        cfg,
        scanner: std::sync::RwLock::new(scanner),
        engines_at,
        state,
        blobs,
        publisher,
        active: AtomicUsize::new(0),
        running: std::sync::Mutex::new(std::collections::HashSet::new()),
    });
    let drain = Arc::new(tokio::sync::Notify::new());
    let beat = tokio::spawn(heartbeats(ctx.clone(), drain.clone()));
    let shutdown = async {
        tokio::select! {
            () = shutdown => {}
            () = drain.notified() => {
                eprintln!("mdscan worker {}: asked to drain", ctx.cfg.id);
            }
        }
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    let mut backoff = Duration::from_millis(200);
    let prefetch = u16::try_from(ctx.cfg.concurrency.max(1)).unwrap_or(u16::MAX);
    'connect: loop {
        let link = async {
            let (conn, ch) = ctx.cfg.endpoints.amqp().await?;
            let consumer = queue::consume(&ch, &names, prefetch, &ctx.cfg.id).await?;
            Ok::<_, Error>((conn, ch, consumer))
        };
        let (conn, ch, mut consumer) = tokio::select! {
            l = link => match l {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("mdscan worker {}: {e}; retrying in {backoff:?}", ctx.cfg.id);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = &mut shutdown => break 'connect,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
            () = &mut shutdown => break 'connect,
        };
        eprintln!(
            "mdscan worker {}: consuming {} (prefetch {prefetch})",
            ctx.cfg.id, names.tasks
        );
        backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                d = consumer.next() => match d {
                    Some(Ok(delivery)) => {
                        let ctx = ctx.clone();
                        tasks.spawn(async move { handle(ctx, delivery).await });
                    }
                    Some(Err(e)) => {
                        eprintln!("mdscan worker {}: lost RabbitMQ ({e}); reconnecting", ctx.cfg.id);
                        continue 'connect;
                    }
                    None => {
                        eprintln!("mdscan worker {}: the consumer was closed; reconnecting", ctx.cfg.id);
                        continue 'connect;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = &mut shutdown => {
                    eprintln!("mdscan worker {}: stopping; finishing {} task(s)", ctx.cfg.id, tasks.len());
                    let _ = ch.basic_cancel(ctx.cfg.id.as_str().into(), BasicCancelOptions::default()).await;
                    let drain = async { while tasks.join_next().await.is_some() {} };
                    if tokio::time::timeout(ctx.cfg.drain_timeout, drain).await.is_err() {
                        eprintln!("mdscan worker {}: tasks still running; returning them to the queue", ctx.cfg.id);
                    }
                    let _ = ch.close(200, "worker stopping".into()).await;
                    let _ = conn.close(200, "worker stopping".into()).await;
                    break 'connect;
                }
            }
        }
    }
    beat.abort();
    let _ = ctx.state.leave(&ctx.cfg.id).await;
    Ok(())
}

async fn heartbeats(ctx: Arc<Ctx>, drain: Arc<tokio::sync::Notify>) {
    let mut draining = false;
    loop {
        if !draining
            && ctx
                .state
                .drain_requested(&ctx.cfg.id)
                .await
                .unwrap_or(false)
        {
            draining = true;
            drain.notify_one();
        }
        reload_engines(&ctx).await;
        let mut status = sysinfo::node_status(
            &ctx.cfg.id,
            &sysinfo::hostname(),
            ctx.scanner().engines(),
            fs4::available_space(&ctx.cfg.tmp_dir).unwrap_or(0),
            ctx.active.load(Ordering::Relaxed),
            ctx.cfg.concurrency,
        );
        if let Some(m) = status.as_object_mut() {
            m.insert("role".into(), serde_json::json!("worker"));
            m.insert("draining".into(), serde_json::json!(draining));
            m.insert(
                "engines_reload".into(),
                serde_json::json!(ctx.engines_at.load(Ordering::Relaxed)),
            );
        }
        if let Err(e) = ctx
            .state
            .heartbeat(&ctx.cfg.id, &status, Duration::from_secs(10))
            .await
        {
            eprintln!("mdscan worker {}: heartbeat: {e}", ctx.cfg.id);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

impl Ctx {
    fn scanner(&self) -> Scanner {
        match self.scanner.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Follows a reload the cluster was asked for: builds a scanner from the
/// definitions on disk and puts it in force. One that fails to build is
/// reported and the definitions in force stay (they are not retried until
/// the next reload).
async fn reload_engines(ctx: &Arc<Ctx>) {
    let Some(rebuild) = ctx.cfg.rebuild.clone() else {
        return;
    };
    let Ok(want) = ctx.state.engine_reload().await else {
        return;
    };
    if want == ctx.engines_at.load(Ordering::Relaxed) {
        return;
    }
    match tokio::task::spawn_blocking(move || (rebuild.0)()).await {
        Ok(Ok(fresh)) => {
            match ctx.scanner.write() {
                Ok(mut g) => *g = fresh,
                Err(p) => *p.into_inner() = fresh,
            }
            eprintln!(
                "mdscan worker {}: definitions reloaded ({want})",
                ctx.cfg.id
            );
        }
        Ok(Err(e)) => eprintln!(
            "mdscan worker {}: reload {want} failed, the definitions in force stay: {e}",
            ctx.cfg.id
        ),
        Err(e) => eprintln!(
            "mdscan worker {}: reload {want} crashed, the definitions in force stay: {e}",
            ctx.cfg.id
        ),
    }
    ctx.engines_at.store(want, Ordering::Relaxed);
}

async fn handle(ctx: Arc<Ctx>, delivery: Delivery) {
    ctx.active.fetch_add(1, Ordering::Relaxed);
    let task: Result<Task, _> = serde_json::from_slice(&delivery.data);
    let outcome = match task {
        Ok(task) => process(&ctx, &task).await,
        Err(e) => {
            eprintln!(
                "mdscan worker {}: dropping a malformed task: {e}",
                ctx.cfg.id
            );
            Ok(Outcome::Dead)
        }
    };
    ctx.active.fetch_sub(1, Ordering::Relaxed);
    let acked = match outcome {
        Ok(Outcome::Done) => delivery.ack(BasicAckOptions::default()).await,
        Ok(Outcome::Dead) => delivery.reject(BasicRejectOptions { requeue: false }).await,
        Err(e) => {
            // A service is down: give the task back after a pause. Its
            // result, if any, was not stored.
            eprintln!(
                "mdscan worker {}: task returned to the queue: {e}",
                ctx.cfg.id
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            delivery
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                })
                .await
        }
    };
    if let Err(e) = acked {
        // The channel died; the broker redelivers the task elsewhere and
        // the idempotent writes make the repeat harmless.
        eprintln!("mdscan worker {}: can not acknowledge: {e}", ctx.cfg.id);
    }
}

/// Retries a Redis or blob-store write while the service is restarting, so
/// a finished scan is not thrown away for a short outage.
async fn persist<T, F, Fut>(what: &str, mut f: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut wait = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= give_up => return Err(e),
            Err(e) => {
                eprintln!("mdscan worker: {what}: {e}; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// A report for an object that was not scanned, placed where it belongs.
fn unscanned(task: &Task, code: ResultCode, why: &str) -> Report {
    let mut r = Report::unscanned(&task.name, code, why);
    if let Some(o) = &task.origin {
        r.root.display_name = format!("{}/{}", o.parent_display, task.name);
        r.root.depth = o.depth;
        r.root.file_size = task.size;
    }
    r
}

/// How long a worker keeps trying to read a task's blob before it records
/// the file as unreadable (a shared directory or bucket that lags behind the
/// gateway's write, a store that is briefly unreachable).
const BLOB_RETRY: Duration = Duration::from_secs(20);

async fn process(ctx: &Arc<Ctx>, task: &Task) -> Result<Outcome, Error> {
    let charged = ctx.state.attempts(&task.id()).await?;
    if ctx.state.done(&task.root).await? {
        return Ok(Outcome::Done);
    }
    if !ctx.state.exists(&task.root).await? {
        // The scan expired or was withdrawn: nothing to report to.
        return Ok(Outcome::Done);
    }
    if charged >= ctx.cfg.max_attempts {
        let why = format!(
            "the scan did not complete on {charged} attempts (a worker crashed or hung on this file)"
        );
        let report = unscanned(task, ResultCode::Failed, &why);
        eprintln!("mdscan worker {}: {} failed: {why}", ctx.cfg.id, task.id());
        store(ctx, task, report).await?;
        return Ok(Outcome::Dead);
    }
    if ctx.state.cancelled(&task.root).await? {
        let report = unscanned(
            task,
            ResultCode::Canceled,
            "cancelled before it was scanned",
        );
        store(ctx, task, report).await?;
        return Ok(Outcome::Done);
    }
    // A root's clock starts when a worker takes it (as in a local scan);
    // its children share the root's deadline.
    let deadline_ms = if task.token.is_none() {
        now_ms().saturating_add(u64::try_from(task.limits.timeout.as_millis()).unwrap_or(u64::MAX))
    } else {
        task.deadline_ms
    };
    if task.token.is_none() {
        ctx.state
            .start(&task.root, &ctx.cfg.id, deadline_ms)
            .await?;
    }
    // Fault injection for the cluster tests: a file that hangs the scan.
    let hang = fault("MDSCAN_TEST_HANG_ON", &task.blob);
    let mut wait = Duration::from_millis(250);
    let give_up = tokio::time::Instant::now() + BLOB_RETRY;
    let local = loop {
        match ctx.blobs.fetch(&task.blob, &ctx.cfg.tmp_dir).await {
            Ok(l) => break l,
            Err(Error::Blob(why)) if tokio::time::Instant::now() < give_up => {
                eprintln!(
                    "mdscan worker {}: can not read {} yet ({why}); retrying in {wait:?}",
                    ctx.cfg.id, task.blob
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(4));
            }
            Err(Error::Blob(why)) => {
                // Not examined: Failed (3), which blocks by default.
                let report = unscanned(
                    task,
                    ResultCode::Failed,
                    &format!(
                        "can not read the file (tried for {} s): {why}",
                        BLOB_RETRY.as_secs()
                    ),
                );
                store(ctx, task, report).await?;
                return Ok(Outcome::Done);
            }
            Err(e) => return Err(e),
        }
    };
    // Only a scan that starts is charged an attempt; it is given back when
    // the scan ends, so the count is of scans a worker died or hung in.
    ctx.state.attempt(&task.id()).await?;
    if let Ok(mut r) = ctx.running.lock() {
        r.insert(task.id());
    }
    if fault("MDSCAN_TEST_ABORT_ON", &task.blob) {
        // Fault injection for the cluster tests: a file that kills every
        // worker that takes it.
        eprintln!(
            "mdscan worker {}: MDSCAN_TEST_ABORT_ON matched; aborting",
            ctx.cfg.id
        );
        std::process::abort();
    }
    let (used_objects, used_bytes) = if task.token.is_some() {
        ctx.state.fan_usage(&task.root).await?
    } else {
        (0, 0)
    };
    let limits = crate::task::remaining(
        &task.limits,
        used_objects,
        used_bytes,
        now_ms(),
        deadline_ms,
    );
    let watchdog = limits.timeout.saturating_add(WATCHDOG_GRACE);
    let cancel = CancelToken::new();
    let progress = Arc::new(AtomicU64::new(0));
    let mut opts = ScanOptions::new()
        .name(task.name.clone())
        .limits(limits)
        .cancel(cancel.clone());
    for p in &task.passwords {
        opts = opts.password(p.clone());
    }
    if let Some(o) = &task.origin {
        opts = opts.origin(o.clone());
    }
    let spool = Spool::new(&ctx.cfg.tmp_dir, &task.root);
    if task.token.is_none() {
        let p = progress.clone();
        opts = opts.progress(move |pr| p.store(pr.bytes, Ordering::Relaxed));
        let policy = Policy {
            all: task.size >= ctx.cfg.fanout_size,
            after: ctx.cfg.fanout_entries,
            seen: AtomicU64::new(0),
        };
        let s = spool.clone();
        opts = opts.split(move |c| {
            let n = policy.seen.fetch_add(1, Ordering::Relaxed);
            if !policy.all && n < policy.after {
                return None;
            }
            s.take(c.name, c.display_name, c.data)
        });
    }
    // Cancel and progress travel through Redis while the scan runs.
    let watch = {
        let ctx = ctx.clone();
        let root = task.root.clone();
        let cancel = cancel.clone();
        let is_root = task.token.is_none();
        let size = task.size.max(1);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if ctx.state.cancelled(&root).await.unwrap_or(false) {
                    cancel.cancel();
                }
                if is_root {
                    let pct = progress.load(Ordering::Relaxed).saturating_mul(100) / size;
                    let _ = ctx
                        .state
                        .set_progress(&root, u8::try_from(pct.clamp(1, 99)).unwrap_or(99))
                        .await;
                }
            }
        })
    };
    let scanner = ctx.scanner();
    let path = local.path().to_path_buf();
    let name = task.name.clone();
    // A root file is sanitized when its workflow says so; its copy is
    // spooled here and stored once the job is done. (Members handed to
    // other workers are not known to this scan's block list: the copy's
    // own scan catches them, and a copy that blocks is not served.)
    let copy_path = ctx
        .cfg
        .tmp_dir
        .join(format!("sanitized-{:016x}", rand::random::<u64>()));
    let job_task = task.clone();
    let spooled = copy_path.clone();
    let scan = tokio::task::spawn_blocking(move || {
        if hang {
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        let off = mdcore::sanitize::Policy::default();
        let spec = crate::job::Spec {
            block_codes: &job_task.block_codes,
            sanitize: if job_task.token.is_none() {
                &job_task.sanitize
            } else {
                &off
            },
            limits: &job_task.limits,
        };
        let mut copy_sha = None;
        let report = crate::job::run(&scanner, &path, &job_task.name, &opts, spec, |copy, sha| {
            std::fs::write(&spooled, copy).map_err(|e| e.to_string())?;
            copy_sha = Some(sha.to_string());
            Ok(())
        });
        (report, copy_sha)
    });
    // mdcore stops a scan at its time limit within moments; one still
    // running long after is stuck in a bug. Its thread can not be stopped,
    // so the worker exits: the task (unacknowledged) goes back to the queue
    // with this attempt charged, and after `max_attempts` it is Failed.
    let Ok(scanned) = tokio::time::timeout(watchdog, scan).await else {
        eprintln!(
            "mdscan worker {}: the scan of {} overran its time limit by {WATCHDOG_GRACE:?}; exiting so the task goes elsewhere",
            ctx.cfg.id,
            task.id()
        );
        // The other scans running here are innocent: give their attempts
        // back before leaving (their tasks are redelivered).
        let others: Vec<String> = ctx
            .running
            .lock()
            .map(|r| r.iter().filter(|id| **id != task.id()).cloned().collect())
            .unwrap_or_default();
        for id in others {
            let _ = ctx.state.refund(&id).await;
        }
        std::process::exit(70);
    };
    watch.abort();
    if let Ok(mut r) = ctx.running.lock() {
        r.remove(&task.id());
    }
    // The scan ended in this process: the attempt is given back.
    let _ = ctx.state.refund(&task.id()).await;
    let mut report = match scanned {
        Ok((r, copy_sha)) => {
            let mut r = r;
            if let Some(sha) = copy_sha
                && let Err(why) = keep_copy(ctx, &copy_path, &sha).await
            {
                r.sanitization = Some(mdcore::sanitize::Record::failed(why));
            }
            r
        }
        Err(_) => Report::unscanned(&name, ResultCode::Failed, "the scan crashed"),
    };
    let _ = std::fs::remove_file(&copy_path);
    drop(local);
    if task.origin.is_some() {
        report
            .root
            .notes
            .push(format!("scanned by cluster worker {}", ctx.cfg.id));
    }
    let children = spool.taken();
    let pending = report.remote();
    if task.token.is_none() && !pending.is_empty() {
        fan_out(ctx, task, &report, &children, &pending, deadline_ms).await?;
        spool.remove();
        return Ok(Outcome::Done);
    }
    spool.remove();
    store(ctx, task, report).await?;
    Ok(Outcome::Done)
}

/// Stores a root file's sanitized copy (spooled at `copy`) in the blob
/// store as an upload, under its SHA-256, where the gateway's
/// `/file/converted` finds it, kept as long as uploads are.
async fn keep_copy(ctx: &Arc<Ctx>, copy: &std::path::Path, sha: &str) -> Result<(), String> {
    let key = crate::upload_key(sha);
    persist("storing a sanitized copy", || {
        ctx.blobs.put_file(&key, copy)
    })
    .await
    .map_err(|e| format!("the sanitized copy could not be stored: {e}"))
}

/// Stores a task's result: a root's final report, or a child's part (and,
/// for the last part, the root's assembled report).
async fn store(ctx: &Arc<Ctx>, task: &Task, report: Report) -> Result<(), Error> {
    let Some(token) = &task.token else {
        return store_root(ctx, &task.root, report).await;
    };
    let pending = persist("storing a child result", || {
        ctx.state.fan_part(&task.root, token, &report)
    })
    .await?;
    let _ = ctx.blobs.delete(&task.blob).await;
    if pending == Some(0) {
        finalize(ctx, &task.root).await?;
    }
    Ok(())
}

/// Stores a root's final report. When Redis answers but will not take it
/// (a value it refuses, memory full) the verdict is kept on the root alone
/// with a note saying why, rather than returning the task to the queue to
/// fail the same way forever.
async fn store_root(ctx: &Arc<Ctx>, root: &str, report: Report) -> Result<(), Error> {
    let e = match persist("storing a result", || ctx.state.finish(root, &report)).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if !ctx.state.ping().await {
        return Err(e);
    }
    eprintln!(
        "mdscan worker {}: storing {root} failed ({e}); storing its verdict alone",
        ctx.cfg.id
    );
    let mut small = report;
    small.cap(1, 2048);
    small.root.notes.push(format!(
        "the full report could not be stored ({e}); the verdict covers every object"
    ));
    persist("storing a result", || ctx.state.finish(root, &small)).await
}

/// Puts a fanned-out root's report together from its parts.
async fn finalize(ctx: &Arc<Ctx>, root: &str) -> Result<(), Error> {
    let Some(fan) = persist("reading a fan-out", || ctx.state.fan_collect(root)).await? else {
        return Ok(());
    };
    let mut report = fan.parent;
    for (token, part) in fan.parts {
        report.graft(&token, part);
    }
    if !report.remote().is_empty() {
        // A part is missing; the next part's worker finalizes.
        return Ok(());
    }
    if let Ok(Some(rec)) = ctx.state.scan(root).await
        && let Some(started) = rec.started_ms
    {
        report.total_time = now_ms().saturating_sub(started);
    }
    store_root(ctx, root, report).await?;
    let _ = ctx.state.fan_close(root).await;
    Ok(())
}

/// Publishes a root's children as tasks after recording what is expected.
async fn fan_out(
    ctx: &Arc<Ctx>,
    task: &Task,
    parent: &Report,
    children: &[Spooled],
    pending: &[String],
    deadline_ms: u64,
) -> Result<(), Error> {
    let used = (parent.objects.saturating_sub(1), parent.bytes_extracted);
    // Upload first: a child task must never point at a missing blob.
    let mut tasks = Vec::new();
    for child in children {
        if !pending.contains(&child.token) {
            continue;
        }
        let key = format!("children/{}/{}", task.root, child.token);
        persist("storing a child", || ctx.blobs.put_file(&key, &child.path)).await?;
        tasks.push(Task {
            root: task.root.clone(),
            token: Some(child.token.clone()),
            blob: key,
            name: child.name.clone(),
            size: child.size,
            origin: Some(Origin {
                parent_display: parent.root.display_name.clone(),
                depth: parent.root.depth + 1,
                ancestors: vec![parent.root.sha256.clone()],
                root_size: task.size,
            }),
            limits: task.limits.clone(),
            passwords: task.passwords.clone(),
            deadline_ms,
            sanitize: Default::default(),
            block_codes: task.block_codes.clone(),
        });
    }
    persist("recording a fan-out", || {
        ctx.state.fan_open(&task.root, parent, pending, used)
    })
    .await?;
    for t in &tasks {
        ctx.publisher.publish(t).await?;
    }
    eprintln!(
        "mdscan worker {}: {} fanned out into {} child task(s)",
        ctx.cfg.id,
        task.root,
        tasks.len()
    );
    Ok(())
}

/// A child taken out of a root scan and written to a local file.
#[derive(Clone, Debug)]
struct Spooled {
    token: String,
    name: String,
    path: PathBuf,
    size: u64,
}

/// When a root's children are handed to the cluster.
struct Policy {
    all: bool,
    after: u64,
    seen: AtomicU64,
}

/// Children taken out of a root scan, spooled to local files until the scan
/// ends. Tokens are stable across attempts (name and content), so a
/// redelivered root publishes the same children.
#[derive(Clone)]
struct Spool {
    dir: PathBuf,
    taken: Arc<Mutex<Vec<Spooled>>>,
    seen: Arc<Mutex<HashMap<String, u32>>>,
}

impl Spool {
    fn new(tmp: &std::path::Path, root: &str) -> Spool {
        Spool {
            dir: tmp.join(format!("spool-{root}-{:08x}", rand::random::<u32>())),
            taken: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// Spools one child; `None` (scan it here) if it can not be written.
    fn take(&self, name: &str, display_name: &str, data: &[u8]) -> Option<String> {
        let mut h = Sha256::new();
        h.update(display_name.as_bytes());
        h.update([0]);
        h.update(Sha256::digest(data));
        let digest = h.finalize();
        let base = mdcore::hex(digest.get(..12).unwrap_or_default());
        let token = {
            let mut seen = self.seen.lock().ok()?;
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { base } else { format!("{base}-{n}") }
        };
        std::fs::create_dir_all(&self.dir).ok()?;
        let path = self.dir.join(&token);
        std::fs::write(&path, data).ok()?;
        self.taken.lock().ok()?.push(Spooled {
            token: token.clone(),
            name: name.to_string(),
            path,
            size: data.len() as u64,
        });
        Some(token)
    }

    fn taken(&self) -> Vec<Spooled> {
        self.taken.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
