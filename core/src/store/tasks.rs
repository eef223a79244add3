//! Tasks, this aggregator's HPKE key pairs and its taskprov peers. Values are JSON so that
//! fields can be added without migrating stored data.

use super::{key, Kv, StoreError};
use crate::hpke::rotation::{self, Rotated, RotationSchedule};
use crate::hpke::{HeldKeypair, HpkeKeyState, HpkeKeypair, HpkeReceiverSet, StoredKeySet};
use crate::messages::{HpkeConfigId, TaskId};
use crate::task::AggregatorTask;
use crate::task::TokenHash;
use crate::taskprov::{PeerRole, TaskprovPeer};
use crate::tokens::TokenKind;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

// Storage schema (a single instance per deployment):
//   "t" || task_id (32)              -> AggregatorTask (JSON)
//   "k"                              -> HpkeReceiverSet (JSON): key pairs with their states
//                                       (or, written before key states, {"advertised", "retiring"})
//   "p" || role (1) || endpoint      -> TaskprovPeer (JSON)
//   "r"                              -> RotationSchedule (JSON), set through the aggregator
//                                       API; absent: the deployment's default

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
    /// Task IDs in order, after `after` (exclusive), at most `limit` of them.
    Ids {
        /// Start after this ID.
        after: Option<TaskId>,
        /// Most IDs to return.
        limit: u32,
    },
    /// Sets (or clears) a task's `deactivate_at` (POSIX seconds).
    SetDeactivateAt {
        /// The task.
        id: TaskId,
        /// The new value.
        at: Option<u64>,
    },
    /// Deletes a task (its other state is left to expire).
    Delete(TaskId),
    /// Reads the key pairs; installs `initial` first if none are held yet.
    Keys {
        /// Key pairs to install when the store holds none.
        initial: Option<HpkeReceiverSet>,
    },
    /// Adds a key pair as pending under the lowest free config ID (the key pair's own ID
    /// is replaced). Answers `Key(None)` when all 256 IDs are taken.
    AddKey {
        /// The new key pair.
        keypair: HpkeKeypair,
        /// Now (POSIX seconds).
        now: u64,
    },
    /// Moves a key pair to a state. Answers `Key(None)` if it is not held.
    SetKeyState {
        /// The key pair.
        id: HpkeConfigId,
        /// Its new state.
        state: HpkeKeyState,
        /// Now (POSIX seconds).
        now: u64,
    },
    /// Stops holding a key pair: reports sealed to it become `outdated_config`.
    DeleteKey(HpkeConfigId),
    /// Adds a taskprov peer; an existing peer with the same endpoint and role conflicts.
    PutPeer(Box<TaskprovPeer>),
    /// Lists the taskprov peers.
    Peers,
    /// Removes a taskprov peer.
    DeletePeer {
        /// Its normalised endpoint.
        endpoint: String,
        /// Its role.
        role: PeerRole,
    },
    /// Reads the stored key rotation schedule (`None`: the deployment's default applies).
    GetRotation,
    /// Stores a key rotation schedule, or (`None`) removes it so that the deployment's
    /// default applies. Answers `Rotation`.
    PutRotation(Option<RotationSchedule>),
    /// Replaces the hash of a task's `kind` token; the old one is accepted for
    /// `grace_secs`. Answers `Task`.
    RotateToken {
        /// The task.
        id: TaskId,
        /// Whose token.
        kind: TokenKind,
        /// The new token's hash.
        hash: TokenHash,
        /// How long the old one stays accepted (seconds).
        grace_secs: u64,
        /// Now (POSIX seconds).
        now: u64,
    },
    /// A Leader task: replaces the token it presents to the Helper. Answers `Task`.
    SetPresentedToken {
        /// The task.
        id: TaskId,
        /// The new token.
        token: crate::task::Secret,
        /// The header it travels in.
        header: crate::task::AuthHeader,
    },
}

/// The task store's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum TaskResp {
    /// For `Put` and `PutPeer`: true when newly created.
    Stored(bool),
    /// For `Put` and `PutPeer`: a different value exists under this key.
    Conflict,
    /// For `Get` and `SetDeactivateAt`.
    Task(Option<Box<AggregatorTask>>),
    /// For `List`.
    Tasks(Vec<AggregatorTask>),
    /// For `Ids`.
    Ids(Vec<TaskId>),
    /// For `Delete`, `DeleteKey` and `DeletePeer`: whether it existed.
    Deleted(bool),
    /// For `Keys`.
    Keys(HpkeReceiverSet),
    /// For `AddKey` and `SetKeyState`.
    Key(Option<HeldKeypair>),
    /// For `Peers`.
    Peers(Vec<TaskprovPeer>),
    /// For `GetRotation` and `PutRotation`: the stored schedule.
    Rotation(Option<RotationSchedule>),
}

/// The key rotation schedule in force: the stored one, else `default`.
pub fn rotation_schedule(
    kv: &impl Kv,
    default: &RotationSchedule,
) -> Result<RotationSchedule, StoreError> {
    Ok(get_json::<RotationSchedule>(kv, b"r")?.unwrap_or_else(|| default.clone()))
}

/// One rotation step at `now` (POSIX seconds), written in one put: what the task store's
/// alarm does. Returns what changed and when the next step is due (POSIX seconds).
pub fn rotate_keys(
    kv: &mut impl Kv,
    default: &RotationSchedule,
    now: u64,
) -> Result<(Rotated, Option<u64>), StoreError> {
    let schedule = rotation_schedule(kv, default)?;
    let mut set = read_keys(kv)?;
    let (r, next) =
        rotation::tick(&mut set, &schedule, now).map_err(|e| StoreError::Backend(e.to_string()))?;
    if !r.is_empty() {
        put_json(kv, b"k", &set)?;
    }
    Ok((r, next))
}

/// Whether a request changes the key pairs or their schedule: the rotation alarm must then
/// look again at once.
pub fn touches_keys(req: &TaskReq) -> bool {
    matches!(
        req,
        TaskReq::Keys { initial: Some(_) }
            | TaskReq::AddKey { .. }
            | TaskReq::SetKeyState { .. }
            | TaskReq::DeleteKey(_)
            | TaskReq::PutRotation(_)
    )
}

fn update_task(
    kv: &mut impl Kv,
    id: &TaskId,
    f: impl FnOnce(&mut AggregatorTask),
) -> Result<TaskResp, StoreError> {
    let k = task_key(id);
    let Some(mut task) = get_json::<AggregatorTask>(kv, &k)? else {
        return Ok(TaskResp::Task(None));
    };
    f(&mut task);
    put_json(kv, &k, &task)?;
    Ok(TaskResp::Task(Some(Box::new(task))))
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

fn task_key(id: &TaskId) -> Vec<u8> {
    key(&[b"t", &id.0])
}

fn peer_key(endpoint: &str, role: PeerRole) -> Vec<u8> {
    key(&[b"p", &[role.code()], endpoint.as_bytes()])
}

fn read_keys(kv: &impl Kv) -> Result<HpkeReceiverSet, StoreError> {
    Ok(get_json::<StoredKeySet>(kv, b"k")?
        .map(HpkeReceiverSet::from)
        .unwrap_or_default())
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: TaskReq) -> Result<TaskResp, StoreError> {
    match req {
        TaskReq::Put(task) => {
            let k = task_key(&task.task_id);
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
            get_json::<AggregatorTask>(kv, &task_key(&id))?.map(Box::new),
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
        TaskReq::Ids { after, limit } => {
            // The smallest key after "t" || id is "t" || id || 0x00.
            let start = match after {
                Some(id) => key(&[b"t", &id.0, &[0]]),
                None => b"t".to_vec(),
            };
            let ids = kv
                .scan(&start, b"u", limit as usize, false)?
                .into_iter()
                .filter_map(|(k, _)| TaskId::from_slice(k.get(1..)?))
                .collect();
            Ok(TaskResp::Ids(ids))
        }
        TaskReq::SetDeactivateAt { id, at } => {
            let k = task_key(&id);
            let Some(mut task) = get_json::<AggregatorTask>(kv, &k)? else {
                return Ok(TaskResp::Task(None));
            };
            if task.deactivate_at != at {
                task.deactivate_at = at;
                put_json(kv, &k, &task)?;
            }
            Ok(TaskResp::Task(Some(Box::new(task))))
        }
        TaskReq::Delete(id) => {
            let k = task_key(&id);
            let existed = kv.get(&k)?.is_some();
            kv.delete(&k)?;
            Ok(TaskResp::Deleted(existed))
        }
        TaskReq::Keys { initial } => {
            let current = read_keys(kv)?;
            if current.is_empty() {
                if let Some(init) = initial {
                    put_json(kv, b"k", &init)?;
                    return Ok(TaskResp::Keys(init));
                }
            }
            Ok(TaskResp::Keys(current))
        }
        TaskReq::AddKey { mut keypair, now } => {
            let mut set = read_keys(kv)?;
            let Some(id) = set.free_config_id() else {
                return Ok(TaskResp::Key(None));
            };
            keypair.config.id = id;
            let held = HeldKeypair::new(keypair, HpkeKeyState::Pending, Some(now));
            set.insert(held.clone())
                .map_err(|_| StoreError::Invariant("a free config ID was taken".into()))?;
            put_json(kv, b"k", &set)?;
            Ok(TaskResp::Key(Some(held)))
        }
        TaskReq::SetKeyState { id, state, now } => {
            let mut set = read_keys(kv)?;
            let Some(held) = set.set_state(id, state, Some(now)).cloned() else {
                return Ok(TaskResp::Key(None));
            };
            put_json(kv, b"k", &set)?;
            Ok(TaskResp::Key(Some(held)))
        }
        TaskReq::DeleteKey(id) => {
            let mut set = read_keys(kv)?;
            let existed = set.remove(id);
            if existed {
                put_json(kv, b"k", &set)?;
            }
            Ok(TaskResp::Deleted(existed))
        }
        TaskReq::PutPeer(peer) => {
            let k = peer_key(&peer.endpoint, peer.peer_role);
            match get_json::<TaskprovPeer>(kv, &k)? {
                Some(existing) if existing == *peer => Ok(TaskResp::Stored(false)),
                Some(_) => Ok(TaskResp::Conflict),
                None => {
                    put_json(kv, &k, &peer)?;
                    Ok(TaskResp::Stored(true))
                }
            }
        }
        TaskReq::Peers => {
            let mut peers = Vec::new();
            for (_, v) in kv.scan_prefix(b"p", usize::MAX)? {
                peers.push(
                    serde_json::from_slice(&v).map_err(|e| StoreError::Codec(e.to_string()))?,
                );
            }
            Ok(TaskResp::Peers(peers))
        }
        TaskReq::DeletePeer { endpoint, role } => {
            let k = peer_key(&endpoint, role);
            let existed = kv.get(&k)?.is_some();
            kv.delete(&k)?;
            Ok(TaskResp::Deleted(existed))
        }
        TaskReq::GetRotation => Ok(TaskResp::Rotation(get_json(kv, b"r")?)),
        TaskReq::PutRotation(s) => {
            match &s {
                Some(s) => put_json(kv, b"r", s)?,
                None => kv.delete(b"r")?,
            }
            Ok(TaskResp::Rotation(s))
        }
        TaskReq::RotateToken {
            id,
            kind,
            hash,
            grace_secs,
            now,
        } => update_task(kv, &id, |t| t.rotate_token(kind, hash, grace_secs, now)),
        TaskReq::SetPresentedToken { id, token, header } => update_task(kv, &id, |t| {
            t.aggregator_auth_token = Some(token);
            t.peer_auth = header;
        }),
    }
}
