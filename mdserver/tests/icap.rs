//! The ICAP server, driven by clients we did not write: c-icap's
//! `c-icap-client` (Debian c-icap) for OPTIONS, REQMOD and RESPMOD with
//! and without preview and 204, and Squid on loopback with `icap_service`
//! pointing at mdscan, fetching through it with curl.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{EICAR, zip_of};
use crate::cluster::free_port;
use crate::server::{Server, get};
use crate::shared::skip;

/// mdscan with an ICAP port; the `cdr` service sanitizes.
fn mdscan(dir: &Path) -> (Server, u16) {
    mdscan_with(dir, "")
}

/// [`mdscan`] with `more` in its `[icap]` section.
fn mdscan_with(dir: &Path, more: &str) -> (Server, u16) {
    let port = free_port();
    let cfg = format!(
        "[[workflows]]\nname = \"File scan\"\n[[workflows]]\nname = \"Sanitize\"\n[workflows.sanitize]\nenabled = true\n[icap]\nlisten = \"127.0.0.1:{port}\"\nservices = {{ cdr = \"Sanitize\" }}\n{more}"
    );
    let server = Server::start(dir, Some(&cfg));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "no ICAP port");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

/// Runs c-icap-client; its verbose output (ICAP and HTTP heads). `None`
/// after a visible skip when it is not installed.
fn client(port: u16, args: &[&str]) -> Option<String> {
    let out = match Command::new("c-icap-client")
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v"])
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(format_args!(
                "c-icap-client is not installed (Debian c-icap)"
            ));
            return None;
        }
        Err(e) => panic!("c-icap-client: {e}"),
    };
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// `[icap] tls = true`: ICAP over TLS (`icaps://`) with the server's
/// self-signed certificate, driven by `c-icap-client -tls`; a client
/// speaking plain ICAP to it gets no answer.
#[test]
fn icaps_over_tls_with_c_icap_client() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_server, port) = mdscan_with(d, "tls = true\n");
    let tls = ["-tls", "-tls-no-verify"];
    let Some(out) = client(
        port,
        &[&tls[..], &["-s", "avscan", "-method", "OPTIONS"]].concat(),
    ) else {
        return;
    };
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    assert!(out.contains("Methods: RESPMOD, REQMOD"), "{out}");
    let eicar = d.join("eicar.com");
    std::fs::write(&eicar, EICAR).unwrap();
    let clean = d.join("clean.txt");
    std::fs::write(&clean, b"nothing here\n").unwrap();
    let got = d.join("got.txt");
    let out = client(
        port,
        &[
            &tls[..],
            &[
                "-s",
                "avscan",
                "-f",
                eicar.to_str().unwrap(),
                "-o",
                got.to_str().unwrap(),
            ],
        ]
        .concat(),
    )
    .unwrap();
    assert!(out.contains("HTTP/1.1 403 Forbidden"), "{out}");
    assert!(out.contains("X-Virus-ID: EICAR_Test_File"), "{out}");
    let out = client(
        port,
        &[&tls[..], &["-s", "avscan", "-f", clean.to_str().unwrap()]].concat(),
    )
    .unwrap();
    assert!(out.contains("ICAP/1.0 204 No Content"), "{out}");
    // The certificate is the self-signed one kept in the data directory.
    assert!(d.join("store/tls/cert.pem").is_file());
    // Plain ICAP on the TLS port: no ICAP answer.
    let out = client(port, &["-s", "avscan", "-method", "OPTIONS"]).unwrap();
    assert!(!out.contains("ICAP/1.0 200"), "{out}");
}

#[test]
fn c_icap_client_gets_options_204_echoes_and_block_pages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (server, port) = mdscan(d);
    let Some(out) = client(port, &["-s", "avscan", "-method", "OPTIONS"]) else {
        return;
    };
    for want in [
        "ICAP/1.0 200 OK",
        "Methods: RESPMOD, REQMOD",
        "Allow: 204",
        "Preview: 1024",
        "Transfer-Preview: *",
        "Options-TTL:",
        "Max-Connections:",
        "ISTag: \"mdscan-",
    ] {
        assert!(out.contains(want), "OPTIONS lacks {want}:\n{out}");
    }

    let write = |name: &str, data: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, data).unwrap();
        p.display().to_string()
    };
    let eicar = write("eicar.com", EICAR);
    let hidden = write("hidden.zip", &zip_of(&[("in/eicar.txt", EICAR)]));
    // Past the 1024-byte preview: the rest comes after 100 Continue.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big_path = write("big.bin", &big);
    // c-icap-client will not write over a file: a fresh name each time.
    let n = std::cell::Cell::new(0);
    let out_file = || {
        n.set(n.get() + 1);
        d.join(format!("got-{}", n.get()))
    };

    // Clean: 204 when allowed; the body sent back unchanged when not.
    let got_s = out_file().display().to_string();
    let out = client(port, &["-s", "avscan", "-f", &big_path, "-o", &got_s]).unwrap();
    assert!(out.contains("ICAP/1.0 204 No Content"), "{out}");
    let got = out_file();
    let got_s = got.display().to_string();
    let out = client(
        port,
        &["-s", "avscan", "-f", &big_path, "-no204", "-o", &got_s],
    )
    .unwrap();
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    assert_eq!(std::fs::read(&got).unwrap(), big, "the echoed body differs");

    // Blocked, in a response and in a request, alone or inside a zip.
    for (file, args) in [
        (&eicar, vec!["-s", "avscan"]),
        (&hidden, vec!["-s", "avscan"]),
        (
            &eicar,
            vec!["-s", "avscan", "-req", "http://example.com/dl/eicar.com"],
        ),
    ] {
        let got = out_file();
        let got_s = got.display().to_string();
        let mut a = args.clone();
        a.extend(["-f", file.as_str()]);
        if !args.contains(&"-req") {
            // (c-icap-client writes no output file for a request.)
            a.extend(["-o", &got_s]);
        }
        let out = client(port, &a).unwrap();
        assert!(out.contains("HTTP/1.1 403 Forbidden"), "{out}");
        assert!(
            out.contains("X-Infection-Found: Type=0; Resolution=2; Threat=EICAR_Test_File;"),
            "{out}"
        );
        assert!(out.contains("X-Virus-ID: EICAR_Test_File"), "{out}");
        if !args.contains(&"-req") {
            let page = std::fs::read_to_string(&got).unwrap();
            assert!(page.contains("EICAR_Test_File"), "{page}");
        }
    }

    // The sanitizing service sends the sanitized body back.
    let page = write(
        "page.html",
        b"<html><body><p>kept text</p><script>alert(1)</script></body></html>",
    );
    let got = out_file();
    let got_s = got.display().to_string();
    let out = client(port, &["-s", "cdr", "-f", &page, "-o", &got_s]).unwrap();
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    let copy = std::fs::read_to_string(&got).unwrap();
    assert!(
        copy.contains("kept text") && !copy.contains("<script"),
        "{copy}"
    );

    // On record: every scan under the icap user, and audited.
    let (_, history) = get(&server, "/stat/history", None);
    let scans = history["scans"].as_array().unwrap();
    assert!(scans.len() >= 6, "{history}");
    assert!(scans.iter().all(|s| s["user"] == "icap"), "{history}");
    let (_, audit) = get(&server, "/admin/audit", None);
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "icap scan"),
        "{audit}"
    );
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn squid_fetches_clean_files_and_is_refused_infected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_server, icap) = mdscan(d);
    // The origin: files served over HTTP by Python's http.server.
    let www = d.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("clean.txt"), b"hello, clean world\n").unwrap();
    std::fs::write(www.join("eicar.com"), EICAR).unwrap();
    std::fs::write(www.join("hidden.zip"), zip_of(&[("in/eicar.txt", EICAR)])).unwrap();
    // Bodies past what Squid holds (64 KiB): it offers no 204, and sends
    // the rest only once the answer has begun.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(www.join("big.bin"), &big).unwrap();
    let big_hidden = zip_of(&[("pad.bin", &big), ("in/eicar.txt", EICAR)]);
    std::fs::write(www.join("big-hidden.zip"), &big_hidden).unwrap();
    let web = free_port();
    let _origin = Reaped(
        Command::new("python3")
            .args(["-m", "http.server", &web.to_string(), "--bind", "127.0.0.1"])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let proxy = free_port();
    let sq = d.join("squid");
    std::fs::create_dir_all(&sq).unwrap();
    // Squid drops to its own user: its files must be writable by it.
    let _ = Command::new("chmod").args(["-R", "777"]).arg(d).status();
    let conf = sq.join("squid.conf");
    let mut f = std::fs::File::create(&conf).unwrap();
    write!(
        f,
        "http_port 127.0.0.1:{proxy}\ncache deny all\nicap_enable on\nicap_service svc respmod_precache icap://127.0.0.1:{icap}/avscan bypass=0\nadaptation_access svc allow all\nhttp_access allow all\npid_filename {d}/squid.pid\ncache_log {d}/cache.log\naccess_log none\ncoredump_dir {d}\n",
        d = sq.display()
    )
    .unwrap();
    drop(f);
    let child = match Command::new("squid")
        .arg("-N")
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => Reaped(c),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(format_args!("squid is not installed (Debian squid)"));
            return;
        }
        Err(e) => panic!("squid: {e}"),
    };
    let _squid = child;
    let fetch = |name: &str| -> (u16, Vec<u8>) {
        let out = Command::new("curl")
            .args(["-s", "-x", &format!("http://127.0.0.1:{proxy}")])
            .args(["-w", "\n%{http_code}"])
            .arg(format!("http://127.0.0.1:{web}/{name}"))
            .output()
            .unwrap();
        let mut body = out.stdout;
        let at = body.iter().rposition(|b| *b == b'\n').unwrap_or(0);
        let code = String::from_utf8_lossy(body.get(at + 1..).unwrap_or_default())
            .trim()
            .parse()
            .unwrap_or(0);
        body.truncate(at);
        (code, body)
    };
    // Squid answers once it is up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut code, mut body) = fetch("clean.txt");
    while code != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        (code, body) = fetch("clean.txt");
    }
    assert_eq!((code, body.as_slice()), (200, &b"hello, clean world\n"[..]));
    for name in ["eicar.com", "hidden.zip"] {
        let (code, body) = fetch(name);
        assert_eq!(code, 403, "{name}: {}", String::from_utf8_lossy(&body));
        assert!(
            String::from_utf8_lossy(&body).contains("EICAR_Test_File"),
            "{name}"
        );
    }
    let (code, body) = fetch("big.bin");
    assert_eq!(code, 200);
    assert!(body == big, "the big clean file arrived changed");
    // Blocked after the answer began: the transfer fails, and what did
    // arrive is not the file.
    let (_, body) = fetch("big-hidden.zip");
    assert!(body != big_hidden, "a blocked file was delivered whole");
    assert!(
        body.len() < big_hidden.len(),
        "{} bytes arrived",
        body.len()
    );
}
