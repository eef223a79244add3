//! The Workers runtime itself, without `wrangler dev`'s development proxy in front: the
//! worker bundled as `wrangler deploy` would upload it (`--dry-run --outdir`), served by
//! the `workerd` binary wrangler ships, from a generated configuration with the same
//! Durable Object classes (SQLite-backed, on local disk), the development environment's
//! variables and outbound fetch allowed to loopback. This is what production runs, minus
//! Cloudflare's edge: the benchmark measures against it, and tests that must see the
//! worker's own answer (not the proxy's) use it. Stopped by process group in `Drop`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The bundle `wrangler deploy --dry-run --outdir` writes for the dev environment: the
/// JavaScript entry and the wasm module's file name.
struct Bundle {
    dir: PathBuf,
    wasm: String,
}

fn bundle() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("edap-workerd-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                ". scripts/env.sh && SKIP_WORKER_BUILD=1 wrangler deploy --dry-run --env dev --outdir '{}'",
                dir.display()
            ))
            .current_dir(crate::root())
            .stdin(Stdio::null())
            .output()
            .expect("wrangler deploy --dry-run");
        assert!(
            out.status.success(),
            "bundling the worker: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let wasm = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".wasm"))
            .expect("the bundle has a wasm module");
        Bundle { dir, wasm }
    })
}

/// `(name, value)` of the `[env.dev.vars]` and `(binding, class)` of the dev Durable
/// Object bindings, read from wrangler.toml (a minimal reader for this file's layout).
/// Name/value pairs.
type Pairs = Vec<(String, String)>;

fn dev_environment() -> (Pairs, Pairs) {
    let toml = std::fs::read_to_string(crate::root().join("wrangler.toml")).unwrap();
    let mut vars = Vec::new();
    let mut objects = Vec::new();
    let mut section = String::new();
    let mut pending_name: Option<String> = None;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"').to_string());
        match section.as_str() {
            "env.dev.vars" => vars.push((k.to_string(), v)),
            "env.dev.durable_objects.bindings" if k == "name" => pending_name = Some(v),
            "env.dev.durable_objects.bindings" if k == "class_name" => {
                if let Some(n) = pending_name.take() {
                    objects.push((n, v));
                }
            }
            _ => {}
        }
    }
    (vars, objects)
}

fn capnp_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One worker served by `workerd` on a loopback port, with its own state directory.
pub struct Workerd {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Its V8 inspector (DevTools protocol) port, for CPU profiles.
    pub inspector_port: u16,
    config: PathBuf,
    log: PathBuf,
}

impl Workerd {
    /// Starts the worker with the dev environment's variables, overridden or extended by
    /// `vars` (`NAME:VALUE`), its state in `dir`.
    pub fn start(name: &str, dir: &Path, vars: &[&str]) -> Workerd {
        Workerd::start_on(name, dir, crate::free_port(), vars)
    }

    /// [`Workerd::start`] on a given loopback port.
    pub fn start_on(name: &str, dir: &Path, port: u16, vars: &[&str]) -> Workerd {
        let b = bundle();
        let state = dir.join(format!("{name}-workerd-state"));
        std::fs::create_dir_all(&state).unwrap();
        let (mut env, objects) = dev_environment();
        for v in vars {
            let (k, val) = v.split_once(':').expect("NAME:VALUE");
            env.retain(|(n, _)| n != k);
            env.push((k.to_string(), val.to_string()));
        }
        let mut bindings: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("(name = {}, text = {})", capnp_string(k), capnp_string(v)))
            .collect();
        bindings.extend(objects.iter().map(|(n, c)| {
            format!(
                "(name = {}, durableObjectNamespace = {})",
                capnp_string(n),
                capnp_string(c)
            )
        }));
        let namespaces: Vec<String> = objects
            .iter()
            .map(|(_, c)| {
                format!(
                    "(className = {}, uniqueKey = {}, enableSql = true)",
                    capnp_string(c),
                    capnp_string(&format!("edap-{c}"))
                )
            })
            .collect();
        let config = format!(
            r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "disk", disk = (path = {state}, writable = true)),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = {addr}, http = (), service = "main") ],
);

const mainWorker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = {wasm_name}, wasm = embed {wasm_name}),
  ],
  compatibilityDate = "2026-04-01",
  bindings = [ {bindings} ],
  durableObjectNamespaces = [ {namespaces} ],
  durableObjectStorage = (localDisk = "disk"),
  globalOutbound = "internet",
);
"#,
            state = capnp_string(&state.display().to_string()),
            addr = capnp_string(&format!("127.0.0.1:{port}")),
            wasm_name = capnp_string(&b.wasm),
            bindings = bindings.join(",\n    "),
            namespaces = namespaces.join(",\n    "),
        );
        // `embed` paths are relative to the configuration file: it lives beside the bundle.
        let config_path = b.dir.join(format!("{name}-{port}.capnp"));
        std::fs::write(&config_path, config).unwrap();
        let log = dir.join(format!("{name}-workerd.log"));
        let mut w = Workerd {
            child: None,
            port,
            inspector_port: crate::free_port(),
            config: config_path,
            log,
        };
        w.launch();
        w
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        // umask 077: the Durable Object files hold keys and tokens (owner-only).
        let child = Command::new("bash")
            .arg("-c")
            .arg("umask 077; exec \"$0\" serve \"$1\" --experimental --inspector-addr=\"$2\"")
            .arg(crate::root().join("node_modules/.bin/workerd"))
            .arg(&self.config)
            .arg(format!("127.0.0.1:{}", self.inspector_port))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start workerd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if crate::http::request(self.port, "GET", "/", &[], &[]).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "workerd did not answer on port {}: {}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process group of the running instance.
    pub fn pgid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the instance (its state stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", c.id())])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
            let _ = c.wait();
        }
    }

    /// Stops and starts again on the same port and state.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// What workerd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        self.stop();
    }
}
