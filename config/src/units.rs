//! Durations, byte sizes and listen addresses as written in the config file,
//! with serde helpers for herald's own sections.
//!
//! * durations: Go syntax (`500ms`, `30s`, `5m`, `1h30m`, `1.5h`; units `ns`,
//!   `us`/`µs`, `ms`, `s`, `m`, `h`) or a plain number of seconds;
//! * sizes: `512MiB`, `1GiB`, `100MB`, `1.5GiB`, Kubernetes-style `512Mi`, or a
//!   plain number of bytes;
//! * listen addresses: `IP:port`, `[IPv6]:port`, or Go's `:port` (all
//!   interfaces).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Largest duration accepted (Go's limit, about 292 years).
const MAX_DURATION_NANOS: u128 = i64::MAX as u128;

/// Parses a Go-style duration (`1h30m`, `500ms`, `0`).
///
/// # Errors
/// Returns a lowercase message for a missing or unknown unit, a negative
/// value, malformed numbers and durations beyond ~292 years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(format!("duration `{s}` must not be negative"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return Err("empty duration".to_owned());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("invalid duration `{s}`"));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "missing unit in duration `{s}` (write `{s}s` for seconds)"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit `{other}` in duration `{s}` (use ns, us, ms, s, m or h)"
                ));
            }
        };
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| format!("duration `{s}` is too large"))?
        };
        let mut nanos = int
            .checked_mul(unit_nanos)
            .ok_or_else(|| format!("duration `{s}` is too large"))?;
        // Fractions beyond nanosecond precision are dropped, as in Go.
        let mut scale = unit_nanos;
        for digit in frac_part.bytes().take(30) {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total = total.saturating_add(nanos);
        if total > MAX_DURATION_NANOS {
            return Err(format!("duration `{s}` is too large"));
        }
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder of a division by 10^9 always fits a u32.
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration compactly in Go units: `1h30m`, `24h`, `500ms`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    if d < Duration::from_secs(1) {
        let nanos = d.subsec_nanos();
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}us", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    let frac = d.subsec_nanos();
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push_str(&format!("{s}.{}s", digits.trim_end_matches('0')));
    } else if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Parses a byte size (`512MiB`, `1GiB`, `100MB`, `512Mi`, `1.5GiB`, `1024`).
///
/// # Errors
/// Returns a lowercase message for unknown units, negative or malformed
/// numbers and sizes beyond `u64`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err(format!("size `{s}` must not be negative"));
    }
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(number_len);
    let number: String = number.chars().filter(|&c| c != '_').collect();
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(format!(
            "invalid size `{s}` (write e.g. `512MiB` or `1GiB`)"
        ));
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "p" | "pb" => 1_000_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        "pi" | "pib" => 1 << 50,
        other => {
            return Err(format!(
                "unknown unit `{other}` in size `{s}` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((&number, ""));
    let int: u128 = if int_part.is_empty() {
        0
    } else {
        int_part
            .parse()
            .map_err(|_| format!("size `{s}` is too large"))?
    };
    let too_large = || format!("size `{s}` is too large");
    let mut bytes = int
        .checked_mul(u128::from(multiplier))
        .ok_or_else(too_large)?;
    if !frac_part.is_empty() {
        // Sub-byte precision is dropped.
        let digits = &frac_part[..frac_part.len().min(18)];
        let frac: u128 = digits.parse().map_err(|_| too_large())?;
        let scale = 10u128.pow(u32::try_from(digits.len()).unwrap_or(18));
        bytes += frac * u128::from(multiplier) / scale;
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Formats a size with the largest exact unit: `1GiB`, `100MB`, `1234B`.
pub fn format_size(bytes: u64) -> String {
    const BINARY: &[(u64, &str)] = &[
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    const DECIMAL: &[(u64, &str)] = &[
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    if bytes == 0 {
        return "0B".to_owned();
    }
    for &(unit, name) in BINARY.iter().chain(DECIMAL) {
        if bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}B")
}

/// Parses a listen address: `IP:port`, `[IPv6]:port` or `:port`.
///
/// # Errors
/// Returns a lowercase message when the text is not an address with a port.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let s = text.trim();
    if let Some(port) = s.strip_prefix(':') {
        return port
            .parse::<u16>()
            .map(|p| SocketAddr::from((Ipv4Addr::UNSPECIFIED, p)))
            .map_err(|_| format!("invalid port in listen address `{s}`"));
    }
    s.parse().map_err(|_| {
        format!("invalid listen address `{s}` (write `IP:port`, e.g. `0.0.0.0:50051`, or `:port`)")
    })
}

// === serde helpers ===

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `30s`, `5m` or `1h30m`, or a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("duration `{v}` must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(v).map_err(|_| {
            E::custom(format!(
                "invalid duration `{v}` (must be a non-negative number of seconds)"
            ))
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

/// Deserializes a [`Duration`] from a Go duration string or seconds.
pub(crate) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// Deserializes an optional [`Duration`] (`null` or absent: not set).
pub(crate) fn de_opt_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    struct Wrapped(Duration);
    impl<'de> Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            de_duration(d).map(Wrapped)
        }
    }
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as `512MiB` or `1GiB`, or a number of bytes")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("size `{v}` must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_size(v).map_err(E::custom)
    }
}

/// Deserializes a byte size from a string with a unit or a number of bytes.
pub(crate) fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(SizeVisitor)
}

/// Deserializes a listen address.
pub(crate) fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_listen(&text).map_err(de::Error::custom)
}

/// Deserializes a string where empty means "not set".
pub(crate) fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    Ok(text.filter(|s| !s.is_empty()))
}

/// Deserializes a file path where empty means "not set".
pub(crate) fn de_opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(de_opt_string(d)?.map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("2h45m30.5s", Duration::from_millis(9_930_500)),
            ("300us", Duration::from_micros(300)),
            ("300µs", Duration::from_micros(300)),
            ("7ns", Duration::from_nanos(7)),
            ("+10s", Duration::from_secs(10)),
            ("24h", Duration::from_secs(86_400)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations_with_clear_messages() {
        assert!(parse_duration("30").unwrap_err().contains("missing unit"));
        assert!(parse_duration("30").unwrap_err().contains("`30s`"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1..5s").is_err());
        assert!(parse_duration("h").is_err());
        assert!(
            parse_duration("300000000h")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn formats_durations_compactly() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "24h");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for text in ["1h30m", "500ms", "1.5s", "3h", "2m"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
    }

    #[test]
    fn parses_sizes() {
        let cases: &[(&str, u64)] = &[
            ("1024", 1024),
            ("512MiB", 512 << 20),
            ("1GiB", 1 << 30),
            ("100MB", 100_000_000),
            ("512Mi", 512 << 20),
            ("1.5GiB", 3 << 29),
            ("10 KB", 10_000),
            ("2gib", 2 << 30),
            ("1_000B", 1000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
        assert!(parse_size("12XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("-1GiB").unwrap_err().contains("negative"));
        assert!(
            parse_size("99999999999PiB")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_size("GiB").is_err());
    }

    #[test]
    fn formats_sizes_with_exact_units() {
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(100_000_000), "100MB");
        assert_eq!(format_size(1234), "1234B");
        assert_eq!(format_size(0), "0B");
    }

    #[test]
    fn parses_listen_addresses() {
        assert_eq!(parse_listen(":2112").unwrap().to_string(), "0.0.0.0:2112");
        assert_eq!(parse_listen("127.0.0.1:50051").unwrap().port(), 50051);
        assert_eq!(parse_listen("[::]:9000").unwrap().to_string(), "[::]:9000");
        assert!(
            parse_listen("localhost:80")
                .unwrap_err()
                .contains("IP:port")
        );
        assert!(parse_listen(":http").is_err());
    }
}
