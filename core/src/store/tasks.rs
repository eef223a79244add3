//! Tasks and this aggregator's HPKE key pairs. Values are JSON so that fields can be added
//! without migrating stored data.

use super::{key, Kv, StoreError};
use crate::hpke::{HpkeKeypair, HpkeReceiverSet};
use crate::messages::{HpkeConfigId, TaskId};
use crate::task::AggregatorTask;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

// Storage schema (a single instance per deployment):
//   "t" || task_id (32)  -> AggregatorTask (JSON)
//   "k"                  -> HpkeReceiverSet (JSON): advertised and retiring key pairs

/// A request to the task store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum TaskReq {
    /// Stores a task. Storing the identical task again succeeds; a different task under the
    /// same ID is a conflict.
    Put(Box<AggregatorTask>),
    /// Reads a task.
    Get(TaskId),
    /// Lists all tasks.
    List,
    /// Deletes a task (its other state is left to expire).
    Delete(TaskId),
    /// Reads the key pairs; installs `initial` first if none exist yet.
    Keys {
        /// Key pairs to install when the store holds none.
        initial: Option<HpkeReceiverSet>,
    },
    /// Publishes `new` as the preferred key pair; the previous advertised ones keep
    /// decrypting as retiring keys.
    Rotate(HpkeKeypair),
    /// Stops accepting a retiring key pair.
    Retire(HpkeConfigId),
}

/// The task store's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum TaskResp {
    /// For `Put`: true when newly created.
    Stored(bool),
    /// For `Put`: a different task exists under this ID.
    Conflict,
    /// For `Get`.
    Task(Option<Box<AggregatorTask>>),
    /// For `List`.
    Tasks(Vec<AggregatorTask>),
    /// For `Delete`: whether it existed.
    Deleted(bool),
    /// For `Keys`, `Rotate`, `Retire`.
    Keys(HpkeReceiverSet),
}

fn get_json<T: DeserializeOwned>(kv: &impl Kv, k: &[u8]) -> Result<Option<T>, StoreError> {
    kv.get(k)?
        .map(|b| serde_json::from_slice(&b).map_err(|e| StoreError::Codec(e.to_string())))
        .transpose()
}

fn put_json<T: Serialize>(kv: &mut impl Kv, k: &[u8], v: &T) -> Result<(), StoreError> {
    let b = serde_json::to_vec(v).map_err(|e| StoreError::Codec(e.to_string()))?;
    kv.put(k, &b)
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: TaskReq) -> Result<TaskResp, StoreError> {
    match req {
        TaskReq::Put(task) => {
            let k = key(&[b"t", &task.task_id.0]);
            match get_json::<AggregatorTask>(kv, &k)? {
                Some(existing) if existing == *task => Ok(TaskResp::Stored(false)),
                Some(_) => Ok(TaskResp::Conflict),
                None => {
                    put_json(kv, &k, &task)?;
                    Ok(TaskResp::Stored(true))
                }
            }
        }
        TaskReq::Get(id) => Ok(TaskResp::Task(
            get_json::<AggregatorTask>(kv, &key(&[b"t", &id.0]))?.map(Box::new),
        )),
        TaskReq::List => {
            let mut tasks = Vec::new();
            for (_, v) in kv.scan_prefix(b"t", usize::MAX)? {
                tasks.push(
                    serde_json::from_slice(&v).map_err(|e| StoreError::Codec(e.to_string()))?,
                );
            }
            Ok(TaskResp::Tasks(tasks))
        }
        TaskReq::Delete(id) => {
            let k = key(&[b"t", &id.0]);
            let existed = kv.get(&k)?.is_some();
            kv.delete(&k)?;
            Ok(TaskResp::Deleted(existed))
        }
        TaskReq::Keys { initial } => {
            let current = get_json::<HpkeReceiverSet>(kv, b"k")?.unwrap_or_default();
            if current.advertised.is_empty() {
                if let Some(init) = initial {
                    put_json(kv, b"k", &init)?;
                    return Ok(TaskResp::Keys(init));
                }
            }
            Ok(TaskResp::Keys(current))
        }
        TaskReq::Rotate(new) => {
            let mut set = get_json::<HpkeReceiverSet>(kv, b"k")?.unwrap_or_default();
            if set.get(new.config.id).is_some() {
                return Err(StoreError::Invariant(format!(
                    "HPKE config id {} is already in use",
                    new.config.id.0
                )));
            }
            let old = std::mem::take(&mut set.advertised);
            set.retiring.extend(old);
            set.advertised.push(new);
            put_json(kv, b"k", &set)?;
            Ok(TaskResp::Keys(set))
        }
        TaskReq::Retire(id) => {
            let mut set = get_json::<HpkeReceiverSet>(kv, b"k")?.unwrap_or_default();
            set.retiring.retain(|k| k.config.id != id);
            put_json(kv, b"k", &set)?;
            Ok(TaskResp::Keys(set))
        }
    }
}
