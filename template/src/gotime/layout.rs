//! Go reference-time layouts (`2006-01-02T15:04:05Z07:00`): tokenising a layout
//! into standard chunks (a port of `time.nextStdChunk`) and formatting.

use super::civil;
use crate::value::Time;

/// A layout element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    Iso8601TZ,
    Iso8601SecondsTZ,
    Iso8601ShortTZ,
    Iso8601ColonTZ,
    Iso8601ColonSecondsTZ,
    NumTZ,
    NumSecondsTz,
    NumShortTZ,
    NumColonTZ,
    NumColonSecondsTZ,
    /// `.000` (trailing zeros kept): digit count and separator.
    FracSecond0(usize, u8),
    /// `.999` (trailing zeros dropped): digit count and separator.
    FracSecond9(usize, u8),
}

pub(crate) const SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
pub(crate) const LONG_MONTHS: [&str; 12] = [
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
pub(crate) const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub(crate) const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit_at(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Splits `layout` into (literal prefix, chunk, rest); `None` when no chunk is
/// left.
pub(crate) fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let has = |i: usize, pat: &str| layout.get(i..).is_some_and(|s| s.starts_with(pat));
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_with_lower(&layout[i + 3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "Mon") => {
                if has(i, "Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_with_lower(&layout[i + 3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "MST") => Some((Std::TZ, 3)),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let std = match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                };
                Some((std, 2))
            }
            b'0' if has(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if has(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if has(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if has(i, "_2") => {
                if has(i + 1, "2006") {
                    // "_2006" is a literal underscore followed by the year.
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if has(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i, "PM") => Some((Std::PM, 2)),
            b'p' if has(i, "pm") => Some((Std::Pm, 2)),
            b'-' => {
                if has(i, "-070000") {
                    Some((Std::NumSecondsTz, 7))
                } else if has(i, "-07:00:00") {
                    Some((Std::NumColonSecondsTZ, 9))
                } else if has(i, "-0700") {
                    Some((Std::NumTZ, 5))
                } else if has(i, "-07:00") {
                    Some((Std::NumColonTZ, 6))
                } else if has(i, "-07") {
                    Some((Std::NumShortTZ, 3))
                } else {
                    None
                }
            }
            b'Z' => {
                if has(i, "Z070000") {
                    Some((Std::Iso8601SecondsTZ, 7))
                } else if has(i, "Z07:00:00") {
                    Some((Std::Iso8601ColonSecondsTZ, 9))
                } else if has(i, "Z0700") {
                    Some((Std::Iso8601TZ, 5))
                } else if has(i, "Z07:00") {
                    Some((Std::Iso8601ColonTZ, 6))
                } else if has(i, "Z07") {
                    Some((Std::Iso8601ShortTZ, 3))
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if is_digit_at(b, j) {
                    None
                } else {
                    let n = j - (i + 1);
                    let std = if ch == b'0' {
                        Std::FracSecond0(n, c)
                    } else {
                        Std::FracSecond9(n, c)
                    };
                    return (&layout[..i], Some(std), &layout[j..]);
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Appends `v` zero-padded to `width` digits, without allocating.
fn push_int(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut u = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    for _ in (buf.len() - pos)..width {
        out.push('0');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[pos..]).unwrap_or("0"));
}

/// Go's `time.Time.Format`.
pub(crate) fn format(t: &Time, layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() + 10);
    format_into(&mut out, t, layout);
    out
}

/// Go's `time.Time.Format`, appending to `out`.
pub(crate) fn format_into(out: &mut String, t: &Time, layout: &str) {
    let offset = t.offset();
    let c = civil(t.unix(), t.subsec_nanos(), offset);
    let mut rest = layout;
    loop {
        let (prefix, std, suffix) = next_chunk(rest);
        out.push_str(prefix);
        let Some(std) = std else { break };
        rest = suffix;
        let month = usize::try_from(c.month - 1).unwrap_or(0);
        let wday = usize::try_from(c.weekday).unwrap_or(0);
        match std {
            Std::Year => push_int(out, c.year.rem_euclid(100), 2),
            Std::LongYear => push_int(out, c.year, 4),
            Std::Month => out.push_str(SHORT_MONTHS[month]),
            Std::LongMonth => out.push_str(LONG_MONTHS[month]),
            Std::NumMonth => push_int(out, i64::from(c.month), 0),
            Std::ZeroMonth => push_int(out, i64::from(c.month), 2),
            Std::WeekDay => out.push_str(SHORT_DAYS[wday]),
            Std::LongWeekDay => out.push_str(LONG_DAYS[wday]),
            Std::Day => push_int(out, i64::from(c.day), 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                push_int(out, i64::from(c.day), 0);
            }
            Std::ZeroDay => push_int(out, i64::from(c.day), 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    out.push(' ');
                    if c.yday < 10 {
                        out.push(' ');
                    }
                }
                push_int(out, i64::from(c.yday), 0);
            }
            Std::ZeroYearDay => push_int(out, i64::from(c.yday), 3),
            Std::Hour => push_int(out, i64::from(c.hour), 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let hr = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                let width = if std == Std::ZeroHour12 { 2 } else { 0 };
                push_int(out, i64::from(hr), width);
            }
            Std::Minute => push_int(out, i64::from(c.minute), 0),
            Std::ZeroMinute => push_int(out, i64::from(c.minute), 2),
            Std::Second => push_int(out, i64::from(c.second), 0),
            Std::ZeroSecond => push_int(out, i64::from(c.second), 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::TZ => {
                let name = t.zone_name();
                if name.is_empty() {
                    push_offset(out, offset, false, true, false);
                } else {
                    out.push_str(name);
                }
            }
            Std::Iso8601TZ
            | Std::Iso8601ColonTZ
            | Std::Iso8601SecondsTZ
            | Std::Iso8601ShortTZ
            | Std::Iso8601ColonSecondsTZ
                if offset == 0 =>
            {
                out.push('Z');
            }
            Std::Iso8601TZ | Std::NumTZ => push_offset(out, offset, false, true, false),
            Std::Iso8601ColonTZ | Std::NumColonTZ => {
                push_offset(out, offset, true, true, false);
            }
            Std::Iso8601ShortTZ | Std::NumShortTZ => {
                push_offset(out, offset, false, false, false);
            }
            Std::Iso8601SecondsTZ | Std::NumSecondsTz => {
                push_offset(out, offset, false, true, true);
            }
            Std::Iso8601ColonSecondsTZ | Std::NumColonSecondsTZ => {
                push_offset(out, offset, true, true, true);
            }
            Std::FracSecond0(n, sep) | Std::FracSecond9(n, sep) => {
                let trim = matches!(std, Std::FracSecond9(..));
                if trim && (n == 0 || c.nanos == 0) {
                    continue;
                }
                let mut digits = [b'0'; 9];
                let mut ns = c.nanos;
                for d in digits.iter_mut().rev() {
                    *d = b'0' + (ns % 10) as u8;
                    ns /= 10;
                }
                let mut len = n.min(9);
                if trim {
                    while len > 0 && digits[len - 1] == b'0' {
                        len -= 1;
                    }
                    if len == 0 {
                        continue;
                    }
                }
                out.push(char::from(sep));
                out.push_str(std::str::from_utf8(&digits[..len]).unwrap_or(""));
            }
        }
    }
}

fn push_offset(out: &mut String, offset: i32, colon: bool, minutes: bool, seconds: bool) {
    let zone = offset / 60;
    let (sign, zone, abs) = if zone < 0 {
        ('-', -zone, -offset)
    } else {
        ('+', zone, offset)
    };
    out.push(sign);
    push_int(out, i64::from(zone / 60), 2);
    if colon {
        out.push(':');
    }
    if minutes {
        push_int(out, i64::from(zone % 60), 2);
    }
    if seconds {
        if colon {
            out.push(':');
        }
        push_int(out, i64::from(abs % 60), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{TimeKind, Zone};
    use std::sync::Arc;

    fn t() -> Time {
        // 2024-05-04T09:07:03.120450Z, a Saturday.
        Time::from_unix(1_714_813_623, 120_450_000, TimeKind::Go)
    }

    #[test]
    fn formats_reference_layouts() {
        let t = t();
        assert_eq!(
            format(&t, "2006-01-02T15:04:05Z07:00"),
            "2024-05-04T09:07:03Z"
        );
        assert_eq!(
            format(&t, "2006-01-02T15:04:05.999999999Z07:00"),
            "2024-05-04T09:07:03.12045Z"
        );
        assert_eq!(
            format(&t, "2006-01-02T15:04:05.000Z"),
            "2024-05-04T09:07:03.120Z"
        );
        assert_eq!(
            format(&t, "Mon Jan _2 3:4:5 PM 06"),
            "Sat May  4 9:7:3 AM 24"
        );
        assert_eq!(
            format(&t, "Monday, January 2 __2 002"),
            "Saturday, May 4 125 125"
        );
        assert_eq!(format(&t, "20060102"), "20240504");
        assert_eq!(format(&t, "Janet"), "Janet");
        assert_eq!(format(&t, "15h04 pm"), "09h07 am");
        assert_eq!(format(&t, ".000000,999"), ".120450,12");
    }

    #[test]
    fn formats_offsets() {
        let z = Arc::new(Zone {
            name: "".into(),
            offset: -(5 * 3600 + 30 * 60),
        });
        let t = t().with_zone(Some(z));
        assert_eq!(format(&t, "Z07:00 -0700 -07 MST"), "-05:30 -0530 -05 -0530");
        assert_eq!(format(&t, "15:04"), "03:37");
        assert_eq!(format(&t, "-07:00:00"), "-05:30:00");
    }
}
