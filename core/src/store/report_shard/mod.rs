//! The Leader's pending reports, sharded by report ID. Uploads are replay-checked here; the
//! shard then hands reports to aggregation jobs ("claims") and forgets their bodies once the
//! job is finished, keeping only the IDs for replay protection. Every request reads and
//! writes in batches (`Kv::get_many`, `put_many`, ranges), never key by key per report.

mod counters;
mod expire;

pub use counters::{count, PeerFailure};
pub use expire::expire;

use super::{get, key, put, ttl, Kv, StoreError};
use crate::messages::{AggregationJobId, BatchId, Interval, ReportError, ReportId, Time};
use crate::task::AggregationSchedule;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use ttl::Retention;

// Storage schema (one instance per task and shard):
//   "m"                        -> ShardMeta (sequence counter, claim cursor, pending count,
//                                 oldest arrival, counters)
//   "q" || seq u64 BE          -> Queued: a report with its body, in arrival order; pending
//                                 from the claim cursor on, claimed by a job before it, gone
//                                 once its job finishes
//   "t" || time u64 BE         -> u64: reports of that time not yet finished (pending or in
//                                 a job); no row when none (collection readiness)
//   "j" || job_id              -> StoredClaim: reports handed (or being handed) to a job
//   "pf"                       -> PeerFailure: the last time a job was given up, and why
//   "~" || at || "r" || id     -> ()  the replay record of a report: its expiry index row
//                                 (store::ttl) is the record itself, so an upload writes two
//                                 rows per report (this and its "q" row) and a count per time
//
// A replay record is found by the report's ID and time (its expiry follows from the time
// and the task's fixed expiry age). A copy of a report under another time is not caught
// here; it cannot be aggregated either, because the time is bound into both input shares'
// HPKE AAD, so it is rejected at aggregation and never counted.

/// Times a report may be handed back by abandoned jobs before it is dropped.
pub const MAX_ATTEMPTS: u8 = 3;

/// One report waiting for aggregation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReport {
    /// The report ID.
    pub report_id: ReportId,
    /// The report time.
    pub time: Time,
    /// The encoded `Report`.
    #[serde(with = "crate::store::bytes")]
    pub report: Vec<u8>,
}

/// Reports claimed for one aggregation job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobClaim {
    /// The Leader's job ID.
    pub job: AggregationJobId,
    /// Leader-selected mode: the batch (`None` until assigned).
    pub batch: Option<BatchId>,
    /// The reports, in job order.
    pub reports: Vec<PendingReport>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ShardMeta {
    next_seq: u64,
    /// Every "q" row with a smaller sequence number is claimed by a job.
    claimed: u64,
    pending: u64,
    /// A full job just finished: claim what is pending at once, however few (see
    /// [`ShardReq::Finish`]).
    take_rest: bool,
    /// Arrival time of the oldest pending report (kept so that an upload need not scan
    /// the queue to say when jobs are due).
    oldest: Option<u64>,
    /// Every counter by name (reports uploaded, aggregated, rejected per error; see
    /// docs/architecture.md), in this row so that an upload writes them with the rest.
    counters: std::collections::BTreeMap<String, u64>,
}

impl ShardMeta {
    fn count(&mut self, items: &[(&str, u64)]) {
        for (name, n) in items.iter().filter(|(_, n)| *n > 0) {
            *self.counters.entry((*name).to_string()).or_default() += n;
        }
    }
}

/// A pending report in the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Queued {
    id: ReportId,
    arrival: u64,
    time: u64,
    attempts: u8,
    #[serde(with = "crate::store::bytes")]
    body: Vec<u8>,
}

/// A claimed report (its body stays in its "q" row).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Claimed {
    id: ReportId,
    time: u64,
    attempts: u8,
    seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredClaim {
    batch: Option<BatchId>,
    reports: Vec<Claimed>,
    handed_off: bool,
    /// Formed at `max_job_size`: more reports were (or may be) waiting behind it.
    full: bool,
}

/// A request to a report shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ShardReq {
    /// Stores uploaded reports; IDs seen before are replays and are not stored.
    Put {
        /// The reports.
        reports: Vec<PendingReport>,
        /// Current time (POSIX seconds).
        now: u64,
        /// The task's schedule (to answer when to form jobs).
        schedule: AggregationSchedule,
        /// The task's retention (when replay records and pending reports expire).
        retention: Retention,
        /// Counters of reports the Leader refused before they reached a shard, added here
        /// to save a request.
        refused: Vec<(String, u64)>,
    },
    /// Claims pending reports into new jobs as the schedule says, and returns every claim
    /// not yet handed off (including older ones, after a crash).
    Plan {
        /// Current time.
        now: u64,
        /// The task's schedule.
        schedule: AggregationSchedule,
        /// Claim whatever is pending now, ignoring `min_job_size` and `max_wait_secs`.
        flush: bool,
    },
    /// Leader-selected mode: splits a claim into one job per batch allocation.
    Split {
        /// The claim.
        job: AggregationJobId,
        /// `(batch, number of reports)` in order; the counts add up to the claim's size.
        allocations: Vec<(BatchId, u64)>,
    },
    /// The job was created; stop offering the claim.
    HandedOff {
        /// The job.
        job: AggregationJobId,
    },
    /// The job finished: its reports are done (their IDs stay for replay checks). When
    /// the job was full (formed at `max_job_size`, so traffic was heavy), the shard claims
    /// whatever is pending at once instead of waiting for `min_job_size` or
    /// `max_wait_secs`: the end of a burst waits for the job before it, never for a timer,
    /// while light traffic still gathers into jobs by the schedule.
    Finish {
        /// Current time (POSIX seconds).
        now: u64,
        /// The job.
        job: AggregationJobId,
        /// Reports committed.
        aggregated: u64,
        /// Reports the Leader rejected, by error.
        rejected: Vec<(ReportError, u64)>,
        /// Reports the Helper rejected, by error.
        helper_rejected: Vec<(ReportError, u64)>,
        /// Requests the job sent to the Helper.
        helper_requests: u64,
    },
    /// The shard's counters.
    Stats,
    /// The job was abandoned: its reports go back to pending (up to [`MAX_ATTEMPTS`]);
    /// expired ones and those out of attempts are dropped (`rejected:report_dropped`).
    Release {
        /// The job.
        job: AggregationJobId,
        /// Current time.
        now: u64,
        /// The task's retention.
        retention: Retention,
    },
    /// Whether any report with a time inside `interval` is pending or in an unfinished job,
    /// and the last job failure since `since_ms`, if any.
    Outstanding {
        /// The interval.
        interval: Interval,
        /// Report failures that happened at or after this time (ms).
        since_ms: u64,
    },
    /// Adds to counters (failures seen outside the shard's own requests).
    Count {
        /// Counter names and increments.
        items: Vec<(String, u64)>,
    },
    /// A job of this shard was given up: remember when and why (collections that wait
    /// for these reports fail with this reason instead of waiting forever).
    JobFailed {
        /// The failure.
        failure: PeerFailure,
    },
    /// The last job failure at or after `since_ms`, if any.
    LastFailure {
        /// Earliest time of interest (ms).
        since_ms: u64,
    },
}

/// The answer of a report shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardResp {
    /// For `Put`.
    Put {
        /// One flag per report: true when the ID was seen before.
        replayed: Vec<bool>,
        /// When the shard should next form jobs (POSIX seconds), if it holds pending reports.
        alarm_at: Option<u64>,
    },
    /// For `Plan` and `Split`.
    Claims {
        /// Claims to hand to jobs.
        claims: Vec<JobClaim>,
        /// When to plan again, if reports remain pending.
        alarm_at: Option<u64>,
    },
    /// For `HandedOff`, `Count`, `JobFailed`.
    Done,
    /// For `Finish`: when the shard should form the next job, if at once.
    Finished {
        /// POSIX seconds.
        alarm_at: Option<u64>,
    },
    /// For `Release`: when the shard should plan jobs for the reports it took back.
    Released {
        /// POSIX seconds, if any report went back to pending.
        alarm_at: Option<u64>,
    },
    /// For `Outstanding`.
    Outstanding {
        /// Reports of the interval are still pending or in a job.
        outstanding: bool,
        /// The last job failure at or after `since_ms`.
        failure: Option<PeerFailure>,
    },
    /// For `LastFailure`.
    Failure(Option<PeerFailure>),
    /// For `Stats`: counter name and value.
    Stats(Vec<(String, u64)>),
}

fn meta(kv: &impl Kv) -> Result<ShardMeta, StoreError> {
    Ok(get(kv, b"m")?.unwrap_or_default())
}

fn queue_key(seq: u64) -> Vec<u8> {
    key(&[b"q", &seq.to_be_bytes()])
}

/// Pending reports from the claim cursor on, at most `limit`.
fn pending(kv: &impl Kv, m: &ShardMeta, limit: usize) -> Result<super::kv::Entries, StoreError> {
    kv.scan(
        &queue_key(m.claimed),
        &super::kv::prefix_end(b"q"),
        limit,
        false,
    )
}

fn oldest_arrival(kv: &impl Kv, m: &ShardMeta) -> Result<Option<u64>, StoreError> {
    Ok(match pending(kv, m, 1)?.into_iter().next() {
        Some((_, v)) => Some(super::from_bytes::<Queued>(&v)?.arrival),
        None => None,
    })
}

fn alarm_at(
    kv: &impl Kv,
    m: &ShardMeta,
    s: &AggregationSchedule,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    if m.pending == 0 {
        return Ok(None);
    }
    if m.pending >= u64::from(s.min_job_size) {
        return Ok(Some(now));
    }
    let oldest = match m.oldest {
        Some(t) => Some(t),
        None => oldest_arrival(kv, m)?,
    };
    Ok(oldest.map(|t| t.saturating_add(s.max_wait_secs)))
}

/// A key and its value, for batched writes.
type Row = (Vec<u8>, Vec<u8>);

/// The row that queues a pending report. (It needs no expiry of its own: a job claims it
/// within the schedule's wait, and one that waited past the expiry age is refused at
/// aggregation as `report_dropped`.)
fn queue_row(m: &mut ShardMeta, q: &Queued) -> Result<Row, StoreError> {
    let seq = m.next_seq;
    m.next_seq += 1;
    m.pending += 1;
    Ok((queue_key(seq), super::to_bytes(q)?))
}

fn outstanding_key(time: u64) -> Vec<u8> {
    key(&[b"t", &time.to_be_bytes()])
}

/// The replay record of a report: its expiry index row.
fn replay_key(retention: &Retention, id: &ReportId, time: u64) -> Vec<u8> {
    ttl::index_key(retention.expires_at(time), &key(&[b"r", &id.0]))
}

/// The writes that take finished (or dropped) reports, by time, off the outstanding
/// counts: rows to put and keys to delete.
fn finish_outstanding(
    kv: &impl Kv,
    times: impl IntoIterator<Item = u64>,
) -> Result<(Vec<Row>, Vec<Vec<u8>>), StoreError> {
    let mut done: std::collections::BTreeMap<u64, u64> = Default::default();
    for t in times {
        *done.entry(t).or_default() += 1;
    }
    let keys: Vec<Vec<u8>> = done.keys().map(|t| outstanding_key(*t)).collect();
    let counts = kv.get_many(&keys)?;
    let (mut rows, mut gone) = (Vec::new(), Vec::new());
    for ((k, n), count) in keys.into_iter().zip(done.values()).zip(counts) {
        let count: u64 = count
            .map(|c| super::from_bytes(&c))
            .transpose()?
            .unwrap_or(0);
        match count.saturating_sub(*n) {
            0 => gone.push(k),
            left => rows.push((k, super::to_bytes(&left)?)),
        }
    }
    Ok((rows, gone))
}

fn load_claim(kv: &impl Kv, job: AggregationJobId, c: StoredClaim) -> Result<JobClaim, StoreError> {
    let keys: Vec<Vec<u8>> = c.reports.iter().map(|r| queue_key(r.seq)).collect();
    let rows = kv.get_many(&keys)?;
    let mut reports = Vec::with_capacity(c.reports.len());
    for (r, row) in c.reports.into_iter().zip(rows) {
        let row =
            row.ok_or_else(|| StoreError::Invariant("claimed report lost its body".into()))?;
        let q: Queued = super::from_bytes(&row)?;
        reports.push(PendingReport {
            report_id: r.id,
            time: Time(r.time),
            report: q.body,
        });
    }
    Ok(JobClaim {
        job,
        batch: c.batch,
        reports,
    })
}

/// Claims up to `max` pending reports, oldest first, for a new job: their rows stay where
/// they are, the claim cursor moves past them.
fn claim(kv: &mut impl Kv, m: &mut ShardMeta, max: usize) -> Result<(), StoreError> {
    let take = pending(kv, m, max.max(1))?;
    let mut reports = Vec::with_capacity(take.len());
    for (k, v) in take {
        let seq = k
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Codec("queue key".into()))?;
        let q: Queued = super::from_bytes(&v)?;
        reports.push(Claimed {
            id: q.id,
            time: q.time,
            attempts: q.attempts,
            seq,
        });
    }
    let Some(last) = reports.last() else {
        return Ok(());
    };
    let full = reports.len() >= max;
    m.claimed = last.seq + 1;
    m.pending -= reports.len() as u64;
    // Read again from the queue when next needed.
    m.oldest = None;
    let job = AggregationJobId::random();
    put(
        kv,
        &key(&[b"j", &job.0]),
        &StoredClaim {
            batch: None,
            reports,
            handed_off: false,
            full,
        },
    )
}

/// Derives the ID of the `i`-th job split from a claim.
pub fn split_job_id(claim: &AggregationJobId, i: u32) -> AggregationJobId {
    let h = Sha256::new()
        .chain_update(b"edap split")
        .chain_update(claim.0)
        .chain_update(i.to_be_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&h[..16]);
    AggregationJobId(id)
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: ShardReq) -> Result<ShardResp, StoreError> {
    match req {
        ShardReq::Put {
            reports,
            now,
            schedule,
            retention,
            refused,
        } => {
            // One read for the meta row (with the counters), every replay record and the
            // outstanding count of every time among the reports.
            let rkeys: Vec<Vec<u8>> = reports
                .iter()
                .map(|r| replay_key(&retention, &r.report_id, r.time.0))
                .collect();
            let times: std::collections::BTreeSet<u64> = reports.iter().map(|r| r.time.0).collect();
            let mut wanted = Vec::with_capacity(rkeys.len() + times.len() + 1);
            wanted.push(b"m".to_vec());
            wanted.extend(rkeys.iter().cloned());
            wanted.extend(times.iter().map(|t| outstanding_key(*t)));
            let mut found = kv.get_many(&wanted)?.into_iter();
            let mut m: ShardMeta = found
                .next()
                .flatten()
                .map(|b| super::from_bytes(&b))
                .transpose()?
                .unwrap_or_default();
            let seen: Vec<Option<Vec<u8>>> = found.by_ref().take(rkeys.len()).collect();
            let mut outstanding = std::collections::BTreeMap::new();
            for (t, count) in times.iter().zip(found) {
                let count: u64 = count
                    .map(|c| super::from_bytes(&c))
                    .transpose()?
                    .unwrap_or(0);
                outstanding.insert(*t, count);
            }
            if m.pending == 0 {
                m.oldest = Some(now);
            }
            let mut in_request = HashSet::with_capacity(reports.len());
            let mut rows = Vec::with_capacity(reports.len() * 2 + times.len() + 1);
            let mut replayed = Vec::with_capacity(reports.len());
            for ((r, rkey), seen) in reports.into_iter().zip(rkeys).zip(seen) {
                if seen.is_some() || !in_request.insert(r.report_id) {
                    replayed.push(true);
                    continue;
                }
                rows.push((rkey, Vec::new()));
                *outstanding.entry(r.time.0).or_default() += 1;
                rows.push(queue_row(
                    &mut m,
                    &Queued {
                        id: r.report_id,
                        arrival: now,
                        time: r.time.0,
                        attempts: 0,
                        body: r.report,
                    },
                )?);
                replayed.push(false);
            }
            for (t, count) in outstanding.into_iter().filter(|(_, n)| *n > 0) {
                rows.push((outstanding_key(t), super::to_bytes(&count)?));
            }
            let fresh = replayed.iter().filter(|r| !**r).count() as u64;
            let replays = replayed.len() as u64 - fresh;
            m.count(&[
                ("uploaded", fresh),
                ("upload_rejected:report_replayed", replays),
            ]);
            let refused: Vec<(&str, u64)> = refused.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            m.count(&refused);
            if m.pending == 0 {
                m.oldest = None;
            }
            rows.push((b"m".to_vec(), super::to_bytes(&m)?));
            // One write for everything.
            kv.put_many(&rows)?;
            Ok(ShardResp::Put {
                replayed,
                alarm_at: alarm_at(kv, &m, &schedule, now)?,
            })
        }
        ShardReq::Plan {
            now,
            schedule,
            flush,
        } => {
            let mut m = meta(kv)?;
            // Form new jobs while the schedule says so.
            loop {
                let due = m.pending >= u64::from(schedule.min_job_size)
                    || (m.pending > 0
                        && (flush
                            || m.take_rest
                            || oldest_arrival(kv, &m)?
                                .is_some_and(|t| t.saturating_add(schedule.max_wait_secs) <= now)));
                if !due {
                    break;
                }
                claim(kv, &mut m, schedule.max_job_size as usize)?;
                m.take_rest = false;
            }
            put(kv, b"m", &m)?;
            let mut claims = Vec::new();
            for (k, v) in kv.scan_prefix(b"j", usize::MAX)? {
                let c: StoredClaim = super::from_bytes(&v)?;
                if !c.handed_off {
                    let job = AggregationJobId::from_slice(&k[1..])
                        .ok_or_else(|| StoreError::Codec("claim key".into()))?;
                    claims.push(load_claim(kv, job, c)?);
                }
            }
            Ok(ShardResp::Claims {
                claims,
                alarm_at: alarm_at(kv, &m, &schedule, now)?,
            })
        }
        ShardReq::Split { job, allocations } => {
            let ckey = key(&[b"j", &job.0]);
            let Some(c) = get::<StoredClaim>(kv, &ckey)? else {
                // Already split (or finished): answer with the pieces that still exist.
                let mut claims = Vec::new();
                for i in 0..allocations.len() as u32 {
                    let sub = split_job_id(&job, i);
                    if let Some(sc) = get::<StoredClaim>(kv, &key(&[b"j", &sub.0]))? {
                        if !sc.handed_off {
                            claims.push(load_claim(kv, sub, sc)?);
                        }
                    }
                }
                return Ok(ShardResp::Claims {
                    claims,
                    alarm_at: None,
                });
            };
            let total: u64 = allocations.iter().map(|(_, n)| n).sum();
            if total != c.reports.len() as u64 {
                return Err(StoreError::Invariant(
                    "allocation does not cover the claim".into(),
                ));
            }
            let mut rest = c.reports.as_slice();
            let mut claims = Vec::new();
            for (i, (batch, n)) in allocations.into_iter().enumerate() {
                let (part, tail) = rest.split_at(n as usize);
                rest = tail;
                let sub = split_job_id(&job, i as u32);
                let sc = StoredClaim {
                    batch: Some(batch),
                    reports: part.to_vec(),
                    handed_off: false,
                    full: c.full,
                };
                put(kv, &key(&[b"j", &sub.0]), &sc)?;
                claims.push(load_claim(kv, sub, sc)?);
            }
            kv.delete(&ckey)?;
            Ok(ShardResp::Claims {
                claims,
                alarm_at: None,
            })
        }
        ShardReq::HandedOff { job } => {
            let ckey = key(&[b"j", &job.0]);
            if let Some(mut c) = get::<StoredClaim>(kv, &ckey)? {
                c.handed_off = true;
                put(kv, &ckey, &c)?;
            }
            Ok(ShardResp::Done)
        }
        ShardReq::Finish {
            now,
            job,
            aggregated,
            rejected,
            helper_rejected,
            helper_requests,
        } => {
            let ckey = key(&[b"j", &job.0]);
            let Some(c) = get::<StoredClaim>(kv, &ckey)? else {
                return Ok(ShardResp::Finished { alarm_at: None });
            };
            let (mut rows, mut gone) = finish_outstanding(kv, c.reports.iter().map(|r| r.time))?;
            gone.extend(c.reports.iter().map(|r| queue_key(r.seq)));
            gone.push(ckey);
            let names: Vec<(String, u64)> = rejected
                .iter()
                .map(|(e, n)| (format!("rejected:{e}"), *n))
                .chain(
                    helper_rejected
                        .iter()
                        .map(|(e, n)| (format!("helper_rejected:{e}"), *n)),
                )
                .collect();
            let mut counts: Vec<(&str, u64)> = vec![
                ("aggregated", aggregated),
                ("jobs", 1),
                ("helper_requests", helper_requests),
            ];
            counts.extend(names.iter().map(|(k, n)| (k.as_str(), *n)));
            let mut m = meta(kv)?;
            m.count(&counts);
            let take_rest = c.full && m.pending > 0;
            m.take_rest |= take_rest;
            rows.push((b"m".to_vec(), super::to_bytes(&m)?));
            kv.delete_many(&gone)?;
            kv.put_many(&rows)?;
            Ok(ShardResp::Finished {
                alarm_at: take_rest.then_some(now),
            })
        }
        ShardReq::Release {
            job,
            now,
            retention,
        } => {
            let ckey = key(&[b"j", &job.0]);
            if let Some(c) = get::<StoredClaim>(kv, &ckey)? {
                let mut m = meta(kv)?;
                let claim = load_claim(kv, job, c.clone())?;
                let mut rows = Vec::new();
                let mut gone = vec![ckey];
                let mut dropped_times = Vec::new();
                for (r, pr) in c.reports.iter().zip(claim.reports) {
                    gone.push(queue_key(r.seq));
                    let attempts = r.attempts + 1;
                    if attempts >= MAX_ATTEMPTS || retention.expired(r.time, now) {
                        // Dropped: it stays a known ID but is no longer outstanding.
                        dropped_times.push(r.time);
                    } else {
                        rows.push(queue_row(
                            &mut m,
                            &Queued {
                                id: r.id,
                                arrival: now,
                                time: r.time,
                                attempts,
                                body: pr.report,
                            },
                        )?);
                    }
                }
                let dropped = dropped_times.len() as u64;
                let (counts, zero) = finish_outstanding(kv, dropped_times)?;
                rows.extend(counts);
                gone.extend(zero);
                m.oldest = None;
                m.count(&[("rejected:report_dropped", dropped)]);
                rows.push((b"m".to_vec(), super::to_bytes(&m)?));
                let requeued = c.reports.len() as u64 - dropped;
                kv.delete_many(&gone)?;
                kv.put_many(&rows)?;
                return Ok(ShardResp::Released {
                    alarm_at: (requeued > 0).then_some(now),
                });
            }
            Ok(ShardResp::Released { alarm_at: None })
        }
        ShardReq::Stats => Ok(ShardResp::Stats(counters::all(kv)?)),
        ShardReq::Outstanding { interval, since_ms } => {
            let end = interval.end().map_or(u64::MAX, |e| e.0);
            let start = key(&[b"t", &interval.start.0.to_be_bytes()]);
            let stop = key(&[b"t", &end.to_be_bytes()]);
            Ok(ShardResp::Outstanding {
                outstanding: !kv.scan(&start, &stop, 1, false)?.is_empty(),
                failure: counters::last_failure(kv, since_ms)?,
            })
        }
        ShardReq::Count { items } => {
            let items: Vec<(&str, u64)> = items.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            counters::add(kv, &items)?;
            Ok(ShardResp::Done)
        }
        ShardReq::JobFailed { failure } => {
            counters::record_failure(kv, failure)?;
            Ok(ShardResp::Done)
        }
        ShardReq::LastFailure { since_ms } => {
            Ok(ShardResp::Failure(counters::last_failure(kv, since_ms)?))
        }
    }
}

#[cfg(test)]
mod tests;
