//! Tests of the report shard's state machine.

use super::*;
use crate::store::MemKv;

fn pr(i: u8, t: u64) -> PendingReport {
    PendingReport {
        report_id: ReportId([i; 16]),
        time: Time(t),
        report: vec![i],
    }
}

/// Reports expire a day after their time unit (precision 1 s).
const RETENTION: Retention = Retention {
    time_precision: 1,
    report_expiry_age: 86_400,
};

fn sched(min: u32, max: u32) -> AggregationSchedule {
    AggregationSchedule {
        min_job_size: min,
        max_job_size: max,
        max_wait_secs: 5,
        ..Default::default()
    }
}

#[test]
fn put_claim_finish_and_replay() {
    let mut kv = MemKv::new();
    let s = sched(3, 2);
    let r = handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(1, 10), pr(2, 11)],
            now: 100,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        r,
        ShardResp::Put {
            replayed: vec![false, false],
            alarm_at: Some(105)
        }
    );
    // Not due yet: nothing claimed.
    let ShardResp::Claims { claims, alarm_at } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 101,
            schedule: s.clone(),
            flush: false,
        },
    )
    .unwrap() else {
        panic!()
    };
    assert!(claims.is_empty());
    assert_eq!(alarm_at, Some(105));
    // Replay is refused even while pending.
    let r = handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(2, 11), pr(3, 12)],
            now: 102,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        r,
        ShardResp::Put {
            replayed: vec![true, false],
            alarm_at: Some(102)
        }
    );
    // Due: claims of at most max_job_size.
    let ShardResp::Claims { claims, alarm_at } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 102,
            schedule: s.clone(),
            flush: false,
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].reports.len(), 2);
    assert_eq!(alarm_at, Some(105 + 2)); // report 3 arrived at 102
                                         // Crash before hand-off: the claim is offered again.
    let ShardResp::Claims { claims: again, .. } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 103,
            schedule: s.clone(),
            flush: false,
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(again[0].job, claims[0].job);
    handle(&mut kv, ShardReq::HandedOff { job: claims[0].job }).unwrap();
    assert_eq!(
        handle(
            &mut kv,
            ShardReq::Outstanding {
                interval: Interval::new(10, 1),
                since_ms: 0,
            }
        )
        .unwrap(),
        ShardResp::Outstanding {
            outstanding: true,
            failure: None
        }
    );
    handle(
        &mut kv,
        ShardReq::Finish {
            now: 104,
            job: claims[0].job,
            aggregated: 2,
            rejected: vec![],
            helper_rejected: vec![],
            helper_requests: 1,
        },
    )
    .unwrap();
    assert_eq!(
        handle(
            &mut kv,
            ShardReq::Outstanding {
                interval: Interval::new(10, 2),
                since_ms: 0,
            }
        )
        .unwrap(),
        ShardResp::Outstanding {
            outstanding: false,
            failure: None
        }
    );
    assert_eq!(
        handle(
            &mut kv,
            ShardReq::Outstanding {
                interval: Interval::new(12, 1),
                since_ms: 0,
            }
        )
        .unwrap(),
        ShardResp::Outstanding {
            outstanding: true,
            failure: None
        }
    );
    // Finished IDs are still replays.
    let r = handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(1, 10)],
            now: 104,
            schedule: s,
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    assert!(matches!(r, ShardResp::Put { replayed, .. } if replayed == vec![true]));
}

#[test]
fn split_and_release() {
    let mut kv = MemKv::new();
    let s = sched(1, 10);
    handle(
        &mut kv,
        ShardReq::Put {
            reports: (1..=5).map(|i| pr(i, 1)).collect(),
            now: 0,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    let ShardResp::Claims { claims, .. } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 0,
            schedule: s.clone(),
            flush: false,
        },
    )
    .unwrap() else {
        panic!()
    };
    let job = claims[0].job;
    let allocs = vec![(BatchId([1; 32]), 2), (BatchId([2; 32]), 3)];
    let ShardResp::Claims { claims, .. } = handle(
        &mut kv,
        ShardReq::Split {
            job,
            allocations: allocs.clone(),
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        claims.iter().map(|c| c.reports.len()).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(claims[1].batch, Some(BatchId([2; 32])));
    // Split is idempotent.
    let ShardResp::Claims { claims: again, .. } = handle(
        &mut kv,
        ShardReq::Split {
            job,
            allocations: allocs,
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(again, claims);
    // Releasing puts reports back in the queue.
    handle(
        &mut kv,
        ShardReq::Release {
            job: claims[0].job,
            now: 1,
            retention: RETENTION,
        },
    )
    .unwrap();
    let ShardResp::Claims { claims: next, .. } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 1,
            schedule: s,
            flush: false,
        },
    )
    .unwrap() else {
        panic!()
    };
    let ids: Vec<_> = next
        .iter()
        .flat_map(|c| c.reports.iter().map(|r| r.report_id))
        .collect();
    assert!(ids.contains(&ReportId([1; 16])) && ids.contains(&ReportId([2; 16])));
}

#[test]
fn finished_reports_leave_only_replay_records_until_they_expire() {
    let mut kv = MemKv::new();
    let s = sched(1, 10);
    let put = |kv: &mut MemKv, reports| {
        handle(
            kv,
            ShardReq::Put {
                reports,
                now: 0,
                schedule: s.clone(),
                retention: RETENTION,
                refused: vec![],
            },
        )
        .unwrap()
    };
    put(&mut kv, vec![pr(1, 7), pr(2, 7), pr(3, 8)]);
    let plan = |kv: &mut MemKv| match handle(
        kv,
        ShardReq::Plan {
            now: 0,
            schedule: s.clone(),
            flush: true,
        },
    )
    .unwrap()
    {
        ShardResp::Claims { claims, .. } => claims,
        other => panic!("{other:?}"),
    };
    let claims = plan(&mut kv);
    assert_eq!(claims.len(), 1);
    // Bodies are served from the queue rows, in order.
    assert_eq!(
        claims[0]
            .reports
            .iter()
            .map(|r| r.report.clone())
            .collect::<Vec<_>>(),
        vec![vec![1], vec![2], vec![3]]
    );
    // A later upload queues behind the claim and is claimed on its own.
    put(&mut kv, vec![pr(4, 8)]);
    let job = claims[0].job;
    handle(&mut kv, ShardReq::HandedOff { job }).unwrap();
    let later = plan(&mut kv);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].reports[0].report_id, ReportId([4; 16]));
    for j in [job, later[0].job] {
        handle(
            &mut kv,
            ShardReq::Finish {
                now: 0,
                job: j,
                aggregated: 1,
                rejected: vec![],
                helper_rejected: vec![],
                helper_requests: 1,
            },
        )
        .unwrap();
    }
    let left: Vec<u8> = kv
        .scan(&[], &[0xff], usize::MAX, false)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k[0])
        .collect();
    assert_eq!(
        left,
        b"m~~~~".to_vec(),
        "only the meta row and four replay records"
    );
    // The replay records go when the reports expire; the reports stay replays until then.
    assert!(
        matches!(put(&mut kv, vec![pr(3, 8)]), ShardResp::Put { replayed, .. } if replayed == vec![true])
    );
    assert_eq!(
        expire(&mut kv, RETENTION.expires_at(8) - 1, 100).unwrap(),
        2
    );
    assert_eq!(expire(&mut kv, RETENTION.expires_at(8), 100).unwrap(), 2);
    let left = kv.scan(&[], &[0xff], usize::MAX, false).unwrap();
    assert_eq!(left.len(), 1);
}

#[test]
fn reports_dropped_on_release_are_no_longer_outstanding() {
    let mut kv = MemKv::new();
    let s = sched(1, 10);
    handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(1, 5), pr(2, 6)],
            now: 0,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    let outstanding = |kv: &mut MemKv, t: u64| {
        matches!(
            handle(
                kv,
                ShardReq::Outstanding {
                    interval: Interval::new(t, 1),
                    since_ms: 0
                }
            )
            .unwrap(),
            ShardResp::Outstanding {
                outstanding: true,
                ..
            }
        )
    };
    assert!(outstanding(&mut kv, 5) && outstanding(&mut kv, 6));
    // Released after report 1 (time 5) expired: it is dropped, report 2 goes back.
    let now = RETENTION.expires_at(5);
    let ShardResp::Claims { claims, .. } = handle(
        &mut kv,
        ShardReq::Plan {
            now: 0,
            schedule: s,
            flush: true,
        },
    )
    .unwrap() else {
        panic!()
    };
    let r = handle(
        &mut kv,
        ShardReq::Release {
            job: claims[0].job,
            now,
            retention: RETENTION,
        },
    )
    .unwrap();
    assert_eq!(
        r,
        ShardResp::Released {
            alarm_at: Some(now)
        }
    );
    assert!(!outstanding(&mut kv, 5));
    assert!(outstanding(&mut kv, 6));
}

#[test]
fn after_a_full_job_the_rest_is_claimed_at_once() {
    let mut kv = MemKv::new();
    // Jobs of 2; a lone report would wait 5 s.
    let s = sched(2, 2);
    handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(1, 1), pr(2, 1), pr(3, 1)],
            now: 0,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    let plan = |kv: &mut MemKv, now| match handle(
        kv,
        ShardReq::Plan {
            now,
            schedule: s.clone(),
            flush: false,
        },
    )
    .unwrap()
    {
        ShardResp::Claims { claims, .. } => claims,
        other => panic!("{other:?}"),
    };
    let finish = |kv: &mut MemKv, job| {
        handle(
            kv,
            ShardReq::Finish {
                now: 1,
                job,
                aggregated: 1,
                rejected: vec![],
                helper_rejected: vec![],
                helper_requests: 1,
            },
        )
        .unwrap()
    };
    let full = plan(&mut kv, 0);
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].reports.len(), 2);
    handle(&mut kv, ShardReq::HandedOff { job: full[0].job }).unwrap();
    // Not due by the schedule.
    assert!(plan(&mut kv, 1).is_empty());
    // The full job finishing brings the shard's alarm forward, and the rest is claimed.
    assert_eq!(
        finish(&mut kv, full[0].job),
        ShardResp::Finished { alarm_at: Some(1) }
    );
    let rest = plan(&mut kv, 1);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].reports.len(), 1);
    handle(&mut kv, ShardReq::HandedOff { job: rest[0].job }).unwrap();
    // A job smaller than max_job_size finishing leaves later reports to the schedule.
    handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(4, 1)],
            now: 1,
            schedule: s.clone(),
            retention: RETENTION,
            refused: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        finish(&mut kv, rest[0].job),
        ShardResp::Finished { alarm_at: None }
    );
    assert!(plan(&mut kv, 2).is_empty());
    assert_eq!(plan(&mut kv, 6).len(), 1);
}
