//! `strconv.FormatFloat` for `float64` (`'e' 'E' 'f' 'g' 'G'`, shortest or with
//! a precision) and `encoding/json`'s float encoding. Digit generation is
//! delegated to Rust's exact, round-half-even float formatting; the layout of
//! the digits follows Go's `formatDigits`.

/// Decimal digits `0.d1d2... × 10^dp` with trailing zeros trimmed.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

/// Parses Rust's `{:e}` output of a non-negative finite float.
fn from_exp(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

fn shortest(v: f64) -> Digits {
    from_exp(&format!("{v:e}"))
}

fn significant(v: f64, n: usize) -> Digits {
    from_exp(&format!("{:.*e}", n.saturating_sub(1), v))
}

fn fmt_e(out: &mut String, d: &Digits, prec: usize, e: char) {
    out.push(char::from(d.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(d.d.get(i).copied().unwrap_or(b'0')));
        }
    }
    out.push(e);
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Digits, prec: usize) {
    if d.dp > 0 {
        let dp = usize::try_from(d.dp).unwrap_or(0);
        for i in 0..dp {
            out.push(char::from(d.d.get(i).copied().unwrap_or(b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = i64::from(d.dp) + i64::try_from(i).unwrap_or(0) - 1;
            let ch = usize::try_from(j)
                .ok()
                .and_then(|j| d.d.get(j).copied())
                .unwrap_or(b'0');
            out.push(char::from(ch));
        }
    }
}

/// `strconv.FormatFloat(v, fmt, prec, 64)`; `prec < 0` means shortest.
pub(crate) fn format_float(v: f64, fmt: u8, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let mut out = String::with_capacity(24);
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    let shortest_mode = prec < 0;
    let prec_u = usize::try_from(prec).unwrap_or(0);
    match fmt {
        b'f' | b'F' if !shortest_mode => {
            out.push_str(&format!("{a:.prec_u$}"));
        }
        b'f' | b'F' => {
            let d = shortest(a);
            let p = (i64::try_from(d.d.len()).unwrap_or(0) - i64::from(d.dp)).max(0);
            fmt_f(&mut out, &d, usize::try_from(p).unwrap_or(0));
        }
        b'e' | b'E' => {
            let e = char::from(fmt);
            if shortest_mode {
                let d = shortest(a);
                fmt_e(&mut out, &d, d.d.len().saturating_sub(1), e);
            } else {
                let d = significant(a, prec_u + 1);
                fmt_e(&mut out, &d, prec_u, e);
            }
        }
        _ => {
            // 'g' / 'G'
            let e = if fmt == b'G' { 'E' } else { 'e' };
            let (d, mut p) = if shortest_mode {
                let d = shortest(a);
                let n = d.d.len();
                (d, n)
            } else {
                let p = prec_u.max(1);
                (significant(a, p), p)
            };
            let nd = d.d.len();
            let mut eprec = p;
            if eprec > nd && i64::try_from(nd).unwrap_or(0) >= i64::from(d.dp) {
                eprec = nd;
            }
            if shortest_mode {
                eprec = 6;
            }
            let exp = i64::from(d.dp) - 1;
            if exp < -4 || exp >= i64::try_from(eprec).unwrap_or(0) {
                if p > nd {
                    p = nd;
                }
                fmt_e(&mut out, &d, p.saturating_sub(1), e);
            } else {
                if i64::try_from(p).unwrap_or(0) > i64::from(d.dp) {
                    p = nd;
                }
                let fp = (i64::try_from(p).unwrap_or(0) - i64::from(d.dp)).max(0);
                fmt_f(&mut out, &d, usize::try_from(fp).unwrap_or(0));
            }
        }
    }
    out
}

/// `encoding/json`'s float encoding (ES6 number to string); `None` for NaN and
/// infinities, which Go refuses to encode.
pub(crate) fn json_float(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let a = v.abs();
    let fmt = if a != 0.0 && !(1e-6..1e21).contains(&a) {
        b'e'
    } else {
        b'f'
    };
    let mut s = format_float(v, fmt, -1);
    if fmt == b'e' {
        // e-09 → e-9
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_g_matches_go_v() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (2.34567, "2.34567"),
            (100.0, "100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v, b'g', -1), want, "{v}");
        }
    }

    #[test]
    fn precision_modes() {
        assert_eq!(format_float(2.34567, b'f', 2), "2.35");
        assert_eq!(format_float(2.5, b'f', 0), "2");
        assert_eq!(format_float(1234.5678, b'e', 3), "1.235e+03");
        assert_eq!(format_float(0.0, b'e', 6), "0.000000e+00");
        assert_eq!(format_float(1234.5678, b'g', 3), "1.23e+03");
        assert_eq!(format_float(1.0, b'g', 3), "1");
        assert_eq!(format_float(0.000012345, b'g', 2), "1.2e-05");
        assert_eq!(format_float(123.0, b'e', -1), "1.23e+02");
        assert_eq!(format_float(1e100, b'e', -1), "1e+100");
        assert_eq!(format_float(12.5, b'f', -1), "12.5");
        assert_eq!(format_float(100.0, b'G', 2), "1E+02");
    }

    #[test]
    fn json_floats_match_encoding_json() {
        assert_eq!(json_float(1.0).as_deref(), Some("1"));
        assert_eq!(json_float(1e21).as_deref(), Some("1e+21"));
        assert_eq!(json_float(1e20).as_deref(), Some("100000000000000000000"));
        assert_eq!(json_float(0.000001).as_deref(), Some("0.000001"));
        assert_eq!(json_float(0.0000001).as_deref(), Some("1e-7"));
        assert_eq!(json_float(-2.5).as_deref(), Some("-2.5"));
        assert_eq!(json_float(f64::NAN), None);
    }
}

/// Splits a finite float into Go's (mantissa, unbiased exponent) for `%b`/`%x`.
fn mant_exp(v: f64) -> (u64, i32) {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1 << 52) - 1);
    let exp = if exp == 0 {
        1 - 1023
    } else {
        mant |= 1 << 52;
        exp - 1023
    };
    (mant, exp)
}

/// `strconv.FormatFloat(v, 'b', -1, 64)`: `4503599627370496p-52`.
pub(crate) fn format_float_b(v: f64) -> String {
    if !v.is_finite() {
        return format_float(v, b'g', -1);
    }
    let (mant, exp) = mant_exp(v);
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let e = exp - 52;
    let esign = if e >= 0 { "+" } else { "-" };
    format!("{sign}{mant}p{esign}{}", e.unsigned_abs())
}

/// `strconv.FormatFloat(v, 'x' | 'X', prec, 64)`: `0x1.8p+01`.
pub(crate) fn format_float_x(v: f64, upper: bool, prec: i32) -> String {
    if !v.is_finite() {
        return format_float(v, b'g', -1);
    }
    let (mut mant, mut exp) = mant_exp(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

#[cfg(test)]
mod binary_tests {
    use super::*;

    #[test]
    fn binary_and_hex_forms() {
        assert_eq!(format_float_b(1.0), "4503599627370496p-52");
        assert_eq!(format_float_x(1.0, false, -1), "0x1p+00");
        assert_eq!(format_float_x(3.0, false, -1), "0x1.8p+01");
        assert_eq!(format_float_x(-0.5, true, -1), "-0X1P-01");
        assert_eq!(format_float_x(1.0, false, 2), "0x1.00p+00");
    }
}
