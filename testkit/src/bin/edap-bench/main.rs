//! `edap-bench`: the benchmark of issues 3 and 13. It PRINTS figures (Markdown, and JSON
//! with `--json FILE`); it asserts nothing about speed.
//!
//! 1. `floor`    - the native compute floor per report: the product's own code path on the
//!    in-memory platform, and the cryptography alone ([`floor`]).
//! 2. `upload`   - what workerd itself costs per request ([`platform`]), then upload
//!    throughput into a Leader under workerd (state on tmpfs: production's storage is not
//!    this VM's disk), under workerd with its state on disk, and under `wrangler dev`
//!    ([`upload`]).
//! 3. `agg`      - end-to-end aggregation of 10,000 Prio3Count and 10,000
//!    Prio3Histogram(100) reports under the default schedule (and others), against the
//!    floor, with CPU accounting of every process and Leader→Helper requests ([`agg`]).
//! 5. `size`     - the deployed wasm.
//! 6. `capacity` - the capacity model's per-shard figures ([`capacity`]).
//!
//! Every figure the issue sets an aim for is printed beside it in a closing summary. Run it
//! through `scripts/bench`, which builds the worker and this binary first. Options: see
//! [`opts`] (`--help`).

mod agg;
mod capacity;
mod drive;
mod figures;
mod floor;
mod opts;
mod platform;
mod size;
mod upload;
mod watch;
mod workload;

use edap_testkit::{Cluster, Runtime};
use figures::Figures;
use std::path::PathBuf;
use std::time::Instant;

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the measured instances keep their state: tmpfs when the machine has one (the
/// Durable Object storage of production is not a local disk whose fsync costs
/// milliseconds), else the temporary directory.
fn state_base() -> (PathBuf, &'static str) {
    let shm = PathBuf::from("/dev/shm");
    let probe = shm.join(format!("edap-bench-probe-{}", std::process::id()));
    if std::fs::create_dir_all(&probe).is_ok() {
        let _ = std::fs::remove_dir_all(&probe);
        (shm, "tmpfs (/dev/shm)")
    } else {
        (
            std::env::temp_dir(),
            "the temporary directory (no /dev/shm)",
        )
    }
}

fn warn_foreign(clusters: &[&Cluster]) {
    let ours: Vec<u32> = clusters
        .iter()
        .flat_map(|c| [&c.leader, &c.helper])
        .flat_map(|w| w.processes())
        .map(|p| p.pid)
        .collect();
    let foreign = watch::other_workerd(&ours);
    if foreign > 0 {
        println!("**Warning: {foreign} other workerd processes are running on this machine; they compete for the same cores.**\n");
    }
}

fn main() {
    let o = opts::Opts::parse();
    let started = Instant::now();
    let mut figures = Figures::default();
    let revision = watch::revision();
    println!(
        "# edap-bench ({} cores, {} clients for single uploads, {} threads for bulk{}; {revision})\n",
        workload::cores(),
        o.clients,
        o.threads,
        if o.quick { ", quick" } else { "" },
    );
    let load_start = loadavg();
    println!("Load average at start: {load_start}.\n");
    let mut floors = Default::default();
    if o.wants("floor") || o.wants("agg") {
        floors = floor::section(&o);
        for (name, f) in &floors {
            let key = name
                .split_whitespace()
                .next()
                .unwrap_or(name)
                .to_lowercase();
            figures.add(
                &format!("floor.{key}.product_us_per_report"),
                &format!("native floor, {name}: product path per report"),
                f.product_us,
                "µs",
                None,
            );
            figures.add(
                &format!("floor.{key}.crypto_us_per_report"),
                &format!("native floor, {name}: cryptography alone per report"),
                f.crypto_us,
                "µs",
                None,
            );
        }
    }
    let (base, base_what) = state_base();
    if o.wants("upload") {
        platform::section(o.clients, o.quick, &base, &mut figures);
    }
    if o.wants("upload") || o.wants("agg") || o.wants("capacity") {
        let workerd = Cluster::start_runtime("bench", &[], Runtime::Workerd, &base);
        warn_foreign(&[&workerd]);
        if o.wants("upload") {
            let disk =
                Cluster::start_runtime("bench-disk", &[], Runtime::Workerd, &std::env::temp_dir());
            let wrangler = Cluster::start_runtime("bench-dev", &[], Runtime::WranglerDev, &base);
            upload::section(
                &o,
                &[
                    upload::Target {
                        key: "workerd",
                        what: format!("workerd, state on {base_what}"),
                        cluster: &workerd,
                        production: true,
                        bulk: true,
                    },
                    upload::Target {
                        key: "workerd_disk",
                        what: "workerd, state on the temporary directory's disk".into(),
                        cluster: &disk,
                        production: false,
                        bulk: false,
                    },
                    upload::Target {
                        key: "wrangler",
                        what: "wrangler dev (development proxy in front of workerd)".into(),
                        cluster: &wrangler,
                        production: false,
                        bulk: true,
                    },
                ],
                &mut figures,
            );
        }
        if o.wants("agg") {
            agg::section(
                &o,
                &workerd,
                &format!("Both aggregators under workerd, state on {base_what}"),
                &floors,
                &mut figures,
            );
        }
        if o.wants("capacity") {
            capacity::section(&o, &workerd, &mut figures);
        }
        if let Some(dir) = &o.logs {
            std::fs::create_dir_all(dir).expect("logs dir");
            std::fs::write(dir.join("leader.log"), workerd.leader.log()).expect("write log");
            std::fs::write(dir.join("helper.log"), workerd.helper.log()).expect("write log");
        }
    }
    if o.wants("size") {
        size::section(&mut figures);
    }
    println!("## Summary: each figure beside its aim (issue 13)\n");
    println!("{}", figures.summary());
    // The aims are absolute; machines of the same kind differ by 2-3x. These figures of the
    // same run say how fast this one was.
    let yardsticks = [
        (
            "platform.plain.cpu_us_per_request",
            "platform alone: a JS worker answering, workerd CPU per request",
        ),
        (
            "platform.sql.cpu_us_per_request",
            "platform alone: JS worker -> Durable Object -> one SQLite insert, per request",
        ),
        (
            "floor.prio3count.product_us_per_report",
            "native floor, Prio3Count, both aggregators, per report",
        ),
        (
            "floor.prio3histogram.product_us_per_report",
            "native floor, Prio3Histogram (100), both aggregators, per report",
        ),
    ];
    let known: Vec<_> = yardsticks
        .iter()
        .filter_map(|(k, label)| figures.get(k).map(|v| (label, v)))
        .collect();
    if !known.is_empty() {
        println!("Yardsticks of the same run (how fast this machine was):\n");
        println!("| yardstick | µs |\n|---|---:|");
        for (label, v) in known {
            println!("| {label} | {v:.0} |");
        }
        println!();
    }
    let load_end = loadavg();
    println!(
        "(edap-bench ran {:.0} s; load average at the end: {load_end})",
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &o.json {
        let meta = serde_json::json!({
            "revision": revision,
            "cores": workload::cores(),
            "quick": o.quick,
            "clients": o.clients,
            "threads": o.threads,
            "reports": o.reports,
            "load_average_start": load_start,
            "load_average_end": load_end,
            "seconds": started.elapsed().as_secs_f64(),
        });
        let text = serde_json::to_string_pretty(&figures.json(meta)).expect("JSON");
        if let Err(e) = std::fs::write(path, text) {
            opts::die(&format!("writing {}: {e}", path.display()));
        }
    }
}
