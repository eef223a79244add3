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
                interval: Interval::new(10, 1)
            }
        )
        .unwrap(),
        ShardResp::Outstanding(true)
    );
    handle(
        &mut kv,
        ShardReq::Finish {
            job: claims[0].job,
            aggregated: 2,
            rejected: vec![],
            helper_requests: 1,
        },
    )
    .unwrap();
    assert_eq!(
        handle(
            &mut kv,
            ShardReq::Outstanding {
                interval: Interval::new(10, 2)
            }
        )
        .unwrap(),
        ShardResp::Outstanding(false)
    );
    assert_eq!(
        handle(
            &mut kv,
            ShardReq::Outstanding {
                interval: Interval::new(12, 1)
            }
        )
        .unwrap(),
        ShardResp::Outstanding(true)
    );
    // Finished IDs are still replays.
    let r = handle(
        &mut kv,
        ShardReq::Put {
            reports: vec![pr(1, 10)],
            now: 104,
            schedule: s,
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
