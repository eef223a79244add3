//! The capacity model's per-shard figures, checked on this machine (docs/capacity.md uses
//! them): how many single-report uploads one report shard absorbs, against eight, and what
//! a million reports per minute costs in requests and CPU by the figures of this run.

use crate::drive::{no_aggregation, percentile, send_uploads};
use crate::figures::Figures;
use crate::opts::Opts;
use crate::watch::Watch;
use crate::workload::{bodies, cores, make_reports, measurement};
use edap_core::messages::*;
use edap_core::task::AggregationSchedule;
use edap_core::vdaf::Measurement;
use edap_testkit::Cluster;

/// The documented soft limit of one Durable Object (Cloudflare's Durable Objects FAQ):
/// about 1,000 requests per second.
pub const DO_SOFT_LIMIT_RPS: f64 = 1_000.0;

/// Measures one shard against eight and prints the model for a million reports a minute.
pub fn section(o: &Opts, cluster: &Cluster, figures: &mut Figures) {
    println!("## 6. Capacity: per-shard figures (see docs/capacity.md)\n");
    let n = if o.quick { 1_000 } else { 4_000 };
    println!("Single-report uploads from {} clients into tasks with 1 and with 8 report shards, on workerd (state on tmpfs). Here the whole Leader (its Worker and every Durable Object) shares one workerd thread, so a shard's own ceiling in production, where each object runs on its own, is at least what one shard absorbs here.\n", o.clients);
    println!("| report shards | reports/s | p50 ms | p99 ms | Leader workerd CPU µs/request |");
    println!("|---:|---:|---:|---:|---:|");
    let watch = Watch::new(cluster);
    let vdaf = VdafConfig::Prio3Count;
    for shards in [1u32, 8] {
        let schedule = AggregationSchedule {
            report_shards: shards,
            ..no_aggregation()
        };
        let task = cluster.task(vdaf, BatchMode::TimeInterval, schedule);
        let ms: Vec<Measurement> = (0..n as u64 + 200).map(|i| measurement(&vdaf, i)).collect();
        let reports = make_reports(&task.client, &ms, cores(), None);
        let b = bodies(&reports, 1);
        let _ = send_uploads(&task, &b[..200], 4);
        let s0 = watch.sample();
        let sent = send_uploads(&task, &b[200..], o.clients);
        let s1 = watch.sample();
        assert_eq!(sent.failed, 0, "uploads failed");
        let rps = n as f64 / sent.wall.as_secs_f64();
        let cpu = watch.cpu(&s0, &s1, "leader", "workerd (worker)") * 1e6 / n as f64;
        println!(
            "| {shards} | {rps:.0} | {:.1} | {:.1} | {cpu:.0} |",
            percentile(&sent.latencies, 0.5),
            percentile(&sent.latencies, 0.99)
        );
        figures.add(
            &format!("capacity.shards{shards}.single.reports_per_s"),
            &format!("single-report uploads/s into {shards} report shard(s)"),
            rps,
            "/s",
            None,
        );
        figures.add(
            &format!("capacity.shards{shards}.single.cpu_us_per_request"),
            &format!("Leader worker CPU per single-report request, {shards} report shard(s)"),
            cpu,
            "µs",
            None,
        );
    }
    println!();
    model(figures);
}

/// A million reports per minute by this run's figures.
fn model(figures: &Figures) {
    let rate = 1_000_000.0 / 60.0;
    let shard_rps = figures
        .get("capacity.shards1.single.reports_per_s")
        .unwrap_or(0.0)
        .min(DO_SOFT_LIMIT_RPS);
    let leader_us = figures.get("capacity.shards8.single.cpu_us_per_request");
    let helper_us = figures.get("pipeline.count.default.helper_cpu_us_per_report");
    let leader_agg_us = figures.get("pipeline.count.default.leader_cpu_us_per_report");
    println!("A million Prio3Count reports a minute ({rate:.0}/s), each uploaded alone:\n");
    println!("| quantity | by this run |");
    println!("|---|---:|");
    if shard_rps > 0.0 {
        // Half of a shard's ceiling, so that a burst of twice the mean rate still fits.
        let shards = (rate / (shard_rps / 2.0)).ceil();
        println!("| report shards at half of min(measured one-shard rate, the ~1,000 requests/s soft limit) = {shard_rps:.0}/2 per shard | {shards:.0} |");
    }
    println!("| Worker requests to the Leader per second | {rate:.0} |");
    println!("| Durable Object requests per second (one report-shard call per upload; the bucket check is cached per isolate) | {rate:.0} |");
    if let Some(us) = leader_us {
        println!(
            "| Leader CPU for uploads (workerd here, µs/request × rate) | {:.1} cores |",
            us * rate / 1e6
        );
    }
    if let (Some(l), Some(h)) = (leader_agg_us, helper_us) {
        println!("| Leader + Helper CPU for aggregation and uploads (pipeline figures, µs/report × rate) | {:.1} + {:.1} cores |", l * rate / 1e6, h * rate / 1e6);
    }
    println!(
        "| aggregation jobs of 2,500 per second (Leader→Helper requests) | {:.1} |",
        rate / 2_500.0
    );
    println!();
}
