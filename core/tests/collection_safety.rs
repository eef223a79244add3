//! Collection never loses a batch: a refused aggregate-share request changes nothing at the
//! Helper, a refused collection undoes the Leader's marks, and a job whose Helper answer
//! was lost or unusable after the Helper committed it is retried, never given up.

mod common;

use common::*;
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::mem::Fault;
use edap_core::messages::*;
use edap_core::roles::collector;
use edap_core::store::buckets::{report_checksum, xor_into};
use edap_core::vdaf::{AggregateResult, Measurement};
use prio::codec::{Decode, Encode};
use std::cell::Cell;
use std::rc::Rc;

fn uploaded(env: &Env, n: u64) -> (Vec<Report>, Vec<Measurement>) {
    let ms: Vec<Measurement> = (0..n)
        .map(|i| Measurement::Count(i.is_multiple_of(3)))
        .collect();
    let reports: Vec<Report> = ms.iter().map(|m| env.report(m)).collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    (reports, ms)
}

fn expected(ms: &[Measurement]) -> AggregateResult {
    let mut r = AggregateResult::zero(&VdafConfig::Prio3Count);
    for m in ms {
        r.add(m);
    }
    r
}

fn checksum(reports: &[Report]) -> [u8; 32] {
    let mut c = [0u8; 32];
    for r in reports {
        xor_into(&mut c, &report_checksum(&r.metadata.report_id));
    }
    c
}

fn share_request(env: &Env, count: u64, checksum: [u8; 32]) -> Response {
    let interval = env.current_interval();
    let req = AggregateShareReq {
        collection_job_req: collector::collection_job_req(Query::TimeInterval(interval)),
        batch_selector: BatchSelector::TimeInterval(interval),
        report_count: count,
        checksum,
    };
    env.helper.request(
        Method::Post,
        &format!("/tasks/{}/aggregate_shares", env.task_id),
        &[
            ("content-type", &MediaType::AggregateShareReq.as_str()),
            ("authorization", &format!("Bearer {AGG_TOKEN}")),
        ],
        req.get_encoded().unwrap(),
    )
}

fn problem_type(r: &Response) -> String {
    serde_json::from_slice::<edap_core::ProblemDocument>(&r.body)
        .map(|d| d.type_)
        .unwrap_or_default()
}

#[test]
fn a_mismatched_aggregate_share_request_changes_nothing() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let (reports, ms) = uploaded(&env, 12);
    let sum = checksum(&reports);

    // Off by one, and a wrong checksum: refused, and nothing is marked collected.
    let r = share_request(&env, 11, sum);
    assert_eq!(r.status, 400);
    assert!(problem_type(&r).ends_with(":batchMismatch"), "{r:?}");
    let r = share_request(&env, 12, [7; 32]);
    assert!(problem_type(&r).ends_with(":batchMismatch"), "{r:?}");

    // The right request then succeeds, and the Collector gets the exact result (the
    // Leader's identical request finds the same aggregate share).
    let r = share_request(&env, 12, sum);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    AggregateShare::get_decoded(&r.body).unwrap();
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(c.report_count, 12);
    assert_eq!(c.result, expected(&ms));
}

#[test]
fn a_refused_collection_leaves_the_batch_collectable() {
    for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
        let env = Env::new(VdafConfig::Prio3Count, mode, None);
        let (_, ms) = uploaded(&env, 10);
        // The Helper refuses the first aggregate-share request.
        let refusals = Rc::new(Cell::new(1));
        let left = refusals.clone();
        env.net.set_filter(
            HELPER,
            Box::new(move |req| {
                if req.url.contains("/aggregate_shares") && left.get() > 0 {
                    left.set(left.get() - 1);
                    let doc = edap_core::Abort::dap(
                        edap_core::DapErrorType::BatchMismatch,
                        "refused by the test",
                    );
                    return Some(edap_core::http::Response::problem(&doc));
                }
                None
            }),
        );
        let query = match mode {
            BatchMode::TimeInterval => Query::TimeInterval(env.current_interval()),
            BatchMode::LeaderSelected => Query::LeaderSelected,
        };
        let err = env.collect(query).unwrap_err();
        assert!(err.type_.ends_with(":batchMismatch"), "{mode:?}: {err:?}");
        assert_eq!(refusals.get(), 0);
        // The Leader undid its marks: the same query collects the batch exactly.
        let (c, _) = env.collect(query).unwrap();
        assert_eq!(c.report_count, 10, "{mode:?}");
        assert_eq!(c.result, expected(&ms), "{mode:?}");
        assert!(env
            .leader
            .logs
            .borrow()
            .iter()
            .any(|l| l.contains("\"event\":\"collection_failed\"")));
        assert_eq!(env.stats().get("collections_failed"), Some(&1));
    }
}

#[test]
fn a_job_whose_answer_was_lost_after_the_helpers_commit_collects_exactly() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    // Every job's first answer is lost: the Helper committed, the Leader saw a timeout.
    env.net.set_fault(
        HELPER,
        Fault {
            lose_answers: 3,
            ..Default::default()
        },
    );
    let (_, ms) = uploaded(&env, 12);
    let stats = env.stats();
    assert_eq!(stats.get("aggregated"), Some(&12), "{stats:?}");
    assert_eq!(stats.get("jobs_abandoned"), None, "{stats:?}");
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!((c.report_count, c.result), (12, expected(&ms)));
}

#[test]
fn an_unusable_answer_after_the_helpers_commit_is_retried_not_abandoned() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    // The Helper commits each job, but its first two answers arrive mangled.
    let mangled = Rc::new(Cell::new(2));
    let left = mangled.clone();
    env.net.set_mangler(
        HELPER,
        Box::new(move |req, mut resp| {
            if req.url.contains("/aggregation_jobs") && left.get() > 0 && !resp.body.is_empty() {
                left.set(left.get() - 1);
                resp.body.truncate(resp.body.len() / 2);
            }
            resp
        }),
    );
    let (_, ms) = uploaded(&env, 12);
    assert_eq!(mangled.get(), 0);
    let stats = env.stats();
    assert_eq!(stats.get("aggregated"), Some(&12), "{stats:?}");
    assert_eq!(stats.get("jobs_abandoned"), None, "{stats:?}");
    assert!(
        stats.get("helper_exchange_failures") >= Some(&2),
        "{stats:?}"
    );
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!((c.report_count, c.result), (12, expected(&ms)));
}

#[test]
fn a_job_the_helper_refused_releases_its_reports_and_they_aggregate_later() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    // The Helper refuses the first job outright (it commits nothing).
    let refusals = Rc::new(Cell::new(1));
    let left = refusals.clone();
    env.net.set_filter(
        HELPER,
        Box::new(move |req| {
            if req.url.contains("/aggregation_jobs") && left.get() > 0 {
                left.set(left.get() - 1);
                let doc = edap_core::Abort::invalid_message("refused by the test");
                return Some(edap_core::http::Response::problem(&doc));
            }
            None
        }),
    );
    let (_, ms) = uploaded(&env, 12);
    env.aggregate();
    let stats = env.stats();
    assert_eq!(stats.get("jobs_abandoned"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("aggregated"), Some(&12), "{stats:?}");
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!((c.report_count, c.result), (12, expected(&ms)));
    assert!(env
        .leader
        .logs
        .borrow()
        .iter()
        .any(|l| l.contains("\"event\":\"job_abandoned\"") && l.contains("refused by the test")));
}
