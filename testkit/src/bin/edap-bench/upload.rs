//! Upload throughput into a Leader: single-report requests from many concurrent keep-alive
//! clients (the request a real application sends millions of times) and bulk requests of
//! 100 reports, against each runtime: workerd itself (what production runs), and
//! `wrangler dev` (the development server, its proxy in front).

use crate::drive::{no_aggregation, percentile, retried_note, send_uploads, sequential, stats};
use crate::figures::{Aim, Figures};
use crate::opts::Opts;
use crate::watch::{Profiler, Watch};
use crate::workload::{bodies, cores, make_reports, measurement};
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::vdaf::Measurement;
use edap_testkit::http::Conn;
use edap_testkit::Cluster;
use std::time::Duration;

/// Concurrent clients of the bulk runs: each keeps 100 reports in flight.
pub const BULK_CLIENTS: usize = 16;

/// One runtime to measure.
pub struct Target<'a> {
    /// For figure keys (`workerd`, `workerd_disk`, `wrangler`).
    pub key: &'static str,
    /// In words.
    pub what: String,
    pub cluster: &'a Cluster,
    /// Whether this is the production figure (the aims apply to it).
    pub production: bool,
    /// Whether to run bulk requests too.
    pub bulk: bool,
}

/// Measures uploads into every target.
pub fn section(o: &Opts, targets: &[Target<'_>], figures: &mut Figures) {
    println!("## 2. Upload throughput into the Leader (loopback)\n");
    let (singles, bulk_reports) = if o.quick {
        (1_000, 5_000)
    } else {
        (6_000, 40_000)
    };
    println!(
        "Prio3Count task, schedule {{min_job_size 1,000,000, max_wait_secs 86,400, report_shards 8}} so that no aggregation runs during the measurement. Reports are generated before the clock starts. Single-report requests: {singles} from {} concurrent keep-alive clients; bulk: {bulk_reports} reports in requests of 100 from {BULK_CLIENTS} clients. Every answer waits until the reports are stored and replay-checked. CPU: the Leader's `workerd` process that runs the worker (its Durable Objects included), per request and per report.\n",
        o.clients
    );
    for t in targets {
        run(
            o,
            t,
            singles,
            if t.bulk { bulk_reports } else { 0 },
            figures,
        );
    }
}

fn run(o: &Opts, t: &Target<'_>, singles: usize, bulk_reports: usize, figures: &mut Figures) {
    let watch = Watch::new(t.cluster);
    println!(
        "### {}\n\nProcesses: {}.\n",
        t.what,
        watch.describe_processes()
    );
    let vdaf = VdafConfig::Prio3Count;
    let task = t
        .cluster
        .task(vdaf, BatchMode::TimeInterval, no_aggregation());
    let ms: Vec<Measurement> = (0..(singles + bulk_reports + 600) as u64)
        .map(|i| measurement(&vdaf, i))
        .collect();
    let reports = make_reports(&task.client, &ms, cores(), None);
    let (probe, rest) = reports.split_at(600);
    let (single, bulk) = rest.split_at(singles);

    // Latency probes: one connection, one request at a time (the first 300 warm up).
    let probe_bodies = bodies(probe, 1);
    let path = format!("/tasks/{}/reports", task.task_id);
    let ct = MediaType::UploadReq.as_str();
    let _ = sequential(task.leader_port, 300, |c, i| {
        c.request("POST", &path, &[("content-type", &ct)], &probe_bodies[i])
            .expect("upload")
            .status
    });
    let hpke_lat = sequential(task.leader_port, 300, |c, _| {
        c.request("GET", "/hpke_config", &[], &[])
            .expect("hpke_config")
            .status
    });
    let s0 = watch.sample();
    let up_lat = sequential(task.leader_port, 300, |c, i| {
        c.request(
            "POST",
            &path,
            &[("content-type", &ct)],
            &probe_bodies[300 + i],
        )
        .expect("upload")
        .status
    });
    let s1 = watch.sample();
    let seq_cpu = watch.cpu(&s0, &s1, "leader", "workerd (worker)") * 1e6 / 300.0;
    println!("| request (sequential, one connection) | n | mean ms | p50 ms | p99 ms | Leader workerd CPU µs/request |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, lat, cpu) in [
        ("GET /hpke_config (cached in the isolate)", &hpke_lat, None),
        ("POST 1 report", &up_lat, Some(seq_cpu)),
    ] {
        let mean = lat.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / lat.len() as f64;
        println!(
            "| {what} | {} | {mean:.2} | {:.2} | {:.2} | {} |",
            lat.len(),
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            cpu.map_or("-".into(), |c| format!("{c:.0}"))
        );
    }
    println!();

    println!("| requests | reports | clients | wall s | reports/s | requests/s | p50 ms | p99 ms | refused | Leader workerd CPU µs/request | µs/report | CPU use (cores) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut runs = vec![("1 report each", single, 1, o.clients)];
    if !bulk.is_empty() {
        runs.push(("100 reports each", bulk, 100, BULK_CLIENTS));
    }
    for (label, rs, per, clients) in runs {
        let b = bodies(rs, per);
        let profiler = o
            .profile
            .as_deref()
            .filter(|_| t.production)
            .map(|dir| Profiler::start(t.cluster, dir, &format!("upload-{per}"), false, label));
        let s0 = watch.sample();
        let sent = send_uploads(&task, &b, clients);
        let s1 = watch.sample();
        if let Some(p) = profiler {
            p.stop();
        }
        assert_eq!(sent.failed, 0, "uploads failed");
        let secs = sent.wall.as_secs_f64();
        let cpu = watch.cpu(&s0, &s1, "leader", "workerd (worker)");
        let rps = rs.len() as f64 / secs;
        let (p50, p99) = (
            percentile(&sent.latencies, 0.5),
            percentile(&sent.latencies, 0.99),
        );
        let per_req = cpu * 1e6 / b.len() as f64;
        println!(
            "| {label} | {} | {clients} | {secs:.2} | {rps:.0} | {:.0} | {p50:.1} | {p99:.1} | {} | {per_req:.0} | {:.0} | {} |",
            rs.len(),
            b.len() as f64 / secs,
            retried_note(sent.refused, sent.retried),
            cpu * 1e6 / rs.len() as f64,
            watch.describe_usage(&s0, &s1)
        );
        let aim = |a| t.production.then_some(a);
        let k = t.key;
        if per == 1 {
            figures.add(
                &format!("upload.{k}.single.reports_per_s"),
                &format!("{}: single-report uploads/s, {clients} clients", t.what),
                rps,
                "/s",
                aim(Aim::AtLeast(2_000.0)),
            );
            figures.add(
                &format!("upload.{k}.single.p99_ms"),
                &format!("{}: single-report upload p99", t.what),
                p99,
                "ms",
                aim(Aim::AtMost(50.0)),
            );
            figures.add(
                &format!("upload.{k}.single.cpu_us_per_request"),
                &format!("{}: Leader worker CPU per single-report request", t.what),
                per_req,
                "µs",
                aim(Aim::AtMost(300.0)),
            );
        } else {
            figures.add(
                &format!("upload.{k}.bulk.reports_per_s"),
                &format!("{}: bulk uploads (100 per request), reports/s", t.what),
                rps,
                "/s",
                aim(Aim::AtLeast(20_000.0)),
            );
            figures.add(
                &format!("upload.{k}.bulk.cpu_us_per_report"),
                &format!("{}: Leader worker CPU per report in bulk requests", t.what),
                cpu * 1e6 / rs.len() as f64,
                "µs",
                None,
            );
        }
    }
    let st = stats(&task, &mut Conn::new(task.leader_port));
    println!(
        "\nLeader counters after these runs: uploaded {}, aggregated {} (aggregation held back as intended).\n",
        st.get("uploaded").copied().unwrap_or(0),
        st.get("aggregated").copied().unwrap_or(0)
    );
}
