//! `edap interop client|collector` child processes for tests that drive the interop test
//! API (used by the CLI's own tests and by the root end-to-end tests).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// An `edap interop ROLE --port 0` process, killed when dropped.
pub struct InteropServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl InteropServer {
    /// Starts `bin interop ROLE --port 0` with its HPKE cache in `cache` and waits (bounded)
    /// until it says where it listens.
    pub fn start(bin: &Path, role: &str, cache: &Path) -> InteropServer {
        let mut child = Command::new(bin)
            .args(["interop", role, "--port", "0"])
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn edap interop");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let mut server = InteropServer {
            child,
            url: String::new(),
            port: 0,
            log,
        };
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(l))) => l,
            other => panic!(
                "edap interop {role} did not say where it listens ({other:?}): {}",
                server.log()
            ),
        };
        server.url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_string();
        server.port = server
            .url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback URL: {line}"));
        server
    }

    /// The URL of a test-API command.
    pub fn cmd(&self, command: &str) -> String {
        format!("{}/internal/test/{command}", self.url)
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for InteropServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("edap interop log:\n{}", self.log());
        }
    }
}
