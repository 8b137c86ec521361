//! Durations and byte sizes in `delivery:` blocks, read with herald-config's
//! parsers: `500ms`, `30s`, `1h30m` or a number of seconds; `1MiB`, `512KiB`
//! or a number of bytes.

use std::fmt;
use std::time::Duration;

use herald_config::units::{parse_duration, parse_size};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration written Go-style (`500ms`, `1h30m`) or as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `500ms`, `30s` or `1h30m`, or a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
        u64::try_from(v)
            .map(|s| GoDuration(Duration::from_secs(s)))
            .map_err(|_| E::custom(format!("duration `{v}` must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
        Ok(GoDuration(Duration::from_secs(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoDuration, E> {
        Duration::try_from_secs_f64(v)
            .map(GoDuration)
            .map_err(|_| E::custom(format!("invalid duration `{v}`")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
        parse_duration(v).map(GoDuration).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

/// A byte size written with a unit (`1MiB`, `100MB`) or as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as `1MiB` or `512KiB`, or a number of bytes")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("size `{v}` must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        parse_size(v).map(ByteSize).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}
