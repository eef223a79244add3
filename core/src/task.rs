//! Tasks: the agreed [`TaskConfiguration`], its derived ID, and what one aggregator holds
//! for it (role, VDAF verification key, collector HPKE config, authentication secrets).
//! [`AggregatorTask::validate`] refuses configurations that are unsafe or absurd.

use crate::messages::{
    Extension, HpkeConfig, Interval, Role, TaskConfiguration, TaskId, Time, VdafConfig,
    TASK_EXTENSION_TASK_INTERVAL,
};
use crate::vdaf::{Prio3Instance, VerifyKey, VERIFY_KEY_LEN};
use prio::codec::Encode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// `task_id = SHA-256(SHA-256("dap-taskprov task id") || task_config)` (taskprov section 3.2).
pub fn derive_task_id(config: &TaskConfiguration) -> Result<TaskId, TaskError> {
    let encoded = config
        .get_encoded()
        .map_err(|e| TaskError::Invalid(format!("configuration does not encode: {e}")))?;
    let prefix = Sha256::digest(b"dap-taskprov task id");
    let mut h = Sha256::new();
    h.update(prefix);
    h.update(&encoded);
    Ok(TaskId(h.finalize().into()))
}

/// The taskprov VDAF verification key:
/// `HKDF-Expand(HKDF-Extract(SHA-256("dap-taskprov"), verify_key_init), task_id, 32)`.
pub fn derive_verify_key(verify_key_init: &[u8; 32], task_id: &TaskId) -> VerifyKey {
    let salt = Sha256::digest(b"dap-taskprov");
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&salt), verify_key_init);
    let mut out = [0u8; VERIFY_KEY_LEN];
    // 32 bytes is far below HKDF-SHA256's 255*32 output limit.
    hk.expand(&task_id.0, &mut out).expect("HKDF output length");
    out
}

/// Why a task was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The configuration breaks a rule; the message says which.
    #[error("invalid task: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> TaskError {
    TaskError::Invalid(msg.into())
}

/// Deployment-wide bounds on what tasks may ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLimits {
    /// Smallest acceptable `min_batch_size`.
    pub min_batch_size_floor: u64,
    /// Largest acceptable vector length (SumVec, Histogram, MultihotCountVec).
    pub max_vdaf_length: u32,
    /// Largest acceptable `time_precision`, in seconds.
    pub max_time_precision: u64,
    /// Largest acceptable verification cost: length × (bits per entry) for vector VDAFs.
    pub max_vdaf_cost: u64,
    /// Whether peer endpoints may be plain `http` URLs (development deployments only);
    /// otherwise both endpoints must be `https`.
    #[serde(default)]
    pub allow_http_endpoints: bool,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            min_batch_size_floor: 100,
            max_vdaf_length: 100_000,
            max_time_precision: 7 * 24 * 3600,
            max_vdaf_cost: 4_000_000,
            allow_http_endpoints: false,
        }
    }
}

fn bits(max: u64) -> u64 {
    u64::from(64 - max.leading_zeros())
}

/// Checks a configuration against `limits`: everything a participant must refuse before
/// taking part in a task.
pub fn validate_config(config: &TaskConfiguration, limits: &TaskLimits) -> Result<(), TaskError> {
    if config.task_info.is_empty() || config.task_info.len() > 255 {
        return Err(invalid("task_info must be 1 to 255 bytes"));
    }
    for (name, url) in [
        ("leader", &config.leader_endpoint),
        ("helper", &config.helper_endpoint),
    ] {
        if url.is_empty() || !url.is_ascii() || url.len() > u16::MAX as usize {
            return Err(invalid(format!(
                "{name} endpoint must be a non-empty ASCII URL"
            )));
        }
        let https = url.starts_with("https://");
        if !(https || (limits.allow_http_endpoints && url.starts_with("http://"))) {
            return Err(invalid(if limits.allow_http_endpoints {
                format!("{name} endpoint must be an http(s) URL")
            } else {
                format!("{name} endpoint must be an https URL")
            }));
        }
    }
    if config.time_precision == 0 {
        return Err(invalid("time_precision must be at least 1 second"));
    }
    if config.time_precision > limits.max_time_precision {
        return Err(invalid(format!(
            "time_precision {} exceeds the limit of {} seconds",
            config.time_precision, limits.max_time_precision
        )));
    }
    if config.min_batch_size < limits.min_batch_size_floor.max(1) {
        return Err(invalid(format!(
            "min_batch_size {} is below this deployment's floor of {}",
            config.min_batch_size,
            limits.min_batch_size_floor.max(1)
        )));
    }
    if !config.extensions.is_strictly_ordered() {
        return Err(invalid(
            "task extensions must be in strictly increasing order of type",
        ));
    }
    for ext in config.extensions.iter() {
        if ext.extension_type != TASK_EXTENSION_TASK_INTERVAL {
            return Err(invalid(format!(
                "unrecognized task extension {}",
                ext.extension_type
            )));
        }
    }
    if config
        .extensions
        .get(TASK_EXTENSION_TASK_INTERVAL)
        .is_some()
    {
        let i = config
            .task_interval()
            .ok_or_else(|| invalid("task_interval extension is malformed"))?;
        if i.duration.0 == 0 || i.end().is_none() {
            return Err(invalid(
                "task_interval must have a positive duration and not overflow",
            ));
        }
    }
    validate_vdaf(&config.vdaf, limits)?;
    Prio3Instance::for_dap(&config.vdaf).map_err(|e| invalid(format!("VDAF parameters: {e}")))?;
    Ok(())
}

fn validate_vdaf(vdaf: &VdafConfig, limits: &TaskLimits) -> Result<(), TaskError> {
    let check_len = |length: u32, chunk_length: u32| {
        if length == 0 {
            return Err(invalid("VDAF length must be at least 1"));
        }
        if length > limits.max_vdaf_length {
            return Err(invalid(format!(
                "VDAF length {length} exceeds the limit of {}",
                limits.max_vdaf_length
            )));
        }
        if chunk_length == 0 {
            return Err(invalid("chunk_length must be at least 1"));
        }
        Ok(())
    };
    let check_cost = |cost: u64| {
        if cost > limits.max_vdaf_cost {
            Err(invalid(format!(
                "VDAF cost {cost} (entries x bits) exceeds the limit of {}",
                limits.max_vdaf_cost
            )))
        } else {
            Ok(())
        }
    };
    match *vdaf {
        VdafConfig::Prio3Count => Ok(()),
        VdafConfig::Prio3Sum { max_measurement } => {
            if max_measurement == 0 {
                Err(invalid("max_measurement must be at least 1"))
            } else {
                Ok(())
            }
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            chunk_length,
        } => {
            check_len(length, chunk_length)?;
            if max_measurement == 0 {
                return Err(invalid("max_measurement must be at least 1"));
            }
            check_cost(u64::from(length) * bits(max_measurement))
        }
        VdafConfig::Prio3Histogram {
            length,
            chunk_length,
        } => {
            check_len(length, chunk_length)?;
            check_cost(u64::from(length))
        }
        VdafConfig::Prio3MultihotCountVec {
            length,
            chunk_length,
            max_weight,
        } => {
            check_len(length, chunk_length)?;
            if max_weight == 0 || max_weight > u64::from(length) {
                return Err(invalid("max_weight must be between 1 and length"));
            }
            check_cost(u64::from(length) + bits(max_weight))
        }
    }
}

/// A secret that must never be printed: `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The SHA-256 of a bearer token: aggregators store only this for tokens they check.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHash(#[serde(with = "hex32")] pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `token` hashes to this value, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        h.ct_eq(&self.0).into()
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| serde::de::Error::custom("invalid hex"))?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

/// How the Leader schedules aggregation for a task (not part of the DAP configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AggregationSchedule {
    /// Form a job as soon as a shard holds this many pending reports.
    pub min_job_size: u32,
    /// Never put more than this many reports in one job.
    pub max_job_size: u32,
    /// Form a job from whatever is pending once the oldest report waited this long (seconds).
    pub max_wait_secs: u64,
    /// Number of pending-report shards (by report ID).
    pub report_shards: u32,
    /// Number of batch-bucket shards (by aggregation job).
    pub bucket_shards: u32,
    /// Number of replay-protection shards (by report ID), used by the Helper.
    pub replay_shards: u32,
    /// Leader-selected mode: target reports per batch (at least `min_batch_size`).
    pub batch_size_target: u64,
}

impl Default for AggregationSchedule {
    /// Jobs of 2,500 reports (below the Helper's default synchronous limit of 5,000) keep
    /// Leader-Helper traffic at 0.4 requests per 1,000 reports; two report shards let one
    /// job be at the Helper while the next is prepared (see docs/benchmarks.md).
    fn default() -> Self {
        AggregationSchedule {
            min_job_size: 2_500,
            max_job_size: 2_500,
            max_wait_secs: 5,
            report_shards: 2,
            bucket_shards: 4,
            replay_shards: 8,
            batch_size_target: 0,
        }
    }
}

/// What this deployment holds for one task in its aggregator role. `Debug` redacts secrets.
/// The task ID is any globally unique 32 bytes; tasks created without one use the taskprov
/// derivation from the configuration ([`derive_task_id`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorTask {
    /// The task ID (derived from `config`).
    pub task_id: TaskId,
    /// The agreed configuration.
    #[serde(with = "config_serde")]
    pub config: TaskConfiguration,
    /// Leader or Helper.
    #[serde(with = "role_serde")]
    pub role: Role,
    /// The shared VDAF verification key.
    #[serde(with = "key_serde")]
    pub vdaf_verify_key: VerifyKey,
    /// Where aggregate shares are sealed to.
    #[serde(with = "crate::hpke::config_serde")]
    pub collector_hpke_config: HpkeConfig,
    /// Leader only: the token presented to the Helper.
    #[serde(default)]
    pub aggregator_auth_token: Option<Secret>,
    /// Helper only: hash of the token the Leader must present.
    #[serde(default)]
    pub aggregator_auth_token_hash: Option<TokenHash>,
    /// Leader only: hash of the token the Collector must present.
    #[serde(default)]
    pub collector_auth_token_hash: Option<TokenHash>,
    /// Leader only: how aggregation jobs are formed.
    #[serde(default)]
    pub schedule: AggregationSchedule,
    /// Leader only: the header that carries `aggregator_auth_token` to the Helper.
    #[serde(default)]
    pub peer_auth: AuthHeader,
    /// How long after the end of its time bucket a report is kept (seconds): older reports
    /// are refused with `report_dropped`, and their replay records, buckets and jobs are
    /// deleted.
    #[serde(default = "default_report_expiry_age")]
    pub report_expiry_age: u64,
    /// Leader only: how resources are created at the Helper (see [`PeerDialect`]).
    #[serde(default)]
    pub helper_dialect: PeerDialect,
    /// When the task stops accepting uploads (POSIX seconds): later uploads are refused
    /// with `task_expired`. Operational state, not part of the configuration; set through
    /// the aggregator API's `PATCH /tasks/{id}`.
    #[serde(default)]
    pub deactivate_at: Option<u64>,
    /// Whether the task was provisioned in band (taskprov, [`crate::taskprov`]): its ID
    /// derives from its configuration, its verification key from a peer's secret, and a
    /// Leader advertises it to the Helper on every request.
    #[serde(default)]
    pub taskprov: bool,
    /// Tokens replaced by a rotation and still accepted until their grace period ends
    /// ([`crate::tokens`]).
    #[serde(default)]
    pub retired_tokens: Vec<crate::tokens::RetiredToken>,
    /// Noise this aggregator adds to its aggregate share ([`crate::dp`]).
    #[serde(default)]
    pub dp_strategy: crate::dp::DpStrategy,
}

/// One week: the default [`AggregatorTask::report_expiry_age`].
pub const DEFAULT_REPORT_EXPIRY_AGE: u64 = 7 * 24 * 3600;

/// The longest [`AggregatorTask::report_expiry_age`] accepted: one year.
pub const MAX_REPORT_EXPIRY_AGE: u64 = 366 * 24 * 3600;

fn default_report_expiry_age() -> u64 {
    DEFAULT_REPORT_EXPIRY_AGE
}

/// How a Leader creates aggregation jobs and aggregate shares at its Helper.
///
/// DAP-18 (section "Resource Creation") creates them with `POST` to a collection URL and a
/// server-chosen ID; the deployed DAP-18 peers (Janus) still create them with `PUT` to a
/// URL that carries an ID the Leader chose. Both carry the same messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerDialect {
    /// Try `POST`; if the Helper answers 404 or 405 without a DAP problem document, use
    /// `PUT` (and remember which form worked).
    #[default]
    Auto,
    /// `POST /tasks/{task}/aggregation_jobs` and `POST .../aggregate_shares` (DAP-18).
    Post,
    /// `PUT /tasks/{task}/aggregation_jobs/{id}` and `PUT .../aggregate_shares/{id}`.
    Put,
}

impl PeerDialect {
    /// The dialect a peer speaks, from the `features` of its aggregator API (`GET /`):
    /// `Post` if it lists `"PostResourceCreation"`, otherwise `Put`: a peer that does not
    /// advertise it is a Janus-era peer that creates resources with `PUT`.
    pub fn from_features(features: &[String]) -> PeerDialect {
        if features.iter().any(|f| f == "PostResourceCreation") {
            PeerDialect::Post
        } else {
            PeerDialect::Put
        }
    }
}

/// Which HTTP header carries a bearer token to the peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthHeader {
    /// `Authorization: Bearer <token>`
    #[default]
    Bearer,
    /// `DAP-Auth-Token: <token>` (the interop test design's header)
    DapAuthToken,
}

impl AuthHeader {
    /// The header name and value for `token`.
    pub fn header(self, token: &str) -> (&'static str, String) {
        match self {
            AuthHeader::Bearer => ("authorization", format!("Bearer {token}")),
            AuthHeader::DapAuthToken => ("dap-auth-token", token.to_string()),
        }
    }
}

impl fmt::Debug for AggregatorTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregatorTask")
            .field("task_id", &self.task_id)
            .field("role", &self.role)
            .field("vdaf", &self.config.vdaf)
            .field("batch_mode", &self.config.batch_mode)
            .finish_non_exhaustive()
    }
}

impl AggregatorTask {
    /// A task with no tokens yet, the default schedule, Bearer authentication towards the
    /// peer, the default report expiry, no deactivation, no noise; callers set the rest.
    pub fn new(
        task_id: TaskId,
        config: TaskConfiguration,
        role: Role,
        vdaf_verify_key: VerifyKey,
        collector_hpke_config: HpkeConfig,
    ) -> Self {
        AggregatorTask {
            task_id,
            config,
            role,
            vdaf_verify_key,
            collector_hpke_config,
            aggregator_auth_token: None,
            aggregator_auth_token_hash: None,
            collector_auth_token_hash: None,
            schedule: AggregationSchedule::default(),
            peer_auth: AuthHeader::Bearer,
            report_expiry_age: DEFAULT_REPORT_EXPIRY_AGE,
            helper_dialect: PeerDialect::Auto,
            deactivate_at: None,
            taskprov: false,
            retired_tokens: Vec::new(),
            dp_strategy: Default::default(),
        }
    }

    /// Checks the configuration, the derived task ID and that the role's secrets are present.
    pub fn validate(&self, limits: &TaskLimits) -> Result<(), TaskError> {
        validate_config(&self.config, limits)?;
        if !crate::hpke::is_supported(&self.collector_hpke_config) {
            return Err(invalid("collector HPKE config uses unsupported algorithms"));
        }
        match self.role {
            Role::Leader => {
                if self
                    .aggregator_auth_token
                    .as_ref()
                    .is_none_or(|t| t.0.is_empty())
                {
                    return Err(invalid("a Leader task needs aggregator_auth_token"));
                }
                if self.collector_auth_token_hash.is_none() {
                    return Err(invalid("a Leader task needs collector_auth_token_hash"));
                }
            }
            Role::Helper => {
                if self.aggregator_auth_token_hash.is_none() {
                    return Err(invalid("a Helper task needs aggregator_auth_token_hash"));
                }
            }
            _ => return Err(invalid("role must be leader or helper")),
        }
        self.dp_strategy
            .validate(&self.config.vdaf)
            .map_err(|e| invalid(e.to_string()))?;
        let s = &self.schedule;
        if s.min_job_size == 0 || s.max_job_size < s.min_job_size {
            return Err(invalid("need 1 <= min_job_size <= max_job_size"));
        }
        if s.report_shards == 0 || s.bucket_shards == 0 || s.replay_shards == 0 {
            return Err(invalid("shard counts must be at least 1"));
        }
        if s.report_shards > 256 || s.bucket_shards > 256 || s.replay_shards > 256 {
            return Err(invalid("shard counts must be at most 256"));
        }
        if self.report_expiry_age < 3600 || self.report_expiry_age > MAX_REPORT_EXPIRY_AGE {
            return Err(invalid(format!(
                "report_expiry_age must be between 3600 and {MAX_REPORT_EXPIRY_AGE} seconds"
            )));
        }
        Ok(())
    }

    /// The VDAF instance for this task.
    pub fn vdaf(&self) -> Prio3Instance {
        // validate() instantiated it once; configurations are immutable afterwards.
        Prio3Instance::for_dap(&self.config.vdaf).expect("validated VDAF configuration")
    }

    /// The POSIX second at which a report with wire time `time` (in time-precision units)
    /// expires: the end of its time bucket plus [`Self::report_expiry_age`].
    pub fn report_expires_at(&self, time: Time) -> u64 {
        time.to_seconds(self.config.time_precision)
            .saturating_add(self.config.time_precision)
            .saturating_add(self.report_expiry_age)
    }

    /// What this task keeps and for how long ([`crate::store::ttl::Retention`]).
    pub fn retention(&self) -> crate::store::ttl::Retention {
        crate::store::ttl::Retention {
            time_precision: self.config.time_precision,
            report_expiry_age: self.report_expiry_age,
        }
    }

    /// Target batch size for leader-selected batches.
    pub fn batch_size_target(&self) -> u64 {
        self.schedule
            .batch_size_target
            .max(self.config.min_batch_size)
    }
}

/// Time checks every aggregator applies to a report (DAP-18 section 4.6.1.3).
pub fn check_report_time(
    config: &TaskConfiguration,
    time: Time,
    now_secs: u64,
    skew_secs: u64,
) -> Result<(), crate::messages::ReportError> {
    use crate::messages::ReportError;
    if time.to_seconds(config.time_precision) > now_secs.saturating_add(skew_secs) {
        return Err(ReportError::ReportTooEarly);
    }
    if let Some(interval) = config.task_interval() {
        if time < interval.start {
            return Err(ReportError::TaskNotStarted);
        }
        if interval.end().is_some_and(|end| time >= end) {
            return Err(ReportError::TaskExpired);
        }
    }
    Ok(())
}

/// Builds the `task_interval` extension entry.
pub fn task_interval_extension(i: Interval) -> Extension {
    Extension {
        extension_type: TASK_EXTENSION_TASK_INTERVAL,
        // A fixed 16-byte struct always encodes.
        extension_data: i.get_encoded().unwrap_or_default(),
    }
}

mod config_serde {
    use crate::messages::TaskConfiguration;
    use prio::codec::{Decode, Encode};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &TaskConfiguration, s: S) -> Result<S::Ok, S::Error> {
        let b = c.get_encoded().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&crate::messages::base64url(&b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TaskConfiguration, D::Error> {
        let s = String::deserialize(d)?;
        let b = crate::messages::from_base64url(&s)
            .ok_or_else(|| serde::de::Error::custom("invalid base64url"))?;
        TaskConfiguration::get_decoded(&b).map_err(serde::de::Error::custom)
    }
}

mod role_serde {
    use crate::messages::Role;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown role"))
    }
}

mod key_serde {
    use crate::vdaf::VerifyKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &VerifyKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::messages::base64url(k))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VerifyKey, D::Error> {
        let s = String::deserialize(d)?;
        crate::messages::from_base64url(&s)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("verify key must be 32 bytes base64url"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{BatchMode, Extensions};

    pub(crate) fn config(vdaf: VdafConfig) -> TaskConfiguration {
        TaskConfiguration {
            task_info: b"t".to_vec(),
            leader_endpoint: "https://leader.example/".into(),
            helper_endpoint: "https://helper.example/".into(),
            time_precision: 60,
            min_batch_size: 10,
            batch_mode: BatchMode::TimeInterval,
            vdaf,
            extensions: Extensions::empty(),
        }
    }

    #[test]
    fn refuses_unsafe_configs() {
        let limits = TaskLimits {
            min_batch_size_floor: 10,
            ..TaskLimits::default()
        };
        assert!(validate_config(&config(VdafConfig::Prio3Count), &limits).is_ok());
        // Production limits refuse plain-http peers; development ones accept them.
        let mut c = config(VdafConfig::Prio3Count);
        c.helper_endpoint = "http://helper.example/".into();
        assert!(validate_config(&c, &limits)
            .unwrap_err()
            .to_string()
            .contains("https"));
        let dev = TaskLimits {
            allow_http_endpoints: true,
            ..limits.clone()
        };
        assert!(validate_config(&c, &dev).is_ok());
        c.helper_endpoint = "ftp://helper.example/".into();
        assert!(validate_config(&c, &dev).is_err());
        assert!(
            TaskLimits::default().min_batch_size_floor >= 100,
            "the default limits are production's"
        );
        let mut c = config(VdafConfig::Prio3Count);
        c.min_batch_size = 1;
        assert!(validate_config(&c, &limits)
            .unwrap_err()
            .to_string()
            .contains("floor"));
        let mut c = config(VdafConfig::Prio3Count);
        c.time_precision = 0;
        assert!(validate_config(&c, &limits).is_err());
        let c = config(VdafConfig::Prio3Histogram {
            length: 1_000_000,
            chunk_length: 1000,
        });
        assert!(validate_config(&c, &limits)
            .unwrap_err()
            .to_string()
            .contains("limit"));
        let c = config(VdafConfig::Prio3Histogram {
            length: 10,
            chunk_length: 0,
        });
        assert!(validate_config(&c, &limits).is_err());
        let c = config(VdafConfig::Prio3Sum { max_measurement: 0 });
        assert!(validate_config(&c, &limits).is_err());
        let mut c = config(VdafConfig::Prio3Count);
        c.extensions = Extensions::new(vec![Extension {
            extension_type: 77,
            extension_data: vec![],
        }])
        .unwrap();
        assert!(validate_config(&c, &limits)
            .unwrap_err()
            .to_string()
            .contains("unrecognized"));
    }

    #[test]
    fn report_time_checks() {
        let mut c = config(VdafConfig::Prio3Count);
        c.set_task_interval(Some(Interval::new(100, 10)));
        let now = 105 * 60;
        assert_eq!(check_report_time(&c, Time(105), now, 300), Ok(()));
        use crate::messages::ReportError::*;
        assert_eq!(
            check_report_time(&c, Time(99), now, 300),
            Err(TaskNotStarted)
        );
        assert_eq!(
            check_report_time(&c, Time(110), 200 * 60, 300),
            Err(TaskExpired)
        );
        assert_eq!(
            check_report_time(&c, Time(109), now, 60),
            Err(ReportTooEarly)
        );
    }

    #[test]
    fn peer_dialect_from_features() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            PeerDialect::from_features(&f(&["TokenHash", "PostResourceCreation"])),
            PeerDialect::Post
        );
        assert_eq!(
            PeerDialect::from_features(&f(&["TokenHash", "UploadMetrics"])),
            PeerDialect::Put
        );
        assert_eq!(PeerDialect::from_features(&[]), PeerDialect::Put);
    }

    #[test]
    fn token_hash_matches_in_constant_time() {
        let h = TokenHash::of("s3cret");
        assert!(h.matches("s3cret"));
        assert!(!h.matches("s3cret "));
        assert_eq!(format!("{h:?}"), "TokenHash(..)");
        assert_eq!(format!("{:?}", Secret("x".into())), "Secret(<redacted>)");
    }
}
