//! The native compute floor: what the product's own code costs per report with no runtime
//! around it, in two parts.
//!
//! * **Product path**: the Leader and the Helper of `edap-core` on its in-memory platform
//!   (`core::mem`, the same state machines, routers, envelopes and codecs the worker runs;
//!   only the storage is a `BTreeMap` and the code native), on one thread: upload requests
//!   of 100 reports, then every alarm until the reports are aggregated, then a collection
//!   whose result is checked. This is the floor the pipeline is compared with.
//! * **Cryptography alone**: two HPKE opens, `verify_init` on both sides, the ping-pong
//!   messages, `verify_next` and both aggregate shares, called directly: the part of the
//!   product path no implementation can avoid.

#[path = "../../../../core/tests/common/mod.rs"]
mod common;

use crate::opts::Opts;
use crate::workload::{chunk, expected, floor_vdafs, measurement};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::hpke::{HpkeKeypair, HpkeReceiverSet};
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::{open_input_share, InputShareContext};
use edap_core::task::AggregationSchedule;
use edap_core::vdaf::{self, agg_share, AggregateResult, DapVdaf, Measurement, Prio3Instance};
use edap_testkit::now_secs;
use prio::codec::Encode;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The floor of one VDAF.
#[derive(Clone, Copy, Debug)]
pub struct FloorFigures {
    /// Both aggregators through the product's code path, µs per report on one core.
    pub product_us: f64,
    /// Of which the cryptography alone.
    pub crypto_us: f64,
}

impl FloorFigures {
    /// Reports per second on `cores` cores (the Leader and the Helper in parallel).
    pub fn rps(&self, cores: f64) -> f64 {
        cores * 1e6 / self.product_us
    }
}

/// Runs `n` reports through a Leader and a Helper on the in-memory platform under the
/// default schedule: µs of this thread per report, from the first upload until the last
/// report is aggregated. Checks the collected aggregate.
fn product_path(vdaf: VdafConfig, n: usize) -> f64 {
    let env = common::Env::build(common::EnvOptions {
        vdaf,
        schedule: Some(AggregationSchedule::default()),
        ..Default::default()
    });
    let ms: Vec<Measurement> = (0..n as u64).map(|i| measurement(&vdaf, i)).collect();
    let reports: Vec<Report> = ms.iter().map(|m| env.report(m)).collect();
    let start = Instant::now();
    for chunk in reports.chunks(100) {
        let refused = env.upload(chunk);
        assert!(
            refused.is_empty(),
            "the floor's uploads were refused: {refused:?}"
        );
    }
    env.aggregate();
    let elapsed = start.elapsed();
    let stats = env.stats();
    assert_eq!(
        stats.get("aggregated").copied().unwrap_or(0),
        n as u64,
        "the floor run must aggregate every report: {stats:?}"
    );
    let (collection, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .expect("the floor run's collection");
    assert_eq!(
        collection.result,
        expected(&vdaf, &ms),
        "the floor run's aggregate"
    );
    elapsed.as_secs_f64() * 1e6 / n as f64
}

/// The cryptographic part of the floor for one VDAF.
struct Floor {
    name: &'static str,
    client_us: f64,
    aggregators_us: f64,
    hpke_us: f64,
    upload_bytes: usize,
    note_rps: f64,
}

fn floor(name: &'static str, vdaf: VdafConfig, note_rps: f64, n: usize) -> Floor {
    let spec = TaskConfigSpec {
        task_info: format!("edap-bench floor {name}"),
        leader_endpoint: "https://leader.example/".into(),
        helper_endpoint: "https://helper.example/".into(),
        time_precision: 3600,
        min_batch_size: 1,
        batch_mode: BatchMode::TimeInterval.as_str().into(),
        vdaf,
        task_start: None,
        task_end: None,
    };
    let config = spec.to_config().expect("config");
    let task_id = edap_core::task::derive_task_id(&config).expect("task id");
    let kem = HpkeKemId::X25519_HKDF_SHA256;
    let leader_kp = HpkeKeypair::generate(HpkeConfigId(1), kem).expect("key");
    let helper_kp = HpkeKeypair::generate(HpkeConfigId(2), kem).expect("key");
    let client = Client::new(
        task_id,
        config.clone(),
        leader_kp.config.clone(),
        helper_kp.config.clone(),
    )
    .expect("client");
    let leader_keys = HpkeReceiverSet::single(leader_kp);
    let helper_keys = HpkeReceiverSet::single(helper_kp);
    let ms: Vec<Measurement> = (0..n as u64).map(|i| measurement(&vdaf, i)).collect();
    let now = now_secs();
    let t = Instant::now();
    let reports: Vec<Report> = ms
        .iter()
        .map(|m| client.report(m, now).expect("report"))
        .collect();
    let client_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let upload_bytes = reports[0].get_encoded().expect("encode").len();
    let inst = Prio3Instance::for_dap(&vdaf).expect("vdaf");
    let verify_key = edap_core::rand::array::<32>();
    let cx = |role, keys| InputShareContext {
        task_id: &task_id,
        config: &config,
        role,
        keys,
        now_secs: now,
        skew_secs: 300,
        retention: edap_core::store::ttl::Retention {
            time_precision: config.time_precision,
            report_expiry_age: edap_core::task::DEFAULT_REPORT_EXPIRY_AGE,
        },
    };
    let (lcx, hcx) = (
        cx(Role::Leader, &leader_keys),
        cx(Role::Helper, &helper_keys),
    );
    let ctx = vdaf::vdaf_context(&task_id);
    let (total, hpke, result) = edap_core::with_prio3!(&inst, |v| both_aggregators(
        v,
        &verify_key,
        &ctx,
        &lcx,
        &hcx,
        &reports
    ));
    assert_eq!(
        result,
        expected(&vdaf, &ms),
        "{name}: the floor computation must produce the right aggregate"
    );
    Floor {
        name,
        client_us,
        aggregators_us: total.as_secs_f64() * 1e6 / n as f64,
        hpke_us: hpke.as_secs_f64() * 1e6 / n as f64,
        upload_bytes,
        note_rps,
    }
}

/// Everything both aggregators compute for each report, on this thread: two HPKE opens
/// (with the report checks and input-share decoding), `verify_init` on both sides (inside
/// `leader_init` / `helper_init`), the ping-pong messages, `verify_next` on both sides,
/// then both aggregate shares. Returns (total, of which HPKE opens, the unsharded result).
fn both_aggregators<V: DapVdaf>(
    v: &V,
    verify_key: &vdaf::VerifyKey,
    ctx: &[u8],
    lcx: &InputShareContext<'_>,
    hcx: &InputShareContext<'_>,
    reports: &[Report],
) -> (Duration, Duration, AggregateResult) {
    let mut leader_out = Vec::with_capacity(reports.len());
    let mut helper_out = Vec::with_capacity(reports.len());
    let mut hpke = Duration::ZERO;
    let start = Instant::now();
    for r in reports {
        let t = Instant::now();
        let ls = open_input_share(
            lcx,
            &r.metadata,
            &r.public_share,
            &r.leader_encrypted_input_share,
            None,
        )
        .expect("leader open");
        let hs = open_input_share(
            hcx,
            &r.metadata,
            &r.public_share,
            &r.helper_encrypted_input_share,
            None,
        )
        .expect("helper open");
        hpke += t.elapsed();
        let id = &r.metadata.report_id;
        let (lstate, lmsg) =
            vdaf::leader_init(v, verify_key, ctx, id, &r.public_share, &ls.payload)
                .expect("leader_init");
        let (hout, outbound) =
            match vdaf::helper_init(v, verify_key, ctx, id, &r.public_share, &hs.payload, &lmsg)
                .expect("helper_init")
            {
                vdaf::Transition::FinishedWithOutbound {
                    out_share,
                    outbound,
                } => (out_share, outbound),
                _ => panic!("Prio3 Helper finishes after its first message"),
            };
        let lout = match vdaf::continued(v, ctx, true, lstate, &outbound).expect("continued") {
            vdaf::Transition::Finished { out_share } => out_share,
            _ => panic!("Prio3 Leader finishes on the Helper's message"),
        };
        leader_out.push(lout);
        helper_out.push(hout);
    }
    let la = agg_share::aggregate(v, leader_out).expect("aggregate");
    let ha = agg_share::aggregate(v, helper_out).expect("aggregate");
    let total = start.elapsed();
    let shares = [
        agg_share::encode::<V>(&la).expect("encode"),
        agg_share::encode::<V>(&ha).expect("encode"),
    ];
    let result = vdaf::unshard(v, &shares, reports.len() as u64).expect("unshard");
    (total, hpke, result)
}

/// Prints the floor of every VDAF and returns it by name.
pub fn section(o: &Opts) -> BTreeMap<&'static str, FloorFigures> {
    println!("## 1. Native compute floor (one thread, release build, both aggregators)\n");
    println!(
        "{} reports per VDAF. **Product path**: `edap-core`'s Leader and Helper on its in-memory platform (the worker's state machines, routers, message codecs and storage envelopes; storage a `BTreeMap`, native code), uploads of 100 reports, every alarm until all are aggregated, the default schedule; the pipeline below is compared with this. **Cryptography alone**: 2 HPKE opens + decoding + verify_init (both) + ping-pong messages + verify_next (both) + accumulate, called directly; \"client\" = shard + encode + 2 HPKE seals.\n",
        o.floor_reports
    );
    println!("chunk_length as `prio::vdaf::prio3::optimal_chunk_length` chooses it: Histogram(100) {}, SumVec(100, 255) {}.\n", chunk(100), chunk(800));
    println!("| VDAF | client µs/report | product path µs/report | floor reports/s (1 core) | cryptography alone µs/report | of which 2 × HPKE open µs | perf-floor.md reports/s (crypto) | upload bytes/report |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut out = BTreeMap::new();
    for (name, vdaf, note) in floor_vdafs() {
        // A short untimed warm-up of each, then the measurements.
        let _ = floor(name, vdaf, note, 20.min(o.floor_reports));
        let f = floor(name, vdaf, note, o.floor_reports);
        let _ = product_path(vdaf, 100);
        let product_us = product_path(vdaf, o.floor_reports);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
            f.name,
            f.client_us,
            product_us,
            1e6 / product_us,
            f.aggregators_us,
            f.hpke_us,
            f.note_rps,
            f.upload_bytes
        );
        out.insert(
            f.name,
            FloorFigures {
                product_us,
                crypto_us: f.aggregators_us,
            },
        );
    }
    println!();
    out
}
