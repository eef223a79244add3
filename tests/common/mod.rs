//! What the root crate's tests of the `edap` binary share: finding (and building) the
//! binary, running it with a bounded wait, and `edap interop` servers that are killed when
//! dropped.
//!
//! Cargo gives `CARGO_BIN_EXE_<name>` only to the integration tests of the package that owns
//! the binary, so these tests locate `edap` next to their own executable
//! (`target/<profile>/deps/<test>` -> `target/<profile>/edap`) and run `cargo build -p edap`
//! for that profile once per test binary: a no-op when `cargo test --workspace` already built
//! it, a build when only this package's tests run, and never a stale binary. (Cargo does not
//! hold the build lock while tests run, so the nested build does not wait on it.)
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Longest a single `edap` run may take (a thousand reports in a debug build included).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest `cargo build -p edap` may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Waits (bounded) for a child; kills it when the time runs out.
fn wait_bounded(child: &mut Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `edap` binary of the profile these tests were built with, built (once per test
/// binary) if missing or stale.
pub fn edap_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("tests run from target/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_string(),
            Some(p) => p.to_string(),
            None => "dev".to_string(),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut child = Command::new(cargo)
            .args([
                "build", "--quiet", "--locked", "-p", "edap", "--bin", "edap",
            ])
            .args(["--profile", &profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .spawn()
            .expect("run cargo build -p edap");
        let status = wait_bounded(&mut child, BUILD_TIMEOUT, "cargo build -p edap");
        assert!(status.success(), "cargo build -p edap failed");
        let bin = profile_dir.join("edap");
        assert!(bin.exists(), "no {} after cargo build", bin.display());
        bin
    })
}

pub use edap_testkit::cli::{Out, TempDir};

/// Runs `edap` (bounded by [`RUN_TIMEOUT`]) with `XDG_CACHE_HOME=cache`, no inherited
/// `EDAP_*` variables, and `env` added.
pub fn edap(cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(edap_bin());
    cmd.args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("EDAP_COLLECTOR_TOKEN")
        .env_remove("EDAP_API_TOKEN")
        .env_remove("EDAP_VERIFY_KEY")
        .env_remove("EDAP_HELPER_API_TOKEN")
        .env_remove("EDAP_AGGREGATOR_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn edap");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_bounded(&mut child, RUN_TIMEOUT, &format!("edap {args:?}"));
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

#[allow(unused_imports)] // used by some of the test binaries that include this module
pub use edap_testkit::interop::InteropServer;

/// Writes `text` to a new file.
pub fn write(path: &str, text: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
