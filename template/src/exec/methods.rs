//! Methods templates call on Go time values: `time.Time` (and the
//! `metav1.Time`/`MicroTime` wrappers, whose promoted methods return plain
//! `time.Time`), `time.Duration`, `time.Month` and `time.Weekday`.

use super::{EResult, Exec};
use crate::funcs::{Ev, Param};
use crate::gotime::{self, civil, format_duration, round_duration};
use crate::parse::Arg;
use crate::value::{Duration, NamedInt, NamedKind, Time, TimeKind, Value};

/// Converts a `time.Duration` argument (an integer literal or value, or a
/// duration).
fn duration_arg(v: &Ev) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Uint(u)) => i64::try_from(*u).ok(),
        Some(Value::Duration(d)) => Some(d.0),
        _ => None,
    }
}

fn time_arg(v: &Ev) -> Option<&Time> {
    match v {
        Some(Value::Time(t)) => Some(t),
        _ => None,
    }
}

/// Go's `Time.AddDate`: normalises month and day overflow like `time.Date`.
fn add_date(t: &Time, years: i64, months: i64, days: i64) -> Time {
    let c = civil(t.unix(), t.subsec_nanos(), t.offset());
    let total_months = c.year * 12 + i64::from(c.month) - 1 + years * 12 + months;
    let year = total_months.div_euclid(12);
    let month = u32::try_from(total_months.rem_euclid(12) + 1).unwrap_or(1);
    let day_count = gotime::days_from_civil(year, month, 1) + i64::from(c.day) - 1 + days;
    let local = day_count * 86_400
        + i64::from(c.hour) * 3600
        + i64::from(c.minute) * 60
        + i64::from(c.second);
    let shifted = Time::from_unix(
        local - i64::from(t.offset()),
        t.subsec_nanos(),
        TimeKind::Go,
    );
    shifted.with_zone(t.zone().cloned())
}

/// Go's `Time.Truncate`/`Round` (relative to the zero time).
fn truncate_round(t: &Time, d: i64, round: bool) -> Time {
    let base = t.clone().with_kind(TimeKind::Go);
    if d <= 0 {
        return base;
    }
    let since_zero = i128::from(t.unix() - crate::value::ZERO_UNIX) * 1_000_000_000
        + i128::from(t.subsec_nanos());
    let r = since_zero.rem_euclid(i128::from(d));
    let r = i64::try_from(r).unwrap_or(0);
    if round && r + r >= d {
        base.add_nanos(d - r)
    } else {
        base.add_nanos(-r)
    }
}

impl<'t> Exec<'t, '_> {
    /// Calls method `name` on a time-like receiver.
    pub(super) fn eval_method(
        &mut self,
        dot: &Ev,
        recv: &Value,
        name: &str,
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        let rest = args.get(1..).unwrap_or(&[]);
        let nargs = rest.len() + usize::from(fin.is_some());
        let sig: Option<&'static [Param]> = match (recv, name) {
            (Value::Time(_), "Format") => Some(&[Param::Str]),
            (Value::Time(_), "Add" | "Truncate" | "Round") => Some(&[Param::Any]),
            (Value::Time(_), "AddDate") => Some(&[Param::Int, Param::Int, Param::Int]),
            (Value::Time(_), "Sub" | "Before" | "After" | "Equal" | "Compare") => {
                Some(&[Param::Any])
            }
            (Value::Duration(_), "Round" | "Truncate") => Some(&[Param::Any]),
            _ => None,
        };
        let params: &[Param] = sig.unwrap_or(&[]);
        let is_method = sig.is_some() || self.is_zero_arg_method(recv, name);
        if !is_method {
            return Err(self.error(format!(
                "can't evaluate field {name} in type {}",
                recv.type_name()
            )));
        }
        self.check_arity(name, params, None, rest.len(), fin.is_some())?;
        let argv = if nargs > 0 {
            self.build_args(dot, params, None, rest, fin)?
        } else {
            super::ArgBuf::with_capacity(0)
        };
        let argv = argv.as_slice();
        let result = match recv {
            Value::Time(t) => self.time_method(t, name, argv)?,
            Value::Duration(d) => self.duration_method(d.0, name, argv)?,
            Value::Named(n) => Value::String(n.go_string().into()),
            _ => Value::Nil,
        };
        Ok(Some(result))
    }

    fn is_zero_arg_method(&self, recv: &Value, name: &str) -> bool {
        match recv {
            Value::Time(t) => {
                matches!(
                    name,
                    "Unix"
                        | "UnixMilli"
                        | "UnixMicro"
                        | "UnixNano"
                        | "UTC"
                        | "Local"
                        | "Year"
                        | "Month"
                        | "Day"
                        | "Hour"
                        | "Minute"
                        | "Second"
                        | "Nanosecond"
                        | "YearDay"
                        | "Weekday"
                        | "IsZero"
                        | "String"
                ) || (name == "Time" && t.kind() != TimeKind::Go)
            }
            Value::Duration(_) => matches!(
                name,
                "Hours"
                    | "Minutes"
                    | "Seconds"
                    | "Milliseconds"
                    | "Microseconds"
                    | "Nanoseconds"
                    | "String"
                    | "Abs"
            ),
            Value::Named(_) => name == "String",
            _ => false,
        }
    }

    fn time_method(&mut self, t: &Time, name: &str, argv: &[Ev]) -> EResult<Value> {
        let c = || civil(t.unix(), t.subsec_nanos(), t.offset());
        let go = || t.clone().with_kind(TimeKind::Go);
        Ok(match name {
            "Unix" => Value::Int(t.unix()),
            "UnixMilli" => Value::Int(t.unix_milli()),
            "UnixMicro" => Value::Int(t.unix_micro()),
            "UnixNano" => Value::Int(t.unix_nano()),
            "UTC" | "Local" => Value::Time(go().utc()),
            "Time" => Value::Time(go()),
            "Year" => Value::Int(c().year),
            "Month" => Value::Named(NamedInt {
                kind: NamedKind::Month,
                value: i64::from(c().month),
            }),
            "Day" => Value::Int(i64::from(c().day)),
            "Hour" => Value::Int(i64::from(c().hour)),
            "Minute" => Value::Int(i64::from(c().minute)),
            "Second" => Value::Int(i64::from(c().second)),
            "Nanosecond" => Value::Int(i64::from(t.subsec_nanos())),
            "YearDay" => Value::Int(i64::from(c().yday)),
            "Weekday" => Value::Named(NamedInt {
                kind: NamedKind::Weekday,
                value: i64::from(c().weekday),
            }),
            "IsZero" => Value::Bool(t.is_zero()),
            "String" => Value::String(gotime::time_string(t).into()),
            "Format" => {
                let layout = argv.first().cloned().flatten();
                let layout = layout.as_ref().and_then(Value::as_str).unwrap_or("");
                Value::String(gotime::format(t, layout).into())
            }
            "Add" | "Truncate" | "Round" => {
                let Some(d) = argv.first().and_then(duration_arg) else {
                    return Err(self.duration_type_error(argv.first()));
                };
                match name {
                    "Add" => Value::Time(go().add_nanos(d)),
                    "Truncate" => Value::Time(truncate_round(t, d, false)),
                    _ => Value::Time(truncate_round(t, d, true)),
                }
            }
            "AddDate" => {
                let n = |i: usize| match argv.get(i) {
                    Some(Some(Value::Int(v))) => *v,
                    Some(Some(Value::Uint(u))) => i64::try_from(*u).unwrap_or(0),
                    _ => 0,
                };
                Value::Time(add_date(t, n(0), n(1), n(2)))
            }
            _ => {
                let Some(u) = argv.first().and_then(time_arg) else {
                    let got = argv
                        .first()
                        .cloned()
                        .flatten()
                        .map_or_else(|| "<nil>".into(), |v| v.type_name());
                    return Err(self.error(format!(
                        "wrong type for value; expected time.Time; got {got}"
                    )));
                };
                let ord = t.cmp_instant(u);
                match name {
                    "Sub" => Value::Duration(Duration(t.sub_nanos(u))),
                    "Before" => Value::Bool(ord.is_lt()),
                    "After" => Value::Bool(ord.is_gt()),
                    "Equal" => Value::Bool(ord.is_eq()),
                    _ => Value::Int(match ord {
                        std::cmp::Ordering::Less => -1,
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 1,
                    }),
                }
            }
        })
    }

    fn duration_type_error(&self, v: Option<&Ev>) -> crate::error::ExecError {
        let got = v
            .cloned()
            .flatten()
            .map_or_else(|| "<nil>".into(), |v| v.type_name());
        self.error(format!(
            "wrong type for value; expected time.Duration; got {got}"
        ))
    }

    fn duration_method(&mut self, d: i64, name: &str, argv: &[Ev]) -> EResult<Value> {
        let secs = |unit: f64| {
            let whole = d / 1_000_000_000;
            let frac = d % 1_000_000_000;
            (whole as f64 + frac as f64 / 1e9) / unit
        };
        Ok(match name {
            "Hours" => Value::Float(secs(3600.0)),
            "Minutes" => Value::Float(secs(60.0)),
            "Seconds" => Value::Float(secs(1.0)),
            "Milliseconds" => Value::Int(d / 1_000_000),
            "Microseconds" => Value::Int(d / 1_000),
            "Nanoseconds" => Value::Int(d),
            "String" => Value::String(format_duration(d).into()),
            "Abs" => Value::Duration(Duration(if d == i64::MIN { i64::MAX } else { d.abs() })),
            _ => {
                let Some(m) = argv.first().and_then(duration_arg) else {
                    return Err(self.duration_type_error(argv.first()));
                };
                if name == "Round" {
                    Value::Duration(Duration(round_duration(d, m)))
                } else if m <= 0 {
                    Value::Duration(Duration(d))
                } else {
                    Value::Duration(Duration(d - d % m))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_date_normalises_like_go() {
        // 2024-01-31 + 1 month = 2024-03-02 (February has 29 days).
        let t = crate::gotime::parse_in_utc("2006-01-02", "2024-01-31").unwrap();
        let u = add_date(&t, 0, 1, 0);
        assert_eq!(crate::gotime::format(&u, "2006-01-02"), "2024-03-02");
        let v = add_date(&t, -1, 0, 1);
        assert_eq!(crate::gotime::format(&v, "2006-01-02"), "2023-02-01");
    }

    #[test]
    fn truncate_and_round() {
        let t = crate::gotime::parse_in_utc("15:04:05.000", "10:17:45.600").unwrap();
        let m = 60_000_000_000;
        assert_eq!(
            crate::gotime::format(&truncate_round(&t, m, false), "15:04:05"),
            "10:17:00"
        );
        assert_eq!(
            crate::gotime::format(&truncate_round(&t, m, true), "15:04:05"),
            "10:18:00"
        );
    }
}
