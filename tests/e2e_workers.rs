//! End to end under `wrangler dev --local`: a Leader and a Helper as two workers on
//! loopback, driven only over HTTP. Needs the prebuilt worker (scripts/test builds it).

use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::proxy::Mode;
use edap_testkit::*;
use prio::codec::Encode;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn vdafs() -> Vec<VdafConfig> {
    vec![
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum {
            max_measurement: 4_294_967_295,
        },
        VdafConfig::Prio3SumVec {
            length: 10,
            max_measurement: 255,
            chunk_length: 4,
        },
        VdafConfig::Prio3Histogram {
            length: 10,
            chunk_length: 4,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 10,
            chunk_length: 4,
            max_weight: 3,
        },
    ]
}

fn measurement(vdaf: &VdafConfig, i: u64) -> Measurement {
    match vdaf {
        VdafConfig::Prio3Count => Measurement::Count(i % 3 != 1),
        VdafConfig::Prio3Sum { .. } => Measurement::Sum(i * 1_000_003 % 4_294_967_296),
        VdafConfig::Prio3SumVec { .. } => {
            Measurement::Vector((0..10).map(|j| (i * 7 + j * 13) % 256).collect())
        }
        VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(i * 7 % 10),
        VdafConfig::Prio3MultihotCountVec { .. } => {
            let mut v = vec![0; 10];
            for j in 0..(i % 4) {
                v[((i + j * 3) % 10) as usize] = 1;
            }
            Measurement::Vector(v)
        }
    }
}

fn expected(vdaf: &VdafConfig, ms: &[Measurement]) -> AggregateResult {
    let mut r = AggregateResult::zero(vdaf);
    ms.iter().for_each(|m| r.add(m));
    r
}

fn add(a: &mut AggregateResult, b: &AggregateResult) {
    match (a, b) {
        (AggregateResult::Scalar(x), AggregateResult::Scalar(y)) => *x += y,
        (AggregateResult::Vector(x), AggregateResult::Vector(y)) => {
            x.iter_mut().zip(y).for_each(|(x, y)| *x += y)
        }
        _ => panic!("result kinds differ"),
    }
}

/// Every VDAF in both batch modes: real uploads over HTTP, the Leader's own alarms
/// aggregate, the Collector gets the exact aggregate and count.
#[test]
fn every_vdaf_both_batch_modes() {
    let cluster = Cluster::start("modes");
    let mut cases = Vec::new();
    for vdaf in vdafs() {
        for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
            let task = cluster.task(vdaf, mode, schedule());
            let n = if mode == BatchMode::TimeInterval {
                35
            } else {
                20
            };
            let ms: Vec<Measurement> = (0..n).map(|i| measurement(&vdaf, i)).collect();
            let refused = task.upload(&task.reports(&ms), 10);
            assert!(refused.is_empty(), "{vdaf:?}: {refused:?}");
            cases.push((vdaf, mode, task, ms));
        }
    }
    for (vdaf, mode, task, ms) in &cases {
        let stats = task.wait_processed(ms.len() as u64, WAIT);
        assert_eq!(
            stats.get("aggregated"),
            Some(&(ms.len() as u64)),
            "{vdaf:?} {mode:?}: {stats:?}"
        );
        match mode {
            BatchMode::TimeInterval => {
                let c = task
                    .collect(Query::TimeInterval(task.current_interval()), WAIT)
                    .unwrap();
                assert_eq!(c.report_count, ms.len() as u64, "{vdaf:?}");
                assert_eq!(c.result, expected(vdaf, ms), "{vdaf:?}");
            }
            BatchMode::LeaderSelected => {
                let a = task.collect(Query::LeaderSelected, WAIT).unwrap();
                let b = task.collect(Query::LeaderSelected, WAIT).unwrap();
                assert_eq!(a.report_count + b.report_count, ms.len() as u64, "{vdaf:?}");
                assert!(a.report_count >= 10 && b.report_count >= 10);
                let mut total = a.result.clone();
                add(&mut total, &b.result);
                assert_eq!(total, expected(vdaf, ms), "{vdaf:?}");
            }
        }
    }
}

/// The Leader's wrangler is restarted while its aggregation jobs are stuck on an
/// unavailable Helper and while others run: nothing is lost or counted twice.
#[test]
fn leader_restart_mid_aggregation() {
    let mut cluster = Cluster::start("restart");
    let vdaf = VdafConfig::Prio3Histogram {
        length: 10,
        chunk_length: 4,
    };
    let task = cluster.task(vdaf, BatchMode::TimeInterval, schedule());
    let ms: Vec<Measurement> = (0..400).map(|i| measurement(&vdaf, i)).collect();
    cluster.proxy.set(Mode::Unavailable);
    assert!(task.upload(&task.reports(&ms[..200]), 50).is_empty());
    std::thread::sleep(Duration::from_secs(3));
    let before = cluster
        .proxy
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(before > 0, "the Leader should have tried the Helper");
    cluster.leader.restart();
    cluster.proxy.set(Mode::Pass);
    assert!(task.upload(&task.reports(&ms[200..]), 50).is_empty());
    // Restart again while the second half is being aggregated.
    std::thread::sleep(Duration::from_millis(700));
    cluster.leader.restart();
    let stats = task.wait_processed(400, WAIT);
    assert_eq!(stats.get("aggregated"), Some(&400), "{stats:?}");
    let c = task
        .collect(Query::TimeInterval(task.current_interval()), WAIT)
        .unwrap();
    assert_eq!(c.report_count, 400);
    assert_eq!(c.result, expected(&vdaf, &ms));
}

/// The Helper refuses connections, answers 503, then loses answers after processing: the
/// Leader retries with backoff, the Helper's idempotency absorbs the replays, and the
/// result is exact (the Helper's count and checksum must match the Leader's).
#[test]
fn helper_outage_then_recovery() {
    let cluster = Cluster::start("outage");
    let vdaf = VdafConfig::Prio3Sum {
        max_measurement: 4_294_967_295,
    };
    let task = cluster.task(vdaf, BatchMode::TimeInterval, schedule());
    let ms: Vec<Measurement> = (0..120).map(|i| measurement(&vdaf, i)).collect();
    let reports = task.reports(&ms);
    cluster.proxy.set(Mode::Refuse);
    assert!(task.upload(&reports[..40], 20).is_empty());
    std::thread::sleep(Duration::from_secs(2));
    cluster.proxy.set(Mode::Unavailable);
    assert!(task.upload(&reports[40..80], 20).is_empty());
    std::thread::sleep(Duration::from_secs(2));
    cluster.proxy.set(Mode::LoseAnswer);
    assert!(task.upload(&reports[80..], 20).is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        task.stats().get("aggregated").copied().unwrap_or(0),
        0,
        "nothing can finish during the outage"
    );
    cluster.proxy.set(Mode::Pass);
    let stats = task.wait_processed(120, WAIT);
    assert_eq!(stats.get("aggregated"), Some(&120), "{stats:?}");
    // Lose the first answer to the aggregate-share request too: the Leader's retry gets the
    // Helper's stored share.
    cluster.proxy.lose_next(1);
    let c = task
        .collect(Query::TimeInterval(task.current_interval()), WAIT)
        .unwrap();
    assert_eq!(c.report_count, 120);
    assert_eq!(c.result, expected(&vdaf, &ms));
}

fn dap_error(r: &edap_testkit::http::HttpResponse) -> String {
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.text()
    );
    r.problem_type().unwrap_or_default()
}

/// Wrong or missing tokens, malformed bodies, unknown tasks and wrong media types: the
/// right status and problem type, and nothing changes.
#[test]
fn bad_requests_change_nothing() {
    let cluster = Cluster::start("bad");
    let vdaf = VdafConfig::Prio3Count;
    let task = cluster.task(vdaf, BatchMode::TimeInterval, schedule());
    let ms: Vec<Measurement> = (0..30).map(|i| measurement(&vdaf, i)).collect();
    let reports = task.reports(&ms);
    let good_body = UploadRequest {
        reports: reports.clone(),
    }
    .get_encoded()
    .unwrap();
    let tid = task.task_id;
    let leader = &cluster.leader;
    let helper = &cluster.helper;
    let upload = MediaType::UploadReq.as_str();

    // Upload: wrong media type, malformed body, unknown task, wrong method.
    let r = task.upload_raw(&good_body, "application/octet-stream");
    assert_eq!(r.status, 415);
    let r = task.upload_raw(&good_body[..good_body.len() - 3], &upload);
    assert_eq!(
        (r.status, dap_error(&r)),
        (400, "urn:ietf:params:ppm:dap:error:invalidMessage".into())
    );
    let unknown = TaskId([7; 32]);
    let r = leader.request(
        "POST",
        &format!("/tasks/{unknown}/reports"),
        &[("content-type", &upload)],
        &good_body,
    );
    assert_eq!(
        (r.status, dap_error(&r)),
        (404, "urn:ietf:params:ppm:dap:error:unrecognizedTask".into())
    );
    assert_eq!(
        leader.request("DELETE", "/hpke_config", &[], &[]).status,
        405
    );
    assert_eq!(task.stats().get("uploaded"), None, "nothing stored");

    // Collection: missing and wrong tokens, wrong media type, malformed body.
    let creq = edap_core::roles::collector::collection_job_req(Query::TimeInterval(
        task.current_interval(),
    ))
    .get_encoded()
    .unwrap();
    let ct = MediaType::CollectionJobReq.as_str();
    let path = format!("/tasks/{tid}/collection_jobs");
    let r = leader.request("POST", &path, &[("content-type", &ct)], &creq);
    assert_eq!(r.status, 401);
    let r = leader.request(
        "POST",
        &path,
        &[("content-type", &ct), ("authorization", "Bearer nope")],
        &creq,
    );
    assert_eq!(r.status, 403);
    let r = leader.request(
        "POST",
        &path,
        &[
            ("content-type", &ct),
            ("authorization", &format!("Bearer {AGG_TOKEN}")),
        ],
        &creq,
    );
    assert_eq!(
        r.status, 403,
        "the aggregator token is not the collector token"
    );
    let auth = format!("Bearer {COLLECTOR_TOKEN}");
    let r = leader.request(
        "POST",
        &path,
        &[("content-type", &upload), ("authorization", &auth)],
        &creq,
    );
    assert_eq!(r.status, 415);
    let r = leader.request(
        "POST",
        &path,
        &[("content-type", &ct), ("authorization", &auth)],
        b"\x01\x00",
    );
    assert_eq!(
        (r.status, dap_error(&r)),
        (400, "urn:ietf:params:ppm:dap:error:invalidMessage".into())
    );
    let r = leader.request(
        "GET",
        &format!("{path}/AAAAAAAAAAAAAAAAAAAAAA"),
        &[("authorization", &auth)],
        &[],
    );
    assert_eq!(r.status, 404);

    // Helper: tokens, media type, malformed body, unknown task; DAP-Auth-Token is accepted too.
    let init = MediaType::AggregationJobInitReq.as_str();
    let hpath = format!("/tasks/{tid}/aggregation_jobs");
    let r = helper.request("POST", &hpath, &[("content-type", &init)], b"\x00");
    assert_eq!(r.status, 401);
    let r = helper.request(
        "POST",
        &hpath,
        &[
            ("content-type", &init),
            ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
        ],
        b"\x00",
    );
    assert_eq!(r.status, 403);
    let r = helper.request(
        "POST",
        &hpath,
        &[("content-type", &ct), ("dap-auth-token", AGG_TOKEN)],
        b"\x00",
    );
    assert_eq!(r.status, 415);
    let r = helper.request(
        "POST",
        &hpath,
        &[("content-type", &init), ("dap-auth-token", AGG_TOKEN)],
        b"\x00\x00",
    );
    assert_eq!(
        (r.status, dap_error(&r)),
        (400, "urn:ietf:params:ppm:dap:error:invalidMessage".into())
    );
    let r = helper.request(
        "POST",
        &format!("/tasks/{unknown}/aggregation_jobs"),
        &[("content-type", &init), ("dap-auth-token", AGG_TOKEN)],
        b"",
    );
    assert_eq!(
        (r.status, dap_error(&r)),
        (404, "urn:ietf:params:ppm:dap:error:unrecognizedTask".into())
    );
    let r = helper.request(
        "GET",
        &format!("{hpath}/AAAAAAAAAAAAAAAAAAAAAA?step=0"),
        &[("dap-auth-token", AGG_TOKEN)],
        &[],
    );
    assert_eq!(
        (r.status, dap_error(&r)),
        (
            404,
            "urn:ietf:params:ppm:dap:error:unrecognizedAggregationJob".into()
        )
    );
    // The Leader does not serve the Helper's resources for this task, and vice versa.
    let r = leader.request(
        "POST",
        &hpath,
        &[("content-type", &init), ("dap-auth-token", AGG_TOKEN)],
        b"",
    );
    assert_eq!(r.status, 404);
    // Aggregator API: token required (401 without one and with a wrong one).
    assert_eq!(leader.request("GET", "/api/task_ids", &[], &[]).status, 401);
    assert_eq!(
        leader
            .request(
                "GET",
                "/api/task_ids",
                &[("authorization", "Bearer x")],
                &[]
            )
            .status,
        401
    );

    // Nothing above changed state: the real flow still gives the exact result.
    assert!(task.upload(&reports, 30).is_empty());
    let stats = task.wait_processed(30, WAIT);
    assert_eq!(stats.get("aggregated"), Some(&30));
    let c = task
        .collect(Query::TimeInterval(task.current_interval()), WAIT)
        .unwrap();
    assert_eq!((c.report_count, c.result), (30, expected(&vdaf, &ms)));
}

/// A Helper that defers every aggregation job: the Leader follows `Location` and
/// `Retry-After` and polls with GET until the answer is ready.
#[test]
fn asynchronous_helper() {
    let cluster = Cluster::start_with("async", &["HELPER_ASYNC_THRESHOLD:0"]);
    let vdaf = VdafConfig::Prio3MultihotCountVec {
        length: 10,
        chunk_length: 4,
        max_weight: 3,
    };
    let task = cluster.task(vdaf, BatchMode::LeaderSelected, schedule());
    let ms: Vec<Measurement> = (0..20).map(|i| measurement(&vdaf, i)).collect();
    assert!(task.upload(&task.reports(&ms), 20).is_empty());
    let stats = task.wait_processed(20, WAIT);
    assert_eq!(stats.get("aggregated"), Some(&20), "{stats:?}");
    let log = cluster.helper.log();
    assert!(
        log.contains("GET /tasks/"),
        "the Leader should have polled the Helper:\n{log}"
    );
    let a = task.collect(Query::LeaderSelected, WAIT).unwrap();
    let b = task.collect(Query::LeaderSelected, WAIT).unwrap();
    let mut total = a.result.clone();
    add(&mut total, &b.result);
    assert_eq!(
        (a.report_count + b.report_count, total),
        (20, expected(&vdaf, &ms))
    );
}
