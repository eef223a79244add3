//! Running the `edap` binary in tests: scratch directories and the checks every test makes
//! of a run's output (shared by the CLI's own tests and the root end-to-end tests).

use std::path::{Path, PathBuf};

/// A scratch directory, removed on drop unless the test failed.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory `edap-{name}-{pid}` under the system's temporary directory.
    pub fn new(name: &str) -> TempDir {
        TempDir::new_in(&std::env::temp_dir(), name)
    }

    /// A fresh directory `edap-{name}-{pid}` under `base`.
    pub fn new_in(base: &Path, name: &str) -> TempDir {
        let p = base.join(format!("edap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A path inside the directory, as a string.
    pub fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What an `edap` run produced.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "edap failed: {self:#?}");
        &self.stdout
    }

    /// Asserts a failure (exit 1) whose stderr ends with exactly one `edap: error:` line,
    /// with no panic, no Debug dump and none of `secrets`; returns that line.
    pub fn error_line(&self, secrets: &[&str]) -> String {
        assert_eq!(self.code, 1, "edap should have failed with 1: {self:#?}");
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let last = lines.last().copied().unwrap_or_default();
        assert!(
            last.starts_with("edap: error: "),
            "no error line: {self:#?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains("error")).count(),
            1,
            "one error line expected: {self:#?}"
        );
        for bad in ["panicked", "RUST_BACKTRACE", "{ ", "Error("]
            .iter()
            .chain(secrets)
        {
            assert!(
                !self.stderr.contains(bad) && !self.stdout.contains(bad),
                "output contains {bad:?}: {self:#?}"
            );
        }
        last.to_string()
    }
}
