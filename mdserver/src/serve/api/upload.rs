//! `POST /file`, `POST /file/sync`, `PUT /file[/{name}]`: the HTTP
//! front-end of the intake ([`crate::serve::intake`]). The body is streamed
//! into the intake's spool (hashed on the way), kept by the backend under
//! its SHA-256, and the scan submitted.
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
use serde_json::json;

use super::{Api, ApiError, BoxError, Reply, ReqBody, header, ok};
use crate::serve::backend::Backend;
use crate::serve::doc;
use crate::serve::identity::Identity;
use crate::serve::intake::{self, IntakeError, Received, Spool, Submission};

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

/// An upload on disk, hashed, with the name of its multipart part.
pub(crate) struct Upload {
    pub(crate) file: Received,
    pub(crate) part_name: Option<String>,
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> ApiError {
        match e {
            IntakeError::Forbidden => ApiError::Forbidden("Access denied"),
            IntakeError::UnknownWorkflow(_)
            | IntakeError::NotForAgent(_)
            | IntakeError::BatchClosed => ApiError::BadRequest(e.to_string()),
            IntakeError::Busy => ApiError::Busy,
            IntakeError::Empty => ApiError::Empty,
            IntakeError::TooLarge(_) => ApiError::TooLarge,
            IntakeError::Store(m) => ApiError::Internal(format!("can not store upload: {m}")),
            IntakeError::Backend(e) => e.into(),
        }
    }
}

async fn save<B: Backend, S, E>(api: &Api<B>, mut stream: S, max: u64) -> Result<Upload, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut spool = Spool::new(api.backend.as_ref(), max);
    let d = Deadlines::new(api);
    while let Some(next) = d.next(&mut stream).await? {
        spool.push(&next).await?;
    }
    Ok(Upload {
        file: spool.finish().await?,
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
    let h = req.headers().clone();
    let request = Submission {
        workflow: header(&h, "rule")
            .or_else(|| header(&h, "workflow"))
            .unwrap_or_default(),
        user_agent: header(&h, "user_agent").unwrap_or_default(),
        filename: header(&h, "filename").or(path_name),
        passwords: passwords(&h),
        metadata: header(&h, "metadata"),
        callback_url: header(&h, "callbackurl"),
        batch_id: header(&h, "batch").map(|b| b.to_ascii_lowercase()),
    };
    // Refused before the body is read: nothing accepted is ever dropped.
    let workflow = intake::admit(&api.cfg, api.backend.as_ref(), &who, &request).await?;
    let up = receive(api, req, workflow.max_file_size).await?;
    let request = Submission {
        filename: request.filename.clone().or(up.part_name),
        ..request
    };
    let submitted = intake::submit(
        &api.cfg,
        api.backend.as_ref(),
        &who,
        request,
        &workflow,
        up.file,
    )
    .await?;
    let data_id = submitted.data_id.clone();
    if !sync {
        return Ok(ok(&json!({"data_id": data_id})));
    }
    let within = Duration::from_secs(api.cfg.sync_timeout_secs);
    match submitted.wait(api.backend.as_ref(), within).await? {
        Some(s) => Ok(ok(&doc::root(&s, api.cfg.workflow(&s.workflow).as_ref()))),
        None => {
            // The deadline: the document as it is (in progress), so the
            // client has the data_id to poll.
            let s = api.backend.scan(&data_id).await?.ok_or(ApiError::Timeout)?;
            let progress = api.backend.progress(&data_id).await;
            Ok(ok(&doc::in_progress(
                &s,
                api.cfg.workflow(&s.workflow).as_ref(),
                progress,
            )))
        }
    }
}
