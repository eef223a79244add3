//! What the benchmark measures with: VDAFs, measurements, their expected aggregate, and
//! reports built before any clock starts.

use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::now_secs;
use prio::codec::Encode;

/// `chunk_length` as `prio` recommends it (the shortest proof) for a circuit of `n` inputs.
pub fn chunk(n: usize) -> u32 {
    prio::vdaf::prio3::optimal_chunk_length(n) as u32
}

pub fn hist100() -> VdafConfig {
    VdafConfig::Prio3Histogram {
        length: 100,
        chunk_length: chunk(100),
    }
}

pub fn floor_vdafs() -> Vec<(&'static str, VdafConfig, f64)> {
    // (name, VDAF, floor reports/s per core from /work/shared/notes/perf-floor.md)
    vec![
        ("Prio3Count", VdafConfig::Prio3Count, 4_750.0),
        (
            "Prio3Sum (max 2^32-1)",
            VdafConfig::Prio3Sum {
                max_measurement: 4_294_967_295,
            },
            2_630.0,
        ),
        ("Prio3Histogram (100)", hist100(), 3_670.0),
        (
            "Prio3SumVec (len 100, max 255)",
            VdafConfig::Prio3SumVec {
                length: 100,
                max_measurement: 255,
                // 100 entries of 8 bits each.
                chunk_length: chunk(800),
            },
            1_980.0,
        ),
    ]
}

pub fn measurement(vdaf: &VdafConfig, i: u64) -> Measurement {
    match *vdaf {
        VdafConfig::Prio3Count => Measurement::Count(i % 3 != 1),
        VdafConfig::Prio3Sum { max_measurement } => {
            Measurement::Sum(i * 1_000_003 % (max_measurement + 1))
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            ..
        } => Measurement::Vector(
            (0..u64::from(length))
                .map(|j| (i * 7 + j * 13) % (max_measurement + 1))
                .collect(),
        ),
        VdafConfig::Prio3Histogram { length, .. } => Measurement::Bucket(i * 7 % u64::from(length)),
        VdafConfig::Prio3MultihotCountVec { length, .. } => {
            Measurement::Vector((0..u64::from(length)).map(|j| (i + j) % 2).collect())
        }
    }
}

pub fn expected(vdaf: &VdafConfig, ms: &[Measurement]) -> AggregateResult {
    let mut r = AggregateResult::zero(vdaf);
    ms.iter().for_each(|m| r.add(m));
    r
}

/// Builds reports with `client` on up to `threads` threads (untimed preparation). With
/// `balance_shards = Some(k)`, report IDs are still random but drawn so that each of the `k`
/// report shards gets the same number of reports (as under steady traffic, where every job
/// is formed full-size); otherwise they are plain random.
pub fn make_reports(
    client: &Client,
    ms: &[Measurement],
    threads: usize,
    balance_shards: Option<u32>,
) -> Vec<Report> {
    let now = now_secs();
    let ids: Vec<ReportId> = match balance_shards {
        None => ms.iter().map(|_| ReportId::random()).collect(),
        Some(k) => {
            let k = k.max(1) as usize;
            let quota = |s: usize| ms.len() / k + usize::from(s < ms.len() % k);
            let mut count = vec![0usize; k];
            ms.iter()
                .map(|_| loop {
                    let id = ReportId::random();
                    let s = edap_core::store::shard_of(&id.0, k as u32) as usize;
                    if count[s] < quota(s) {
                        count[s] += 1;
                        break id;
                    }
                })
                .collect()
        }
    };
    let per = ms.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = ms
            .chunks(per)
            .zip(ids.chunks(per))
            .map(|(chunk, ids)| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .zip(ids)
                        .map(|(m, id)| client.report_with_id(*id, m, now).expect("report"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("report thread"))
            .collect()
    })
}

pub fn bodies(reports: &[Report], per_request: usize) -> Vec<Vec<u8>> {
    reports
        .chunks(per_request)
        .map(|c| {
            UploadRequest {
                reports: c.to_vec(),
            }
            .get_encoded()
            .expect("encode upload")
        })
        .collect()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
