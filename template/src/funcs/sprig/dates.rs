//! sprig date functions: `ago date dateInZone date_in_zone dateModify
//! date_modify mustDateModify must_date_modify duration durationRound htmlDate
//! htmlDateInZone now toDate mustToDate unixEpoch`.
//!
//! sprig's type switches accept only `time.Time` and integers (Unix seconds);
//! anything else — including `metav1.Time` fields such as `.LastTimestamp` —
//! falls through to "now", exactly as in kubernetes-event-exporter. The local
//! zone is UTC.

use crate::funcs::{Ctx, FuncDef, Param, arg_str, arg_time, f, s};
use crate::gotime::{
    format_duration, format_in_zone, parse_duration, parse_in_utc, round_duration,
};
use crate::value::{Time, TimeKind, Value};

const A: Param = Param::Any;
const S: Param = Param::Str;
const T: Param = Param::Time;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("now", &[], |_, _| Ok(Value::Time(Time::now()))),
    f("ago", &[A], ago),
    f("date", &[S, A], |_, a| {
        s(date_in_zone(arg_str(a, 0), &a[1], "Local"))
    }),
    f("dateInZone", &[S, A, S], |_, a| {
        s(date_in_zone(arg_str(a, 0), &a[1], arg_str(a, 2)))
    }),
    f("date_in_zone", &[S, A, S], |_, a| {
        s(date_in_zone(arg_str(a, 0), &a[1], arg_str(a, 2)))
    }),
    f("htmlDate", &[A], |_, a| {
        s(date_in_zone("2006-01-02", &a[0], "Local"))
    }),
    f("htmlDateInZone", &[A, S], |_, a| {
        s(date_in_zone("2006-01-02", &a[0], arg_str(a, 1)))
    }),
    f("dateModify", &[S, T], date_modify),
    f("date_modify", &[S, T], date_modify),
    f("mustDateModify", &[S, T], must_date_modify),
    f("must_date_modify", &[S, T], must_date_modify),
    f("duration", &[A], duration),
    f("durationRound", &[A], duration_round),
    f("toDate", &[S, S], |_, a| {
        Ok(Value::Time(
            parse_in_utc(arg_str(a, 0), arg_str(a, 1)).unwrap_or_else(|_| Time::zero(TimeKind::Go)),
        ))
    }),
    f("mustToDate", &[S, S], |_, a| {
        parse_in_utc(arg_str(a, 0), arg_str(a, 1)).map(Value::Time)
    }),
    f("unixEpoch", &[T], |_, a| {
        s(arg_time(a, 0).unix().to_string())
    }),
];

/// sprig's date argument: `time.Time`, or Unix seconds; otherwise now.
fn time_of(v: &Value) -> Time {
    match v {
        Value::Time(t) if t.kind() == TimeKind::Go => t.clone(),
        Value::Int(secs) => Time::from_unix(*secs, 0, TimeKind::Go),
        _ => Time::now(),
    }
}

fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    format_in_zone(&time_of(date), layout, zone)
}

fn ago(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let since = Time::now().sub_nanos(&time_of(&a[0]));
    s(format_duration(round_duration(since, 1_000_000_000)))
}

fn date_modify(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let t = arg_time(a, 1);
    Ok(Value::Time(match parse_duration(arg_str(a, 0)) {
        Ok(d) => t.add_nanos(d),
        Err(_) => t,
    }))
}

fn must_date_modify(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let d = parse_duration(arg_str(a, 0))?;
    Ok(Value::Time(arg_time(a, 1).add_nanos(d)))
}

fn duration(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    // Go integer widths are not modelled: every integer is treated as the
    // int64 sprig expects.
    let n: i64 = match &a[0] {
        Value::String(v) => v.parse().unwrap_or(0),
        Value::Int(i) => *i,
        _ => 0,
    };
    s(format_duration(n.wrapping_mul(1_000_000_000)))
}

fn duration_round(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let d: i64 = match &a[0] {
        Value::String(v) => parse_duration(v).unwrap_or(0),
        Value::Int(i) => *i,
        Value::Time(t) if t.kind() == TimeKind::Go => Time::now().sub_nanos(t),
        _ => 0,
    };
    let u = d.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const MONTH: u64 = 30 * DAY;
    const YEAR: u64 = 365 * DAY;
    let out = if u > YEAR {
        format!("{}y", u / YEAR)
    } else if u > MONTH {
        format!("{}mo", u / MONTH)
    } else if u > DAY {
        format!("{}d", u / DAY)
    } else if u > HOUR {
        format!("{}h", u / HOUR)
    } else if u > MINUTE {
        format!("{}m", u / MINUTE)
    } else if u > SECOND {
        format!("{}s", u / SECOND)
    } else {
        "0s".to_owned()
    };
    s(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        static L: crate::Limits = crate::Limits::DEFAULT;
        Ctx { limits: &L }
    }

    #[test]
    fn duration_round_buckets() {
        let r = |v: Value| {
            duration_round(&ctx(), &[v])
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(r(Value::from("2h5m")), "2h");
        assert_eq!(r(Value::from("-90s")), "1m");
        assert_eq!(r(Value::from("800h")), "1mo");
        assert_eq!(r(Value::from("9000h")), "1y");
        assert_eq!(r(Value::from("bogus")), "0s");
        assert_eq!(r(Value::Int(3_000_000_000)), "3s");
    }

    #[test]
    fn metav1_times_fall_back_to_now_like_sprig() {
        let meta = Value::Time(Time::from_unix(0, 0, TimeKind::Seconds));
        let shown = date_in_zone("2006", &meta, "UTC");
        assert_ne!(shown, "1970");
        let go = Value::Time(Time::from_unix(0, 0, TimeKind::Go));
        assert_eq!(date_in_zone("2006-01-02", &go, "UTC"), "1970-01-01");
        assert_eq!(
            date_in_zone("2006-01-02", &Value::Int(86_400), "UTC"),
            "1970-01-02"
        );
    }
}
