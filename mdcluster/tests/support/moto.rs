//! A local S3-compatible server for tests: moto in server mode (from
//! PyPI), started by `moto-server.sh` next to this file (it installs moto into
//! `target/moto-venv` on first use). Shared by the
//! mdcluster and mdserver tests.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free port; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../mdcluster/tests/support/moto-server.sh"
        );
        let child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("can not run tests/moto-server.sh");
        let mut m = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
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
        let st = Command::new("curl")
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
