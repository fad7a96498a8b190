//! The clamd listener, judged by the reference: Debian's clamd answers the
//! same byte sequences as mdscan (replies compared byte for byte, once the
//! version line and ClamAV's `.UNOFFICIAL` suffix are set aside), and
//! Debian's clamdscan works against mdscan's socket as against clamd's.
//! Descriptors are passed with `sendmsg` (`SCM_RIGHTS`), as clamdscan
//! `--fdpass` passes them.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{EICAR, zip_of};
use crate::server::{Server, get};
use crate::shared::skip;

/// The name mdscan's built-in rule gives EICAR; the reference clamd is
/// given a hash signature of that name.
const EICAR_NAME: &str = "EICAR_Test_File";

/// Sends `bytes` on a fresh connection and reads until the server closes
/// it (or 5 s pass).
pub(crate) fn ask(sock: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A server that refuses a stream may close before all was written.
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Sends `before`, then one NUL byte carrying the descriptor `fd` (as
/// clamdscan sends it after `FILDES`), then `after`; reads until the
/// server closes the connection (or 5 s pass).
fn ask_fd(sock: &Path, before: &[u8], fd: std::os::fd::BorrowedFd<'_>, after: &[u8]) -> Vec<u8> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(before).unwrap();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    rustix::net::sendmsg(
        &s,
        &[std::io::IoSlice::new(b"\0")],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
    let _ = s.write_all(after);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A reply with the descriptor numbers (`fd[11]`, each server's own) set
/// aside.
fn fd_numbers_aside(reply: &str) -> String {
    let mut out = String::new();
    let mut rest = reply;
    while let Some(at) = rest.find("fd[") {
        out.push_str(&rest[..at + 3]);
        rest = rest[at + 3..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

/// `INSTREAM` of `data` in chunks of `chunk` bytes, with framing `z` or `n`.
pub(crate) fn instream(prefix: &[u8], data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = prefix.to_vec();
    for c in data.chunks(chunk) {
        out.extend_from_slice(&u32::try_from(c.len()).unwrap().to_be_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// Debian's clamd on a socket in `dir`, with one signature: EICAR's MD5
/// under mdscan's name for it. `None` (after a visible skip) when clamd is
/// not installed.
struct RefClamd(Child);

impl Drop for RefClamd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn reference(dir: &Path) -> Option<(RefClamd, PathBuf)> {
    reference_on(dir, None)
}

/// [`reference`], also listening on `127.0.0.1:tcp`.
fn reference_on(dir: &Path, tcp: Option<u16>) -> Option<(RefClamd, PathBuf)> {
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("eicar.hdb"),
        format!("44d88612fea8a8f36de82e1278abb02f:68:{EICAR_NAME}\n"),
    )
    .unwrap();
    let sock = dir.join("clamd.sock");
    let conf = dir.join("clamd.conf");
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let tcp = tcp.map_or(String::new(), |p| {
        format!("TCPSocket {p}\nTCPAddr 127.0.0.1\n")
    });
    std::fs::write(
        &conf,
        format!(
            "LocalSocket {}\n{tcp}DatabaseDirectory {}\nForeground yes\nUser {user}\nStreamMaxLength 1M\nLogFile {}\n",
            sock.display(),
            db.display(),
            dir.join("clamd.log").display()
        ),
    )
    .unwrap();
    let child = match Command::new("clamd")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => RefClamd(c),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(format_args!(
                "clamd is not installed (Debian clamav-daemon)"
            ));
            return None;
        }
        Err(e) => panic!("clamd: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if UnixStream::connect(&sock).is_ok() {
            return Some((child, sock));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the reference clamd did not start");
}

/// mdscan serving clamd on a socket in `dir`, `roots` open to path scans.
fn mdscan(dir: &Path, roots: &Path) -> (Server, PathBuf) {
    mdscan_on(dir, roots, None, "")
}

/// [`mdscan`], also listening on `127.0.0.1:tcp`, with `more` in its
/// `[clamd]` section.
fn mdscan_on(dir: &Path, roots: &Path, tcp: Option<u16>, more: &str) -> (Server, PathBuf) {
    let sock = dir.join("mdscan-clamd.sock");
    let tcp = tcp.map_or(String::new(), |p| format!(", \"127.0.0.1:{p}\""));
    let cfg = format!(
        "[clamd]\nlisten = [\"unix:{}\"{tcp}]\nscan_roots = [\"{}\"]\nstream_max_length = 1048576\n{more}",
        sock.display(),
        roots.display()
    );
    let server = Server::start(dir, Some(&cfg));
    let deadline = Instant::now() + Duration::from_secs(30);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no clamd socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, sock)
}

/// A reply as compared: the version line's text (not its command list)
/// and ClamAV's suffix for signatures from a local database set aside.
fn normal(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).replace(".UNOFFICIAL", "");
    text.split_inclusive(['\n', '\0'])
        .map(|line| {
            let body =
                line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ':' || c == ' ');
            if body.starts_with("ClamAV ") || body.starts_with("mdscan ") {
                let end = line.chars().last().unwrap_or('\n');
                let (pre, _) = line.split_at(line.len() - body.len());
                let commands = body.split_once("| COMMANDS:").map(|(_, c)| c.trim_end());
                match commands {
                    Some(list) => format!("{pre}<version>| COMMANDS:{list}{end}"),
                    None => format!("{pre}<version>{end}"),
                }
            } else {
                line.to_string()
            }
        })
        .collect()
}

#[test]
fn clamd_replies_match_debians_clamd_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((_clamd, reference)) = reference(d) else {
        return;
    };
    let roots = d.join("files");
    std::fs::create_dir_all(roots.join("sub")).unwrap();
    std::fs::write(roots.join("eicar.com"), EICAR).unwrap();
    std::fs::write(roots.join("clean.txt"), b"nothing here\n").unwrap();
    std::fs::write(roots.join("sub/a.txt"), b"a clean file\n").unwrap();
    std::fs::write(roots.join("sub/z.com"), EICAR).unwrap();
    let clean_dir = d.join("files/clean");
    std::fs::create_dir_all(&clean_dir).unwrap();
    std::fs::write(clean_dir.join("x.txt"), b"x\n").unwrap();
    let (_server, ours) = mdscan(d, &roots);

    let path = |p: &str| roots.join(p).display().to_string();
    let cmd = |prefix: &str, verb: &str, arg: &str, end: &str| {
        format!("{prefix}{verb} {arg}{end}").into_bytes()
    };
    let mut cases: Vec<Vec<u8>> = vec![
        b"zPING\0".to_vec(),
        b"nPING\n".to_vec(),
        b"PING\n".to_vec(),
        b"zVERSION\0".to_vec(),
        b"nVERSIONCOMMANDS\n".to_vec(),
        b"nFOO\n".to_vec(),
        b"zFOO\0".to_vec(),
        b"FOO\n".to_vec(),
        b"nSCAN\n".to_vec(),
        b"nPING extra\n".to_vec(),
        b"nEND\n".to_vec(),
        b"nDETSTATS\n".to_vec(),
        // Old-style (bare) commands: what one read brings, with or without
        // a newline; the newer commands are unknown bare.
        b"PING".to_vec(),
        b"PING\r\n".to_vec(),
        b"VERSION".to_vec(),
        b"PING     ".to_vec(),
        b"STATS\n".to_vec(),
        b"VERSIONCOMMANDS\n".to_vec(),
        b"IDSESSION\n".to_vec(),
        b"END\n".to_vec(),
        instream(b"INSTREAM\n", EICAR, 68),
        b"zDETSTATSCLEAR\0".to_vec(),
        instream(b"zINSTREAM\0", EICAR, 7),
        instream(b"nINSTREAM\n", EICAR, 68),
        instream(b"zINSTREAM\0", b"hello, clean world", 5),
        instream(b"zINSTREAM\0", b"", 5),
        instream(b"zINSTREAM\0", &vec![b'a'; 2 << 20], 64 << 10),
        cmd("n", "SCAN", &path("eicar.com"), "\n"),
        cmd("z", "SCAN", &path("clean.txt"), "\0"),
        cmd("n", "SCAN", &path("missing"), "\n"),
        cmd("n", "SCAN", &path("sub"), "\n"),
        cmd("n", "CONTSCAN", &path("sub"), "\n"),
        cmd("n", "MULTISCAN", &path("sub"), "\n"),
        cmd("n", "ALLMATCHSCAN", &path("sub"), "\n"),
        cmd("n", "SCAN", &clean_dir.display().to_string(), "\n"),
        cmd("", "SCAN", &path("eicar.com"), ""),
        cmd("", "CONTSCAN", &path("sub"), "\n"),
        cmd("", "ALLMATCHSCAN", &path("sub"), "\n"),
        b"zIDSESSION\0zPING\0zVERSION\0zEND\0".to_vec(),
    ];
    let mut session = b"nIDSESSION\nnPING\n".to_vec();
    session.extend(instream(b"nINSTREAM\n", EICAR, 10));
    session.extend(cmd("n", "SCAN", &path("clean.txt"), "\n"));
    session.extend(b"nEND\n");
    cases.push(session);
    // Last: clamd takes no connection while it reloads.
    cases.push(b"nRELOAD\n".to_vec());
    for case in &cases {
        let mut want = normal(&ask(&reference, case));
        let mut got = normal(&ask(&ours, case));
        if case.windows(9).any(|w| w == b"IDSESSION") {
            // In a session clamd answers requests as they finish, each
            // numbered: the order of the lines is not part of the
            // protocol.
            let sorted = |s: &str| {
                let mut lines: Vec<&str> = s.split_inclusive(['\n', '\0']).collect();
                lines.sort_unstable();
                lines.concat()
            };
            want = sorted(&want);
            got = sorted(&got);
        }
        let shown = String::from_utf8_lossy(case.get(..60).unwrap_or(case));
        assert_eq!(got, want, "replies differ for {shown:?}");
    }
    // FILDES: a descriptor passed beside the command, in every framing and
    // in a session; a pipe is not a regular file.
    let eicar = std::fs::File::open(roots.join("eicar.com")).unwrap();
    let clean = std::fs::File::open(roots.join("clean.txt")).unwrap();
    let (pipe_r, pipe_w) = std::io::pipe().unwrap();
    drop(pipe_w);
    use std::os::fd::AsFd;
    let fd_cases: [(&[u8], std::os::fd::BorrowedFd<'_>, &[u8]); 6] = [
        (b"zFILDES\0", eicar.as_fd(), b""),
        (b"nFILDES\n", eicar.as_fd(), b""),
        (b"FILDES\n", clean.as_fd(), b""),
        (b"zFILDES\0", pipe_r.as_fd(), b""),
        (b"zIDSESSION\0zFILDES\0", eicar.as_fd(), b"zEND\0"),
        (b"nIDSESSION\nnPING\nnFILDES\n", clean.as_fd(), b"nEND\n"),
    ];
    for (before, fd, after) in fd_cases {
        let want = fd_numbers_aside(&normal(&ask_fd(&reference, before, fd, after)));
        let got = fd_numbers_aside(&normal(&ask_fd(&ours, before, fd, after)));
        assert!(want.contains("fd[N]"), "{want:?}");
        assert_eq!(got, want, "replies differ for FILDES after {before:?}");
    }
    // QUIT and SHUTDOWN stop clamd; mdscan refuses: the connection closes
    // with no reply (as clamd's does) and the server goes on.
    for stop in [&b"nQUIT\n"[..], b"nSHUTDOWN\n", b"zSHUTDOWN\0"] {
        assert_eq!(ask(&ours, stop), b"");
        assert_eq!(ask(&ours, b"zPING\0"), b"PONG\0");
    }
    // What clamd does not have: paths outside the roots are refused.
    assert_eq!(
        ask(&ours, b"nSCAN /etc/passwd\n"),
        b"/etc/passwd: Access denied. ERROR\n"
    );
}

#[test]
fn clamdscan_scans_through_mdscan_and_every_scan_is_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let roots = d.join("files");
    std::fs::create_dir_all(&roots).unwrap();
    std::fs::write(roots.join("eicar.com"), EICAR).unwrap();
    std::fs::write(roots.join("hidden.zip"), zip_of(&[("in/eicar.txt", EICAR)])).unwrap();
    std::fs::write(roots.join("clean.txt"), b"nothing here\n").unwrap();
    let (server, sock) = mdscan(d, &roots);
    let conf = d.join("clamdscan.conf");
    std::fs::write(&conf, format!("LocalSocket {}\n", sock.display())).unwrap();
    let clamdscan = |args: &[&str], stdin: Option<&[u8]>| -> Option<(i32, String)> {
        let mut c = Command::new("clamdscan");
        c.arg(format!("--config-file={}", conf.display()))
            .arg("--no-summary")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match c.spawn() {
            Ok(ch) => ch,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                skip(format_args!(
                    "clamdscan is not installed (Debian clamdscan)"
                ));
                return None;
            }
            Err(e) => panic!("clamdscan: {e}"),
        };
        if let Some(data) = stdin {
            child.stdin.take().unwrap().write_all(data).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        Some((out.status.code().unwrap_or(-1), text))
    };
    let p = |f: &str| roots.join(f).display().to_string();
    let Some((code, out)) = clamdscan(&["--stream", &p("eicar.com")], None) else {
        return;
    };
    assert_eq!(
        (code, out.trim()),
        (
            1,
            format!("{}: {EICAR_NAME} FOUND", p("eicar.com")).as_str()
        )
    );
    let (code, out) = clamdscan(&["--stream", &p("hidden.zip")], None).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{}: {EICAR_NAME} FOUND", p("hidden.zip"))),
        "{out}"
    );
    let (code, out) = clamdscan(&["--stream", &p("clean.txt")], None).unwrap();
    assert_eq!(
        (code, out.trim()),
        (0, format!("{}: OK", p("clean.txt")).as_str())
    );
    // Paths sent to the server (SCAN / MULTISCAN), a directory, stdin.
    let (code, out) = clamdscan(&["-m", roots.to_str().unwrap()], None).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{}: {EICAR_NAME} FOUND", p("eicar.com"))),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}: {EICAR_NAME} FOUND", p("hidden.zip"))),
        "{out}"
    );
    let (code, out) = clamdscan(&["-"], Some(EICAR)).unwrap();
    assert_eq!(
        (code, out.trim()),
        (1, format!("stream: {EICAR_NAME} FOUND").as_str())
    );
    // Descriptor passing (FILDES over the unix socket).
    let (code, out) = clamdscan(&["--fdpass", &p("eicar.com")], None).unwrap();
    assert_eq!(
        (code, out.trim()),
        (
            1,
            format!("{}: {EICAR_NAME} FOUND", p("eicar.com")).as_str()
        )
    );
    let (code, out) = clamdscan(&["--fdpass", &p("hidden.zip")], None).unwrap();
    assert_eq!(code, 1, "{out}");
    let (code, out) = clamdscan(&["--fdpass", &p("clean.txt")], None).unwrap();
    assert_eq!(
        (code, out.trim()),
        (0, format!("{}: OK", p("clean.txt")).as_str())
    );
    // ALLMATCHSCAN, sent by --allmatch with a path.
    let (code, out) = clamdscan(&["--allmatch", &p("hidden.zip")], None).unwrap();
    assert_eq!(code, 1, "{out}");
    // A 2 GiB stream (a sparse file) is refused past StreamMaxLength as
    // clamd refuses it: clamd cuts the connection and clamdscan says it
    // could not send (2), never OK.
    let big = d.join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let (code, out) = clamdscan(&["--stream", big.to_str().unwrap()], None).unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains(": OK"), "{out}");

    // Every scan is in the history as the clamd user, and audited.
    let (_, history) = get(&server, "/stat/history", None);
    let scans = history["scans"].as_array().unwrap();
    assert!(scans.len() >= 10, "{history}");
    assert!(scans.iter().all(|s| s["user"] == "clamd"), "{history}");
    let (_, audit) = get(&server, "/admin/audit", None);
    let events = audit["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .filter(|e| e["action"] == "clamd scan")
            .count()
            >= 10,
        "{audit}"
    );
}

/// What the PyPI clients print for each call, one line per call.
const PYPI_CLIENTS: &str = r#"
import io, sys, clamd, pyclamd
from clamav_client.clamd import ClamdUnixSocket, ClamdNetworkSocket
sock, port, eicar, clean, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
E = open(eicar, "rb").read()
for c in (clamd.ClamdUnixSocket(sock), clamd.ClamdNetworkSocket("127.0.0.1", port)):
    print(c.ping())
    print(c.instream(io.BytesIO(E)))
    print(c.instream(io.BytesIO(b"nothing here")))
    print(c.scan(eicar))
    print(c.scan(clean))
    print(sorted(c.contscan(folder).items()))
    print(sorted(c.multiscan(folder).items()))
for c in (ClamdUnixSocket(sock), ClamdNetworkSocket("127.0.0.1", port)):
    print(c.ping())
    print(c.instream(io.BytesIO(E)))
    print(c.instream(io.BytesIO(b"nothing here")))
for c in (pyclamd.ClamdUnixSocket(sock), pyclamd.ClamdNetworkSocket("127.0.0.1", port)):
    print(c.ping())
    print(c.scan_stream(E))
    print(c.scan_stream(b"nothing here"))
    print(c.scan_file(eicar))
    print(c.scan_file(clean))
    print(sorted(c.contscan_file(folder).items()))
    print(sorted(c.multiscan_file(folder).items()))
    print(c.allmatchscan(eicar))
"#;

/// The files the client tests scan, under `d/files`.
fn client_files(d: &Path) -> PathBuf {
    let roots = d.join("files");
    std::fs::create_dir_all(roots.join("sub")).unwrap();
    std::fs::write(roots.join("eicar.com"), EICAR).unwrap();
    std::fs::write(roots.join("clean.txt"), b"nothing here\n").unwrap();
    std::fs::write(roots.join("sub/z.com"), EICAR).unwrap();
    std::fs::write(roots.join("sub/a.txt"), b"a\n").unwrap();
    roots
}

/// Runs `script` (a client runner: the PyPI venv or the npm folder) with
/// SOCKET PORT EICAR CLEAN FOLDER after `args`; its output, or `None`
/// (after a visible skip) when its packages could not be installed.
fn run_clients(
    script: &str,
    args: &[&str],
    sock: &Path,
    port: u16,
    roots: &Path,
) -> Option<String> {
    let p = |f: &str| roots.join(f).display().to_string();
    let out = Command::new(script)
        .args(args)
        .arg(sock)
        .arg(port.to_string())
        .args([p("eicar.com"), p("clean.txt"), p("sub")])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr).into_owned();
            if why.contains("No matching distribution")
                || why.contains("ensurepip")
                || why.contains("npm ERR")
                || why.contains("ENOTFOUND")
            {
                skip(format_args!(
                    "the client packages could not be installed: {why}"
                ));
                return None;
            }
            panic!("{script} failed:\n{why}");
        }
        Err(e) => panic!("{script}: {e}"),
    }
}

/// The client libraries everyone embeds, each driven over the unix socket
/// and TCP against Debian's clamd and against mdscan, on the same files:
/// every call answers the same (ClamAV's `.UNOFFICIAL` suffix set aside).
/// PyPI `clamd`, `clamav-client` and `pyClamd`; npm `clamscan` (its
/// `isInfected`, `scanStream` and `scanDir`) and `clamdjs`.
#[test]
fn the_client_libraries_answer_as_against_clamd() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let roots = client_files(d);
    let ref_port = crate::cluster::free_port();
    let Some((_clamd, reference)) = reference_on(&d.join("ref"), Some(ref_port)) else {
        return;
    };
    let port = crate::cluster::free_port();
    let (_server, ours) = mdscan_on(d, &roots, Some(port), "");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "no clamd port");
        std::thread::sleep(Duration::from_millis(50));
    }
    let runners: [(&str, &[&str]); 2] = [
        (
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clamd-clients.sh"),
            &["-c", PYPI_CLIENTS],
        ),
        (
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clamd-node/run.sh"),
            &[],
        ),
    ];
    for (script, args) in runners {
        let Some(want) = run_clients(script, args, &reference, ref_port, &roots) else {
            continue;
        };
        let got = run_clients(script, args, &ours, port, &roots).unwrap();
        let want = want.replace(".UNOFFICIAL", "");
        assert!(want.contains(EICAR_NAME), "{script}: {want}");
        assert_eq!(got, want, "{script} answers differ");
    }
}

/// `SHUTDOWN` stops the server only with `allow_shutdown`; `FILDES` on TCP,
/// where no descriptor can come, is clamd's error at once.
#[test]
fn shutdown_when_allowed_and_fildes_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let roots = client_files(d);
    let port = crate::cluster::free_port();
    let (mut server, sock) = mdscan_on(d, &roots, Some(port), "allow_shutdown = true\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut tcp = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "no clamd port");
        std::thread::sleep(Duration::from_millis(50));
    };
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"nFILDES\n").unwrap();
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    assert_eq!(out, b"FILDES: didn't receive file descriptor. ERROR\n");
    assert_eq!(ask(&sock, b"zPING\0"), b"PONG\0");
    assert_eq!(ask(&sock, b"nSHUTDOWN\n"), b"");
    assert!(
        server.exited_within(Duration::from_secs(30)),
        "SHUTDOWN with allow_shutdown did not stop the server"
    );
}
