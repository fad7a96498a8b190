//! The MetaDefender Core v4 compatible HTTP API: a router and plain async
//! handlers over [`App`].

// Handlers return `Err(response)` to answer early; a response is built once
// per request, so boxing it would cost an allocation and gain nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use md5::Md5;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::app::{App, Refused, new_id, now_ms};
use super::doc::{self, View};
use super::store::{Batch, Entry, Scan, State};

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn json_resp(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn ok(v: &Value) -> Response<Body> {
    json_resp(StatusCode::OK, v)
}

fn err(status: StatusCode, msg: &str) -> Response<Body> {
    json_resp(status, &json!({ "err": msg }))
}

/// 503 with `Retry-After`: the queue is full.
fn busy() -> Response<Body> {
    let mut r = err(
        StatusCode::SERVICE_UNAVAILABLE,
        "Server is too busy. Try again later.",
    );
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_static("5"));
    r
}

fn not_found(id: &str) -> Response<Body> {
    let mut m = serde_json::Map::new();
    m.insert(id.to_string(), json!("Not Found"));
    ok(&Value::Object(m))
}

/// A header's value, URL-decoded (clients such as the C++ SDK encode every
/// header); empty counts as absent.
fn header(h: &HeaderMap, name: &str) -> Option<String> {
    let raw = h.get(name)?.to_str().ok()?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let decoded = decoded.trim().to_string();
    (!decoded.is_empty()).then_some(decoded)
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn paging(q: &HashMap<String, String>, default: usize) -> (usize, usize) {
    let first = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = q
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, 10_000);
    (first, size)
}

/// Who is calling.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    name: Option<String>,
    admin: bool,
}

impl Identity {
    fn can_see(&self, owner: &Option<String>) -> bool {
        self.admin || (owner.is_some() && *owner == self.name)
    }
}

fn authorize(app: &App, h: &HeaderMap) -> Result<Identity, Response<Body>> {
    if app.cfg.open() {
        return Ok(Identity {
            name: None,
            admin: true,
        });
    }
    let denied = || err(StatusCode::FORBIDDEN, "Access denied");
    let key = header(h, "apikey").ok_or_else(denied)?;
    if app.cfg.api_keys.iter().any(|k| k == &key) {
        return Ok(Identity {
            name: Some("apikey".into()),
            admin: true,
        });
    }
    let s = app.session(&key).ok_or_else(denied)?;
    Ok(Identity {
        name: Some(s.user),
        admin: s.admin,
    })
}

/// The router: one entry point for every request.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    // Tolerate `//` and a trailing `/` in paths.
    let path: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    let method = req.method().clone();

    // Unauthenticated endpoints.
    match (&method, parts.as_slice()) {
        (&Method::GET, ["readyz"]) => return readyz(&app, &req).await,
        (&Method::POST, ["login"]) => return login(&app, req).await,
        _ => {}
    }
    let who = match authorize(&app, req.headers()) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match (&method, parts.as_slice()) {
        (&Method::POST, ["file"]) | (&Method::PUT, ["file"]) => {
            submit(app, req, who, false, None).await
        }
        (&Method::POST, ["file", "sync"]) => submit(app, req, who, true, None).await,
        (&Method::PUT, ["file", name]) => {
            let name = name.to_string();
            submit(app, req, who, false, Some(name)).await
        }
        (&Method::POST, ["file", "batch"]) => open_batch(&app, &req, &who).await,
        (&Method::GET, ["file", "rules"]) => rules(&app, &req),
        (&Method::GET, ["file", "batch", id]) => batch_report(&app, &req, &who, id).await,
        (&Method::POST, ["file", "batch", id, "close"]) => close_batch(&app, &req, &who, id).await,
        (&Method::POST, ["file", "batch", id, "cancel"]) => cancel_batch(&app, &who, id).await,
        (&Method::GET, ["file", "converted", _]) => {
            err(StatusCode::NOT_FOUND, "File could not be found")
        }
        (&Method::GET, ["file", "download", id]) => download(&app, &req, &who, id).await,
        (&Method::POST, ["file", id, "cancel"]) => cancel(&app, &who, id).await,
        (&Method::GET, ["file", id]) => result(&app, &req, &who, id).await,
        (&Method::GET, ["hash", hash]) => by_hash(&app, &req, &who, hash).await,
        (&Method::GET, ["stat", "engines"]) => engines(&app),
        (&Method::GET, ["stat", "nodes"]) => nodes(&app).await,
        (&Method::POST, ["logout"]) => logout(&app, &req),
        (&Method::GET, ["version"]) => ok(&json!({
            "product_id": "mdscan", "version": env!("CARGO_PKG_VERSION")
        })),
        (&Method::GET, ["apiversion"]) => ok(&json!({"version": "4"})),
        _ => err(StatusCode::NOT_FOUND, "Endpoint not found"),
    }
}

async fn readyz(app: &App, req: &Request<Incoming>) -> Response<Body> {
    let verbose = query(req).get("verbose").is_some_and(|v| v == "true");
    let ready = app.healthy().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({"status": if ready { "ready" } else { "not ready" }});
    if verbose {
        body["details"] = json!({
            "store": ready, "engines": app.scanner.engines().len(),
            "queued": app.queued(), "queue_size": app.cfg.queue_size,
            "uptime_s": app.started.elapsed().as_secs(),
        });
    }
    json_resp(status, &body)
}

async fn read_small_body(req: Request<Incoming>, limit: usize) -> Option<Bytes> {
    let body = http_body_util::Limited::new(req.into_body(), limit);
    body.collect().await.ok().map(|c| c.to_bytes())
}

async fn login(app: &App, req: Request<Incoming>) -> Response<Body> {
    let failed = || err(StatusCode::FORBIDDEN, "Failed to login");
    let Some(bytes) = read_small_body(req, 64 << 10).await else {
        return failed();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return err(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    let (Some(user), Some(password)) = (v["user"].as_str(), v["password"].as_str()) else {
        return failed();
    };
    let Some(u) = app.cfg.users.iter().find(|u| u.name == user) else {
        return failed();
    };
    use argon2::PasswordVerifier;
    let good = argon2::PasswordHash::new(&u.password_hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    });
    if !good {
        return failed();
    }
    ok(&json!({"session_id": app.login(&u.name, u.admin)}))
}

fn logout(app: &App, req: &Request<Incoming>) -> Response<Body> {
    if let Some(key) = header(req.headers(), "apikey")
        && let Ok(mut m) = app.sessions.lock()
    {
        m.remove(&key);
    }
    ok(&json!({"response": "Logout success"}))
}

fn rules(app: &App, req: &Request<Incoming>) -> Response<Body> {
    let ua = header(req.headers(), "user_agent")
        .or_else(|| header(req.headers(), "user-agent"))
        .unwrap_or_default();
    let list: Vec<Value> = app
        .cfg
        .workflows
        .iter()
        .filter(|w| w.allows(&ua) || w.user_agents.is_empty())
        // `block_codes` is ours (MetaDefender has no such field): which
        // result codes make `process_info.result` "Blocked" in this workflow.
        .map(|w| json!({"name": w.name, "max_file_size": w.max_file_size, "block_codes": w.block_codes}))
        .collect();
    ok(&Value::Array(list))
}

fn engines(app: &App) -> Response<Body> {
    let list: Vec<Value> = app
        .scanner
        .engines()
        .iter()
        .map(|e| {
            json!({"active": true, "def_time": e.def_time, "download_progress": 100,
                   "download_time": e.def_time, "eng_id": e.id, "eng_name": e.name,
                   "eng_type": "Bundled engine", "eng_ver": e.version,
                   "engine_type": e.kind, "state": "production", "type": "engine"})
        })
        .collect();
    ok(&Value::Array(list))
}

async fn nodes(app: &App) -> Response<Body> {
    ok(&json!({ "statuses": app.nodes().await }))
}

/// Renders the document of any data_id the caller may see.
async fn render(app: &App, who: &Identity, id: &str, first: usize, size: usize) -> Option<Value> {
    let entry = app.get(id).await.ok()??;
    let (scan, path) = match entry {
        Entry::Root(s) => (*s, Vec::new()),
        Entry::Child { root_id, path } => (app.get_scan(&root_id).await.ok()??, path),
    };
    if !who.can_see(&scan.owner) {
        return None;
    }
    let node = scan
        .report
        .as_ref()
        .and_then(|r| doc::node_at(&r.root, &path));
    if !path.is_empty() && node.is_none() {
        return None;
    }
    let view = View {
        scan: &scan,
        node,
        data_id: id,
        path: &path,
        workflow: app.cfg.workflow(&scan.workflow),
        progress: app.progress(&scan.data_id).await,
    };
    Some(doc::result(&view, first, size))
}

/// The document of a finished root scan (the webhook body).
pub(crate) fn root_document(app: &App, scan: &Scan) -> Value {
    let view = View {
        scan,
        node: scan.report.as_ref().map(|r| &r.root),
        data_id: &scan.data_id,
        path: &[],
        workflow: app.cfg.workflow(&scan.workflow),
        progress: 100,
    };
    doc::result(&view, 0, 20)
}

async fn result(app: &App, req: &Request<Incoming>, who: &Identity, id: &str) -> Response<Body> {
    let (first, size) = paging(&query(req), 20);
    match render(app, who, &id.to_ascii_lowercase(), first, size).await {
        Some(v) => ok(&v),
        None => not_found(id),
    }
}

async fn by_hash(app: &App, req: &Request<Incoming>, who: &Identity, hash: &str) -> Response<Body> {
    let (first, size) = paging(&query(req), 20);
    let found = match app.by_hash(&hash.to_ascii_lowercase()).await {
        Ok(Some(id)) => render(app, who, &id, first, size).await,
        _ => None,
    };
    match found {
        Some(v) => ok(&v),
        None => not_found(hash),
    }
}

async fn cancel(app: &App, who: &Identity, id: &str) -> Response<Body> {
    let id = id.to_ascii_lowercase();
    if let Ok(Some(b)) = app.get_batch(&id).await {
        if !who.can_see(&b.owner) {
            return not_found(&id);
        }
        return Box::pin(cancel_batch(app, who, &id)).await;
    }
    match app.get_scan(&id).await {
        Ok(Some(s)) if who.can_see(&s.owner) => {
            if s.state == State::Done {
                return err(StatusCode::BAD_REQUEST, "The scan has already finished");
            }
            app.cancel(&id).await;
            let mut m = serde_json::Map::new();
            m.insert(id, json!("cancelled"));
            ok(&Value::Object(m))
        }
        _ => not_found(&id),
    }
}

fn upload_fields(h: &HeaderMap) -> (Option<String>, String, String, Option<String>) {
    let workflow = header(h, "rule")
        .or_else(|| header(h, "workflow"))
        .unwrap_or_default();
    let ua = header(h, "user_agent").unwrap_or_default();
    (header(h, "filename"), workflow, ua, header(h, "batch"))
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

/// Streams an upload to a temporary file, hashing as it goes; `Err` is the
/// response to send.
struct Upload {
    tmp: std::path::PathBuf,
    size: u64,
    md5: String,
    sha1: String,
    sha256: String,
    prefix: Vec<u8>,
    part_name: Option<String>,
}

async fn save<S, E>(app: &App, mut stream: S, max: u64) -> Result<Upload, Response<Body>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let tmp = app.tmp_path(&new_id());
    let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| {
        err(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("can not store upload: {e}"),
        )
    })?;
    let (mut m5, mut s1, mut s256) = (Md5::new(), Sha1::new(), Sha256::new());
    let mut size = 0u64;
    let mut prefix = Vec::new();
    let idle = Duration::from_secs(app.cfg.body_timeout_secs);
    let fail = |tmp: &std::path::Path, r: Response<Body>| {
        let _ = std::fs::remove_file(tmp);
        r
    };
    loop {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                return Err(fail(
                    &tmp,
                    err(StatusCode::REQUEST_TIMEOUT, "Upload timed out"),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(fail(
                    &tmp,
                    err(StatusCode::BAD_REQUEST, &format!("Upload failed: {e}")),
                ));
            }
            Ok(Some(Ok(b))) => b,
        };
        size += next.len() as u64;
        if size > max {
            return Err(fail(
                &tmp,
                err(StatusCode::PAYLOAD_TOO_LARGE, "File is too large"),
            ));
        }
        if prefix.len() < DETECT_PREFIX {
            let take = (DETECT_PREFIX - prefix.len()).min(next.len());
            prefix.extend_from_slice(&next[..take]);
        }
        m5.update(&next);
        s1.update(&next);
        s256.update(&next);
        if let Err(e) = file.write_all(&next).await {
            return Err(fail(
                &tmp,
                err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("can not store upload: {e}"),
                ),
            ));
        }
    }
    if let Err(e) = file.sync_all().await {
        return Err(fail(
            &tmp,
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("can not store upload: {e}"),
            ),
        ));
    }
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
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

/// Bytes of an upload kept for type detection.
const DETECT_PREFIX: usize = 64 << 10;

fn data_frames(body: Incoming) -> impl Stream<Item = Result<Bytes, hyper::Error>> + Unpin {
    BodyStream::new(body)
        .filter_map(|frame| async move {
            match frame {
                Ok(f) => f.into_data().ok().map(Ok),
                Err(e) => Some(Err(e)),
            }
        })
        .boxed()
}

async fn receive(app: &App, req: Request<Incoming>, max: u64) -> Result<Upload, Response<Body>> {
    let ctype = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if ctype.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ctype)
            .map_err(|e| err(StatusCode::BAD_REQUEST, &format!("Bad multipart body: {e}")))?;
        let mut mp = multer::Multipart::new(data_frames(req.into_body()), boundary);
        loop {
            let field = mp
                .next_field()
                .await
                .map_err(|e| err(StatusCode::BAD_REQUEST, &format!("Bad multipart body: {e}")))?;
            let Some(field) = field else {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "Multipart body has no `file` part",
                ));
            };
            if field.name() != Some("file") {
                continue;
            }
            let name = field.file_name().map(str::to_string);
            let mut up = save(app, field.boxed(), max).await?;
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
        return Err(err(
            StatusCode::LENGTH_REQUIRED,
            "Content-Length is required",
        ));
    };
    if len == 0 {
        return Err(err(StatusCode::UNPROCESSABLE_ENTITY, "File is empty."));
    }
    if len > max {
        return Err(err(StatusCode::PAYLOAD_TOO_LARGE, "File is too large"));
    }
    save(app, data_frames(req.into_body()), max).await
}

/// `POST /file` and `/file/sync`; also `PUT /file[/{name}]`, which is what
/// `curl -T` sends. `path_name` is the name from a `PUT` path.
async fn submit(
    app: Arc<App>,
    req: Request<Incoming>,
    who: Identity,
    sync: bool,
    path_name: Option<String>,
) -> Response<Body> {
    let h = req.headers().clone();
    let (filename, workflow_name, user_agent, batch_id) = upload_fields(&h);
    let filename = filename.or(path_name);
    let Some(workflow) = app.cfg.workflow(&workflow_name) else {
        return err(
            StatusCode::BAD_REQUEST,
            &format!("Unknown rule `{workflow_name}`"),
        );
    };
    if !workflow.allows(&user_agent) {
        return err(
            StatusCode::BAD_REQUEST,
            &format!(
                "Rule `{}` is not available to this user agent",
                workflow.name
            ),
        );
    }
    let mut batch = match &batch_id {
        Some(id) => match app.get_batch(&id.to_ascii_lowercase()).await {
            Ok(Some(b)) if who.can_see(&b.owner) && !b.is_closed && !b.cancelled => Some(b),
            _ => return err(StatusCode::BAD_REQUEST, "Batch not found or closed"),
        },
        None => None,
    };
    // Refuse before reading the body: nothing accepted is ever dropped.
    if !app.queue_room() {
        return busy();
    }
    let workflow = workflow.clone();
    let up = match receive(&app, req, workflow.max_file_size).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if up.size == 0 {
        let _ = std::fs::remove_file(&up.tmp);
        return err(StatusCode::UNPROCESSABLE_ENTITY, "File is empty.");
    }
    if let Err(e) = app.keep_blob(&up.tmp, &up.sha256).await {
        let _ = std::fs::remove_file(&up.tmp);
        eprintln!("mdscan: can not keep an upload: {e}");
        return busy();
    }
    let ft = mdcore::detect(&up.prefix);
    let now = now_ms();
    let data_id = new_id();
    let scan = Scan {
        data_id: data_id.clone(),
        batch_id: batch.as_ref().map(|b| b.batch_id.clone()),
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
        callback_url: header(&h, "callbackurl"),
        state: State::Queued,
        cancel_requested: false,
        started_ms: None,
        finished_ms: None,
        report: None,
    };
    match app.submit(scan).await {
        Ok(()) => {}
        Err(Refused::Busy) => {
            return busy();
        }
        Err(Refused::Store(e)) => return err(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
    if let Some(b) = batch.as_mut() {
        b.files.push(data_id.clone());
        let _ = app.put_batch(b).await;
    }
    if !sync {
        return ok(&json!({"data_id": data_id}));
    }
    loop {
        let notified = app.finished.notified();
        if let Ok(Some(s)) = app.get_scan(&data_id).await
            && s.state == State::Done
        {
            return ok(&root_document(&app, &s));
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
    }
}

fn iso(ms: u64) -> String {
    mdcore::iso8601(std::time::UNIX_EPOCH + Duration::from_millis(ms))
}

async fn download(app: &App, req: &Request<Incoming>, who: &Identity, id: &str) -> Response<Body> {
    let gone = || err(StatusCode::NOT_FOUND, "File could not be found");
    let Ok(Some(scan)) = app.get_scan(&id.to_ascii_lowercase()).await else {
        return gone();
    };
    if !who.can_see(&scan.owner) {
        return gone();
    }
    let Ok(blob) = app.blob(&scan.sha256).await else {
        return gone();
    };
    // An open file stays readable after a downloaded copy is removed.
    let Ok(mut file) = tokio::fs::File::open(blob.path()).await else {
        return gone();
    };
    drop(blob);
    let len = scan.file_size;
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| parse_range(r, len));
    let (start, end, status) = match range {
        Some(Ok((a, b))) => (a, b, StatusCode::PARTIAL_CONTENT),
        Some(Err(())) => {
            let mut r = err(StatusCode::RANGE_NOT_SATISFIABLE, "Range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert("content-range", v);
            }
            return r;
        }
        None => (0, len.saturating_sub(1), StatusCode::OK),
    };
    if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return gone();
    }
    let count = if len == 0 { 0 } else { end - start + 1 };
    let stream = futures_util::stream::unfold((file, count), |(mut f, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; (64 << 10).min(left as usize)];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), (f, left - n as u64)))
            }
            Err(e) => Some((Err(e), (f, 0))),
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *r.status_mut() = status;
    let hs = r.headers_mut();
    hs.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    hs.insert("accept-ranges", HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        hs.insert("content-length", v);
    }
    let name = percent_encoding::utf8_percent_encode(
        &scan.display_name,
        percent_encoding::NON_ALPHANUMERIC,
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        hs.insert("content-disposition", v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        hs.insert("content-range", v);
    }
    r
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range).
fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len.saturating_sub(1)),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    if r.0 > r.1 || r.0 >= len {
        return Some(Err(()));
    }
    Some(Ok(r))
}

async fn open_batch(app: &App, req: &Request<Incoming>, who: &Identity) -> Response<Body> {
    let h = req.headers();
    let workflow = header(h, "rule")
        .or_else(|| header(h, "workflow"))
        .unwrap_or_default();
    let Some(wf) = app.cfg.workflow(&workflow) else {
        return err(
            StatusCode::BAD_REQUEST,
            &format!("Unknown rule `{workflow}`"),
        );
    };
    let now = now_ms();
    let b = Batch {
        batch_id: new_id(),
        owner: who.name.clone(),
        workflow: wf.name.clone(),
        user_agent: header(h, "user_agent").unwrap_or_default(),
        user_data: header(h, "user-data").unwrap_or_default(),
        is_closed: false,
        cancelled: false,
        start_time: iso(now),
        start_ms: now,
        files: Vec::new(),
    };
    match app.put_batch(&b).await {
        Ok(()) => ok(&json!({"batch_id": b.batch_id})),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn batch_doc(app: &App, b: &Batch, first: usize, size: usize) -> Value {
    let mut files: Vec<(Scan, Option<&super::config::Workflow>)> = Vec::new();
    for id in &b.files {
        if let Ok(Some(s)) = app.get_scan(id).await {
            let wf = app.cfg.workflow(&s.workflow);
            files.push((s, wf));
        }
    }
    doc::batch(b, &files, first, size)
}

async fn batch_report(
    app: &App,
    req: &Request<Incoming>,
    who: &Identity,
    id: &str,
) -> Response<Body> {
    let (first, size) = paging(&query(req), 50);
    match app.get_batch(&id.to_ascii_lowercase()).await {
        Ok(Some(b)) if who.can_see(&b.owner) => ok(&batch_doc(app, &b, first, size).await),
        _ => not_found(id),
    }
}

async fn close_batch(
    app: &App,
    req: &Request<Incoming>,
    who: &Identity,
    id: &str,
) -> Response<Body> {
    let (first, size) = paging(&query(req), 50);
    match app.get_batch(&id.to_ascii_lowercase()).await {
        Ok(Some(mut b)) if who.can_see(&b.owner) => {
            b.is_closed = true;
            if let Err(e) = app.put_batch(&b).await {
                return err(StatusCode::INTERNAL_SERVER_ERROR, &e);
            }
            ok(&batch_doc(app, &b, first, size).await)
        }
        _ => not_found(id),
    }
}

async fn cancel_batch(app: &App, who: &Identity, id: &str) -> Response<Body> {
    match app.get_batch(&id.to_ascii_lowercase()).await {
        Ok(Some(mut b)) if who.can_see(&b.owner) => {
            b.cancelled = true;
            b.is_closed = true;
            for f in &b.files {
                app.cancel(f).await;
            }
            if let Err(e) = app.put_batch(&b).await {
                return err(StatusCode::INTERNAL_SERVER_ERROR, &e);
            }
            let mut m = serde_json::Map::new();
            m.insert(b.batch_id.clone(), json!("cancelled"));
            ok(&Value::Object(m))
        }
        _ => not_found(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), Some(Ok((0, 0))));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(parse_range("bytes=2-100", 10), Some(Ok((2, 9))));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("items=1-2", 10), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(iso(1_795_687_200_123), "2026-11-26T10:00:00.123Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    }
}
