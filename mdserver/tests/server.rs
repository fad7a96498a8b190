//! `mdscan serve` over a real socket: the real binary, a real HTTP client,
//! the request sequences MetaDefender clients send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;

use crate::cli::{EICAR, zip_of};
use crate::cluster::sha256_hex;

pub(crate) struct Server {
    child: Child,
    base: String,
}

impl Server {
    pub(crate) fn start(data: &Path, config: Option<&str>) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdscan"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.join("store"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some(cfg) = config {
            let p = data.join("mdscan.toml");
            std::fs::write(&p, cfg).unwrap();
            cmd.arg("--config").arg(p);
        }
        // Owned by `Server` at once, so its `Drop` reaps the process on
        // every path.
        let server = Server {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = client().get(server.url("/readyz")).send()
                && r.status() == StatusCode::OK
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become ready");
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether the process ended (on its own) within `d`.
    pub(crate) fn exited_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends SIGTERM and waits for a graceful exit.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn client() -> Client {
    crate::http_client()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub(crate) fn upload(
    s: &Server,
    name: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = client()
        .post(s.url("/file"))
        .header("filename", name)
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().unwrap();
    let status = r.status();
    (status, r.json().unwrap_or(Value::Null))
}

pub(crate) fn get(s: &Server, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = client().get(s.url(path));
    if let Some(k) = key {
        req = req.header("apikey", k);
    }
    let r = req.send().unwrap();
    let status = r.status();
    assert_eq!(
        r.headers().get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{path}"
    );
    (status, r.json().unwrap())
}

/// Polls until `scan_all_result_a` is no longer "In Progress", checking on
/// the way that both progress fields move together.
pub(crate) fn wait(s: &Server, id: &str, key: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, v) = get(s, &format!("/file/{id}"), key);
        let a = v["scan_results"]["progress_percentage"].as_u64().unwrap();
        let b = v["process_info"]["progress_percentage"].as_u64().unwrap();
        if v["scan_results"]["scan_all_result_a"] != "In Progress" {
            assert_eq!((a, b), (100, 100), "{v}");
            return v;
        }
        assert!(a < 100 && b < 100, "{v}");
        assert_eq!(v["scan_results"]["scan_all_result_i"], 255);
        assert_eq!(v["process_info"]["result"], "Processing");
        assert_eq!(v["scan_results"]["total_time"], -1);
        assert!(Instant::now() < deadline, "scan did not finish: {v}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn assert_client_fields(v: &Value) {
    for f in [
        "progress_percentage",
        "result",
        "blocked_reason",
        "profile",
        "user_agent",
        "username",
        "file_type_skipped_scan",
        "processing_time",
        "queue_time",
        "verdicts",
        "outdated_data",
        "post_processing",
    ] {
        assert!(
            v["process_info"].get(f).is_some(),
            "process_info.{f} missing: {v}"
        );
    }
    for f in [
        "actions_ran",
        "actions_failed",
        "converted_to",
        "converted_destination",
        "copy_move_destination",
    ] {
        assert!(v["process_info"]["post_processing"][f].is_string(), "{f}");
    }
    assert!(v["file_info"]["file_size"].is_u64());
    assert!(v["scan_results"]["total_time"].is_i64());
    assert!(v["scan_results"]["total_avs"].is_u64());
    assert!(v["scan_results"]["total_detected_avs"].is_u64());
    assert!(v["process_info"]["file_type_skipped_scan"].is_boolean());
    let id = v["data_id"].as_str().unwrap();
    assert!(
        id.len() == 32
            && id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn eicar_clean_nested_bomb_hash_and_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);

    let (st, v) = upload(&s, "eicar.com", EICAR, &[]);
    assert_eq!(st, StatusCode::OK);
    let eicar_id = v["data_id"].as_str().unwrap().to_string();
    let v = wait(&s, &eicar_id, None);
    assert_client_fields(&v);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(v["scan_results"]["scan_all_result_a"], "Infected");
    assert_eq!(
        v["scan_results"]["scan_details"]["YARA-X"]["threat_found"],
        "EICAR_Test_File"
    );
    assert_eq!(v["scan_results"]["total_detected_avs"], 1);
    assert_eq!(v["process_info"]["result"], "Blocked");
    assert_eq!(v["process_info"]["blocked_reason"], "Infected");
    assert_eq!(v["process_info"]["profile"], "File scan");
    assert_eq!(v["file_info"]["display_name"], "eicar.com");
    assert_eq!(
        v["file_info"]["sha256"],
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    );
    assert!(v.get("extracted_files").is_none());

    let (_, v) = upload(&s, "clean.txt", b"just text\n", &[]);
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_a"], "No Threat Detected");
    assert_eq!(v["process_info"]["result"], "Allowed");
    assert_eq!(v["process_info"]["blocked_reason"], "");

    // Nested: eicar three levels down, children listed and fetchable.
    let inner = zip_of(&[("dir/eicar.com", EICAR), ("ok.txt", b"ok")]);
    let outer = zip_of(&[("inner.zip", &inner), ("readme.txt", b"readme")]);
    let (_, v) = upload(&s, "outer.zip", &outer, &[]);
    let id = v["data_id"].as_str().unwrap().to_string();
    let v = wait(&s, &id, None);
    let ex = &v["extracted_files"];
    assert_eq!(ex["files_extracted_count"], 4);
    let files = ex["files_in_archive"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "outer.zip/inner.zip",
            "outer.zip/inner.zip/dir/eicar.com",
            "outer.zip/inner.zip/ok.txt",
            "outer.zip/readme.txt"
        ]
    );
    for f in files {
        for k in [
            "display_name",
            "data_id",
            "scan_result_i",
            "progress_percentage",
            "file_size",
            "file_type",
            "detected_by",
        ] {
            assert!(f.get(k).is_some(), "{k}");
        }
    }
    let eicar_child = &files[1];
    assert_eq!(ex["worst_data_id"], eicar_child["data_id"]);
    let (_, c) = get(
        &s,
        &format!("/file/{}", eicar_child["data_id"].as_str().unwrap()),
        None,
    );
    assert_eq!(c["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(
        c["file_info"]["display_name"],
        "outer.zip/inner.zip/dir/eicar.com"
    );
    // Paging.
    let (_, p) = get(&s, &format!("/file/{id}?first=1&size=2"), None);
    assert_eq!(p["extracted_files"]["first_index"], 1);
    assert_eq!(p["extracted_files"]["page_size"], 2);
    assert_eq!(
        p["extracted_files"]["files_in_archive"][0]["display_name"],
        "outer.zip/inner.zip/dir/eicar.com"
    );

    // A bomb ends with its limit code and is blocked.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        "zeros",
        zip::write::SimpleFileOptions::default()
            .compression_level(Some(9))
            .large_file(true),
    )
    .unwrap();
    let mb = vec![0u8; 1 << 20];
    for _ in 0..200 {
        w.write_all(&mb).unwrap();
    }
    let bomb = w.finish().unwrap().into_inner();
    let (_, v) = upload(&s, "bomb.zip", &bomb, &[]);
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 13);
    assert_eq!(v["process_info"]["result"], "Blocked");

    // Hash lookups: all three digests, case-insensitive; unknown ones.
    for h in [
        "44d88612fea8a8f36de82e1278abb02f",
        "3395856CE81F2B7382DEE72602F798B642F14140",
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
    ] {
        let (st, v) = get(&s, &format!("/hash/{h}"), None);
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["scan_results"]["scan_all_result_i"], 1, "{h}");
    }
    let (st, v) = get(&s, "/hash/00000000000000000000000000000000", None);
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["00000000000000000000000000000000"], "Not Found");
    let (st, v) = get(&s, "/file/0123456789abcdef0123456789abcdef", None);
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["0123456789abcdef0123456789abcdef"], "Not Found");
    // `//` in paths is tolerated.
    let (_, v) = get(&s, &format!("//file//{eicar_id}"), None);
    assert_eq!(v["data_id"], eicar_id.as_str());
}

#[test]
fn metadefender_client_sequence_and_info_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    // The C++ client URL-encodes every header; empty headers mean absent.
    let (st, v) = upload(
        &s,
        "my%20file%2B1.com",
        EICAR,
        &[
            ("user_agent", "mdcl%2F1.0"),
            ("archivepwd", ""),
            ("rule", "File%20scan"),
        ],
    );
    assert_eq!(st, StatusCode::OK, "{v}");
    let id = v["data_id"].as_str().unwrap().to_string();
    // Some clients poll process_info.progress_percentage only.
    let deadline = Instant::now() + Duration::from_secs(60);
    let v = loop {
        let (_, v) = get(&s, &format!("/file/{id}"), None);
        if v["process_info"]["progress_percentage"] == 100 {
            break v;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(v["scan_results"]["scan_all_result_a"], "Infected");
    assert_eq!(v["file_info"]["display_name"], "my file+1.com");
    assert_eq!(v["process_info"]["user_agent"], "mdcl/1.0");
    let sha = v["file_info"]["sha256"].as_str().unwrap();
    let (_, h) = get(&s, &format!("/hash/{sha}"), None);
    assert_eq!(h["data_id"], id.as_str());
    // Converted-file probe: no sanitizer yet, the documented 404.
    let r = client()
        .get(s.url(&format!("/file/converted/{id}")))
        .header("Range", "bytes=0-0")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().unwrap()["err"], "File could not be found");
    // The original, whole and by range.
    let r = client()
        .get(s.url(&format!("/file/download/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"my file+1.com\"; filename*=UTF-8''my%20file+1.com"
    );
    assert_eq!(r.bytes().unwrap().as_ref(), EICAR);
    let r = client()
        .get(s.url(&format!("/file/download/{id}")))
        .header("Range", "bytes=0-0")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-0/{}", EICAR.len()).as_str()
    );
    assert_eq!(r.bytes().unwrap().as_ref(), b"X");

    // Synchronous submit.
    let r = client()
        .post(s.url("/file/sync"))
        .header("filename", "s.txt")
        .body("sync body")
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["scan_results"]["progress_percentage"], 100);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 0);

    // Multipart, as generated SDKs send it: the part's bytes are scanned.
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(EICAR.to_vec()).file_name("from-sdk.com"),
    );
    let v: Value = client()
        .post(s.url("/file"))
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(v["file_info"]["display_name"], "from-sdk.com");
    assert_eq!(v["file_info"]["file_size"], EICAR.len());

    let (_, v) = get(&s, "/stat/engines", None);
    let e = &v.as_array().unwrap()[0];
    for k in [
        "active",
        "def_time",
        "download_progress",
        "download_time",
        "eng_id",
        "eng_name",
        "eng_type",
        "eng_ver",
        "engine_type",
        "state",
        "type",
    ] {
        assert!(e.get(k).is_some(), "{k}");
    }
    assert_eq!(e["engine_type"], "av");
    assert_eq!(e["state"], "production");
    let (_, v) = get(&s, "/stat/nodes", None);
    let n = &v["statuses"][0];
    for k in [
        "id",
        "address",
        "version",
        "cpu_cores",
        "load",
        "total_memory",
        "free_disk_space",
        "engines",
        "issues",
        "scan_queue",
        "scan_queue_details",
    ] {
        assert!(n.get(k).is_some(), "{k}");
    }
    assert_eq!(get(&s, "/apiversion", None).1["version"], "4");
    assert_eq!(get(&s, "/version", None).1["product_id"], "mdscan");
    let rules = get(&s, "/file/rules", None).1;
    assert_eq!(rules[0]["name"], "File scan");
    // Fail closed: the default workflow blocks what was not fully examined.
    let codes: Vec<u64> = rules[0]["block_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    for code in [1, 3, 10, 12, 13, 16, 19, 23] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(!codes.contains(&0) && !codes.contains(&7));
    let (st, v) = get(&s, "/readyz?verbose=true", None);
    assert_eq!(st, StatusCode::OK);
    assert!(v["details"].is_object());
}

/// Sends a raw HTTP request and returns the status line and body.
fn raw(s: &Server, request: &str) -> (String, String) {
    let addr = s.base.trim_start_matches("http://");
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    let status = out.lines().next().unwrap_or_default().to_string();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn upload_errors_411_422_413_503() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        Some("[[workflows]]\nname = \"Small\"\nmax_file_size = 100\n"),
    );
    let (st, body) = raw(
        &s,
        "POST /file HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert!(st.contains("411"), "{st}");
    assert!(body.contains("\"err\""), "{body}");
    let (st, v) = upload(&s, "empty", b"", &[]);
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["err"], "File is empty.");
    let (st, _) = upload(&s, "big", &[b'a'; 101], &[]);
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let (st, _) = upload(&s, "fits", &[b'a'; 100], &[]);
    assert_eq!(st, StatusCode::OK);
    drop(s);

    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), Some("queue_size = 0\n"));
    let r = client().post(s.url("/file")).body("x").send().unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(
        r.json::<Value>().unwrap()["err"],
        "Server is too busy. Try again later."
    );
}

#[test]
fn api_keys_sessions_and_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let hash = |pw: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_mdscan"))
            .args(["hash-password", pw])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let cfg = format!(
        "api_keys = [\"k3y\"]\n[[users]]\nname = \"alice\"\npassword_hash = \"{}\"\n[[users]]\nname = \"bob\"\npassword_hash = \"{}\"\n",
        hash("alice-pw"),
        hash("bob-pw")
    );
    let s = Server::start(dir.path(), Some(&cfg));
    let (st, v) = get(&s, "/stat/engines", None);
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(v["err"], "Access denied");
    assert_eq!(
        get(&s, "/stat/engines", Some("wrong")).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&s, "/stat/engines", Some("k3y")).0, StatusCode::OK);
    assert_eq!(
        client().get(s.url("/readyz")).send().unwrap().status(),
        StatusCode::OK
    );

    let login = |user: &str, pw: &str| {
        let r = client()
            .post(s.url("/login"))
            .json(&serde_json::json!({"user": user, "password": pw}))
            .send()
            .unwrap();
        (r.status(), r.json::<Value>().unwrap())
    };
    let (st, v) = login("alice", "nope");
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(v["err"], "Failed to login");
    let alice = login("alice", "alice-pw").1["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = login("bob", "bob-pw").1["session_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (st, v) = upload(&s, "a.txt", b"alice's file", &[("apikey", &alice)]);
    assert_eq!(st, StatusCode::OK);
    let id = v["data_id"].as_str().unwrap().to_string();
    let v = wait(&s, &id, Some(&alice));
    assert_eq!(v["process_info"]["username"], "alice");
    // Bob cannot see it; the API key (admin) can.
    assert_eq!(
        get(&s, &format!("/file/{id}"), Some(&bob)).1[id.as_str()],
        "Not Found"
    );
    assert_eq!(
        get(&s, &format!("/file/{id}"), Some("k3y")).1["data_id"],
        id.as_str()
    );
    // Logout ends the session.
    let r = client()
        .post(s.url("/logout"))
        .header("apikey", &alice)
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["response"], "Logout success");
    assert_eq!(
        get(&s, &format!("/file/{id}"), Some(&alice)).0,
        StatusCode::FORBIDDEN
    );
}

/// A one-shot webhook receiver on loopback: its URL, and the JSON body of
/// the first POST it gets.
pub(crate) fn hook() -> (String, std::sync::mpsc::Receiver<Value>) {
    let hook = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", hook.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (c, _) = hook.accept().unwrap();
        let mut r = BufReader::new(c);
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let _ = r
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        let _ = tx.send(serde_json::from_slice::<Value>(&body).unwrap());
    });
    (url, rx)
}

#[test]
fn results_survive_a_restart_and_webhooks_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, received) = hook();
    // Callbacks go to public addresses only unless the config lists them.
    let cfg = r#"callback_allow = ["127.0.0.1"]"#;
    let s = Server::start(dir.path(), Some(cfg));
    let (_, v) = upload(&s, "eicar.com", EICAR, &[("callbackurl", &hook_url)]);
    let id = v["data_id"].as_str().unwrap().to_string();
    wait(&s, &id, None);
    let body = received.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(body["data_id"], id.as_str());
    assert_eq!(body["scan_results"]["scan_all_result_i"], 1);
    s.stop();

    let s = Server::start(dir.path(), None);
    let (_, v) = get(&s, &format!("/file/{id}"), None);
    assert_eq!(v["scan_results"]["scan_all_result_a"], "Infected");
    let (_, v) = get(&s, "/hash/44d88612fea8a8f36de82e1278abb02f", None);
    assert_eq!(v["data_id"], id.as_str());
}

/// ~400 MB of text in ~1 MB of gzip: long enough to cancel mid-scan.
fn slow_file() -> Vec<u8> {
    let line = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n".repeat(1 << 14);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..400 {
        e.write_all(&line).unwrap();
    }
    e.finish().unwrap()
}

#[test]
fn cancel_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        Some("[[workflows]]\nname = \"File scan\"\nmax_ratio = 100000\n"),
    );
    let (_, v) = upload(&s, "slow.gz", &slow_file(), &[]);
    let id = v["data_id"].as_str().unwrap().to_string();
    let r: Value = client()
        .post(s.url(&format!("/file/{id}/cancel")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r[id.as_str()], "cancelled");
    let v = wait(&s, &id, None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 19);
    assert_eq!(v["scan_results"]["scan_all_result_a"], "Canceled");

    // Batch: open, add two files, report, close.
    let b: Value = client()
        .post(s.url("/file/batch"))
        .header("user-data", "ticket%2042")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let bid = b["batch_id"].as_str().unwrap().to_string();
    let (_, a) = upload(&s, "a.com", EICAR, &[("batch", &bid)]);
    let (_, c) = upload(&s, "c.txt", b"clean", &[("batch", &bid)]);
    wait(&s, a["data_id"].as_str().unwrap(), None);
    wait(&s, c["data_id"].as_str().unwrap(), None);
    let (_, r) = get(&s, &format!("/file/batch/{bid}"), None);
    assert_eq!(r["batch_files"]["batch_count"], 2);
    assert_eq!(r["user_data"], "ticket 42");
    assert_eq!(r["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(r["process_info"]["result"], "Blocked");
    assert_eq!(r["is_closed"], false);
    let r: Value = client()
        .post(s.url(&format!("/file/batch/{bid}/close")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["is_closed"], true);
    // A closed batch takes no more files.
    let (st, _) = upload(&s, "late.txt", b"late", &[("batch", &bid)]);
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Cancel a batch (also through /file/{batch_id}/cancel).
    let b2: Value = client()
        .post(s.url("/file/batch"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let bid2 = b2["batch_id"].as_str().unwrap().to_string();
    let r: Value = client()
        .post(s.url(&format!("/file/{bid2}/cancel")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r[bid2.as_str()], "cancelled");
    let (_, r) = get(&s, &format!("/file/batch/{bid2}"), None);
    assert_eq!(r["scan_results"]["scan_all_result_i"], 19);
}

#[test]
fn scans_pending_at_a_crash_are_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "workers = 1\n[[workflows]]\nname = \"File scan\"\nmax_ratio = 100000\n";
    let s = Server::start(dir.path(), Some(cfg));
    let slow = slow_file();
    // One runs, the others wait in the queue; then the process dies hard.
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let (st, v) = upload(&s, &format!("slow{i}.gz"), &slow, &[]);
            assert_eq!(st, StatusCode::OK);
            v["data_id"].as_str().unwrap().to_string()
        })
        .collect();
    let (_, eicar) = upload(&s, "eicar.com", EICAR, &[]);
    let eicar = eicar["data_id"].as_str().unwrap().to_string();
    drop(s); // SIGKILL: no graceful shutdown.

    let s = Server::start(dir.path(), Some(cfg));
    for id in &ids {
        let v = wait(&s, id, None);
        assert_eq!(v["scan_results"]["scan_all_result_i"], 0, "{v}");
    }
    let v = wait(&s, &eicar, None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1);
}

#[test]
fn curl_upload_styles() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    let file = dir.path().join("eicar.com");
    std::fs::write(&file, EICAR).unwrap();
    // `curl -T FILE URL` sends PUT; with a trailing slash the name goes in the path.
    for (url, name) in [
        (s.url("/file"), "eicar.com"),
        (s.url("/file/"), "eicar.com"),
    ] {
        let out = Command::new("curl")
            .args(["-sS", "-H", &format!("filename: {name}"), "-T"])
            .arg(&file)
            .arg(&url)
            .output()
            .expect("curl is installed");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
        let v = wait(&s, v["data_id"].as_str().unwrap(), None);
        assert_eq!(v["scan_results"]["scan_all_result_a"], "Infected");
    }
    let out = Command::new("curl")
        .args(["-sS", "-T"])
        .arg(&file)
        .arg(s.url("/file/"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["file_info"]["display_name"], "eicar.com");
    // `curl --data-binary @FILE` sends POST with a form content type.
    let out = Command::new("curl")
        .args(["-sS", "-H", "filename: posted.com", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(s.url("/file"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(v["file_info"]["display_name"], "posted.com");
}

#[test]
fn a_stalled_upload_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), Some("body_timeout_secs = 1\n"));
    let started = Instant::now();
    // Promises 100 bytes, sends 10, then goes quiet.
    let (status, body) = raw(
        &s,
        "POST /file HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789",
    );
    assert!(status.contains("408"), "{status} {body}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The server still works, and nothing half-uploaded was accepted.
    let (st, v) = upload(&s, "after.txt", b"fine", &[]);
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("store/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn hidden_and_unexamined_files_are_blocked_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    // A zip behind a junk prefix: found and Infected.
    let mut hidden = b"not an archive\n".repeat(20);
    hidden.extend_from_slice(&zip_of(&[("eicar.com", EICAR)]));
    let (_, v) = upload(&s, "note.txt", &hidden, &[]);
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1, "{v}");
    assert_eq!(v["process_info"]["result"], "Blocked");
    // An ACE archive mdscan does not open: Unsupported (23), Blocked, never Allowed.
    let mut ace = b"\x12\x34\x56\x00\x00\x00\x00**ACE**".to_vec();
    ace.extend_from_slice(&[0; 64]);
    let (_, v) = upload(&s, "a.ace", &ace, &[]);
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 23, "{v}");
    assert_eq!(v["process_info"]["result"], "Blocked", "{v}");
    assert_eq!(
        v["process_info"]["blocked_reason"], "Unsupported file type",
        "{v}"
    );
    // A truncated zip: Failed (3), Blocked.
    let zip = zip_of(&[("a.txt", b"hello world, hello world, hello world")]);
    let (_, v) = upload(&s, "cut.zip", &zip[..zip.len() / 2], &[]);
    let v = wait(&s, v["data_id"].as_str().unwrap(), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 3, "{v}");
    assert_eq!(v["process_info"]["result"], "Blocked", "{v}");
}

#[test]
fn parallel_uploads_to_one_batch_all_join_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    let r = client().post(s.url("/file/batch")).send().unwrap();
    let batch = r.json::<Value>().unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let joins: Vec<_> = (0..24)
            .map(|i| {
                let (s, batch) = (&s, &batch);
                scope.spawn(move || {
                    let data = format!("member {i}");
                    let (st, v) = upload(s, &format!("f{i}"), data.as_bytes(), &[("batch", batch)]);
                    assert_eq!(st, StatusCode::OK, "{v}");
                    v["data_id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let (_, v) = get(&s, &format!("/file/batch/{batch}"), None);
    assert_eq!(v["batch_files"]["batch_count"], 24, "{v}");
    let r = client()
        .post(s.url(&format!("/file/batch/{batch}/close")))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["is_closed"], true);
    let (st, _) = upload(&s, "late", b"late", &[("batch", &batch)]);
    assert_eq!(st, StatusCode::BAD_REQUEST);
    for id in &ids {
        wait(&s, id, None);
    }
}

#[test]
fn an_open_server_refuses_a_network_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mdscan"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("store"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allow_open"));
}

/// Results, their extracted objects, hash-index entries and kept files go
/// when the retention says so; a fresh upload is not touched.
#[test]
fn the_retention_sweep_removes_old_results_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        Some("retention_secs = 2\nfile_retention_secs = 2\nsweep_interval_secs = 1\n"),
    );
    let zip = zip_of(&[("inner/eicar.com", EICAR), ("a.txt", b"hello")]);
    let (st, v) = upload(&s, "old.zip", &zip, &[]);
    assert_eq!(st, StatusCode::OK);
    let id = v["data_id"].as_str().unwrap().to_string();
    let doc = wait(&s, &id, None);
    assert_eq!(doc["scan_results"]["scan_all_result_i"], 1);
    let eicar_sha = sha256_hex(EICAR);
    let (_, v) = get(&s, &format!("/hash/{eicar_sha}"), None);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 1, "{v}");
    let blobs = dir.path().join("store").join("blobs");
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&s, &format!("/file/{id}"), None).1[&id] != "Not Found" {
        assert!(
            Instant::now() < deadline,
            "the result outlived its retention"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, v) = get(&s, &format!("/hash/{eicar_sha}"), None);
    assert_eq!(v[&eicar_sha], "Not Found", "{v}");
    let r = client()
        .get(s.url(&format!("/file/download/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    while std::fs::read_dir(&blobs).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the upload outlived its retention"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, v) = upload(&s, "new.txt", b"fresh", &[]);
    let fresh = v["data_id"].as_str().unwrap().to_string();
    wait(&s, &fresh, None);
    let (_, v) = get(&s, &format!("/file/{fresh}"), None);
    assert_eq!(v["data_id"], fresh.as_str());
}

/// `GET /metrics` after a real scan passes Prometheus's own linter
/// (`promtool check metrics`, Debian's `prometheus` package).
#[test]
fn metrics_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    let (_, v) = upload(&s, "eicar.com", EICAR, &[]);
    let id = v["data_id"].as_str().unwrap().to_string();
    wait(&s, &id, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = client()
            .get(s.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        if text.contains("mdscan_scans_total{") {
            break text;
        }
        assert!(Instant::now() < deadline, "no scan in the metrics:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains("mdscan_scan_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("mdscan_queue_wait_seconds_count 1"), "{text}");
    assert!(text.contains("mdscan_workers 1"), "{text}");
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut promtool) = promtool else {
        crate::shared::skip("promtool is needed (Debian package prometheus)");
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET /openapi.json` against the live server: schemathesis (PyPI)
/// generates requests for every operation from the document and checks
/// each answer — no 5xx, the status and content type the document
/// declares, and a body matching its schema.
#[test]
fn the_openapi_document_holds_against_a_live_server() {
    if Command::new("python3").arg("--version").output().is_err() {
        crate::shared::skip("python3 is needed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        Some("api_keys = [\"schema-key\"]\nsync_timeout_secs = 2\n"),
    );
    // Something to find, so result and hash lookups reach their documents.
    let (_, v) = upload(&s, "eicar.com", EICAR, &[("apikey", "schema-key")]);
    wait(&s, v["data_id"].as_str().unwrap(), Some("schema-key"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi/schemathesis.sh");
    let out = Command::new("bash")
        .arg(script)
        .args([
            "run",
            &s.url("/openapi.json"),
            "--header",
            "apikey: schema-key",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            "15",
            "--seed",
            "20261204",
            "--no-color",
            // One worker: with several, hypothesis (3.11) can fail inside
            // its own AST parsing ("recursion depth mismatch"), a tool
            // error that says nothing about the API.
            "--workers",
            "1",
        ])
        .output()
        .expect("can not run tests/openapi/schemathesis.sh");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Operations:"), "{text}");
}

/// A workflow edited through the API is in force at once and after a
/// restart (kept in the embedded store), and an archive password added by
/// the edit opens an encrypted archive the old workflow could not.
#[test]
fn an_edited_workflow_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    let r = client()
        .put(s.url("/admin/config/rule/File%20scan"))
        .body(r#"{"max_file_size": 64}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = upload(&s, "big.bin", &[1u8; 100], &[]);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    s.stop();
    let s = Server::start(dir.path(), None);
    let (status, _) = upload(&s, "big.bin", &[1u8; 100], &[]);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "the edit was kept");
    let (status, _) = upload(&s, "small.bin", &[1u8; 10], &[]);
    assert_eq!(status, StatusCode::OK);
}

/// `POST /admin/engine/reload`: rules dropped into the configured rule
/// directory are in force for the next scan; a rule that does not compile
/// is refused and the rules in force stay; the reload is audited.
#[test]
fn a_reload_puts_new_rules_in_force_and_refuses_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    // An empty rule directory is refused at start.
    std::fs::write(
        rules.join("base.yar"),
        "rule unrelated { strings: $a = \"nothing-like-it\" condition: $a }",
    )
    .unwrap();
    let s = Server::start(
        dir.path(),
        Some(&format!("rules = [\"{}\"]\n", rules.display())),
    );
    let marker = b"a line with planted-by-the-test in it";
    let verdict = |name: &str| {
        let (status, v) = upload(&s, name, marker, &[]);
        assert_eq!(status, StatusCode::OK, "{v}");
        wait(&s, v["data_id"].as_str().unwrap(), None)["scan_results"]["scan_all_result_i"].clone()
    };
    let reload = || {
        let r = client().post(s.url("/admin/engine/reload")).send().unwrap();
        let status = r.status();
        (status, r.json::<Value>().unwrap())
    };
    assert_eq!(verdict("before.txt"), 0);
    std::fs::write(
        rules.join("planted.yar"),
        "rule planted_by_test { strings: $a = \"planted-by-the-test\" condition: $a }",
    )
    .unwrap();
    // Nothing changes until a reload is asked for.
    assert_eq!(verdict("unasked.txt"), 0);
    let (status, v) = reload();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["reload"], 1);
    assert!(
        v["engines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["eng_id"] == "yara"),
        "{v}"
    );
    assert_eq!(verdict("after.txt"), 1);

    std::fs::write(rules.join("broken.yar"), "rule broken { condition: }").unwrap();
    let (status, v) = reload();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["err"].as_str().unwrap().contains("broken"), "{v}");
    assert_eq!(verdict("still.txt"), 1, "the rules in force stayed");
    let (_, audit) = get(&s, "/admin/audit?action=engine%20reload", None);
    let n = audit["events"].as_array().map_or(0, Vec::len);
    assert_eq!(n, 2, "{audit}");
}

/// `[tls] enabled = true` with no certificate: a self-signed one is made
/// in the data directory at first start (its fingerprint printed) and kept
/// for the next; the API answers over HTTPS to a client that trusts it,
/// and not over plain HTTP.
#[test]
fn https_with_a_self_signed_certificate_made_at_first_start() {
    if Command::new("curl").arg("--version").output().is_err() {
        crate::shared::skip("curl is needed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mdscan.toml");
    std::fs::write(&cfg, "api_keys = [\"k\"]\n[tls]\nenabled = true\n").unwrap();
    let start = |log: &str| {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_mdscan"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.path().join("store"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(log)).unwrap())
            .spawn()
            .unwrap();
        (child, port)
    };
    let cert = dir.path().join("store/tls/cert.pem");
    let curl = |url: &str, ca: bool| {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "apikey: k",
            "--max-time",
            "5",
        ]);
        if ca {
            c.arg("--cacert").arg(&cert);
        }
        let out = c.arg(url).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mut fingerprints = Vec::new();
    for run in ["first.log", "second.log"] {
        let (mut child, port) = start(run);
        let https = format!("https://127.0.0.1:{port}/version");
        let deadline = Instant::now() + Duration::from_secs(60);
        while curl(&https, true) != "200" {
            assert!(Instant::now() < deadline, "no HTTPS answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Plain HTTP on the TLS port gets no answer; an untrusting client
        // refuses the certificate.
        assert_ne!(
            curl(&format!("http://127.0.0.1:{port}/version"), false),
            "200"
        );
        assert_ne!(curl(&https, false), "200");
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.path().join(run)).unwrap();
        assert!(log.contains("on https://127.0.0.1"), "{log}");
        let fp = log
            .split("SHA-256 fingerprint ")
            .nth(1)
            .and_then(|s| s.lines().next())
            .unwrap_or_else(|| panic!("no fingerprint: {log}"))
            .to_string();
        fingerprints.push(fp);
    }
    assert_eq!(fingerprints[0], fingerprints[1], "the certificate is kept");
    assert_eq!(fingerprints[0].len(), 95);
}
