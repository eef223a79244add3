//! HPKE key rotation by itself: key pairs go pending → active → expired → deleted on a
//! [`RotationSchedule`], driven by the task store's alarm ([`tick`] is what one alarm does).
//!
//! * A new key pair is created **pending** `pending_secs` before the active one's
//!   `active_secs` are up. Pending keys decrypt but are not published; `pending_secs` is at
//!   least twice the per-isolate key cache ([`crate::platform::CACHE_SECS`]), so every
//!   isolate can decrypt with a key before any isolate publishes it.
//! * When its `pending_secs` are over it becomes **active** (published, first in
//!   `hpke_config`) and every other active key becomes **expired**.
//! * An expired key keeps decrypting for `expired_secs`, at least the `/hpke_config`
//!   `Cache-Control` lifetime plus the isolate cache twice over, so a Client that cached the
//!   old list still succeeds; then it is **deleted**, and reports sealed to it are
//!   `outdated_config`.
//!
//! The aggregator API can still move keys at once (`PATCH /api/hpke_configs/{id}`); the
//! schedule carries on from the times keys entered their states.

use super::{HeldKeypair, HpkeKeyState, HpkeKeypair, HpkeReceiverSet};
use crate::messages::HpkeKemId;
use crate::platform::CACHE_SECS;
use serde::{Deserialize, Serialize};

/// When keys change state. Seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationSchedule {
    /// Whether the alarm rotates keys at all.
    pub enabled: bool,
    /// How long a new key is pending before it becomes active.
    pub pending_secs: u64,
    /// How long a key is active before its successor replaces it.
    pub active_secs: u64,
    /// How long an expired key keeps decrypting before it is deleted.
    pub expired_secs: u64,
    /// The KEM of new keys (`x25519` or `p256`).
    pub kem: RotationKem,
}

/// The KEM of keys the rotation creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationKem {
    /// DHKEM(X25519, HKDF-SHA256), DAP's mandatory suite.
    #[default]
    X25519,
    /// DHKEM(P-256, HKDF-SHA256).
    P256,
}

impl RotationKem {
    fn id(self) -> HpkeKemId {
        match self {
            RotationKem::X25519 => HpkeKemId::X25519_HKDF_SHA256,
            RotationKem::P256 => HpkeKemId::P256_HKDF_SHA256,
        }
    }
}

impl Default for RotationSchedule {
    /// Rotation on: a key is active four weeks, announced one hour ahead, and decrypts one
    /// week after it was replaced.
    fn default() -> Self {
        RotationSchedule {
            enabled: true,
            pending_secs: 3600,
            active_secs: 28 * 24 * 3600,
            expired_secs: 7 * 24 * 3600,
            kem: RotationKem::X25519,
        }
    }
}

/// Why a schedule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid key rotation schedule: {0}")]
pub struct ScheduleError(pub String);

/// The longest duration of any phase: ten years.
pub const MAX_PHASE_SECS: u64 = 3650 * 24 * 3600;

impl RotationSchedule {
    /// The shortest `pending_secs`: every isolate refreshes its key cache within it.
    pub const MIN_PENDING_SECS: u64 = 2 * CACHE_SECS;

    /// The shortest `expired_secs` with `/hpke_config` cached for `max_age_secs`.
    pub fn min_expired_secs(max_age_secs: u64) -> u64 {
        max_age_secs.saturating_add(2 * CACHE_SECS)
    }

    /// Checks the schedule against the deployment's `hpke_config` lifetime.
    pub fn validate(&self, max_age_secs: u64) -> Result<(), ScheduleError> {
        let err = |m: String| Err(ScheduleError(m));
        if self.pending_secs < Self::MIN_PENDING_SECS {
            return err(format!(
                "pending_secs must be at least {} (every isolate's key cache refreshes first)",
                Self::MIN_PENDING_SECS
            ));
        }
        if self.active_secs <= self.pending_secs {
            return err("active_secs must be longer than pending_secs".into());
        }
        let min_expired = Self::min_expired_secs(max_age_secs);
        if self.expired_secs < min_expired {
            return err(format!(
                "expired_secs must be at least {min_expired}: the hpke_config lifetime ({max_age_secs} s) plus twice the isolate cache"
            ));
        }
        if [self.pending_secs, self.active_secs, self.expired_secs]
            .iter()
            .any(|s| *s > MAX_PHASE_SECS)
        {
            return err(format!("no phase may exceed {MAX_PHASE_SECS} seconds"));
        }
        Ok(())
    }
}

impl RotationSchedule {
    /// The schedule the deployment variables ask for: `KEY_ROTATION` (`false` or `off`
    /// stops it), `KEY_PENDING_SECS`, `KEY_ACTIVE_SECS`, `KEY_EXPIRED_SECS` and `KEY_KEM`
    /// (`x25519` or `p256`); a missing or unparsable variable keeps its default. A schedule
    /// that [`Self::validate`] refuses is replaced by the default, so a typo cannot make keys
    /// expire before Clients' cached configurations do.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, max_age_secs: u64) -> Self {
        let d = RotationSchedule::default();
        let num = |name: &str, dflt: u64| {
            var(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(dflt)
        };
        let s = RotationSchedule {
            enabled: !var("KEY_ROTATION")
                .is_some_and(|v| matches!(v.trim(), "false" | "off" | "0")),
            pending_secs: num("KEY_PENDING_SECS", d.pending_secs),
            active_secs: num("KEY_ACTIVE_SECS", d.active_secs),
            expired_secs: num("KEY_EXPIRED_SECS", d.expired_secs)
                .max(Self::min_expired_secs(max_age_secs).min(MAX_PHASE_SECS)),
            kem: match var("KEY_KEM").as_deref().map(str::trim) {
                Some("p256") => RotationKem::P256,
                _ => RotationKem::X25519,
            },
        };
        match s.validate(max_age_secs) {
            Ok(()) => s,
            Err(_) => RotationSchedule {
                enabled: s.enabled,
                ..d
            },
        }
    }
}

/// What one [`tick`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Keys that became active.
    pub activated: Vec<u8>,
    /// Keys that became expired.
    pub expired: Vec<u8>,
    /// Keys deleted.
    pub deleted: Vec<u8>,
    /// A new pending key.
    pub created: Option<u8>,
}

impl Rotated {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Rotated::default()
    }
}

fn due(at: Option<u64>, after: u64, now: u64) -> bool {
    at.is_none_or(|t| t.saturating_add(after) <= now)
}

/// Applies the schedule to `set` at `now` (POSIX seconds): deletes, activates and creates
/// what is due. Returns what changed and when the next change is due (POSIX seconds).
/// Keys with no time for their state (stored before states had times) are dated `now`.
pub fn tick(
    set: &mut HpkeReceiverSet,
    s: &RotationSchedule,
    now: u64,
) -> Result<(Rotated, Option<u64>), super::HpkeError> {
    let mut r = Rotated::default();
    if !s.enabled {
        return Ok((r, None));
    }
    if set.is_empty() {
        // The first use creates the first key, active (platform::load_or_create_keys).
        return Ok((r, None));
    }
    for k in &mut set.keys {
        if k.entered(k.state).is_none() {
            let state = k.state;
            k.state = HpkeKeyState::Expired; // so that enter() records the time
            k.enter(state, Some(now));
        }
    }
    // Expired keys past their time go.
    let gone: Vec<u8> = set
        .keys
        .iter()
        .filter(|k| k.state == HpkeKeyState::Expired && due(k.expired_at, s.expired_secs, now))
        .map(|k| k.id().0)
        .collect();
    for id in &gone {
        set.remove(crate::messages::HpkeConfigId(*id));
    }
    r.deleted = gone;
    // Pending keys whose time is up become active and replace the active ones.
    let ready: Vec<u8> = set
        .keys
        .iter()
        .filter(|k| k.state == HpkeKeyState::Pending && due(k.pending_at, s.pending_secs, now))
        .map(|k| k.id().0)
        .collect();
    if !ready.is_empty() {
        for k in &mut set.keys {
            if k.state == HpkeKeyState::Active {
                k.enter(HpkeKeyState::Expired, Some(now));
                r.expired.push(k.id().0);
            } else if ready.contains(&k.id().0) {
                k.enter(HpkeKeyState::Active, Some(now));
                r.activated.push(k.id().0);
            }
        }
    }
    // A successor is announced `pending_secs` before the newest active key's time is up.
    let newest_active = set
        .keys
        .iter()
        .filter(|k| k.state == HpkeKeyState::Active)
        .filter_map(|k| k.active_at)
        .max();
    let successor_at = newest_active.map(|a| {
        a.saturating_add(s.active_secs)
            .saturating_sub(s.pending_secs)
    });
    let has_pending = set.keys.iter().any(|k| k.state == HpkeKeyState::Pending);
    if !has_pending && successor_at.is_none_or(|t| t <= now) {
        if let Some(id) = set.free_config_id() {
            let kp = HpkeKeypair::generate(id, s.kem.id())?;
            // The ID was free a moment ago; nothing else changed the set.
            let _ = set.insert(HeldKeypair::new(kp, HpkeKeyState::Pending, Some(now)));
            r.created = Some(id.0);
        }
    }
    Ok((r, next_due(set, s)))
}

/// When the next change of [`tick`] is due.
pub fn next_due(set: &HpkeReceiverSet, s: &RotationSchedule) -> Option<u64> {
    if !s.enabled {
        return None;
    }
    let mut next: Option<u64> = None;
    let mut at = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
    let mut pending = false;
    let mut newest_active = None;
    for k in &set.keys {
        match (k.state, k.entered(k.state)) {
            (HpkeKeyState::Expired, Some(t)) => at(t.saturating_add(s.expired_secs)),
            (HpkeKeyState::Pending, Some(t)) => {
                pending = true;
                at(t.saturating_add(s.pending_secs))
            }
            (HpkeKeyState::Active, Some(t)) => newest_active = newest_active.max(Some(t)),
            (_, None) => at(0),
        }
    }
    if !pending {
        if let Some(a) = newest_active {
            at(a.saturating_add(s.active_secs)
                .saturating_sub(s.pending_secs));
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RotationSchedule {
        RotationSchedule {
            pending_secs: 600,
            active_secs: 3600,
            expired_secs: 1800,
            ..RotationSchedule::default()
        }
    }

    #[test]
    fn keys_move_through_every_state_on_time() {
        let s = schedule();
        let first = HpkeKeypair::generate(
            crate::messages::HpkeConfigId(1),
            HpkeKemId::X25519_HKDF_SHA256,
        )
        .unwrap();
        let mut set = HpkeReceiverSet {
            keys: vec![HeldKeypair::new(first, HpkeKeyState::Active, Some(0))],
        };
        let (r, next) = tick(&mut set, &s, 0).unwrap();
        assert!(r.is_empty());
        assert_eq!(next, Some(3000), "the successor is announced 600 s ahead");
        let (r, next) = tick(&mut set, &s, 3000).unwrap();
        assert_eq!(r.created, Some(0));
        assert_eq!(
            set.config_list().0.len(),
            1,
            "pending keys are not published"
        );
        assert_eq!(next, Some(3600));
        let (r, next) = tick(&mut set, &s, 3600).unwrap();
        assert_eq!((r.activated, r.expired), (vec![0], vec![1]));
        assert_eq!(set.config_list().0[0].id.0, 0);
        assert_eq!(next, Some(3600 + 1800), "the expired key is deleted next");
        let (r, _) = tick(&mut set, &s, 5400).unwrap();
        assert_eq!(r.deleted, vec![1]);
        assert_eq!(set.keys.len(), 1);
        // Every key was pending at least pending_secs before it was published.
        for k in &set.keys {
            if let (Some(p), Some(a)) = (k.pending_at, k.active_at) {
                assert!(a - p >= s.pending_secs);
            }
        }
    }

    #[test]
    fn schedules_are_checked() {
        let max_age = 24 * 3600;
        assert!(RotationSchedule::default().validate(max_age).is_ok());
        let bad = [
            RotationSchedule {
                pending_secs: 60,
                ..RotationSchedule::default()
            },
            RotationSchedule {
                active_secs: 3600,
                ..RotationSchedule::default()
            },
            RotationSchedule {
                expired_secs: max_age,
                ..RotationSchedule::default()
            },
        ];
        for s in bad {
            assert!(s.validate(max_age).is_err(), "{s:?}");
        }
        let off = RotationSchedule {
            enabled: false,
            ..RotationSchedule::default()
        };
        let mut set = HpkeReceiverSet::default();
        assert_eq!(tick(&mut set, &off, 5).unwrap(), (Rotated::default(), None));
        // Deployment variables: valid ones apply, an invalid schedule falls back.
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = RotationSchedule::from_vars(
            vars(&[("KEY_ACTIVE_SECS", "7200"), ("KEY_KEM", "p256")]),
            60,
        );
        assert_eq!((s.active_secs, s.kem), (7200, RotationKem::P256));
        let s = RotationSchedule::from_vars(vars(&[("KEY_PENDING_SECS", "5")]), 60);
        assert_eq!(s, RotationSchedule::default());
        assert!(!RotationSchedule::from_vars(vars(&[("KEY_ROTATION", "off")]), 60).enabled);
    }
}
