//! Observability without secrets: the whole flow, failures included (refused reports, a
//! lost Helper answer, a refused job, a refused collection, bad tokens, aggregator API
//! reads), and then no log line, no response and no answer between the aggregators holds a
//! token, the verify key or a private key.

mod common;

use common::*;
use edap_core::http::{Method, Response};
use edap_core::mem::Fault;
use edap_core::messages::*;
use edap_core::vdaf::Measurement;
use std::cell::Cell;
use std::rc::Rc;

fn text(r: &Response) -> String {
    let mut t = String::from_utf8_lossy(&r.body).into_owned();
    for (k, v) in &r.headers.0 {
        t.push_str(&format!("\n{k}: {v}"));
    }
    t
}

#[test]
fn no_log_line_or_response_carries_a_secret() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    // Only what happens after provisioning counts (the Helper's token is returned once, to
    // the provisioning call, by design).
    env.leader.responses.borrow_mut().clear();
    env.helper.responses.borrow_mut().clear();

    // Uploads with refusals.
    let mut reports: Vec<Report> = (0..12)
        .map(|i| env.report(&Measurement::Count(i % 2 == 0)))
        .collect();
    let mut outdated = env.report(&Measurement::Count(true));
    outdated.leader_encrypted_input_share.config_id = HpkeConfigId(200);
    reports.push(outdated);
    reports.push(reports[0].clone());
    env.upload(&reports);
    // A lost answer, then a refused job, on the way to aggregation.
    env.net.set_fault(
        HELPER,
        Fault {
            lose_answers: 1,
            ..Default::default()
        },
    );
    let refusals = Rc::new(Cell::new(1));
    let left = refusals.clone();
    env.net.set_filter(
        HELPER,
        Box::new(move |req| {
            if left.get() > 0 && req.url.contains("/aggregation_jobs") {
                left.set(left.get() - 1);
                return Some(Response::problem(&edap_core::Abort::invalid_message("no")));
            }
            None
        }),
    );
    env.aggregate();
    // A collection, a refused collection, bad tokens, API reads.
    env.collect(Query::TimeInterval(env.current_interval()))
        .expect("the collection");
    // A wider interval over the collected one: refused (batchOverlap).
    let i = env.current_interval();
    assert!(env
        .collect(Query::TimeInterval(Interval::new(i.start.0 - 1, 3)))
        .is_err());
    for token in ["wrong", ""] {
        env.leader.request(
            Method::Post,
            &format!("/tasks/{}/collection_jobs", env.task_id),
            &[("authorization", &format!("Bearer {token}"))],
            vec![],
        );
        env.helper.request(
            Method::Post,
            &format!("/tasks/{}/aggregation_jobs", env.task_id),
            &[("authorization", &format!("Bearer {token}"))],
            vec![],
        );
    }
    for path in [
        "/api/".to_string(),
        "/api/task_ids".to_string(),
        format!("/api/tasks/{}", env.task_id),
        format!("/api/tasks/{}/metrics/uploads", env.task_id),
        format!("/api/tasks/{}/metrics/aggregations", env.task_id),
        "/api/hpke_configs".to_string(),
    ] {
        for d in [&env.leader, &env.helper] {
            assert!(api(d, Method::Get, &path, None).status < 500, "{path}");
        }
    }

    let secrets: Vec<(String, String)> = vec![
        ("aggregator token".into(), AGG_TOKEN.into()),
        ("collector token".into(), COLLECTOR_TOKEN.into()),
        ("API token".into(), API_TOKEN.into()),
        ("verify key".into(), base64url(&env.verify_key)),
        (
            "collector private key".into(),
            base64url(env.collector_key.private_key()),
        ),
    ];
    let mut seen = Vec::new();
    for d in [&env.leader, &env.helper] {
        seen.extend(d.logs.borrow().iter().cloned());
        seen.extend(d.responses.borrow().iter().map(text));
    }
    seen.extend(env.net.answers.borrow().iter().map(text));
    // The flow did produce failures worth logging.
    let logs: Vec<String> = env.leader.logs.borrow().clone();
    for event in ["upload_refused", "helper_exchange_failed", "job_abandoned"] {
        assert!(
            logs.iter().any(|l| l.contains(event)),
            "no {event} event: {logs:?}"
        );
    }
    for (name, secret) in &secrets {
        assert!(!secret.is_empty());
        for s in &seen {
            assert!(!s.contains(secret.as_str()), "the {name} appears in: {s}");
        }
    }
}
