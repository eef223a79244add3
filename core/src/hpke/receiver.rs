//! The key pairs an aggregator holds at once, each in a state of its lifecycle (the
//! aggregator API's `pending` / `active` / `expired`). Every held key pair decrypts; only the
//! active ones are published in `hpke_config`. A deleted key pair is simply not held any
//! more, so a report sealed to it is `outdated_config`.

use super::{HpkeError, HpkeInfo, HpkeKeypair};
use crate::messages::{HpkeCiphertext, HpkeConfigId, HpkeConfigList};
use serde::{Deserialize, Serialize};

/// Where a key pair is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HpkeKeyState {
    /// Decrypts, not yet published: peers and clients may still hold older lists.
    Pending,
    /// Decrypts and is published in `hpke_config`.
    Active,
    /// Decrypts reports sealed before it was withdrawn; no longer published.
    Expired,
}

/// A held key pair with its state and the times (POSIX seconds) it last entered each
/// state; `None` for a state it never was in, or for key pairs stored before states had
/// times. The times are what a rotation schedule needs to decide the next step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldKeypair {
    /// The key pair.
    pub keypair: HpkeKeypair,
    /// Its current state.
    pub state: HpkeKeyState,
    /// When it last became pending.
    #[serde(default)]
    pub pending_at: Option<u64>,
    /// When it last became active.
    #[serde(default)]
    pub active_at: Option<u64>,
    /// When it last became expired.
    #[serde(default)]
    pub expired_at: Option<u64>,
}

impl HeldKeypair {
    /// A key pair entering `state` at `now` (POSIX seconds).
    pub fn new(keypair: HpkeKeypair, state: HpkeKeyState, now: Option<u64>) -> HeldKeypair {
        let mut k = HeldKeypair {
            keypair,
            state,
            pending_at: None,
            active_at: None,
            expired_at: None,
        };
        k.enter(state, now);
        k
    }

    /// Moves to `state` at `now`. Re-entering the current state keeps its time.
    pub fn enter(&mut self, state: HpkeKeyState, now: Option<u64>) {
        if state == self.state && self.entered(state).is_some() {
            return;
        }
        self.state = state;
        let slot = match state {
            HpkeKeyState::Pending => &mut self.pending_at,
            HpkeKeyState::Active => &mut self.active_at,
            HpkeKeyState::Expired => &mut self.expired_at,
        };
        *slot = now;
    }

    /// When it last entered `state`.
    pub fn entered(&self, state: HpkeKeyState) -> Option<u64> {
        match state {
            HpkeKeyState::Pending => self.pending_at,
            HpkeKeyState::Active => self.active_at,
            HpkeKeyState::Expired => self.expired_at,
        }
    }

    /// Its config ID.
    pub fn id(&self) -> HpkeConfigId {
        self.keypair.config.id
    }
}

/// The key pairs an aggregator holds (in config-ID order). Any of them can open; only the
/// active ones, most recently activated first, are published.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpkeReceiverSet {
    /// The held key pairs, sorted by config ID (IDs are unique).
    pub keys: Vec<HeldKeypair>,
}

impl HpkeReceiverSet {
    /// A set holding a single active key pair.
    pub fn single(kp: HpkeKeypair) -> Self {
        HpkeReceiverSet {
            keys: vec![HeldKeypair::new(kp, HpkeKeyState::Active, None)],
        }
    }

    /// Whether no key pair is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every held key pair, in any state.
    pub fn keypairs(&self) -> impl Iterator<Item = &HpkeKeypair> {
        self.keys.iter().map(|k| &k.keypair)
    }

    /// The active key pairs, most preferred (most recently activated) first.
    pub fn advertised(&self) -> Vec<&HpkeKeypair> {
        let mut active: Vec<&HeldKeypair> = self
            .keys
            .iter()
            .filter(|k| k.state == HpkeKeyState::Active)
            .collect();
        active.sort_by_key(|k| (std::cmp::Reverse(k.active_at), k.id()));
        active.into_iter().map(|k| &k.keypair).collect()
    }

    /// The published list (the active key pairs), most preferred first.
    pub fn config_list(&self) -> HpkeConfigList {
        HpkeConfigList(
            self.advertised()
                .into_iter()
                .map(|k| k.config.clone())
                .collect(),
        )
    }

    /// The held key pair with this config ID, in any state.
    pub fn get(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.entry(id).map(|k| &k.keypair)
    }

    /// The key pair with this config ID and its state.
    pub fn entry(&self, id: HpkeConfigId) -> Option<&HeldKeypair> {
        self.keys.iter().find(|k| k.id() == id)
    }

    /// Adds a key pair; fails if its config ID is taken.
    pub fn insert(&mut self, key: HeldKeypair) -> Result<(), HeldKeypair> {
        match self.keys.binary_search_by_key(&key.id(), HeldKeypair::id) {
            Ok(_) => Err(key),
            Err(i) => {
                self.keys.insert(i, key);
                Ok(())
            }
        }
    }

    /// Moves the key pair `id` to `state` at `now`; its new entry, or `None` if not held.
    pub fn set_state(
        &mut self,
        id: HpkeConfigId,
        state: HpkeKeyState,
        now: Option<u64>,
    ) -> Option<&HeldKeypair> {
        let k = self.keys.iter_mut().find(|k| k.id() == id)?;
        k.enter(state, now);
        Some(k)
    }

    /// Stops holding the key pair `id`; whether it was held.
    pub fn remove(&mut self, id: HpkeConfigId) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.id() != id);
        self.keys.len() != before
    }

    /// Opens with whichever held key pair the ciphertext names.
    pub fn open(
        &self,
        ct: &HpkeCiphertext,
        info: HpkeInfo,
        aad: &[u8],
    ) -> Result<Vec<u8>, HpkeError> {
        self.open_with_dh(ct, info, aad, None)
    }

    /// [`Self::open`] with an optional precomputed X25519 shared value.
    pub fn open_with_dh(
        &self,
        ct: &HpkeCiphertext,
        info: HpkeInfo,
        aad: &[u8],
        dh: Option<&[u8; 32]>,
    ) -> Result<Vec<u8>, HpkeError> {
        self.get(ct.config_id)
            .ok_or(HpkeError::UnknownConfigId(ct.config_id.0))?
            .open_with_dh(ct, info, aad, dh)
    }

    /// The lowest config ID not used by any held key pair, if one is left.
    pub fn free_config_id(&self) -> Option<HpkeConfigId> {
        (0..=255u8)
            .map(HpkeConfigId)
            .find(|id| self.get(*id).is_none())
    }
}

/// The stored JSON of a key set: the current `{"keys": [...]}`, or the form before key
/// states, `{"advertised": [...], "retiring": [...]}`, read as active and expired.
#[derive(Deserialize)]
pub(crate) struct StoredKeySet {
    #[serde(default)]
    keys: Vec<HeldKeypair>,
    #[serde(default)]
    advertised: Vec<HpkeKeypair>,
    #[serde(default)]
    retiring: Vec<HpkeKeypair>,
}

impl From<StoredKeySet> for HpkeReceiverSet {
    fn from(s: StoredKeySet) -> HpkeReceiverSet {
        let mut set = HpkeReceiverSet::default();
        let old = s
            .advertised
            .into_iter()
            .map(|k| HeldKeypair::new(k, HpkeKeyState::Active, None))
            .chain(
                s.retiring
                    .into_iter()
                    .map(|k| HeldKeypair::new(k, HpkeKeyState::Expired, None)),
            );
        for k in s.keys.into_iter().chain(old) {
            // A duplicate ID cannot be written by this code; keep the first if one was.
            let _ = set.insert(k);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpke::seal;
    use crate::messages::{HpkeKemId, Role};

    fn kp(id: u8, kem: HpkeKemId) -> HpkeKeypair {
        HpkeKeypair::generate(HpkeConfigId(id), kem).unwrap()
    }

    #[test]
    fn every_held_key_opens_only_active_ones_are_published() {
        let old = kp(1, HpkeKemId::X25519_HKDF_SHA256);
        let new = kp(2, HpkeKemId::P256_HKDF_SHA256);
        let next = kp(3, HpkeKemId::X25519_HKDF_SHA256);
        let mut set = HpkeReceiverSet::default();
        set.insert(HeldKeypair::new(
            old.clone(),
            HpkeKeyState::Expired,
            Some(5),
        ))
        .unwrap();
        set.insert(HeldKeypair::new(new.clone(), HpkeKeyState::Active, Some(6)))
            .unwrap();
        set.insert(HeldKeypair::new(
            next.clone(),
            HpkeKeyState::Pending,
            Some(7),
        ))
        .unwrap();
        assert!(set
            .insert(HeldKeypair::new(old.clone(), HpkeKeyState::Active, None))
            .is_err());
        assert_eq!(set.config_list().0, vec![new.config.clone()]);
        let info = HpkeInfo::InputShare(Role::Leader);
        for k in [&old, &new, &next] {
            let ct = seal(&k.config, info, b"", b"m").unwrap();
            assert_eq!(set.open(&ct, info, b"").unwrap(), b"m");
        }
        // Activating the pending key publishes it first; the times are kept per state.
        let e = set
            .set_state(HpkeConfigId(3), HpkeKeyState::Active, Some(9))
            .unwrap();
        assert_eq!((e.pending_at, e.active_at), (Some(7), Some(9)));
        assert_eq!(
            set.config_list().0,
            vec![next.config.clone(), new.config.clone()]
        );
        // Deleted: unknown config ID.
        let ct = seal(&old.config, info, b"", b"m").unwrap();
        assert!(set.remove(HpkeConfigId(1)));
        assert!(!set.remove(HpkeConfigId(1)));
        assert_eq!(set.open(&ct, info, b""), Err(HpkeError::UnknownConfigId(1)));
        assert_eq!(set.free_config_id(), Some(HpkeConfigId(0)));
        assert!(set
            .set_state(HpkeConfigId(1), HpkeKeyState::Active, None)
            .is_none());
        assert!(format!("{set:?}").contains("redacted"));
    }

    #[test]
    fn reads_the_stored_form_before_key_states() {
        let a = kp(1, HpkeKemId::X25519_HKDF_SHA256);
        let r = kp(4, HpkeKemId::P256_HKDF_SHA256);
        let legacy = serde_json::json!({
            "advertised": [serde_json::to_value(&a).unwrap()],
            "retiring": [serde_json::to_value(&r).unwrap()],
        });
        let set: HpkeReceiverSet = serde_json::from_value::<StoredKeySet>(legacy)
            .unwrap()
            .into();
        assert_eq!(
            set.entry(HpkeConfigId(1)).unwrap().state,
            HpkeKeyState::Active
        );
        assert_eq!(
            set.entry(HpkeConfigId(4)).unwrap().state,
            HpkeKeyState::Expired
        );
        assert_eq!(set.config_list().0, vec![a.config.clone()]);
        // The current form round-trips through the same reader.
        let json = serde_json::to_value(&set).unwrap();
        let again: HpkeReceiverSet = serde_json::from_value::<StoredKeySet>(json).unwrap().into();
        assert_eq!(again, set);
    }
}
