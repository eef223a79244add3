//! Identifiers, times, roles and extension lists.

use crate::codec::{get_array, get_items, get_opaque, put_items, put_opaque, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use std::fmt;
use std::io::Cursor;

macro_rules! fixed_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the encoded identifier in bytes.
            pub const LEN: usize = $len;

            /// A fresh identifier from the operating system's CSPRNG.
            pub fn random() -> Self {
                let mut b = [0u8; $len];
                crate::rand::fill(&mut b);
                Self(b)
            }

            /// The identifier as bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parses the unpadded base64url form used in URLs.
            pub fn from_base64url(s: &str) -> Option<Self> {
                let v = super::from_base64url(s)?;
                Some(Self(v.try_into().ok()?))
            }

            /// The unpadded base64url form used in URLs.
            pub fn to_base64url(&self) -> String {
                super::base64url(&self.0)
            }

            /// Builds an identifier from a slice of exactly the right length.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                Some(Self(b.try_into().ok()?))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base64url())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_base64url())
            }
        }

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&self.0);
                Ok(())
            }
            fn encoded_len(&self) -> Option<usize> {
                Some($len)
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
                Ok(Self(get_array(r)?))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_base64url())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Self::from_base64url(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("invalid base64url ", stringify!($name)))
                })
            }
        }
    };
}

fixed_id!(
    /// `opaque TaskID[32]`: globally unique task identifier.
    TaskId, 32
);
fixed_id!(
    /// `opaque ReportID[16]`: random report identifier, also the VDAF nonce.
    ReportId, 16
);
fixed_id!(
    /// `opaque BatchID[32]`: a leader-selected batch.
    BatchId, 32
);
fixed_id!(
    /// Server-chosen aggregation job identifier (16 bytes).
    AggregationJobId, 16
);
fixed_id!(
    /// Server-chosen collection job identifier (16 bytes).
    CollectionJobId, 16
);
fixed_id!(
    /// Server-chosen aggregate share identifier (16 bytes).
    AggregateShareId, 16
);

macro_rules! uint64_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
        )]
        pub struct $name(pub u64);

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                self.0.encode(out)
            }
            fn encoded_len(&self) -> Option<usize> {
                Some(8)
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
                Ok($name(u64::decode(r)?))
            }
        }
    };
}

uint64_newtype!(
    /// `uint64 Time`: a number of `time_precision` units since the Unix epoch.
    Time
);
uint64_newtype!(
    /// `uint64 Duration`: a number of `time_precision` units.
    Duration
);

impl Time {
    /// Converts POSIX seconds to a `Time` in units of `precision` seconds (rounding down).
    pub fn from_seconds(seconds: u64, precision: u64) -> Time {
        Time(seconds / precision.max(1))
    }

    /// The POSIX seconds at which this time starts; saturates instead of overflowing.
    pub fn to_seconds(self, precision: u64) -> u64 {
        self.0.saturating_mul(precision)
    }
}

/// `struct { Time start; Duration duration; } Interval`: half-open `[start, start+duration)`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Interval {
    /// First time unit inside the interval.
    pub start: Time,
    /// Length in time units.
    pub duration: Duration,
}

impl Interval {
    /// Builds an interval.
    pub fn new(start: u64, duration: u64) -> Self {
        Interval {
            start: Time(start),
            duration: Duration(duration),
        }
    }

    /// The first time after the interval, or `None` if it overflows `u64` (ill-formed).
    pub fn end(&self) -> Option<Time> {
        self.start.0.checked_add(self.duration.0).map(Time)
    }

    /// Whether `t` falls inside the interval.
    pub fn contains(&self, t: Time) -> bool {
        t >= self.start && self.end().is_none_or(|end| t < end)
    }

    /// Whether `other` lies entirely inside this interval.
    pub fn contains_interval(&self, other: &Interval) -> bool {
        match (self.end(), other.end()) {
            (Some(end), Some(oend)) => other.start >= self.start && oend <= end,
            _ => false,
        }
    }

    /// The smallest interval containing both (used for the collection's reported interval).
    pub fn merged_with_time(&self, t: Time) -> Interval {
        if self.duration.0 == 0 {
            return Interval {
                start: t,
                duration: Duration(1),
            };
        }
        let end = self.end().map_or(u64::MAX, |e| e.0);
        let start = self.start.0.min(t.0);
        let end = end.max(t.0.saturating_add(1));
        Interval::new(start, end - start)
    }
}

impl Encode for Interval {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.start.encode(out)?;
        self.duration.encode(out)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(16)
    }
}
impl Decode for Interval {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Interval {
            start: Time::decode(r)?,
            duration: Duration::decode(r)?,
        })
    }
}

/// `enum Role`: who sends or receives a message; part of HPKE info strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// collector(0)
    Collector = 0,
    /// client(1)
    Client = 1,
    /// leader(2)
    Leader = 2,
    /// helper(3)
    Helper = 3,
}

impl Role {
    /// The role's codepoint.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Whether this is one of the two aggregators.
    pub fn is_aggregator(self) -> bool {
        matches!(self, Role::Leader | Role::Helper)
    }

    /// The lowercase name used in JSON APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Collector => "collector",
            Role::Client => "client",
            Role::Leader => "leader",
            Role::Helper => "helper",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "collector" => Role::Collector,
            "client" => Role::Client,
            "leader" => Role::Leader,
            "helper" => Role::Helper,
            _ => return None,
        })
    }
}

impl Encode for Role {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(*self as u8);
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
}
impl Decode for Role {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(match u8::decode(r)? {
            0 => Role::Collector,
            1 => Role::Client,
            2 => Role::Leader,
            3 => Role::Helper,
            _ => return Err(CodecError::UnexpectedValue),
        })
    }
}

/// One `{ uint16 extension_type; opaque extension_data<0..2^16-1>; }` entry. The same layout
/// serves report, task, aggregation-job and collection-job extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extension {
    /// The extension's codepoint.
    pub extension_type: u16,
    /// The extension's payload.
    pub extension_data: Vec<u8>,
}

impl Encode for Extension {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.extension_type.encode(out)?;
        put_opaque(out, Prefix::U16, &self.extension_data)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(4 + self.extension_data.len())
    }
}
impl Decode for Extension {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Extension {
            extension_type: u16::decode(r)?,
            extension_data: get_opaque(r, Prefix::U16, 0)?,
        })
    }
}

/// A list of extensions (`Extension extensions<0..2^16-1>`), which DAP requires to be
/// strictly increasing by type. Decoding keeps the list as it was received, so that each
/// receiver can answer an out-of-order list with the error the spec assigns to its context
/// (an invalid report, `invalidMessage` for a job, `invalidExtension` for a collection);
/// check [`Extensions::is_strictly_ordered`]. Construction sorts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Extensions(Vec<Extension>);

impl Extensions {
    /// The empty list.
    pub fn empty() -> Self {
        Extensions(Vec::new())
    }

    /// Builds a list, refusing repeated types; the result is sorted.
    pub fn new(mut items: Vec<Extension>) -> Result<Self, CodecError> {
        items.sort_by_key(|e| e.extension_type);
        if items
            .windows(2)
            .any(|w| w[0].extension_type == w[1].extension_type)
        {
            return Err(CodecError::UnexpectedValue);
        }
        Ok(Extensions(items))
    }

    /// The entries, in increasing type order.
    pub fn iter(&self) -> impl Iterator<Item = &Extension> {
        self.0.iter()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The payload of the extension of type `t`, if present.
    pub fn get(&self, t: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|e| e.extension_type == t)
            .map(|e| e.extension_data.as_slice())
    }

    /// The codepoints in the list.
    pub fn types(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().map(|e| e.extension_type)
    }

    /// Whether the types are strictly increasing (sorted, none repeated), as DAP requires.
    pub fn is_strictly_ordered(&self) -> bool {
        self.0
            .windows(2)
            .all(|w| w[0].extension_type < w[1].extension_type)
    }
}

impl Encode for Extensions {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        put_items(out, Prefix::U16, &self.0)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(
            2 + self
                .0
                .iter()
                .map(|e| 4 + e.extension_data.len())
                .sum::<usize>(),
        )
    }
}
impl Decode for Extensions {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Extensions(get_items(r, Prefix::U16)?))
    }
}

/// `enum BatchMode`: how reports are grouped into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchMode {
    /// time_interval(1)
    TimeInterval = 1,
    /// leader_selected(2)
    LeaderSelected = 2,
}

impl BatchMode {
    /// The codepoint.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses a codepoint.
    pub fn from_code(c: u8) -> Option<BatchMode> {
        match c {
            1 => Some(BatchMode::TimeInterval),
            2 => Some(BatchMode::LeaderSelected),
            _ => None,
        }
    }

    /// The snake_case name used in JSON APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchMode::TimeInterval => "time_interval",
            BatchMode::LeaderSelected => "leader_selected",
        }
    }
}

impl Encode for BatchMode {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(self.code());
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
}
impl Decode for BatchMode {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        BatchMode::from_code(u8::decode(r)?).ok_or(CodecError::UnexpectedValue)
    }
}
