//! `scripts/dev` as a user runs it (on free loopback ports, in a temporary directory):
//! it comes up with the demo task, and no secret it generates ever appears on a command
//! line (which any local user can read in /proc) or in what it prints.

use edap_testkit::{free_port, root};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every process's command line, with NULs as spaces.
fn command_lines() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            out.push((pid, String::from_utf8_lossy(&raw).replace('\0', " ")));
        }
    }
    out
}

/// The secret values in `secrets.env` and the files holding tokens.
fn secrets(dev: &std::path::Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_to_string(dev.join("secrets.env"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim().to_string()))
        .collect();
    if let Ok(t) = std::fs::read_to_string(dev.join("helper-token")) {
        found.push(t.trim().to_string());
    }
    found.retain(|s| s.len() >= 16);
    found
}

/// Stops what the script started: its own process group, and the wrangler instances it
/// started in their own sessions (their group IDs are in `DEV/pgids`).
fn stop(pgid: u32, dev: &std::path::Path) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pgid}")])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && std::path::Path::new(&format!("/proc/{pgid}")).exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    for e in std::fs::read_dir(dev.join("pgids"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some(g) = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{g}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn scripts_dev_comes_up_without_a_secret_on_any_command_line_or_in_its_output() {
    let dev = std::env::temp_dir().join(format!("edap-dev-script-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dev);
    let (leader, helper, console) = (free_port(), free_port(), free_port());
    let mut child = Command::new(root().join("scripts/dev"))
        .env("EDAP_DEV_DIR", &dev)
        .env("LEADER_PORT", leader.to_string())
        .env("HELPER_PORT", helper.to_string())
        .env("CONSOLE_PORT", console.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("scripts/dev");
    let pgid = child.id();
    // Everything it prints, on both streams.
    let output = Arc::new(Mutex::new(String::new()));
    let (ready_tx, ready_rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (output, ready_tx) = (output.clone(), ready_tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.starts_with("Next, in another terminal") {
                    let _ = ready_tx.send(());
                }
                output.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    // Command lines seen while it starts (sampled every 10 ms: the long-lived wrangler and
    // workerd processes for sure, and the short-lived provisioning commands too).
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop_scan = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scanner = {
        let (seen, stop_scan) = (seen.clone(), stop_scan.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop_scan.load(std::sync::atomic::Ordering::Relaxed) && n < 60_000 {
                let mut s = seen.lock().unwrap();
                for (_, c) in command_lines() {
                    if !s.contains(&c) {
                        s.push(c);
                    }
                }
                drop(s);
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let came_up = ready_rx.recv_timeout(Duration::from_secs(600)).is_ok();
    // The running services, once more, after it settled.
    std::thread::sleep(Duration::from_secs(1));
    stop_scan.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = scanner.join();
    let secrets = secrets(&dev);
    let leader_answers =
        edap_testkit::http::request(leader, "GET", "/hpke_config", &[], &[]).map(|r| r.status);
    stop(pgid, &dev);
    let _ = child.wait();
    let output = output.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&dev);

    assert!(
        came_up,
        "scripts/dev did not come up within 10 minutes:\n{output}"
    );
    assert_eq!(
        leader_answers.ok(),
        Some(200),
        "the Leader it started does not answer"
    );
    assert!(
        secrets.len() >= 4,
        "expected the API, collector and Helper tokens, the verify key and the sealing key: {} found",
        secrets.len()
    );
    assert!(
        seen.iter()
            .any(|c| c.contains("wrangler") && c.contains(&leader.to_string())),
        "the scan did not see the Leader's wrangler (so it proves nothing)"
    );
    for s in &secrets {
        if let Some(c) = seen.iter().find(|c| c.contains(s.as_str())) {
            panic!(
                "a secret from .dev/secrets.env is on a command line: {}",
                c.replace(s.as_str(), "<SECRET>")
            );
        }
        assert!(!output.contains(s.as_str()), "scripts/dev printed a secret");
    }
}
