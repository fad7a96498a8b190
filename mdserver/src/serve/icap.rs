//! The ICAP front-end (RFC 3507): web proxies (Squid, e2guardian, F5, …)
//! send requests (`REQMOD`) and responses (`RESPMOD`) here to be scanned,
//! over the intake — the same workflows, limits, engines, result store and
//! audit log as the HTTP API.
//!
//! - Any service path reaches the scanner; `[icap] services` maps paths to
//!   workflows (`icap://host:1344/cdr` → "Sanitize"), other paths use the
//!   default workflow.
//! - `OPTIONS` answers with the methods, `Preview`, `Transfer-Preview: *`,
//!   `Allow: 204`, an `ISTag` that changes with the definitions,
//!   `Max-Connections` and `Options-TTL`.
//! - Bodies come chunked, with or without a preview (`ieof` ends the
//!   body in the preview; otherwise `100 Continue` asks for the rest);
//!   connections are kept open between requests.
//! - Clean content: `204 No Content` when the client allows it, else the
//!   message sent back unchanged. Blocked content (whatever the workflow
//!   blocks: a threat, a limit, damage): a `403` page in its place, with
//!   `X-Infection-Found`, `X-Violations-Found` and `X-Virus-ID`. A response
//!   scanned under a workflow that sanitizes comes back with the sanitized
//!   body (when its own scan lets it through).
//!
//! - A response whose body runs past the preview, from a client that does
//!   not allow 204 (Squid, for a body larger than it holds), gets the
//!   head of its answer at once (such a client sends the rest only after
//!   the answer begins) and the body once scanned; if the scan blocks it,
//!   the connection closes with the body unfinished: the client gets an
//!   error, never the content (a 403 page can no longer be sent).
//!
//! - `[icap] tls = true` serves ICAP over TLS (`icaps://`) with the
//!   server's certificate (`[tls]`, or the self-signed one).
//!
//! - No `206` (the partial-content extension): a client allows it outside
//!   the preview only where it also allows `204` (Squid: for bodies it
//!   keeps whole), which saves more; inside the preview it means a verdict
//!   on the preview alone, which a scanner that reads the whole body can
//!   not give; and c-icap-client, the one other client tried, writes no
//!   body after `use-original-body`.
//!
//! Not done: `Transfer-Ignore`/`Transfer-Complete` lists.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;

use super::backend::{Backend, Scan};
use super::config::{Config, Workflow};
use super::identity::Identity;
use super::intake::{self, IntakeError, Spool, Submission, Taken};
use super::roles::Role;

/// Longest ICAP head, and longest encapsulated HTTP head.
const MAX_HEAD: u64 = 64 << 10;
/// Longest chunk-size line.
const MAX_CHUNK_LINE: u64 = 1024;
/// How long an `OPTIONS` answer may be cached (`Options-TTL`).
const OPTIONS_TTL: u64 = 3600;

/// The built-in page sent in place of blocked content.
const PAGE: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Blocked by mdscan</title></head>\n<body><h1>This content was blocked</h1>\n<p>mdscan blocked <b>{name}</b>: {threat}.</p>\n</body></html>\n";

struct Ctx<B> {
    cfg: Arc<Config>,
    backend: Arc<B>,
    /// Who proxies are: they do not sign in.
    who: Identity,
    /// The page template.
    page: String,
}

/// Starts the ICAP server when `[icap] listen` is set.
pub(crate) async fn spawn<B: Backend>(cfg: Arc<Config>, backend: Arc<B>) -> Result<(), String> {
    let Some(addr) = cfg.icap.listen.clone() else {
        return Ok(());
    };
    let page = match &cfg.icap.block_page {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("[icap] block_page: {}: {e}", p.display()))?,
        None => PAGE.to_string(),
    };
    let tls = super::tls::icap(&cfg)?;
    let l = tokio::net::TcpListener::bind(addr.as_str())
        .await
        .map_err(|e| format!("icap: can not listen on {addr}: {e}"))?;
    eprintln!(
        "mdscan: ICAP on {}://{}/",
        if tls.is_some() { "icaps" } else { "icap" },
        l.local_addr().map_or(addr.clone(), |a| a.to_string())
    );
    if let Some(t) = &tls {
        eprintln!(
            "mdscan: ICAP TLS certificate {}; SHA-256 fingerprint {}",
            t.source, t.fingerprint
        );
    }
    let acceptor = tls.map(|t| t.acceptor);
    let slots = Arc::new(Semaphore::new(cfg.icap.max_connections.max(1)));
    let ctx = Arc::new(Ctx {
        cfg,
        backend,
        who: Identity {
            name: Some("icap".into()),
            role: Role::User,
            stored: false,
        },
        page,
    });
    tokio::spawn(async move {
        loop {
            let Ok((mut s, peer)) = l.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tokio::spawn(async move {
                    let _ = s
                        .write_all(b"ICAP/1.0 503 Service Unavailable\r\nConnection: close\r\nEncapsulated: null-body=0\r\n\r\n")
                        .await;
                });
                continue;
            };
            let ctx = ctx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let peer = peer.to_string();
                match acceptor {
                    None => {
                        let _ = connection(&ctx, s, &peer).await;
                    }
                    Some(a) => {
                        // The handshake has the read timeout's deadline.
                        let limit = Duration::from_secs(ctx.cfg.icap.read_timeout_secs);
                        if let Ok(Ok(t)) = tokio::time::timeout(limit, a.accept(s)).await {
                            let _ = connection(&ctx, t, &peer).await;
                        }
                    }
                }
                drop(permit);
            });
        }
    });
    Ok(())
}

/// Why a connection ends early.
#[derive(Debug)]
struct Cut;

impl From<std::io::Error> for Cut {
    fn from(_: std::io::Error) -> Cut {
        Cut
    }
}

/// One ICAP request's head.
#[derive(Debug)]
struct Head {
    method: String,
    uri: String,
    /// Names lower case.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The service path (`avscan` of `icap://host:1344/avscan?mode=x`).
    fn service(&self) -> String {
        let rest = self
            .uri
            .split_once("://")
            .map_or(self.uri.as_str(), |(_, r)| r);
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.trim_matches('/').to_string()
    }
}

/// Reads lines up to an empty one; `None` at the end of the connection
/// (or after `idle` with nothing read).
async fn head<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    idle: Duration,
    read: Duration,
) -> Result<Option<Vec<u8>>, Cut> {
    let mut out = Vec::new();
    loop {
        let wait = if out.is_empty() { idle } else { read };
        let left = MAX_HEAD.saturating_sub(out.len() as u64);
        if left == 0 {
            return Err(Cut);
        }
        let mut line = Vec::new();
        let n = tokio::time::timeout(wait, r.take(left).read_until(b'\n', &mut line))
            .await
            .map_err(|_| Cut)??;
        if n == 0 {
            return if out.is_empty() { Ok(None) } else { Err(Cut) };
        }
        // Blank lines before a request are tolerated.
        if out.is_empty() && (line == b"\r\n" || line == b"\n") {
            continue;
        }
        let end = line == b"\r\n" || line == b"\n";
        out.extend_from_slice(&line);
        if end {
            return Ok(Some(out));
        }
    }
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("ICAP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Some(Head {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
    })
}

/// `Encapsulated: req-hdr=0, res-hdr=137, res-body=296`: the parts in
/// order, their offsets increasing; the last is a body (`null-body` when
/// there is none).
fn encapsulated(v: &str) -> Option<Vec<(String, usize)>> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for part in v.split(',') {
        let (name, off) = part.trim().split_once('=')?;
        let off: usize = off.trim().parse().ok()?;
        if out.last().is_some_and(|(_, prev)| *prev > off) {
            return None;
        }
        out.push((name.trim().to_ascii_lowercase(), off));
    }
    let (last, _) = out.last()?;
    last.ends_with("-body").then_some(out)
}

async fn connection<B, S>(ctx: &Ctx<B>, s: S, peer: &str) -> Result<(), Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let c = &ctx.cfg.icap;
    let idle = Duration::from_secs(c.idle_timeout_secs);
    let read = Duration::from_secs(c.read_timeout_secs);
    let mut r = BufReader::new(s);
    loop {
        let Some(bytes) = head(&mut r, idle, read).await? else {
            return Ok(());
        };
        let Some(h) = parse_head(&bytes) else {
            send(&mut r, &status(ctx, "400 Bad Request", true)).await?;
            return Ok(());
        };
        let close = h
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match h.method.as_str() {
            "OPTIONS" => send(&mut r, &options(ctx)).await?,
            "REQMOD" | "RESPMOD" => {
                if !modify(ctx, &mut r, &h, read, peer).await? {
                    return Ok(());
                }
            }
            _ => {
                send(&mut r, &status(ctx, "501 Method Not Implemented", true)).await?;
                return Ok(());
            }
        }
        if close {
            return Ok(());
        }
    }
}

/// The `ISTag`: changes whenever the definitions do.
fn istag<B: Backend>(ctx: &Ctx<B>) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for e in ctx.backend.engines() {
        h.update(e.id.as_bytes());
        h.update(e.version.as_bytes());
        h.update(e.def_time.as_bytes());
    }
    let hex = mdcore::hex(&h.finalize());
    format!("\"mdscan-{}\"", hex.get(..16).unwrap_or(&hex))
}

fn status<B: Backend>(ctx: &Ctx<B>, status: &str, close: bool) -> String {
    let mut out = format!(
        "ICAP/1.0 {status}\r\nISTag: {}\r\nEncapsulated: null-body=0\r\n",
        istag(ctx)
    );
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out
}

fn options<B: Backend>(ctx: &Ctx<B>) -> String {
    let c = &ctx.cfg.icap;
    format!(
        "ICAP/1.0 200 OK\r\nMethods: RESPMOD, REQMOD\r\nService: mdscan {}\r\nISTag: {}\r\nEncapsulated: null-body=0\r\nMax-Connections: {}\r\nOptions-TTL: {OPTIONS_TTL}\r\nAllow: 204\r\nPreview: {}\r\nTransfer-Preview: *\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        istag(ctx),
        c.max_connections,
        c.preview
    )
}

/// Writes an ICAP head with no body.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    head: &str,
) -> Result<(), Cut> {
    let w = r.get_mut();
    w.write_all(head.as_bytes()).await?;
    w.flush().await?;
    Ok(())
}

/// Writes the head of a `200 OK` answer that carries an HTTP response:
/// the ICAP head (with the header lines `extra`, each ending in CRLF) and
/// the HTTP head `hdr`. The body follows, chunked.
async fn answer_head<B: Backend, W: AsyncWrite + Unpin>(
    ctx: &Ctx<B>,
    w: &mut W,
    extra: &str,
    hdr: &[u8],
) -> Result<(), Cut> {
    let head = format!(
        "ICAP/1.0 200 OK\r\nISTag: {}\r\nEncapsulated: res-hdr=0, res-body={}\r\n{extra}\r\n",
        istag(ctx),
        hdr.len()
    );
    w.write_all(head.as_bytes()).await?;
    w.write_all(hdr).await?;
    Ok(())
}

/// Writes `data` as one chunk (when not empty) and the last chunk.
async fn chunked<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> Result<(), Cut> {
    if !data.is_empty() {
        w.write_all(format!("{:x}\r\n", data.len()).as_bytes())
            .await?;
        w.write_all(data).await?;
        w.write_all(b"\r\n").await?;
    }
    w.write_all(b"0\r\n\r\n").await?;
    Ok(())
}

/// Streams a stored file as chunks, then the last chunk.
async fn chunked_file<W: AsyncWrite + Unpin>(w: &mut W, path: &std::path::Path) -> Result<(), Cut> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        w.write_all(format!("{n:x}\r\n").as_bytes()).await?;
        w.write_all(buf.get(..n).unwrap_or_default()).await?;
        w.write_all(b"\r\n").await?;
    }
    w.write_all(b"0\r\n\r\n").await?;
    Ok(())
}

/// What reading a chunked body came to.
enum Body {
    /// The last chunk came; `true` when it said `ieof` (all of the body
    /// was in the preview).
    Ended(bool),
    /// More than the workflow takes.
    TooLarge,
}

/// Reads chunks into `spool` up to the last chunk.
async fn chunks<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    read: Duration,
    spool: &mut Spool,
) -> Result<Body, Cut> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut line = Vec::new();
        tokio::time::timeout(read, r.take(MAX_CHUNK_LINE).read_until(b'\n', &mut line))
            .await
            .map_err(|_| Cut)??;
        let text = std::str::from_utf8(&line).map_err(|_| Cut)?.trim();
        let (size, ext) = text.split_once(';').unwrap_or((text, ""));
        let left = u64::from_str_radix(size.trim(), 16).map_err(|_| Cut)?;
        if left == 0 {
            // The blank line after the last chunk.
            let mut end = Vec::new();
            tokio::time::timeout(read, r.take(4).read_until(b'\n', &mut end))
                .await
                .map_err(|_| Cut)??;
            return Ok(Body::Ended(ext.trim() == "ieof"));
        }
        match spool.take_from(r, left, read, &mut buf).await {
            Taken::All => {}
            Taken::Refused(IntakeError::TooLarge(_)) => return Ok(Body::TooLarge),
            Taken::Cut | Taken::Refused(_) => return Err(Cut),
        }
        let mut crlf = [0u8; 2];
        tokio::time::timeout(read, r.read_exact(&mut crlf))
            .await
            .map_err(|_| Cut)??;
        if &crlf != b"\r\n" {
            return Err(Cut);
        }
    }
}

/// `REQMOD` or `RESPMOD`; `false` when the connection must close.
async fn modify<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    h: &Head,
    read: Duration,
    peer: &str,
) -> Result<bool, Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(parts) = h.header("encapsulated").and_then(encapsulated) else {
        send(r, &status(ctx, "400 Bad Request", true)).await?;
        return Ok(false);
    };
    let head_len = parts.last().map_or(0, |(_, o)| *o);
    if head_len as u64 > MAX_HEAD * 2 {
        send(r, &status(ctx, "400 Bad Request", true)).await?;
        return Ok(false);
    }
    let mut heads = vec![0u8; head_len];
    tokio::time::timeout(read, r.read_exact(&mut heads))
        .await
        .map_err(|_| Cut)??;
    let section = |name: &str| -> Option<&[u8]> {
        let i = parts.iter().position(|(n, _)| n == name)?;
        let start = parts.get(i)?.1;
        let end = parts.get(i + 1)?.1;
        heads.get(start..end)
    };
    let req_hdr = section("req-hdr").map(<[u8]>::to_vec);
    let res_hdr = section("res-hdr").map(<[u8]>::to_vec);
    let body_kind = parts.last().map(|(n, _)| n.clone()).unwrap_or_default();
    let respmod = h.method == "RESPMOD";
    let allow_204 = h
        .header("allow")
        .is_some_and(|a| a.split(',').any(|x| x.trim() == "204"));
    let name = req_hdr
        .as_deref()
        .and_then(request_name)
        .unwrap_or_else(|| "icap-body".to_string());
    let service = h.service();
    let sub = Submission {
        workflow: ctx
            .cfg
            .icap
            .services
            .get(&service)
            .cloned()
            .unwrap_or_default(),
        user_agent: "icap".into(),
        filename: Some(name.clone()),
        ..Submission::default()
    };
    let workflow = match intake::admit(&ctx.cfg, ctx.backend.as_ref(), &ctx.who, &sub).await {
        Ok(w) => w,
        Err(IntakeError::Busy) => {
            send(r, &status(ctx, "503 Service Unavailable", true)).await?;
            return Ok(false);
        }
        Err(_) => {
            send(r, &status(ctx, "500 Server Error", true)).await?;
            return Ok(false);
        }
    };
    let mut spool = Spool::new(ctx.backend.as_ref(), workflow.max_file_size);
    // A response whose body goes on past the preview, from a client that
    // does not allow 204 (Squid, when the body is more than it holds),
    // gets its answer's head before the body is read: such a client sends
    // the rest only once the answer has begun. The body follows once the
    // scan lets it through; when the scan blocks it, the connection is
    // closed with the body unfinished (the head can no longer become a
    // 403), so the client gets an error, never the content.
    let mut committed = false;
    if body_kind != "null-body" {
        let mut ended = chunks(r, read, &mut spool).await?;
        if h.header("preview").is_some() && matches!(ended, Body::Ended(false)) {
            // The preview ended and the body goes on: ask for the rest.
            send(r, "ICAP/1.0 100 Continue\r\n\r\n").await?;
            if respmod && !allow_204 {
                let hdr = res_hdr
                    .as_deref()
                    .map_or_else(|| b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), without_length);
                let w = r.get_mut();
                answer_head(ctx, w, "", &hdr).await?;
                w.flush().await?;
                committed = true;
            }
            ended = chunks(r, read, &mut spool).await?;
        }
        if let Body::TooLarge = ended {
            // The rest of the body was not read: answer, then close.
            if !committed {
                let threat = "Heuristics.Limits.Exceeded.MaxFileSize".to_string();
                block(ctx, r, &name, &[threat]).await?;
            }
            return Ok(false);
        }
    }
    let file = match spool.finish().await {
        Ok(f) => f,
        Err(_) if committed => return Ok(false),
        Err(_) => {
            send(r, &status(ctx, "500 Server Error", true)).await?;
            return Ok(false);
        }
    };
    if committed {
        return finish_committed(ctx, r, sub, &workflow, file, peer).await;
    }
    if file.size == 0 {
        let _ = std::fs::remove_file(&file.tmp);
        unchanged(ctx, r, allow_204, respmod, &req_hdr, &res_hdr, None).await?;
        return Ok(true);
    }
    let sha256 = file.sha256.clone();
    let scan = match scan(ctx, sub, &workflow, file, peer).await {
        Some(s) => s,
        None => {
            send(r, &status(ctx, "500 Server Error", true)).await?;
            return Ok(false);
        }
    };
    if let Some(threats) = intake::blocked_by(&scan, &workflow, &BTreeMap::new()) {
        block(ctx, r, &name, &threats).await?;
        return Ok(true);
    }
    if respmod && let Some((copy, size)) = sanitized(&scan, &workflow) {
        let hdr = res_hdr.as_deref().map(|h| with_length(h, size));
        let Ok(blob) = ctx.backend.blob(&copy).await else {
            send(r, &status(ctx, "500 Server Error", true)).await?;
            return Ok(false);
        };
        let hdr = hdr.unwrap_or_else(|| {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").into_bytes()
        });
        let w = r.get_mut();
        answer_head(ctx, w, "", &hdr).await?;
        chunked_file(w, blob.path()).await?;
        w.flush().await?;
        return Ok(true);
    }
    unchanged(
        ctx,
        r,
        allow_204,
        respmod,
        &req_hdr,
        &res_hdr,
        Some(&sha256),
    )
    .await?;
    Ok(true)
}

/// The rest of an answer whose head went out before the body was read:
/// the body (the sanitized copy where there is one) when the scan lets it
/// through, else the connection closed with the body unfinished.
async fn finish_committed<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    sub: Submission,
    workflow: &Workflow,
    file: intake::Received,
    peer: &str,
) -> Result<bool, Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sha256 = file.sha256.clone();
    let Some(scan) = scan(ctx, sub, workflow, file, peer).await else {
        return Ok(false);
    };
    if intake::blocked_by(&scan, workflow, &BTreeMap::new()).is_some() {
        return Ok(false);
    }
    let body = sanitized(&scan, workflow).map_or(sha256, |(copy, _)| copy);
    let Ok(blob) = ctx.backend.blob(&body).await else {
        return Ok(false);
    };
    let w = r.get_mut();
    chunked_file(w, blob.path()).await?;
    w.flush().await?;
    Ok(true)
}

/// An HTTP head without its length headers (the body that follows is
/// chunked by the ICAP client's rules, and may be a sanitized copy).
fn without_length(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "content-md5" | "etag"
        ) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The last part of the URL in an HTTP request head (`/a/setup.exe` →
/// `setup.exe`), the host when the path is empty.
fn request_name(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let first = text.lines().next()?;
    let url = first.split(' ').nth(1)?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| last.to_string())
}

/// The sanitized copy of a finished scan to send instead of the body, and
/// its size: when the workflow sanitized it and the copy's own scan lets
/// it through.
fn sanitized(scan: &Scan, workflow: &Workflow) -> Option<(String, u64)> {
    let rec = scan.report.as_ref()?.sanitization.as_ref()?;
    if rec.failure.is_some() || rec.sha256.is_empty() {
        return None;
    }
    let copy_blocks = rec
        .copy_result
        .is_none_or(|c| c.blocks_under(Some(&workflow.block_codes)));
    (!copy_blocks).then(|| (rec.sha256.clone(), rec.size))
}

/// An HTTP head with its length headers replaced by `Content-Length: n`.
fn with_length(head: &[u8], n: u64) -> Vec<u8> {
    let mut out = without_length(head);
    // Before the blank line that ends the head.
    out.truncate(out.len().saturating_sub(2));
    out.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes());
    out
}

/// Submits one received body and waits for the finished scan.
async fn scan<B: Backend>(
    ctx: &Ctx<B>,
    sub: Submission,
    workflow: &Workflow,
    file: intake::Received,
    peer: &str,
) -> Option<Scan> {
    intake::scan_and_wait(
        &ctx.cfg,
        ctx.backend.as_ref(),
        &ctx.who,
        sub,
        workflow,
        file,
        "icap scan",
        peer,
    )
    .await
    .ok()
    .flatten()
}

/// Clean: `204` when allowed, else the message sent back as it came (the
/// body read back from the store).
async fn unchanged<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    allow_204: bool,
    respmod: bool,
    req_hdr: &Option<Vec<u8>>,
    res_hdr: &Option<Vec<u8>>,
    body: Option<&str>,
) -> Result<(), Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    if allow_204 {
        let head = format!(
            "ICAP/1.0 204 No Content\r\nISTag: {}\r\nEncapsulated: null-body=0\r\n\r\n",
            istag(ctx)
        );
        return send(r, &head).await;
    }
    let hdr: &[u8] = if respmod {
        res_hdr.as_deref().unwrap_or_default()
    } else {
        req_hdr.as_deref().unwrap_or_default()
    };
    let (hdr_name, body_name) = if respmod {
        ("res-hdr", "res-body")
    } else {
        ("req-hdr", "req-body")
    };
    let encapsulated = match (hdr.is_empty(), body.is_some()) {
        (true, true) => format!("{body_name}=0"),
        (true, false) => "null-body=0".to_string(),
        (false, true) => format!("{hdr_name}=0, {body_name}={}", hdr.len()),
        (false, false) => format!("{hdr_name}=0, null-body={}", hdr.len()),
    };
    let head = format!(
        "ICAP/1.0 200 OK\r\nISTag: {}\r\nEncapsulated: {encapsulated}\r\n\r\n",
        istag(ctx)
    );
    let blob = match body {
        Some(sha) => match ctx.backend.blob(sha).await {
            Ok(b) => Some(b),
            Err(_) => {
                return send(r, &status(ctx, "500 Server Error", true)).await;
            }
        },
        None => None,
    };
    let w = r.get_mut();
    w.write_all(head.as_bytes()).await?;
    w.write_all(hdr).await?;
    if let Some(b) = blob {
        chunked_file(w, b.path()).await?;
    }
    w.flush().await?;
    Ok(())
}

/// Blocked: a 403 page in place of the message.
async fn block<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    name: &str,
    threats: &[String],
) -> Result<(), Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = threats.first().map_or("blocked", String::as_str);
    let page = ctx
        .page
        .replace("{name}", &html(name))
        .replace("{threat}", &html(&threats.join(", ")));
    let http = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        page.len()
    );
    // Header values quote the file's name: no line breaks in them.
    let clean = |s: &str| s.replace(['\r', '\n', ';'], " ");
    let mut violations = format!("{}", threats.len());
    for t in threats {
        violations.push_str(&format!(
            "\r\n\t{}\r\n\t{}\r\n\t0\r\n\t2",
            clean(name),
            clean(t)
        ));
    }
    let extra = format!(
        "X-Infection-Found: Type=0; Resolution=2; Threat={};\r\nX-Violations-Found: {violations}\r\nX-Virus-ID: {}\r\n",
        clean(first),
        clean(first)
    );
    let w = r.get_mut();
    answer_head(ctx, w, &extra, http.as_bytes()).await?;
    chunked(w, page.as_bytes()).await?;
    w.flush().await?;
    Ok(())
}

/// `text` safe inside HTML.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_encapsulation_parse() {
        let h = parse_head(
            b"RESPMOD icap://127.0.0.1:1344/avscan?x=1 ICAP/1.0\r\nHost: a\r\nEncapsulated: req-hdr=0, res-hdr=10, res-body=20\r\nPreview: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.service(), "avscan");
        assert_eq!(h.header("preview"), Some("0"));
        let e = encapsulated(h.header("encapsulated").unwrap()).unwrap();
        assert_eq!(e.len(), 3);
        assert!(encapsulated("req-hdr=10, res-body=5").is_none());
        assert!(encapsulated("req-hdr=0").is_none());
        assert!(parse_head(b"GET / HTTP/1.1\r\n\r\n").is_none());
        assert_eq!(
            request_name(b"GET http://example.com/a/setup.exe?x HTTP/1.1\r\n").as_deref(),
            Some("setup.exe")
        );
        assert_eq!(
            String::from_utf8(with_length(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n",
                9
            ))
            .unwrap(),
            "HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 9\r\n\r\n"
        );
    }
}
