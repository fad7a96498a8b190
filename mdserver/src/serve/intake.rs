//! The intake: how a file becomes a scan, whatever carried it. Every
//! front-end — the HTTP upload, the clamd listener — goes through it, so all
//! share the workflows, limits, result store, history, audit and metrics:
//!
//! 1. [`admit`] checks the request before any byte is read (the right to
//!    submit, the workflow and whether it serves this user agent, the
//!    batch, a queue and a disk with room): nothing accepted is dropped;
//! 2. a [`Spool`] takes the bytes in chunks as they arrive, hashes them on
//!    the way (MD5, SHA-1, SHA-256), keeps the first bytes for type
//!    detection and refuses more than the workflow's `max_file_size`;
//! 3. [`submit`] keeps the file under its SHA-256 and queues the scan;
//!    [`Submitted::wait`] waits for its end.

use std::time::Duration;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::backend::{AuditEvent, Backend, BackendError, Scan, State, iso, new_id, now_ms};
use super::config::{Config, Workflow};
use super::identity::Identity;

/// Bytes of a file kept for type detection.
const DETECT_PREFIX: usize = 64 << 10;
/// Files up to this size are held in memory and written to disk in one
/// step once received.
const HELD_MAX: usize = 1 << 20;

/// What a front-end knows of a file besides its bytes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Submission {
    /// The workflow asked for by name (`rule`); empty: the default.
    pub(crate) workflow: String,
    /// The client (`user_agent`): `clamd` for the clamd listener.
    pub(crate) user_agent: String,
    /// The file's name, when the client gave one.
    pub(crate) filename: Option<String>,
    /// Archive passwords to try.
    pub(crate) passwords: Vec<String>,
    /// The client's `metadata`, kept with the result.
    pub(crate) metadata: Option<String>,
    /// Where to send the result when the scan ends.
    pub(crate) callback_url: Option<String>,
    /// The batch the scan joins (lower case).
    pub(crate) batch_id: Option<String>,
}

/// Why a file was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IntakeError {
    /// The identity may not submit files.
    #[error("Access denied")]
    Forbidden,
    /// No workflow of that name.
    #[error("Unknown rule `{0}`")]
    UnknownWorkflow(String),
    /// The workflow does not serve this user agent.
    #[error("Rule `{0}` is not available to this user agent")]
    NotForAgent(String),
    /// The batch does not exist, is closed or cancelled, or is not the
    /// caller's.
    #[error("Batch not found or closed")]
    BatchClosed,
    /// The queue is full, the disk is short or a service is down.
    #[error("Server is too busy. Try again later.")]
    Busy,
    /// No bytes.
    #[error("the file is empty")]
    Empty,
    /// More bytes than the workflow's `max_file_size`.
    #[error("the file is larger than the workflow allows ({0} bytes)")]
    TooLarge(u64),
    /// The file could not be stored.
    #[error("can not store the file: {0}")]
    Store(String),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Checks `req` before its bytes are read: the workflow it will run under.
pub(crate) async fn admit<B: Backend>(
    cfg: &Config,
    backend: &B,
    who: &Identity,
    req: &Submission,
) -> Result<Workflow, IntakeError> {
    if !who.can(super::roles::Perm::Submit) {
        return Err(IntakeError::Forbidden);
    }
    let workflow = cfg
        .workflow(&req.workflow)
        .ok_or_else(|| IntakeError::UnknownWorkflow(req.workflow.clone()))?;
    if !workflow.allows(&req.user_agent) {
        return Err(IntakeError::NotForAgent(workflow.name.clone()));
    }
    if let Some(id) = &req.batch_id {
        match backend.batch(id).await? {
            Some(b) if who.can_manage(&b.owner) && !b.is_closed && !b.cancelled => {}
            _ => return Err(IntakeError::BatchClosed),
        }
    }
    if !backend.accepting() || backend.free_disk() < cfg.min_free_disk {
        return Err(IntakeError::Busy);
    }
    Ok(workflow)
}

/// A file on disk, hashed.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) tmp: std::path::PathBuf,
    pub(crate) size: u64,
    pub(crate) md5: String,
    pub(crate) sha1: String,
    pub(crate) sha256: String,
    /// The first bytes, for type detection.
    pub(crate) prefix: Vec<u8>,
}

/// Removes the temporary file unless disarmed.
struct TmpGuard(Option<std::path::PathBuf>);

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A file being received: chunks in, a hashed file on disk out. A small
/// file is kept in memory and written in one blocking step (create, write,
/// fsync); a bigger one is streamed to the file from the point it outgrows
/// the buffer. Dropped unfinished, it leaves nothing behind.
pub(crate) struct Spool {
    guard: TmpGuard,
    file: Option<tokio::fs::File>,
    held: Vec<u8>,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
    max: u64,
    prefix: Vec<u8>,
}

impl Spool {
    /// A spool in the backend's temporary directory refusing more than
    /// `max` bytes.
    pub(crate) fn new<B: Backend>(backend: &B, max: u64) -> Spool {
        Spool {
            guard: TmpGuard(Some(backend.tmp_path(&new_id()))),
            file: None,
            held: Vec::new(),
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            size: 0,
            max,
            prefix: Vec::new(),
        }
    }

    /// Takes the next chunk.
    pub(crate) async fn push(&mut self, chunk: &[u8]) -> Result<(), IntakeError> {
        self.size += chunk.len() as u64;
        if self.size > self.max {
            return Err(IntakeError::TooLarge(self.max));
        }
        if self.prefix.len() < DETECT_PREFIX {
            let take = (DETECT_PREFIX - self.prefix.len()).min(chunk.len());
            self.prefix
                .extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
        self.md5.update(chunk);
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        let store = |e: std::io::Error| IntakeError::Store(e.to_string());
        match &mut self.file {
            Some(f) => f.write_all(chunk).await.map_err(store)?,
            None if self.held.len() + chunk.len() <= HELD_MAX => {
                self.held.extend_from_slice(chunk);
            }
            None => {
                let path = self.guard.0.clone().unwrap_or_default();
                let mut f = tokio::fs::File::create(&path).await.map_err(store)?;
                f.write_all(&self.held).await.map_err(store)?;
                f.write_all(chunk).await.map_err(store)?;
                self.held = Vec::new();
                self.file = Some(f);
            }
        }
        Ok(())
    }

    /// Takes the next `len` bytes of `r` (a clamd chunk, an ICAP chunk),
    /// through `buf`, each read within `read`. [`Taken::Cut`] when the
    /// client stalled or left; [`Taken::Refused`] when the spool refused a
    /// chunk (too large, the store failing).
    pub(crate) async fn take_from<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        len: u64,
        read: Duration,
        buf: &mut [u8],
    ) -> Taken {
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let Some(part) = buf.get_mut(..want) else {
                return Taken::Cut;
            };
            match tokio::time::timeout(read, r.read_exact(part)).await {
                Ok(Ok(_)) => {}
                Err(_) | Ok(Err(_)) => return Taken::Cut,
            }
            left -= want as u64;
            if let Err(e) = self.push(part).await {
                return Taken::Refused(e);
            }
        }
        Taken::All
    }

    /// The file, synced to disk.
    pub(crate) async fn finish(mut self) -> Result<Received, IntakeError> {
        let store = |e: std::io::Error| IntakeError::Store(e.to_string());
        let tmp = self.guard.0.clone().unwrap_or_default();
        match self.file.take() {
            Some(f) => f.sync_all().await.map_err(store)?,
            None => {
                let path = tmp.clone();
                let held = std::mem::take(&mut self.held);
                tokio::task::spawn_blocking(move || {
                    let mut f = std::fs::File::create(&path)?;
                    std::io::Write::write_all(&mut f, &held)?;
                    f.sync_all()
                })
                .await
                .map_err(|e| IntakeError::Store(e.to_string()))?
                .map_err(store)?;
            }
        }
        self.guard.0 = None;
        let hex = mdcore::hex;
        Ok(Received {
            tmp,
            size: self.size,
            md5: hex(&self.md5.finalize()),
            sha1: hex(&self.sha1.finalize()),
            sha256: hex(&self.sha256.finalize()),
            prefix: self.prefix,
        })
    }
}

/// What [`Spool::take_from`] came to.
pub(crate) enum Taken {
    /// Every byte is in the spool.
    All,
    /// The client stalled past the read timeout, or the connection failed.
    Cut,
    /// The spool refused a chunk.
    Refused(IntakeError),
}

/// A scan queued, and the way to wait for its end.
pub(crate) struct Submitted {
    pub(crate) data_id: String,
    /// Subscribed before the scan was queued, so its end cannot be missed.
    finished: tokio::sync::broadcast::Receiver<String>,
}

/// Keeps the file received for `req` (admitted under `workflow`) and
/// queues its scan.
pub(crate) async fn submit<B: Backend>(
    cfg: &Config,
    backend: &B,
    who: &Identity,
    req: Submission,
    workflow: &Workflow,
    file: Received,
) -> Result<Submitted, IntakeError> {
    if file.size == 0 {
        let _ = std::fs::remove_file(&file.tmp);
        return Err(IntakeError::Empty);
    }
    backend.keep_blob(&file.tmp, &file.sha256).await?;
    let callback_refused = match &req.callback_url {
        Some(url) => super::webhook::resolve(cfg, url).await.err(),
        None => None,
    };
    let ft = mdcore::detect(&file.prefix);
    let now = now_ms();
    let data_id = new_id();
    let scan = Scan {
        data_id: data_id.clone(),
        batch_id: req.batch_id.clone(),
        owner: who.name.clone(),
        display_name: req.filename.unwrap_or_else(|| data_id.clone()),
        file_size: file.size,
        file_type: ft.mime.to_string(),
        file_type_description: ft.description.to_string(),
        md5: file.md5,
        sha1: file.sha1,
        sha256: file.sha256,
        upload_timestamp: iso(now),
        upload_ms: now,
        workflow: workflow.name.clone(),
        user_agent: req.user_agent,
        username: who.name.clone().unwrap_or_default(),
        passwords: req.passwords,
        metadata: req.metadata,
        callback_url: req.callback_url,
        callback_refused,
        state: State::Queued,
        cancel_requested: false,
        started_ms: None,
        finished_ms: None,
        report: None,
    };
    let finished = backend.finished();
    backend.submit(scan).await?;
    if let Some(id) = &req.batch_id
        && !backend.batch_add(id, &data_id).await?
    {
        // Closed or cancelled while the bytes were read: the scan runs,
        // but outside the batch, and the client is told so.
        return Err(IntakeError::BatchClosed);
    }
    Ok(Submitted { data_id, finished })
}

/// Submits `file` for a front-end that answers its client once the scan
/// is done (clamd, ICAP): queues it, records the audit event `action` from
/// `peer`, and waits up to `sync_timeout_secs`; `None` when that passed
/// first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn scan_and_wait<B: Backend>(
    cfg: &Config,
    backend: &B,
    who: &Identity,
    req: Submission,
    workflow: &Workflow,
    file: Received,
    action: &str,
    peer: &str,
) -> Result<Option<Scan>, IntakeError> {
    let submitted = submit(cfg, backend, who, req, workflow, file).await?;
    backend
        .audit(&AuditEvent {
            time_ms: now_ms(),
            user: who.name.clone(),
            address: Some(peer.to_string()),
            action: action.to_string(),
            target: Some(submitted.data_id.clone()),
            outcome: "ok".into(),
        })
        .await;
    let within = Duration::from_secs(cfg.sync_timeout_secs);
    Ok(submitted.wait(backend, within).await?)
}

impl Submitted {
    /// The scan once done; `None` when `within` passed first.
    pub(crate) async fn wait<B: Backend>(
        mut self,
        backend: &B,
        within: Duration,
    ) -> Result<Option<Scan>, BackendError> {
        let deadline = tokio::time::Instant::now() + within;
        let mut look = true;
        loop {
            if look
                && let Some(s) = backend.scan(&self.data_id).await?
                && s.state == State::Done
            {
                return Ok(Some(s));
            }
            match tokio::time::timeout_at(deadline, self.finished.recv()).await {
                // Another scan ended: keep waiting, without reading the
                // store (with many clients waiting, every end would be
                // read by all).
                Ok(Ok(id)) if id != self.data_id => look = false,
                // Ours, or events were dropped (lagged): look again.
                Ok(_) => look = true,
                Err(_) => return Ok(None),
            }
        }
    }
}

/// What a client is told blocked a finished scan: `None` when the
/// workflow lets it through, else the names of what was found (each
/// threat once, `Vulnerable.<id>` for vulnerable software) or, when it is
/// blocked without a name (a limit, damage, encryption, a failed
/// sanitization), one `Heuristics.…` name for its code (`names`
/// overrides them by code).
pub(crate) fn blocked_by(
    scan: &Scan,
    workflow: &Workflow,
    names: &std::collections::BTreeMap<String, String>,
) -> Option<Vec<String>> {
    if !super::doc::root_blocks(scan, Some(workflow)) {
        return None;
    }
    let mut threats: Vec<String> = Vec::new();
    let Some(report) = &scan.report else {
        return Some(vec![heuristic(mdcore::ResultCode::Failed, names)]);
    };
    for t in report.threats() {
        if !threats.contains(&t.threat) {
            threats.push(t.threat);
        }
    }
    for n in report.root.iter() {
        for f in &n.vulnerabilities {
            for v in &f.vulnerabilities {
                let t = format!("Vulnerable.{}", v.id);
                if !threats.contains(&t) {
                    threats.push(t);
                }
            }
        }
    }
    if threats.is_empty() {
        threats.push(heuristic(report.verdict(), names));
    }
    Some(threats)
}

/// The name reported for a file blocked with no threat name, by code,
/// in the style ClamAV names its heuristic and limit alerts.
fn heuristic(
    code: mdcore::ResultCode,
    names: &std::collections::BTreeMap<String, String>,
) -> String {
    if let Some(n) = names.get(&code.as_i().to_string()) {
        return n.clone();
    }
    use mdcore::ResultCode as R;
    match code {
        R::ExceededArchiveDepth => "Heuristics.Limits.Exceeded.MaxRecursion".into(),
        R::ExceededArchiveSize => "Heuristics.Limits.Exceeded.MaxScanSize".into(),
        R::ExceededArchiveFileNumber => "Heuristics.Limits.Exceeded.MaxFiles".into(),
        R::ExceededArchiveTimeout => "Heuristics.Limits.Exceeded.MaxScanTime".into(),
        R::EncryptedArchive => "Heuristics.Encrypted.Archive".into(),
        R::PasswordProtectedDocument => "Heuristics.Encrypted.Document".into(),
        other => {
            let words: String = other
                .as_str()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            format!("Heuristics.MDScan.{words}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn blocked_files_without_a_name_get_a_heuristic_one() {
        let none = BTreeMap::new();
        assert_eq!(
            heuristic(mdcore::ResultCode::ExceededArchiveSize, &none),
            "Heuristics.Limits.Exceeded.MaxScanSize"
        );
        assert_eq!(
            heuristic(mdcore::ResultCode::Failed, &none),
            "Heuristics.MDScan.Failed"
        );
        let mut names = BTreeMap::new();
        names.insert("3".to_string(), "Heuristics.Broken".to_string());
        assert_eq!(
            heuristic(mdcore::ResultCode::Failed, &names),
            "Heuristics.Broken"
        );
    }
}
