//! Token rotation: a task replaces the hash of a token it checks (the Leader's token at a
//! Helper, the Collector's at a Leader) and keeps accepting the replaced one for a grace
//! period, so that the peer or Collector can switch without a failed request.

use crate::task::{AggregatorTask, TokenHash};
use serde::{Deserialize, Serialize};

/// The default grace period of a replaced token: one day.
pub const DEFAULT_GRACE_SECS: u64 = 24 * 3600;

/// The shortest grace period: every isolate's cached copy of the task (60 s) must have
/// seen the new token before the old one stops working.
pub const MIN_GRACE_SECS: u64 = 2 * crate::platform::CACHE_SECS;

/// The longest grace period: 90 days.
pub const MAX_GRACE_SECS: u64 = 90 * 24 * 3600;

/// Which token a request presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenKind {
    /// The Leader's token, checked by the Helper.
    Aggregator,
    /// The Collector's token, checked by the Leader.
    Collector,
}

/// A replaced token, accepted until `until` (POSIX seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredToken {
    /// Whose token it is.
    pub kind: TokenKind,
    /// Its SHA-256.
    pub hash: TokenHash,
    /// The end of its grace period.
    pub until: u64,
}

impl AggregatorTask {
    /// The current hash of `kind`'s token.
    pub fn token_hash(&self, kind: TokenKind) -> Option<&TokenHash> {
        match kind {
            TokenKind::Aggregator => self.aggregator_auth_token_hash.as_ref(),
            TokenKind::Collector => self.collector_auth_token_hash.as_ref(),
        }
    }

    /// Whether `token` is the current `kind` token, or a replaced one still in its grace
    /// period at `now` (POSIX seconds).
    pub fn accepts(&self, kind: TokenKind, token: &str, now: u64) -> bool {
        // Every candidate is compared (each in constant time), so the answer's timing does
        // not say which one matched.
        let current = self.token_hash(kind).is_some_and(|h| h.matches(token));
        let retired = self
            .retired_tokens
            .iter()
            .filter(|r| r.kind == kind && r.until > now)
            .fold(false, |acc, r| r.hash.matches(token) | acc);
        current | retired
    }

    /// Replaces the `kind` token's hash with `new`; the replaced one stays accepted for
    /// `grace_secs` after `now`. Retired tokens whose grace ended are dropped. Replacing a
    /// hash with itself changes nothing.
    pub fn rotate_token(&mut self, kind: TokenKind, new: TokenHash, grace_secs: u64, now: u64) {
        self.retired_tokens.retain(|r| r.until > now);
        let slot = match kind {
            TokenKind::Aggregator => &mut self.aggregator_auth_token_hash,
            TokenKind::Collector => &mut self.collector_auth_token_hash,
        };
        if *slot == Some(new) {
            return;
        }
        if let Some(old) = slot.replace(new) {
            self.retired_tokens.push(RetiredToken {
                kind,
                hash: old,
                until: now.saturating_add(grace_secs),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        BatchMode, Extensions, HpkeConfigId, HpkeKemId, Role, TaskConfiguration, TaskId, VdafConfig,
    };

    fn task() -> AggregatorTask {
        let kp = crate::hpke::HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::X25519_HKDF_SHA256)
            .unwrap();
        let config = TaskConfiguration {
            task_info: b"t".to_vec(),
            leader_endpoint: "https://l.example/".into(),
            helper_endpoint: "https://h.example/".into(),
            time_precision: 60,
            min_batch_size: 100,
            batch_mode: BatchMode::TimeInterval,
            vdaf: VdafConfig::Prio3Count,
            extensions: Extensions::empty(),
        };
        let mut t = AggregatorTask::new(TaskId([1; 32]), config, Role::Helper, [0; 32], kp.config);
        t.aggregator_auth_token_hash = Some(TokenHash::of("old"));
        t
    }

    #[test]
    fn replaced_tokens_work_until_their_grace_ends() {
        let mut t = task();
        let k = TokenKind::Aggregator;
        t.rotate_token(k, TokenHash::of("new"), 100, 1000);
        assert!(t.accepts(k, "old", 1099) && t.accepts(k, "new", 1099));
        assert!(!t.accepts(k, "old", 1100) && t.accepts(k, "new", 5000));
        assert!(
            !t.accepts(TokenKind::Collector, "old", 1000),
            "kinds do not mix"
        );
        // Rotating to the same hash changes nothing; expired ones are dropped.
        t.rotate_token(k, TokenHash::of("new"), 100, 2000);
        assert!(t.retired_tokens.is_empty());
        t.rotate_token(k, TokenHash::of("third"), 100, 2000);
        assert_eq!(t.retired_tokens.len(), 1);
        assert!(t.accepts(k, "new", 2050) && !t.accepts(k, "old", 2050));
    }
}
