//! Go's `time` package semantics: layouts written against the reference time
//! `Mon Jan 2 15:04:05 MST 2006`, `time.Parse`, `Duration.String` and
//! `time.ParseDuration`, and `time.Time.String`.

mod duration;
mod layout;
mod parse;

pub(crate) use duration::{format_duration, parse_duration, round_duration};
pub(crate) use layout::{format, format_into};
pub(crate) use parse::parse_in_utc;

use crate::value::Time;

/// A time broken down in its zone, as Go's formatter sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1..=12
    pub(crate) month: u32,
    /// 1..=31
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    /// 0 = Sunday
    pub(crate) weekday: u32,
    /// 1..=366
    pub(crate) yday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // d is in 1..=31 and m in 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Breaks `secs` (Unix) down in a zone `offset` seconds east of UTC.
pub(crate) fn civil(secs: i64, nanos: u32, offset: i32) -> Civil {
    let local = secs.saturating_add(i64::from(offset));
    let days = local.div_euclid(86_400);
    let sod = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let yday = days - days_from_civil(year, 1, 1) + 1;
    // All the narrowing below is of values bounded by the modular arithmetic.
    Civil {
        year,
        month,
        day,
        hour: u32::try_from(sod / 3600).unwrap_or(0),
        minute: u32::try_from(sod % 3600 / 60).unwrap_or(0),
        second: u32::try_from(sod % 60).unwrap_or(0),
        nanos,
        weekday: u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0),
        yday: u32::try_from(yday).unwrap_or(1),
    }
}

/// Go's `time.Time.String()` (without the monotonic clock suffix).
pub(crate) fn time_string(t: &Time) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Formats `t` shown in an IANA zone, `UTC`, `Local` (herald runs in UTC, like
/// the distroless image kubernetes-event-exporter ships) or `""` (UTC). Unknown
/// zones fall back to UTC, as sprig's `dateInZone` does.
pub(crate) fn format_in_zone(t: &Time, layout: &str, zone: &str) -> String {
    use chrono::{Offset, TimeZone};
    use chrono_tz::OffsetName;
    let t = t.clone().utc();
    if zone.is_empty() || zone == "UTC" || zone == "Local" {
        return format(&t, layout);
    }
    let Ok(tz) = zone.parse::<chrono_tz::Tz>() else {
        return format(&t, layout);
    };
    let Some(instant) = t.to_chrono() else {
        return format(&t, layout);
    };
    let off = tz.offset_from_utc_datetime(&instant.naive_utc());
    let name = off.abbreviation().unwrap_or("").to_owned();
    let secs = off.fix().local_minus_utc();
    let shown = t.with_zone(Some(std::sync::Arc::new(crate::value::Zone {
        name: name.into_boxed_str(),
        offset: secs,
    })));
    format(&shown, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::TimeKind;

    #[test]
    fn civil_round_trips() {
        for days in [-719_162, -1, 0, 1, 59, 11_016, 19_857, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
    }

    #[test]
    fn breaks_down_a_known_instant() {
        // 2024-05-14T10:00:03Z is a Tuesday, day 135 of a leap year.
        let c = civil(1_715_680_803, 5, 0);
        assert_eq!(
            (
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday, c.yday
            ),
            (2024, 5, 14, 10, 0, 3, 2, 135)
        );
    }

    #[test]
    fn string_matches_go() {
        let t = Time::from_unix(1_715_680_803, 0, TimeKind::Seconds);
        assert_eq!(time_string(&t), "2024-05-14 10:00:03 +0000 UTC");
        assert_eq!(
            time_string(&Time::zero(TimeKind::Go)),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        let t = Time::from_unix(1_715_680_803, 120_000_000, TimeKind::Go);
        assert_eq!(time_string(&t), "2024-05-14 10:00:03.12 +0000 UTC");
    }

    #[test]
    fn formats_in_iana_zones() {
        let t = Time::from_unix(1_715_680_803, 0, TimeKind::Go);
        assert_eq!(
            format_in_zone(&t, "2006-01-02 15:04 MST -07:00", "Europe/Berlin"),
            "2024-05-14 12:00 CEST +02:00"
        );
        assert_eq!(format_in_zone(&t, "15:04 MST", "No/Such_Zone"), "10:00 UTC");
    }
}
