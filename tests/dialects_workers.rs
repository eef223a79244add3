//! Both forms of resource creation against the real workers under `wrangler dev`: a Leader
//! in each dialect (DAP-18's POST, the deployed PUT with its encoding, auto) against our
//! Helper, which accepts both, and against a Helper that accepts only one (the fault proxy
//! answers the other form as a router without that route would), every VDAF, both batch
//! modes, exact results; Collectors creating jobs with POST and with PUT on the same Leader.

use edap_core::messages::*;
use edap_core::task::PeerDialect;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::proxy::Forms;
use edap_testkit::{Cluster, TaskOptions, TestTask};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(180);

fn vdafs() -> Vec<VdafConfig> {
    vec![
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum {
            max_measurement: 255,
        },
        VdafConfig::Prio3SumVec {
            length: 3,
            max_measurement: 5,
            chunk_length: 2,
        },
        VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 4,
            chunk_length: 2,
            max_weight: 2,
        },
    ]
}

fn measurement(vdaf: &VdafConfig, i: u64) -> Measurement {
    match vdaf {
        VdafConfig::Prio3Count => Measurement::Count(i.is_multiple_of(2)),
        VdafConfig::Prio3Sum { .. } => Measurement::Sum(i * 7 % 256),
        VdafConfig::Prio3SumVec { .. } => Measurement::Vector(vec![i % 6, 1, (i * 2) % 6]),
        VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(i % 4),
        VdafConfig::Prio3MultihotCountVec { .. } => {
            let mut v = vec![0; 4];
            v[(i % 4) as usize] = 1;
            Measurement::Vector(v)
        }
    }
}

struct Case {
    task: TestTask,
    mode: BatchMode,
    expected: AggregateResult,
    label: String,
}

fn setup(cluster: &Cluster, vdaf: VdafConfig, mode: BatchMode, dialect: PeerDialect) -> Case {
    let task = cluster.task_opts(
        vdaf,
        mode,
        edap_testkit::schedule(),
        TaskOptions {
            helper_dialect: Some(dialect),
            ..TaskOptions::default()
        },
    );
    let ms: Vec<Measurement> = (0..10).map(|i| measurement(&vdaf, i)).collect();
    let mut expected = AggregateResult::zero(&vdaf);
    for m in &ms {
        expected.add(m);
    }
    assert!(task.upload(&task.reports(&ms), 10).is_empty());
    Case {
        task,
        mode,
        expected,
        label: format!("{vdaf:?} {mode:?} Leader {dialect:?}"),
    }
}

fn check(cases: &[Case], forms: Forms) {
    for (i, c) in cases.iter().enumerate() {
        let query = match c.mode {
            BatchMode::TimeInterval => Query::TimeInterval(c.task.current_interval()),
            BatchMode::LeaderSelected => Query::LeaderSelected,
        };
        // Alternate the Collector's form: both against the same Leader.
        let got = if i % 2 == 0 {
            c.task.collect(query, TIMEOUT)
        } else {
            c.task.collect_put(query, TIMEOUT)
        }
        .unwrap_or_else(|e| panic!("{} against a Helper {forms:?}: {e}", c.label));
        assert_eq!(got.report_count, 10, "{}", c.label);
        assert_eq!(
            got.result, c.expected,
            "{} against a Helper {forms:?}",
            c.label
        );
    }
}

#[test]
fn every_leader_dialect_against_helpers_of_every_dialect() {
    let cluster = Cluster::start("dialects");
    // Our Helper, accepting both forms: a Leader in each dialect, every VDAF, both modes.
    let mut cases = Vec::new();
    for vdaf in vdafs() {
        for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
            for dialect in [PeerDialect::Post, PeerDialect::Put] {
                cases.push(setup(&cluster, vdaf, mode, dialect));
            }
        }
    }
    check(&cases, Forms::Both);
    // A Helper that speaks only one form: the Leader in that dialect, and auto.
    for (forms, dialect) in [
        (Forms::PutOnly, PeerDialect::Put),
        (Forms::PostOnly, PeerDialect::Post),
    ] {
        cluster.proxy.set_forms(forms);
        let mut cases = Vec::new();
        for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
            for d in [dialect, PeerDialect::Auto] {
                cases.push(setup(
                    &cluster,
                    VdafConfig::Prio3Histogram {
                        length: 4,
                        chunk_length: 2,
                    },
                    mode,
                    d,
                ));
            }
        }
        check(&cases, forms);
    }
}
