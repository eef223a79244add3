//! The soak run (`scripts/bench --soak`, not in CI): minutes of mixed single and bulk
//! uploads into a Leader under `wrangler dev`, a collection of every finished minute, the
//! Helper behind the fault proxy dropping, delaying, refusing and 503-ing a share of
//! requests, and the Leader restarted twice. At the end every accepted report must be
//! counted exactly once; it prints reports accepted, counted, rejected by reason, and the
//! peak storage of the task's Durable Objects. Exits non-zero if any count is off.
//!
//!   edap-soak [--minutes N]   (default 10; at least 3)

use edap_core::messages::*;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::proxy::Mode;
use edap_testkit::{now_secs, Cluster, TaskOptions, TestTask};
use prio::codec::{Decode, Encode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRECISION: u64 = 60;

/// What the uploaders know: per minute, accepted reports and their sum; refusals by reason.
#[derive(Default)]
struct Ledger {
    accepted: BTreeMap<u64, (u64, u64)>,
    refused: BTreeMap<String, u64>,
    requests: u64,
    retried: u64,
}

fn minutes_arg() -> u64 {
    let mut args = std::env::args().skip(1);
    let mut minutes = 10;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--minutes" => {
                minutes = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| die("--minutes needs a number"))
            }
            "-h" | "--help" => {
                println!("edap-soak [--minutes N]");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other}")),
        }
    }
    minutes.max(3)
}

fn die(msg: &str) -> ! {
    eprintln!("edap-soak: {msg}");
    std::process::exit(2)
}

/// Uploads `reports` in one request, retrying (the same bytes) while the Leader gives no
/// answer or a 5xx; records which were accepted. A retried report answered
/// `report_replayed` was stored by an earlier attempt: it counts as accepted.
fn upload(task: &TestTask, reports: &[Report], values: &[u64], ledger: &Mutex<Ledger>) {
    let body = UploadRequest {
        reports: reports.to_vec(),
    }
    .get_encoded()
    .unwrap();
    let mut attempt = 0;
    let answer = loop {
        attempt += 1;
        let r = edap_testkit::http::request(
            task.leader_port,
            "POST",
            &format!("/tasks/{}/reports", task.task_id),
            &[(
                "content-type",
                &edap_core::media::MediaType::UploadReq.as_str(),
            )],
            &body,
        );
        match r {
            Ok(r) if r.status < 500 => break r,
            _ if attempt < 60 => std::thread::sleep(Duration::from_millis(500)),
            _ => die("the Leader did not take an upload for 30 s"),
        }
    };
    let mut refused: BTreeMap<ReportId, ReportError> = BTreeMap::new();
    if answer.status == 200 && !answer.body.is_empty() {
        for s in UploadErrors::get_decoded(&answer.body).unwrap().status {
            refused.insert(s.id, s.error);
        }
    } else if answer.status != 200 {
        die(&format!(
            "upload refused: {} {}",
            answer.status,
            answer.text()
        ));
    }
    let mut l = ledger.lock().unwrap();
    l.requests += 1;
    l.retried += u64::from(attempt > 1);
    for (r, v) in reports.iter().zip(values) {
        let stored_before =
            attempt > 1 && refused.get(&r.metadata.report_id) == Some(&ReportError::ReportReplayed);
        match refused.get(&r.metadata.report_id) {
            Some(e) if !stored_before => *l.refused.entry(e.to_string()).or_default() += 1,
            _ => {
                let e = l.accepted.entry(r.metadata.time.0).or_default();
                e.0 += 1;
                e.1 += v;
            }
        }
    }
}

fn storage_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if e.path().to_string_lossy().contains("-state") {
                total += m.len();
            }
        }
    }
    total
}

fn main() {
    let minutes = minutes_arg();
    let mut cluster = Cluster::start("soak");
    let task = Arc::new(cluster.task_opts(
        VdafConfig::Prio3Sum {
            max_measurement: 100,
        },
        BatchMode::TimeInterval,
        edap_testkit::schedule(),
        TaskOptions {
            min_batch_size: 1,
            time_precision: PRECISION,
            ..TaskOptions::default()
        },
    ));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let run = Duration::from_secs(minutes * 60);
    println!("soak: {minutes} min, Prio3Sum, {PRECISION} s batches, Helper behind the fault proxy");

    // Uploaders: one sends single reports, one bulk requests of 100.
    let mut threads = Vec::new();
    for bulk in [1usize, 100] {
        let (task, ledger, stop) = (task.clone(), ledger.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<u64> = (0..bulk as u64).map(|k| (i + k) % 101).collect();
                let ms: Vec<Measurement> = values.iter().map(|v| Measurement::Sum(*v)).collect();
                let reports = task.reports(&ms);
                upload(&task, &reports, &values, &ledger);
                i += bulk as u64;
                std::thread::sleep(Duration::from_millis(if bulk == 1 { 20 } else { 400 }));
            }
        }));
    }

    // Faults and restarts, from the main thread; collections of finished minutes.
    let faults = [
        Mode::LoseAnswer,
        Mode::Unavailable,
        Mode::Delay,
        Mode::Refuse,
    ];
    let mut next_fault = Duration::from_secs(20);
    let mut fault_i = 0;
    let mut restarts = [run / 3, run * 2 / 3].into_iter().peekable();
    let mut collected: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut collection_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut peak_storage = 0u64;
    let first_minute = now_secs() / PRECISION;
    let collect_minute =
        |m: u64, collected: &mut BTreeMap<u64, (u64, u64)>, errors: &mut BTreeMap<String, u64>| {
            match task.collect(
                Query::TimeInterval(Interval::new(m, 1)),
                Duration::from_secs(120),
            ) {
                Ok(c) => {
                    let sum = match c.result {
                        AggregateResult::Scalar(s) => s as u64,
                        AggregateResult::Vector(_) => 0,
                    };
                    collected.insert(m, (c.report_count, sum));
                    true
                }
                Err(e) => {
                    *errors.entry(e).or_default() += 1;
                    false
                }
            }
        };
    while start.elapsed() < run {
        std::thread::sleep(Duration::from_secs(1));
        let t = start.elapsed();
        if t >= next_fault {
            let mode = faults[fault_i % faults.len()];
            fault_i += 1;
            if mode == Mode::LoseAnswer {
                cluster.proxy.lose_next(3);
            } else {
                cluster.proxy.set(mode);
                std::thread::sleep(Duration::from_secs(4));
                cluster.proxy.set(Mode::Pass);
            }
            next_fault = t + Duration::from_secs(15);
        }
        if restarts.peek().is_some_and(|r| t >= *r) {
            restarts.next();
            println!("soak: restarting the Leader at {:.0} s", t.as_secs_f64());
            cluster.leader.restart();
        }
        // Every finished minute (two back: all its uploads are in and aggregated).
        let now_m = now_secs() / PRECISION;
        for m in first_minute..now_m.saturating_sub(1) {
            if !collected.contains_key(&m) && ledger.lock().unwrap().accepted.contains_key(&m) {
                collect_minute(m, &mut collected, &mut collection_errors);
            }
        }
        peak_storage = peak_storage.max(storage_bytes(&cluster.dir));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    cluster.proxy.set(Mode::Pass);
    // The rest, once the last minute is over.
    let last = ledger
        .lock()
        .unwrap()
        .accepted
        .keys()
        .last()
        .copied()
        .unwrap_or(first_minute);
    while now_secs() / PRECISION <= last {
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(10));
    let minutes_seen: Vec<u64> = ledger.lock().unwrap().accepted.keys().copied().collect();
    for m in minutes_seen {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !collected.contains_key(&m) && Instant::now() < deadline {
            if !collect_minute(m, &mut collected, &mut collection_errors) {
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
    peak_storage = peak_storage.max(storage_bytes(&cluster.dir));

    let l = ledger.lock().unwrap();
    let accepted: u64 = l.accepted.values().map(|(n, _)| n).sum();
    let counted: u64 = collected.values().map(|(n, _)| n).sum();
    let mut wrong = Vec::new();
    for (m, (n, s)) in &l.accepted {
        match collected.get(m) {
            Some((cn, cs)) if cn == n && cs == s => {}
            other => wrong.push(format!(
                "minute {m}: accepted {n} (sum {s}), collected {other:?}"
            )),
        }
    }
    println!(
        "soak: upload requests {}, {} of them retried after no answer or a 5xx",
        l.requests, l.retried
    );
    println!("soak: reports accepted {accepted}, counted {counted}");
    println!("soak: reports rejected by reason {:?}", l.refused);
    println!(
        "soak: collections {} batches; failed attempts before success {:?}",
        collected.len(),
        collection_errors
    );
    println!(
        "soak: peak storage of the task's Durable Objects {:.1} MiB (both aggregators)",
        peak_storage as f64 / (1 << 20) as f64
    );
    let stats = task.stats();
    println!("soak: Leader counters {stats:?}");
    if !wrong.is_empty() {
        eprintln!("soak: FAILED: {}", wrong.join("; "));
        std::process::exit(1);
    }
    println!("soak: every accepted report counted exactly once");
}
