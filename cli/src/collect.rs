//! `edap collect`: the Collector. Creates a collection job at the Leader, polls it, opens
//! both aggregate shares with the Collector's key and prints the aggregate.

use crate::error::{one_line, Error, Result};
use crate::http::{error_answer, join, resolve, Answer, Auth, Http, Req};
use crate::keygen;
use crate::task::Task;
use crate::timefmt;
use clap::{ArgGroup, Args};
use edap_core::hpke::HpkeKeypair;
use edap_core::media::MediaType;
use edap_core::messages::{
    BatchMode, CollectionJobReq, CollectionJobResp, Interval, Query, TaskId, VdafConfig,
};
use edap_core::roles::collector::{self, Collection, CollectorError};
use edap_core::vdaf::AggregateResult;
use indicatif::{ProgressBar, ProgressStyle};
use prio::codec::{Decode, Encode};
use reqwest::{Method, Url};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `collect`.
#[derive(Args)]
#[command(group(ArgGroup::new("query").required(true).args(["start", "leader_selected"])))]
pub struct CollectArgs {
    /// The task file.
    #[arg(long, value_name = "FILE")]
    pub task: PathBuf,
    /// The Collector's key file (written by `edap hpke-keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// The Collector's bearer token for the Leader (prefer the environment variable: command
    /// lines are visible to other users).
    #[arg(
        long,
        value_name = "T",
        env = "EDAP_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Time-interval tasks: start of the batch interval (POSIX seconds; a multiple of the
    /// task's time precision, or it is refused with the aligned values to use).
    #[arg(long, value_name = "SECS", requires = "duration")]
    pub start: Option<u64>,
    /// Time-interval tasks: length of the batch interval in seconds (a multiple of the
    /// task's time precision, likewise).
    #[arg(long, value_name = "SECS", requires = "start")]
    pub duration: Option<u64>,
    /// Leader-selected tasks: collect the next batch the Leader has ready.
    #[arg(long, conflicts_with_all = ["start", "duration"])]
    pub leader_selected: bool,
    /// Print one JSON object {"report_count", "interval": {"start", "duration"}, "result"}
    /// (times in seconds) and nothing else on stdout.
    #[arg(long)]
    pub json: bool,
    /// Give up waiting for the result after this many seconds (the job keeps running on the
    /// Leader; run the same command again, or use --job, to pick it up).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Do not delete the collection job after fetching its result.
    #[arg(long)]
    pub keep: bool,
    /// Poll this existing collection job URL instead of creating a job (give the same query
    /// flags as when it was created: they are part of the decryption context).
    #[arg(long, value_name = "URL")]
    pub job: Option<String>,
}

/// The JSON output.
#[derive(Serialize)]
struct JsonOut {
    report_count: u64,
    interval: JsonInterval,
    result: Shown,
}

/// A result as printed. Vector entries are signed: differential-privacy noise
/// (docs/differential-privacy.md) can take a small total below zero, which the field holds
/// as `p - k`; no count or sum of a task comes near `p / 2`.
#[derive(Serialize)]
#[serde(untagged)]
enum Shown {
    Scalar(u128),
    Vector(Vec<i128>),
}

fn shown(r: &AggregateResult) -> Shown {
    match r {
        AggregateResult::Scalar(v) => Shown::Scalar(*v),
        AggregateResult::Vector(vs) => {
            Shown::Vector(vs.iter().map(|v| edap_core::dp::signed(*v)).collect())
        }
    }
}

#[derive(Serialize)]
struct JsonInterval {
    start: u64,
    duration: u64,
}

/// The query for the arguments, checked against the task's batch mode.
fn query(a: &CollectArgs, task: &Task) -> Result<Query> {
    let mode = task.config.batch_mode;
    match (a.start, a.duration, a.leader_selected) {
        (_, _, true) => {
            if mode != BatchMode::LeaderSelected {
                return Err(Error::Input(
                    "this task uses time_interval batches: give --start and --duration instead of --leader-selected".into(),
                ));
            }
            Ok(Query::LeaderSelected)
        }
        (Some(start), Some(duration), false) => {
            if mode != BatchMode::TimeInterval {
                return Err(Error::Input(
                    "this task uses leader_selected batches: use --leader-selected instead of --start/--duration".into(),
                ));
            }
            Ok(Query::TimeInterval(to_units(
                start,
                duration,
                task.config.time_precision,
            )?))
        }
        _ => Err(Error::Input(
            "give --start and --duration, or --leader-selected".into(),
        )),
    }
}

/// Seconds to time-precision units. A batch interval must start and end on the task's
/// time precision (DAP-18 "Batch Modes"): an unaligned one is refused with the aligned
/// values to use, never widened behind the Collector's back.
pub fn to_units(start: u64, duration: u64, precision: u64) -> Result<Interval> {
    if duration == 0 {
        return Err(Error::Input("--duration must be at least 1 second".into()));
    }
    let p = precision.max(1);
    start
        .checked_add(duration)
        .ok_or_else(|| Error::Input("--start plus --duration overflows".into()))?;
    if !start.is_multiple_of(p) {
        let below = start / p * p;
        return Err(Error::Input(format!(
            "--start {start} is not a multiple of the task's time precision ({p} s): use {below} or {}",
            below.saturating_add(p)
        )));
    }
    if !duration.is_multiple_of(p) {
        let up = duration.div_ceil(p) * p;
        return Err(Error::Input(format!(
            "--duration {duration} is not a multiple of the task's time precision ({p} s): use {}{up}",
            if duration > p {
                format!("{} or ", duration / p * p)
            } else {
                String::new()
            }
        )));
    }
    Ok(Interval::new(start / p, duration / p))
}

fn retry_after(a: &Answer) -> Duration {
    Duration::from_secs(edap_core::roles::retry_after_secs(a.header("retry-after")))
}

const SPINNER_TEMPLATE: &str = "{spinner} {msg} ({elapsed})";

fn spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template(SPINNER_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message("waiting for the collection job");
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A finished collection with what is needed to print it.
pub struct Outcome {
    /// The decrypted aggregate.
    pub collection: Collection,
    /// The task.
    pub task: Task,
}

/// What one poll of a collection job found.
pub enum Polled {
    /// The encoded `CollectionJobResp`.
    Ready(Vec<u8>),
    /// Not yet; the Leader's suggested wait before the next poll.
    Pending(Duration),
}

/// Polls the job at `url` once. An error answer (the job failed, or is unknown) is an
/// error.
pub fn poll_once(http: &Http, auth: Auth<'_>, url: &Url) -> Result<Polled> {
    let a =
        http.send(&Req::new("polling the collection job", Method::GET, url.as_str()).auth(auth))?;
    if !(200..300).contains(&a.status) {
        return Err(error_answer("the collection job failed", &a));
    }
    if a.body.is_empty() {
        return Ok(Polled::Pending(retry_after(&a)));
    }
    check_media(&a)?;
    Ok(Polled::Ready(a.body))
}

/// Polls the job at `url` until it has a result, the deadline passes or it fails.
fn poll(
    http: &Http,
    auth: Auth<'_>,
    url: &Url,
    first_wait: Duration,
    deadline: Instant,
) -> Result<Vec<u8>> {
    let spin = spinner();
    let mut wait = first_wait;
    let result = loop {
        let now = Instant::now();
        if now >= deadline {
            break Err(Error::Timeout(format!(
                "the collection job at {url} has no result yet and --timeout ran out (the batch may not hold min_batch_size reports yet, or aggregation is still running); it stays on the Leader: run the same command again or pass --job {url}"
            )));
        }
        std::thread::sleep(wait.min(deadline - now));
        match poll_once(http, auth, url) {
            Ok(Polled::Ready(body)) => break Ok(body),
            Ok(Polled::Pending(w)) => wait = w,
            Err(e) => break Err(e),
        }
    };
    spin.finish_and_clear();
    result
}

/// A collection job the Leader just created.
pub struct Created {
    /// Its URL (from `Location`).
    pub job: Url,
    /// The result, if the Leader answered with it at once.
    pub immediate: Option<Vec<u8>>,
    /// The Leader's suggested wait before the first poll.
    pub retry_after: Duration,
}

/// Whether an answer means "no such route or method" (not a DAP refusal): what a Leader
/// that creates collection jobs only with PUT answers to DAP-18's POST.
fn wrong_form(a: &Answer) -> bool {
    (a.status == 404 || a.status == 405)
        && serde_json::from_slice::<edap_core::ProblemDocument>(&a.body)
            .ok()
            .and_then(|d| d.dap_type())
            .is_none()
}

/// Creates a collection job for `req` at the Leader: with DAP-18's POST, or, if the Leader
/// answers that it has no such route (deployed Leaders create jobs with PUT to an ID the
/// Collector chooses), with that PUT. `advert` is the task's `dap-taskprov` header, if it
/// is advertised.
pub fn create_job(
    http: &Http,
    leader_endpoint: &str,
    task_id: &TaskId,
    req: &CollectionJobReq,
    auth: Auth<'_>,
    advert: Option<&str>,
) -> Result<Created> {
    let body = req
        .get_encoded()
        .map_err(|e| Error::Protocol(format!("cannot encode the collection request: {e}")))?;
    let what = "creating the collection job";
    let url = join(
        leader_endpoint,
        &format!("/tasks/{task_id}/collection_jobs"),
    );
    let mut created = http.send(
        &Req::new(what, Method::POST, &url)
            .body(MediaType::CollectionJobReq.as_str(), body.clone())
            .auth(auth)
            .taskprov(advert),
    )?;
    let mut put_url = None;
    if wrong_form(&created) {
        let id = edap_core::messages::CollectionJobId::random();
        let u = join(
            leader_endpoint,
            &format!("/tasks/{task_id}/collection_jobs/{id}"),
        );
        created = http.send(
            &Req::new(what, Method::PUT, &u)
                .body(MediaType::CollectionJobReq.as_str(), body)
                .auth(auth)
                .taskprov(advert),
        )?;
        put_url = Some(u);
    }
    if !(200..300).contains(&created.status) {
        return Err(error_answer(what, &created));
    }
    let job = match (created.header("location"), &put_url) {
        (Some(loc), _) => resolve(&created.url, loc)?,
        // The PUT form names the job by the URL it was created at.
        (None, Some(u)) => Url::parse(u).map_err(|e| Error::Protocol(e.to_string()))?,
        (None, None) => {
            return Err(Error::Protocol(format!(
                "the Leader created the collection job (HTTP {}) without a Location header",
                created.status
            )))
        }
    };
    let immediate = if created.body.is_empty() {
        None
    } else {
        check_media(&created)?;
        Some(created.body.clone())
    };
    Ok(Created {
        job,
        immediate,
        retry_after: retry_after(&created),
    })
}

/// Decodes a collection job's result.
pub fn decode_result(body: &[u8]) -> Result<CollectionJobResp> {
    CollectionJobResp::get_decoded(body)
        .map_err(|e| Error::Protocol(format!("the collection job's result does not decode: {e}")))
}

fn check_media(a: &Answer) -> Result<()> {
    match a.header("content-type") {
        Some(ct) if !a.is_media(MediaType::CollectionJobResp) => Err(Error::Protocol(format!(
            "the collection job answered with {}, not {}",
            one_line(ct, 100),
            MediaType::CollectionJobResp.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Opens the shares, with a precise message when the key is the wrong one.
fn open(
    task: &Task,
    key: &HpkeKeypair,
    key_path: &std::path::Path,
    req: &CollectionJobReq,
    resp: &CollectionJobResp,
    job: &Url,
) -> Result<Collection> {
    collector::finish(&task.id, &task.config, key, req, resp).map_err(|e| {
        let kept = format!("the job is kept at {job}");
        match e {
            CollectorError::Decrypt(who, _) => {
                let sealed_to = match who {
                    "leader" => resp.leader_encrypted_agg_share.config_id,
                    _ => resp.helper_encrypted_agg_share.config_id,
                };
                if sealed_to != key.config.id {
                    Error::Collect(format!(
                        "cannot decrypt the aggregate: it is sealed to collector HPKE config id {} but {} holds config id {} (wrong collector key?); {kept}",
                        sealed_to.0,
                        key_path.display(),
                        key.config.id.0
                    ))
                } else {
                    Error::Collect(format!(
                        "cannot decrypt the {who}'s aggregate share with {} (wrong collector key?); {kept}",
                        key_path.display()
                    ))
                }
            }
            other => Error::Collect(format!("{other}; {kept}")),
        }
    })
}

/// Runs `collect` up to the decrypted result (the job is deleted unless --keep).
pub fn run(a: &CollectArgs) -> Result<Outcome> {
    let task = Task::load(&a.task)?;
    let key = keygen::load(&a.key)?;
    let token = a
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Input("no collector token: pass --token or set EDAP_COLLECTOR_TOKEN".into())
        })?;
    let query = query(a, &task)?;
    if let Query::TimeInterval(i) = query {
        let p = task.config.time_precision;
        let (s, d) = (i.start.to_seconds(p), i.duration.0.saturating_mul(p));
        if (Some(s), Some(d)) != (a.start, a.duration) && !a.json {
            eprintln!(
                "edap: collecting [{}, {}) (the task's time precision is {p} s)",
                timefmt::rfc3339(s),
                timefmt::rfc3339(s.saturating_add(d))
            );
        }
    }
    let req = collector::collection_job_req(query);
    let http = Http::new()?;
    let auth = Auth::Bearer(token);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.timeout);

    let (job, immediate, first_wait) = match &a.job {
        Some(u) => {
            let url =
                Url::parse(u).map_err(|e| Error::Input(format!("--job is not a URL: {e}")))?;
            (url, None, Duration::ZERO)
        }
        None => {
            let advert = edap_core::taskprov::header::encode(&task.config).ok();
            let c = create_job(
                &http,
                &task.config.leader_endpoint,
                &task.id,
                &req,
                auth,
                advert.as_deref(),
            )?;
            (c.job, c.immediate, c.retry_after)
        }
    };
    let result_body = match immediate {
        Some(b) => b,
        None => poll(&http, auth, &job, first_wait, deadline)?,
    };
    let resp = decode_result(&result_body)?;
    let collection = open(&task, &key, &a.key, &req, &resp, &job)?;
    if !a.keep {
        let del = http.send(
            &Req::new("deleting the collection job", Method::DELETE, job.as_str()).auth(auth),
        );
        match del {
            Ok(d) if (200..300).contains(&d.status) => {}
            Ok(d) => eprintln!(
                "edap: warning: {}",
                error_answer("deleting the collection job", &d)
            ),
            Err(e) => eprintln!("edap: warning: {e}"),
        }
    }
    Ok(Outcome { collection, task })
}

/// The `--json` output.
pub fn json_text(o: &Outcome) -> Result<String> {
    let p = o.task.config.time_precision;
    let i = o.collection.interval;
    let out = JsonOut {
        report_count: o.collection.report_count,
        interval: JsonInterval {
            start: i.start.to_seconds(p),
            duration: i.duration.0.saturating_mul(p),
        },
        result: shown(&o.collection.result),
    };
    serde_json::to_string(&out).map_err(|e| Error::Input(format!("cannot print JSON: {e}")))
}

/// The terminal width for the bar chart.
fn width() -> usize {
    if std::io::stdout().is_terminal() {
        if let Some((_, cols)) = console::Term::stdout().size_checked() {
            return cols as usize;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c| *c >= 20)
        .unwrap_or(80)
}

/// A table with a bar per entry, scaled so the longest bar fills the width.
pub fn bar_chart(label: &str, values: &[i128], width: usize) -> String {
    let label_w = label
        .len()
        .max(values.len().saturating_sub(1).to_string().len());
    let value_w = "count".len().max(
        values
            .iter()
            .map(|v| v.to_string().len())
            .max()
            .unwrap_or(1),
    );
    let bar_w = width.saturating_sub(label_w + value_w + 4).max(10);
    let max = values.iter().copied().max().unwrap_or(0).max(0);
    let mut out = format!("{label:>label_w$}  {:>value_w$}\n", "count");
    for (i, v) in values.iter().enumerate() {
        // Rounded to the nearest mark (f64 is plenty for a picture); anything non-zero gets
        // at least one mark. With max == 0 the ratio is NaN, which casts to 0.
        let len = ((*v as f64) / (max as f64) * bar_w as f64).round() as usize;
        let len = if *v > 0 { len.clamp(1, bar_w) } else { 0 };
        out.push_str(&format!(
            "{i:>label_w$}  {v:>value_w$}  {}\n",
            "#".repeat(len)
        ));
    }
    out
}

/// The human-readable output.
pub fn text(o: &Outcome) -> String {
    let p = o.task.config.time_precision;
    let i = o.collection.interval;
    let start = i.start.to_seconds(p);
    let dur = i.duration.0.saturating_mul(p);
    let mut out = format!(
        "task:      {}\ninterval:  {} .. {} ({})\nreports:   {}\n",
        o.task.id,
        timefmt::rfc3339(start),
        timefmt::rfc3339(start.saturating_add(dur)),
        timefmt::compact(dur),
        o.collection.report_count
    );
    match shown(&o.collection.result) {
        Shown::Scalar(v) => out.push_str(&format!("result:    {v}\n")),
        Shown::Vector(vs) => {
            let label = match o.task.config.vdaf {
                VdafConfig::Prio3Histogram { .. } => "bucket",
                _ => "index",
            };
            out.push_str("result:\n");
            out.push_str(&bar_chart(label, &vs, width()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_rounding() {
        assert_eq!(to_units(7200, 3600, 3600).unwrap(), Interval::new(2, 1));
        assert_eq!(to_units(7200, 7200, 3600).unwrap(), Interval::new(2, 2));
        let e = to_units(5400, 3600, 3600).unwrap_err().to_string();
        assert!(e.contains("use 3600 or 7200"), "{e}");
        let e = to_units(7200, 1, 3600).unwrap_err().to_string();
        assert!(e.contains("use 3600"), "{e}");
        let e = to_units(7200, 5000, 3600).unwrap_err().to_string();
        assert!(e.contains("use 3600 or 7200"), "{e}");
        assert!(to_units(0, 0, 3600).is_err());
        assert!(to_units(u64::MAX, 1, 3600).is_err());
    }

    #[test]
    fn chart_scales_to_width() {
        let c = bar_chart("bucket", &[0, 5, 10, 1], 40);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].contains("bucket") && lines[0].contains("count"));
        assert!(!lines[1].contains('#'));
        let longest = lines[3].matches('#').count();
        assert_eq!(longest, 40 - (6 + 5 + 4));
        assert!(lines.iter().all(|l| l.len() <= 40));
        assert_eq!(lines[4].matches('#').count(), 3);
    }

    #[test]
    fn spinner_template_parses() {
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }

    #[test]
    fn json_of_large_values() {
        use prio::field::FieldElementWithInteger;
        let r = AggregateResult::Vector(vec![u128::from(u64::MAX) + 1, 0]);
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, "[18446744073709551616,0]");
        assert_eq!(serde_json::to_string(&shown(&r)).unwrap(), s);
        // Noise below zero is shown signed, in JSON and in the chart.
        let p = prio::field::Field128::modulus();
        let noised = AggregateResult::Vector(vec![p - 2, 7]);
        assert_eq!(serde_json::to_string(&shown(&noised)).unwrap(), "[-2,7]");
        let c = bar_chart("bucket", &[-2, 7], 40);
        assert!(
            c.contains("-2") && !c.lines().nth(1).unwrap().contains('#'),
            "{c}"
        );
    }
}
