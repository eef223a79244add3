//! Differential privacy: noise each aggregator adds to its aggregate share before sealing
//! it to the Collector, with `prio`'s `dp` module (compiled with `prio`'s default
//! `crypto-dependencies`; no extra feature).
//!
//! [`DpStrategy::PureDpDiscreteLaplace`] adds independent discrete Laplace noise to every
//! entry of a Prio3Histogram or Prio3SumVec aggregate share, with scale
//! `sensitivity / epsilon`: 2 for a histogram (one report moves one count from one bucket to
//! another), `(2^bits - 1) × length` for a SumVec. Each of the two aggregators adds its own
//! noise, so the collected result is ε-differentially private even if one aggregator is
//! malicious, and carries the noise of both.

use crate::vdaf::{agg_share, Prio3Instance};
use prio::dp::distributions::PureDpDiscreteLaplace;
use prio::dp::{DifferentialPrivacyStrategy, PureDpBudget, Rational};
use prio::field::{Field128, FieldElementWithInteger};
use prio::vdaf::AggregatorWithNoise;
use serde::{Deserialize, Serialize};

/// The smallest ε accepted: 1/1000. Below it the noise drowns any batch of realistic size.
pub const MIN_EPSILON: (u64, u64) = (1, 1000);

/// The largest ε accepted: 1000. Above it the noise is negligible and the name misleads.
pub const MAX_EPSILON: (u64, u64) = (1000, 1);

/// How a task protects its aggregate shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DpStrategy {
    /// No noise (Janus's `NoDifferentialPrivacy`).
    #[default]
    None,
    /// ε-DP with discrete Laplace noise; ε = `numerator / denominator`.
    PureDpDiscreteLaplace {
        /// ε's numerator.
        numerator: u64,
        /// ε's denominator.
        denominator: u64,
    },
}

/// Why a strategy was refused or noise could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DpError {
    /// ε is zero, has a zero denominator or is outside [`MIN_EPSILON`]..=[`MAX_EPSILON`].
    #[error("epsilon {0} is out of range: it must be between 1/1000 and 1000")]
    EpsilonOutOfRange(String),
    /// The VDAF has no noise mechanism.
    #[error("{0} takes no differential privacy: PureDpDiscreteLaplace applies to Prio3Histogram and Prio3SumVec")]
    Unsupported(&'static str),
    /// `prio` failed.
    #[error("adding noise failed: {0}")]
    Noise(String),
}

impl DpStrategy {
    /// Whether this adds no noise.
    pub fn is_none(&self) -> bool {
        matches!(self, DpStrategy::None)
    }

    /// A discrete Laplace strategy for ε = `numerator / denominator`, checked.
    pub fn laplace(numerator: u64, denominator: u64) -> Result<DpStrategy, DpError> {
        let s = DpStrategy::PureDpDiscreteLaplace {
            numerator,
            denominator,
        };
        s.check_epsilon()?;
        Ok(s)
    }

    fn check_epsilon(&self) -> Result<(), DpError> {
        let DpStrategy::PureDpDiscreteLaplace {
            numerator: n,
            denominator: d,
        } = *self
        else {
            return Ok(());
        };
        let (n, d) = (u128::from(n), u128::from(d));
        let ge = |(a, b): (u64, u64)| n * u128::from(b) >= u128::from(a) * d;
        let le = |(a, b): (u64, u64)| n * u128::from(b) <= u128::from(a) * d;
        if d == 0 || n == 0 || !ge(MIN_EPSILON) || !le(MAX_EPSILON) {
            return Err(DpError::EpsilonOutOfRange(format!("{n}/{d}")));
        }
        Ok(())
    }

    /// Checks the strategy for a task's VDAF.
    pub fn validate(&self, vdaf: &crate::messages::VdafConfig) -> Result<(), DpError> {
        if self.is_none() {
            return Ok(());
        }
        self.check_epsilon()?;
        match vdaf {
            crate::messages::VdafConfig::Prio3Histogram { .. }
            | crate::messages::VdafConfig::Prio3SumVec { .. } => Ok(()),
            other => Err(DpError::Unsupported(other.name())),
        }
    }

    fn prio(&self) -> Result<Option<PureDpDiscreteLaplace>, DpError> {
        let DpStrategy::PureDpDiscreteLaplace {
            numerator,
            denominator,
        } = *self
        else {
            return Ok(None);
        };
        self.check_epsilon()?;
        let eps = Rational::from_unsigned(numerator, denominator)
            .map_err(|e| DpError::EpsilonOutOfRange(e.to_string()))?;
        let budget =
            PureDpBudget::new(eps).map_err(|e| DpError::EpsilonOutOfRange(e.to_string()))?;
        Ok(Some(PureDpDiscreteLaplace::from_budget(budget)))
    }

    /// Adds this strategy's noise to an encoded aggregate share of `report_count` reports
    /// and returns the noised share, encoded. `None` returns the share unchanged.
    pub fn noise(
        &self,
        inst: &Prio3Instance,
        share: Vec<u8>,
        report_count: u64,
    ) -> Result<Vec<u8>, DpError> {
        let Some(strategy) = self.prio()? else {
            return Ok(share);
        };
        let n = usize::try_from(report_count).unwrap_or(usize::MAX);
        let fail = |e: agg_share::AggShareError| DpError::Noise(e.to_string());
        match inst {
            Prio3Instance::Histogram(v) => {
                let mut s = agg_share::decode(v, &share).map_err(fail)?;
                v.add_noise_to_agg_share(&strategy, &(), &mut s, n)
                    .map_err(|e| DpError::Noise(e.to_string()))?;
                agg_share::encode::<prio::vdaf::prio3::Prio3Histogram>(&s).map_err(fail)
            }
            Prio3Instance::SumVec(v) => {
                let mut s = agg_share::decode(v, &share).map_err(fail)?;
                v.add_noise_to_agg_share(&strategy, &(), &mut s, n)
                    .map_err(|e| DpError::Noise(e.to_string()))?;
                agg_share::encode::<prio::vdaf::prio3::Prio3SumVec>(&s).map_err(fail)
            }
            Prio3Instance::Count(_) => Err(DpError::Unsupported("Prio3Count")),
            Prio3Instance::Sum(_) => Err(DpError::Unsupported("Prio3Sum")),
            Prio3Instance::MultihotCountVec(_) => {
                Err(DpError::Unsupported("Prio3MultihotCountVec"))
            }
        }
    }

    /// ε as a float, for display.
    pub fn epsilon(&self) -> Option<f64> {
        match *self {
            DpStrategy::None => None,
            DpStrategy::PureDpDiscreteLaplace {
                numerator,
                denominator,
            } => Some(numerator as f64 / denominator as f64),
        }
    }
}

/// A collected Histogram or SumVec entry read as a signed number: noise can take a small
/// total below zero, which the field represents as `p - k` (Field128, the field of both).
pub fn signed(entry: u128) -> i128 {
    let p = Field128::modulus();
    if entry > p / 2 {
        -((p - entry) as i128)
    } else {
        entry as i128
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::VdafConfig;

    #[test]
    fn epsilon_range() {
        assert!(DpStrategy::laplace(1, 1).is_ok());
        assert!(DpStrategy::laplace(1, 1000).is_ok());
        assert!(DpStrategy::laplace(1000, 1).is_ok());
        for (n, d) in [(0, 1), (1, 0), (1, 1001), (1001, 1), (u64::MAX, 1)] {
            assert!(
                matches!(
                    DpStrategy::laplace(n, d),
                    Err(DpError::EpsilonOutOfRange(_))
                ),
                "{n}/{d}"
            );
        }
        let s = DpStrategy::laplace(1, 2).unwrap();
        assert!(s.validate(&VdafConfig::Prio3Count).is_err());
        assert!(s
            .validate(&VdafConfig::Prio3Histogram {
                length: 4,
                chunk_length: 2
            })
            .is_ok());
        assert_eq!(signed(5), 5);
        assert_eq!(signed(Field128::modulus() - 3), -3);
    }
}
