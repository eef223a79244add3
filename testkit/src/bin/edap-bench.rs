//! `edap-bench`: the benchmark of issue 3. It PRINTS figures; it asserts nothing about speed.
//!
//! 1. `floor`  - the native compute floor per report (Leader and Helper together), measured
//!    by calling edap-core's own functions on reports built by its `Client`.
//! 2. `upload` - upload throughput into a Leader under `wrangler dev` (single-report and
//!    bulk requests, reports generated before the clock starts, concurrent client threads).
//! 3. `agg`    - end-to-end aggregation of 10,000 Prio3Count and 10,000 Prio3Histogram(100)
//!    reports under several aggregation schedules, with CPU accounting of every process.
//! 4.          - Leader->Helper HTTP requests per 1,000 reports (the Leader's counter, and
//!    the connections the proxy in front of the Helper accepted), part of `agg`.
//! 5. `size`   - the deployed wasm, raw and gzip.
//!
//! Run it through `scripts/bench` (which builds the worker and this binary first). Options:
//!   --only floor,upload,agg,size   run only these sections (default: all)
//!   --threads N                    upload client threads (default 8)
//!   --reports N                    reports per aggregation run (default 10000)
//!   --floor-reports N              reports per VDAF for the floor (default 1000)
//!   --quick                        fewer reports and one schedule per VDAF (a smoke run)
//!   --profile DIR                  also record V8 CPU profiles of the Leader's and the
//!                                  Helper's workerd during one aggregation run (needs node)
//!   --logs DIR                     keep the wrangler logs of the Leader and the Helper

use edap_core::api::admin::TaskConfigSpec;
use edap_core::hpke::{HpkeKeypair, HpkeReceiverSet};
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::{open_input_share, InputShareContext};
use edap_core::task::AggregationSchedule;
use edap_core::vdaf::{self, agg_share, AggregateResult, DapVdaf, Measurement, Prio3Instance};
use edap_testkit::http::Conn;
use edap_testkit::procstat::{self, Snapshot};
use edap_testkit::{now_secs, root, Cluster, TestTask, ADMIN_TOKEN};
use prio::codec::{Decode, Encode};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Options

struct Opts {
    only: Vec<String>,
    threads: usize,
    reports: usize,
    floor_reports: usize,
    quick: bool,
    profile: Option<std::path::PathBuf>,
    logs: Option<std::path::PathBuf>,
}

impl Opts {
    fn parse() -> Opts {
        let mut o = Opts {
            only: Vec::new(),
            threads: 8,
            reports: 10_000,
            floor_reports: 1_000,
            quick: false,
            profile: None,
            logs: None,
        };
        let mut args = std::env::args().skip(1);
        let num = |v: Option<String>, name: &str| -> usize {
            v.and_then(|v| v.parse().ok())
                .unwrap_or_else(|| die(&format!("{name} needs a number")))
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--only" => {
                    o.only = args
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::to_string)
                        .collect()
                }
                "--threads" => o.threads = num(args.next(), "--threads").max(1),
                "--reports" => o.reports = num(args.next(), "--reports").max(100),
                "--floor-reports" => o.floor_reports = num(args.next(), "--floor-reports").max(10),
                "--quick" => o.quick = true,
                "--profile" => {
                    o.profile = Some(
                        args.next()
                            .unwrap_or_else(|| die("--profile needs a directory"))
                            .into(),
                    )
                }
                "--logs" => {
                    o.logs = Some(
                        args.next()
                            .unwrap_or_else(|| die("--logs needs a directory"))
                            .into(),
                    )
                }
                "-h" | "--help" => {
                    println!("usage: edap-bench [--only floor,upload,agg,size] [--threads N] [--reports N] [--floor-reports N] [--quick] [--profile DIR] [--logs DIR]");
                    std::process::exit(0);
                }
                other => die(&format!("unknown argument {other:?} (try --help)")),
            }
        }
        if o.quick {
            o.reports = o.reports.min(2_000);
            o.floor_reports = o.floor_reports.min(200);
        }
        o
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

fn die(msg: &str) -> ! {
    eprintln!("edap-bench: {msg}");
    std::process::exit(2)
}

// ---------------------------------------------------------------------------------------
// Workloads

/// `chunk_length` as `prio` recommends it (the shortest proof) for a circuit of `n` inputs.
fn chunk(n: usize) -> u32 {
    prio::vdaf::prio3::optimal_chunk_length(n) as u32
}

fn hist100() -> VdafConfig {
    VdafConfig::Prio3Histogram {
        length: 100,
        chunk_length: chunk(100),
    }
}

fn floor_vdafs() -> Vec<(&'static str, VdafConfig, f64)> {
    // (name, VDAF, floor reports/s per core from /work/shared/notes/perf-floor.md)
    vec![
        ("Prio3Count", VdafConfig::Prio3Count, 4_750.0),
        (
            "Prio3Sum (max 2^32-1)",
            VdafConfig::Prio3Sum {
                max_measurement: 4_294_967_295,
            },
            2_630.0,
        ),
        ("Prio3Histogram (100)", hist100(), 3_670.0),
        (
            "Prio3SumVec (len 100, max 255)",
            VdafConfig::Prio3SumVec {
                length: 100,
                max_measurement: 255,
                // 100 entries of 8 bits each.
                chunk_length: chunk(800),
            },
            1_980.0,
        ),
    ]
}

fn measurement(vdaf: &VdafConfig, i: u64) -> Measurement {
    match *vdaf {
        VdafConfig::Prio3Count => Measurement::Count(i % 3 != 1),
        VdafConfig::Prio3Sum { max_measurement } => {
            Measurement::Sum(i * 1_000_003 % (max_measurement + 1))
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            ..
        } => Measurement::Vector(
            (0..u64::from(length))
                .map(|j| (i * 7 + j * 13) % (max_measurement + 1))
                .collect(),
        ),
        VdafConfig::Prio3Histogram { length, .. } => Measurement::Bucket(i * 7 % u64::from(length)),
        VdafConfig::Prio3MultihotCountVec { length, .. } => {
            Measurement::Vector((0..u64::from(length)).map(|j| (i + j) % 2).collect())
        }
    }
}

fn expected(vdaf: &VdafConfig, ms: &[Measurement]) -> AggregateResult {
    let mut r = AggregateResult::zero(vdaf);
    ms.iter().for_each(|m| r.add(m));
    r
}

/// Builds reports with `client` on up to `threads` threads (untimed preparation). With
/// `balance_shards = Some(k)`, report IDs are still random but drawn so that each of the `k`
/// report shards gets the same number of reports (as under steady traffic, where every job
/// is formed full-size); otherwise they are plain random.
fn make_reports(
    client: &Client,
    ms: &[Measurement],
    threads: usize,
    balance_shards: Option<u32>,
) -> Vec<Report> {
    let now = now_secs();
    let ids: Vec<ReportId> = match balance_shards {
        None => ms.iter().map(|_| ReportId::random()).collect(),
        Some(k) => {
            let k = k.max(1) as usize;
            let quota = |s: usize| ms.len() / k + usize::from(s < ms.len() % k);
            let mut count = vec![0usize; k];
            ms.iter()
                .map(|_| loop {
                    let id = ReportId::random();
                    let s = edap_core::store::shard_of(&id.0, k as u32) as usize;
                    if count[s] < quota(s) {
                        count[s] += 1;
                        break id;
                    }
                })
                .collect()
        }
    };
    let per = ms.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = ms
            .chunks(per)
            .zip(ids.chunks(per))
            .map(|(chunk, ids)| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .zip(ids)
                        .map(|(m, id)| client.report_with_id(*id, m, now).expect("report"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("report thread"))
            .collect()
    })
}

fn bodies(reports: &[Report], per_request: usize) -> Vec<Vec<u8>> {
    reports
        .chunks(per_request)
        .map(|c| {
            UploadRequest {
                reports: c.to_vec(),
            }
            .get_encoded()
            .expect("encode upload")
        })
        .collect()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------------------
// 1. The native floor

struct Floor {
    name: &'static str,
    client_us: f64,
    aggregators_us: f64,
    hpke_us: f64,
    upload_bytes: usize,
    note_rps: f64,
}

impl Floor {
    fn rps(&self) -> f64 {
        1e6 / self.aggregators_us
    }
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

fn section_floor(o: &Opts) -> BTreeMap<&'static str, f64> {
    println!("## 1. Native compute floor (one thread, release build, both aggregators)\n");
    println!(
        "{} reports per VDAF; \"aggregators\" = 2 HPKE opens + decoding + verify_init (both) + ping-pong messages + verify_next (both) + accumulate; \"client\" = shard + encode + 2 HPKE seals.\n",
        o.floor_reports
    );
    println!("chunk_length as `prio::vdaf::prio3::optimal_chunk_length` chooses it: Histogram(100) {}, SumVec(100, 255) {}.\n", chunk(100), chunk(800));
    println!("| VDAF | client µs/report | aggregators µs/report | of which 2 × HPKE open µs | floor reports/s (1 core) | perf-floor.md reports/s | this / perf-floor.md | upload bytes/report |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut out = BTreeMap::new();
    for (name, vdaf, note) in floor_vdafs() {
        // A short untimed warm-up, then the measurement.
        let _ = floor(name, vdaf, note, 20.min(o.floor_reports));
        let f = floor(name, vdaf, note, o.floor_reports);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} |",
            f.name,
            f.client_us,
            f.aggregators_us,
            f.hpke_us,
            f.rps(),
            f.note_rps,
            f.rps() / f.note_rps,
            f.upload_bytes
        );
        out.insert(f.name, f.rps());
    }
    println!();
    out
}

// ---------------------------------------------------------------------------------------
// CPU accounting of the wrangler instances

struct Watch<'a> {
    cluster: &'a Cluster,
    procs: Vec<(String, procstat::Proc)>,
}

struct Sample {
    at: Instant,
    snap: Snapshot,
    me: u64,
    machine: u64,
}

impl<'a> Watch<'a> {
    fn new(cluster: &'a Cluster) -> Watch<'a> {
        let mut procs = Vec::new();
        for (role, w) in [("leader", &cluster.leader), ("helper", &cluster.helper)] {
            for p in w.processes() {
                procs.push((role.to_string(), p));
            }
        }
        Watch { cluster, procs }
    }

    fn sample(&self) -> Sample {
        let procs: Vec<_> = self.procs.iter().map(|(_, p)| p.clone()).collect();
        Sample {
            at: Instant::now(),
            snap: Snapshot::take(&procs),
            me: procstat::self_ticks(),
            machine: procstat::machine_busy_ticks(),
        }
    }

    fn role(&self, pid: u32) -> &str {
        self.procs
            .iter()
            .find(|(_, p)| p.pid == pid)
            .map_or("?", |(r, _)| r.as_str())
    }

    /// CPU seconds per (role, comm) between two samples, plus the benchmark's own.
    fn usage(&self, a: &Sample, b: &Sample) -> Vec<(String, f64)> {
        let mut by: BTreeMap<String, f64> = BTreeMap::new();
        for (pid, comm, secs) in b.snap.procs_since(&a.snap) {
            *by.entry(format!("{} {}", self.role(pid), comm))
                .or_default() += secs;
        }
        let mut v: Vec<_> = by.into_iter().collect();
        let me = b.me.saturating_sub(a.me) as f64 / procstat::TICKS_PER_SEC as f64;
        let ours: f64 = v.iter().map(|(_, s)| s).sum::<f64>() + me;
        let machine = b.machine.saturating_sub(a.machine) as f64 / procstat::TICKS_PER_SEC as f64;
        v.push(("edap-bench (clients)".into(), me));
        // Whatever else ran on the machine meanwhile (other users' builds or tests disturb
        // the figures; this should be close to 0).
        v.push(("everything else".into(), (machine - ours).max(0.0)));
        v
    }

    fn cpu(&self, a: &Sample, b: &Sample, role: &str, comm: &str) -> f64 {
        b.snap
            .procs_since(&a.snap)
            .into_iter()
            .filter(|(pid, c, _)| self.role(*pid) == role && c == comm)
            .map(|(_, _, s)| s)
            .sum()
    }

    fn describe_usage(&self, a: &Sample, b: &Sample) -> String {
        let wall = b.at.duration_since(a.at).as_secs_f64();
        self.usage(a, b)
            .into_iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(k, s)| format!("{k} {s:.2} s = {:.2} cores", s / wall))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn describe_threads(&self, a: &Sample, b: &Sample) -> String {
        let wall = b.at.duration_since(a.at).as_secs_f64();
        b.snap
            .threads_since(&a.snap)
            .into_iter()
            .filter(|t| t.3 / wall >= 0.02)
            .map(|(pid, tid, name, s)| {
                format!("{} {name}[{tid}] {:.2} cores", self.role(pid), s / wall)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn describe_processes(&self) -> String {
        self.procs
            .iter()
            .map(|(role, p)| {
                format!(
                    "{role}: {} (pid {}, {} threads)",
                    p.label,
                    p.pid,
                    procstat::thread_ticks(p.pid).len()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn helper_port_connections(&self) -> u64 {
        self.cluster
            .proxy
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------
// HTTP drivers

struct Sent {
    wall: Duration,
    latencies: Vec<Duration>,
    refused: usize,
    failed: usize,
    /// Requests sent again after wrangler's proxy answered 503 "worker restarted".
    retried: usize,
}

fn percentile(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s: Vec<_> = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i].as_secs_f64() * 1e3
}

/// POSTs every body to the task's upload endpoint from `threads` keep-alive connections.
fn send_uploads(task: &TestTask, bodies: &[Vec<u8>], threads: usize) -> Sent {
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

fn retried_note(refused: usize, retried: usize) -> String {
    if retried == 0 {
        refused.to_string()
    } else {
        format!("{refused} ({retried} requests sent again after a 503 from wrangler's proxy)")
    }
}

/// `n` sequential requests on one keep-alive connection: their latencies.
fn sequential(port: u16, n: usize, mut req: impl FnMut(&mut Conn, usize) -> u16) -> Vec<Duration> {
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

fn stats(task: &TestTask, conn: &mut Conn) -> BTreeMap<String, u64> {
    let r = conn
        .request(
            "GET",
            &format!("/admin/tasks/{}/stats", task.task_id),
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            &[],
        )
        .expect("stats");
    assert_eq!(r.status, 200, "stats: {}", r.text());
    serde_json::from_slice(&r.body).expect("stats JSON")
}

fn no_aggregation() -> AggregationSchedule {
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

// ---------------------------------------------------------------------------------------
// 2. Upload

fn section_upload(o: &Opts, cluster: &Cluster) {
    let watch = Watch::new(cluster);
    println!("## 2. Upload throughput into the Leader (`wrangler dev --local`, loopback)\n");
    println!(
        "Prio3Count task, schedule {{min_job_size 1,000,000, max_wait_secs 86,400, report_shards 8}} so that no aggregation runs during the measurement. Reports are generated before the clock starts; {} client threads, each with one keep-alive connection. Processes: {}.\n",
        o.threads,
        watch.describe_processes()
    );
    let (singles, bulk_reports) = if o.quick {
        (500, 4_000)
    } else {
        (2_000, 20_000)
    };
    let vdaf = VdafConfig::Prio3Count;
    let task = cluster.task(vdaf, BatchMode::TimeInterval, no_aggregation());
    let ms: Vec<Measurement> = (0..(singles + bulk_reports + 300) as u64)
        .map(|i| measurement(&vdaf, i))
        .collect();
    let reports = make_reports(&task.client, &ms, cores(), None);
    let (probe, rest) = reports.split_at(300);
    let (single, bulk) = rest.split_at(singles);

    // Latency probes: one connection, one request at a time.
    let hpke_lat = sequential(task.leader_port, 300, |c, _| {
        c.request("GET", "/hpke_config", &[], &[])
            .expect("hpke_config")
            .status
    });
    let probe_bodies = bodies(probe, 1);
    let path = format!("/tasks/{}/reports", task.task_id);
    let ct = MediaType::UploadReq.as_str();
    let up_lat = sequential(task.leader_port, probe_bodies.len(), |c, i| {
        c.request("POST", &path, &[("content-type", &ct)], &probe_bodies[i])
            .expect("upload")
            .status
    });
    println!("| request (sequential, one connection) | n | mean ms | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (what, lat) in [
        (
            "GET /hpke_config (keys cached in the isolate: no Durable Object call)",
            &hpke_lat,
        ),
        (
            "POST 1 report (2 Durable Object calls: BatchBuckets#0 collected check, ReportShard put)",
            &up_lat,
        ),
    ] {
        let mean = lat.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / lat.len() as f64;
        println!(
            "| {what} | {} | {mean:.2} | {:.2} | {:.2} |",
            lat.len(),
            percentile(lat, 0.5),
            percentile(lat, 0.99)
        );
    }
    println!();

    let i0 = watch.sample();
    std::thread::sleep(Duration::from_secs(2));
    let i1 = watch.sample();
    println!(
        "Idle baseline (2 s, no requests): {}.\n",
        watch.describe_usage(&i0, &i1)
    );

    println!("| requests | reports | threads | wall s | reports/s | requests/s | p50 ms | p99 ms | refused | Leader workerd CPU µs/report | CPU use (cores) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (label, rs, per) in [
        ("1 report each", single, 1),
        ("100 reports each", bulk, 100),
    ] {
        let b = bodies(rs, per);
        let profiler = o.profile.as_deref().map(|dir| {
            let prefix = format!("upload-{per}");
            Profiler::start(cluster, dir, &prefix, false, label)
        });
        let s0 = watch.sample();
        let sent = send_uploads(&task, &b, o.threads);
        let s1 = watch.sample();
        if let Some(p) = profiler {
            p.stop();
        }
        assert_eq!(sent.failed, 0, "uploads failed");
        let secs = sent.wall.as_secs_f64();
        let leader_cpu = watch.cpu(&s0, &s1, "leader", "workerd (worker)");
        println!(
            "| {label} | {} | {} | {secs:.2} | {:.0} | {:.0} | {:.1} | {:.1} | {} | {:.0} | {} |",
            rs.len(),
            o.threads,
            rs.len() as f64 / secs,
            b.len() as f64 / secs,
            percentile(&sent.latencies, 0.5),
            percentile(&sent.latencies, 0.99),
            retried_note(sent.refused, sent.retried),
            leader_cpu * 1e6 / rs.len() as f64,
            watch.describe_usage(&s0, &s1)
        );
        println!(
            "|  | threads that used ≥ 2% of a core: {} |||||||||||",
            watch.describe_threads(&s0, &s1)
        );
    }
    let st = stats(&task, &mut Conn::new(task.leader_port));
    println!(
        "\nLeader counters after the upload runs: uploaded {}, aggregated {} (aggregation held back as intended).\n",
        st.get("uploaded").copied().unwrap_or(0),
        st.get("aggregated").copied().unwrap_or(0)
    );
}

// ---------------------------------------------------------------------------------------
// 3 and 4. Aggregation end to end

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
    profile: Option<&std::path::Path>,
) -> AggRun {
    let n = o.reports;
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
    let profiler = profile.map(|dir| Profiler::start(cluster, dir, "agg", true, setting.label));

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
            .filter(|(k, _)| *k == "aggregated" || k.starts_with("rejected:"))
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

fn section_agg(o: &Opts, cluster: &Cluster, floors: &BTreeMap<&'static str, f64>) {
    let n = o.reports;
    println!("## 3. End-to-end aggregation ({n} reports per run) and 4. Leader→Helper requests\n");
    println!("Time-interval tasks (one time bucket), reports generated before the clock starts and uploaded in requests of 100 from {} threads. The clock runs from the first upload until the Leader's `aggregated` counter reaches {n} (polled every 50 ms). **after last upload** = {n} / (time from the last upload's answer until the counter reached {n}): the issue's figure; **end to end** = {n} / (first upload to completion). \"balanced\" runs draw the (random) report IDs so that every report shard gets exactly its share, as under steady traffic where every job is formed full-size, so that each shard forms its jobs the moment they are full and no leftover waits for `max_wait_secs`; \"random\" runs use plain random IDs, so each shard ends with a remainder that waits up to `max_wait_secs`. Leader→Helper requests: the Leader's `helper_requests` counter and the connections accepted by the proxy in front of the Helper (one request per connection). Each run ends with one collection whose result is checked. CPU: of the `workerd` process that runs the worker, per report over the whole run (upload included), and in cores from the last upload to completion.\n", o.threads);
    // The first setting of each list is the one chosen (and the one profiled with --profile).
    let count_settings = vec![
        setting(
            "A: 2 shards × 2 jobs of 2,500, balanced",
            2,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "B: 1 shard × 4 jobs of 2,500, balanced",
            1,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "C: 4 shards × 2 jobs of 1,250, balanced",
            4,
            1_250,
            1_250,
            30,
            true,
        ),
        setting(
            "D: 4 shards × 1 job of 2,500, balanced",
            4,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "E: 2 shards × 1 job of 5,000, balanced",
            2,
            5_000,
            5_000,
            30,
            true,
        ),
        setting(
            "F: 4 shards, min = max 2,500, wait 1 s, random",
            4,
            2_500,
            2_500,
            1,
            false,
        ),
        Setting {
            label: "G: the default schedule, random",
            schedule: AggregationSchedule::default(),
            balanced: false,
        },
    ];
    let hist_settings = vec![
        setting(
            "A: 2 shards × 2 jobs of 2,500, balanced",
            2,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "B: 1 shard × 4 jobs of 2,500, balanced",
            1,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "D: 4 shards × 1 job of 2,500, balanced",
            4,
            2_500,
            2_500,
            30,
            true,
        ),
        setting(
            "F: 4 shards, min = max 2,500, wait 1 s, random",
            4,
            2_500,
            2_500,
            1,
            false,
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
    let runs: Vec<(&str, VdafConfig, Vec<Setting>)> = vec![
        ("Prio3Count", VdafConfig::Prio3Count, count_settings),
        ("Prio3Histogram (100)", hist100(), hist_settings),
    ];
    let mut all = Vec::new();
    for (_, _, settings) in &runs {
        for s in settings {
            if !all.iter().any(|(l, _): &(&str, String)| *l == s.label) {
                all.push((s.label, describe(&scale(s).schedule)));
            }
        }
    }
    println!("Schedules:");
    for (l, d) in all {
        println!("- {l}: {d}");
    }
    println!();
    println!("| VDAF | schedule | upload s | aggregated at last upload | after last upload s | **reports/s after last upload** | **of native floor** | end-to-end reports/s | jobs | Leader→Helper requests (counter / connections) | **per 1,000 reports** | collection: s, Leader→Helper requests | worker CPU µs/report Leader / Helper | cores after last upload Leader / Helper |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut details = Vec::new();
    let mut profiled = false;
    for (name, vdaf, settings) in runs {
        let settings: Vec<Setting> = if o.quick {
            settings.iter().take(1).map(scale).collect()
        } else {
            settings.iter().map(scale).collect()
        };
        for s in &settings {
            let profile = match (&o.profile, profiled) {
                (Some(dir), false) => {
                    profiled = true;
                    Some(dir.as_path())
                }
                _ => None,
            };
            let r = aggregate_run(o, cluster, vdaf, s, profile);
            let nf = n as f64;
            let rate = nf / r.agg_s;
            let floor = floors.get(name).copied();
            println!(
                "| {name} | {} | {:.2} | {} | {:.2} | {:.0} | {} | {:.0} | {} | {} / {} | {:.2} | {:.2} s, {} | {:.0} / {:.0} | {:.2} / {:.2} |",
                s.label,
                r.upload_s,
                r.at_last_upload,
                r.agg_s,
                rate,
                floor.map_or("-".into(), |f| format!("{:.0}%", 100.0 * rate / f)),
                nf / (r.upload_s + r.agg_s),
                r.jobs,
                r.helper_requests,
                r.helper_connections,
                1000.0 * r.helper_connections as f64 / nf,
                r.collect_s,
                r.collect_connections,
                r.leader_cpu_s * 1e6 / nf,
                r.helper_cpu_s * 1e6 / nf,
                r.leader_agg_cores,
                r.helper_agg_cores,
            );
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

// ---------------------------------------------------------------------------------------
// V8 CPU profiles through wrangler's inspector (optional)

struct Profiler {
    children: Vec<Child>,
}

impl Profiler {
    /// Profiles the Leader (and the Helper if `helper`) into `DIR/{prefix}-{role}.cpuprofile`.
    fn start(
        cluster: &Cluster,
        dir: &std::path::Path,
        prefix: &str,
        helper: bool,
        label: &str,
    ) -> Profiler {
        std::fs::create_dir_all(dir).expect("profile dir");
        let script = root().join("testkit/profile/cpu-profile.mjs");
        let mut children = Vec::new();
        let mut targets = vec![("leader", &cluster.leader)];
        if helper {
            targets.push(("helper", &cluster.helper));
        }
        for (role, w) in targets {
            let out = dir.join(format!("{prefix}-{role}.cpuprofile"));
            let child = Command::new("node")
                .arg(&script)
                .arg(w.inspector_port.to_string())
                .arg(&out)
                .env("NODE_PATH", root().join("node_modules"))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("node");
            children.push(child);
        }
        // Give the profilers time to attach before the clock starts.
        std::thread::sleep(Duration::from_millis(1500));
        eprintln!("profiling {label} into {}", dir.display());
        Profiler { children }
    }

    fn stop(self) {
        for mut c in self.children {
            // Closing stdin tells the script to stop the profiler and write the profile.
            drop(c.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. Size

fn section_size() {
    println!("## 5. Deployed wasm\n");
    let wasm = root().join("build/index_bg.wasm");
    let raw = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    let gz = Command::new("gzip")
        .arg("-9c")
        .arg(&wasm)
        .output()
        .map(|o| o.stdout.len())
        .unwrap_or(0);
    println!(
        "build/index_bg.wasm: {raw} bytes raw ({:.0} KiB), {gz} bytes gzip -9 ({:.0} KiB).\n",
        raw as f64 / 1024.0,
        gz as f64 / 1024.0
    );
}

// ---------------------------------------------------------------------------------------

/// workerd processes on this machine that are not in `ours`.
fn other_workerd(ours: &[u32]) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| !ours.contains(pid))
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "workerd")
                })
                .count()
        })
        .unwrap_or(0)
}

/// The commit measured, and whether the product sources differ from it.
fn revision() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "commit unknown".into();
    };
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "core/src",
        "src",
        "durable",
        "Cargo.lock",
        "wrangler.toml",
    ])
    .is_some_and(|s| !s.is_empty());
    format!(
        "commit {head}{}",
        if dirty {
            " + uncommitted changes to the product sources"
        } else {
            ""
        }
    )
}

fn main() {
    let o = Opts::parse();
    let started = Instant::now();
    println!(
        "# edap-bench ({} cores, {} upload threads{}; {})\n",
        cores(),
        o.threads,
        if o.quick { ", quick" } else { "" },
        revision()
    );
    println!(
        "Load average at start: {}.\n",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut floors = BTreeMap::new();
    if o.wants("floor") || o.wants("agg") {
        floors = section_floor(&o);
    }
    if o.wants("upload") || o.wants("agg") {
        let cluster = Cluster::start_with("bench", &[]);
        let ours: Vec<u32> = [&cluster.leader, &cluster.helper]
            .iter()
            .flat_map(|w| w.processes())
            .map(|p| p.pid)
            .collect();
        let foreign = other_workerd(&ours);
        if foreign > 0 {
            println!("**Warning: {foreign} other workerd processes are running on this machine; they compete for the same cores.**\n");
        }
        if o.wants("upload") {
            section_upload(&o, &cluster);
        }
        if o.wants("agg") {
            section_agg(&o, &cluster, &floors);
        }
        if let Some(dir) = &o.logs {
            std::fs::create_dir_all(dir).expect("logs dir");
            std::fs::write(dir.join("leader.log"), cluster.leader.log()).expect("write log");
            std::fs::write(dir.join("helper.log"), cluster.helper.log()).expect("write log");
        }
    }
    if o.wants("size") {
        section_size();
    }
    println!(
        "(edap-bench ran {:.0} s; load average at the end: {})",
        started.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
