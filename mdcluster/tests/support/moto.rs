//! A local S3-compatible server for tests: moto in server mode (from
//! PyPI), started by `moto-server.sh` next to this file (it installs moto into
//! `target/moto-venv` on first use). Shared by the
//! mdcluster and mdserver tests.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free port; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://` with a certificate.
    pub endpoint: String,
    /// The root its certificate is checked against.
    ca: Option<PathBuf>,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(None)
    }

    /// Over HTTPS with `cert` and `key` (PEM), signed by `ca`.
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> Moto {
        Moto::start_with(Some((cert, key, ca)))
    }

    fn start_with(tls: Option<(&Path, &Path, &Path)>) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../mdcluster/tests/support/moto-server.sh"
        );
        let mut cmd = Command::new("bash");
        cmd.arg(script).arg(port.to_string());
        if let Some((cert, key, _)) = tls {
            cmd.arg("-c").arg(cert).arg("-k").arg(key);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("can not run tests/moto-server.sh");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut m = Moto {
            child,
            endpoint: format!("{scheme}://127.0.0.1:{port}"),
            ca: tls.map(|(_, _, ca)| ca.to_path_buf()),
        };
        // The first run installs moto (about a minute).
        let deadline = Instant::now() + Duration::from_secs(600);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            if let Ok(Some(st)) = m.child.try_wait() {
                panic!("moto-server.sh exited ({st}): is python3 with venv available?");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        m
    }

    pub fn bucket(&self, name: &str) {
        let mut cmd = Command::new("curl");
        if let Some(ca) = &self.ca {
            cmd.arg("--cacert").arg(ca);
        }
        let st = cmd
            .args(["-sf", "-X", "PUT", &format!("{}/{name}", self.endpoint)])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "can not create bucket {name}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // moto_server is exec'd by the script, so this is the server itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
