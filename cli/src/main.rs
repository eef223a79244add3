//! `edap`: the command-line Client, Collector and task tool of a DAP-18 service.
//!
//! Exit codes: 0 success; 1 any error (usage, input, network, protocol, decryption);
//! 2 `upload` finished but the Leader rejected some reports.

#![forbid(unsafe_code)]

mod collect;
mod error;
mod files;
mod hpke_cache;
mod http;
mod interop;
mod keygen;
mod measurements;
mod provision;
mod task;
mod timefmt;
mod upload;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// Command-line Client, Collector and task tool for DAP-18 (Distributed Aggregation
/// Protocol) aggregators.
///
/// Exit status: 0 on success, 1 on any error, 2 when `upload` completed but the Leader
/// rejected some reports.
#[derive(Parser)]
#[command(name = "edap", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a Collector HPKE key pair.
    ///
    /// Writes FILE as JSON (created with mode 0600; never overwritten without --force) and
    /// prints the public HpkeConfig as base64url of its DAP encoding: give that line to both
    /// aggregators as the task's collector HPKE config.
    HpkeKeygen(keygen::KeygenArgs),
    /// Create, inspect and provision task files.
    #[command(subcommand)]
    Task(task::TaskCmd),
    /// Upload measurements as reports to the task's Leader (the Client).
    ///
    /// Every measurement is checked against the task's VDAF before anything is sent: a
    /// malformed or out-of-range one fails the command (exit 1) and nothing is uploaded.
    /// The aggregators' HPKE configurations are cached for an hour in
    /// $XDG_CACHE_HOME/edap (or ~/.cache/edap); if the Leader answers outdated_config, they
    /// are fetched again once and the affected measurements re-uploaded as fresh reports.
    /// Prints "accepted: N", "rejected: N" and one line per rejection reason. Exit status 0
    /// when every report was accepted, 2 when some were rejected, 1 on errors.
    Upload(upload::UploadArgs),
    /// Collect an aggregate from the task's Leader (the Collector).
    ///
    /// Creates a collection job, polls it (honouring Retry-After, bounded by --timeout),
    /// decrypts and combines both aggregate shares with the Collector's key, then deletes
    /// the job unless --keep. Prints the interval (RFC 3339, UTC), the report count and the
    /// result: a number for count and sum, a table with a bar chart for the vector VDAFs.
    Collect(collect::CollectArgs),
    /// Serve the Client or Collector role of the DAP interop test API.
    ///
    /// Answers POSTed JSON commands on /internal/test/* (draft-dcook-ppm-dap-interop-test-design
    /// with the DAP-18 field changes) until killed, logging one line per command on stderr.
    /// Prints "listening on http://ADDR:PORT/" on stdout once it accepts connections.
    #[command(subcommand)]
    Interop(interop::InteropCmd),
}

fn run(cli: Cli) -> error::Result<ExitCode> {
    match cli.cmd {
        Cmd::HpkeKeygen(a) => keygen::run(a).map(|_| ExitCode::SUCCESS),
        Cmd::Task(c) => task::run(c).map(|_| ExitCode::SUCCESS),
        Cmd::Interop(c) => interop::run(c).map(|_| ExitCode::SUCCESS),
        Cmd::Upload(a) => {
            let summary = upload::run(a)?;
            print(&upload::summary_text(&summary))?;
            Ok(if summary.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Cmd::Collect(a) => {
            let outcome = collect::run(&a)?;
            let mut text = if a.json {
                collect::json_text(&outcome)?
            } else {
                collect::text(&outcome)
            };
            if !text.ends_with('\n') {
                text.push('\n');
            }
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print(text: &str) -> error::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| error::Error::Input(format!("cannot write to stdout: {e}")))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors are status 1 (2
            // means "some reports were rejected").
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edap: error: {}", error::one_line(&e.to_string(), 1000));
            ExitCode::FAILURE
        }
    }
}
