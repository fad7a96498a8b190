//! The HTTP layer driven in process (no socket) over a fake backend:
//! authentication, status codes, ranges, paging, batches, ownership, body
//! limits, the sync deadline.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use serde_json::Value;
use tokio::sync::broadcast;

use super::{Api, handle};
use crate::serve::backend::{
    AuditEvent, AuditQuery, Backend, BackendError, Batch, BatchEnd, BlobFile, Callback, Counters,
    Entry, HistoryPage, HistoryQuery, NodeStatus, Pager, RecordKind, Scan, Session, State,
};
use crate::serve::config::Config;

/// Scans are stored and stay queued until a test finishes them.
struct Fake {
    dir: tempfile::TempDir,
    scanner: mdcore::Scanner,
    accepting: AtomicBool,
    scans: Mutex<HashMap<String, Scan>>,
    batches: Mutex<HashMap<String, Batch>>,
    sessions: Mutex<HashMap<String, Session>>,
    finished: broadcast::Sender<String>,
    logins: Counters,
    audit: Mutex<Vec<AuditEvent>>,
    records: Mutex<HashMap<(RecordKind, String), Vec<u8>>>,
}

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake {
            dir: tempfile::tempdir().unwrap(),
            scanner: mdcore::ScannerBuilder::new().threads(1).build().unwrap(),
            accepting: AtomicBool::new(true),
            scans: Mutex::new(HashMap::new()),
            batches: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            finished: broadcast::channel(64).0,
            logins: Counters::default(),
            audit: Mutex::new(Vec::new()),
            records: Mutex::new(HashMap::new()),
        })
    }

    /// Scans the stored file for real and records the result.
    fn finish(&self, id: &str) {
        let mut scans = self.scans.lock().unwrap();
        let s = scans.get_mut(id).unwrap();
        let opts = mdcore::ScanOptions::new().name(s.display_name.clone());
        let report = self
            .scanner
            .scan_path(self.dir.path().join(&s.sha256), &opts)
            .unwrap();
        s.report = Some(report);
        s.state = State::Done;
        s.started_ms = Some(s.upload_ms + 1);
        s.finished_ms = Some(s.upload_ms + 5);
        drop(scans);
        let _ = self.finished.send(id.to_string());
    }

    fn blobs(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count()
    }
}

impl Backend for Fake {
    fn queued(&self) -> usize {
        0
    }
    fn accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }
    async fn healthy(&self) -> bool {
        true
    }
    fn engines(&self) -> Vec<mdcore::EngineInfo> {
        self.scanner.engines().to_vec()
    }
    fn free_disk(&self) -> u64 {
        u64::MAX
    }
    fn tmp_path(&self, id: &str) -> PathBuf {
        std::fs::create_dir_all(self.dir.path().join("tmp")).unwrap();
        self.dir.path().join("tmp").join(id)
    }
    async fn keep_blob(&self, tmp: &Path, sha256: &str) -> Result<(), BackendError> {
        std::fs::rename(tmp, self.dir.path().join(sha256)).map_err(BackendError::failed)
    }
    async fn blob(&self, sha256: &str) -> Result<BlobFile, BackendError> {
        Ok(mdcluster::LocalBlob::Shared(self.dir.path().join(sha256)))
    }
    async fn submit(&self, scan: Scan) -> Result<(), BackendError> {
        if !self.accepting() {
            return Err(BackendError::Busy("full".into()));
        }
        self.scans
            .lock()
            .unwrap()
            .insert(scan.data_id.clone(), scan);
        Ok(())
    }
    async fn entry(&self, id: &str) -> Result<Option<Entry>, BackendError> {
        if let Some(s) = self.scans.lock().unwrap().get(id) {
            return Ok(Some(Entry::Root(Box::new(s.clone()))));
        }
        // Children: `<root>` + path, as mdcluster::child_id makes them.
        for s in self.scans.lock().unwrap().values() {
            if let Some(r) = &s.report {
                for i in 0..r.root.children.len() {
                    let path = vec![u32::try_from(i).unwrap()];
                    if mdcluster::child_id(&s.data_id, &path) == id {
                        return Ok(Some(Entry::Child {
                            root_id: s.data_id.clone(),
                            path,
                        }));
                    }
                }
            }
        }
        Ok(None)
    }
    async fn scan(&self, id: &str) -> Result<Option<Scan>, BackendError> {
        Ok(self.scans.lock().unwrap().get(id).cloned())
    }
    async fn by_hash(&self, hash: &str) -> Result<Option<String>, BackendError> {
        Ok(self
            .scans
            .lock()
            .unwrap()
            .values()
            .find(|s| s.sha256 == hash || s.md5 == hash)
            .map(|s| s.data_id.clone()))
    }
    async fn progress(&self, _id: &str) -> u8 {
        0
    }
    async fn cancel(&self, id: &str) -> bool {
        let mut m = self.scans.lock().unwrap();
        match m.get_mut(id) {
            Some(s) if s.state != State::Done => {
                s.cancel_requested = true;
                true
            }
            _ => false,
        }
    }
    async fn history(
        &self,
        q: &HistoryQuery,
        keep: &(dyn Fn(&Scan) -> bool + Send + Sync),
    ) -> Result<HistoryPage, BackendError> {
        let mut all: Vec<Scan> = self.scans.lock().unwrap().values().cloned().collect();
        all.sort_by(|a, b| (b.upload_ms, &b.data_id).cmp(&(a.upload_ms, &a.data_id)));
        let mut pager = Pager::new(q, keep);
        for s in all {
            if s.upload_ms >= q.from_ms && s.upload_ms <= q.to_ms && !pager.offer(Some(s)) {
                break;
            }
        }
        Ok(pager.finish())
    }
    async fn open_batch(&self, b: &Batch) -> Result<(), BackendError> {
        self.batches
            .lock()
            .unwrap()
            .insert(b.batch_id.clone(), b.clone());
        Ok(())
    }
    async fn batch(&self, id: &str) -> Result<Option<Batch>, BackendError> {
        Ok(self.batches.lock().unwrap().get(id).cloned())
    }
    async fn batch_add(&self, id: &str, data_id: &str) -> Result<bool, BackendError> {
        let mut m = self.batches.lock().unwrap();
        match m.get_mut(id) {
            Some(b) if !b.is_closed && !b.cancelled => {
                b.files.push(data_id.into());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn batch_end(&self, id: &str, end: BatchEnd) -> Result<Option<Batch>, BackendError> {
        let mut m = self.batches.lock().unwrap();
        Ok(m.get_mut(id).map(|b| {
            b.is_closed = true;
            b.cancelled |= end == BatchEnd::Cancel;
            b.clone()
        }))
    }
    async fn put_session(&self, id: &str, s: &Session) -> Result<(), BackendError> {
        self.sessions.lock().unwrap().insert(id.into(), s.clone());
        Ok(())
    }
    async fn session(&self, id: &str) -> Option<Session> {
        self.sessions.lock().unwrap().get(id).cloned()
    }
    async fn drop_session(&self, id: &str) {
        self.sessions.lock().unwrap().remove(id);
    }
    async fn login_failures(&self, key: &str) -> u64 {
        self.logins.get(key)
    }
    async fn login_failed(&self, key: &str, window: Duration) {
        self.logins.add(key, window);
    }
    async fn sweep(&self) -> Option<String> {
        None
    }
    async fn audit(&self, e: &AuditEvent) {
        self.audit.lock().unwrap().push(e.clone());
    }
    async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, BackendError> {
        let all = self.audit.lock().unwrap();
        Ok(all
            .iter()
            .rev()
            .filter(|e| q.matches(e))
            .take(q.limit)
            .cloned()
            .collect())
    }
    async fn record(&self, kind: RecordKind, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(&(kind, key.to_string()))
            .cloned())
    }
    async fn records(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let mut v: Vec<_> = self
            .records
            .lock()
            .unwrap()
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, key), v)| (key.clone(), v.clone()))
            .collect();
        v.sort();
        Ok(v)
    }
    async fn has_records(&self, kind: RecordKind) -> Result<bool, BackendError> {
        Ok(self.records.lock().unwrap().keys().any(|(k, _)| *k == kind))
    }
    async fn put_record(
        &self,
        kind: RecordKind,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> Result<bool, BackendError> {
        let mut m = self.records.lock().unwrap();
        let k = (kind, key.to_string());
        if only_new && m.contains_key(&k) {
            return Ok(false);
        }
        m.insert(k, value.to_vec());
        Ok(true)
    }
    async fn delete_record(&self, kind: RecordKind, key: &str) -> Result<bool, BackendError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .remove(&(kind, key.to_string()))
            .is_some())
    }
    async fn drain(&self, node: &str) -> Result<bool, BackendError> {
        Ok(node == "w1")
    }
    async fn reload_engines(&self) -> Result<(u64, Vec<mdcore::EngineInfo>), BackendError> {
        Ok((1, self.engines()))
    }
    async fn nodes(&self) -> Vec<NodeStatus> {
        Vec::new()
    }
    fn finished(&self) -> broadcast::Receiver<String> {
        self.finished.subscribe()
    }
    async fn next_callback(&self, wait: Duration) -> Option<Callback> {
        tokio::time::sleep(wait).await;
        None
    }
    async fn delivered(&self, _cb: &Callback) {}
}

fn api_with(toml: &str) -> (Arc<Api<Fake>>, Arc<Fake>) {
    let cfg: Config = toml::from_str(toml).unwrap();
    let mut cfg = cfg.finish().unwrap();
    cfg.min_free_disk = 0;
    let fake = Fake::new();
    (
        Api::new(
            Arc::new(cfg),
            fake.clone(),
            crate::serve::metrics::Metrics::new(),
        ),
        fake,
    )
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send<B: super::ReqBody>(api: &Arc<Api<Fake>>, req: Request<B>) -> Answer {
    let r = handle(api.clone(), req).await;
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

fn req(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::copy_from_slice(body))).unwrap()
}

/// `POST /file` with a Content-Length, as clients send it.
fn upload(data: &[u8], headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let len = data.len().to_string();
    let mut h = headers.to_vec();
    h.push(("content-length", &len));
    req("POST", "/file", &h, data)
}

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

#[tokio::test]
async fn keys_and_sessions_decide_who_sees_what() {
    let hash = super::hash_password("pw").unwrap();
    let (api, fake) = api_with(&format!(
        r#"api_keys = ["key-one", "key-two"]
        [[users]]
        name = "alice"
        password_hash = "{hash}"
        [[users]]
        name = "bob"
        password_hash = "{hash}""#
    ));
    assert_eq!(
        send(&api, req("GET", "/version", &[], b"")).await.status,
        StatusCode::FORBIDDEN
    );
    let wrong = send(&api, req("GET", "/version", &[("apikey", "key-on")], b"")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let right = send(&api, req("GET", "/version", &[("apikey", "key-one")], b"")).await;
    assert_eq!(right.status, StatusCode::OK);
    // The same key as a bearer token (a Prometheus scraper's only header).
    let bearer = [("authorization", "Bearer key-two")];
    assert_eq!(
        send(&api, req("GET", "/metrics", &bearer, b""))
            .await
            .status,
        StatusCode::OK
    );
    let bad = [("authorization", "Bearer key-tw")];
    assert_eq!(
        send(&api, req("GET", "/metrics", &bad, b"")).await.status,
        StatusCode::FORBIDDEN
    );

    // Each key is its own identity, recorded without the key itself.
    let a = send(&api, upload(b"hello", &[("apikey", "key-one")]))
        .await
        .json();
    let b = send(&api, upload(b"hello", &[("apikey", "key-two")]))
        .await
        .json();
    let owner = |v: &Value| {
        fake.scans.lock().unwrap()[v["data_id"].as_str().unwrap()]
            .owner
            .clone()
            .unwrap()
    };
    assert!(owner(&a).starts_with("apikey-"));
    assert_ne!(owner(&a), owner(&b));
    assert!(!owner(&a).contains("key-one"));

    // Users see their own scans only.
    let login = |user: &str| {
        req(
            "POST",
            "/login",
            &[],
            format!(r#"{{"user":"{user}","password":"pw"}}"#).as_bytes(),
        )
    };
    let alice = send(&api, login("alice")).await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = send(&api, login("bob")).await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = send(&api, upload(b"alice's", &[("apikey", &alice)]))
        .await
        .json();
    let id = mine["data_id"].as_str().unwrap();
    let path = format!("/file/{id}");
    let seen = send(&api, req("GET", &path, &[("apikey", &alice)], b""))
        .await
        .json();
    assert_eq!(seen["data_id"], id);
    let other = send(&api, req("GET", &path, &[("apikey", &bob)], b""))
        .await
        .json();
    assert_eq!(other[id], "Not Found");
    let dl = format!("/file/download/{id}");
    assert_eq!(
        send(&api, req("GET", &dl, &[("apikey", &bob)], b""))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&api, req("GET", &dl, &[("apikey", &alice)], b""))
            .await
            .body,
        "alice's"
    );
    // Sessions live in the backend: a new API over it (a restart, another
    // gateway) knows them, and a user removed from the configuration is
    // out at once.
    let mut cfg2 = (*api.cfg).clone();
    cfg2.users.retain(|u| u.name != "bob");
    let api2 = Api::new(
        Arc::new(cfg2),
        fake.clone(),
        crate::serve::metrics::Metrics::new(),
    );
    let seen = send(&api2, req("GET", &path, &[("apikey", &alice)], b"")).await;
    assert_eq!(seen.json()["data_id"], id);
    let gone = send(&api2, req("GET", "/version", &[("apikey", &bob)], b"")).await;
    assert_eq!(gone.status, StatusCode::FORBIDDEN);
    // Logged out: the session is gone.
    send(&api, req("POST", "/logout", &[("apikey", &alice)], b"")).await;
    assert_eq!(
        send(&api, req("GET", &path, &[("apikey", &alice)], b""))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let hash = super::hash_password("pw").unwrap();
    let (api, _) = api_with(&format!(
        r#"[[users]]
        name = "carol"
        password_hash = "{hash}""#
    ));
    let try_login = |user: &str, pw: &str| {
        let mut r = req(
            "POST",
            "/login",
            &[],
            format!(r#"{{"user":"{user}","password":"{pw}"}}"#).as_bytes(),
        );
        r.extensions_mut()
            .insert::<std::net::SocketAddr>("192.0.2.7:5000".parse().unwrap());
        r
    };
    // An unknown user fails the same way as a wrong password.
    let unknown = send(&api, try_login("nobody", "pw")).await;
    let wrong = send(&api, try_login("carol", "nope")).await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    assert_eq!(unknown.body, wrong.body);
    for _ in 2..super::auth::MAX_FAILURES {
        assert_eq!(
            send(&api, try_login("carol", "nope")).await.status,
            StatusCode::FORBIDDEN
        );
    }
    // Past the limit even the right password waits.
    let limited = send(&api, try_login("carol", "pw")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
}

/// An unknown user costs a password check like a known one, so the answer
/// time does not tell which names exist. Each attempt comes from its own
/// address, below the rate limit.
#[tokio::test]
async fn an_unknown_user_takes_as_long_as_a_wrong_password() {
    let hash = super::hash_password("pw").unwrap();
    let (api, _) = api_with(&format!(
        r#"[[users]]
        name = "carol"
        password_hash = "{hash}""#
    ));
    let mut n = 0u8;
    let mut timed = |user: &'static str| {
        n += 1;
        let mut r = req(
            "POST",
            "/login",
            &[],
            format!(r#"{{"user":"{user}","password":"nope"}}"#).as_bytes(),
        );
        r.extensions_mut()
            .insert::<std::net::SocketAddr>(format!("192.0.2.{n}:5000").parse().unwrap());
        let api = api.clone();
        async move {
            let t = std::time::Instant::now();
            assert_eq!(send(&api, r).await.status, StatusCode::FORBIDDEN);
            t.elapsed()
        }
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        known.push(timed("carol").await);
        unknown.push(timed("nobody").await);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[1].as_secs_f64(), unknown[1].as_secs_f64());
    // A password check is tens of milliseconds; skipping it is microseconds.
    assert!(
        u > k * 0.5 && u < k * 2.0,
        "known {k:.4} s, unknown {u:.4} s"
    );
}

#[tokio::test]
async fn upload_status_codes() {
    let (api, fake) = api_with(
        r#"[[workflows]]
        name = "Small"
        max_file_size = 100"#,
    );
    // 411: no Content-Length on a raw body.
    let r = send(&api, req("POST", "/file", &[], b"abc")).await;
    assert_eq!(r.status, StatusCode::LENGTH_REQUIRED);
    // 422: empty.
    let r = send(&api, upload(b"", &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["err"], "File is empty.");
    // 413: declared too large, and sent larger than declared allows.
    let r = send(&api, upload(&[7u8; 101], &[])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let lying = req("POST", "/file", &[("content-length", "10")], &[7u8; 200]);
    assert_eq!(
        send(&api, lying).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // 400: unknown workflow.
    let r = send(&api, upload(b"x", &[("rule", "nope")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // 503 before the body is read: nothing is stored.
    fake.accepting.store(false, Ordering::Relaxed);
    let before = fake.blobs();
    let r = send(&api, upload(b"abc", &[])).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "5");
    assert_eq!(fake.blobs(), before);
    fake.accepting.store(true, Ordering::Relaxed);
    let r = send(&api, upload(b"abc", &[])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(fake.blobs(), before + 1);
}

fn multipart(preamble: &[u8], fields: &[(&str, &[u8])]) -> Request<Full<Bytes>> {
    let mut body = preamble.to_vec();
    for (name, data) in fields {
        write!(
            body,
            "--XyZ\r\ncontent-disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    req(
        "POST",
        "/file",
        &[("content-type", "multipart/form-data; boundary=XyZ")],
        &body,
    )
}

#[tokio::test]
async fn multipart_bodies_are_bounded() {
    let (api, fake) = api_with(
        r#"[[workflows]]
        name = "Small"
        max_file_size = 1000"#,
    );
    let r = send(&api, multipart(b"", &[("file", b"data")])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.json()["data_id"].as_str().unwrap().to_string();
    assert_eq!(fake.scans.lock().unwrap()[&id].display_name, "file.bin");
    // The file part over the workflow's limit.
    let r = send(&api, multipart(b"", &[("file", &[1u8; 1001])])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Another field over its 64 KiB.
    let big = vec![b'a'; 70 << 10];
    let r = send(&api, multipart(b"", &[("note", &big), ("file", b"x")])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // No file part.
    let r = send(&api, multipart(b"", &[("note", b"x")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

type Chunk = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>;
type Chunked = http_body_util::StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Chunk>>>;

/// A body sent in chunks: what a socket delivers.
fn chunked(chunks: Vec<Vec<u8>>, headers: &[(&str, &str)]) -> Request<Chunked> {
    let frames: Vec<Chunk> = chunks
        .into_iter()
        .map(|c| Ok(hyper::body::Frame::data(Bytes::from(c))))
        .collect();
    let mut b = Request::builder().method("POST").uri("/file");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )))
    .unwrap()
}

#[tokio::test]
async fn a_multipart_head_that_never_ends_is_cut_off() {
    let (api, _) = api_with("");
    // 2 MiB of header block in 64 KiB chunks, never reaching a part.
    let mut chunks =
        vec![b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"\r\nx-junk: ".to_vec()];
    chunks.extend(std::iter::repeat_n(vec![b'a'; 64 << 10], 32));
    let r = send(
        &api,
        chunked(
            chunks,
            &[("content-type", "multipart/form-data; boundary=XyZ")],
        ),
    )
    .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        r.status
    );
}

#[tokio::test]
async fn ranges_and_paging() {
    let (api, fake) = api_with("");
    // A zip of 30 members, scanned for real.
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zipped);
        for i in 0..30 {
            z.start_file(
                format!("f{i:02}.txt"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(format!("member {i}").as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    let zipped = zipped.into_inner();
    let id = send(&api, upload(&zipped, &[("filename", "a.zip")]))
        .await
        .json()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.finish(&id);
    let v = send(
        &api,
        req("GET", &format!("/file/{id}?first=20&size=20"), &[], b""),
    )
    .await
    .json();
    let ex = &v["extracted_files"];
    assert_eq!(ex["files_extracted_count"], 30);
    assert_eq!(ex["first_index"], 20);
    assert_eq!(ex["page_size"], 10);
    let v = send(&api, req("GET", &format!("/file/{id}"), &[], b""))
        .await
        .json();
    assert_eq!(v["extracted_files"]["page_size"], 20);
    // A child is addressable by its own data_id.
    let child = v["extracted_files"]["files_in_archive"][0]["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = send(&api, req("GET", &format!("/file/{child}"), &[], b""))
        .await
        .json();
    assert_eq!(c["data_id"], child.as_str());

    let dl = format!("/file/download/{id}");
    let r = send(&api, req("GET", &dl, &[("range", "bytes=0-3")], b"")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], &zipped[..4]);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes 0-3/{}", zipped.len()).as_str()
    );
    let r = send(&api, req("GET", &dl, &[("range", "bytes=-5")], b"")).await;
    assert_eq!(&r.body[..], &zipped[zipped.len() - 5..]);
    let r = send(
        &api,
        req(
            "GET",
            &dl,
            &[("range", &format!("bytes={}-", zipped.len()))],
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes */{}", zipped.len()).as_str()
    );
    let r = send(&api, req("GET", &dl, &[], b"")).await;
    assert_eq!(r.body.len(), zipped.len());
    // Unknown ids answer as MetaDefender does.
    let r = send(&api, req("GET", "/file/0123", &[], b"")).await;
    assert_eq!(
        (r.status, r.json()["0123"].clone()),
        (StatusCode::OK, Value::from("Not Found"))
    );
    let r = send(&api, req("GET", "/nope", &[], b"")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn batches_take_parallel_uploads_and_stay_closed() {
    let (api, fake) = api_with("");
    let b = send(&api, req("POST", "/file/batch", &[], b""))
        .await
        .json()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut joins = Vec::new();
    for i in 0..16 {
        let api = api.clone();
        let b = b.clone();
        joins.push(tokio::spawn(async move {
            let data = format!("file {i}");
            send(&api, upload(data.as_bytes(), &[("batch", &b)]))
                .await
                .status
        }));
    }
    for j in joins {
        assert_eq!(j.await.unwrap(), StatusCode::OK);
    }
    let v = send(
        &api,
        req("POST", &format!("/file/batch/{b}/close"), &[], b""),
    )
    .await
    .json();
    assert_eq!(v["is_closed"], true);
    assert_eq!(v["batch_files"]["batch_count"], 16);
    // Closed: no more files; a cancel does not reopen it.
    let r = send(&api, upload(b"late", &[("batch", &b)])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    send(&api, req("POST", &format!("/file/{b}/cancel"), &[], b"")).await;
    let v = send(&api, req("GET", &format!("/file/batch/{b}"), &[], b""))
        .await
        .json();
    assert_eq!(v["is_closed"], true);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 19);
    // A member whose record is gone makes the batch fail, not pass.
    let b2 = send(&api, req("POST", "/file/batch", &[], b""))
        .await
        .json()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = send(&api, upload(b"clean text", &[("batch", &b2)]))
        .await
        .json()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.finish(&id);
    fake.batches
        .lock()
        .unwrap()
        .get_mut(&b2)
        .unwrap()
        .files
        .push("feedfeed".into());
    let v = send(&api, req("GET", &format!("/file/batch/{b2}"), &[], b""))
        .await
        .json();
    assert_eq!(v["process_info"]["result"], "Blocked");
    assert_eq!(v["scan_results"]["scan_all_result_i"], 3);
}

#[tokio::test]
async fn sync_waits_for_the_event_and_has_a_deadline() {
    let (api, fake) = api_with("sync_timeout_secs = 1");
    // Finished by the backend while the request waits.
    let f = fake.clone();
    let waiter = tokio::spawn({
        let api = api.clone();
        async move {
            let len = EICAR.len().to_string();
            send(
                &api,
                req("POST", "/file/sync", &[("content-length", &len)], EICAR),
            )
            .await
        }
    });
    let id = loop {
        if let Some(id) = f.scans.lock().unwrap().keys().next().cloned() {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    f.finish(&id);
    let r = waiter.await.unwrap();
    assert_eq!(r.json()["scan_results"]["scan_all_result_i"], 1);
    // Never finished: the deadline answers with the document in progress.
    let len = 5.to_string();
    let started = std::time::Instant::now();
    let r = send(
        &api,
        req("POST", "/file/sync", &[("content-length", &len)], b"hello"),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    let v = r.json();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 255);
    assert!(v["data_id"].as_str().is_some());
}

#[tokio::test]
async fn refused_callbacks_are_noted_in_the_result() {
    let (api, fake) = api_with("");
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:80/",
    ] {
        let id = send(&api, upload(b"clean", &[("callbackurl", url)]))
            .await
            .json()["data_id"]
            .as_str()
            .unwrap()
            .to_string();
        fake.finish(&id);
        let v = send(&api, req("GET", &format!("/file/{id}"), &[], b""))
            .await
            .json();
        let notes = v["mdscan"]["notes"].to_string();
        assert!(notes.contains("refused"), "{url}: {notes}");
    }
    // Allowed by the configuration: no note.
    let (api, fake) = api_with(r#"callback_allow = ["127.0.0.1"]"#);
    let id = send(
        &api,
        upload(b"clean", &[("callbackurl", "http://127.0.0.1:9/hook")]),
    )
    .await
    .json()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.finish(&id);
    let v = send(&api, req("GET", &format!("/file/{id}"), &[], b""))
        .await
        .json();
    assert!(v.get("mdscan").is_none(), "{v}");
}

#[tokio::test]
async fn metrics_count_uploads_refusals_and_finished_scans() {
    let (api, fake) = api_with(
        r#"[[workflows]]
        name = "Small"
        max_file_size = 100"#,
    );
    crate::serve::metrics::spawn(fake.clone(), api.metrics.clone());
    let r = send(&api, upload(EICAR, &[])).await;
    assert_eq!(r.status, StatusCode::OK);
    let id = r.json()["data_id"].as_str().unwrap().to_string();
    let big = vec![b'a'; 200];
    assert_eq!(
        send(&api, upload(&big, &[])).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    fake.accepting.store(false, Ordering::Relaxed);
    assert_eq!(
        send(&api, upload(b"x", &[])).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    fake.finish(&id);
    let mut text = String::new();
    for _ in 0..100 {
        let r = send(&api, req("GET", "/metrics", &[], b"")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        text = String::from_utf8(r.body.to_vec()).unwrap();
        if text.contains("mdscan_scans_total{") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        text.contains(r#"mdscan_scans_total{code="1",result="Infected"} 1"#),
        "{text}"
    );
    assert!(text.contains("mdscan_uploads_total 1"), "{text}");
    assert!(text.contains(r#"mdscan_uploads_refused_total{status="413"} 1"#));
    assert!(text.contains(r#"mdscan_uploads_refused_total{status="503"} 1"#));
    assert!(text.contains("mdscan_objects_total 1"), "{text}");
    assert!(text.contains("mdscan_scanned_bytes_total 68"), "{text}");
    // A scraper that asks for OpenMetrics gets it.
    let r = send(
        &api,
        req(
            "GET",
            "/metrics",
            &[("accept", "application/openmetrics-text; version=1.0.0")],
            b"",
        ),
    )
    .await;
    assert!(String::from_utf8_lossy(&r.body).ends_with("# EOF\n"));
}

#[tokio::test]
async fn the_audit_log_keeps_sign_ins_downloads_and_cancels() {
    let hash = super::hash_password("pw").unwrap();
    let (api, fake) = api_with(&format!(
        r#"api_keys = ["admin-key"]
        [[users]]
        name = "dave"
        password_hash = "{hash}""#
    ));
    let login = |pw: &str| {
        let mut r = req(
            "POST",
            "/login",
            &[],
            format!(r#"{{"user":"dave","password":"{pw}"}}"#).as_bytes(),
        );
        r.extensions_mut()
            .insert::<std::net::SocketAddr>("198.51.100.4:4000".parse().unwrap());
        r
    };
    assert_eq!(send(&api, login("bad")).await.status, StatusCode::FORBIDDEN);
    let session = send(&api, login("pw")).await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = send(&api, upload(b"data", &[("apikey", &session)]))
        .await
        .json()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        &api,
        req(
            "GET",
            &format!("/file/download/{id}"),
            &[("apikey", &session)],
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let path = format!("/file/{id}/cancel");
    send(&api, req("POST", &path, &[("apikey", &session)], b"")).await;
    fake.finish(&id);
    // Only admins read it.
    let denied = send(
        &api,
        req("GET", "/admin/audit", &[("apikey", &session)], b""),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let key = [("apikey", "admin-key")];
    let v = send(&api, req("GET", "/admin/audit", &key, b""))
        .await
        .json();
    let events = v["events"].as_array().unwrap();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("cancel".to_string(), "ok".to_string()),
            ("download".to_string(), "ok".to_string()),
            ("login".to_string(), "ok".to_string()),
            ("login".to_string(), "failed".to_string()),
        ],
        "{v}"
    );
    assert_eq!(events[3]["address"], "198.51.100.4");
    assert_eq!(events[1]["user"], "dave");
    assert_eq!(events[1]["target"], id.as_str());
    // Filters and CSV.
    let r = send(
        &api,
        req("GET", "/admin/audit?action=login&format=csv", &key, b""),
    )
    .await;
    let csv = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(csv.starts_with("time_ms,user,address,action,target,outcome\n"));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains(",dave,198.51.100.4,login,,failed"), "{csv}");
    let r = send(&api, req("GET", "/admin/audit?from=abc", &key, b"")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn only_admins_drain_and_only_live_nodes() {
    let hash = super::hash_password("pw").unwrap();
    let (api, _) = api_with(&format!(
        r#"api_keys = ["admin-key"]
        [[users]]
        name = "erin"
        password_hash = "{hash}""#
    ));
    let session = send(
        &api,
        req("POST", "/login", &[], br#"{"user":"erin","password":"pw"}"#),
    )
    .await
    .json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        &api,
        req("POST", "/admin/node/w1/drain", &[("apikey", &session)], b""),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let key = [("apikey", "admin-key")];
    let r = send(&api, req("POST", "/admin/node/w1/drain", &key, b"")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["draining"], true);
    let r = send(&api, req("POST", "/admin/node/nobody/drain", &key, b"")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = send(&api, req("GET", "/admin/audit?action=drain", &key, b""))
        .await
        .json();
    let outcomes: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["400", "ok", "403"], "{v}");
}

/// The authenticated routes, as `METHOD a/_/b` (`_` a path parameter),
/// from the route table: the matrix below must name each.
pub(crate) fn routes() -> Vec<String> {
    let mut out: Vec<String> = super::routes::ROUTES
        .iter()
        .filter(|r| !r.public)
        .map(|r| {
            let parts: Vec<&str> = r
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| if s.starts_with('{') { "_" } else { s })
                .collect();
            format!("{} {}", r.method, parts.join("/"))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

mod history;
mod users;
mod workflows;
