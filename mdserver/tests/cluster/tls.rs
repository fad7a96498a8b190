//! The cluster over TLS: a test CA made here signs the certificates of a
//! Redis, a RabbitMQ node and an S3 server (moto) of the test's own, which
//! listen on TLS only and ask every client for a certificate; the gateway
//! serves HTTPS with the same CA's certificate.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Cluster, exclusive_services, free_port, moto, round_trip};

/// A CA and what it signed, as PEM files in a directory.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn make(dir: &Path) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "mdscan test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "localhost",
        );
        let (client_cert, client_key) =
            leaf(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth, "mdscan");
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Pki {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
        }
    }
}

/// A service process of the test's own; its process group is killed on
/// drop.
struct Service {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Service {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Service {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("can not start {name}: {e}"));
        Service { child, name, log }
    }

    /// Waits until `port` completes a TLS handshake checked against `ca`
    /// (openssl s_client, which also presents the client certificate).
    fn wait_tls(&mut self, port: u16, pki: &Pki, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let out = Command::new("openssl")
                .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
                .arg("-CAfile")
                .arg(&pki.ca)
                .arg("-cert")
                .arg(&pki.client_cert)
                .arg("-key")
                .arg(&pki.client_key)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("Verify return code: 0 (ok)") {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "{} exited ({st}):\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer TLS on {port}:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pgid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }
}

/// Redis on a TLS port only (`--port 0`), client certificates required.
fn tls_redis(dir: &Path, pki: &Pki) -> (Service, u16) {
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(&pki.server_cert)
        .arg("--tls-key-file")
        .arg(&pki.server_key)
        .arg("--tls-ca-cert-file")
        .arg(&pki.ca)
        .args(["--tls-auth-clients", "yes", "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir);
    let mut s = Service::spawn("redis-server", cmd, dir.join("redis.log"));
    s.wait_tls(port, pki, Duration::from_secs(30));
    (s, port)
}

/// A RabbitMQ node of the test's own beside the machine's (its own name,
/// ports, database and logs): TLS listener only, client certificates
/// required.
fn tls_rabbitmq(dir: &Path, pki: &Pki) -> (Service, u16) {
    let port = free_port();
    let dist = free_port();
    let base = dir.join("rabbitmq");
    for d in ["home", "mnesia", "log"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    let conf = base.join("rabbitmq.conf");
    std::fs::write(
        &conf,
        format!(
            "listeners.tcp = none\n\
             listeners.ssl.default = 127.0.0.1:{port}\n\
             ssl_options.cacertfile = {}\n\
             ssl_options.certfile = {}\n\
             ssl_options.keyfile = {}\n\
             ssl_options.verify = verify_peer\n\
             ssl_options.fail_if_no_peer_cert = true\n",
            pki.ca.display(),
            pki.server_cert.display(),
            pki.server_key.display()
        ),
    )
    .unwrap();
    let plugins = base.join("enabled_plugins");
    std::fs::write(&plugins, "[].\n").unwrap();
    // The package's wrapper would switch to the rabbitmq user; the server
    // script itself runs as whoever starts it.
    let mut cmd = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    cmd.env("HOME", base.join("home"))
        .env("RABBITMQ_CONF_ENV_FILE", "/dev/null")
        .env(
            "RABBITMQ_NODENAME",
            format!("mdscantls{}@localhost", std::process::id()),
        )
        .env("RABBITMQ_DIST_PORT", dist.to_string())
        .env("RABBITMQ_CONFIG_FILE", &conf)
        .env("RABBITMQ_MNESIA_BASE", base.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", base.join("log"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", &plugins)
        .env("ERL_EPMD_ADDRESS", "127.0.0.1");
    let mut s = Service::spawn("rabbitmq-server", cmd, dir.join("rabbitmq.log"));
    s.wait_tls(port, pki, Duration::from_secs(120));
    (s, port)
}

#[test]
fn the_cluster_runs_over_tls() {
    let Some(_lock) = exclusive_services() else {
        return;
    };
    for tool in ["openssl", "redis-server"] {
        assert!(
            Command::new(tool).arg("version").output().is_ok()
                || Command::new(tool).arg("--version").output().is_ok(),
            "{tool} is needed"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let svc = dir.path().join("services");
    std::fs::create_dir_all(&svc).unwrap();
    let pki = Pki::make(&svc);
    let (_redis, redis_port) = tls_redis(&svc, &pki);
    let (_rabbit, amqp_port) = tls_rabbitmq(&svc, &pki);
    let s3 = moto::Moto::start_tls(&pki.server_cert, &pki.server_key, &pki.ca);
    assert!(s3.endpoint.starts_with("https://"));
    s3.bucket("mdscan-tls");

    // Everything TLS: no plain port is open on any of the three services.
    let config = format!(
        "amqp_url = \"amqps://guest:guest@localhost:{amqp_port}/%2f\"\n\
         redis_url = \"rediss://127.0.0.1:{redis_port}/\"\n\
         client_cert = \"{}\"\n\
         client_key = \"{}\"\n",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let https = format!(
        "[tls]\nenabled = true\ncert = \"{}\"\nkey = \"{}\"\nca = [\"{}\"]\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca.display()
    );
    let env = [
        ("AWS_ENDPOINT", s3.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let mut c = Cluster::start_in(
        tempfile::tempdir().unwrap(),
        2,
        &["--fanout-entries", "1"],
        &env,
        &config,
        Some("s3://mdscan-tls/blobs"),
        Some((&https, &pki.ca)),
    );
    assert!(c.base.starts_with("https://"));
    let (_, nested_id, done) = round_trip(&mut c, Duration::from_secs(180));
    // The nested archive's children went out as tasks of their own.
    assert!(
        done[&nested_id]["extracted_files"]["files_in_archive"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{}",
        done[&nested_id]
    );

    // A worker without the client certificate is turned away by both
    // services and never joins; one that does not trust the CA refuses
    // them.
    let links = format!(
        "amqp_url = \"amqps://guest:guest@localhost:{amqp_port}/%2f\"\n\
         redis_url = \"rediss://127.0.0.1:{redis_port}/\"\n"
    );
    let trust = format!("[tls]\nca = [\"{}\"]\n", pki.ca.display());
    for (name, cfg) in [
        ("no-cert", format!("{links}{trust}")),
        ("no-ca", config.clone()),
    ] {
        let path = c.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[cluster]\nnamespace = \"{}\"\nblob_url = \"s3://mdscan-tls/blobs\"\n{cfg}",
                c.ns
            ),
        )
        .unwrap();
        let log = c.dir.path().join(format!("{name}.log"));
        let mut w = Command::new(env!("CARGO_BIN_EXE_mdscan"))
            .args(["worker", "--id", name, "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(c.dir.path().join(name))
            .envs(env)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // It says why, keeps trying, and never shows up as a node.
        let deadline = Instant::now() + Duration::from_secs(60);
        let text = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("RabbitMQ:") || text.contains("Redis:") {
                break text;
            }
            assert!(
                Instant::now() < deadline && matches!(w.try_wait(), Ok(None)),
                "{name}: no connection error:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(c.live_nodes(), 2, "{name} joined:\n{text}");
        let _ = w.kill();
        let _ = w.wait();
        eprintln!("{name}: {}", text.lines().last().unwrap_or(""));
    }
}
