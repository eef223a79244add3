//! Durable Object classes: one class per kind of state, each in its own file with its
//! storage layout at the top. They differ only in what state they hold: every class stores
//! its data in one SQLite table (`kv`, see [`crate::sqlkv`]) and runs the core's instance
//! dispatcher (`edap_core::instances`) for requests and alarms.

/// Defines a Durable Object class that serves its kind through [`serve`] and [`alarm`].
macro_rules! durable_class {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[worker::durable_object]
        pub struct $name {
            state: worker::State,
            env: worker::Env,
        }

        impl worker::DurableObject for $name {
            fn new(state: worker::State, env: worker::Env) -> Self {
                Self { state, env }
            }

            async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
                $crate::durable::serve(&self.state, &self.env, req).await
            }

            async fn alarm(&self) -> worker::Result<worker::Response> {
                $crate::durable::alarm(&self.state, &self.env).await
            }
        }
    };
}

mod aggregation_job;
mod batch_buckets;
mod batch_index;
mod collection_job;
mod replay_guard;
mod report_shard;
mod task_store;

use crate::platform::WorkerPlatform;
use crate::sqlkv::{transaction_sync, SqlKv};
use edap_core::instances::{self, AlarmChange};
use edap_core::platform::Platform;
use worker::{Env, Request, Response, Result, State};

/// Serves one request to an instance. Synchronous kinds run inside `transactionSync`: a
/// request that fails leaves nothing written.
pub(crate) async fn serve(state: &State, env: &Env, mut req: Request) -> Result<Response> {
    let envelope = req.bytes().await?;
    let storage = state.storage();
    let platform = WorkerPlatform::new(env.clone());
    let now = platform.now_ms();
    let mut kv = SqlKv::open(&storage).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let served = match instances::open_envelope(&envelope) {
        Err(e) => instances::error_answer(e),
        Ok((inst, payload)) if instances::is_sync(inst.kind) => transaction_sync(&storage, || {
            instances::serve_sync(&mut kv, &inst, &payload, now)
        })
        .unwrap_or_else(instances::error_answer),
        Ok((inst, payload)) => instances::serve_async(&platform, &mut kv, &inst, &payload).await,
    };
    if let AlarmChange::Earliest(at) = served.alarm {
        schedule(&storage, at, now).await?;
    }
    Response::from_bytes(served.body)
}

/// Runs an instance's alarm and schedules the next one.
pub(crate) async fn alarm(state: &State, env: &Env) -> Result<Response> {
    let storage = state.storage();
    let platform = WorkerPlatform::new(env.clone());
    let mut kv = SqlKv::open(&storage).map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(at) = instances::alarm(&platform, &mut kv).await {
        schedule(&storage, at, platform.now_ms()).await?;
    }
    Response::ok("")
}

/// Sets the alarm to `at` (ms) unless an earlier one is already set.
async fn schedule(storage: &worker::Storage, at: u64, now: u64) -> Result<()> {
    let current = storage.get_alarm().await?;
    if current.is_none_or(|c| c > at as i64) {
        storage.set_alarm(at.saturating_sub(now) as i64).await?;
    }
    Ok(())
}
