//! Authorization on every route of the console's JSON API, against the console under
//! `wrangler dev`: another account's aggregators, credentials, tasks, tokens, invitations
//! and members are unreachable (404, and nothing changes); no session is 401; a missing or
//! wrong CSRF token, or another origin, is refused (403); a revoked API token is 401; a
//! member cannot do an owner's part; failed sign-ins are limited.

mod common;

use common::{credential_body, histogram_task, task_ids, Answer, Client, Stack};
use edap_core::messages::{from_base64url, TaskConfiguration, TaskId};
use prio::codec::Decode;
use serde_json::{json, Value};

/// Every account-scoped route with a body that would succeed for the owner.
fn account_routes(a: &str, ids: &Ids) -> Vec<(&'static str, String, Option<Value>)> {
    let p = |s: &str| format!("accounts/{a}{s}");
    vec![
        ("GET", p(""), None),
        ("PATCH", p(""), Some(json!({"name": "renamed"}))),
        ("GET", p("/members"), None),
        (
            "PATCH",
            p(&format!("/members/{}", ids.user)),
            Some(json!({"role": "member"})),
        ),
        ("DELETE", p(&format!("/members/{}", ids.user)), None),
        ("GET", p("/invitations"), None),
        ("POST", p("/invitations"), Some(json!({"role": "member"}))),
        (
            "DELETE",
            p(&format!("/invitations/{}", ids.invitation)),
            None,
        ),
        ("GET", p("/api_tokens"), None),
        ("POST", p("/api_tokens"), Some(json!({"name": "x"}))),
        ("DELETE", p(&format!("/api_tokens/{}", ids.token)), None),
        ("GET", p("/aggregators"), None),
        (
            "POST",
            p("/aggregators"),
            Some(
                json!({"name": "x", "api_url": ids.helper_api, "api_token": edap_testkit::API_TOKEN}),
            ),
        ),
        ("GET", p(&format!("/aggregators/{}", ids.aggregator)), None),
        (
            "PATCH",
            p(&format!("/aggregators/{}", ids.aggregator)),
            Some(json!({"name": "x"})),
        ),
        (
            "DELETE",
            p(&format!("/aggregators/{}", ids.aggregator)),
            None,
        ),
        ("GET", p("/collector_credentials"), None),
        (
            "POST",
            p("/collector_credentials"),
            Some(credential_body("x", "t")),
        ),
        (
            "GET",
            p(&format!("/collector_credentials/{}", ids.credential)),
            None,
        ),
        (
            "DELETE",
            p(&format!("/collector_credentials/{}", ids.credential)),
            None,
        ),
        ("GET", p("/tasks"), None),
        (
            "POST",
            p("/tasks"),
            Some(histogram_task("x", &ids.credential)),
        ),
        ("GET", p(&format!("/tasks/{}", ids.task)), None),
        (
            "PATCH",
            p(&format!("/tasks/{}", ids.task)),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", p(&format!("/tasks/{}", ids.task)), None),
        ("GET", p(&format!("/tasks/{}/metrics", ids.task)), None),
    ]
}

/// The routes outside accounts that need a caller.
fn user_routes() -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "me".into(), None),
        ("POST", "signout".into(), Some(json!({}))),
        ("GET", "accounts".into(), None),
        ("POST", "accounts".into(), Some(json!({"name": "x"}))),
        (
            "POST",
            "invitations/accept".into(),
            Some(json!({"token": "x"})),
        ),
    ]
}

/// Ann's resources in her account.
struct Ids {
    user: String,
    invitation: String,
    token: String,
    aggregator: String,
    credential: String,
    task: String,
    helper_api: String,
}

fn ok(a: &Answer, what: &str) -> Value {
    assert!(a.status < 300, "{what}: HTTP {} {}", a.status, a.json);
    a.json.clone()
}

/// Everything Ann can see, to compare before and after the others' attempts.
fn snapshot(ann: &Client, a: &str) -> Value {
    let get = |p: &str| ok(&ann.call("GET", &format!("accounts/{a}{p}"), None), p);
    let mut tokens = get("/api_tokens");
    for t in tokens["api_tokens"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("last_used_at");
    }
    json!({
        "account": get(""), "invitations": get("/invitations"), "tokens": tokens,
        "aggregators": get("/aggregators"), "credentials": get("/collector_credentials"),
        "tasks": get("/tasks"),
    })
}

#[test]
fn every_route_keeps_accounts_apart() {
    let stack = Stack::start("console-authz", &[]);
    let port = stack.console.port;
    let (ann, a) = Client::sign_up(port, "ann@example.com");
    let (bob, b) = Client::sign_up(port, "bob@example.com");
    let me = ok(&ann.call("GET", "me", None), "me");
    let helper_api = format!("{}api", stack.cluster.helper.url());
    let agg = ok(
        &ann.call("POST", &format!("accounts/{a}/aggregators"), Some(json!({"name": "Our Helper", "api_url": helper_api, "api_token": edap_testkit::API_TOKEN}))),
        "pair",
    );
    let cred = ok(
        &ann.call(
            "POST",
            &format!("accounts/{a}/collector_credentials"),
            Some(credential_body("Ann's key", "ann-token")),
        ),
        "credential",
    );
    let credential = cred["id"].as_str().unwrap().to_string();
    let task = ok(
        &ann.call(
            "POST",
            &format!("accounts/{a}/tasks"),
            Some(histogram_task("Colours", &credential)),
        ),
        "task",
    );
    let inv = ok(
        &ann.call(
            "POST",
            &format!("accounts/{a}/invitations"),
            Some(json!({"role": "member"})),
        ),
        "invite",
    );
    let tok = ok(
        &ann.call(
            "POST",
            &format!("accounts/{a}/api_tokens"),
            Some(json!({"name": "ci"})),
        ),
        "token",
    );
    let ids = Ids {
        user: me["user"]["id"].as_str().unwrap().into(),
        invitation: inv["id"].as_str().unwrap().into(),
        token: tok["id"].as_str().unwrap().into(),
        aggregator: agg["id"].as_str().unwrap().into(),
        credential: credential.clone(),
        task: task["id"].as_str().unwrap().into(),
        helper_api,
    };
    // The snippet's task file is one `edap upload` accepts: the ID derives from the config.
    let file: Value =
        serde_json::from_str(task["snippets"]["task_file"].as_str().unwrap()).unwrap();
    let config = TaskConfiguration::get_decoded(
        &from_base64url(file["task_config"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        edap_core::task::derive_task_id(&config).unwrap(),
        TaskId::from_base64url(file["task_id"].as_str().unwrap()).unwrap()
    );
    assert_eq!(
        task_ids(&stack.cluster.leader),
        vec![task["task_id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        task_ids(&stack.cluster.helper),
        task_ids(&stack.cluster.leader)
    );
    let before = snapshot(&ann, &a);

    // Bob, signed in, and Bob's API token: every route of Ann's account is 404.
    let bob_token = ok(
        &bob.call(
            "POST",
            &format!("accounts/{b}/api_tokens"),
            Some(json!({"name": "bob"})),
        ),
        "bob token",
    );
    let bob_api = Client::with_token(port, bob_token["token"].as_str().unwrap());
    for who in [&bob, &bob_api] {
        for (m, path, body) in account_routes(&a, &ids) {
            let r = who.call(m, &path, body);
            assert_eq!(r.status, 404, "{m} {path}: {}", r.json);
            assert_eq!(r.json["error"], "not_found");
        }
        // Ann's IDs under Bob's own account: not found either.
        for (m, path, body) in account_routes(&b, &ids) {
            let names_anns = path.contains(&ids.task)
                || path.contains(&ids.aggregator)
                || path.contains(&ids.credential)
                || path.contains(&ids.token)
                || path.contains(&ids.invitation)
                || path.contains(&ids.user);
            if !names_anns {
                continue;
            }
            let r = who.call(m, &path, body);
            assert_eq!(r.status, 404, "{m} {path}: {}", r.json);
        }
    }
    // Nor can Bob build a task on Ann's credential or aggregator.
    let mut t = histogram_task("x", &credential);
    t["helper"] = ids.aggregator.clone().into();
    let r = bob.call("POST", &format!("accounts/{b}/tasks"), Some(t));
    assert_eq!(r.status, 400);
    assert!(r.field("credential").is_some(), "{}", r.json);
    assert_eq!(snapshot(&ann, &a), before, "Bob changed something of Ann's");

    // No session: 401 on every route.
    let nobody = Client::anonymous(port);
    for (m, path, body) in account_routes(&a, &ids).into_iter().chain(user_routes()) {
        let r = nobody.call(m, &path, body);
        assert_eq!(r.status, 401, "{m} {path}: {}", r.json);
    }
    // An expired or made-up session cookie is no session.
    let mut forged = Client::anonymous(port);
    forged.cookie = Some("edap_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    assert_eq!(forged.call("GET", "me", None).status, 401);

    // A wrong or missing CSRF token, or another origin: every state-changing route refuses.
    let mut wrong = ann.clone();
    wrong.csrf = Some("wrong-csrf-token".into());
    let mut missing = ann.clone();
    missing.csrf = None;
    for (m, path, body) in account_routes(&a, &ids).into_iter().chain(user_routes()) {
        if m == "GET" {
            continue;
        }
        for c in [&wrong, &missing] {
            let r = c.call(m, &path, body.clone());
            assert_eq!(r.status, 403, "{m} {path}: {}", r.json);
            assert!(
                r.json["message"].as_str().unwrap().contains("CSRF"),
                "{}",
                r.json
            );
        }
        let mut h = vec![
            ("cookie".to_string(), ann.cookie.clone().unwrap()),
            ("x-csrf-token".to_string(), ann.csrf.clone().unwrap()),
            ("origin".to_string(), "https://evil.example".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let r = ann.raw(m, &path, &h, b"{}");
        assert_eq!(r.status, 403, "cross-origin {m} {path}");
        // A form post (no JSON) is refused too.
        h.truncate(2);
        h.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        let r = ann.raw(m, &path, &h, b"name=x");
        assert_eq!(r.status, 400, "form {m} {path}");
    }
    assert_eq!(
        snapshot(&ann, &a),
        before,
        "a refused request changed something"
    );

    // API tokens: work for their account only; revoked, they are 401.
    let ann_api = Client::with_token(port, tok["token"].as_str().unwrap());
    assert_eq!(
        ann_api
            .call("GET", &format!("accounts/{a}/tasks"), None)
            .status,
        200
    );
    assert_eq!(
        ann_api
            .call("GET", &format!("accounts/{b}/tasks"), None)
            .status,
        404
    );
    assert_eq!(
        ok(
            &ann.call("GET", &format!("accounts/{a}/api_tokens"), None),
            "tokens"
        )["api_tokens"][0]["hint"],
        tok["hint"]
    );
    assert!(
        !ann.call("GET", &format!("accounts/{a}/api_tokens"), None)
            .raw
            .text()
            .contains(tok["token"].as_str().unwrap()),
        "a token is listed in clear"
    );
    assert_eq!(
        ann.call(
            "DELETE",
            &format!("accounts/{a}/api_tokens/{}", ids.token),
            None
        )
        .status,
        204
    );
    for (m, path, body) in account_routes(&a, &ids) {
        assert_eq!(
            ann_api.call(m, &path, body).status,
            401,
            "revoked token: {m} {path}"
        );
    }
    assert_eq!(
        Client::with_token(port, "edap_notatoken")
            .call("GET", "me", None)
            .status,
        401
    );

    // A member (by invitation) works in the account but does not do an owner's part.
    let (carol, _) = Client::sign_up(port, "carol@example.com");
    let joined = carol.call(
        "POST",
        "invitations/accept",
        Some(json!({"token": inv["token"]})),
    );
    assert_eq!(joined.status, 200, "{}", joined.json);
    assert_eq!(
        carol
            .call(
                "POST",
                "invitations/accept",
                Some(json!({"token": inv["token"]}))
            )
            .status,
        400,
        "invitations are single-use"
    );
    assert_eq!(
        carol
            .call("GET", &format!("accounts/{a}/tasks"), None)
            .status,
        200
    );
    for (m, path, body) in [
        ("POST", format!("accounts/{a}/invitations"), Some(json!({}))),
        ("GET", format!("accounts/{a}/api_tokens"), None),
        (
            "POST",
            format!("accounts/{a}/api_tokens"),
            Some(json!({"name": "c"})),
        ),
        ("DELETE", format!("accounts/{a}/members/{}", ids.user), None),
        (
            "PATCH",
            format!("accounts/{a}"),
            Some(json!({"name": "mine"})),
        ),
    ] {
        let r = carol.call(m, &path, body);
        assert_eq!(r.status, 403, "member {m} {path}: {}", r.json);
    }
    let carol_id = ok(&carol.call("GET", "me", None), "me")["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ann.call("DELETE", &format!("accounts/{a}/members/{carol_id}"), None)
            .status,
        204
    );
    assert_eq!(
        carol
            .call("GET", &format!("accounts/{a}/tasks"), None)
            .status,
        404,
        "a removed member still sees the account"
    );
    let r = ann.call(
        "DELETE",
        &format!("accounts/{a}/members/{}", ids.user),
        None,
    );
    assert_eq!(r.status, 409, "the last owner left: {}", r.json);

    // What a task uses cannot be deleted (checked and deleted in one statement); once the
    // tasks are gone it can.
    let mut t = histogram_task("On our Helper", &credential);
    t["helper"] = ids.aggregator.clone().into();
    t["min_batch_size"] = 12.into();
    let on_ours = ok(
        &ann.call("POST", &format!("accounts/{a}/tasks"), Some(t)),
        "a task on the paired Helper",
    );
    let agg_path = format!("accounts/{a}/aggregators/{}", ids.aggregator);
    let cred_path = format!("accounts/{a}/collector_credentials/{credential}");
    for path in [&agg_path, &cred_path] {
        let r = ann.call("DELETE", path, None);
        assert_eq!(r.status, 409, "DELETE {path}: {}", r.json);
        assert!(
            r.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("delete them first")),
            "{}",
            r.json
        );
        assert_eq!(
            ann.call("GET", path, None).status,
            200,
            "{path} went anyway"
        );
    }
    for task in [on_ours["id"].as_str().unwrap(), ids.task.as_str()] {
        let r = ann.call("DELETE", &format!("accounts/{a}/tasks/{task}"), None);
        assert_eq!(r.status, 204, "DELETE task {task}: {}", r.json);
    }
    for path in [&agg_path, &cred_path] {
        assert_eq!(ann.call("DELETE", path, None).status, 204, "DELETE {path}");
        assert_eq!(
            ann.call("GET", path, None).status,
            404,
            "{path} is still there"
        );
    }

    // Failed sign-ins: after 5 for one address, even the right password waits.
    for _ in 0..5 {
        let (_, r) = Client::session(port, "signin", "ann@example.com", "wrong password!");
        assert_eq!(r.status, 400, "{}", r.json);
        assert!(r.field("password").unwrap().contains("wrong"));
    }
    let (_, r) = Client::session(
        port,
        "signin",
        "ann@example.com",
        "a long enough passphrase",
    );
    assert_eq!(r.status, 429, "{}", r.json);
    assert!(r.raw.header("retry-after").is_some());
    let (_, r) = Client::session(
        port,
        "signin",
        "bob@example.com",
        "a long enough passphrase",
    );
    assert_eq!(r.status, 200, "another account is not locked: {}", r.json);
    // Signing out ends the session.
    assert_eq!(bob.call("POST", "signout", Some(json!({}))).status, 204);
    assert_eq!(bob.call("GET", "me", None).status, 401);
}
