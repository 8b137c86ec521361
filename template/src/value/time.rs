//! Go `time.Time`, `time.Duration` and the small named integer types
//! (`time.Month`, `time.Weekday`) that print as words.

use std::sync::Arc;

/// Unix seconds of Go's zero time, `0001-01-01 00:00:00 UTC`.
pub(crate) const ZERO_UNIX: i64 = -62_135_596_800;

/// Which Go type a [`Time`] is; it decides `%T`, sprig's type switches and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeKind {
    /// `time.Time` (`now`, `toDate`): JSON is RFC 3339 with nanoseconds, and the
    /// zero time is written as `"0001-01-01T00:00:00Z"`.
    Go,
    /// `metav1.Time`: JSON `"2024-05-14T10:00:03Z"` (UTC, seconds), zero → `null`.
    Seconds,
    /// `metav1.MicroTime`: JSON `"2024-05-14T10:00:03.000000Z"`, zero → `null`.
    Micro,
}

impl TimeKind {
    /// Returns the Go type name.
    pub fn go_name(self) -> &'static str {
        match self {
            TimeKind::Go => "time.Time",
            TimeKind::Seconds => "v1.Time",
            TimeKind::Micro => "v1.MicroTime",
        }
    }
}

/// A fixed time zone: an abbreviation (possibly empty) and an offset east of UTC.
#[derive(Debug, PartialEq, Eq)]
pub struct Zone {
    pub(crate) name: Box<str>,
    pub(crate) offset: i32,
}

/// A Go time: an instant with nanosecond precision, the zone it is shown in
/// (UTC unless parsed with an offset) and its Go type.
#[derive(Clone, Debug, PartialEq)]
pub struct Time {
    secs: i64,
    nanos: u32,
    kind: TimeKind,
    zone: Option<Arc<Zone>>,
}

impl Time {
    /// Returns Go's zero time (`0001-01-01 00:00:00 +0000 UTC`).
    pub fn zero(kind: TimeKind) -> Time {
        Time {
            secs: ZERO_UNIX,
            nanos: 0,
            kind,
            zone: None,
        }
    }

    /// Creates a UTC time from Unix seconds and nanoseconds (`nanos` is reduced
    /// modulo one second into the seconds).
    pub fn from_unix(secs: i64, nanos: u32, kind: TimeKind) -> Time {
        let extra = i64::from(nanos / 1_000_000_000);
        Time {
            secs: secs.saturating_add(extra),
            nanos: nanos % 1_000_000_000,
            kind,
            zone: None,
        }
    }

    /// Creates a UTC time from an optional instant; `None` is Go's zero time.
    pub fn from_chrono(t: Option<chrono::DateTime<chrono::Utc>>, kind: TimeKind) -> Time {
        match t {
            Some(t) => Time::from_unix(t.timestamp(), t.timestamp_subsec_nanos(), kind),
            None => Time::zero(kind),
        }
    }

    /// Formats the time with a Go reference-time layout (`2006-01-02`), as
    /// Go's `Time.Format` does.
    pub fn format(&self, layout: &str) -> String {
        crate::gotime::format(self, layout)
    }

    /// Returns the current time as a `time.Time` in UTC.
    pub fn now() -> Time {
        Time::from_chrono(Some(chrono::Utc::now()), TimeKind::Go)
    }

    pub(crate) fn with_zone(mut self, zone: Option<Arc<Zone>>) -> Time {
        self.zone = zone.filter(|z| !(z.offset == 0 && (z.name.is_empty() || &*z.name == "UTC")));
        self
    }

    /// Returns the same instant as another Go type.
    pub fn with_kind(mut self, kind: TimeKind) -> Time {
        self.kind = kind;
        self
    }

    /// Returns the same instant shown in UTC.
    pub fn utc(mut self) -> Time {
        self.zone = None;
        self
    }

    /// Returns the Go type.
    pub fn kind(&self) -> TimeKind {
        self.kind
    }

    /// Reports whether this is Go's zero time.
    pub fn is_zero(&self) -> bool {
        self.secs == ZERO_UNIX && self.nanos == 0
    }

    /// Returns Unix seconds (`.Unix`).
    pub fn unix(&self) -> i64 {
        self.secs
    }

    /// Returns the nanoseconds within the second.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Returns `.UnixMilli`.
    pub fn unix_milli(&self) -> i64 {
        self.secs
            .wrapping_mul(1_000)
            .wrapping_add(i64::from(self.nanos / 1_000_000))
    }

    /// Returns `.UnixMicro`.
    pub fn unix_micro(&self) -> i64 {
        self.secs
            .wrapping_mul(1_000_000)
            .wrapping_add(i64::from(self.nanos / 1_000))
    }

    /// Returns `.UnixNano` with Go's wrapping arithmetic: the zero time yields
    /// the same huge negative number Go prints.
    pub fn unix_nano(&self) -> i64 {
        self.secs
            .wrapping_mul(1_000_000_000)
            .wrapping_add(i64::from(self.nanos))
    }

    /// Returns the zone offset in seconds east of UTC.
    pub fn offset(&self) -> i32 {
        self.zone.as_ref().map_or(0, |z| z.offset)
    }

    /// Returns the zone abbreviation (`UTC` unless the time was parsed with an
    /// offset, in which case it may be empty).
    pub fn zone_name(&self) -> &str {
        self.zone.as_ref().map_or("UTC", |z| &z.name)
    }

    pub(crate) fn zone(&self) -> Option<&Arc<Zone>> {
        self.zone.as_ref()
    }

    /// Returns the instant as a chrono UTC time, when chrono can represent it.
    pub fn to_chrono(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.secs, self.nanos)
    }

    /// Adds a duration in nanoseconds, keeping zone and kind.
    pub(crate) fn add_nanos(&self, d: i64) -> Time {
        let total = i128::from(self.nanos) + i128::from(d % 1_000_000_000);
        let mut secs = self.secs.wrapping_add(d / 1_000_000_000);
        let mut nanos = total;
        if nanos < 0 {
            nanos += 1_000_000_000;
            secs = secs.wrapping_sub(1);
        } else if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            secs = secs.wrapping_add(1);
        }
        Time {
            secs,
            // In 0..1e9 after the adjustment above.
            nanos: u32::try_from(nanos).unwrap_or(0),
            kind: self.kind,
            zone: self.zone.clone(),
        }
    }

    /// Returns `self - other` in nanoseconds, saturating like Go's `Sub`.
    pub(crate) fn sub_nanos(&self, other: &Time) -> i64 {
        let secs = i128::from(self.secs) - i128::from(other.secs);
        let nanos = i128::from(self.nanos) - i128::from(other.nanos);
        let total = secs * 1_000_000_000 + nanos;
        i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }

    /// Orders two instants.
    pub(crate) fn cmp_instant(&self, other: &Time) -> std::cmp::Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}

/// A Go `time.Duration` in nanoseconds; prints like `1h2m3s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

/// Which named integer type a [`NamedInt`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamedKind {
    /// `time.Month` (1 = January).
    Month,
    /// `time.Weekday` (0 = Sunday).
    Weekday,
}

/// An integer of a named Go type with a `String()` method, such as
/// `time.Month`: compares as an integer, prints as a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NamedInt {
    /// The type.
    pub kind: NamedKind,
    /// The integer value.
    pub value: i64,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

pub(crate) fn month_name(m: i64) -> Option<&'static str> {
    usize::try_from(m - 1)
        .ok()
        .and_then(|i| MONTHS.get(i).copied())
}

pub(crate) fn weekday_name(d: i64) -> Option<&'static str> {
    usize::try_from(d)
        .ok()
        .and_then(|i| WEEKDAYS.get(i).copied())
}

impl NamedInt {
    /// Returns the Go type name.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NamedKind::Month => "time.Month",
            NamedKind::Weekday => "time.Weekday",
        }
    }

    /// Returns what Go's `String()` method returns.
    pub fn go_string(&self) -> String {
        match self.kind {
            NamedKind::Month => month_name(self.value)
                .map_or_else(|| format!("%!Month({})", self.value), str::to_owned),
            NamedKind::Weekday => weekday_name(self.value)
                .map_or_else(|| format!("%!Weekday({})", self.value), str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_and_unix_nano_overflow_like_go() {
        let z = Time::zero(TimeKind::Seconds);
        assert!(z.is_zero());
        assert_eq!(z.unix(), -62135596800);
        // Go: time.Time{}.UnixNano() == -6795364578871345152
        assert_eq!(z.unix_nano(), -6795364578871345152);
        assert_eq!(z.unix_milli(), -62135596800000);
    }

    #[test]
    fn add_and_sub_carry_nanoseconds() {
        let t = Time::from_unix(10, 900_000_000, TimeKind::Go);
        let u = t.add_nanos(200_000_000);
        assert_eq!((u.unix(), u.subsec_nanos()), (11, 100_000_000));
        let v = t.add_nanos(-950_000_000);
        assert_eq!((v.unix(), v.subsec_nanos()), (9, 950_000_000));
        assert_eq!(u.sub_nanos(&t), 200_000_000);
    }

    #[test]
    fn named_ints_print_words() {
        let m = NamedInt {
            kind: NamedKind::Month,
            value: 5,
        };
        assert_eq!(m.go_string(), "May");
        let w = NamedInt {
            kind: NamedKind::Weekday,
            value: 0,
        };
        assert_eq!(w.go_string(), "Sunday");
        assert_eq!(
            NamedInt {
                kind: NamedKind::Month,
                value: 13
            }
            .go_string(),
            "%!Month(13)"
        );
    }
}
