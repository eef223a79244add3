//! Safe by default, against the real worker under `wrangler dev`: a production-configured
//! deployment serves no test API and refuses plain-http peers; a request whose body never
//! arrives is answered 400 at once; the Durable Object files that hold keys and tokens are
//! readable by their owner only.

use edap_testkit::workerd::Workerd;
use edap_testkit::{Cluster, Wrangler};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn a_production_configured_deployment_has_no_test_api_and_wants_https_peers() {
    let dir = std::env::temp_dir().join(format!("edap-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The dev environment's bindings with every production value.
    let w = Wrangler::start(
        "prod-like",
        &dir,
        &[
            "DEVELOPMENT:false",
            "ENABLE_TEST_API:true",
            "MIN_BATCH_SIZE_FLOOR:100",
            "DAP_URL:https://leader.example/",
        ],
    );
    let r = w.request(
        "POST",
        "/internal/test/ready",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = w.request(
        "POST",
        "/internal/test/add_task",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(
        r.status,
        404,
        "the unauthenticated test API must not exist: {}",
        r.text()
    );
    // A task whose Helper is plain http is refused outside development.
    let collector = edap_core::hpke::HpkeKeypair::generate(
        edap_core::messages::HpkeConfigId(1),
        edap_core::messages::HpkeKemId::X25519_HKDF_SHA256,
    )
    .unwrap();
    let task = serde_json::json!({
        "peer_aggregator_endpoint": "http://helper.example/",
        "batch_mode": "TimeInterval",
        "aggregation_mode": null,
        "vdaf": "Prio3Count",
        "role": "Leader",
        "vdaf_verify_key": edap_testkit::base64url(&[1; 32]),
        "task_info": edap_testkit::base64url(b"t"),
        "task_start": null,
        "task_duration": null,
        "min_batch_size": 100,
        "time_precision": 3600,
        "collector_hpke_config": {
            "id": 1,
            "kem_id": "X25519HkdfSha256",
            "kdf_id": "HkdfSha256",
            "aead_id": "Aes128Gcm",
            "public_key": edap_testkit::base64url(&collector.config.public_key),
        },
        "aggregator_auth_token": {"type": "Bearer", "token": "a"},
        "collector_auth_token_hash": {"type": "Bearer", "hash": edap_testkit::base64url(&[2; 32])},
        // This deployment's own URL is https, so only the peer's is plain http.
        "task_config": null
    });
    let r = w.api("POST", "/tasks", Some(task));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("https"), "{}", r.text());
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends an upload that announces 1000 bytes, sends 10 and stops sending; returns the
/// whole answer (bounded by the read timeout).
fn truncated_upload(port: u16, task: &edap_core::messages::TaskId) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let head = format!(
        "POST /tasks/{task}/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
        edap_core::media::MediaType::UploadReq.as_str()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if answer.is_empty() => panic!("no answer within the read timeout: {e}"),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_worker_itself_answers_a_truncated_body_with_400_at_once() {
    // workerd serving the worker with no development proxy in front: the worker's own
    // answer, as in production.
    let dir = std::env::temp_dir().join(format!("edap-truncated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let w = Workerd::start("truncated", &dir, &[]);
    let text = truncated_upload(w.port, &edap_core::messages::TaskId([7; 32]));
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("could not be read"), "{text}");
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_body_that_never_arrives_is_answered_400_and_state_files_are_private() {
    let cluster = Cluster::start("hardening");
    let task = cluster.task(
        edap_core::messages::VdafConfig::Prio3Count,
        edap_core::messages::BatchMode::TimeInterval,
        edap_testkit::schedule(),
    );
    // An upload that announces 1000 bytes, sends 10 and stops sending.
    let mut s = TcpStream::connect(("127.0.0.1", cluster.leader.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let head = format!(
        "POST /tasks/{}/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
        task.task_id,
        edap_core::media::MediaType::UploadReq.as_str()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the whole answer (the server closes the connection; bounded by the timeout).
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if answer.is_empty() => panic!("no answer within the read timeout: {e}"),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    // The worker answers 400 as soon as the body read fails. Under `wrangler dev` the
    // development proxy in front of the worker sees the broken body first and answers 503
    // itself; either way the answer comes at once (within the read timeout above), not
    // after the runtime gives up on the request.
    assert!(
        text.starts_with("HTTP/1.1 400")
            || (text.starts_with("HTTP/1.1 503") && text.contains("restarted mid-request")),
        "{text}"
    );

    // Something was stored (the task, keys); every file of it is owner-only.
    let mut files = 0;
    let mut stack = vec![cluster.dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let path = e.path();
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.to_string_lossy();
            if name.contains("-state") && name.ends_with(".sqlite") {
                files += 1;
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode & 0o077, 0, "{name} is mode {mode:o}");
            }
        }
    }
    assert!(
        files > 0,
        "no Durable Object files found under {}",
        cluster.dir.display()
    );
}
