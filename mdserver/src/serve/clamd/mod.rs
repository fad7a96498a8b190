//! The clamd front-end: ClamAV's clamd socket protocol, on unix sockets
//! and TCP (`[clamd] listen`), over the intake — the same workflows,
//! limits, engines, result store, history and audit log as the HTTP API,
//! and in a gateway the same cluster. A mail filter, an upload service or
//! a client library that speaks to clamd switches by changing its socket.
//!
//! Commands come in the three framings clamd reads: `z` (NUL-terminated,
//! NUL-terminated replies), `n` (newline) and bare (the old style: what
//! one read brings, up to a newline; `INSTREAM`, `IDSESSION`, `STATS`,
//! `VERSIONCOMMANDS`, `END` and `ALLMATCHSCAN` are not old-style
//! commands). Without `IDSESSION` a connection carries one command; in a
//! session each reply is numbered (`3: stream: OK`) and `END` closes it.
//! Replies are worded as clamd 1.4 words them (checked against Debian's
//! clamd in the tests): `PONG`, `stream: OK`,
//! `stream: Eicar-Test-Signature FOUND`, `INSTREAM size limit exceeded.
//! ERROR`, `UNKNOWN COMMAND`. A file the workflow blocks without a threat
//! name (a limit, damage, encryption) is `FOUND` under a `Heuristics.…`
//! name, never `OK`.
//!
//! `FILDES` takes a descriptor passed over a unix socket
//! (`SCM_RIGHTS`, [`fdpass`]), as clamdscan `--fdpass` sends it.
//! `DETSTATS` and `DETSTATSCLEAR` close the connection with no reply, as
//! clamd 1.4's do. `SHUTDOWN` and `QUIT` stop the server only with
//! `allow_shutdown`; otherwise the connection closes with no reply and the
//! server goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::{Notify, Semaphore};

use self::fdpass::{FdStream, PassedFds};
use super::backend::{Backend, Scan};
use super::config::{Config, Workflow};
use super::identity::Identity;
use super::intake::{self, IntakeError, Spool, Submission, Taken};
use super::roles::Role;

mod fdpass;

/// The commands served, as `VERSIONCOMMANDS` lists them.
/// The list is clamd 1.4's, word for word: clients that ask (clamdscan
/// does) pick their way of sending from it.
const COMMANDS: &str = "SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN";
/// Commands clamd takes only with a `z` or `n` prefix: bare, they are
/// `UNKNOWN COMMAND` (checked against clamd 1.4).
const NEW_STYLE_ONLY: [&str; 6] = [
    "INSTREAM",
    "IDSESSION",
    "END",
    "STATS",
    "VERSIONCOMMANDS",
    "ALLMATCHSCAN",
];
/// Longest command line read.
const MAX_COMMAND: u64 = 1024;
/// Bytes read from a local file at a time.
const FILE_CHUNK: usize = 256 << 10;

/// What every connection shares.
struct Ctx<B> {
    cfg: Arc<Config>,
    backend: Arc<B>,
    /// Who clamd clients are: they do not sign in.
    who: Identity,
    /// `scan_roots`, resolved once.
    roots: Vec<PathBuf>,
    /// Stops the server (`SHUTDOWN`, when `allow_shutdown`).
    stop: Arc<Notify>,
}

/// Starts a listener on every `[clamd] listen` address. `stop` is
/// notified by an allowed `SHUTDOWN`.
pub(crate) async fn spawn<B: Backend>(
    cfg: Arc<Config>,
    backend: Arc<B>,
    stop: Arc<Notify>,
) -> Result<(), String> {
    if cfg.clamd.listen.is_empty() {
        return Ok(());
    }
    let roots = cfg
        .clamd
        .scan_roots
        .iter()
        .map(|r| {
            std::fs::canonicalize(r)
                .map_err(|e| format!("[clamd] scan_roots: {}: {e}", r.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = Arc::new(Ctx {
        cfg: cfg.clone(),
        backend,
        who: Identity {
            name: Some("clamd".into()),
            role: Role::User,
            stored: false,
        },
        roots,
        stop,
    });
    let slots = Arc::new(Semaphore::new(cfg.clamd.max_connections.max(1)));
    for addr in &cfg.clamd.listen {
        if let Some(path) = addr.strip_prefix("unix:") {
            let path = PathBuf::from(path);
            // A socket file left by an earlier run is replaced; any other
            // file is not.
            if let Ok(m) = std::fs::symlink_metadata(&path) {
                use std::os::unix::fs::FileTypeExt;
                if !m.file_type().is_socket() {
                    return Err(format!(
                        "[clamd] listen: {} exists and is not a socket",
                        path.display()
                    ));
                }
                let _ = std::fs::remove_file(&path);
            }
            let l = tokio::net::UnixListener::bind(&path)
                .map_err(|e| format!("clamd: can not listen on {}: {e}", path.display()))?;
            eprintln!("mdscan: clamd protocol on unix:{}", path.display());
            let (ctx, slots) = (ctx.clone(), slots.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((s, _)) = l.accept().await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    serve_one(ctx.clone(), &slots, FdStream::new(s), "unix".into());
                }
            });
        } else {
            let l = tokio::net::TcpListener::bind(addr.as_str())
                .await
                .map_err(|e| format!("clamd: can not listen on {addr}: {e}"))?;
            eprintln!(
                "mdscan: clamd protocol on {}",
                l.local_addr().map_or(addr.clone(), |a| a.to_string())
            );
            let (ctx, slots) = (ctx.clone(), slots.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((s, peer)) = l.accept().await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    serve_one(ctx.clone(), &slots, s, peer.to_string());
                }
            });
        }
    }
    Ok(())
}

/// Serves one connection if a slot is free; closes it otherwise.
fn serve_one<B, S>(ctx: Arc<Ctx<B>>, slots: &Arc<Semaphore>, s: S, peer: String)
where
    B: Backend,
    S: AsyncRead + AsyncWrite + PassedFds + Unpin + Send + 'static,
{
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        drop(s);
        return;
    };
    tokio::spawn(async move {
        let _ = connection(&ctx, s, &peer).await;
        drop(permit);
    });
}

/// How a command was framed, and so how its reply ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `z…\0`: replies end with NUL.
    Nul,
    /// `n…\n`: replies end with a newline.
    Newline,
    /// No prefix, `…\n`: the old style; replies end with a newline.
    Bare,
}

impl Framing {
    fn end(self) -> u8 {
        match self {
            Framing::Nul => 0,
            Framing::Newline | Framing::Bare => b'\n',
        }
    }
}

/// Why a connection ends early.
#[derive(Debug)]
struct Cut;

impl From<std::io::Error> for Cut {
    fn from(_: std::io::Error) -> Cut {
        Cut
    }
}

/// Reads one command: `None` at the end of the connection or after the
/// idle timeout.
async fn command<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    idle: Duration,
    read: Duration,
) -> Result<Option<(Framing, String)>, Cut> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(idle, r.read(&mut first)).await {
        Err(_) | Ok(Ok(0)) => return Ok(None),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(_)) => {}
    }
    let (framing, mut line) = match first[0] {
        b'z' => (Framing::Nul, Vec::new()),
        b'n' => (Framing::Newline, Vec::new()),
        b => (Framing::Bare, vec![b]),
    };
    if framing == Framing::Bare {
        // clamd reads an old-style command from what one read brought: up
        // to its first newline, or all of it (npm clamscan sends `PING`
        // with no newline). Nothing more is waited for.
        let buffered = r.fill_buf().now_or_never().transpose()?.unwrap_or_default();
        let take = buffered
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buffered.len(), |i| i + 1)
            .min(usize::try_from(MAX_COMMAND).unwrap_or(usize::MAX));
        line.extend_from_slice(buffered.get(..take).unwrap_or_default());
        std::pin::Pin::new(&mut *r).consume(take);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Ok(Some((framing, String::from_utf8_lossy(&line).into_owned())));
    }
    let end = framing.end();
    let mut limited = r.take(MAX_COMMAND);
    tokio::time::timeout(read, limited.read_until(end, &mut line))
        .await
        .map_err(|_| Cut)??;
    if line.last() != Some(&end) {
        // Too long, or the connection ended mid-command.
        return Err(Cut);
    }
    line.pop();
    Ok(Some((framing, String::from_utf8_lossy(&line).into_owned())))
}

async fn connection<B, S>(ctx: &Ctx<B>, s: S, peer: &str) -> Result<(), Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + PassedFds + Unpin,
{
    let c = &ctx.cfg.clamd;
    let idle = Duration::from_secs(c.idle_timeout_secs);
    let read = Duration::from_secs(c.read_timeout_secs);
    let mut r = BufReader::new(s);
    let mut session: Option<u64> = None;
    loop {
        let Some((framing, line)) = command(&mut r, idle, read).await? else {
            return Ok(());
        };
        if session.is_some() && framing == Framing::Bare {
            // clamd takes only `z` and `n` commands in a session.
            return Ok(());
        }
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v, Some(a)),
            None => (line.as_str(), None),
        };
        if framing == Framing::Bare && NEW_STYLE_ONLY.contains(&verb) {
            write(&mut r, framing, None, &["UNKNOWN COMMAND".into()]).await?;
            return Ok(());
        }
        let replies: Vec<String> = match (verb, arg) {
            ("IDSESSION", None) if session.is_none() => {
                session = Some(0);
                continue;
            }
            ("END", None) if session.is_some() => return Ok(()),
            // clamd stops on these; mdscan only when `allow_shutdown`
            // says a client may stop it. Either way the connection closes
            // with no reply, as clamd's does.
            ("QUIT" | "SHUTDOWN", None) => {
                if ctx.cfg.clamd.allow_shutdown {
                    eprintln!("mdscan: clamd {verb} from {peer}: stopping");
                    ctx.stop.notify_one();
                }
                return Ok(());
            }
            // clamd 1.4 lists these and closes the connection with no
            // reply; so does mdscan (its detections are in the history).
            ("DETSTATS" | "DETSTATSCLEAR", None) => return Ok(()),
            ("PING", None) => vec!["PONG".into()],
            ("VERSION", None) => vec![version(ctx)],
            ("VERSIONCOMMANDS", None) => vec![format!("{}| COMMANDS: {COMMANDS}", version(ctx))],
            ("RELOAD", None) => {
                let backend = ctx.backend.clone();
                tokio::spawn(async move {
                    if let Err(e) = backend.reload_engines().await {
                        eprintln!("mdscan: clamd RELOAD failed: {e}");
                    }
                });
                vec!["RELOADING".into()]
            }
            ("STATS", None) => vec![stats(ctx)],
            ("INSTREAM", None) => {
                let (reply, keep) = instream(ctx, &mut r, read, peer).await?;
                let n = session.map(|n| n + 1);
                write(&mut r, framing, n, &[reply]).await?;
                session = n;
                if !keep || session.is_none() {
                    return Ok(());
                }
                continue;
            }
            ("FILDES", None) => fildes(ctx, &mut r, read, peer).await?,
            (v @ ("SCAN" | "CONTSCAN" | "MULTISCAN" | "ALLMATCHSCAN"), Some(path)) => {
                scan_path(ctx, v, path, peer).await
            }
            _ => vec!["UNKNOWN COMMAND".into()],
        };
        let n = session.map(|n| n + 1);
        write(&mut r, framing, n, &replies).await?;
        session = n;
        if session.is_none() {
            return Ok(());
        }
    }
}

/// Writes replies, numbered in a session.
async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    framing: Framing,
    number: Option<u64>,
    replies: &[String],
) -> Result<(), Cut> {
    let mut out = Vec::new();
    for line in replies {
        if let Some(n) = number {
            out.extend_from_slice(format!("{n}: ").as_bytes());
        }
        out.extend_from_slice(line.as_bytes());
        out.push(framing.end());
    }
    let w = r.get_mut();
    w.write_all(&out).await?;
    w.flush().await?;
    Ok(())
}

/// `VERSION`: the product, the definitions' age as clamd gives its
/// database version (the newest definition date, `YYYYMMDD`), and that
/// date as clamd prints it.
fn version<B: Backend>(ctx: &Ctx<B>) -> String {
    let newest = ctx
        .backend
        .engines()
        .iter()
        .map(|e| e.def_time.clone())
        .max()
        .unwrap_or_default();
    let digits: String = newest
        .chars()
        .filter(char::is_ascii_digit)
        .take(8)
        .collect();
    let mut out = format!("mdscan {}", env!("CARGO_PKG_VERSION"));
    if digits.len() == 8 {
        out.push_str(&format!("/{digits}/{}", ctime(&newest)));
    }
    out
}

/// An ISO 8601 time (`2026-11-25T00:00:00Z`) as C's `ctime` writes it
/// (`Wed Nov 25 00:00:00 2026`), which clamd's `VERSION` uses.
fn ctime(iso: &str) -> String {
    let num = |a: usize, b: usize| iso.get(a..b).and_then(|s| s.parse::<i64>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0, 4), num(5, 7), num(8, 10)) else {
        return iso.to_string();
    };
    let time = iso.get(11..19).unwrap_or("00:00:00");
    // Days since 1970-01-01 (Howard Hinnant's civil-from-days, inverted).
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .get(usize::try_from(m - 1).unwrap_or(0))
    .copied()
    .unwrap_or("Jan");
    format!("{weekday} {month} {d:>2} {time} {y}")
}

/// `STATS`, shaped as clamd's (pools, state, threads, queue), ending with
/// `END`.
fn stats<B: Backend>(ctx: &Ctx<B>) -> String {
    let c = &ctx.cfg;
    format!(
        "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live {w} idle 0 max {w} idle-timeout {idle}\nQUEUE: {q} items\n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used N/A pools_total N/A\nEND",
        w = c.workers,
        idle = c.clamd.idle_timeout_secs,
        q = ctx.backend.queued()
    )
}

/// The submission of one clamd file.
fn submission<B: Backend>(ctx: &Ctx<B>, name: &str) -> Submission {
    Submission {
        workflow: ctx.cfg.clamd.workflow.clone(),
        user_agent: "clamd".into(),
        filename: Some(name.to_string()),
        ..Submission::default()
    }
}

/// `INSTREAM`: chunks of a 4-byte big-endian length and that many bytes,
/// a zero length at the end. Returns the reply and whether the connection
/// may go on (not after a stream refused halfway).
async fn instream<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    read: Duration,
    peer: &str,
) -> Result<(String, bool), Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sub = submission(ctx, "stream");
    let workflow = match intake::admit(&ctx.cfg, ctx.backend.as_ref(), &ctx.who, &sub).await {
        Ok(w) => w,
        Err(e) => return Ok((format!("stream: {e} ERROR"), false)),
    };
    let max = ctx.cfg.clamd.stream_max_length.min(workflow.max_file_size);
    let mut spool = Spool::new(ctx.backend.as_ref(), max);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout(read, r.read_exact(&mut len))
            .await
            .map_err(|_| Cut)??;
        let left = u64::from(u32::from_be_bytes(len));
        if left == 0 {
            break;
        }
        match spool.take_from(r, left, read, &mut buf).await {
            Taken::All => {}
            Taken::Cut => return Err(Cut),
            Taken::Refused(IntakeError::TooLarge(_)) => {
                return Ok(("INSTREAM size limit exceeded. ERROR".into(), false));
            }
            Taken::Refused(e) => return Ok((format!("stream: {e} ERROR"), false)),
        }
    }
    let file = match spool.finish().await {
        Ok(f) => f,
        Err(e) => return Ok((format!("stream: {e} ERROR"), false)),
    };
    if file.size == 0 {
        // Nothing to scan: clamd answers OK.
        let _ = std::fs::remove_file(&file.tmp);
        return Ok(("stream: OK".into(), true));
    }
    let lines = run(ctx, sub, &workflow, file, "stream", false, peer).await;
    Ok((lines.join("\n"), true))
}

/// Submits one received file and waits for its verdict lines.
async fn run<B: Backend>(
    ctx: &Ctx<B>,
    sub: Submission,
    workflow: &Workflow,
    file: intake::Received,
    name: &str,
    all: bool,
    peer: &str,
) -> Vec<String> {
    let done = intake::scan_and_wait(
        &ctx.cfg,
        ctx.backend.as_ref(),
        &ctx.who,
        sub,
        workflow,
        file,
        "clamd scan",
        peer,
    )
    .await;
    match done {
        Ok(Some(scan)) => verdict(&scan, workflow, name, all, &ctx.cfg.clamd.names),
        Ok(None) => vec![format!("{name}: the scan did not end in time. ERROR")],
        Err(e) => vec![format!("{name}: {e} ERROR")],
    }
}

/// The reply lines for a finished scan of `name`: `OK`, or `FOUND` with
/// the first threat (every threat with `all`).
fn verdict(
    scan: &Scan,
    workflow: &Workflow,
    name: &str,
    all: bool,
    names: &BTreeMap<String, String>,
) -> Vec<String> {
    if scan.report.is_none() {
        return vec![format!("{name}: the scan has no result. ERROR")];
    }
    let Some(mut threats) = intake::blocked_by(scan, workflow, names) else {
        return vec![format!("{name}: OK")];
    };
    if !all {
        threats.truncate(1);
    }
    threats
        .into_iter()
        .map(|t| format!("{name}: {t} FOUND"))
        .collect()
}

/// `SCAN`, `CONTSCAN`, `MULTISCAN`, `ALLMATCHSCAN` of a path under
/// `scan_roots`: a file, or every file below a directory (in name order;
/// symbolic links are not followed, as clamd does not by default). `SCAN`
/// and `ALLMATCHSCAN` stop at the first file found; a directory with
/// nothing found is one `OK` line.
async fn scan_path<B: Backend>(ctx: &Ctx<B>, verb: &str, path: &str, peer: &str) -> Vec<String> {
    let Ok(real) = std::fs::canonicalize(path) else {
        return vec![format!(
            "{path}: File path check failure: No such file or directory. ERROR"
        )];
    };
    if !ctx.roots.iter().any(|root| real.starts_with(root)) {
        return vec![format!("{path}: Access denied. ERROR")];
    }
    let stop_at_first = matches!(verb, "SCAN" | "ALLMATCHSCAN");
    let all = verb == "ALLMATCHSCAN";
    let files = if real.is_dir() {
        let mut files = Vec::new();
        walk(&real, &mut files);
        files
    } else {
        vec![real.clone()]
    };
    let mut out = Vec::new();
    let mut found = false;
    for f in files {
        let shown = if real.is_dir() {
            f.display().to_string()
        } else {
            path.to_string()
        };
        let lines = scan_file(ctx, &f, &shown, all, peer).await;
        let hit = lines.iter().any(|l| l.ends_with(" FOUND"));
        if hit || lines.iter().any(|l| l.ends_with(" ERROR")) {
            out.extend(lines);
        }
        if hit {
            found = true;
            if stop_at_first {
                break;
            }
        }
    }
    if !found && out.is_empty() {
        out.push(format!("{path}: OK"));
    }
    out
}

/// Regular files below `dir`, in name order.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), out);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

/// One local file through the intake.
async fn scan_file<B: Backend>(
    ctx: &Ctx<B>,
    path: &Path,
    shown: &str,
    all: bool,
    peer: &str,
) -> Vec<String> {
    match tokio::fs::File::open(path).await {
        Ok(f) => scan_open(ctx, f, shown, all, peer).await,
        Err(e) => vec![format!("{shown}: {e}. ERROR")],
    }
}

/// `FILDES`: the descriptor the client passed beside the command (with
/// one byte, as clamdscan sends it) is read from its start to its end and
/// scanned as `fd[N]`, as clamd names it. A descriptor that is not a
/// regular file is refused as clamd refuses it; on TCP, where none can
/// come, clamd's error at once.
async fn fildes<B, S>(
    ctx: &Ctx<B>,
    r: &mut BufReader<S>,
    read: Duration,
    peer: &str,
) -> Result<Vec<String>, Cut>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + PassedFds + Unpin,
{
    let mut fd = r.get_mut().take_fd();
    if fd.is_some() {
        // The byte that carried it may already be buffered.
        if r.buffer().first() == Some(&0) {
            std::pin::Pin::new(&mut *r).consume(1);
        }
    } else if r.get_ref().passes_fds() {
        let mut byte = [0u8; 1];
        tokio::time::timeout(read, r.read_exact(&mut byte))
            .await
            .map_err(|_| Cut)??;
        fd = r.get_mut().take_fd();
    }
    let Some(fd) = fd else {
        return Ok(vec!["FILDES: didn't receive file descriptor. ERROR".into()]);
    };
    let shown = format!("fd[{}]", std::os::fd::AsRawFd::as_raw_fd(&fd));
    let file = std::fs::File::from(fd);
    // clamd scans regular files only (not a pipe, a socket, a directory).
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(vec![format!("{shown}: Not a regular file ERROR")]);
    }
    // The whole file, wherever the client's offset stood.
    if let Err(e) = std::io::Seek::seek(&mut &file, std::io::SeekFrom::Start(0)) {
        return Ok(vec![format!("{shown}: {e}. ERROR")]);
    }
    let file = tokio::fs::File::from_std(file);
    Ok(scan_open(ctx, file, &shown, false, peer).await)
}

/// An open file (or pipe) read to its end through the intake.
async fn scan_open<B: Backend>(
    ctx: &Ctx<B>,
    mut f: tokio::fs::File,
    shown: &str,
    all: bool,
    peer: &str,
) -> Vec<String> {
    let sub = submission(ctx, shown);
    let workflow = match intake::admit(&ctx.cfg, ctx.backend.as_ref(), &ctx.who, &sub).await {
        Ok(w) => w,
        Err(e) => return vec![format!("{shown}: {e} ERROR")],
    };
    let mut spool = Spool::new(ctx.backend.as_ref(), workflow.max_file_size);
    let mut buf = vec![0u8; FILE_CHUNK];
    loop {
        let n = match f.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return vec![format!("{shown}: {e}. ERROR")],
        };
        match spool.push(buf.get(..n).unwrap_or_default()).await {
            Ok(()) => {}
            Err(IntakeError::TooLarge(_)) => {
                return vec![format!(
                    "{shown}: Heuristics.Limits.Exceeded.MaxFileSize FOUND"
                )];
            }
            Err(e) => return vec![format!("{shown}: {e} ERROR")],
        }
    }
    let file = match spool.finish().await {
        Ok(f) => f,
        Err(e) => return vec![format!("{shown}: {e} ERROR")],
    };
    if file.size == 0 {
        let _ = std::fs::remove_file(&file.tmp);
        return vec![format!("{shown}: OK")];
    }
    run(ctx, sub, &workflow, file, shown, all, peer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_is_what_c_writes() {
        assert_eq!(ctime("2026-11-25T00:00:00Z"), "Wed Nov 25 00:00:00 2026");
        assert_eq!(ctime("2026-12-07T09:05:02Z"), "Mon Dec  7 09:05:02 2026");
        assert_eq!(ctime("1970-01-01T00:00:00Z"), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime("2000-02-29T12:00:00Z"), "Tue Feb 29 12:00:00 2000");
    }
}
