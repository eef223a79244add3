//! `edap task provision`: creates a task file's task on one aggregator through its
//! aggregator API (`POST {api-url}/tasks`, Janus's shape with our extension fields
//! `task_id` and `task_config`, so both aggregators hold exactly the task file's bytes).
//!
//! Secrets never need the command line: the API token, the verification key and the
//! aggregator token also come from environment variables or files, and the Collector's
//! token is hashed here (only its SHA-256 is sent). A Helper generates the token the
//! Leader presents; provisioning the Helper prints it once (or writes it to `--token-out`).

use crate::error::{Error, Result};
use crate::files;
use crate::http::{join, Http, Req};
use crate::task::Task;
use clap::{Args, ValueEnum};
use edap_core::api::aggregator_api::types::{
    AuthTokenJson, HpkeConfigJson, RoleJson, TokenHashJson,
};
use edap_core::api::aggregator_api::{AggregatorApiConfig, PostTaskReq, TaskResp, MEDIA_TYPE};
use edap_core::messages::{base64url, from_base64url, HpkeConfig};
use edap_core::task::{AggregationSchedule, AuthHeader, PeerDialect, Secret};
use prio::codec::{Decode, Encode};
use std::path::{Path, PathBuf};

/// Aggregator roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The Leader.
    Leader,
    /// The Helper.
    Helper,
}

/// The header a token travels in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TokenTypeArg {
    /// `Authorization: Bearer` (what this tool's Helpers generate).
    Bearer,
    /// `DAP-Auth-Token`.
    DapAuth,
}

/// How the Leader creates jobs at the Helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// Try POST (DAP-18), fall back to PUT.
    Auto,
    /// POST with server-chosen IDs (DAP-18).
    Post,
    /// PUT with Leader-chosen IDs (Janus).
    Put,
}

/// Arguments of `task provision`.
#[derive(Args)]
pub struct ProvisionArgs {
    /// The aggregator API base URL, e.g. http://127.0.0.1:8787/api.
    #[arg(long, value_name = "URL")]
    pub api_url: String,
    /// The aggregator API token (one of the deployment's AGGREGATOR_API_TOKENS).
    #[arg(long, value_name = "T", env = "EDAP_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Read the aggregator API token from FILE instead.
    #[arg(long, value_name = "FILE", conflicts_with = "api_token")]
    pub api_token_file: Option<PathBuf>,
    /// Which role this aggregator plays in the task.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The task file.
    #[arg(long, value_name = "FILE")]
    pub task: PathBuf,
    /// The VDAF verification key, 32 bytes as base64url; give both aggregators the same
    /// one (e.g. `head -c 32 /dev/urandom | basenc --base64url | tr -d =`).
    #[arg(
        long,
        value_name = "B64",
        env = "EDAP_VERIFY_KEY",
        hide_env_values = true
    )]
    pub verify_key: Option<String>,
    /// Read the verification key from FILE instead.
    #[arg(long, value_name = "FILE", conflicts_with = "verify_key")]
    pub verify_key_file: Option<PathBuf>,
    /// The Collector's public HpkeConfig, base64url (as printed by `edap hpke-keygen`).
    #[arg(long, value_name = "B64")]
    pub collector_hpke_config: String,
    /// Leader: the token it presents to the Helper (the one provisioning the Helper
    /// printed). Helper: a token to accept instead of generating one.
    #[arg(
        long,
        value_name = "T",
        env = "EDAP_AGGREGATOR_TOKEN",
        hide_env_values = true
    )]
    pub aggregator_token: Option<String>,
    /// Read the aggregator token from FILE instead.
    #[arg(long, value_name = "FILE", conflicts_with = "aggregator_token")]
    pub aggregator_token_file: Option<PathBuf>,
    /// Leader: the header the aggregator token travels in.
    #[arg(long, value_enum, default_value = "bearer")]
    pub aggregator_token_type: TokenTypeArg,
    /// Leader: the token the Collector presents (only its SHA-256 is sent).
    #[arg(
        long,
        value_name = "T",
        env = "EDAP_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    pub collector_token: Option<String>,
    /// Read the Collector's token from FILE instead.
    #[arg(long, value_name = "FILE", conflicts_with = "collector_token")]
    pub collector_token_file: Option<PathBuf>,
    /// Aggregation scheduling as JSON, e.g. '{"min_job_size": 10, "max_wait_secs": 5}'
    /// (unset fields keep their defaults).
    #[arg(long, value_name = "JSON")]
    pub schedule: Option<String>,
    /// Seconds a report is kept after its time bucket (default one week).
    #[arg(long, value_name = "SECS")]
    pub report_expiry_age: Option<u64>,
    /// Leader: how jobs are created at the Helper.
    #[arg(long, value_enum, conflicts_with = "helper_api_url")]
    pub helper_dialect: Option<DialectArg>,
    /// Leader: the Helper's aggregator API base URL; its `GET /` features set the dialect.
    #[arg(long, value_name = "URL")]
    pub helper_api_url: Option<String>,
    /// The Helper's aggregator API token (default: the --api-token).
    #[arg(
        long,
        value_name = "T",
        env = "EDAP_HELPER_API_TOKEN",
        hide_env_values = true
    )]
    pub helper_api_token: Option<String>,
    /// Helper: write the generated token to FILE (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub token_out: Option<PathBuf>,
}

/// A secret from a flag or environment variable, or from a file (trimmed).
fn secret(value: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>> {
    let v = match (value, file) {
        (_, Some(path)) => Some(files::read_text(path)?),
        (Some(v), None) => Some(v.clone()),
        (None, None) => None,
    };
    Ok(v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// Reads the Helper's `GET /` and picks the dialect from its features.
fn helper_dialect(http: &Http, url: &str, token: &str) -> Result<PeerDialect> {
    let what = "reading the Helper's aggregator API configuration";
    let url = join(url, "/");
    let a = http.send_ok(
        &Req::new(what, reqwest::Method::GET, &url)
            .accept(MEDIA_TYPE)
            .bearer(Some(token)),
    )?;
    let c: AggregatorApiConfig = serde_json::from_slice(&a.body).map_err(|e| {
        Error::Protocol(format!(
            "{what}: the answer is not an aggregator API configuration: {e}"
        ))
    })?;
    Ok(PeerDialect::from_features(&c.features))
}

fn build(a: &ProvisionArgs, task: &Task, http: &Http, api_token: &str) -> Result<PostTaskReq> {
    let key = secret(&a.verify_key, &a.verify_key_file)?.ok_or_else(|| {
        Error::Input(
            "the verification key is missing: --verify-key, EDAP_VERIFY_KEY or --verify-key-file"
                .into(),
        )
    })?;
    from_base64url(&key)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| Error::Input("the verification key must be 32 bytes, base64url".into()))?;
    let collector_config = from_base64url(a.collector_hpke_config.trim())
        .and_then(|b| HpkeConfig::get_decoded(&b).ok())
        .ok_or_else(|| {
            Error::Input(
                "--collector-hpke-config must be an encoded HpkeConfig, base64url (as printed by `edap hpke-keygen`)".into(),
            )
        })?;
    let schedule = match &a.schedule {
        Some(s) => Some(
            serde_json::from_str::<AggregationSchedule>(s)
                .map_err(|e| Error::Input(format!("--schedule is not a schedule JSON: {e}")))?,
        ),
        None => None,
    };
    let aggregator_token = secret(&a.aggregator_token, &a.aggregator_token_file)?;
    let collector_token = secret(&a.collector_token, &a.collector_token_file)?;
    let c = &task.config;
    let leader = a.role == RoleArg::Leader;
    let encoded = c.get_encoded().map_err(|e| Error::Input(e.to_string()))?;
    let header = match a.aggregator_token_type {
        TokenTypeArg::Bearer => AuthHeader::Bearer,
        TokenTypeArg::DapAuth => AuthHeader::DapAuthToken,
    };
    let role = if leader {
        RoleJson::Leader
    } else {
        RoleJson::Helper
    };
    let mut req = PostTaskReq::for_config(
        c,
        role,
        Secret(key),
        HpkeConfigJson::from(&collector_config),
    );
    req.aggregator_auth_token = aggregator_token.map(|t| AuthTokenJson::new(header, t));
    req.task_id = Some(task.id);
    req.task_config = Some(base64url(&encoded));
    req.schedule = schedule;
    req.report_expiry_age = a.report_expiry_age;
    if leader {
        if req.aggregator_auth_token.is_none() {
            return Err(Error::Input(
                "a Leader needs the token the Helper generated: --aggregator-token, EDAP_AGGREGATOR_TOKEN or --aggregator-token-file".into(),
            ));
        }
        let ct = collector_token.ok_or_else(|| {
            Error::Input("a Leader needs the Collector's token: --collector-token, EDAP_COLLECTOR_TOKEN or --collector-token-file".into())
        })?;
        req.collector_auth_token_hash = Some(TokenHashJson::of(&AuthTokenJson::new(
            AuthHeader::Bearer,
            ct,
        )));
        req.helper_dialect = match (a.helper_dialect, &a.helper_api_url) {
            (Some(DialectArg::Auto), _) => Some(PeerDialect::Auto),
            (Some(DialectArg::Post), _) => Some(PeerDialect::Post),
            (Some(DialectArg::Put), _) => Some(PeerDialect::Put),
            (None, Some(url)) => {
                let token = a.helper_api_token.as_deref().unwrap_or(api_token);
                Some(helper_dialect(http, url, token)?)
            }
            (None, None) => None,
        };
    } else {
        for (given, flag) in [
            (
                collector_token.is_some(),
                "--collector-token (or EDAP_COLLECTOR_TOKEN)",
            ),
            (a.helper_dialect.is_some(), "--helper-dialect"),
            (a.helper_api_url.is_some(), "--helper-api-url"),
        ] {
            if given {
                return Err(Error::Input(format!("{flag} applies to the Leader only")));
            }
        }
    }
    Ok(req)
}

/// Runs `edap task provision`.
pub fn run(a: ProvisionArgs) -> Result<()> {
    let task = Task::load(&a.task)?;
    let api_token = secret(&a.api_token, &a.api_token_file)?.ok_or_else(|| {
        Error::Input(
            "the aggregator API token is missing: --api-token, EDAP_API_TOKEN or --api-token-file"
                .into(),
        )
    })?;
    if a.token_out.is_some() && a.role == RoleArg::Leader {
        return Err(Error::Input(
            "--token-out applies to the Helper only".into(),
        ));
    }
    let http = Http::new()?;
    let req = build(&a, &task, &http, &api_token)?;
    let body = serde_json::to_vec(&req).map_err(|e| Error::Input(e.to_string()))?;
    let url = join(&a.api_url, "/tasks");
    let role = match a.role {
        RoleArg::Leader => "Leader",
        RoleArg::Helper => "Helper",
    };
    let what = format!("provisioning task {} on the {role}", task.id);
    let answer = http.send_ok(
        &Req::new(&what, reqwest::Method::POST, &url)
            .body(MEDIA_TYPE, body)
            .accept(MEDIA_TYPE)
            .bearer(Some(&api_token)),
    )?;
    let mut resp: TaskResp = serde_json::from_slice(&answer.body).map_err(|e| {
        Error::Protocol(format!(
            "{what}: the answer (HTTP {}) is not a task: {e}",
            answer.status
        ))
    })?;
    if resp.task_id != task.id {
        return Err(Error::Protocol(format!(
            "{what}: the aggregator answered for task {}",
            resp.task_id
        )));
    }
    match (&a.token_out, &resp.aggregator_auth_token) {
        (Some(path), Some(t)) => {
            write_token(path, t.token())?;
            eprintln!("wrote the Helper's aggregator token to {}", path.display());
            resp.aggregator_auth_token = None;
        }
        (_, None) if a.role == RoleArg::Helper && req.aggregator_auth_token.is_none() => {
            eprintln!(
                "the Helper already had this task; its token was given once, when it was created"
            );
        }
        _ => {}
    }
    // The verification key is the caller's own input; it is not echoed (and the
    // aggregator never returns it).
    resp.vdaf_verify_key = None;
    let v = serde_json::to_value(&resp).map_err(|e| Error::Input(e.to_string()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| Error::Input(e.to_string()))?
    );
    Ok(())
}

fn write_token(path: &Path, token: &str) -> Result<()> {
    files::write_new(path, format!("{token}\n").as_bytes(), 0o600, true)
}
