//! Node's test runner as a child of a Rust test: `node --test` on some files, its output in
//! a log file, bounded in time, and stopped by process group (Node, the processes its tests
//! start, Chromium) when the time runs out.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs `node --test --test-reporter=spec FILES…` in `dir` with the extra environment
/// `env`, writing its output to `log`. `None` if it did not finish within `timeout`, in
/// which case its whole process group has been killed.
pub fn run_tests<S: AsRef<OsStr>>(
    dir: &Path,
    files: &[S],
    env: &[(&str, &Path)],
    log: &Path,
    timeout: Duration,
) -> Option<ExitStatus> {
    let out = std::fs::File::create(log).expect("create the Node log");
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-reporter=spec"])
        .args(files)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone the log's handle"))
        .stderr(out)
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("run node (Node.js >= 20 must be on PATH)");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("wait for node") {
            return Some(s);
        }
        if Instant::now() > deadline {
            // The group's ID is the child's PID (process_group(0)).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
