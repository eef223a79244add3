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
            memo: $crate::durable::Memo,
        }

        impl worker::DurableObject for $name {
            fn new(state: worker::State, env: worker::Env) -> Self {
                Self {
                    state,
                    env,
                    memo: Default::default(),
                }
            }

            async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
                $crate::durable::serve(&self.state, &self.env, &self.memo, req).await
            }

            async fn alarm(&self) -> worker::Result<worker::Response> {
                $crate::durable::alarm(&self.state, &self.env, &self.memo).await
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
use edap_core::instances::{self, AlarmChange, Op};
use edap_core::platform::Platform;
use std::cell::Cell;
use worker::{Env, Request, Response, Result, State};

/// What a Durable Object remembers between requests in memory: that its table exists,
/// that its identity is stored (each saves a statement per request) and when its alarm is
/// set (saves a `getAlarm` per request). Only this object sets its alarm; the alarm firing
/// clears it, so [`alarm`] forgets what was known before it runs.
#[derive(Default)]
pub(crate) struct Memo {
    table_ready: Cell<bool>,
    identity_known: Cell<bool>,
    /// `None`: not known; `Some(None)`: no alarm; `Some(Some(ms))`: set for `ms`.
    alarm_at: Cell<Option<Option<i64>>>,
}

impl Memo {
    fn forget(&self) {
        self.table_ready.set(false);
        self.identity_known.set(false);
        self.alarm_at.set(None);
    }
}

fn open(storage: &worker::Storage, memo: &Memo) -> Result<SqlKv> {
    let kv = SqlKv::open(storage, memo.table_ready.get())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    memo.table_ready.set(true);
    Ok(kv)
}

/// Serves one request to an instance. Synchronous kinds run inside `transactionSync`: a
/// request that fails leaves nothing written.
pub(crate) async fn serve(
    state: &State,
    env: &Env,
    memo: &Memo,
    mut req: Request,
) -> Result<Response> {
    let envelope = req.bytes().await?;
    let storage = state.storage();
    let platform = WorkerPlatform::new(env.clone());
    let now = platform.now_ms();
    let mut kv = open(&storage, memo)?;
    let known = memo.identity_known.get();
    let (served, identity_stored) = match instances::open_envelope(&envelope) {
        Err(e) => (instances::error_answer(e), false),
        Ok((inst, Op::Purge)) => match instances::purge(&mut kv, &inst, now) {
            Ok(s) => (s, true),
            Err(e) => (instances::error_answer(e), false),
        },
        Ok((inst, Op::Request(payload))) if instances::is_sync(inst.kind) => {
            // A failed request is rolled back, the identity it wrote with it.
            match transaction_sync(&storage, || {
                instances::serve_sync(&mut kv, &inst, &payload, now, known)
            }) {
                Ok(s) => (s, true),
                Err(e) => (instances::error_answer(e), false),
            }
        }
        Ok((inst, Op::Request(payload))) => (
            instances::serve_async(&platform, &mut kv, &inst, &payload, known).await,
            true,
        ),
    };
    if identity_stored {
        memo.identity_known.set(true);
    }
    schedule(&storage, memo, served.alarm, now).await?;
    Response::from_bytes(served.body)
}

/// Runs an instance's alarm and schedules the next one.
pub(crate) async fn alarm(state: &State, env: &Env, memo: &Memo) -> Result<Response> {
    let storage = state.storage();
    let platform = WorkerPlatform::new(env.clone());
    // The alarm that fired is no longer set; a retried alarm is the runtime's business.
    memo.alarm_at.set(None);
    let mut kv = open(&storage, memo)?;
    let outcome = instances::alarm(&platform, &mut kv).await;
    if outcome.emptied {
        // Nothing is left: drop the object's storage (its SQLite database) and any alarm.
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        memo.forget();
    } else if let Some(at) = outcome.next {
        schedule(&storage, memo, AlarmChange::Earliest(at), platform.now_ms()).await?;
    }
    Response::ok("")
}

/// Applies an alarm change: `Earliest` sets the alarm unless an earlier one is set,
/// `Ensure` sets it only when none is.
async fn schedule(
    storage: &worker::Storage,
    memo: &Memo,
    change: AlarmChange,
    now: u64,
) -> Result<()> {
    let (at, only_if_none) = match change {
        AlarmChange::Keep => return Ok(()),
        AlarmChange::Earliest(at) => (at, false),
        AlarmChange::Ensure(at) => (at, true),
    };
    let current = match memo.alarm_at.get() {
        Some(known) => known,
        None => storage.get_alarm().await?,
    };
    let set = match current {
        None => true,
        Some(c) => !only_if_none && c > at as i64,
    };
    if set {
        // Forgotten first: if setting fails, the next request asks the runtime again.
        memo.alarm_at.set(None);
        storage.set_alarm(at.saturating_sub(now) as i64).await?;
        memo.alarm_at.set(Some(Some(at as i64)));
    } else {
        memo.alarm_at.set(Some(current));
    }
    Ok(())
}
