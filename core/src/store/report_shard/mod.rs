//! The Leader's pending reports, sharded by report ID. Uploads are replay-checked here; the
//! shard then hands reports to aggregation jobs ("claims") and forgets their bodies once the
//! job is finished, keeping only the IDs for replay protection. Every request reads and
//! writes in batches (`Kv::get_many`, `put_many`, ranges), never key by key per report.

use super::{get, key, put, Kv, StoreError};
use crate::messages::{AggregationJobId, BatchId, Interval, ReportError, ReportId, Time};
use crate::task::AggregationSchedule;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

// Storage schema (one instance per task and shard):
//   "m"                        -> ShardMeta (sequence counter, pending count)
//   "r" || report_id           -> report time (u64): kept forever for replay checks
//   "q" || seq u64 BE          -> Queued: a pending report with its body, oldest first
//   "x" || report_id           -> the encoded Report while it is claimed by a job
//   "t" || time u64 BE || id   -> ()  reports not yet finished, by report time
//   "j" || job_id              -> StoredClaim: reports handed (or being handed) to a job
//   "s" || counter name        -> u64 (reports uploaded, aggregated, rejected per error)

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
    pending: u64,
}

/// A pending report in the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Queued {
    id: ReportId,
    arrival: u64,
    time: u64,
    attempts: u8,
    body: Vec<u8>,
}

/// A claimed report (its body is under "x").
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Claimed {
    id: ReportId,
    time: u64,
    attempts: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredClaim {
    batch: Option<BatchId>,
    reports: Vec<Claimed>,
    handed_off: bool,
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
    /// The job finished: its reports are done (their IDs stay for replay checks).
    Finish {
        /// The job.
        job: AggregationJobId,
        /// Reports committed.
        aggregated: u64,
        /// Reports rejected, by error.
        rejected: Vec<(ReportError, u64)>,
        /// Requests the job sent to the Helper.
        helper_requests: u64,
    },
    /// The shard's counters.
    Stats,
    /// The job was abandoned: its reports go back to pending (up to [`MAX_ATTEMPTS`]).
    Release {
        /// The job.
        job: AggregationJobId,
        /// Current time.
        now: u64,
    },
    /// Whether any report with a time inside `interval` is pending or in an unfinished job.
    Outstanding {
        /// The interval.
        interval: Interval,
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
    /// For `HandedOff`, `Finish`, `Release`.
    Done,
    /// For `Outstanding`.
    Outstanding(bool),
    /// For `Stats`: counter name and value.
    Stats(Vec<(String, u64)>),
}

fn meta(kv: &impl Kv) -> Result<ShardMeta, StoreError> {
    Ok(get(kv, b"m")?.unwrap_or_default())
}

fn counters_put(kv: &mut impl Kv, items: &[(&str, u64)]) -> Result<(), StoreError> {
    let items: Vec<_> = items.iter().filter(|(_, n)| *n > 0).collect();
    if items.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = items
        .iter()
        .map(|(name, _)| key(&[b"s", name.as_bytes()]))
        .collect();
    let old = kv.get_many(&keys)?;
    let mut puts = Vec::with_capacity(keys.len());
    for ((k, (_, n)), o) in keys.into_iter().zip(items).zip(old) {
        let v: u64 = match o {
            Some(b) => super::from_bytes(&b)?,
            None => 0,
        };
        puts.push((k, super::to_bytes(&(v + n))?));
    }
    kv.put_many(&puts)
}

fn oldest_arrival(kv: &impl Kv) -> Result<Option<u64>, StoreError> {
    Ok(match kv.scan_prefix(b"q", 1)?.into_iter().next() {
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
    Ok(oldest_arrival(kv)?.map(|t| t.saturating_add(s.max_wait_secs)))
}

fn queue_row(m: &mut ShardMeta, q: &Queued) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let seq = m.next_seq;
    m.next_seq += 1;
    m.pending += 1;
    Ok((key(&[b"q", &seq.to_be_bytes()]), super::to_bytes(q)?))
}

fn load_claim(kv: &impl Kv, job: AggregationJobId, c: StoredClaim) -> Result<JobClaim, StoreError> {
    let keys: Vec<Vec<u8>> = c.reports.iter().map(|r| key(&[b"x", &r.id.0])).collect();
    let bodies = kv.get_many(&keys)?;
    let mut reports = Vec::with_capacity(c.reports.len());
    for (r, body) in c.reports.into_iter().zip(bodies) {
        let body =
            body.ok_or_else(|| StoreError::Invariant("claimed report lost its body".into()))?;
        reports.push(PendingReport {
            report_id: r.id,
            time: Time(r.time),
            report: body,
        });
    }
    Ok(JobClaim {
        job,
        batch: c.batch,
        reports,
    })
}

/// Claims up to `max` pending reports, oldest first, for a new job.
fn claim(kv: &mut impl Kv, m: &mut ShardMeta, max: usize) -> Result<(), StoreError> {
    let take = kv.scan_prefix(b"q", max.max(1))?;
    let (Some((first, _)), Some((last, _))) = (take.first(), take.last()) else {
        return Ok(());
    };
    let range = (first.clone(), super::kv::prefix_end(last));
    let mut reports = Vec::with_capacity(take.len());
    let mut bodies = Vec::with_capacity(take.len());
    for (_, v) in take {
        let q: Queued = super::from_bytes(&v)?;
        bodies.push((key(&[b"x", &q.id.0]), q.body));
        reports.push(Claimed {
            id: q.id,
            time: q.time,
            attempts: q.attempts,
        });
    }
    kv.delete_range(&range.0, &range.1)?;
    m.pending -= reports.len() as u64;
    kv.put_many(&bodies)?;
    let job = AggregationJobId::random();
    put(
        kv,
        &key(&[b"j", &job.0]),
        &StoredClaim {
            batch: None,
            reports,
            handed_off: false,
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

fn time_key(time: u64, id: &ReportId) -> Vec<u8> {
    key(&[b"t", &time.to_be_bytes(), &id.0])
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: ShardReq) -> Result<ShardResp, StoreError> {
    match req {
        ShardReq::Put {
            reports,
            now,
            schedule,
        } => {
            let mut m = meta(kv)?;
            let rkeys: Vec<Vec<u8>> = reports
                .iter()
                .map(|r| key(&[b"r", &r.report_id.0]))
                .collect();
            let seen = kv.get_many(&rkeys)?;
            let mut in_request = HashSet::with_capacity(reports.len());
            let mut rows = Vec::with_capacity(reports.len() * 3);
            let mut replayed = Vec::with_capacity(reports.len());
            for ((r, rkey), seen) in reports.into_iter().zip(rkeys).zip(seen) {
                if seen.is_some() || !in_request.insert(r.report_id) {
                    replayed.push(true);
                    continue;
                }
                rows.push((rkey, super::to_bytes(&r.time.0)?));
                rows.push((time_key(r.time.0, &r.report_id), Vec::new()));
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
            rows.push((b"m".to_vec(), super::to_bytes(&m)?));
            kv.put_many(&rows)?;
            let fresh = replayed.iter().filter(|r| !**r).count() as u64;
            counters_put(
                kv,
                &[
                    ("uploaded", fresh),
                    ("rejected:report_replayed", replayed.len() as u64 - fresh),
                ],
            )?;
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
                            || oldest_arrival(kv)?
                                .is_some_and(|t| t.saturating_add(schedule.max_wait_secs) <= now)));
                if !due {
                    break;
                }
                claim(kv, &mut m, schedule.max_job_size as usize)?;
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
            job,
            aggregated,
            rejected,
            helper_requests,
        } => {
            let ckey = key(&[b"j", &job.0]);
            if let Some(c) = get::<StoredClaim>(kv, &ckey)? {
                let mut gone = Vec::with_capacity(c.reports.len() * 2 + 1);
                for r in &c.reports {
                    gone.push(key(&[b"x", &r.id.0]));
                    gone.push(time_key(r.time, &r.id));
                }
                gone.push(ckey);
                kv.delete_many(&gone)?;
                let names: Vec<String> = rejected
                    .iter()
                    .map(|(e, _)| format!("rejected:{e}"))
                    .collect();
                let mut counts: Vec<(&str, u64)> = vec![
                    ("aggregated", aggregated),
                    ("jobs", 1),
                    ("helper_requests", helper_requests),
                ];
                counts.extend(
                    names
                        .iter()
                        .map(String::as_str)
                        .zip(rejected.iter().map(|(_, n)| *n)),
                );
                counters_put(kv, &counts)?;
            }
            Ok(ShardResp::Done)
        }
        ShardReq::Release { job, now } => {
            let ckey = key(&[b"j", &job.0]);
            if let Some(c) = get::<StoredClaim>(kv, &ckey)? {
                let mut m = meta(kv)?;
                let claim = load_claim(kv, job, c.clone())?;
                let mut rows = Vec::new();
                let mut gone = vec![ckey];
                for (r, pr) in c.reports.iter().zip(claim.reports) {
                    gone.push(key(&[b"x", &r.id.0]));
                    let attempts = r.attempts + 1;
                    if attempts >= MAX_ATTEMPTS {
                        // Dropped: it stays a known ID but is no longer outstanding.
                        gone.push(time_key(r.time, &r.id));
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
                rows.push((b"m".to_vec(), super::to_bytes(&m)?));
                kv.delete_many(&gone)?;
                kv.put_many(&rows)?;
            }
            Ok(ShardResp::Done)
        }
        ShardReq::Stats => {
            let mut out = Vec::new();
            for (k, v) in kv.scan_prefix(b"s", usize::MAX)? {
                let name = String::from_utf8_lossy(&k[1..]).into_owned();
                out.push((name, super::from_bytes::<u64>(&v)?));
            }
            Ok(ShardResp::Stats(out))
        }
        ShardReq::Outstanding { interval } => {
            let end = interval.end().map_or(u64::MAX, |e| e.0);
            let start = key(&[b"t", &interval.start.0.to_be_bytes()]);
            let stop = key(&[b"t", &end.to_be_bytes()]);
            Ok(ShardResp::Outstanding(
                !kv.scan(&start, &stop, 1, false)?.is_empty(),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
