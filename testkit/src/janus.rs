//! Janus, the most deployed DAP-18 implementation, as a peer on loopback: its aggregators
//! (Leader or Helper, with their job drivers and the interop test API) and its interop
//! Client and Collector, from the prebuilt binaries in `../shared/peers/janus` (see its
//! README). Every process runs in its own process group and is stopped by it in `Drop`;
//! each aggregator has its own PostgreSQL database, dropped afterwards; ports are chosen
//! free at start; every wait is bounded.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the prebuilt peer lives: `../shared/peers/janus` beside the repository.
pub fn peer_dir() -> PathBuf {
    crate::root()
        .parent()
        .expect("the repository has a parent directory")
        .join("shared/peers/janus")
}

/// Whether Janus tests should run: the peer is present, and `EDAP_SKIP_JANUS` is not set.
/// A missing peer without the variable is a failure (a skipped test could not fail).
pub fn enabled() -> bool {
    if std::env::var_os("EDAP_SKIP_JANUS").is_some() {
        eprintln!("EDAP_SKIP_JANUS is set: the Janus pairing tests do not run");
        return false;
    }
    assert!(
        peer_dir().join("setup.sh").exists(),
        "the Janus peer is missing at {} (set EDAP_SKIP_JANUS=1 to run without it)",
        peer_dir().display()
    );
    true
}

/// Unpacks the binaries and starts PostgreSQL, once per process; returns the bin folder.
fn bin_dir() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(peer_dir().join("setup.sh"))
            .stdin(Stdio::null())
            .output()
            .expect("run the Janus setup.sh");
        assert!(
            out.status.success(),
            "Janus setup.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        PathBuf::from(dir)
    })
}

fn stop_group(pgid: u32) {
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    };
    let alive = || {
        Command::new("kill")
            .args(["-0", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive() {
        signal("-KILL");
    }
}

/// A port base `B` whose ports `B..=B+5`, `B+80` and `B+81` are all free now. Bases handed
/// out by this process are never handed out again (tests start aggregators in parallel).
fn free_port_base() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut seed = (std::process::id() as u64) << 20
        ^ crate::now_secs()
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = 20_000 + ((seed >> 33) % 400) as u16 * 100;
        if taken.contains(&base) {
            continue;
        }
        let mut ports = (0..=5).chain([80, 81]).map(|o| base + o);
        if ports.all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            taken.push(base);
            return base;
        }
    }
    panic!("no free port range for a Janus aggregator");
}

/// One Janus aggregator (aggregator, job creator, job drivers, interop API).
pub struct JanusAggregator {
    name: String,
    run: PathBuf,
    pgid: u32,
    /// The port of its interop API and DAP endpoint.
    pub port: u16,
}

impl JanusAggregator {
    /// Starts one with a fresh database; `label` names it in logs.
    pub fn start(label: &str) -> JanusAggregator {
        let bin = bin_dir();
        let name = format!("edap{}{label}", std::process::id());
        let run = std::env::temp_dir().join(format!("edap-janus-{name}"));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).unwrap();
        let base = free_port_base();
        let mut child = Command::new("bash")
            .arg(peer_dir().join("start-janus-aggregator.sh"))
            .args([&name, &base.to_string()])
            .env("PGPASSWORD", "postgres")
            .env("JANUS_BIN", bin)
            .env("JANUS_RUN", &run)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start-janus-aggregator.sh");
        let pgid = child.id();
        let agg = JanusAggregator {
            name,
            run,
            pgid,
            port: base + 80,
        };
        // The script waits (bounded, 60 s) until the interop API is ready, then exits; the
        // aggregator's processes stay in its process group.
        let status = wait_bounded(&mut child, Duration::from_secs(120));
        let out = child.wait_with_output().ok();
        assert!(
            status.is_some_and(|s| s.success()),
            "Janus aggregator {label} did not start: {:?}\n{}",
            out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()),
            agg.logs()
        );
        agg.ensure_hpke_config();
        agg
    }

    fn hpke_config_served(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let r = crate::http::request(self.port, "GET", "/hpke_config", &[], &[]);
            if r.is_ok_and(|r| r.status == 200) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The start script runs Janus's one-shot key rotator after the aggregator; when the
    /// aggregator loaded its (then empty) key cache first, it serves no HPKE configuration
    /// until the cache's next refresh, half an hour later. Restarting the aggregator process
    /// once the key exists fixes that.
    fn ensure_hpke_config(&self) {
        if self.hpke_config_served(Duration::from_secs(5)) {
            return;
        }
        let dir = self.run.join(&self.name);
        let pids = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
        let Some(pid) = pids
            .lines()
            .find(|l| l.ends_with(" aggregator"))
            .and_then(|l| l.split_whitespace().next())
        else {
            panic!("no aggregator pid in {}", dir.display());
        };
        let _ = Command::new("kill").arg(pid).status();
        std::thread::sleep(Duration::from_millis(500));
        let log = std::fs::File::create(dir.join("aggregator.restarted.log")).unwrap();
        // Not waited on here: it belongs to the aggregator's process group, which `Drop`
        // stops.
        #[allow(clippy::zombie_processes)]
        let _child = Command::new(bin_dir().join("janus_aggregator"))
            .args(["aggregator", "--config-file"])
            .arg(dir.join("aggregator.yaml"))
            .env("PGPASSWORD", "postgres")
            .env("DATASTORE_KEYS", "OSjfC8QVPATwO3uVJcAnTA")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(self.pgid as i32)
            .spawn()
            .expect("restart the Janus aggregator");
        assert!(
            self.hpke_config_served(Duration::from_secs(30)),
            "the Janus aggregator serves no HPKE configuration: {}",
            self.logs()
        );
    }

    /// Its DAP endpoint, as tasks name it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The tail of every log it wrote (for failures).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let dir = self.run.join(&self.name);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "log") {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    out.push_str(&format!("--- {}\n", p.display()));
                    for l in tail.into_iter().rev() {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

impl Drop for JanusAggregator {
    fn drop(&mut self) {
        stop_group(self.pgid);
        if std::thread::panicking() {
            eprintln!("Janus aggregator logs:\n{}", self.logs());
        }
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-qc",
                &format!("DROP DATABASE IF EXISTS janus_{}", self.name),
            ])
            .env("PGPASSWORD", "postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Janus's interop Client (`janus_interop_client`) or Collector
/// (`janus_interop_collector`) on a free loopback port.
pub struct JanusInterop {
    child: Child,
    /// Its port.
    pub port: u16,
    log: PathBuf,
}

impl JanusInterop {
    /// Starts `janus_interop ROLE` and waits (bounded) until `/internal/test/ready` answers.
    pub fn start(role: &str) -> JanusInterop {
        let port = crate::free_port();
        let log =
            std::env::temp_dir().join(format!("edap-{role}-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin_dir().join("janus_interop"))
            .args([role, "--port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("janus_interop");
        let j = JanusInterop { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = crate::http::request(
                port,
                "POST",
                "/internal/test/ready",
                &[("content-type", "application/json")],
                b"{}",
            );
            if r.is_ok_and(|r| r.status == 200) {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "{role} did not become ready: {}",
                std::fs::read_to_string(&j.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for JanusInterop {
    fn drop(&mut self) {
        stop_group(self.child.id());
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("janus_interop log:\n{}", self.log());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
