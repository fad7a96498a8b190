//! `POST /file`, `POST /file/sync`, `PUT /file[/{name}]`: the body is
//! streamed to a temporary file (hashed on the way), kept by the backend
//! under its SHA-256, and the scan submitted.
//!
//! Every body has an idle and a total deadline; a `multipart/form-data`
//! body is bounded as a whole, in each part, and in what precedes the
//! `file` part (preamble, headers, other fields).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyStream;
use hyper::Request;
use hyper::header::HeaderMap;
use md5::Md5;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Api, ApiError, BoxError, Reply, ReqBody, header, iso, ok};
use crate::serve::backend::{Backend, Scan, State, new_id, now_ms};
use crate::serve::doc;
use crate::serve::identity::Identity;

/// Bytes of an upload kept for type detection.
const DETECT_PREFIX: usize = 64 << 10;
/// Uploads up to this size are held in memory and written to disk in one
/// step once received.
const HELD_MAX: usize = 1 << 20;
/// What may precede the `file` part of a multipart body.
pub(crate) const MULTIPART_HEAD_LIMIT: u64 = 1 << 20;

/// The body of a small request (`/login`), with the same deadlines.
pub(crate) async fn small_body<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let mut stream = frames(req.into_body());
    let mut out = Vec::new();
    let d = Deadlines::new(api);
    while let Some(b) = d.next(&mut stream).await? {
        if out.len() + b.len() > limit {
            return Err(ApiError::TooLarge);
        }
        out.extend_from_slice(&b);
    }
    Ok(Bytes::from(out))
}

/// The idle and total deadlines of one body.
struct Deadlines {
    idle: Duration,
    end: tokio::time::Instant,
}

impl Deadlines {
    fn new<B>(api: &Api<B>) -> Deadlines {
        Deadlines {
            idle: Duration::from_secs(api.cfg.body_timeout_secs),
            end: tokio::time::Instant::now() + Duration::from_secs(api.cfg.body_total_timeout_secs),
        }
    }

    /// The next chunk; `Timeout` when the client is idle or too slow.
    async fn next<S, E>(&self, s: &mut S) -> Result<Option<Bytes>, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let until = (tokio::time::Instant::now() + self.idle).min(self.end);
        match tokio::time::timeout_at(until, s.next()).await {
            Err(_) => Err(ApiError::Timeout),
            Ok(None) => Ok(None),
            Ok(Some(Err(e))) => {
                let m = e.to_string();
                if m.contains("size limit") || m.contains("too large") {
                    Err(ApiError::TooLarge)
                } else {
                    Err(ApiError::BadRequest(format!("Upload failed: {m}")))
                }
            }
            Ok(Some(Ok(b))) => Ok(Some(b)),
        }
    }
}

/// An upload on disk, hashed.
pub(crate) struct Upload {
    pub(crate) tmp: std::path::PathBuf,
    pub(crate) size: u64,
    pub(crate) md5: String,
    pub(crate) sha1: String,
    pub(crate) sha256: String,
    pub(crate) prefix: Vec<u8>,
    pub(crate) part_name: Option<String>,
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

async fn save<B: Backend, S, E>(api: &Api<B>, mut stream: S, max: u64) -> Result<Upload, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let tmp = api.backend.tmp_path(&new_id());
    let mut guard = TmpGuard(Some(tmp.clone()));
    let store_err = |e: std::io::Error| ApiError::Internal(format!("can not store upload: {e}"));
    // A small body is kept in memory and written in one blocking step
    // (create, write, fsync); a bigger one is streamed to the file from
    // the point it outgrows the buffer.
    let mut file: Option<tokio::fs::File> = None;
    let mut held: Vec<u8> = Vec::new();
    let (mut m5, mut s1, mut s256) = (Md5::new(), Sha1::new(), Sha256::new());
    let mut size = 0u64;
    let mut prefix = Vec::new();
    let d = Deadlines::new(api);
    while let Some(next) = d.next(&mut stream).await? {
        size += next.len() as u64;
        if size > max {
            return Err(ApiError::TooLarge);
        }
        if prefix.len() < DETECT_PREFIX {
            let take = (DETECT_PREFIX - prefix.len()).min(next.len());
            prefix.extend_from_slice(next.get(..take).unwrap_or_default());
        }
        m5.update(&next);
        s1.update(&next);
        s256.update(&next);
        match &mut file {
            Some(f) => f.write_all(&next).await.map_err(store_err)?,
            None if held.len() + next.len() <= HELD_MAX => held.extend_from_slice(&next),
            None => {
                let mut f = tokio::fs::File::create(&tmp).await.map_err(store_err)?;
                f.write_all(&held).await.map_err(store_err)?;
                f.write_all(&next).await.map_err(store_err)?;
                held = Vec::new();
                file = Some(f);
            }
        }
    }
    match file {
        Some(f) => f.sync_all().await.map_err(store_err)?,
        None => {
            let path = tmp.clone();
            tokio::task::spawn_blocking(move || {
                let mut f = std::fs::File::create(&path)?;
                std::io::Write::write_all(&mut f, &held)?;
                f.sync_all()
            })
            .await
            .map_err(|e| ApiError::Internal(format!("can not store upload: {e}")))?
            .map_err(store_err)?;
        }
    }
    let hex = mdcore::hex;
    guard.0 = None;
    Ok(Upload {
        tmp,
        size,
        md5: hex(&m5.finalize()),
        sha1: hex(&s1.finalize()),
        sha256: hex(&s256.finalize()),
        prefix,
        part_name: None,
    })
}

/// The data frames of a body (trailers dropped).
fn frames<T: ReqBody>(body: T) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + Unpin {
    BodyStream::new(body)
        .filter_map(|frame| async move {
            match frame {
                Ok(f) => f.into_data().ok().map(Ok),
                Err(e) => Some(Err(e.into())),
            }
        })
        .boxed()
}

/// Cuts a multipart body off once more than [`MULTIPART_HEAD_LIMIT`] bytes
/// went by before the `file` part started (multer buffers a header block
/// until it ends).
fn head_limited<S>(
    s: S,
    in_file: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + Unpin
where
    S: Stream<Item = Result<Bytes, BoxError>> + Send + Unpin + 'static,
{
    let seen = Arc::new(AtomicU64::new(0));
    s.map(move |item| {
        let before = seen.load(Ordering::Relaxed);
        if !in_file.load(Ordering::Relaxed) && before > MULTIPART_HEAD_LIMIT {
            return Err(BoxError::from("multipart headers too large"));
        }
        if let Ok(b) = &item {
            seen.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        item
    })
    .boxed()
}

async fn receive<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    max: u64,
) -> Result<Upload, ApiError> {
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if ctype.starts_with("multipart/form-data") {
        let bad = |e: multer::Error| match e {
            multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
                ApiError::TooLarge
            }
            e => ApiError::BadRequest(format!("Bad multipart body: {e}")),
        };
        let boundary = multer::parse_boundary(&ctype).map_err(bad)?;
        let in_file = Arc::new(AtomicBool::new(false));
        let limits = multer::SizeLimit::new()
            .whole_stream(max.saturating_add(MULTIPART_HEAD_LIMIT))
            .per_field(64 << 10)
            .for_field("file", max);
        let mut mp = multer::Multipart::with_constraints(
            head_limited(frames(req.into_body()), in_file.clone()),
            boundary,
            multer::Constraints::new().size_limit(limits),
        );
        let d = Deadlines::new(api);
        loop {
            let field = tokio::time::timeout_at(d.end, mp.next_field())
                .await
                .map_err(|_| ApiError::Timeout)?
                .map_err(bad)?;
            let Some(field) = field else {
                return Err(ApiError::BadRequest(
                    "Multipart body has no `file` part".into(),
                ));
            };
            if field.name() != Some("file") {
                continue;
            }
            in_file.store(true, Ordering::Relaxed);
            let name = field.file_name().map(str::to_string);
            let mut up = save(api, field.boxed(), max).await?;
            up.part_name = name;
            return Ok(up);
        }
    }
    let len = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(len) = len else {
        return Err(ApiError::LengthRequired);
    };
    if len == 0 {
        return Err(ApiError::Empty);
    }
    if len > max {
        return Err(ApiError::TooLarge);
    }
    save(api, frames(req.into_body()), max).await
}

fn passwords(h: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = header(h, "archivepwd").into_iter().collect();
    for i in 1..=64 {
        match header(h, &format!("archivepwd{i}")) {
            Some(p) => out.push(p),
            None if i > 1 && !h.contains_key(format!("archivepwd{i}").as_str()) => break,
            None => {}
        }
    }
    out
}

/// `POST /file` and `/file/sync`; also `PUT /file[/{name}]`, which is what
/// `curl -T` sends. `path_name` is the name from a `PUT` path.
pub(crate) async fn submit<B: Backend, T: ReqBody>(
    api: &Arc<Api<B>>,
    req: Request<T>,
    who: Identity,
    sync: bool,
    path_name: Option<String>,
) -> Reply {
    if !who.can(crate::serve::roles::Perm::Submit) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    let h = req.headers().clone();
    let workflow_name = header(&h, "rule")
        .or_else(|| header(&h, "workflow"))
        .unwrap_or_default();
    let user_agent = header(&h, "user_agent").unwrap_or_default();
    let batch_id = header(&h, "batch").map(|b| b.to_ascii_lowercase());
    let filename = header(&h, "filename").or(path_name);
    let Some(workflow) = api.cfg.workflow(&workflow_name) else {
        return Err(ApiError::BadRequest(format!(
            "Unknown rule `{workflow_name}`"
        )));
    };
    if !workflow.allows(&user_agent) {
        return Err(ApiError::BadRequest(format!(
            "Rule `{}` is not available to this user agent",
            workflow.name
        )));
    }
    let closed = || ApiError::BadRequest("Batch not found or closed".into());
    if let Some(id) = &batch_id {
        match api.backend.batch(id).await? {
            Some(b) if who.can_manage(&b.owner) && !b.is_closed && !b.cancelled => {}
            _ => return Err(closed()),
        }
    }
    // Refuse before reading the body: nothing accepted is ever dropped.
    if !api.backend.accepting() || api.backend.free_disk() < api.cfg.min_free_disk {
        return Err(ApiError::Busy);
    }
    let workflow = workflow.clone();
    let up = receive(api, req, workflow.max_file_size).await?;
    if up.size == 0 {
        let _ = std::fs::remove_file(&up.tmp);
        return Err(ApiError::Empty);
    }
    api.backend.keep_blob(&up.tmp, &up.sha256).await?;
    let callback_url = header(&h, "callbackurl");
    let callback_refused = match &callback_url {
        Some(url) => crate::serve::webhook::resolve(&api.cfg, url).await.err(),
        None => None,
    };
    let ft = mdcore::detect(&up.prefix);
    let now = now_ms();
    let data_id = new_id();
    let scan = Scan {
        data_id: data_id.clone(),
        batch_id: batch_id.clone(),
        owner: who.name.clone(),
        display_name: filename.or(up.part_name).unwrap_or_else(|| data_id.clone()),
        file_size: up.size,
        file_type: ft.mime.to_string(),
        file_type_description: ft.description.to_string(),
        md5: up.md5,
        sha1: up.sha1,
        sha256: up.sha256,
        upload_timestamp: iso(now),
        upload_ms: now,
        workflow: workflow.name.clone(),
        user_agent,
        username: who.name.clone().unwrap_or_default(),
        passwords: passwords(&h),
        metadata: header(&h, "metadata"),
        callback_url,
        callback_refused,
        state: State::Queued,
        cancel_requested: false,
        started_ms: None,
        finished_ms: None,
        report: None,
    };
    // Subscribed before submitting, so the end cannot be missed.
    let mut finished = api.backend.finished();
    api.backend.submit(scan).await?;
    if let Some(id) = &batch_id
        && !api.backend.batch_add(id, &data_id).await?
    {
        // Closed or cancelled while the body was read: the scan runs, but
        // outside the batch, and the client is told so.
        return Err(closed());
    }
    if !sync {
        return Ok(ok(&json!({"data_id": data_id})));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(api.cfg.sync_timeout_secs);
    let mut look = true;
    loop {
        if look
            && let Some(s) = api.backend.scan(&data_id).await?
            && s.state == State::Done
        {
            return Ok(ok(&doc::root(&s, api.cfg.workflow(&s.workflow).as_ref())));
        }
        match tokio::time::timeout_at(deadline, finished.recv()).await {
            // Another scan ended: keep waiting, without reading the store
            // (with many clients waiting, every end would be read by all).
            Ok(Ok(id)) if id != data_id => look = false,
            // Ours, or events were dropped (lagged): look again.
            Ok(_) => look = true,
            Err(_) => {
                // The deadline: the document as it is (in progress), so the
                // client has the data_id to poll.
                let s = api.backend.scan(&data_id).await?.ok_or(ApiError::Timeout)?;
                let progress = api.backend.progress(&data_id).await;
                return Ok(ok(&doc::in_progress(
                    &s,
                    api.cfg.workflow(&s.workflow).as_ref(),
                    progress,
                )));
            }
        }
    }
}
