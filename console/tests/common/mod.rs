//! What the console's end-to-end tests share: the console under `wrangler dev` (its D1
//! migrations applied to a fresh local database first) beside a Leader and a Helper
//! (`edap_testkit::Cluster`), and a JSON API client with a cookie jar and the CSRF token,
//! or an API token. Everything runs on loopback, on ephemeral ports, and is stopped by
//! process group when dropped.
#![allow(dead_code)] // each test binary uses a part

use edap_testkit::http::{request, HttpResponse};
use edap_testkit::{free_port, root, Cluster, Wrangler, API_TOKEN};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The key sealing peer tokens in the tests (32 bytes of base64url).
pub const PEER_TOKEN_KEY: &str = "dGVzdC1wZWVyLXRva2VuLWtleS0zMi1ieXRlcy0hISE";

/// Longest `wrangler d1 migrations apply` may take.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(120);

fn check_built() {
    let r = root();
    assert!(
        r.join("console/build/index_bg.wasm").exists()
            && r.join("console/ui/dist/assets/app.js").exists(),
        "the console is not built: run console/build.sh (scripts/test does)"
    );
}

/// Applies the console's migrations to the local D1 database in `persist`.
fn migrate(persist: &Path, log: &Path) {
    let out = std::fs::File::create(log).expect("migration log");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(". ../scripts/env.sh && exec wrangler d1 migrations apply DB --local --env dev --persist-to \"$0\"")
        .arg(persist)
        .current_dir(root().join("console"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("run wrangler d1 migrations apply");
    let deadline = Instant::now() + MIGRATE_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wrangler d1 migrations apply did not finish within {MIGRATE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "wrangler d1 migrations apply failed: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts the console in `dir`, with the deployment's Leader and Helper at these aggregator
/// API URLs and `extra` `NAME:VALUE` variables.
pub fn start_console(dir: &Path, leader_api: &str, helper_api: &str, extra: &[&str]) -> Wrangler {
    check_built();
    let persist = dir.join("console-state");
    std::fs::create_dir_all(&persist).unwrap();
    migrate(&persist, &dir.join("migrations.log"));
    let mut args: Vec<String> = vec!["--env".into(), "dev".into()];
    let vars = [
        format!("LEADER_API_URL:{leader_api}"),
        format!("HELPER_API_URL:{helper_api}"),
        format!("LEADER_API_TOKEN:{API_TOKEN}"),
        format!("HELPER_API_TOKEN:{API_TOKEN}"),
        format!("PEER_TOKEN_KEY:{PEER_TOKEN_KEY}"),
    ];
    for v in vars.iter().map(String::as_str).chain(extra.iter().copied()) {
        args.push("--var".into());
        args.push(v.to_string());
    }
    Wrangler::start_config("console", dir, free_port(), "console/wrangler.toml", &args)
}

/// A Leader, a Helper (behind the cluster's fault proxy) and the console paired with both.
pub struct Stack {
    /// Dropped last: the console first, then the aggregators.
    pub console: Wrangler,
    pub cluster: Cluster,
}

impl Stack {
    /// Starts everything; the Helper's API is reached directly (the proxy is its DAP URL).
    pub fn start(label: &str, console_vars: &[&str]) -> Stack {
        let cluster = Cluster::start(label);
        let console = start_console(
            &cluster.dir,
            &format!("{}api", cluster.leader.url()),
            &format!("{}api", cluster.helper.url()),
            console_vars,
        );
        Stack { console, cluster }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.console.port)
    }

    pub fn dir(&self) -> PathBuf {
        self.cluster.dir.clone()
    }
}

/// An answer of the console's API.
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub raw: HttpResponse,
}

impl Answer {
    /// The message of a form field in an `invalid` answer.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.json["fields"][name].as_str()
    }
}

/// A client of the console's JSON API: a session (cookie and CSRF token) or an API token.
#[derive(Clone)]
pub struct Client {
    pub port: u16,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

impl Client {
    pub fn anonymous(port: u16) -> Client {
        Client {
            port,
            cookie: None,
            csrf: None,
            bearer: None,
        }
    }

    pub fn with_token(port: u16, token: &str) -> Client {
        Client {
            bearer: Some(token.to_string()),
            ..Client::anonymous(port)
        }
    }

    /// `method /api/v1/{path}` with the session's cookie and CSRF token (or the bearer token).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some(c) = &self.cookie {
            headers.push(("cookie".into(), c.clone()));
        }
        if let (Some(c), true) = (&self.csrf, method != "GET") {
            headers.push(("x-csrf-token".into(), c.clone()));
        }
        if let Some(t) = &self.bearer {
            headers.push(("authorization".into(), format!("Bearer {t}")));
        }
        self.raw(method, path, &headers, &body)
    }

    /// A request with exactly these headers.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Answer {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let raw = request(self.port, method, &format!("/api/v1/{path}"), &h, body)
            .unwrap_or_else(|e| panic!("{method} /api/v1/{path}: {e}"));
        let json = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
        Answer {
            status: raw.status,
            json,
            raw,
        }
    }

    /// Signs up (or in, with `signin`) and keeps the session.
    pub fn session(port: u16, endpoint: &str, email: &str, password: &str) -> (Client, Answer) {
        let mut c = Client::anonymous(port);
        let a = c.call(
            "POST",
            endpoint,
            Some(json!({"email": email, "password": password, "account_name": format!("{email}'s team")})),
        );
        if a.status < 300 {
            let set = a.raw.header("set-cookie").expect("Set-Cookie").to_string();
            c.cookie = Some(set.split(';').next().unwrap().to_string());
            c.csrf = a.json["csrf_token"].as_str().map(str::to_string);
        }
        (c, a)
    }

    /// A new user with their own account; returns the client and the account's ID.
    pub fn sign_up(port: u16, email: &str) -> (Client, String) {
        let (c, a) = Client::session(port, "signup", email, "a long enough passphrase");
        assert_eq!(a.status, 201, "sign-up: {}", a.json);
        let account = a.json["accounts"][0]["id"].as_str().unwrap().to_string();
        (c, account)
    }
}

/// A collector credential's public parts from the core (what the browser sends).
pub fn credential_body(name: &str, token: &str) -> Value {
    use edap_core::hpke::HpkeKeypair;
    use edap_core::messages::{base64url, HpkeConfigId, HpkeKemId};
    use prio::codec::Encode;
    let key = HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    let hash = edap_core::task::TokenHash::of(token);
    json!({
        "name": name,
        "hpke_config": base64url(&key.config.get_encoded().unwrap()),
        "token_hash": base64url(&hash.0),
    })
}

/// A valid wizard request for a histogram task with these aggregators and credential.
pub fn histogram_task(name: &str, credential: &str) -> Value {
    json!({
        "name": name, "kind": "histogram", "labels": ["red", "green", "blue"],
        "time_precision": 3600, "min_batch_size": 10, "batch_mode": "time_interval",
        "leader": "shared-leader", "helper": "shared-helper", "credential": credential
    })
}

/// The task IDs an aggregator holds (its `GET /api/task_ids`).
pub fn task_ids(w: &Wrangler) -> Vec<String> {
    let r = w.api("GET", "/task_ids", None);
    assert_eq!(r.status, 200, "task_ids: {}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["task_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}
