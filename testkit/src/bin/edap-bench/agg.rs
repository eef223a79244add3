//! End-to-end aggregation: reports uploaded in requests of 100 while the Leader forms jobs
//! and drives them with the Helper, until every report is aggregated; then one collection
//! whose result is checked. Figures beside the native floor of the same run.

use crate::drive::{send_uploads, stats};
use crate::figures::{Aim, Figures};
use crate::floor::FloorFigures;
use crate::opts::Opts;
use crate::watch::{Profiler, Watch};
use crate::workload::{bodies, cores, expected, hist100, make_reports, measurement};
use edap_core::messages::*;
use edap_core::task::AggregationSchedule;
use edap_core::vdaf::Measurement;
use edap_testkit::http::Conn;
use edap_testkit::Cluster;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// An aggregation schedule to run.
struct Setting {
    /// Short name used in the tables.
    label: &'static str,
    schedule: AggregationSchedule,
    /// Draw report IDs so that every report shard gets exactly its share (see make_reports).
    balanced: bool,
}

#[allow(clippy::too_many_arguments)]
fn setting(
    label: &'static str,
    shards: u32,
    min_job: u32,
    max_job: u32,
    wait: u64,
    balanced: bool,
) -> Setting {
    Setting {
        label,
        schedule: AggregationSchedule {
            min_job_size: min_job,
            max_job_size: max_job,
            max_wait_secs: wait,
            report_shards: shards,
            bucket_shards: 4,
            replay_shards: 8,
            batch_size_target: 0,
        },
        balanced,
    }
}

fn describe(s: &AggregationSchedule) -> String {
    format!(
        "report_shards {}, min_job_size {}, max_job_size {}, max_wait_secs {}, bucket_shards {}, replay_shards {}",
        s.report_shards,
        s.min_job_size,
        s.max_job_size,
        s.max_wait_secs,
        s.bucket_shards,
        s.replay_shards
    )
}

/// A short name of the VDAF for file names.
fn vdaf_key(v: &VdafConfig) -> &'static str {
    match v {
        VdafConfig::Prio3Count => "count",
        VdafConfig::Prio3Sum { .. } => "sum",
        VdafConfig::Prio3SumVec { .. } => "sumvec",
        VdafConfig::Prio3Histogram { .. } => "histogram",
        VdafConfig::Prio3MultihotCountVec { .. } => "multihot",
    }
}

/// What one run measured.
struct AggRun {
    upload_s: f64,
    agg_s: f64,
    at_last_upload: u64,
    jobs: u64,
    helper_requests: u64,
    helper_connections: u64,
    collect_connections: u64,
    collect_s: f64,
    leader_cpu_s: f64,
    helper_cpu_s: f64,
    leader_agg_cores: f64,
    helper_agg_cores: f64,
    usage: String,
    threads: String,
    /// (seconds after the last upload, aggregated) at each change of the counter.
    timeline: Vec<(f64, u64)>,
    retried: usize,
}

fn aggregate_run(
    o: &Opts,
    cluster: &Cluster,
    vdaf: VdafConfig,
    setting: &Setting,
    n: usize,
    profile: Option<&std::path::Path>,
) -> AggRun {
    let watch = Watch::new(cluster);
    let task = cluster.task_with(
        vdaf,
        BatchMode::TimeInterval,
        setting.schedule.clone(),
        10,
        None,
    );
    let ms: Vec<Measurement> = (0..n as u64).map(|i| measurement(&vdaf, i)).collect();
    let reports = make_reports(
        &task.client,
        &ms,
        cores(),
        setting.balanced.then_some(setting.schedule.report_shards),
    );
    let b = bodies(&reports, 100);
    let mut conn = Conn::new(task.leader_port);
    let conns0 = watch.helper_port_connections();
    let prefix = format!("agg-{}", vdaf_key(&vdaf));
    let profiler = profile.map(|dir| Profiler::start(cluster, dir, &prefix, true, setting.label));

    let s0 = watch.sample();
    let sent = send_uploads(&task, &b, o.threads);
    assert_eq!(
        (sent.failed, sent.refused),
        (0, 0),
        "every report must be accepted"
    );
    let s_up = watch.sample();
    let at_last_upload = stats(&task, &mut conn)
        .get("aggregated")
        .copied()
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut timeline = vec![(0.0, at_last_upload)];
    let final_stats = loop {
        let st = stats(&task, &mut conn);
        let agg = st.get("aggregated").copied().unwrap_or(0);
        if timeline.last().is_some_and(|(_, a)| *a != agg) {
            timeline.push((s_up.at.elapsed().as_secs_f64(), agg));
        }
        let done: u64 = st
            .iter()
            .filter(|(k, _)| {
                *k == "aggregated"
                    || k.starts_with("rejected:")
                    || k.starts_with("helper_rejected:")
            })
            .map(|(_, v)| v)
            .sum();
        if done >= n as u64 {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "aggregation did not finish: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let s_done = watch.sample();
    if let Some(p) = profiler {
        p.stop();
    }
    assert_eq!(
        final_stats.get("aggregated").copied().unwrap_or(0),
        n as u64,
        "{final_stats:?}"
    );
    let helper_connections = watch.helper_port_connections() - conns0;

    // One collection: exact result, and the Leader->Helper requests it takes.
    let c0 = watch.helper_port_connections();
    let t = Instant::now();
    let c = task
        .collect(
            Query::TimeInterval(task.current_interval()),
            Duration::from_secs(120),
        )
        .expect("collection");
    let collect_s = t.elapsed().as_secs_f64();
    assert_eq!(c.report_count, n as u64);
    assert_eq!(c.result, expected(&vdaf, &ms), "collected aggregate");
    let collect_connections = watch.helper_port_connections() - c0;
    let agg_s = s_done.at.duration_since(s_up.at).as_secs_f64();

    AggRun {
        upload_s: s_up.at.duration_since(s0.at).as_secs_f64(),
        agg_s,
        at_last_upload,
        jobs: final_stats.get("jobs").copied().unwrap_or(0),
        helper_requests: final_stats.get("helper_requests").copied().unwrap_or(0),
        helper_connections,
        collect_connections,
        collect_s,
        leader_cpu_s: watch.cpu(&s0, &s_done, "leader", "workerd (worker)"),
        helper_cpu_s: watch.cpu(&s0, &s_done, "helper", "workerd (worker)"),
        leader_agg_cores: watch.cpu(&s_up, &s_done, "leader", "workerd (worker)") / agg_s,
        helper_agg_cores: watch.cpu(&s_up, &s_done, "helper", "workerd (worker)") / agg_s,
        usage: watch.describe_usage(&s0, &s_done),
        threads: watch.describe_threads(&s0, &s_done),
        timeline,
        retried: sent.retried,
    }
}

/// Runs the pipeline for Prio3Count and Prio3Histogram(100) under the default schedule (and,
/// in a full run, two others for comparison).
pub fn section(
    o: &Opts,
    cluster: &Cluster,
    what: &str,
    floors: &BTreeMap<&'static str, FloorFigures>,
    figures: &mut Figures,
) {
    let n = o.reports;
    println!("## 3. End-to-end aggregation ({n} reports per run) and 4. Leader→Helper requests\n");
    println!("{what}. Time-interval tasks (one time bucket), reports generated before the clock starts and uploaded in requests of 100 from {} threads. The clock runs from the first upload until the Leader's `aggregated` counter reaches {n} (polled every 50 ms). **after last upload** = {n} / (time from the last upload's answer until the counter reached {n}); **end to end** = {n} / (first upload to completion). The floor is the product path of section 1 on 2 cores (the Leader and the Helper each on one). \"random\" runs use plain random report IDs (each shard ends with a remainder); \"balanced\" runs draw them so that every shard gets exactly its share. Leader→Helper requests: the Leader's `helper_requests` counter and the connections accepted by the proxy in front of the Helper. CPU: of each `workerd` process that runs the worker, per report over the whole run (uploads included), and in cores from the last upload to completion.\n", o.threads);
    let default = || Setting {
        label: "the default schedule, random",
        schedule: AggregationSchedule::default(),
        balanced: false,
    };
    let a = || {
        setting(
            "2 shards × 2 jobs of 2,500, balanced",
            2,
            2_500,
            2_500,
            30,
            true,
        )
    };
    let f = || {
        setting(
            "4 shards, min = max 2,500, wait 1 s, random",
            4,
            2_500,
            2_500,
            1,
            false,
        )
    };
    let runs: Vec<(&str, &str, VdafConfig, Vec<Setting>)> = vec![
        (
            "Prio3Count",
            "count",
            VdafConfig::Prio3Count,
            vec![default(), a(), f()],
        ),
        (
            "Prio3Histogram (100)",
            "hist100",
            hist100(),
            vec![default(), a()],
        ),
    ];
    let scale = |s: &Setting| {
        // --reports other than 10,000: keep the number of jobs, scale their size.
        let mut sc = s.schedule.clone();
        if n != 10_000 && sc.min_job_size >= 1_000 {
            let f = n as f64 / 10_000.0;
            sc.min_job_size = ((f64::from(sc.min_job_size) * f) as u32).max(1);
            sc.max_job_size = ((f64::from(sc.max_job_size) * f) as u32).max(sc.min_job_size);
        }
        Setting {
            label: s.label,
            schedule: sc,
            balanced: s.balanced,
        }
    };
    println!("Schedules:");
    for s in [default(), a(), f()] {
        println!("- {}: {}", s.label, describe(&scale(&s).schedule));
    }
    println!();
    println!("| VDAF | schedule | upload s | aggregated at last upload | after last upload s | **reports/s after last upload** | **of 2-core floor** | end-to-end reports/s | jobs | Leader→Helper requests (counter / connections) | **per 1,000 reports** | collection: s, Leader→Helper requests | worker CPU µs/report Leader / Helper | **worker CPU / floor** | cores after last upload Leader / Helper |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut details = Vec::new();
    for (name, key, vdaf, settings) in runs {
        let settings: Vec<Setting> = settings
            .iter()
            .take(if o.quick { 1 } else { usize::MAX })
            .map(scale)
            .collect();
        // An untimed run first, so that every measured run finds warm isolates and
        // compiled code, as production's steady state does.
        let warm = setting("warm-up", 2, 500, 500, 1, false);
        let _ = aggregate_run(o, cluster, vdaf, &warm, 2_000, None);
        for (i, s) in settings.iter().enumerate() {
            // --profile: the first (default-schedule) run of each VDAF.
            let profile = o.profile.as_deref().filter(|_| i == 0);
            let r = aggregate_run(o, cluster, vdaf, s, n, profile);
            let nf = n as f64;
            let rate = nf / r.agg_s;
            let end_to_end = nf / (r.upload_s + r.agg_s);
            let floor = floors.get(name).copied();
            let of_floor = floor.map(|f| rate / f.rps(2.0));
            // The aim: first upload to every report aggregated, against the floor.
            let e2e_of_floor = floor.map(|f| end_to_end / f.rps(2.0));
            let cpu_per_report = (r.leader_cpu_s + r.helper_cpu_s) * 1e6 / nf;
            let cpu_vs_floor = floor.map(|f| cpu_per_report / f.product_us);
            let per_1000 = 1000.0 * r.helper_connections as f64 / nf;
            println!(
                "| {name} | {} | {:.2} | {} | {:.2} | {:.0} | {} | {:.0} | {} | {} / {} | {:.2} | {:.2} s, {} | {:.0} / {:.0} | {} | {:.2} / {:.2} |",
                s.label,
                r.upload_s,
                r.at_last_upload,
                r.agg_s,
                rate,
                of_floor.map_or("-".into(), |f| format!("{:.0}%", 100.0 * f)),
                end_to_end,
                r.jobs,
                r.helper_requests,
                r.helper_connections,
                per_1000,
                r.collect_s,
                r.collect_connections,
                r.leader_cpu_s * 1e6 / nf,
                r.helper_cpu_s * 1e6 / nf,
                cpu_vs_floor.map_or("-".into(), |c| format!("{c:.2}×")),
                r.leader_agg_cores,
                r.helper_agg_cores,
            );
            // The aims are for the default schedule (the first setting).
            if i == 0 {
                let of_aim = if key == "count" { 0.5 } else { 0.4 };
                figures.add(
                    &format!("pipeline.{key}.default.reports_per_s"),
                    &format!("{name}, default schedule: reports/s end to end (first upload to all aggregated)"),
                    end_to_end,
                    "/s",
                    None,
                );
                if let Some(f) = e2e_of_floor {
                    figures.add(
                        &format!("pipeline.{key}.default.of_floor"),
                        &format!(
                            "{name}, default schedule: end to end, fraction of the 2-core floor"
                        ),
                        f,
                        "",
                        Some(Aim::AtLeast(of_aim)),
                    );
                }
                figures.add(
                    &format!("pipeline.{key}.default.after_last_upload_reports_per_s"),
                    &format!("{name}, default schedule: reports/s after the last upload"),
                    rate,
                    "/s",
                    None,
                );
                if let Some(f) = of_floor {
                    figures.add(
                        &format!("pipeline.{key}.default.after_last_upload_of_floor"),
                        &format!("{name}, default schedule: after the last upload, fraction of the 2-core floor"),
                        f,
                        "",
                        None,
                    );
                }
                if let Some(c) = cpu_vs_floor {
                    figures.add(&format!("pipeline.{key}.default.cpu_vs_floor"), &format!("{name}, default schedule: worker CPU per report (Leader + Helper) / floor"), c, "×", (key == "count").then_some(Aim::AtMost(2.0)));
                }
                figures.add(
                    &format!("pipeline.{key}.default.leader_cpu_us_per_report"),
                    &format!(
                        "{name}, default schedule: Leader worker CPU per report (uploads included)"
                    ),
                    r.leader_cpu_s * 1e6 / nf,
                    "µs",
                    None,
                );
                figures.add(
                    &format!("pipeline.{key}.default.helper_cpu_us_per_report"),
                    &format!("{name}, default schedule: Helper worker CPU per report"),
                    r.helper_cpu_s * 1e6 / nf,
                    "µs",
                    None,
                );
                figures.add(
                    &format!("pipeline.{key}.default.helper_requests_per_1000"),
                    &format!("{name}, default schedule: Leader→Helper requests per 1,000 reports"),
                    per_1000,
                    "",
                    None,
                );
            }
            if r.retried > 0 {
                details.push(format!(
                    "- {name}, {}: {} upload requests were sent again after a 503 from wrangler's proxy.",
                    s.label, r.retried
                ));
            }
            details.push(format!(
                "- {name}, {}: `aggregated` after the last upload: {}. CPU from first upload to completion ({:.2} s): {}. Busiest threads: {}.",
                s.label,
                r.timeline
                    .iter()
                    .map(|(t, a)| format!("{t:.2} s {a}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.upload_s + r.agg_s,
                r.usage,
                r.threads
            ));
        }
    }
    println!();
    for d in details {
        println!("{d}");
    }
    println!();
}
