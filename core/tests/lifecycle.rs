//! Nothing kept forever: weeks of simulated uploads, aggregation, collections and expiries
//! on the in-memory platform's clock keep the stored keys per task bounded while every
//! collection stays exact; reports older than the expiry age are refused; deleting a task
//! deletes all of its state on both aggregators.

mod common;

use common::*;
use edap_core::http::Method;
use edap_core::messages::*;
use edap_core::roles::collector;
use edap_core::vdaf::Measurement;
use std::collections::BTreeMap;

const HOUR_MS: u64 = PRECISION * 1000;
const DAY: u64 = 86_400;

fn env() -> Env {
    Env::build(EnvOptions {
        // Reports are kept one day past the end of their hour.
        report_expiry_age: Some(DAY),
        ..EnvOptions::default()
    })
}

/// Runs every alarm due within the next `ms` of simulated time, moving the clock there.
fn pass(env: &Env, ms: u64) {
    let until = env.net.now_ms() + ms;
    env.net.run_until(ms, || false);
    if env.net.now_ms() < until {
        env.net.advance_ms(until - env.net.now_ms());
    }
    env.net.run_due_alarms(100_000);
}

#[test]
fn weeks_of_traffic_keep_storage_bounded_and_results_exact() {
    let env = env();
    let mut per_day: Vec<(usize, usize)> = Vec::new();
    let mut peak_kinds: BTreeMap<String, usize> = BTreeMap::new();
    let days = 21;
    for hour in 0..days * 24 {
        // Twelve reports this hour, 1 in 3 true.
        let ms: Vec<Measurement> = (0..12u64)
            .map(|i| Measurement::Count(i.is_multiple_of(3)))
            .collect();
        let reports: Vec<Report> = ms.iter().map(|m| env.report(m)).collect();
        assert!(env.upload(&reports).is_empty(), "hour {hour}");
        pass(&env, 60_000);
        // The hour's batch, collected exactly.
        let (c, _) = env
            .collect(Query::TimeInterval(env.current_interval()))
            .unwrap_or_else(|p| panic!("hour {hour}: {p:?}"));
        assert_eq!(c.report_count, 12, "hour {hour}");
        assert_eq!(
            c.result,
            edap_core::vdaf::AggregateResult::Scalar(4),
            "hour {hour}"
        );
        pass(&env, HOUR_MS - (env.net.now_ms() % HOUR_MS));
        if hour % 24 == 23 {
            per_day.push((
                env.leader.task_keys(&env.task_id),
                env.helper.task_keys(&env.task_id),
            ));
            for (k, v) in env.leader.keys_by_kind(Some(&env.task_id)) {
                let e = peak_kinds.entry(format!("leader {k}")).or_insert(0);
                *e = (*e).max(v);
            }
            for (k, v) in env.helper.keys_by_kind(Some(&env.task_id)) {
                let e = peak_kinds.entry(format!("helper {k}")).or_insert(0);
                *e = (*e).max(v);
            }
        }
    }
    // After the first days (one expiry age plus the retention of finished jobs), storage
    // stops growing: the last two weeks stay within a fifth of the third day's level.
    eprintln!("stored keys per day (leader, helper): {per_day:?}");
    let (l3, h3) = per_day[2];
    for (day, (l, h)) in per_day.iter().enumerate().skip(3) {
        assert!(
            *l <= l3 + l3 / 5 && *h <= h3 + h3 / 5,
            "day {day}: leader {l} helper {h} keys, day 3: {l3} {h3} ({per_day:?}, peaks {peak_kinds:?})"
        );
    }
    // And it is far below what keeping everything would take (21 days x 24 hours x 12
    // reports, each with at least a replay record at both aggregators).
    let (l, h) = per_day[days as usize - 1];
    assert!(l < 2_000 && h < 2_000, "{per_day:?}");
    let stats = env.stats();
    assert_eq!(stats.get("aggregated"), Some(&(12 * 24 * days)));
    assert!(env
        .leader
        .logs
        .borrow()
        .iter()
        .any(|l| l.contains("\"event\":\"state_expired\"")));
}

#[test]
fn reports_older_than_the_expiry_age_are_refused() {
    let env = env();
    let now = now_secs(&env);
    let old_time = now - DAY - 2 * PRECISION;
    let old = env
        .client
        .report(&Measurement::Count(true), old_time)
        .unwrap();
    let fresh = env.report(&Measurement::Count(true));
    let errs = env.upload(&[old.clone(), fresh]);
    assert_eq!(
        errs,
        vec![(old.metadata.report_id, ReportError::ReportDropped)]
    );
    assert_eq!(env.stats().get("upload_rejected:report_dropped"), Some(&1));
}

#[test]
fn deleting_a_task_deletes_all_of_its_state_on_both_aggregators() {
    let env = env();
    let reports: Vec<Report> = (0..24u64)
        .map(|i| env.report(&Measurement::Count(i.is_multiple_of(2))))
        .collect();
    assert!(env.upload(&reports).is_empty());
    pass(&env, 60_000);
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(c.report_count, 24);
    // Pending reports too (in the next hour): uploaded but not yet in a job.
    env.net.advance_ms(HOUR_MS);
    let more: Vec<Report> = (0..3)
        .map(|_| env.report(&Measurement::Count(true)))
        .collect();
    assert!(env.upload(&more).is_empty());
    assert!(env.leader.task_keys(&env.task_id) > 0);
    assert!(env.helper.task_keys(&env.task_id) > 0);

    for d in [&env.leader, &env.helper] {
        let r = api(
            d,
            Method::Delete,
            &format!("/api/tasks/{}", env.task_id),
            None,
        );
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }
    // The shards go at once; jobs and collections at their next alarm (within a day).
    pass(&env, 1_000);
    let shards = |d: &edap_core::mem::MemDeployment| {
        let k = d.keys_by_kind(Some(&env.task_id));
        ["ReportShard", "Replay", "Buckets", "BatchIndex"]
            .iter()
            .map(|kind| k.get(*kind).copied().unwrap_or(0))
            .sum::<usize>()
    };
    assert_eq!(
        shards(&env.leader),
        0,
        "{:?}",
        env.leader.keys_by_kind(Some(&env.task_id))
    );
    assert_eq!(
        shards(&env.helper),
        0,
        "{:?}",
        env.helper.keys_by_kind(Some(&env.task_id))
    );
    pass(&env, (DAY + 3600) * 1000);
    assert_eq!(
        env.leader.task_keys(&env.task_id),
        0,
        "{:?}",
        env.leader.keys_by_kind(Some(&env.task_id))
    );
    assert_eq!(
        env.helper.task_keys(&env.task_id),
        0,
        "{:?}",
        env.helper.keys_by_kind(Some(&env.task_id))
    );
    // And the task is gone for clients and collectors.
    let req = collector::collection_job_req(Query::TimeInterval(env.current_interval()));
    let r = env.collection_post(&req);
    assert_eq!(r.status, 404);
}
