//! Type conversions shared by sprig functions: `spf13/cast` v1.3 (`toInt64`,
//! `toFloat64`), sprig's `strval`, and `strslice`.

use crate::value::Value;

/// Go's `strconv.ParseInt(s, 0, 64)` (base prefixes, `_` separators).
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    crate::parse::parse_int0(s)
}

/// Go's `strconv.ParseFloat(s, 64)`, including `Inf`/`NaN` spellings.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let neg = s.starts_with('-');
        return Some(match lower.as_str() {
            "nan" => f64::NAN,
            _ if neg => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        });
    }
    crate::parse::parse_float(s)
}

/// `cast.ToInt64`: numbers convert, strings parse with base prefixes, bools
/// are 0/1, everything else (including nil and durations) is 0.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Uint(u) => *u as i64,
        Value::Float(f) => *f as i64,
        Value::String(s) => parse_int_base0(s).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// sprig's `strval`: strings as-is, `[]byte` as text, Stringers via
/// `String()`, everything else with `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => crate::fmt::to_string_v(other),
    }
}

/// sprig's `strslice`: a slice's non-nil elements as strings; nil → empty; any
/// other value → a one-element slice.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .items()
            .iter()
            .filter(|x| !x.is_nil())
            .map(strval)
            .collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_semantics() {
        assert_eq!(to_int64(&Value::from("0x1F")), 31);
        assert_eq!(to_int64(&Value::from("010")), 8);
        assert_eq!(to_int64(&Value::from("-12")), -12);
        assert_eq!(to_int64(&Value::from("1.5")), 0);
        assert_eq!(to_int64(&Value::Float(2.9)), 2);
        assert_eq!(to_int64(&Value::Bool(true)), 1);
        assert_eq!(to_int64(&Value::Nil), 0);
        assert_eq!(to_float64(&Value::from("2.5")), 2.5);
        assert_eq!(to_float64(&Value::from("x")), 0.0);
        assert_eq!(to_float64(&Value::Int(3)), 3.0);
        assert_eq!(parse_int_base0("1_000"), Some(1000));
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("_1"), None);
    }

    #[test]
    fn strval_and_strslice() {
        assert_eq!(strval(&Value::Int(5)), "5");
        assert_eq!(strval(&Value::Nil), "<nil>");
        assert_eq!(
            strslice(&Value::list([Value::Int(1), Value::Nil, Value::from("a")])),
            vec!["1", "a"]
        );
        assert_eq!(strslice(&Value::from("x")), vec!["x"]);
        assert!(strslice(&Value::Nil).is_empty());
    }
}
