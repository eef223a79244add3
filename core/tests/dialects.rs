//! Both forms of resource creation: a Leader in each dialect (DAP-18's POST, the PUT that
//! deployed peers speak, and auto) against a Helper in each dialect (ours accepts both; a
//! filter on the simulated network plays a Helper that accepts only one), for every VDAF
//! and both batch modes; Collectors creating jobs with PUT and with POST; and a Helper that
//! accepts neither form, which the Leader reports instead of stalling.

mod common;

use common::*;
use edap_core::http::{Method, OutboundRequest, Response};
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::collector;
use edap_core::task::PeerDialect;
use edap_core::vdaf::{AggregateResult, Measurement};
use prio::codec::{Decode, Encode};

/// Which forms the simulated Helper accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum HelperForms {
    Both,
    PostOnly,
    PutOnly,
    Neither,
}

fn is_creation(req: &OutboundRequest) -> Option<Method> {
    let path = req.url.split('?').next().unwrap_or("");
    let creates = path.ends_with("/aggregation_jobs")
        || path.ends_with("/aggregate_shares")
        || path.contains("/aggregation_jobs/")
        || path.contains("/aggregate_shares/");
    match req.method {
        Method::Post
            if path.ends_with("/aggregation_jobs") || path.ends_with("/aggregate_shares") =>
        {
            Some(Method::Post)
        }
        Method::Put if creates => Some(Method::Put),
        _ => None,
    }
}

fn restrict(env: &Env, forms: HelperForms) {
    if forms == HelperForms::Both {
        return;
    }
    env.net.set_filter(
        HELPER,
        Box::new(move |req| {
            let refused = match (forms, is_creation(req)?) {
                (HelperForms::PostOnly, Method::Put) => 405,
                (HelperForms::PutOnly, Method::Post) => 404,
                (HelperForms::Neither, Method::Post) => 404,
                (HelperForms::Neither, Method::Put) => 405,
                _ => return None,
            };
            // What a router answers for a route or method it does not have: no DAP
            // problem document.
            Some(Response::empty(refused))
        }),
    );
}

fn run(vdaf: VdafConfig, mode: BatchMode, dialect: PeerDialect, forms: HelperForms) {
    let env = Env::build(EnvOptions {
        vdaf,
        mode,
        helper_dialect: dialect,
        ..EnvOptions::default()
    });
    restrict(&env, forms);
    let ms: Vec<Measurement> = (0..10).map(|i| measurement(&vdaf, i)).collect();
    let reports: Vec<Report> = ms.iter().map(|m| env.report(m)).collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let query = match mode {
        BatchMode::TimeInterval => Query::TimeInterval(env.current_interval()),
        BatchMode::LeaderSelected => Query::LeaderSelected,
    };
    let label = format!("{vdaf:?} {mode:?} Leader {dialect:?} Helper {forms:?}");
    let (c, _) = env
        .collect(query)
        .unwrap_or_else(|p| panic!("{label}: {p:?}"));
    let mut want = AggregateResult::zero(&vdaf);
    for m in &ms {
        want.add(m);
    }
    assert_eq!(c.report_count, 10, "{label}");
    assert_eq!(c.result, want, "{label}");
    // The Leader spoke the form it was told to (auto: whatever the Helper accepts).
    let sent = env.net.sent.borrow();
    let put = sent
        .iter()
        .any(|r| r.method == Method::Put && r.url.contains("/aggregation_jobs/"));
    let post = sent
        .iter()
        .any(|r| r.method == Method::Post && r.url.ends_with("/aggregation_jobs"));
    match dialect {
        PeerDialect::Put => assert!(put && !post, "{label}"),
        PeerDialect::Post => assert!(post && !put, "{label}"),
        PeerDialect::Auto => assert!(put || post, "{label}"),
    }
}

#[test]
fn every_leader_dialect_against_every_helper_that_accepts_it() {
    for vdaf in vdafs() {
        for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
            for (dialect, forms) in [
                (PeerDialect::Post, HelperForms::Both),
                (PeerDialect::Put, HelperForms::Both),
                (PeerDialect::Post, HelperForms::PostOnly),
                (PeerDialect::Put, HelperForms::PutOnly),
                (PeerDialect::Auto, HelperForms::PostOnly),
                (PeerDialect::Auto, HelperForms::PutOnly),
            ] {
                run(vdaf, mode, dialect, forms);
            }
        }
    }
}

#[test]
fn auto_learns_the_helpers_form_once() {
    let env = Env::build(EnvOptions::default());
    restrict(&env, HelperForms::PutOnly);
    for round in 0..3 {
        let reports: Vec<Report> = (0..5)
            .map(|_| env.report(&Measurement::Count(true)))
            .collect();
        assert!(env.upload(&reports).is_empty(), "round {round}");
        env.aggregate();
    }
    assert_eq!(env.stats().get("aggregated"), Some(&15));
    let sent = env.net.sent.borrow();
    let posts = sent
        .iter()
        .filter(|r| r.method == Method::Post && r.url.ends_with("/aggregation_jobs"))
        .count();
    let puts = sent
        .iter()
        .filter(|r| r.method == Method::Put && r.url.contains("/aggregation_jobs/"))
        .count();
    assert_eq!(posts, 1, "only the first job tries POST");
    assert!(puts >= 3, "{puts}");
}

#[test]
fn a_helper_that_accepts_neither_form_is_reported_not_waited_for() {
    let env = Env::build(EnvOptions::default());
    restrict(&env, HelperForms::Neither);
    let reports: Vec<Report> = (0..12)
        .map(|_| env.report(&Measurement::Count(true)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    let req = collector::collection_job_req(Query::TimeInterval(env.current_interval()));
    let created = env.collection_post(&req);
    assert_eq!(created.status, 201);
    let location = created.headers.get("location").unwrap().to_string();
    // Within one retry cycle of the first job (bounded in simulated time), the collection
    // fails with a readable reason.
    let mut answer = None;
    env.net.run_until(30_000, || {
        let r = env.collection_get(&location);
        let done = r.status >= 400 || !r.body.is_empty();
        if done {
            answer = Some(r);
        }
        done
    });
    let r = answer.expect("the collection must fail, not wait");
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
    let doc: edap_core::ProblemDocument = serde_json::from_slice(&r.body).unwrap();
    let detail = doc.detail.unwrap_or_default();
    assert!(detail.contains("accepts no form"), "{detail}");
    assert!(
        detail.contains("HTTP 404") && detail.contains("HTTP 405"),
        "{detail}"
    );
    // A log line per failed exchange and per abandoned job; task metrics count both.
    let logs = env.leader.logs.borrow();
    assert!(logs
        .iter()
        .any(|l| l.contains("\"event\":\"helper_exchange_failed\"")
            && l.contains("\"status\":405")
            && l.contains("\"peer\":\"http://helper.test\"")));
    assert!(logs
        .iter()
        .any(|l| l.contains("\"event\":\"job_abandoned\"")));
    drop(logs);
    let stats = env.stats();
    assert!(
        stats.get("helper_exchange_failures") >= Some(&1),
        "{stats:?}"
    );
    assert!(stats.get("jobs_abandoned") >= Some(&1), "{stats:?}");
}

fn collection_put(env: &Env, id: &CollectionJobId, req: &CollectionJobReq) -> Response {
    env.leader.request(
        Method::Put,
        &format!("/tasks/{}/collection_jobs/{id}", env.task_id),
        &[
            ("content-type", &MediaType::CollectionJobReq.as_str()),
            ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
        ],
        req.get_encoded().unwrap(),
    )
}

#[test]
fn collectors_create_jobs_with_put_and_with_post_on_the_same_leader() {
    let env = Env::build(EnvOptions::default());
    let now = now_secs(&env) / PRECISION;
    // Reports in two hours: one collected with PUT, the other with POST.
    let mut ms = Vec::new();
    for (hour, n) in [(now - 1, 10u64), (now, 11)] {
        let reports: Vec<Report> = (0..n)
            .map(|i| {
                let m = Measurement::Count(i.is_multiple_of(2));
                ms.push((hour, m.clone()));
                env.client.report(&m, hour * PRECISION + 5).unwrap()
            })
            .collect();
        assert!(env.upload(&reports).is_empty());
    }
    env.aggregate();
    let expected = |hour: u64| {
        let mut r = AggregateResult::zero(&VdafConfig::Prio3Count);
        for (_, m) in ms.iter().filter(|(h, _)| *h == hour) {
            r.add(m);
        }
        r
    };

    // PUT with a Collector-chosen ID: 201 with an empty body, then GET by that ID.
    let id = CollectionJobId::random();
    let req = collector::collection_job_req(Query::TimeInterval(Interval::new(now - 1, 1)));
    let r = collection_put(&env, &id, &req);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty());
    // The same PUT again is the same job; the same ID with another request is a conflict.
    assert_eq!(collection_put(&env, &id, &req).status, 201);
    let other = collector::collection_job_req(Query::TimeInterval(Interval::new(now - 2, 1)));
    assert_eq!(collection_put(&env, &id, &other).status, 409);
    let path = format!("/tasks/{}/collection_jobs/{id}", env.task_id);
    let mut body = Vec::new();
    env.net.run_until(60_000, || {
        let g = env.collection_get(&path);
        assert_eq!(g.status, 200, "{}", String::from_utf8_lossy(&g.body));
        body = g.body;
        !body.is_empty()
    });
    let resp = CollectionJobResp::get_decoded(&body).unwrap();
    let c = collector::finish(&env.task_id, &env.config, &env.collector_key, &req, &resp).unwrap();
    assert_eq!((c.report_count, c.result), (10, expected(now - 1)));
    let del = env.leader.request(
        Method::Delete,
        &path,
        &[("authorization", &format!("Bearer {COLLECTOR_TOKEN}"))],
        vec![],
    );
    assert!(del.status < 300);
    assert_eq!(env.collection_get(&path).status, 404);

    // POST (DAP-18) for the other hour, on the same Leader.
    let (c, _) = env
        .collect(Query::TimeInterval(Interval::new(now, 1)))
        .unwrap();
    assert_eq!((c.report_count, c.result), (11, expected(now)));

    // A malformed PUT ID is refused with a problem document.
    let r = env.leader.request(
        Method::Put,
        &format!("/tasks/{}/collection_jobs/not-an-id", env.task_id),
        &[
            ("content-type", &MediaType::CollectionJobReq.as_str()),
            ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
        ],
        req.get_encoded().unwrap(),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn put_collections_are_the_unambiguous_way_to_ask_for_the_next_batch() {
    let env = Env::build(EnvOptions {
        mode: BatchMode::LeaderSelected,
        ..EnvOptions::default()
    });
    let reports: Vec<Report> = (0..20)
        .map(|_| env.report(&Measurement::Count(true)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let req = collector::collection_job_req(Query::LeaderSelected);
    let mut batches = Vec::new();
    for _ in 0..2 {
        let id = CollectionJobId::random();
        assert_eq!(collection_put(&env, &id, &req).status, 201);
        let path = format!("/tasks/{}/collection_jobs/{id}", env.task_id);
        let mut body = Vec::new();
        env.net.run_until(60_000, || {
            body = env.collection_get(&path).body;
            !body.is_empty()
        });
        let resp = CollectionJobResp::get_decoded(&body).unwrap();
        let c =
            collector::finish(&env.task_id, &env.config, &env.collector_key, &req, &resp).unwrap();
        batches.push(c.report_count);
    }
    assert_eq!(batches, vec![10, 10], "two IDs, two batches");
}
