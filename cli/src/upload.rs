//! `edap upload`: the Client. Validates every measurement first, then builds reports with
//! `roles::client::Client` and POSTs them in bulk `UploadRequest`s to the Leader.

use crate::error::{one_line, Error, Result};
use crate::files;
use crate::hpke_cache;
use crate::http::{join, Http, Req};
use crate::measurements::{parse_one, parse_text};
use crate::task::Task;
use crate::timefmt;
use clap::Args;
use edap_core::media::MediaType;
use edap_core::messages::{
    HpkeConfigList, Report, ReportError, ReportId, Time, UploadErrors, UploadRequest,
};
use edap_core::roles::client::{choose_config, Client, ClientError};
use edap_core::vdaf::Measurement;
use indicatif::{ProgressBar, ProgressStyle};
use prio::codec::{Decode, Encode};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// Arguments of `upload`.
#[derive(Args)]
pub struct UploadArgs {
    /// The task file.
    #[arg(long, value_name = "FILE")]
    pub task: PathBuf,
    /// A measurement in the VDAF's text form: 0/1 (count), an integer (sum), a bucket index
    /// (histogram), comma-separated integers (sumvec, multihot). Repeatable.
    #[arg(long = "measurement", short = 'm', value_name = "M")]
    pub measurements: Vec<String>,
    /// Read measurements from a file: one per line (blank lines and lines starting with #
    /// are skipped), or a JSON array of measurements when the content starts with '['
    /// (numbers, decimal strings, or arrays of them for the vector VDAFs).
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    /// Read measurements from standard input, in the same forms as --file.
    #[arg(long)]
    pub stdin: bool,
    /// Reports per upload request.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// The reports' time (POSIX seconds; rounded down to the task's time precision).
    /// Default: now.
    #[arg(long, value_name = "SECS")]
    pub time: Option<u64>,
    /// Fetch the aggregators' HPKE configurations even if cached copies are fresh.
    #[arg(long)]
    pub no_cache: bool,
}

/// What the Leader did with the reports.
#[derive(Debug, Default)]
pub struct Summary {
    /// Reports accepted.
    pub accepted: u64,
    /// Reports refused, per error.
    pub rejected: BTreeMap<ReportError, u64>,
    /// `report_replayed` answers to a request that had to be retried (our own first
    /// attempt had stored the report): counted as accepted.
    pub own_replays: u64,
}

impl Summary {
    fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Every measurement from every source, checked against the VDAF.
fn gather(a: &UploadArgs, task: &Task) -> Result<Vec<Measurement>> {
    let vdaf = &task.config.vdaf;
    let mut out = Vec::new();
    for (i, m) in a.measurements.iter().enumerate() {
        out.push(parse_one(vdaf, &format!("--measurement #{}", i + 1), m)?);
    }
    if let Some(path) = &a.file {
        let text = files::read_text(path)?;
        out.extend(parse_text(vdaf, &path.display().to_string(), &text)?);
    }
    if a.stdin {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| Error::Input(format!("cannot read stdin: {e}")))?;
        out.extend(parse_text(vdaf, "stdin", &text)?);
    }
    if out.is_empty() {
        return Err(Error::Input(
            "no measurements given (use --measurement, --file or --stdin)".into(),
        ));
    }
    Ok(out)
}

/// A Client sealing to the aggregators' current configurations.
fn make_client(http: &Http, task: &Task, use_cache: bool) -> Result<Client> {
    let leader = hpke_cache::config_list(http, "Leader", &task.config.leader_endpoint, use_cache)?;
    let helper = hpke_cache::config_list(http, "Helper", &task.config.helper_endpoint, use_cache)?;
    client_for(task, &leader, &helper)
}

/// A Client for `task` sealing to the first supported configuration of each list.
pub fn client_for(task: &Task, leader: &HpkeConfigList, helper: &HpkeConfigList) -> Result<Client> {
    let choose = |who: &str, list: &HpkeConfigList| {
        choose_config(list).cloned().ok_or_else(|| {
            Error::Protocol(format!(
                "the {who} advertises no HPKE configuration this client supports (X25519 or P-256 with HKDF-SHA256 and AES-128-GCM)"
            ))
        })
    };
    Client::new(
        task.id,
        task.config.clone(),
        choose("Leader", leader)?,
        choose("Helper", helper)?,
    )
    .map_err(|e| Error::Protocol(format!("cannot build reports: {e}")))
}

/// The Leader's answer to one upload request.
pub struct Posted {
    /// The reports it refused.
    pub errors: UploadErrors,
    /// How many attempts the request took (a `report_replayed` after a retry is our own
    /// first attempt's doing).
    pub attempts: u32,
}

/// POSTs one `UploadRequest` to `url` (the task's `/reports` resource), advertising the
/// task with `advert` (the `dap-taskprov` header) if given, and decodes the answer.
pub fn post_reports(
    http: &Http,
    url: &str,
    advert: Option<&str>,
    reports: Vec<Report>,
) -> Result<Posted> {
    let body = UploadRequest { reports }
        .get_encoded()
        .map_err(|e| Error::Protocol(format!("cannot encode the upload request: {e}")))?;
    let answer = http.send_ok(
        &Req::new("upload to the Leader", reqwest::Method::POST, url)
            .body(MediaType::UploadReq.as_str(), body)
            .taskprov(advert),
    )?;
    let errors = if answer.body.is_empty() {
        UploadErrors::default()
    } else {
        if answer.header("content-type").is_some() && !answer.is_media(MediaType::UploadErrors) {
            return Err(Error::Protocol(format!(
                "the Leader answered the upload with {}, not {}",
                one_line(answer.header("content-type").unwrap_or(""), 100),
                MediaType::UploadErrors.as_str()
            )));
        }
        UploadErrors::get_decoded(&answer.body).map_err(|e| {
            Error::Protocol(format!(
                "the Leader's upload-errors answer does not decode: {e}"
            ))
        })?
    };
    Ok(Posted {
        errors,
        attempts: answer.attempts,
    })
}

const BAR_TEMPLATE: &str = "uploading {bar:40.cyan/blue} {pos}/{len} reports ({eta} left)";

fn progress(total: usize, requests: usize) -> ProgressBar {
    if requests <= 1 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template(BAR_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(total as u64).with_style(style)
}

/// Builds the reports for `ms[i]`, `i` in `idx`, in order. Sharding and sealing are
/// CPU-bound, so large chunks are split over the available cores.
fn build_reports(
    client: &Client,
    ms: &[Measurement],
    idx: &[usize],
    time: u64,
) -> std::result::Result<Vec<Report>, (usize, ClientError)> {
    let one = |i: usize| client.report(&ms[i], time).map_err(|e| (i, e));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads <= 1 || idx.len() < 16 {
        return idx.iter().map(|&i| one(i)).collect();
    }
    let per = idx.len().div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = idx
            .chunks(per)
            .map(|part| {
                s.spawn(move || part.iter().map(|&i| one(i)).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut out = Vec::with_capacity(idx.len());
        for w in workers {
            match w.join() {
                Ok(reports) => out.extend(reports?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

/// Runs `upload`. Returns the summary (all accepted or not) once every report got an
/// answer.
pub fn run(a: UploadArgs) -> Result<Summary> {
    let task = Task::load(&a.task)?;
    let ms = gather(&a, &task)?;
    let time = a.time.unwrap_or_else(now_secs);
    let precision = task.config.time_precision;
    if let Some(i) = task.config.task_interval() {
        if !i.contains(Time::from_seconds(time, precision)) {
            let end = i
                .end()
                .map(|e| timefmt::rfc3339(e.to_seconds(precision)))
                .unwrap_or_else(|| "forever".into());
            return Err(Error::Input(format!(
                "the report time {} is outside the task's interval [{}, {end}); the Leader would drop every report",
                timefmt::rfc3339(time),
                timefmt::rfc3339(i.start.to_seconds(precision)),
            )));
        }
    }

    let http = Http::new()?;
    let mut client = make_client(&http, &task, !a.no_cache)?;
    let url = join(
        &task.config.leader_endpoint,
        &format!("/tasks/{}/reports", task.id),
    );
    // Every task file's ID derives from its configuration, so the task can be advertised:
    // a Leader that supports taskprov opts in to it on the first upload.
    let advert = edap_core::taskprov::header::encode(&task.config).ok();
    let batch = a.batch as usize;
    let all: Vec<usize> = (0..ms.len()).collect();
    let mut queue: VecDeque<Vec<usize>> = all.chunks(batch).map(|c| c.to_vec()).collect();
    let bar = progress(ms.len(), queue.len());
    let mut refreshed = false;
    let mut summary = Summary::default();

    while let Some(chunk) = queue.pop_front() {
        let partial = |e: Error, s: &Summary| {
            if s.accepted + s.rejected_total() == 0 {
                e
            } else {
                Error::Partial {
                    context: format!(
                        "upload stopped after {} of {} reports were accepted",
                        s.accepted,
                        ms.len()
                    ),
                    inner: Box::new(e),
                }
            }
        };
        let reports = build_reports(&client, &ms, &chunk, time).map_err(|(i, e)| {
            partial(
                Error::Protocol(format!(
                    "cannot build the report for measurement {}: {e}",
                    i + 1
                )),
                &summary,
            )
        })?;
        let ids: HashMap<ReportId, usize> = reports
            .iter()
            .zip(&chunk)
            .map(|(r, &i)| (r.metadata.report_id, i))
            .collect();
        let posted = post_reports(&http, &url, advert.as_deref(), reports)
            .map_err(|e| partial(e, &summary))?;
        let errors = posted.errors;
        let mut retry = Vec::new();
        let mut refused: HashMap<usize, ReportError> = HashMap::new();
        for st in &errors.status {
            // Entries naming reports that are not ours are ignored.
            if let Some(&i) = ids.get(&st.id) {
                refused.insert(i, st.error);
            }
        }
        let mut own_replays = 0;
        for (&i, &err) in &refused {
            match err {
                ReportError::OutdatedConfig if !refreshed => retry.push(i),
                ReportError::ReportReplayed if posted.attempts > 1 => own_replays += 1,
                e => *summary.rejected.entry(e).or_insert(0) += 1,
            }
        }
        summary.own_replays += own_replays;
        summary.accepted += (chunk.len() - refused.len()) as u64 + own_replays;
        let done = chunk.len() - retry.len();
        bar.inc(done as u64);
        if !retry.is_empty() {
            refreshed = true;
            retry.sort_unstable();
            bar.suspend(|| {
                eprintln!(
                    "edap: the Leader refused {} reports as outdated_config; fetching fresh HPKE configurations and re-uploading them",
                    retry.len()
                )
            });
            client = make_client(&http, &task, false).map_err(|e| partial(e, &summary))?;
            queue.push_front(retry);
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// The summary lines printed on stdout.
pub fn summary_text(s: &Summary) -> String {
    let mut out = format!("accepted: {}\n", s.accepted);
    if s.own_replays > 0 {
        out.push_str(&format!(
            "  ({} answered report_replayed to a retried request: the first attempt stored them)\n",
            s.own_replays
        ));
    }
    out.push_str(&format!("rejected: {}\n", s.rejected_total()));
    for (e, n) in &s.rejected {
        out.push_str(&format!("  {e}: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_template_parses() {
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }

    #[test]
    fn summary_lists_reasons() {
        let mut s = Summary {
            accepted: 3,
            ..Default::default()
        };
        s.rejected.insert(ReportError::ReportReplayed, 2);
        s.rejected.insert(ReportError::BatchCollected, 1);
        assert_eq!(
            summary_text(&s),
            "accepted: 3\nrejected: 3\n  batch_collected: 1\n  report_replayed: 2\n"
        );
    }
}
