//! What the protocol core needs from the platform it runs on: a clock, settings, a way to
//! reach a state instance, and outbound HTTP. The Cloudflare Workers adapter maps instances
//! to Durable Objects; the in-memory adapter ([`crate::mem`]) keeps one
//! [`MemKv`](crate::store::MemKv) per instance. Both run the same [`crate::instances`]
//! dispatcher inside the instance, so everything above this trait is shared.

use crate::error::Abort;
use crate::hpke::HpkeReceiverSet;
use crate::http::{FetchError, OutboundRequest, Response};
use crate::instances::{Instance, Kind, Op};
use crate::messages::{AggregationJobId, TaskId};
use crate::roles::{AggJobReq, AggJobResp, CollJobReq, CollJobResp};
use crate::store::batch_index::{IndexReq, IndexResp};
use crate::store::buckets::{BucketReq, BucketResp};
use crate::store::replay::{ReplayReq, ReplayResp};
use crate::store::report_shard::{ShardReq, ShardResp};
use crate::store::tasks::{TaskReq, TaskResp};
use crate::store::{from_bytes, to_bytes, StoreError};
use crate::task::{AggregatorTask, PeerDialect, TaskLimits};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// How long a platform may serve a cached copy of a task or of the HPKE key pairs
/// (seconds): the worker caches both per isolate for this long. Key rotation and token grace
/// periods are longer than this, so every isolate has seen a change before it matters.
pub const CACHE_SECS: u64 = 60;

/// Deployment-wide settings (from environment variables in the worker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentConfig {
    /// Bounds on acceptable tasks.
    pub limits: TaskLimits,
    /// Clock skew tolerated before a report is `report_too_early` (seconds).
    pub report_skew_secs: u64,
    /// The Helper answers aggregation jobs with more reports than this asynchronously.
    pub helper_async_threshold: usize,
    /// `Retry-After` the Helper and Leader suggest while a job is pending (seconds).
    pub retry_after_secs: u64,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Largest number of reports in one upload request.
    pub max_reports_per_upload: usize,
    /// SHA-256 hashes of the aggregator API's bearer tokens (`AGGREGATOR_API_TOKENS`);
    /// the aggregator API is off without any.
    pub api_token_hashes: Vec<crate::task::TokenHash>,
    /// The public DAP URL of this deployment as peers name it, trailing slash included
    /// (`DAP_URL`). When unset, the aggregator API uses `{scheme}://{Host}/` of its request.
    pub dap_url: Option<String>,
    /// Serve the interop test API under `/internal/test/`. Honoured only together with
    /// [`Self::development`]: production deployments never serve it.
    pub enable_test_api: bool,
    /// A development deployment (`wrangler dev --env dev`, the tests): tasks may name plain
    /// `http` peers and the test API may be enabled. Off unless configured explicitly.
    pub development: bool,
    /// How long the Leader waits for the Helper per request (milliseconds).
    pub peer_timeout_ms: u64,
    /// How often a finished job or collection checks whether its task still exists, so
    /// that a deleted task's state goes within this time (seconds).
    pub gc_recheck_secs: u64,
    /// How long a finished Leader aggregation job is remembered (seconds).
    pub leader_job_retention_secs: u64,
    /// `Cache-Control: max-age` of `GET /hpke_config` (seconds). DAP-18 favours lifetimes
    /// on the order of days; key rotation keeps retired keys decrypting at least this long.
    pub hpke_config_max_age_secs: u64,
    /// The HPKE key rotation schedule unless the aggregator API stored another
    /// (`KEY_ROTATION`, `KEY_PENDING_SECS`, `KEY_ACTIVE_SECS`, `KEY_EXPIRED_SECS`,
    /// `KEY_KEM`).
    pub key_rotation: crate::hpke::rotation::RotationSchedule,
}

impl Default for DeploymentConfig {
    fn default() -> Self {
        DeploymentConfig {
            limits: TaskLimits::default(),
            report_skew_secs: 300,
            helper_async_threshold: 5_000,
            retry_after_secs: 1,
            max_body_bytes: 50 << 20,
            max_reports_per_upload: 10_000,
            api_token_hashes: Vec::new(),
            dap_url: None,
            enable_test_api: false,
            development: false,
            peer_timeout_ms: 30_000,
            gc_recheck_secs: 24 * 3600,
            leader_job_retention_secs: 24 * 3600,
            hpke_config_max_age_secs: 24 * 3600,
            key_rotation: Default::default(),
        }
    }
}

impl DeploymentConfig {
    /// The settings of a development deployment (what `wrangler dev --env dev` and the
    /// tests run): plain `http` peers, a `min_batch_size` floor of 1, the test API on.
    pub fn development() -> Self {
        let d = DeploymentConfig::default();
        DeploymentConfig {
            limits: TaskLimits {
                min_batch_size_floor: 1,
                allow_http_endpoints: true,
                ..d.limits
            },
            enable_test_api: true,
            development: true,
            ..d
        }
    }

    /// Whether the interop test API is served: it must be enabled and the deployment must
    /// be a development one.
    pub fn test_api_enabled(&self) -> bool {
        self.enable_test_api && self.development
    }
}

/// The platform primitives, and typed access to every kind of state built on them.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// Current time, milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Deployment settings.
    fn config(&self) -> &DeploymentConfig;

    /// Sends an encoded request envelope to a state instance and returns its encoded answer
    /// (see [`crate::instances::serve`]).
    async fn call(&self, instance: &Instance, envelope: Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// Sends a request to the peer aggregator.
    async fn fetch(&self, req: OutboundRequest) -> Result<Response, FetchError>;

    /// Records a structured event ([`crate::observe`]). The default drops it.
    fn log(&self, event: &crate::observe::Event) {
        let _ = event;
    }

    /// The form of resource creation a task's Helper was last seen to accept, if this
    /// platform remembers it (a per-isolate cache in the worker). Only a hint: the Leader
    /// falls back to the other form when the Helper refuses this one.
    fn dialect_hint(&self, task: &TaskId) -> Option<PeerDialect> {
        let _ = task;
        None
    }

    /// Remembers which form of resource creation a task's Helper accepted.
    fn remember_dialect(&self, task: &TaskId, dialect: PeerDialect) {
        let _ = (task, dialect);
    }

    /// Whether this platform saw, a moment ago, that time bucket `bucket` of `task` was not
    /// collected (a per-isolate cache in the worker, lasting seconds). Only a hint that
    /// spares an upload the bucket check: a report accepted for a bucket collected in the
    /// meantime is refused at aggregation (`batch_collected`) and never counted.
    fn bucket_recently_open(&self, task: &TaskId, bucket: u64) -> bool {
        let _ = (task, bucket);
        false
    }

    /// Remembers that these time buckets of `task` were not collected just now.
    fn remember_open_buckets(&self, task: &TaskId, buckets: &[u64]) {
        let _ = (task, buckets);
    }

    /// Tells an instance that its task was deleted: it deletes everything it holds.
    async fn purge(&self, instance: &Instance) -> Result<(), StoreError> {
        let answer = self
            .call(instance, crate::instances::envelope(instance, &Op::Purge)?)
            .await?;
        from_bytes::<Result<Vec<u8>, StoreError>>(&answer)?.map(|_| ())
    }

    /// Reads a task. Platforms may cache (tasks are immutable once created).
    async fn task(&self, id: &TaskId) -> Result<Option<AggregatorTask>, StoreError> {
        match self.tasks(TaskReq::Get(*id)).await? {
            TaskResp::Task(t) => Ok(t.map(|t| *t)),
            _ => Err(StoreError::Invariant("unexpected task store answer".into())),
        }
    }

    /// The task store (tasks and HPKE keys).
    async fn tasks(&self, req: TaskReq) -> Result<TaskResp, StoreError> {
        typed(self, &Instance::tasks(), &req).await
    }

    /// A Leader report shard.
    async fn report_shard(
        &self,
        task: &TaskId,
        shard: u32,
        req: ShardReq,
    ) -> Result<ShardResp, StoreError> {
        typed(
            self,
            &Instance::numbered(Kind::ReportShard, task, shard),
            &req,
        )
        .await
    }

    /// A Helper replay-protection shard.
    async fn replay(
        &self,
        task: &TaskId,
        shard: u32,
        req: ReplayReq,
    ) -> Result<ReplayResp, StoreError> {
        typed(self, &Instance::numbered(Kind::Replay, task, shard), &req).await
    }

    /// A batch-bucket shard.
    async fn buckets(
        &self,
        task: &TaskId,
        shard: u32,
        req: BucketReq,
    ) -> Result<BucketResp, StoreError> {
        typed(self, &Instance::numbered(Kind::Buckets, task, shard), &req).await
    }

    /// The Leader's leader-selected batch index.
    async fn batch_index(&self, task: &TaskId, req: IndexReq) -> Result<IndexResp, StoreError> {
        typed(self, &Instance::numbered(Kind::BatchIndex, task, 0), &req).await
    }

    /// An aggregation job.
    async fn agg_job(
        &self,
        task: &TaskId,
        job: &AggregationJobId,
        req: AggJobReq,
    ) -> Result<AggJobResp, Abort> {
        let inst = Instance::named(Kind::AggJob, task, &job.0);
        let r: Result<AggJobResp, Abort> = typed(self, &inst, &req).await?;
        r
    }

    /// A collection job (Leader) or aggregate-share resource (Helper), by instance name.
    async fn collection_job(
        &self,
        task: &TaskId,
        name: &[u8; 16],
        req: CollJobReq,
    ) -> Result<CollJobResp, Abort> {
        let inst = Instance::named(Kind::CollJob, task, name);
        let r: Result<CollJobResp, Abort> = typed(self, &inst, &req).await?;
        r
    }

    /// `X25519(private_key, peer)` for each peer: the Diffie-Hellman step of HPKE
    /// decapsulation, batched per aggregation job. `None` for a peer whose result is all
    /// zeros. The default computes it in Rust; the worker uses the runtime's native
    /// WebCrypto X25519, several times faster than X25519 in wasm.
    async fn x25519_batch(
        &self,
        private_key: &[u8; 32],
        peers: &[[u8; 32]],
    ) -> Vec<Option<[u8; 32]>> {
        peers
            .iter()
            .map(|peer| crate::hpke::x25519_dh(private_key, peer))
            .collect()
    }

    /// This aggregator's HPKE key pairs, generating the first one on first use. Platforms
    /// may cache (see [`load_or_create_keys`]).
    async fn hpke_keys(&self) -> Result<HpkeReceiverSet, StoreError> {
        load_or_create_keys(self).await
    }
}

/// Reads the key pairs from the task store, installing a fresh active X25519 key pair
/// (config ID 1) if none are held yet. Concurrent first uses agree: the store keeps the first install.
pub async fn load_or_create_keys<P: Platform + ?Sized>(
    p: &P,
) -> Result<HpkeReceiverSet, StoreError> {
    if let TaskResp::Keys(set) = p.tasks(TaskReq::Keys { initial: None }).await? {
        if !set.is_empty() {
            return Ok(set);
        }
    }
    let kp = crate::hpke::HpkeKeypair::generate(
        crate::messages::HpkeConfigId(1),
        crate::messages::HpkeKemId::X25519_HKDF_SHA256,
    )
    .map_err(|e| StoreError::Backend(e.to_string()))?;
    let first = crate::hpke::HeldKeypair::new(
        kp,
        crate::hpke::HpkeKeyState::Active,
        Some(p.now_ms() / 1000),
    );
    match p
        .tasks(TaskReq::Keys {
            initial: Some(HpkeReceiverSet { keys: vec![first] }),
        })
        .await?
    {
        TaskResp::Keys(set) => Ok(set),
        _ => Err(StoreError::Invariant("unexpected task store answer".into())),
    }
}

/// Encodes `req`, calls the instance, decodes its `Result<Resp, E>` answer.
async fn typed<P: Platform + ?Sized, Req: Serialize, Resp: DeserializeOwned>(
    p: &P,
    inst: &Instance,
    req: &Req,
) -> Result<Resp, StoreError>
where
{
    let envelope = crate::instances::envelope(inst, &Op::Request(to_bytes(req)?))?;
    let answer = p.call(inst, envelope).await?;
    from_bytes::<Result<Vec<u8>, StoreError>>(&answer)?.and_then(|b| from_bytes(&b))
}
