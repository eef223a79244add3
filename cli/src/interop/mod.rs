//! `edap interop client` and `edap interop collector`: the Client and Collector roles of the
//! interop test API (draft-dcook-ppm-dap-interop-test-design-07 with the DAP-18 field
//! changes), served over HTTP on `/internal/test/*`.
//!
//! Every recognized command answers 200 with a JSON object (`{"status": ...}`; `ready`
//! answers `{}`), whatever happened at the DAP level; an unknown `/internal/test/` path (or
//! any other path) answers 404, a method other than POST 405, and a body that is not a JSON
//! object 400. Each command is logged as one line on stderr, never with a token or a key.
//!
//! The server is `tiny_http`: a small, long-maintained, synchronous HTTP/1.1 server with no
//! async runtime, which fits a tool whose HTTP client is blocking `reqwest`. A hand-written
//! server over `std::net` would have to get keep-alive, chunked request bodies and
//! `Expect: 100-continue` right by itself (test runners send all three); tiny_http already
//! does, for four small dependencies.

mod client;
mod collector;

use crate::error::{one_line, Error, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// `edap interop ...`
#[derive(Subcommand)]
pub enum InteropCmd {
    /// Serve the interop test API's Client role: `ready` and `upload`.
    ///
    /// `upload` rebuilds the task configuration from the request (task_info "task-info"),
    /// fetches both aggregators' HPKE configurations, builds one report and uploads it to
    /// {leader}/tasks/{task_id}/reports.
    Client(ServeArgs),
    /// Serve the interop test API's Collector role: `ready`, `add_task`,
    /// `collection_start` and `collection_poll`.
    ///
    /// `add_task` generates an X25519 key pair for the task (kept in memory only);
    /// collection requests carry the task's token in the DAP-Auth-Token header.
    Collector(ServeArgs),
}

/// Arguments of `interop client` and `interop collector`.
#[derive(Args)]
pub struct ServeArgs {
    /// The port to listen on (0: any free port). The address actually bound is printed on
    /// stdout as "listening on http://ADDR:PORT/".
    #[arg(long, value_name = "N")]
    pub port: u16,
    /// The address to listen on. The test API has no authentication: keep it on loopback
    /// or on an isolated test network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: IpAddr,
}

/// A command's answer: the JSON body and a short note for the log line (never secrets).
pub struct Reply {
    body: Value,
    note: String,
}

impl Reply {
    fn new(body: Value, note: impl Into<String>) -> Reply {
        Reply {
            body,
            note: note.into(),
        }
    }

    /// `{"status": "success", ...fields}`.
    fn success(mut fields: Value, note: impl Into<String>) -> Reply {
        fields["status"] = json!("success");
        Reply::new(fields, note)
    }

    /// `{"status": "error", "error": ...}`.
    fn error(e: &Error, note: impl Into<String>) -> Reply {
        Reply::new(
            json!({"status": "error", "error": one_line(&e.to_string(), 1000)}),
            note,
        )
    }
}

/// One role of the test API.
trait Role: Send + Sync + 'static {
    /// "client" or "collector".
    const NAME: &'static str;
    /// The commands served under `/internal/test/`.
    const COMMANDS: &'static [&'static str];
    /// Runs a command (one of [`Role::COMMANDS`]).
    fn handle(&self, command: &str, body: &Value) -> Reply;
}

/// Runs `edap interop ...`: serves until killed.
pub fn run(cmd: InteropCmd) -> Result<()> {
    match cmd {
        InteropCmd::Client(a) => serve(&a, Arc::new(client::ClientRole::new()?)),
        InteropCmd::Collector(a) => serve(&a, Arc::new(collector::CollectorRole::new()?)),
    }
}

/// Largest request body accepted.
const MAX_BODY: u64 = 1 << 20;
/// Requests handled at once on their own threads; beyond that the accepting thread handles
/// them itself, which pushes back on the sender.
const MAX_THREADS: usize = 32;

fn serve<R: Role>(a: &ServeArgs, role: Arc<R>) -> Result<()> {
    let wanted = SocketAddr::new(a.bind, a.port);
    let server = tiny_http::Server::http(wanted)
        .map_err(|e| Error::Input(format!("cannot listen on {wanted}: {e}")))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Error::Input("the server has no IP address".into()))?;
    let shown = match addr {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        v4 => v4.to_string(),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{shown}/")
            .and_then(|_| out.flush())
            .map_err(|e| Error::Input(format!("cannot write to stdout: {e}")))?;
    }
    eprintln!(
        "edap interop {}: serving the test API on http://{shown}/internal/test/",
        R::NAME
    );
    let busy = Arc::new(AtomicUsize::new(0));
    for req in server.incoming_requests() {
        if busy.load(Ordering::SeqCst) >= MAX_THREADS {
            respond(&*role, req);
            continue;
        }
        busy.fetch_add(1, Ordering::SeqCst);
        let (role, busy) = (role.clone(), busy.clone());
        std::thread::spawn(move || {
            respond(&*role, req);
            busy.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn json_response(status: u16, body: &Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
        .expect("a valid header");
    tiny_http::Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header)
}

/// What a request gets, and the log line's status.
fn answer<R: Role>(role: &R, req: &mut tiny_http::Request) -> (u16, Value, String) {
    let path = req.url().split('?').next().unwrap_or_default().to_string();
    let Some(command) = path
        .strip_prefix("/internal/test/")
        .filter(|c| R::COMMANDS.contains(c))
    else {
        let what = one_line(&path, 100);
        return (
            404,
            json!({"status": "error", "error": format!("no such test command: {what}")}),
            format!("{what} -> 404"),
        );
    };
    if *req.method() != tiny_http::Method::Post {
        return (
            405,
            json!({"status": "error", "error": "use POST"}),
            format!("{command} -> 405 ({})", req.method()),
        );
    }
    let mut bytes = Vec::new();
    if let Err(e) = req.as_reader().take(MAX_BODY + 1).read_to_end(&mut bytes) {
        return (
            400,
            json!({"status": "error", "error": format!("cannot read the body: {e}")}),
            format!("{command} -> 400 (unreadable body)"),
        );
    }
    if bytes.len() as u64 > MAX_BODY {
        return (
            413,
            json!({"status": "error", "error": "the body is too large"}),
            format!("{command} -> 413"),
        );
    }
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => v,
            Ok(_) => {
                return (
                    400,
                    json!({"status": "error", "error": "the body is not a JSON object"}),
                    format!("{command} -> 400 (not a JSON object)"),
                )
            }
            // serde_json's messages name a position, never the content.
            Err(e) => {
                return (
                    400,
                    json!({"status": "error", "error": format!("the body is not JSON: {e}")}),
                    format!("{command} -> 400 (not JSON)"),
                )
            }
        }
    };
    let reply = role.handle(command, &body);
    let status = match reply.body.get("status").and_then(Value::as_str) {
        Some("error") => format!(
            "error: {}",
            reply
                .body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        Some(s) => s.to_string(),
        None => "ok".to_string(),
    };
    let note = if reply.note.is_empty() {
        String::new()
    } else {
        format!(" {}", reply.note)
    };
    (200, reply.body, format!("{command}{note} -> {status}"))
}

fn respond<R: Role>(role: &R, mut req: tiny_http::Request) {
    let (status, body, log) = answer(role, &mut req);
    eprintln!("edap interop {}: {log}", R::NAME);
    // The runner may have gone away; there is nobody to tell.
    let _ = req.respond(json_response(status, &body));
}

/// A required string field.
fn string<'a>(body: &'a Value, name: &str) -> Result<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Input(format!("missing or invalid {name:?}")))
}

/// The `task_id` field.
fn task_id(body: &Value) -> Result<edap_core::messages::TaskId> {
    let s = string(body, "task_id")?;
    edap_core::messages::TaskId::from_base64url(s.trim().trim_end_matches('=')).ok_or_else(|| {
        Error::Input(format!(
            "task_id {:?} is not 32 bytes of base64url",
            one_line(s, 60)
        ))
    })
}

/// The task configuration rebuilt from the request (task_info "task-info").
fn task_config(body: &Value) -> Result<edap_core::messages::TaskConfiguration> {
    edap_core::interop::task_config(body).map_err(|e| Error::Input(format!("task parameters: {e}")))
}
