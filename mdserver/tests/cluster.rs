//! The cluster end to end: `mdscan gateway` and several `mdscan worker`
//! processes against the machine's real RabbitMQ (127.0.0.1:5672) and Redis
//! (127.0.0.1:6379). Each test runs in its own namespace (queue and key
//! prefix). With `CI` set, a missing service fails the test; without it the
//! test says it is skipped.
//!
//! One test restarts Redis and RabbitMQ, so the tests here run one at a
//! time (a lock), and never at the same time as anything else that uses
//! those services.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;

use crate::cli::{EICAR, zip_of};

#[path = "../../mdcluster/tests/support/moto.rs"]
mod moto;
mod tls;

static SERVICES: Mutex<()> = Mutex::new(());

const REDIS: &str = "127.0.0.1:6379";
const AMQP: &str = "127.0.0.1:5672";

fn redis_cmd(args: &[&str]) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&REDIS.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn redis_up() -> bool {
    redis_cmd(&["PING"]).is_some_and(|r| r.contains("PONG"))
}

fn amqp_up() -> bool {
    TcpStream::connect_timeout(&AMQP.parse().unwrap(), Duration::from_secs(2)).is_ok()
}

/// The services, for this test alone; `None` (skip) when they are absent
/// and `CI` is not set.
fn exclusive_services() -> Option<std::sync::MutexGuard<'static, ()>> {
    let lock = SERVICES.lock().unwrap_or_else(|e| e.into_inner());
    services().then_some(lock)
}

/// Whether the services are there; with `CI` set their absence fails.
fn services() -> bool {
    let (r, a) = (redis_up(), amqp_up());
    if r && a {
        return true;
    }
    let msg = format!(
        "cluster tests need Redis on {REDIS} (up: {r}) and RabbitMQ on {AMQP} (up: {a}); \
         start them as the README says"
    );
    crate::shared::skip(msg);
    false
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Worker {
    child: Child,
}

/// A gateway and workers in a namespace of their own.
struct Cluster {
    dir: tempfile::TempDir,
    ns: String,
    base: String,
    config: PathBuf,
    gateway: Child,
    workers: Vec<Worker>,
    worker_args: Vec<String>,
    worker_env: Vec<(String, String)>,
    next: usize,
    http: Client,
}

impl Cluster {
    fn start(workers: usize, worker_args: &[&str], env: &[(&str, &str)], config: &str) -> Cluster {
        Cluster::start_with(workers, worker_args, env, config, None)
    }

    /// `blob_url`: the shared store (default: a directory of the test);
    /// `env` is given to the gateway and every worker.
    fn start_with(
        workers: usize,
        worker_args: &[&str],
        env: &[(&str, &str)],
        config: &str,
        blob_url: Option<&str>,
    ) -> Cluster {
        Cluster::start_in(
            tempfile::tempdir().unwrap(),
            workers,
            worker_args,
            env,
            config,
            blob_url,
            None,
        )
    }

    /// [`Cluster::start_with`] in `dir`; with `https` (the sections that
    /// follow `[cluster]`, and the root the gateway's certificate is
    /// checked against) the gateway is reached over HTTPS.
    fn start_in(
        dir: tempfile::TempDir,
        workers: usize,
        worker_args: &[&str],
        env: &[(&str, &str)],
        config: &str,
        blob_url: Option<&str>,
        https: Option<(&str, &Path)>,
    ) -> Cluster {
        let ns = format!("t{}x{:08x}", std::process::id(), rand_u32());
        let blobs = blob_url.map_or_else(
            || format!("file://{}", dir.path().join("blobs").display()),
            str::to_string,
        );
        let cfg_path = dir.path().join("mdscan.toml");
        // `config` is the `[cluster]` section's, but for the server's own
        // top-level keys.
        const TOP: [&str; 5] = [
            "callback_allow",
            "sweep_interval_secs",
            "file_retention_secs",
            "rules",
            "vulnerability_feeds",
        ];
        let (top, section): (Vec<&str>, Vec<&str>) = config
            .lines()
            .partition(|l| TOP.iter().any(|k| l.trim_start().starts_with(k)));
        let top: String = top.iter().map(|l| format!("{l}\n")).collect();
        let section = section.join("\n");
        std::fs::write(
            &cfg_path,
            format!(
                "{top}[cluster]\nnamespace = \"{ns}\"\nblob_url = \"{blobs}\"\nretention_secs = 900\n{section}\n{}",
                https.map_or("", |h| h.0)
            ),
        )
        .unwrap();
        let (gateway, port) = spawn_gateway(dir.path(), &cfg_path, env, "gateway");
        let worker_env = env;
        let mut http = crate::http_client().timeout(Duration::from_secs(30));
        if let Some((_, ca)) = https {
            let pem = std::fs::read(ca).unwrap();
            http = http
                .use_rustls_tls()
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let scheme = if https.is_some() { "https" } else { "http" };
        let mut c = Cluster {
            dir,
            ns,
            base: format!("{scheme}://127.0.0.1:{port}"),
            config: cfg_path,
            gateway,
            workers: Vec::new(),
            worker_args: worker_args.iter().map(|s| s.to_string()).collect(),
            worker_env: worker_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            next: 0,
            http: http.build().unwrap(),
        };
        for _ in 0..workers {
            c.add_worker();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = c
                .http
                .get(c.url("/readyz"))
                .send()
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if ready && c.live_nodes() >= workers {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cluster did not come up\n{}",
                c.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn add_worker(&mut self) {
        let name = format!("w{}", self.next);
        self.next += 1;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdscan"));
        cmd.args(["worker", "--id", &name, "--config"])
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.path().join(&name))
            .args(&self.worker_args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap());
        for (k, v) in &self.worker_env {
            cmd.env(k, v);
        }
        self.workers.push(Worker {
            child: cmd.spawn().unwrap(),
        });
    }

    /// Restarts workers that died (what systemd or Kubernetes would do).
    fn supervise(&mut self) -> usize {
        let mut restarted = 0;
        let mut i = 0;
        while i < self.workers.len() {
            if let Ok(Some(_)) = self.workers[i].child.try_wait() {
                self.workers.remove(i);
                self.add_worker();
                restarted += 1;
            } else {
                i += 1;
            }
        }
        restarted
    }

    fn kill_worker(&mut self, i: usize) {
        let mut w = self.workers.remove(i);
        let _ = w.child.kill();
        let _ = w.child.wait();
    }

    /// SIGTERM: the worker finishes or returns its tasks and exits 0.
    fn stop_worker(&mut self, i: usize) {
        self.signal_worker(i, "-TERM");
        let mut w = self.workers.remove(i);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(st)) = w.child.try_wait() {
                assert!(
                    st.success(),
                    "worker exit after SIGTERM: {st}\n{}",
                    self.logs()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "worker ignored SIGTERM\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal_worker(&self, i: usize, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.workers[i].child.id().to_string()])
            .status();
    }

    fn live_nodes(&self) -> usize {
        self.http
            .get(self.url("/stat/nodes"))
            .send()
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| v["statuses"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Uploads a file, retrying while the gateway answers 503 (services
    /// restarting): the client's side of "never a lost upload".
    fn upload(&self, name: &str, data: &[u8]) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = self
                .http
                .post(self.url("/file"))
                .header("filename", name)
                .body(data.to_vec())
                .send();
            match r {
                Ok(r) if r.status() == StatusCode::OK => {
                    let v: Value = r.json().unwrap();
                    return v["data_id"].as_str().unwrap().to_string();
                }
                Ok(r) => assert_eq!(
                    r.status(),
                    StatusCode::SERVICE_UNAVAILABLE,
                    "upload of {name}: {:?}",
                    r.text()
                ),
                Err(e) => panic!("upload of {name}: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "upload of {name} refused for 2 minutes\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn result(&self, id: &str) -> Option<Value> {
        let r = self
            .http
            .get(self.url(&format!("/file/{id}?size=1000")))
            .send()
            .ok()?;
        if r.status() != StatusCode::OK {
            return None;
        }
        r.json().ok()
    }

    /// Waits for every id to finish; returns their documents.
    fn wait_all(&mut self, ids: &[String], limit: Duration) -> BTreeMap<String, Value> {
        let deadline = Instant::now() + limit;
        let mut done = BTreeMap::new();
        while done.len() < ids.len() {
            for id in ids {
                if done.contains_key(id) {
                    continue;
                }
                if let Some(v) = self.result(id)
                    && v["scan_results"]["progress_percentage"] == 100
                {
                    done.insert(id.clone(), v);
                }
            }
            if done.len() == ids.len() {
                break;
            }
            self.supervise();
            assert!(
                Instant::now() < deadline,
                "{} of {} scans finished\n{}",
                done.len(),
                ids.len(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        done
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        let mut names = vec!["gateway".to_string(), "gateway2".to_string()];
        names.extend((0..self.next).map(|i| format!("w{i}")));
        for n in names {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{n}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {n}.log (last lines)\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        let _ = self.gateway.kill();
        let _ = self.gateway.wait();
        // The namespace's queues: durable, so they would outlive the test.
        for q in ["tasks", "dead"] {
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_queue", &format!("{}.{q}", self.ns)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts a gateway on a free port; its log is `<log>.log` in `dir`.
fn spawn_gateway(dir: &Path, cfg: &Path, env: &[(&str, &str)], log: &str) -> (Child, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdscan"));
    cmd.args([
        "gateway",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir.join(log))
    .arg("--config")
    .arg(cfg)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.join(format!("{log}.log"))).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    (cmd.spawn().unwrap(), port)
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    t ^ std::process::id().rotate_left(16)
}

fn code(v: &Value) -> i64 {
    v["scan_results"]["scan_all_result_i"].as_i64().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The local verdict and (display name -> code) of every object, from
/// `mdscan scan --json`: what a single process says about the same file.
fn local_scan(dir: &Path, name: &str, data: &[u8], args: &[&str]) -> (i64, BTreeMap<String, i64>) {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdscan"));
    // Relative, so display names start at the file name as in the cluster.
    cmd.current_dir(dir)
        .args(["scan", "--json"])
        .args(args)
        .arg(name);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut map = BTreeMap::new();
    let mut stack = vec![&report["root"]];
    while let Some(n) = stack.pop() {
        map.insert(
            n["display_name"].as_str().unwrap().to_string(),
            n["scan_all_result_i"].as_i64().unwrap(),
        );
        for c in n["children"].as_array().unwrap() {
            stack.push(c);
        }
    }
    (report["root"]["scan_all_result_i"].as_i64().unwrap(), map)
}

/// (display name -> code) of a cluster result: the root and every extracted
/// object.
fn cluster_tree(v: &Value) -> BTreeMap<String, i64> {
    let mut map = BTreeMap::new();
    map.insert(
        v["file_info"]["display_name"].as_str().unwrap().to_string(),
        code(v),
    );
    if let Some(files) = v["extracted_files"]["files_in_archive"].as_array() {
        for f in files {
            map.insert(
                f["display_name"].as_str().unwrap().to_string(),
                f["scan_all_result_i"].as_i64().unwrap(),
            );
        }
    }
    map
}

/// 200 files: plain, EICAR, zips, tar.gz, zips in zips; the expected
/// verdict of each (1 when EICAR is inside, else 0).
fn corpus() -> Vec<(String, Vec<u8>, i64)> {
    let mut out = Vec::new();
    for i in 0..200u32 {
        let text = format!("document {i}\n").repeat(1 + (i as usize % 7) * 50);
        let infected = i % 5 == 0;
        let payload: &[u8] = if infected { EICAR } else { text.as_bytes() };
        let (name, data) = match i % 4 {
            0 => (format!("f{i}.txt"), payload.to_vec()),
            1 => (
                format!("f{i}.zip"),
                zip_of(&[("a.txt", text.as_bytes()), ("b.bin", payload)]),
            ),
            2 => {
                let mut t = tar::Builder::new(Vec::new());
                for (n, d) in [("x.txt", text.as_bytes()), ("y.dat", payload)] {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    h.set_cksum();
                    t.append_data(&mut h, n, d).unwrap();
                }
                (format!("f{i}.tar.gz"), gz(&t.into_inner().unwrap()))
            }
            _ => {
                let inner = zip_of(&[("deep.bin", payload), ("n.txt", b"n")]);
                (
                    format!("f{i}.zip"),
                    zip_of(&[("inner.zip", &inner), ("top.txt", text.as_bytes())]),
                )
            }
        };
        out.push((name, data, i64::from(infected)));
    }
    out
}

fn restart_redis() {
    let dir = redis_cmd(&["CONFIG", "GET", "dir"]).unwrap();
    let dir = dir.lines().nth(4).unwrap().to_string();
    let file = redis_cmd(&["CONFIG", "GET", "dbfilename"]).unwrap();
    let file = file.lines().nth(4).unwrap().to_string();
    // A production Redis for mdscan keeps its data (AOF or RDB); this one
    // is started without persistence, so save explicitly on the way down.
    let _ = redis_cmd(&["SHUTDOWN", "SAVE"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis_up() {
        assert!(Instant::now() < deadline, "redis did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let st = Command::new("redis-server")
        .args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir,
            "--dbfilename",
            &file,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !redis_up() {
        assert!(Instant::now() < deadline, "redis did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn restart_rabbitmq() {
    let ctl = |a: &str| {
        let st = Command::new("rabbitmqctl")
            .args(["-q", a])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "rabbitmqctl {a}");
    };
    ctl("stop_app");
    std::thread::sleep(Duration::from_secs(2));
    ctl("start_app");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !amqp_up() {
        assert!(Instant::now() < deadline, "rabbitmq did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_hundred_files_survive_a_killed_worker_and_restarted_services() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(3, &["--concurrency", "2"], &[], "");
    let files = corpus();
    let mut ids = Vec::new();
    let mut expected = BTreeMap::new();
    for (i, (name, data, want)) in files.iter().enumerate() {
        let id = c.upload(name, data);
        expected.insert(id.clone(), (name.clone(), *want));
        ids.push(id);
        match i {
            // A worker dies mid-run, holding tasks; a new one joins later.
            60 => c.kill_worker(0),
            100 => {
                restart_redis();
                c.add_worker();
            }
            140 => restart_rabbitmq(),
            // A rolling restart: one worker drains on SIGTERM, another joins.
            170 => {
                c.stop_worker(0);
                c.add_worker();
            }
            _ => {}
        }
    }
    let done = c.wait_all(&ids, Duration::from_secs(300));
    assert_eq!(done.len(), 200);
    for (id, doc) in &done {
        let (name, want) = &expected[id];
        assert_eq!(code(doc), *want, "{name}: {doc}");
        assert_eq!(doc["file_info"]["display_name"], name.as_str());
        // Each root is one result: a redelivered task did not add objects.
        let names: Vec<&str> = doc["extracted_files"]["files_in_archive"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| f["display_name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(
            names.len(),
            unique.len(),
            "{name}: doubled objects {names:?}"
        );
        let want_objects = match name.as_str() {
            n if n.ends_with(".txt") => 0,
            n if n.ends_with(".tar.gz") => 3,
            _ if doc["extracted_files"]["files_in_archive"]
                .as_array()
                .is_some_and(|a| {
                    a.iter()
                        .any(|f| f["display_name"].as_str().unwrap().ends_with("inner.zip"))
                }) =>
            {
                4
            }
            _ => 2,
        };
        assert_eq!(names.len(), want_objects, "{name}: {names:?}");
    }
    // The hash index answers for a file scanned before the Redis restart.
    let first = &files[0];
    let sha = sha256_hex(&first.1);
    let by_hash: Value = c
        .http
        .get(c.url(&format!("/hash/{sha}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(code(&by_hash), first.2, "{by_hash}");
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads `bad`, which the workers' fault injection `fault` (an
/// `MDSCAN_TEST_*_ON` variable) turns against them, and `good` ordinary
/// files: `bad` ends Failed after 2 attempts, the others finish clean.
fn ends_failed_after_two_attempts(fault: &str, bad: &[u8], config: &str, good: usize) {
    let sha = sha256_hex(bad);
    let mut c = Cluster::start(
        2,
        &["--concurrency", "1", "--max-attempts", "2"],
        &[(fault, &sha)],
        config,
    );
    let bad = c.upload("bad.bin", bad);
    let good: Vec<String> = (0..good)
        .map(|i| c.upload(&format!("ok{i}.txt"), format!("fine {i}").as_bytes()))
        .collect();
    let mut all = good.clone();
    all.push(bad.clone());
    let done = c.wait_all(&all, Duration::from_secs(120));
    let doc = &done[&bad];
    assert_eq!(code(doc), 3, "{doc}");
    assert!(
        doc.to_string().contains("did not complete on 2 attempts"),
        "{doc}"
    );
    for id in &good {
        assert_eq!(code(&done[id]), 0, "{}", done[id]);
    }
}

#[test]
fn a_poison_file_ends_failed_after_the_attempt_limit() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let poison = b"this file kills every worker that takes it";
    ends_failed_after_two_attempts("MDSCAN_TEST_ABORT_ON", poison, "", 6);
}

/// A zip whose `n` members are each a zip of `mb` MiB of zeros (small to
/// upload, a fraction of a second each to scan), and EICAR if `eicar`.
fn slow_archive(n: usize, mb: usize, eicar: bool) -> Vec<u8> {
    let zeros = vec![0u8; mb << 20];
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..n {
        let mut inner = zeros.clone();
        inner[0] = u8::try_from(i).unwrap();
        members.push((format!("part{i:02}.zip"), zip_of(&[("zeros.bin", &inner)])));
    }
    if eicar {
        members.push(("eicar.com".into(), EICAR.to_vec()));
    }
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    zip_of(&refs)
}

const PERMISSIVE: &str = "[[workflows]]\nname = \"File scan\"\nmax_ratio = 1000000\n";

/// Workers that scan one task at a time and fan out every child of a root.
fn fanout_cluster(workers: usize, config: &str) -> Cluster {
    Cluster::start(
        workers,
        &["--concurrency", "1", "--fanout-entries", "0"],
        &[],
        config,
    )
}

#[test]
fn a_fanned_out_archive_is_shared_by_workers_and_matches_a_local_scan() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let mut c = fanout_cluster(3, PERMISSIVE);
    let data = slow_archive(12, 48, true);
    let id = c.upload("big.zip", &data);
    let done = c.wait_all(std::slice::from_ref(&id), Duration::from_secs(180));
    let doc = &done[&id];
    let (local_code, local_tree) =
        local_scan(c.dir.path(), "big.zip", &data, &["--max-ratio", "1000000"]);
    assert_eq!(code(doc), local_code, "{doc}");
    assert_eq!(code(doc), 1);
    assert_eq!(cluster_tree(doc), local_tree);
    // Which worker scanned each child is in its notes.
    let mut workers = BTreeSet::new();
    for f in doc["extracted_files"]["files_in_archive"]
        .as_array()
        .unwrap()
    {
        if f["display_name"].as_str().unwrap().matches('/').count() != 1 {
            continue;
        }
        let child: Value = c.result(f["data_id"].as_str().unwrap()).unwrap();
        let notes = child["mdscan"]["notes"].to_string();
        let w = notes.split("scanned by cluster worker ").nth(1).map(|s| {
            s.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
        });
        workers.insert(w.unwrap_or_else(|| panic!("no worker note on {child}")));
    }
    assert!(workers.len() > 1, "children all scanned by {workers:?}");
}

#[test]
fn cancelling_a_fanned_out_archive_stops_its_children() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let mut c = fanout_cluster(1, PERMISSIVE);
    // No EICAR: a detection found before the cancel would outrank code 19.
    let data = slow_archive(20, 64, false);
    let id = c.upload("slow.zip", &data);
    // Wait until the root was split (its children are queued), then cancel.
    let log = c.dir.path().join("w0.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("fanned out")
    {
        assert!(Instant::now() < deadline, "no fan-out\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = c
        .http
        .post(c.url(&format!("/file/{id}/cancel")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let started = Instant::now();
    let done = c.wait_all(std::slice::from_ref(&id), Duration::from_secs(120));
    let doc = &done[&id];
    assert_eq!(code(doc), 19, "{doc}");
    let children = doc["extracted_files"]["files_in_archive"]
        .as_array()
        .unwrap();
    let cancelled = children
        .iter()
        .filter(|f| f["scan_all_result_i"] == 19)
        .count();
    assert!(
        cancelled >= 10,
        "{cancelled} of {} children cancelled",
        children.len()
    );
    // 20 children of ~1 s each were not all scanned.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // A worker draining on SIGTERM leaves the cluster cleanly.
    c.signal_worker(0, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.live_nodes() > 0 {
        assert!(
            Instant::now() < deadline,
            "worker still listed after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cluster_on_an_s3_blob_store() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let s3 = moto::Moto::start();
    s3.bucket("mdscan-cluster");
    let env = [
        ("AWS_ENDPOINT", s3.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let mut c = Cluster::start_with(
        2,
        &["--fanout-entries", "1"],
        &env,
        "",
        Some("s3://mdscan-cluster/blobs"),
    );
    let (nested, id, done) = round_trip(&mut c, Duration::from_secs(120));
    let (_, local) = local_scan(c.dir.path(), "nested.zip", &nested, &[]);
    assert_eq!(cluster_tree(&done[&id]), local);
}

/// A clean file, EICAR and a zip nesting EICAR through the cluster: each
/// gets its code and comes back from the blob store byte for byte. Returns
/// the zip, its data_id and every finished document.
fn round_trip(c: &mut Cluster, limit: Duration) -> (Vec<u8>, String, BTreeMap<String, Value>) {
    let nested = zip_of(&[
        ("inner.zip", &zip_of(&[("e.com", EICAR)])),
        ("a.txt", b"a"),
        ("b.txt", b"b"),
    ]);
    let files: Vec<(&str, Vec<u8>, i64)> = vec![
        ("clean.txt", b"nothing here".to_vec(), 0),
        ("eicar.com", EICAR.to_vec(), 1),
        ("nested.zip", nested.clone(), 1),
    ];
    let ids: Vec<String> = files.iter().map(|(n, d, _)| c.upload(n, d)).collect();
    let done = c.wait_all(&ids, limit);
    for ((name, data, want), id) in files.iter().zip(&ids) {
        let doc = &done[id];
        assert_eq!(code(doc), *want, "{name}: {doc}");
        // The upload comes back from the object store byte for byte.
        let got = c
            .http
            .get(c.url(&format!("/file/download/{id}")))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        assert_eq!(got.as_ref(), data.as_slice(), "{name}");
    }
    (nested, ids[2].clone(), done)
}

#[test]
fn fanned_out_children_share_the_roots_byte_budget() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    // 10 children of 32 MiB each against a 100 MiB budget for the tree.
    let cfg = "[[workflows]]\nname = \"File scan\"\nmax_ratio = 1000000\nmax_size = 104857600\n";
    let mut c = fanout_cluster(2, cfg);
    let data = slow_archive(10, 32, false);
    let id = c.upload("budget.zip", &data);
    let done = c.wait_all(std::slice::from_ref(&id), Duration::from_secs(120));
    let doc = &done[&id];
    let (local_code, _) = local_scan(
        c.dir.path(),
        "budget.zip",
        &data,
        &["--max-ratio", "1000000", "--max-size", "100M"],
    );
    assert_eq!(local_code, 13);
    assert_eq!(code(doc), local_code, "{doc}");
    // Bytes expanded across workers stay near the budget: each child gets
    // what the tree-wide counters (updated as children finish) leave when it
    // starts, so the two workers' children running side by side can take
    // up to a child's worth each past it — but the rest are stopped.
    let expanded: u64 = doc["extracted_files"]["files_in_archive"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["display_name"].as_str().unwrap().ends_with("zeros.bin"))
        .map(|f| f["file_size"].as_u64().unwrap())
        .sum();
    assert!(
        expanded <= (100 + 2 * 32 + 8) << 20,
        "{} MiB expanded",
        expanded >> 20
    );
}

#[test]
fn a_file_that_hangs_workers_ends_failed_after_the_attempt_limit() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    let stuck = b"this file hangs every worker that takes it";
    // A 1 s time limit: the worker's watchdog gives up 10 s past it.
    let config = "[[workflows]]\nname = \"File scan\"\ntimeout_secs = 1\n";
    ends_failed_after_two_attempts("MDSCAN_TEST_HANG_ON", stuck, config, 3);
}

/// Every file under `dir` whose name ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_ending(&p, suffix));
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out
}

#[test]
fn an_unreadable_blob_is_retried_then_fails_closed() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    // No worker yet: both uploads wait on the queue.
    let mut c = Cluster::start(0, &["--concurrency", "2"], &[], "");
    let late = b"this blob shows up a little late";
    let gone = b"this blob is gone for good";
    let late_id = c.upload("late.txt", late);
    let gone_id = c.upload("gone.txt", gone);
    let blobs = c.dir.path().join("blobs");
    let hide = |data: &[u8]| -> PathBuf {
        let found = files_ending(&blobs, &sha256_hex(data));
        assert_eq!(found.len(), 1, "{found:?}");
        let hidden = found[0].with_extension("hidden");
        std::fs::rename(&found[0], &hidden).unwrap();
        found[0].clone()
    };
    let late_path = hide(late);
    hide(gone);
    c.add_worker();
    std::thread::sleep(Duration::from_secs(3));
    std::fs::rename(late_path.with_extension("hidden"), &late_path).unwrap();
    let done = c.wait_all(&[late_id.clone(), gone_id.clone()], Duration::from_secs(90));
    assert_eq!(code(&done[&late_id]), 0, "{}", done[&late_id]);
    let doc = &done[&gone_id];
    assert_eq!(code(doc), 3, "{doc}");
    assert_eq!(doc["process_info"]["result"], "Blocked", "{doc}");
    assert!(doc.to_string().contains("can not read the file"), "{doc}");
    assert!(c.logs().contains("retrying"), "{}", c.logs());
}

#[test]
fn a_callback_outlives_the_gateway_that_accepted_the_file() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let (hook_url, received) = crate::server::hook();
    // No worker yet: the scan cannot finish while the first gateway lives.
    let mut c = Cluster::start(0, &[], &[], "callback_allow = [\"127.0.0.1\"]\n");
    // 503 until the gateway has seen RabbitMQ and Redis answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = c
            .http
            .post(c.url("/file"))
            .header("filename", "eicar.com")
            .header("callbackurl", &hook_url)
            .body(EICAR.to_vec())
            .send()
            .unwrap();
        if r.status() != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(r.status(), StatusCode::OK, "{}", c.logs());
    let id = r.json::<Value>().unwrap()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = c.gateway.kill();
    let _ = c.gateway.wait();
    // Another gateway (the first one's process is gone), then a worker.
    let (g, port) = spawn_gateway(c.dir.path(), &c.config, &[], "gateway2");
    c.gateway = g;
    c.base = format!("http://127.0.0.1:{port}");
    c.add_worker();
    let body = received
        .recv_timeout(Duration::from_secs(90))
        .unwrap_or_else(|_| panic!("no callback\n{}", c.logs()));
    assert_eq!(body["data_id"], id.as_str());
    assert_eq!(body["scan_results"]["scan_all_result_i"], 1);
}

#[test]
fn parallel_uploads_to_one_cluster_batch_all_join_it() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let c = Cluster::start(1, &[], &[], "");
    let batch = c
        .http
        .post(c.url("/file/batch"))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::scope(|scope| {
        for i in 0..16 {
            let (c, batch) = (&c, &batch);
            scope.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let r = c
                        .http
                        .post(c.url("/file"))
                        .header("batch", batch)
                        .body(format!("member {i}"))
                        .send()
                        .unwrap();
                    if r.status() == StatusCode::SERVICE_UNAVAILABLE && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    assert_eq!(r.status(), StatusCode::OK);
                    break;
                }
            });
        }
    });
    let close = |what: &str| {
        c.http
            .post(c.url(&format!("/file/batch/{batch}/{what}")))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap()
    };
    let v = close("close");
    assert_eq!(v["batch_files"]["batch_count"], 16, "{v}");
    assert_eq!(v["is_closed"], true);
    let r = c
        .http
        .post(c.url("/file"))
        .header("batch", &batch)
        .body("late")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    close("cancel");
    let v = c
        .http
        .get(c.url(&format!("/file/batch/{batch}")))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(v["is_closed"], true);
    assert_eq!(v["scan_results"]["scan_all_result_i"], 19);
}

fn gateway_log(c: &Cluster) -> String {
    std::fs::read_to_string(c.dir.path().join("gateway.log")).unwrap_or_default()
}

/// A task the broker confirmed and then lost: the scan stays queued with
/// nothing in the queue, and the gateway's reconciler publishes it again.
#[test]
fn the_reconciler_publishes_a_lost_task_again() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(
        1,
        &[],
        &[("MDSCAN_TEST_DROP_PUBLISH_ONCE", "lost.txt")],
        "sweep_interval_secs = 1\nstuck_after_secs = 2\n",
    );
    let id = c.upload("lost.txt", b"an ordinary file");
    let done = c.wait_all(std::slice::from_ref(&id), Duration::from_secs(60));
    assert_eq!(code(&done[&id]), 0, "{}", done[&id]);
    // The reconciler says what it did once its whole pass (the blob sweep
    // too) is over, which can be after the republished scan ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut log = gateway_log(&c);
    while !log.contains("published again") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        log = gateway_log(&c);
    }
    assert!(log.contains("dropping the task of lost.txt"), "{log}");
    assert!(log.contains("published again"), "{log}");
}

/// A fanned-out archive whose child task is lost every time can never
/// complete: after the reconciler's republishes it is stored as Failed
/// (blocked), keeping the child that did arrive.
#[test]
fn a_tree_with_a_lost_child_ends_failed() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(
        1,
        &["--concurrency", "1", "--fanout-entries", "0"],
        &[("MDSCAN_TEST_DROP_PUBLISH", "gone.txt")],
        "sweep_interval_secs = 1\nstuck_after_secs = 1\nmax_requeues = 1\n\
         [[workflows]]\nname = \"File scan\"\ntimeout_secs = 2\n",
    );
    let data = zip_of(&[("kept.txt", b"fine".as_slice()), ("gone.txt", b"lost")]);
    let id = c.upload("tree.zip", &data);
    let done = c.wait_all(std::slice::from_ref(&id), Duration::from_secs(90));
    let doc = &done[&id];
    assert_eq!(code(doc), 3, "{doc}");
    assert_eq!(doc["process_info"]["result"], "Blocked", "{doc}");
    let tree = cluster_tree(doc);
    assert_eq!(tree.get("tree.zip/kept.txt"), Some(&0), "{tree:?}");
    assert_eq!(tree.get("tree.zip/gone.txt"), Some(&3), "{tree:?}");
    let log = gateway_log(&c);
    assert!(log.contains("stored as Failed"), "{log}");
}

/// The audit log lives in Redis: a download through one gateway is listed
/// by another.
#[test]
fn the_audit_log_is_shared_by_gateways() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(1, &[], &[], "");
    let id = c.upload("audited.txt", b"read me");
    c.wait_all(std::slice::from_ref(&id), Duration::from_secs(60));
    let r = c
        .http
        .get(c.url(&format!("/file/download/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (mut other, port) = spawn_gateway(c.dir.path(), &c.config, &[], "gateway2");
    let url = format!("http://127.0.0.1:{port}/admin/audit?action=download");
    let deadline = Instant::now() + Duration::from_secs(30);
    let v = loop {
        if let Ok(r) = c.http.get(&url).send()
            && r.status() == StatusCode::OK
        {
            break r.json::<Value>().unwrap();
        }
        assert!(Instant::now() < deadline, "{}", c.logs());
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = other.kill();
    let _ = other.wait();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{v}");
    assert_eq!(events[0]["target"], id.as_str());
    assert_eq!(events[0]["outcome"], "ok");
    assert_eq!(events[0]["address"], "127.0.0.1");
}

/// A drain from the admin API: the worker stops taking tasks, leaves
/// `/stat/nodes` and exits 0; a file uploaded afterwards waits in the
/// queue for another worker.
#[test]
fn a_drained_worker_leaves_and_the_queue_waits() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(1, &[], &[], "");
    let first = c.upload("before-drain.txt", b"scan me first");
    c.wait_all(std::slice::from_ref(&first), Duration::from_secs(60));
    let r = c.http.post(c.url("/admin/node/w0/drain")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", c.logs());
    let r = c.http.post(c.url("/admin/node/w9/drain")).send().unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut w = c.workers.remove(0);
    let status = loop {
        if let Ok(Some(st)) = w.child.try_wait() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not drain\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}\n{}", c.logs());
    assert_eq!(c.live_nodes(), 0);
    // Nothing takes new work until a worker starts (the rolling upgrade's
    // "start new workers" step), which then scans it.
    let later = c.upload("after-drain.txt", b"for the new worker");
    std::thread::sleep(Duration::from_secs(1));
    let doc = c.result(&later).unwrap();
    assert_ne!(doc["scan_results"]["progress_percentage"], 100, "{doc}");
    c.add_worker();
    c.wait_all(std::slice::from_ref(&later), Duration::from_secs(60));
}

/// A reload asked of the gateway reaches every worker: the gateway checks
/// the definitions, the workers load them at their next heartbeat (and say
/// so in `/stat/nodes`), and the next scans use them. A broken rule is
/// refused at the gateway and never reaches a worker.
#[test]
fn a_rule_reload_reaches_every_worker() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("base.yar"),
        "rule unrelated { strings: $a = \"nothing-like-it\" condition: $a }",
    )
    .unwrap();
    let mut c = Cluster::start(
        2,
        &[],
        &[],
        &format!("rules = [\"{}\"]", rules.path().display()),
    );
    let marker: &[u8] = b"text with planted-for-the-cluster in it";
    let before = c.upload("before.txt", marker);
    let done = c.wait_all(std::slice::from_ref(&before), Duration::from_secs(60));
    assert_eq!(code(&done[&before]), 0);

    std::fs::write(
        rules.path().join("planted.yar"),
        "rule planted_in_cluster { strings: $a = \"planted-for-the-cluster\" condition: $a }",
    )
    .unwrap();
    let r = c.http.post(c.url("/admin/engine/reload")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", c.logs());
    let n = r.json::<Value>().unwrap()["reload"].as_u64().unwrap();
    assert!(n >= 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = c
            .http
            .get(c.url("/stat/nodes"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let nodes = v["statuses"].as_array().cloned().unwrap_or_default();
        if nodes.len() == 2 && nodes.iter().all(|s| s["engines_reload"] == n) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "workers did not reload: {v}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ids: Vec<String> = (0..4)
        .map(|i| c.upload(&format!("after{i}.txt"), marker))
        .collect();
    let done = c.wait_all(&ids, Duration::from_secs(60));
    for id in &ids {
        assert_eq!(code(&done[id]), 1, "{}", done[id]);
    }

    std::fs::write(
        rules.path().join("broken.yar"),
        "rule broken { condition: }",
    )
    .unwrap();
    let r = c.http.post(c.url("/admin/engine/reload")).send().unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    std::thread::sleep(Duration::from_secs(4));
    let v: Value = c
        .http
        .get(c.url("/stat/nodes"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for s in v["statuses"].as_array().unwrap() {
        assert_eq!(s["engines_reload"], n, "{v}");
    }
}

/// Users and API keys made through one gateway are kept in Redis: another
/// gateway signs the user in and takes the key, and the first user made
/// closes both open gateways.
#[test]
fn users_and_keys_are_shared_by_gateways() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let c = Cluster::start(1, &[], &[], "");
    let (mut other, port) = spawn_gateway(c.dir.path(), &c.config, &[], "gateway2");
    let b_url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c
        .http
        .get(b_url("/readyz"))
        .send()
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "{}", c.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = c
        .http
        .post(c.url("/admin/user"))
        .json(&serde_json::json!({"name": "ada", "password": "password-1", "roles": ["1"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", c.logs());
    // Both gateways are closed now.
    for url in [c.url("/user"), b_url("/user")] {
        let r = c.http.get(&url).send().unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{url}");
    }
    let login = c
        .http
        .post(b_url("/login"))
        .json(&serde_json::json!({"user": "ada", "password": "password-1"}))
        .send()
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let session = login.json::<Value>().unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = c
        .http
        .post(b_url("/user/apikey"))
        .header("apikey", &session)
        .json(&serde_json::json!({"name": "ci", "expires_in_days": 30}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let secret = key["apikey"].as_str().unwrap().to_string();
    let me = c
        .http
        .get(c.url("/user"))
        .header("apikey", &secret)
        .send()
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().unwrap()["role"], "admin");
    let r = c
        .http
        .delete(c.url(&format!("/user/apikey/{}", key["id"].as_str().unwrap())))
        .header("apikey", &secret)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .http
        .get(b_url("/user"))
        .header("apikey", &secret)
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "revoked on every gateway"
    );
    // A workflow edited on one gateway is in force on the other within
    // its refresh (5 s).
    let r = c
        .http
        .put(c.url("/admin/config/rule/File%20scan"))
        .header("apikey", &session)
        .body(r#"{"max_file_size": 8}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = c
            .http
            .post(b_url("/file"))
            .header("apikey", &session)
            .body(vec![0u8; 32])
            .send()
            .unwrap();
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "the edit did not reach gateway2");
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = other.kill();
    let _ = other.wait();
}

/// The web console in a real browser (Debian's Chromium driven by
/// playwright-core; `tests/console/drive.cjs` lists the steps) against a
/// gateway and a worker: sign in, upload, live history, result tree,
/// keys, users, audit log, report, drain, phone width, sign out.
/// Screenshots go to `target/console-screenshots/`.
#[test]
fn the_console_in_a_browser() {
    let have = Path::new("/usr/bin/chromium").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !have {
        crate::shared::skip(
            "the console test needs /usr/bin/chromium and node (apt-get install chromium nodejs)",
        );
        return;
    }
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let mut c = Cluster::start(1, &[], &[], "");
    let r = c
        .http
        .post(c.url("/admin/user"))
        .json(&serde_json::json!({"name": "ada", "password": "console-password", "roles": ["1"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", c.logs());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("../target"), PathBuf::from);
    let out = Command::new("bash")
        .arg(root.join("tests/console/run.sh"))
        .env("BASE", &c.base)
        .env("MD_USER", "ada")
        .env("MD_PASSWORD", "console-password")
        .env("WORKER", "w0")
        .env("SHOTS", target.join("console-screenshots"))
        .output()
        .expect("can not run tests/console/run.sh");
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        c.logs()
    );
    // The drain clicked in the console: the worker leaves.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut w = c.workers.remove(0);
    loop {
        if let Ok(Some(st)) = w.child.try_wait() {
            assert!(st.success(), "{st}\n{}", c.logs());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not drain\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A docm given to the cluster comes back sanitized from the blob store
/// (the worker sanitized and rescanned it); a jar the feed calls
/// vulnerable is code 18 with `vulnerability_info`; the gateway lists the
/// feed.
#[test]
fn a_cluster_sanitizes_and_assesses_vulnerabilities() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let feed = tempfile::tempdir().unwrap();
    std::fs::write(
        feed.path().join("GHSA-cl-0001.json"),
        r#"{"id": "GHSA-cl-0001", "modified": "2026-11-02T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Maven", "name": "org.example:cluster-lib"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.0"}]}]}]}"#,
    )
    .unwrap();
    let config = format!(
        "vulnerability_feeds = [\"{}\"]\n[[workflows]]\nname = \"File scan\"\n[workflows.sanitize]\nenabled = true\n",
        feed.path().display()
    );
    let mut c = Cluster::start(1, &[], &[], &config);
    let docm = zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>"#,
        ),
        (
            "word/_rels/document.xml.rels",
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>cluster text</w:t></w:r></w:p></w:body></w:document>"#,
        ),
        ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 a macro project"),
    ]);
    let jar = zip_of(&[(
        "META-INF/maven/org.example/cluster-lib/pom.properties",
        b"groupId=org.example\nartifactId=cluster-lib\nversion=4.2\n",
    )]);
    let ids = vec![
        c.upload("macro.docm", &docm),
        c.upload("cluster-lib.jar", &jar),
    ];
    let done = c.wait_all(&ids, Duration::from_secs(120));

    let doc = &done[&ids[0]];
    let pp = &doc["process_info"]["post_processing"];
    assert_eq!(pp["actions_ran"], "Sanitized", "{doc}");
    assert_eq!(pp["converted_to"], "docx");
    let r = c
        .http
        .get(c.url(&format!("/file/converted/{}", ids[0])))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let copy = r.bytes().unwrap().to_vec();
    let z = zip::ZipArchive::new(std::io::Cursor::new(copy)).unwrap();
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().to_string()).collect();
    assert!(names.iter().any(|n| n == "word/document.xml"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("vbaProject")), "{names:?}");

    let doc = &done[&ids[1]];
    assert_eq!(code(doc), 18, "{doc}");
    assert_eq!(
        doc["vulnerability_info"]["result"]["detected_product"]["vulnerabilities"][0]["static_id"],
        "GHSA-cl-0001"
    );
    let engines: Value = c
        .http
        .get(c.url("/stat/engines"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        engines
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["eng_id"] == "vulnerability" && e["def_time"] == "2026-11-02T00:00:00Z"),
        "{engines}"
    );
}

/// The gateway's clamd and ICAP listeners sit on the same intake as its
/// HTTP API: what they receive is scanned by the cluster's workers.
#[test]
fn the_gateways_clamd_and_icap_listeners_scan_on_the_workers() {
    let Some(_guard) = exclusive_services() else {
        return;
    };
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("gateway-clamd.sock");
    let icap = free_port();
    let c = Cluster::start(
        2,
        &[],
        &[],
        &format!(
            "[clamd]\nlisten = [\"unix:{}\"]\n[icap]\nlisten = \"127.0.0.1:{icap}\"\n",
            sock.display()
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no clamd socket on the gateway");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stream = |data: &[u8]| {
        let reply = crate::clamd::ask(&sock, &crate::clamd::instream(b"zINSTREAM\0", data, 1000));
        String::from_utf8_lossy(&reply).into_owned()
    };
    assert_eq!(stream(EICAR), "stream: EICAR_Test_File FOUND\0");
    assert_eq!(
        stream(&zip_of(&[("in/eicar.txt", EICAR)])),
        "stream: EICAR_Test_File FOUND\0"
    );
    assert_eq!(stream(b"an ordinary file"), "stream: OK\0");
    // ICAP through c-icap's client.
    let file = sock_dir.path().join("eicar.com");
    std::fs::write(&file, EICAR).unwrap();
    match Command::new("c-icap-client")
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &icap.to_string(),
            "-s",
            "avscan",
            "-v",
            "-f",
        ])
        .arg(&file)
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(text.contains("HTTP/1.1 403 Forbidden"), "{text}");
            assert!(text.contains("Threat=EICAR_Test_File"), "{text}");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::shared::skip(format_args!(
                "c-icap-client is not installed (Debian c-icap)"
            ));
        }
        Err(e) => panic!("c-icap-client: {e}"),
    }
    // On the gateway's record, as the clamd and icap users.
    let history: Value = c
        .http
        .get(c.url("/stat/history"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let users: BTreeSet<String> = history["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(users.contains("clamd"), "{history}");
}
