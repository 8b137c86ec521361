//! Resolution of plain (unquoted) YAML scalars to null, booleans, integers,
//! floats or strings, as goccy/go-yaml (kubernetes-event-exporter's parser)
//! does it.
//!
//! * null: empty, `~`, `null`, `Null`, `NULL`;
//! * booleans: `true`, `True`, `TRUE`, `false`, `False`, `FALSE`;
//! * integers: optional sign, `_` separators, `0x`, `0o`, `0b` prefixes, and a
//!   leading `0` meaning octal (`0755`); `09` is therefore a string;
//! * floats: exactly one `.` (`1.5`, `.5`, `-2.`), plus `.inf`/`.nan`
//!   spellings; `1e3` without a dot is a string, as in goccy.

/// A resolved plain scalar.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String,
}

/// Resolves the text of a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Plain {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    number(text).unwrap_or(Plain::String)
}

/// goccy's `toNumber`.
fn number(text: &str) -> Option<Plain> {
    let first = text.bytes().next()?;
    if !matches!(first, b'0'..=b'9' | b'+' | b'-' | b'.') {
        return None;
    }
    let dots = text.bytes().filter(|&b| b == b'.').count();
    if dots > 1 {
        return None;
    }
    let negative = first == b'-';
    let digits: String = text
        .trim_start_matches(['+', '-'])
        .chars()
        .filter(|&c| c != '_')
        .collect();
    let (body, radix) = if let Some(rest) = digits.strip_prefix("0x") {
        (rest, 16)
    } else if let Some(rest) = digits.strip_prefix("0o") {
        (rest, 8)
    } else if let Some(rest) = digits.strip_prefix("0b") {
        (rest, 2)
    } else if digits.starts_with('0') && digits.len() > 1 && dots == 0 {
        (&digits[1..], 8)
    } else if dots == 1 {
        return float(&digits, negative);
    } else {
        (digits.as_str(), 10)
    };
    // Rust's parser accepts a leading sign, Go's ParseUint does not.
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = match u64::from_str_radix(body, radix) {
        Ok(m) => m,
        // A number too large for any integer type is still a number (an integer
        // field then reports it out of range, never as a string).
        Err(e)
            if *e.kind() == std::num::IntErrorKind::PosOverflow
                && body.chars().all(|c| c.is_digit(radix)) =>
        {
            let approx = if radix == 10 {
                body.parse::<f64>().unwrap_or(f64::INFINITY)
            } else {
                body.chars().fold(0f64, |acc, c| {
                    acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
                })
            };
            return Some(Plain::Float(if negative { -approx } else { approx }));
        }
        Err(_) => return None,
    };
    if negative {
        // -9223372036854775808 is the only magnitude beyond i64::MAX that fits.
        if magnitude == i64::MIN.unsigned_abs() {
            return Some(Plain::Int(i64::MIN));
        }
        i64::try_from(magnitude).ok().map(|v| Plain::Int(-v))
    } else {
        Some(match i64::try_from(magnitude) {
            Ok(v) => Plain::Int(v),
            // Too large for i64: keep the magnitude as a float.
            Err(_) => Plain::Float(magnitude as f64),
        })
    }
}

/// A decimal with exactly one dot, as Go's `ParseFloat` reads it.
fn float(digits: &str, negative: bool) -> Option<Plain> {
    let valid = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b != b'+' && b != b'-');
    if !valid {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    Some(Plain::Float(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_goccy() {
        let cases: &[(&str, Plain)] = &[
            ("", Plain::Null),
            ("~", Plain::Null),
            ("NULL", Plain::Null),
            ("true", Plain::Bool(true)),
            ("False", Plain::Bool(false)),
            ("yes", Plain::String),
            ("on", Plain::String),
            ("8080", Plain::Int(8080)),
            ("-5", Plain::Int(-5)),
            ("+5", Plain::Int(5)),
            ("1_000", Plain::Int(1000)),
            ("0x1F", Plain::Int(31)),
            ("0o17", Plain::Int(15)),
            ("0b101", Plain::Int(5)),
            ("0755", Plain::Int(493)),
            ("0", Plain::Int(0)),
            ("09", Plain::String),
            ("1.5", Plain::Float(1.5)),
            (".5", Plain::Float(0.5)),
            ("-2.", Plain::Float(-2.0)),
            ("1.5e3", Plain::Float(1500.0)),
            ("1e3", Plain::String),
            ("1.2.3", Plain::String),
            ("1.2.3.4:80", Plain::String),
            (".", Plain::String),
            ("-", Plain::String),
            ("-.inf", Plain::Float(f64::NEG_INFINITY)),
            ("5s", Plain::String),
            ("0x", Plain::String),
            ("-9223372036854775808", Plain::Int(i64::MIN)),
            ("18446744073709551615", Plain::Float(18446744073709551615.0)),
            ("99999999999999999999", Plain::Float(99999999999999999999.0)),
            (
                "-99999999999999999999",
                Plain::Float(-99999999999999999999.0),
            ),
            ("0x1FFFFFFFFFFFFFFFF", Plain::Float(36893488147419103231.0)),
            ("99999999999999999999x", Plain::String),
            ("localhost:9092", Plain::String),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text:?}");
        }
        assert!(matches!(resolve_plain(".NaN"), Plain::Float(f) if f.is_nan()));
    }
}
