//! HTTP drivers: uploads from concurrent keep-alive clients, sequential probes, counters.

use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::task::AggregationSchedule;
use edap_testkit::http::Conn;
use edap_testkit::{TestTask, API_TOKEN};
use prio::codec::Decode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a batch of uploads did.
pub struct Sent {
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    pub refused: usize,
    pub failed: usize,
    /// Requests sent again after wrangler's proxy answered 503 "worker restarted".
    pub retried: usize,
}

/// The `p` quantile of `v`, in milliseconds.
pub fn percentile(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s: Vec<_> = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i].as_secs_f64() * 1e3
}

/// POSTs every body to the task's upload endpoint from `threads` keep-alive connections.
pub fn send_uploads(task: &TestTask, bodies: &[Vec<u8>], threads: usize) -> Sent {
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(bodies.len()));
    let refused = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let path = format!("/tasks/{}/reports", task.task_id);
    let ct = MediaType::UploadReq.as_str();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut conn = Conn::new(task.leader_port);
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    // wrangler's proxy occasionally answers 503 "Your worker restarted
                    // mid-request" without the worker having failed; such a request is sent
                    // again (a retry whose first attempt did land sees its reports as
                    // replays, which then do not count as refused).
                    let mut attempt = 0;
                    loop {
                        match conn.request("POST", &path, &[("content-type", &ct)], body) {
                            Ok(r) if r.status == 200 => {
                                if !r.body.is_empty() {
                                    let errs = UploadErrors::get_decoded(&r.body)
                                        .map(|e| e.status)
                                        .unwrap_or_default();
                                    let n = errs
                                        .iter()
                                        .filter(|e| {
                                            attempt == 0 || e.error != ReportError::ReportReplayed
                                        })
                                        .count();
                                    refused.fetch_add(n, Ordering::Relaxed);
                                }
                            }
                            Ok(r)
                                if r.status == 503
                                    && attempt < 3
                                    && r.text().contains("restarted") =>
                            {
                                attempt += 1;
                                retried.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Ok(r) => {
                                eprintln!("upload answered {}: {}", r.status, r.text());
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                eprintln!("upload failed: {e}");
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        break;
                    }
                    mine.push(t.elapsed());
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    Sent {
        wall: start.elapsed(),
        latencies: latencies.into_inner().unwrap(),
        refused: refused.into_inner(),
        failed: failed.into_inner(),
        retried: retried.into_inner(),
    }
}

pub fn retried_note(refused: usize, retried: usize) -> String {
    if retried == 0 {
        refused.to_string()
    } else {
        format!("{refused} ({retried} requests sent again after a 503 from wrangler's proxy)")
    }
}

/// `n` sequential requests on one keep-alive connection: their latencies.
pub fn sequential(
    port: u16,
    n: usize,
    mut req: impl FnMut(&mut Conn, usize) -> u16,
) -> Vec<Duration> {
    let mut conn = Conn::new(port);
    (0..n)
        .map(|i| {
            let t = Instant::now();
            let status = req(&mut conn, i);
            assert!(status < 300, "probe request answered {status}");
            t.elapsed()
        })
        .collect()
}

/// The Leader's counters of a task.
pub fn stats(task: &TestTask, conn: &mut Conn) -> BTreeMap<String, u64> {
    let r = conn
        .request(
            "GET",
            &format!("/api/tasks/{}/metrics/uploads", task.task_id),
            &[
                ("authorization", &format!("Bearer {API_TOKEN}")),
                ("accept", edap_core::api::aggregator_api::MEDIA_TYPE),
            ],
            &[],
        )
        .expect("stats");
    assert_eq!(r.status, 200, "stats: {}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("metrics JSON");
    serde_json::from_value(v["counters"].clone()).expect("counters")
}

/// A schedule under which no job forms while uploads are measured.
pub fn no_aggregation() -> AggregationSchedule {
    AggregationSchedule {
        min_job_size: 1_000_000,
        max_job_size: 1_000_000,
        max_wait_secs: 86_400,
        report_shards: 8,
        bucket_shards: 4,
        replay_shards: 8,
        batch_size_target: 0,
    }
}
