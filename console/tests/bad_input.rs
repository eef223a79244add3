//! Bad input, against the console under `wrangler dev`: every form field's invalid values
//! get a message for that field and store nothing; pairing an unreachable aggregator, one
//! that does not speak DAP-18, one with a wrong token, or (unless development allows it)
//! one on a loopback address says so.

mod common;

use common::{credential_body, histogram_task, start_console, task_ids, Client, Stack};
use edap_testkit::free_port;
use serde_json::{json, Value};

/// A server answering `GET /api/` as divviup's Janus 0.7 does (DAP-09), on loopback.
fn dap09_server() -> (u16, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().expect("ip").port();
    let h = std::thread::spawn(move || {
        // Bounded: a few requests at most, then the thread ends.
        for _ in 0..4 {
            let Ok(Some(req)) = server.recv_timeout(std::time::Duration::from_secs(120)) else {
                return;
            };
            let body = json!({"protocol": "DAP-09", "dap_url": "https://janus.example/", "role": "Either",
                "vdafs": ["Prio3Count"], "query_types": ["TimeInterval"], "features": [],
                "software_name": "Janus", "software_version": "0.7.0"});
            let _ = req
                .respond(tiny_http::Response::from_string(body.to_string()).with_status_code(200));
        }
    });
    (port, h)
}

fn fields(r: &common::Answer) -> Value {
    r.json["fields"].clone()
}

/// Posts `body` and checks that `field` (alone among `expected_fields`) has a message
/// containing `needle`.
fn expect_field(c: &Client, path: &str, body: Value, field: &str, needle: &str) {
    let r = c.call("POST", path, Some(body.clone()));
    assert_eq!(r.status, 400, "{path} {body}: {}", r.json);
    let msg = r
        .field(field)
        .unwrap_or_else(|| panic!("{path} {body}: no message for {field}: {}", r.json));
    assert!(
        msg.contains(needle),
        "{path} {field}: {msg:?} lacks {needle:?}"
    );
}

#[test]
fn every_field_says_what_is_wrong_and_nothing_is_stored() {
    let stack = Stack::start("console-input", &[]);
    let port = stack.console.port;

    // Sign-up.
    let anon = Client::anonymous(port);
    let signup = |email: &str, password: &str, account: Value| json!({"email": email, "password": password, "account_name": account});
    expect_field(
        &anon,
        "signup",
        signup("", "a long enough passphrase", json!("")),
        "email",
        "enter",
    );
    expect_field(
        &anon,
        "signup",
        signup("ann@", "a long enough passphrase", json!("")),
        "email",
        "not an email",
    );
    expect_field(
        &anon,
        "signup",
        signup("ann@example.com", "short", json!("")),
        "password",
        "at least 10",
    );
    expect_field(
        &anon,
        "signup",
        signup("ann@example.com", "ann@example.com", json!("")),
        "password",
        "email",
    );
    expect_field(
        &anon,
        "signup",
        signup(
            "ann@example.com",
            "a long enough passphrase",
            json!("x".repeat(81)),
        ),
        "account_name",
        "at most 80",
    );
    expect_field(
        &anon,
        "signin",
        json!({"email": "ann@example.com", "password": ""}),
        "password",
        "enter",
    );
    // None of those made a user.
    let (_, r) = Client::session(
        port,
        "signin",
        "ann@example.com",
        "a long enough passphrase",
    );
    assert_eq!(r.status, 400, "{}", r.json);
    let (ann, a) = Client::sign_up(port, "ann@example.com");
    expect_field(
        &anon,
        "signup",
        signup("ANN@example.com ", "another long passphrase", json!("")),
        "email",
        "exists",
    );
    let r = anon.raw(
        "POST",
        "signup",
        &[("content-type".into(), "application/json".into())],
        b"{not json",
    );
    assert_eq!(r.status, 400);

    // Pairing: each field, then aggregators that are unreachable, speak DAP-09, refuse the token.
    let pair = format!("accounts/{a}/aggregators");
    let helper_api = format!("{}api", stack.cluster.helper.url());
    let p = |name: &str, url: &str, token: &str| json!({"name": name, "api_url": url, "api_token": token});
    expect_field(&ann, &pair, p("", &helper_api, "t"), "name", "enter a name");
    expect_field(&ann, &pair, p("H", "", "t"), "api_url", "enter");
    expect_field(
        &ann,
        &pair,
        p("H", "helper.example/api", "t"),
        "api_url",
        "not a URL",
    );
    expect_field(
        &ann,
        &pair,
        p("H", "ftp://helper.example/", "t"),
        "api_url",
        "https",
    );
    expect_field(&ann, &pair, p("H", &helper_api, ""), "api_token", "enter");
    expect_field(
        &ann,
        &pair,
        p("H", &helper_api, "has spaces"),
        "api_token",
        "bearer token",
    );
    let unreachable = format!("http://127.0.0.1:{}/api", free_port());
    expect_field(
        &ann,
        &pair,
        p("H", &unreachable, "t"),
        "api_url",
        "could not reach",
    );
    let (dap09, server) = dap09_server();
    expect_field(
        &ann,
        &pair,
        p("Janus", &format!("http://127.0.0.1:{dap09}/api"), "t"),
        "api_url",
        "DAP-09",
    );
    expect_field(
        &ann,
        &pair,
        p("H", &helper_api, "wrong-token"),
        "api_token",
        "refused the API token",
    );
    expect_field(
        &ann,
        &pair,
        p(
            "H",
            &format!("{}nothing-here", stack.cluster.helper.url()),
            "t",
        ),
        "api_url",
        "no aggregator API",
    );
    drop(server);

    // Credentials.
    let creds = format!("accounts/{a}/collector_credentials");
    let good = credential_body("Key", "tok");
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    expect_field(
        &ann,
        &creds,
        with("name", json!("")),
        "name",
        "enter a name",
    );
    expect_field(
        &ann,
        &creds,
        with("hpke_config", json!("AAAA")),
        "hpke_config",
        "not an HPKE configuration",
    );
    expect_field(
        &ann,
        &creds,
        with("token_hash", json!("short")),
        "token_hash",
        "32 bytes",
    );

    // The wizard: one bad field at a time (the aggregators and credential exist).
    let cred = ann.call("POST", &creds, Some(credential_body("Key", "tok")));
    assert_eq!(cred.status, 201);
    let credential = cred.json["id"].as_str().unwrap().to_string();
    let tasks = format!("accounts/{a}/tasks");
    let base = histogram_task("Colours", &credential);
    let t = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("name", json!(" "), "enter a name"),
        ("kind", json!("median"), "choose one of"),
        ("labels", json!(["one"]), "at least two"),
        ("labels", json!(["a", "a"]), "twice"),
        ("time_precision", json!(10), "at least 60"),
        ("time_precision", json!("x"), "whole number"),
        ("min_batch_size", json!(0), "at least 1"),
        (
            "batch_mode",
            json!("weekly"),
            "time_interval or leader_selected",
        ),
        ("start", json!("soon"), "whole number"),
        ("end", json!(1000), "in the future"),
        ("leader", json!(""), "choose the Leader"),
        (
            "leader",
            json!("agg_AAAAAAAAAAAAAAAAAAAAAA"),
            "choose one of this account's aggregators",
        ),
        ("helper", json!("shared-leader"), "another aggregator"),
        (
            "credential",
            json!("crd_AAAAAAAAAAAAAAAAAAAAAA"),
            "choose one of this account's collector credentials",
        ),
    ];
    for (k, v, needle) in cases {
        expect_field(&ann, &tasks, t(k, v), k, needle);
    }
    let mut sum = t("kind", json!("sum"));
    expect_field(&ann, &tasks, sum.clone(), "max", "enter a number");
    sum["max"] = json!(-1);
    expect_field(&ann, &tasks, sum, "max", "whole number");
    expect_field(
        &ann,
        &tasks,
        t("kind", json!("multihot")),
        "max_choices",
        "enter a number",
    );
    let r = ann.call("POST", &tasks, Some(json!({})));
    assert_eq!(r.status, 400);
    for f in [
        "name",
        "kind",
        "leader",
        "helper",
        "credential",
        "time_precision",
        "min_batch_size",
    ] {
        assert!(
            fields(&r).get(f).is_some(),
            "empty wizard: no message for {f}: {}",
            r.json
        );
    }

    // Other forms.
    expect_field(
        &ann,
        &format!("accounts/{a}/api_tokens"),
        json!({"name": ""}),
        "name",
        "enter a name",
    );
    expect_field(
        &ann,
        &format!("accounts/{a}/invitations"),
        json!({"role": "admin"}),
        "role",
        "owner or member",
    );
    expect_field(
        &ann,
        "accounts",
        json!({"name": "x".repeat(81)}),
        "name",
        "at most 80",
    );
    expect_field(
        &ann,
        "invitations/accept",
        json!({"token": "made-up"}),
        "token",
        "unknown",
    );

    // Nothing of it was stored: one credential (the valid one), no own aggregator, no task,
    // no token, no invitation, one account; neither aggregator holds a task.
    let count = |path: &str, key: &str| {
        ann.call("GET", &format!("accounts/{a}{path}"), None).json[key]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("/collector_credentials", "collector_credentials"), 1);
    let aggs = ann.call("GET", &pair, None).json["aggregators"]
        .as_array()
        .unwrap()
        .clone();
    assert!(aggs.iter().all(|g| g["shared"] == true), "{aggs:?}");
    assert_eq!(count("/tasks", "tasks"), 0);
    assert_eq!(count("/api_tokens", "api_tokens"), 0);
    assert_eq!(count("/invitations", "invitations"), 0);
    assert_eq!(
        ann.call("GET", "accounts", None).json["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(task_ids(&stack.cluster.leader).is_empty());
    assert!(task_ids(&stack.cluster.helper).is_empty());
}

#[test]
fn loopback_aggregators_are_refused_unless_development_allows_them() {
    let dir = std::env::temp_dir().join(format!("edap-console-private-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let console = start_console(
        &dir,
        "https://leader.example/api",
        "https://helper.example/api",
        &["ALLOW_PRIVATE_AGGREGATORS:false"],
    );
    let (ann, a) = Client::sign_up(console.port, "ann@example.com");
    for url in [
        "http://127.0.0.1:8788/api",
        "http://localhost:8788/api",
        "http://10.0.0.7/api",
        "http://192.168.1.2/api",
        "http://169.254.169.254/latest",
        "http://[::1]:8788/api",
    ] {
        let r = ann.call(
            "POST",
            &format!("accounts/{a}/aggregators"),
            Some(json!({"name": "H", "api_url": url, "api_token": "t"})),
        );
        assert_eq!(r.status, 400, "{url}: {}", r.json);
        let m = r.field("api_url").unwrap_or_default();
        assert!(
            m.contains("address") || m.contains("local name"),
            "{url}: {m}"
        );
    }
    drop(console);
    let _ = std::fs::remove_dir_all(&dir);
}
