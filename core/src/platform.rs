//! What the protocol core needs from the platform it runs on: a clock, settings, a way to
//! reach a state instance, and outbound HTTP. The Cloudflare Workers adapter maps instances
//! to Durable Objects; the in-memory adapter ([`crate::mem`]) keeps one
//! [`MemKv`](crate::store::MemKv) per instance. Both run the same [`crate::instances`]
//! dispatcher inside the instance, so everything above this trait is shared.

use crate::error::Abort;
use crate::hpke::HpkeReceiverSet;
use crate::http::{FetchError, OutboundRequest, Response};
use crate::instances::{Instance, Kind};
use crate::messages::{AggregationJobId, TaskId};
use crate::roles::{AggJobReq, AggJobResp, CollJobReq, CollJobResp};
use crate::store::batch_index::{IndexReq, IndexResp};
use crate::store::buckets::{BucketReq, BucketResp};
use crate::store::replay::{ReplayReq, ReplayResp};
use crate::store::report_shard::{ShardReq, ShardResp};
use crate::store::tasks::{TaskReq, TaskResp};
use crate::store::{from_bytes, to_bytes, StoreError};
use crate::task::{AggregatorTask, TaskLimits};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

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
    /// Hash of the admin API token; the admin API is off without it.
    pub admin_token_hash: Option<crate::task::TokenHash>,
    /// Serve the interop test API under `/internal/test/`.
    pub enable_test_api: bool,
    /// How long the Leader waits for the Helper per request (milliseconds).
    pub peer_timeout_ms: u64,
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
            admin_token_hash: None,
            enable_test_api: false,
            peer_timeout_ms: 30_000,
        }
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

/// Reads the key pairs from the task store, installing a fresh X25519 key pair (config ID 1)
/// if there are none yet. Concurrent first uses agree: the store keeps the first install.
pub async fn load_or_create_keys<P: Platform + ?Sized>(
    p: &P,
) -> Result<HpkeReceiverSet, StoreError> {
    if let TaskResp::Keys(set) = p.tasks(TaskReq::Keys { initial: None }).await? {
        if !set.advertised.is_empty() {
            return Ok(set);
        }
    }
    let kp = crate::hpke::HpkeKeypair::generate(
        crate::messages::HpkeConfigId(1),
        crate::messages::HpkeKemId::X25519_HKDF_SHA256,
    )
    .map_err(|e| StoreError::Backend(e.to_string()))?;
    match p
        .tasks(TaskReq::Keys {
            initial: Some(HpkeReceiverSet::single(kp)),
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
    let envelope = to_bytes(&(inst, to_bytes(req)?))?;
    let answer = p.call(inst, envelope).await?;
    from_bytes::<Result<Vec<u8>, StoreError>>(&answer)?.and_then(|b| from_bytes(&b))
}
