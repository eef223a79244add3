//! Janus's JSON form of a differential-privacy strategy (`dp_strategy` inside a
//! `VdafInstance`), over [`crate::dp::DpStrategy`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Janus's `dp_strategy` ([`crate::dp`]): `{"dp_strategy": "NoDifferentialPrivacy"}`, or
/// `{"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[num], [den]]}}` where
/// the numerator and denominator are big integers as `u32` digits, least significant
/// first (Janus's `Ratio<BigUint>`); each must fit 64 bits, and ε must lie in
/// [`crate::dp::MIN_EPSILON`]..=[`crate::dp::MAX_EPSILON`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DpStrategy(pub crate::dp::DpStrategy);

fn digits(v: u64) -> Vec<u32> {
    if v == 0 {
        return vec![];
    }
    let (lo, hi) = (v as u32, (v >> 32) as u32);
    if hi == 0 {
        vec![lo]
    } else {
        vec![lo, hi]
    }
}

fn from_digits(v: &serde_json::Value) -> Option<u64> {
    let d = v.as_array()?;
    if d.len() > 2 {
        return None;
    }
    let mut out = 0u64;
    for (i, x) in d.iter().enumerate() {
        let x = u32::try_from(x.as_u64()?).ok()?;
        out |= u64::from(x) << (32 * i);
    }
    Some(out)
}

impl Serialize for DpStrategy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            crate::dp::DpStrategy::None => {
                serde_json::json!({"dp_strategy": "NoDifferentialPrivacy"}).serialize(s)
            }
            crate::dp::DpStrategy::PureDpDiscreteLaplace {
                numerator,
                denominator,
            } => serde_json::json!({"dp_strategy": "PureDpDiscreteLaplace",
                "budget": {"epsilon": [digits(numerator), digits(denominator)]}})
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for DpStrategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        match v.get("dp_strategy").and_then(|s| s.as_str()) {
            Some("NoDifferentialPrivacy") => Ok(DpStrategy::default()),
            Some("PureDpDiscreteLaplace") => {
                let eps = v.pointer("/budget/epsilon").and_then(|e| e.as_array());
                let (n, den) = match eps.map(|e| e.as_slice()) {
                    Some([n, den]) => (from_digits(n), from_digits(den)),
                    _ => (None, None),
                };
                let (Some(n), Some(den)) = (n, den) else {
                    return Err(D::Error::custom(
                        "PureDpDiscreteLaplace needs budget.epsilon = [[numerator], [denominator]] (u32 digits, least significant first, 64 bits at most)",
                    ));
                };
                crate::dp::DpStrategy::laplace(n, den)
                    .map(DpStrategy)
                    .map_err(D::Error::custom)
            }
            _ => Err(D::Error::custom(
                "dp_strategy must be NoDifferentialPrivacy or PureDpDiscreteLaplace",
            )),
        }
    }
}
