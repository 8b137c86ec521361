//! `time.ParseInLocation` with the local zone being UTC (port of Go's
//! `time.parse`). Works on bytes so malformed input can never split a UTF-8
//! sequence; error messages are Go's.

use std::sync::Arc;

use super::duration::time_quote;
use super::layout::{LONG_DAYS, LONG_MONTHS, SHORT_DAYS, SHORT_MONTHS, Std, next_chunk};
use super::{days_from_civil, days_in_month, is_leap};
use crate::value::{Time, TimeKind, Zone};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(s[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'),
        &s[2..],
    ))
}

fn getnum3(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let mut n = 0;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(s[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

fn lookup<'a>(tab: &[&str], val: &'a [u8]) -> Option<(usize, &'a [u8])> {
    tab.iter().enumerate().find_map(|(i, v)| {
        let v = v.as_bytes();
        (val.len() >= v.len() && val[..v.len()].eq_ignore_ascii_case(v))
            .then(|| (i, &val[v.len()..]))
    })
}

fn cutspace(mut s: &[u8]) -> &[u8] {
    while s.first() == Some(&b' ') {
        s = &s[1..];
    }
    s
}

fn skip<'a>(mut value: &'a [u8], mut prefix: &[u8]) -> Result<&'a [u8], &'a [u8]> {
    while let Some(&p) = prefix.first() {
        if p == b' ' {
            if value.first().is_some_and(|&c| c != b' ') {
                return Err(value);
            }
            prefix = cutspace(prefix);
            value = cutspace(value);
            continue;
        }
        if value.first() != Some(&p) {
            return Err(value);
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Ok(value)
}

/// Go's `atoi`: optional sign then decimal digits, all of `s`.
fn atoi(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

fn leading_int(s: &[u8]) -> Option<(i64, &[u8])> {
    let mut i = 0;
    let mut x: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        x = x.checked_mul(10)?.checked_add(i64::from(s[i] - b'0'))?;
        i += 1;
    }
    Some((x, &s[i..]))
}

fn parse_signed_offset(value: &[u8]) -> usize {
    match value.first() {
        Some(b'-' | b'+') => {}
        _ => return 0,
    }
    match leading_int(&value[1..]) {
        Some((x, rem)) if rem.len() != value.len() - 1 && x <= 12 => value.len() - rem.len(),
        _ => 0,
    }
}

fn parse_time_zone(value: &[u8]) -> Option<usize> {
    if value.len() < 3 {
        return None;
    }
    if value.len() >= 4 && (&value[..4] == b"ChST" || &value[..4] == b"MeST") {
        return Some(4);
    }
    if &value[..3] == b"GMT" {
        let rest = &value[3..];
        return Some(if rest.is_empty() {
            3
        } else {
            3 + parse_signed_offset(rest)
        });
    }
    if value[0] == b'+' || value[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let mut n_upper = 0;
    while n_upper < 6 && n_upper < value.len() && value[n_upper].is_ascii_uppercase() {
        n_upper += 1;
    }
    match n_upper {
        5 if value[4] == b'T' => Some(5),
        4 if value[3] == b'T' || &value[..4] == b"WITA" => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn parse_nanoseconds(value: &[u8], nbytes: usize) -> Result<i64, ()> {
    if !matches!(value.first(), Some(b'.' | b',')) {
        return Err(());
    }
    let nbytes = nbytes.min(10);
    let mut ns = atoi(&value[1..nbytes]).ok_or(())?;
    for _ in 0..(10 - nbytes) {
        ns *= 10;
    }
    Ok(ns)
}

/// Sign, hours, minutes, seconds and bytes consumed of a numeric zone offset.
type OffsetParts<'a> = (u8, &'a [u8], &'a [u8], &'a [u8], usize);

const DAYS_BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// Parses `value` against a Go `layout`; times without a zone are UTC.
pub(crate) fn parse_in_utc(layout: &str, value: &str) -> Result<Time, String> {
    let alayout = layout;
    let avalue = value;
    let err_elem = |layout_elem: &str, value_elem: &[u8]| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(avalue),
            time_quote(alayout),
            time_quote(&text(value_elem)),
            time_quote(layout_elem)
        )
    };
    let err_msg = |msg: &str| format!("parsing time {}{}", time_quote(avalue), msg);

    let mut layout = layout;
    let mut value = value.as_bytes();
    let (mut am_set, mut pm_set) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name: Option<String> = None;

    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        let stdstr = &layout[prefix.len()..layout.len() - suffix.len()];
        value = match skip(value, prefix.as_bytes()) {
            Ok(v) => v,
            Err(v) => return Err(err_elem(prefix, v)),
        };
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(err_msg(&format!(
                    ": extra text: {}",
                    time_quote(&text(value))
                )));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let mut range_err: Option<&str> = None;
        let mut ok = true;
        match std {
            Std::Year => match value.get(..2).and_then(atoi) {
                Some(y) if value[..2].iter().all(u8::is_ascii_digit) => {
                    year = if y >= 69 { y + 1900 } else { y + 2000 };
                    value = &value[2..];
                }
                _ => ok = false,
            },
            Std::LongYear => {
                if value.len() < 4 || !is_digit(value, 0) {
                    ok = false;
                } else if let Some(y) = atoi(&value[..4]) {
                    year = y;
                    value = &value[4..];
                } else {
                    ok = false;
                }
            }
            Std::Month | Std::LongMonth => {
                let tab: &[&str] = if std == Std::Month {
                    &SHORT_MONTHS
                } else {
                    &LONG_MONTHS
                };
                match lookup(tab, value) {
                    Some((i, rest)) => {
                        month = i64::try_from(i).unwrap_or(0) + 1;
                        value = rest;
                    }
                    None => ok = false,
                }
            }
            Std::NumMonth | Std::ZeroMonth => match getnum(value, std == Std::ZeroMonth) {
                Some((m, rest)) => {
                    month = m;
                    value = rest;
                    if !(1..=12).contains(&m) {
                        range_err = Some("month");
                    }
                }
                None => ok = false,
            },
            Std::WeekDay | Std::LongWeekDay => {
                let tab: &[&str] = if std == Std::WeekDay {
                    &SHORT_DAYS
                } else {
                    &LONG_DAYS
                };
                match lookup(tab, value) {
                    Some((_, rest)) => value = rest,
                    None => ok = false,
                }
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.first() == Some(&b' ') {
                    value = &value[1..];
                }
                match getnum(value, std == Std::ZeroDay) {
                    Some((d, rest)) => {
                        day = d;
                        value = rest;
                    }
                    None => ok = false,
                }
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && value.first() == Some(&b' ') {
                        value = &value[1..];
                    }
                }
                match getnum3(value, std == Std::ZeroYearDay) {
                    Some((d, rest)) => {
                        yday = d;
                        value = rest;
                    }
                    None => ok = false,
                }
            }
            Std::Hour => match getnum(value, false) {
                Some((h, rest)) => {
                    hour = h;
                    value = rest;
                    if h >= 24 {
                        range_err = Some("hour");
                    }
                }
                None => ok = false,
            },
            Std::Hour12 | Std::ZeroHour12 => match getnum(value, std == Std::ZeroHour12) {
                Some((h, rest)) => {
                    hour = h;
                    value = rest;
                    if h > 12 {
                        range_err = Some("hour");
                    }
                }
                None => ok = false,
            },
            Std::Minute | Std::ZeroMinute => match getnum(value, std == Std::ZeroMinute) {
                Some((m, rest)) => {
                    min = m;
                    value = rest;
                    if m >= 60 {
                        range_err = Some("minute");
                    }
                }
                None => ok = false,
            },
            Std::Second | Std::ZeroSecond => match getnum(value, std == Std::ZeroSecond) {
                Some((s, rest)) => {
                    sec = s;
                    value = rest;
                    if s >= 60 {
                        range_err = Some("second");
                    } else if value.len() >= 2
                        && matches!(value[0], b'.' | b',')
                        && is_digit(value, 1)
                    {
                        let (_, next, _) = next_chunk(layout);
                        if !matches!(next, Some(Std::FracSecond0(..) | Std::FracSecond9(..))) {
                            let mut n = 2;
                            while n < value.len() && is_digit(value, n) {
                                n += 1;
                            }
                            match parse_nanoseconds(value, n) {
                                Ok(ns) => nsec = ns,
                                Err(()) => ok = false,
                            }
                            value = &value[n..];
                        }
                    }
                }
                None => ok = false,
            },
            Std::PM | Std::Pm => {
                let (p, a) = if std == Std::PM {
                    (b"PM", b"AM")
                } else {
                    (b"pm", b"am")
                };
                match value.get(..2) {
                    Some(v) if v == p => pm_set = true,
                    Some(v) if v == a => am_set = true,
                    _ => ok = false,
                }
                if ok {
                    value = &value[2..];
                }
            }
            Std::Iso8601TZ
            | Std::Iso8601ShortTZ
            | Std::Iso8601ColonTZ
            | Std::Iso8601SecondsTZ
            | Std::Iso8601ColonSecondsTZ
                if value.first() == Some(&b'Z') =>
            {
                value = &value[1..];
                utc = true;
            }
            Std::Iso8601TZ
            | Std::Iso8601ShortTZ
            | Std::Iso8601ColonTZ
            | Std::Iso8601SecondsTZ
            | Std::Iso8601ColonSecondsTZ
            | Std::NumTZ
            | Std::NumShortTZ
            | Std::NumColonTZ
            | Std::NumSecondsTz
            | Std::NumColonSecondsTZ => {
                let parts: Option<OffsetParts<'_>> = match std {
                    Std::Iso8601ColonTZ | Std::NumColonTZ => (value.len() >= 6 && value[3] == b':')
                        .then(|| (value[0], &value[1..3], &value[4..6], &b"00"[..], 6)),
                    Std::NumShortTZ | Std::Iso8601ShortTZ => (value.len() >= 3)
                        .then(|| (value[0], &value[1..3], &b"00"[..], &b"00"[..], 3)),
                    Std::Iso8601ColonSecondsTZ | Std::NumColonSecondsTZ => {
                        (value.len() >= 9 && value[3] == b':' && value[6] == b':')
                            .then(|| (value[0], &value[1..3], &value[4..6], &value[7..9], 9))
                    }
                    Std::Iso8601SecondsTZ | Std::NumSecondsTz => (value.len() >= 7)
                        .then(|| (value[0], &value[1..3], &value[3..5], &value[5..7], 7)),
                    _ => (value.len() >= 5)
                        .then(|| (value[0], &value[1..3], &value[3..5], &b"00"[..], 5)),
                };
                match parts {
                    None => ok = false,
                    Some((sign, h, m, s, n)) => {
                        value = &value[n..];
                        match (getnum(h, true), getnum(m, true), getnum(s, true)) {
                            (Some((hr, _)), Some((mm, _)), Some((ss, _))) => {
                                if hr > 24 {
                                    range_err = Some("time zone offset hour");
                                }
                                if mm > 60 {
                                    range_err = Some("time zone offset minute");
                                }
                                if ss > 60 {
                                    range_err = Some("time zone offset second");
                                }
                                let off = (hr * 60 + mm) * 60 + ss;
                                match sign {
                                    b'+' => zone_offset = Some(off),
                                    b'-' => zone_offset = Some(-off),
                                    _ => ok = false,
                                }
                            }
                            _ => ok = false,
                        }
                    }
                }
            }
            Std::TZ => {
                if value.starts_with(b"UTC") {
                    utc = true;
                    value = &value[3..];
                } else if let Some(n) = parse_time_zone(value) {
                    zone_name = Some(text(&value[..n]));
                    value = &value[n..];
                } else {
                    ok = false;
                }
            }
            Std::FracSecond0(n, _) => {
                let ndigit = 1 + n;
                if value.len() < ndigit {
                    ok = false;
                } else {
                    match parse_nanoseconds(value, ndigit) {
                        Ok(ns) => nsec = ns,
                        Err(()) => ok = false,
                    }
                    value = &value[ndigit..];
                }
            }
            Std::FracSecond9(..) => {
                if value.len() >= 2 && matches!(value[0], b'.' | b',') && is_digit(value, 1) {
                    let mut i = 0;
                    while i + 1 < value.len() && is_digit(value, i + 1) {
                        i += 1;
                    }
                    match parse_nanoseconds(value, 1 + i) {
                        Ok(ns) => nsec = ns,
                        Err(()) => ok = false,
                    }
                    value = &value[1 + i..];
                }
            }
        }
        if let Some(what) = range_err {
            return Err(err_msg(&format!(": {what} out of range")));
        }
        if !ok {
            return Err(err_elem(stdstr, hold));
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let mut d = 0;
        let mut m = 0;
        if is_leap(year) {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(err_msg(": day-of-year out of range"));
        }
        if m == 0 {
            m = (yday - 1) / 31 + 1;
            if DAYS_BEFORE[usize::try_from(m).unwrap_or(0)] < yday {
                m += 1;
            }
            d = yday - DAYS_BEFORE[usize::try_from(m - 1).unwrap_or(0)];
        }
        if month >= 0 && month != m {
            return Err(err_msg(": day-of-year does not match month"));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(err_msg(": day-of-year does not match day"));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let month_u = u32::try_from(month).unwrap_or(1);
    if day < 1 || day > i64::from(days_in_month(year, month_u)) {
        return Err(err_msg(": day out of range"));
    }
    let day_u = u32::try_from(day).unwrap_or(1);
    let local = days_from_civil(year, month_u, day_u) * 86_400 + hour * 3600 + min * 60 + sec;
    let nanos = u32::try_from(nsec).unwrap_or(0);
    let base = Time::from_unix(local, nanos, TimeKind::Go);
    if utc {
        return Ok(base);
    }
    if let Some(off) = zone_offset {
        let t = Time::from_unix(local - off, nanos, TimeKind::Go);
        let name = zone_name.unwrap_or_default();
        if off == 0 && (name.is_empty() || name == "UTC") {
            return Ok(t);
        }
        let off = i32::try_from(off).unwrap_or(0);
        return Ok(t.with_zone(Some(Arc::new(Zone {
            name: name.into(),
            offset: off,
        }))));
    }
    if let Some(name) = zone_name {
        let offset = if name.len() > 3 && name.starts_with("GMT") {
            atoi(&name.as_bytes()[3..]).unwrap_or(0) * 3600
        } else {
            0
        };
        let off = i32::try_from(offset).unwrap_or(0);
        return Ok(base.with_zone(Some(Arc::new(Zone {
            name: name.into(),
            offset: off,
        }))));
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gotime::time_string;

    fn p(layout: &str, value: &str) -> Result<String, String> {
        parse_in_utc(layout, value).map(|t| time_string(&t))
    }

    #[test]
    fn parses_common_layouts() {
        assert_eq!(
            p("2006-01-02", "2024-05-14"),
            Ok("2024-05-14 00:00:00 +0000 UTC".into())
        );
        assert_eq!(
            p("2006-01-02T15:04:05Z07:00", "2024-05-14T10:00:03Z"),
            Ok("2024-05-14 10:00:03 +0000 UTC".into())
        );
        assert_eq!(
            p("2006-01-02T15:04:05Z07:00", "2024-05-14T12:00:03+02:00"),
            Ok("2024-05-14 12:00:03 +0200 +0200".into())
        );
        assert_eq!(
            p("2006-01-02 15:04:05", "2024-05-14 10:00:03.25"),
            Ok("2024-05-14 10:00:03.25 +0000 UTC".into())
        );
        assert_eq!(
            p("Jan 2 06 3:04PM MST", "feb 29 24 12:30AM PST"),
            Ok("2024-02-29 00:30:00 +0000 PST".into())
        );
    }

    #[test]
    fn reports_errors_like_go() {
        assert_eq!(
            p("2006-01-02", "2024-13-01"),
            Err("parsing time \"2024-13-01\": month out of range".into())
        );
        assert_eq!(
            p("2006-01-02", "x"),
            Err("parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\"".into())
        );
        assert_eq!(
            p("2006-01-02", "2024-02-30"),
            Err("parsing time \"2024-02-30\": day out of range".into())
        );
        assert_eq!(
            p("2006", "2024 "),
            Err("parsing time \"2024 \": extra text: \" \"".into())
        );
        assert_eq!(
            p("2006-01-02", "2024/01/02"),
            Err(
                "parsing time \"2024/01/02\" as \"2006-01-02\": cannot parse \"/01/02\" as \"-\""
                    .into()
            )
        );
    }
}
