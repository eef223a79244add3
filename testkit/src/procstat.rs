//! CPU accounting of local processes from `/proc` (Linux): which processes belong to a
//! `wrangler dev` process group, and how much CPU time each of them and each of their
//! threads has used. The benchmark samples these before and after a phase to tell how many
//! cores `workerd` really used.

use std::collections::BTreeMap;
use std::path::Path;

/// One process of a process group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Process ID.
    pub pid: u32,
    /// `comm` (the executable name, at most 15 characters).
    pub comm: String,
    /// What it is, for reports: `comm`, except that the two `workerd` processes of a
    /// `wrangler dev` are told apart: `workerd (worker)` runs the worker (it has the
    /// inspector), `workerd (wrangler proxy)` is wrangler's proxy in front of it.
    pub label: String,
}

fn label(pid: u32, comm: &str) -> String {
    if comm != "workerd" {
        return comm.to_string();
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    if cmdline.contains("--inspector-addr") {
        "workerd (worker)".into()
    } else {
        "workerd (wrangler proxy)".into()
    }
}

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SEC: u64 = 100;

/// Parses `/proc/.../stat`: `(comm, pgrp, utime + stime in ticks)`.
fn parse_stat(text: &str) -> Option<(String, u32, u64)> {
    // comm is inside parentheses and may contain spaces: split at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] = state (field 3), so field N is rest[N - 3].
    let pgrp = rest.get(2)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, pgrp, utime + stime))
}

fn read_stat(path: &Path) -> Option<(String, u32, u64)> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// Busy CPU time of the whole machine (all cores, everything but idle and iowait), in ticks.
pub fn machine_busy_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return 0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    total.saturating_sub(idle)
}

/// The processes whose process group is `pgid`.
pub fn group(pgid: u32) -> Vec<Proc> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((comm, pgrp, _)) = read_stat(&e.path().join("stat")) {
            if pgrp == pgid {
                let label = label(pid, &comm);
                out.push(Proc { pid, comm, label });
            }
        }
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// CPU time (user + system, all threads) a process has used, in ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    read_stat(Path::new(&format!("/proc/{pid}/stat"))).map_or(0, |(_, _, t)| t)
}

/// CPU time of the calling process, in ticks.
pub fn self_ticks() -> u64 {
    read_stat(Path::new("/proc/self/stat")).map_or(0, |(_, _, t)| t)
}

/// CPU time per thread of a process: thread ID -> (thread name, ticks).
pub fn thread_ticks(pid: u32) -> BTreeMap<u32, (String, u64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((comm, _, t)) = read_stat(&e.path().join("stat")) {
            out.insert(tid, (comm, t));
        }
    }
    out
}

/// A snapshot of the CPU time of a set of processes and of their threads.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// pid -> (label, ticks of the whole process).
    pub procs: BTreeMap<u32, (String, u64)>,
    /// (pid, tid) -> (thread name, ticks).
    pub threads: BTreeMap<(u32, u32), (String, u64)>,
}

impl Snapshot {
    /// Samples `procs` now.
    pub fn take(procs: &[Proc]) -> Snapshot {
        let mut s = Snapshot::default();
        for p in procs {
            s.procs.insert(p.pid, (p.label.clone(), cpu_ticks(p.pid)));
            for (tid, (name, t)) in thread_ticks(p.pid) {
                s.threads.insert((p.pid, tid), (name, t));
            }
        }
        s
    }

    /// CPU seconds each process used between `earlier` and `self`: (pid, label, seconds).
    pub fn procs_since(&self, earlier: &Snapshot) -> Vec<(u32, String, f64)> {
        self.procs
            .iter()
            .map(|(pid, (comm, t))| {
                let before = earlier.procs.get(pid).map_or(0, |x| x.1);
                (
                    *pid,
                    comm.clone(),
                    t.saturating_sub(before) as f64 / TICKS_PER_SEC as f64,
                )
            })
            .collect()
    }

    /// CPU seconds per thread between `earlier` and `self`, busiest first, threads that used
    /// nothing left out: (pid, tid, name, seconds).
    pub fn threads_since(&self, earlier: &Snapshot) -> Vec<(u32, u32, String, f64)> {
        let mut v: Vec<_> = self
            .threads
            .iter()
            .filter_map(|((pid, tid), (name, t))| {
                let before = earlier.threads.get(&(*pid, *tid)).map_or(0, |x| x.1);
                let d = t.saturating_sub(before);
                (d > 0).then(|| (*pid, *tid, name.clone(), d as f64 / TICKS_PER_SEC as f64))
            })
            .collect();
        v.sort_by(|a, b| b.3.total_cmp(&a.3));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let line =
            "1234 (my (odd) name) S 1 1200 1200 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat(line), Some(("my (odd) name".into(), 1200, 300)));
    }

    #[test]
    fn self_is_visible() {
        assert!(!thread_ticks(std::process::id()).is_empty());
        let _ = self_ticks();
    }
}
