//! Timestamps serialised exactly like Go's `metav1.Time` and `metav1.MicroTime`.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `metav1.Time`: RFC 3339 in UTC with whole seconds (`2026-11-22T01:31:29Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub DateTime<Utc>);

/// `metav1.MicroTime`: RFC 3339 in UTC with exactly six fractional digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MicroTime(pub DateTime<Utc>);

impl Time {
    /// Returns the current time truncated to whole seconds.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }
}

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(0))
    }
}

impl MicroTime {
    /// Returns the current time truncated to microseconds.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }
}

impl From<DateTime<Utc>> for MicroTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(6))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl fmt::Display for MicroTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct Rfc3339Visitor;

impl Visitor<'_> for Rfc3339Visitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| E::custom(format!("parsing time {v:?}: {e}")))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Rfc3339Visitor).map(Self::from)
    }
}

impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Rfc3339Visitor).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_in_go_format() {
        let t: Time = serde_json::from_str("\"2026-11-22T01:31:29Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-22T01:31:29Z\""
        );
        let t: Time = serde_json::from_str("\"2026-11-22T01:31:29.987+00:00\"").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T01:31:29Z");
    }

    #[test]
    fn micro_time_always_has_six_digits() {
        let t: MicroTime = serde_json::from_str("\"2026-11-22T01:30:06.268228Z\"").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T01:30:06.268228Z");
        let t: MicroTime = serde_json::from_str("\"2026-11-22T01:30:06Z\"").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T01:30:06.000000Z");
        let t: MicroTime = serde_json::from_str("\"2026-11-22T01:30:06.123456789Z\"").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T01:30:06.123456Z");
    }

    #[test]
    fn bad_time_is_an_error() {
        assert!(serde_json::from_str::<Time>("\"yesterday\"").is_err());
    }
}
