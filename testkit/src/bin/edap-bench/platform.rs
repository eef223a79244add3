//! What workerd itself costs per request on this machine, without any of our code: a
//! twenty-line JavaScript worker whose requests (a) answer at once, (b) call a Durable
//! Object that answers at once, (c) call a Durable Object that inserts one row into its
//! SQLite storage inside `transactionSync` — the shape of a single-report upload. The
//! upload figures are read against these.

use crate::drive::percentile;
use crate::figures::Figures;
use edap_testkit::http::Conn;
use edap_testkit::{free_port, procstat, root};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKER: &str = r#"import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
  constructor(ctx, env) { super(ctx, env); this.sql = ctx.storage.sql; this.ready = false; }
  async fetch(req) {
    const body = new Uint8Array(await req.arrayBuffer());
    if (new URL(req.url).pathname === "/noop") return new Response("ok");
    if (!this.ready) {
      this.sql.exec("CREATE TABLE IF NOT EXISTS r (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
      this.ready = true;
    }
    const k = crypto.getRandomValues(new Uint8Array(16));
    this.ctx.storage.transactionSync(() => this.sql.exec("INSERT INTO r (k, v) VALUES (?, ?)", k, body));
    return new Response("ok");
  }
}
export default {
  async fetch(req, env) {
    const path = new URL(req.url).pathname;
    if (path === "/plain") return new Response("ok");
    const body = await req.arrayBuffer();
    const stub = env.PROBE.get(env.PROBE.idFromName("shard" + ((Math.random() * 8) | 0)));
    const r = await stub.fetch("https://probe" + path, { method: "POST", body });
    return new Response(await r.arrayBuffer());
  },
};
"#;

/// The probe worker under workerd, stopped by process group when dropped.
struct Probe {
    child: Child,
    port: u16,
}

impl Probe {
    fn start(dir: &Path) -> Probe {
        let state = dir.join("state");
        std::fs::create_dir_all(&state).expect("probe dir");
        std::fs::write(dir.join("probe.js"), WORKER).expect("probe worker");
        let port = free_port();
        let config = format!(
            r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "disk", disk = (path = "{state}", writable = true)) ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "probe.js", esModule = embed "probe.js") ],
  compatibilityDate = "2026-04-01",
  bindings = [ (name = "PROBE", durableObjectNamespace = "Probe") ],
  durableObjectNamespaces = [ (className = "Probe", uniqueKey = "edap-bench-probe", enableSql = true) ],
  durableObjectStorage = (localDisk = "disk"),
);
"#,
            state = state.display()
        );
        let path = dir.join("probe.capnp");
        std::fs::write(&path, config).expect("probe config");
        let child = Command::new(root().join("node_modules/.bin/workerd"))
            .arg("serve")
            .arg(&path)
            .arg("--experimental")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("workerd");
        let deadline = Instant::now() + Duration::from_secs(30);
        while edap_testkit::http::request(port, "POST", "/plain", &[], b"").is_err() {
            assert!(Instant::now() < deadline, "the probe worker did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Probe { child, port }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// One load run: `(requests/s, p50 ms, p99 ms, workerd CPU µs per request)`.
pub fn load(
    port: u16,
    pid: u32,
    path: &str,
    n: usize,
    clients: usize,
    body: &[u8],
) -> (f64, f64, f64, f64) {
    let body = Arc::new(body.to_vec());
    let t0 = procstat::cpu_ticks(pid);
    let start = Instant::now();
    let per = n.div_ceil(clients);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (path, body) = (path.to_string(), body.clone());
            std::thread::spawn(move || {
                let mut c = Conn::new(port);
                (0..per)
                    .map(|_| {
                        let t = Instant::now();
                        let r = c.request("POST", &path, &[], &body).expect("probe request");
                        assert_eq!(r.status, 200, "probe request: {}", r.text());
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect();
    let wall = start.elapsed().as_secs_f64();
    let cpu = procstat::cpu_ticks(pid).saturating_sub(t0) as f64 / procstat::TICKS_PER_SEC as f64;
    let m = lat.len() as f64;
    (
        m / wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        cpu * 1e6 / m,
    )
}

/// Prints the platform's own cost per request.
pub fn section(clients: usize, quick: bool, base: &Path, figures: &mut Figures) {
    println!("## 2a. The platform's own cost per request (workerd, no code of ours)\n");
    println!("A JavaScript worker of twenty lines under the same workerd binary, its Durable Object state where the Leader's is (below); bodies of 232 bytes (one Prio3Count report). CPU: of the workerd process per request. This is what any design pays per request on this machine before doing any work, the yardstick for the upload figures below.\n");
    let dir = base.join(format!("edap-bench-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let probe = Probe::start(&dir);
    let pid = probe.child.id();
    let n = if quick { 1_000 } else { 4_000 };
    let body = vec![7u8; 232];
    println!("| request | clients | requests/s | p50 ms | p99 ms | workerd CPU µs/request |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (path, what) in [
        ("/plain", "answered by the worker"),
        ("/noop", "worker → Durable Object, no storage"),
        (
            "/sql",
            "worker → Durable Object → one SQLite insert in transactionSync",
        ),
    ] {
        // Warm-up, untimed.
        let _ = load(probe.port, pid, path, 200, 4, &body);
        for c in [1, clients] {
            let (rps, p50, p99, cpu) = load(probe.port, pid, path, n, c, &body);
            println!("| {what} | {c} | {rps:.0} | {p50:.2} | {p99:.2} | {cpu:.0} |");
            if c == clients {
                let key = path.trim_start_matches('/');
                figures.add(
                    &format!("platform.{key}.cpu_us_per_request"),
                    &format!("workerd floor, {what}: CPU per request"),
                    cpu,
                    "µs",
                    None,
                );
            }
        }
    }
    drop(probe);
    let _ = std::fs::remove_dir_all(&dir);
    println!();
}
