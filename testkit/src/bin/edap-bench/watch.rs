//! CPU accounting of the Leader's and the Helper's processes (from `/proc`), V8 CPU
//! profiles through their inspectors, and facts about the machine and the commit.

use edap_testkit::procstat::{self, Snapshot};
use edap_testkit::{root, Cluster};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The processes of a cluster, by role.
pub struct Watch<'a> {
    cluster: &'a Cluster,
    procs: Vec<(String, procstat::Proc)>,
}

/// CPU times of every watched process (and of this one, and the machine) at one moment.
pub struct Sample {
    pub at: Instant,
    snap: Snapshot,
    me: u64,
    machine: u64,
}

impl<'a> Watch<'a> {
    pub fn new(cluster: &'a Cluster) -> Watch<'a> {
        let mut procs = Vec::new();
        for (role, w) in [("leader", &cluster.leader), ("helper", &cluster.helper)] {
            for p in w.processes() {
                procs.push((role.to_string(), p));
            }
        }
        Watch { cluster, procs }
    }

    pub fn sample(&self) -> Sample {
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

    pub fn cpu(&self, a: &Sample, b: &Sample, role: &str, comm: &str) -> f64 {
        b.snap
            .procs_since(&a.snap)
            .into_iter()
            .filter(|(pid, c, _)| self.role(*pid) == role && c == comm)
            .map(|(_, _, s)| s)
            .sum()
    }

    pub fn describe_usage(&self, a: &Sample, b: &Sample) -> String {
        let wall = b.at.duration_since(a.at).as_secs_f64();
        self.usage(a, b)
            .into_iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(k, s)| format!("{k} {s:.2} s = {:.2} cores", s / wall))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn describe_threads(&self, a: &Sample, b: &Sample) -> String {
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

    pub fn describe_processes(&self) -> String {
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

    pub fn helper_port_connections(&self) -> u64 {
        self.cluster
            .proxy
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// V8 CPU profilers attached to the Leader (and the Helper).
pub struct Profiler {
    children: Vec<Child>,
}

impl Profiler {
    /// Profiles the Leader (and the Helper if `helper`) into `DIR/{prefix}-{role}.cpuprofile`.
    pub fn start(
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

    pub fn stop(self) {
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

/// workerd processes on this machine that are not in `ours`.
pub fn other_workerd(ours: &[u32]) -> usize {
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
pub fn revision() -> String {
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
