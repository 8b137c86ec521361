//! sprig conversion and math: `atoi int int64 float64 toDecimal seq until
//! untilStep add add1 sub div mod mul max biggest min maxf minf ceil floor
//! round randInt` and the decimal-exact float functions `addf add1f subf divf
//! mulf`.

use rand::Rng;

use super::conv::{to_float64, to_int64};
use crate::funcs::{Ctx, FuncDef, Param, arg_int, arg_str, f, v};
use crate::value::{ElemType, List, Value};

const A: Param = Param::Any;
const I: Param = Param::Int;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("atoi", &[Param::Str], atoi),
    f("int", &[A], int),
    f("int64", &[A], int),
    f("float64", &[A], float64),
    f("toDecimal", &[A], to_decimal),
    v("seq", &[], I, seq),
    f("until", &[I], until),
    f("untilStep", &[I, I, I], until_step),
    f("add1", &[A], add1),
    v("add", &[], A, add),
    f("sub", &[A, A], sub),
    f("div", &[A, A], div),
    f("mod", &[A, A], modulo),
    v("mul", &[A], A, mul),
    v("max", &[A], A, max),
    v("biggest", &[A], A, max),
    v("min", &[A], A, min),
    v("maxf", &[A], A, maxf),
    v("minf", &[A], A, minf),
    f("ceil", &[A], ceil),
    f("floor", &[A], floor),
    v("round", &[A, I], Param::Float, round),
    f("randInt", &[I, I], rand_int),
    f("add1f", &[A], add1f),
    v("addf", &[], A, addf),
    v("subf", &[A], A, subf),
    v("divf", &[A], A, divf),
    v("mulf", &[A], A, mulf),
];

fn atoi(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    // strconv.Atoi: base 10, optional sign, no separators; errors give 0.
    let s = arg_str(a, 0);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    Ok(Value::Int(if ok { s.parse().unwrap_or(0) } else { 0 }))
}

fn int(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(to_int64(&a[0])))
}

fn float64(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Float(to_float64(&a[0])))
}

fn to_decimal(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = crate::fmt::to_string_v(&a[0]);
    let n = i64::from_str_radix(&s, 8).unwrap_or(0);
    Ok(Value::Int(n))
}

/// sprig's `untilStep`, refusing sequences beyond the iteration budget.
fn steps(c: &Ctx<'_>, start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let count: i128 = if stop < start {
        if step >= 0 {
            return Ok(Vec::new());
        }
        (i128::from(start) - i128::from(stop) + i128::from(-step) - 1) / i128::from(-step)
    } else {
        if step <= 0 {
            return Ok(Vec::new());
        }
        (i128::from(stop) - i128::from(start) + i128::from(step) - 1) / i128::from(step)
    };
    c.check_len(u64::try_from(count).unwrap_or(u64::MAX))?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut i = start;
    for _ in 0..count {
        out.push(i);
        i = i.wrapping_add(step);
    }
    Ok(out)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::List(List::new(
        ElemType::Int,
        v.into_iter().map(Value::Int).collect(),
    ))
}

fn until(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let count = arg_int(a, 0);
    let step = if count < 0 { -1 } else { 1 };
    Ok(int_list(steps(c, 0, count, step)?))
}

fn until_step(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(int_list(steps(
        c,
        arg_int(a, 0),
        arg_int(a, 1),
        arg_int(a, 2),
    )?))
}

fn seq(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let p: Vec<i64> = (0..a.len()).map(|i| arg_int(a, i)).collect();
    let list = match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            steps(c, 1, end.wrapping_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            steps(c, *start, end.wrapping_add(step), step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok(Value::from(""));
                }
            }
            steps(c, *start, end.wrapping_add(inc), *step)?
        }
        _ => Vec::new(),
    };
    let s: Vec<String> = list.iter().map(i64::to_string).collect();
    Ok(Value::from(s.join(" ")))
}

fn add1(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
}

fn add(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(
        a.iter().fold(0i64, |acc, x| acc.wrapping_add(to_int64(x))),
    ))
}

fn sub(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
}

const DIV_ZERO: &str = "runtime error: integer divide by zero";

fn div(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let d = to_int64(&a[1]);
    if d == 0 {
        return Err(DIV_ZERO.into());
    }
    Ok(Value::Int(to_int64(&a[0]).wrapping_div(d)))
}

fn modulo(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let d = to_int64(&a[1]);
    if d == 0 {
        return Err(DIV_ZERO.into());
    }
    Ok(Value::Int(to_int64(&a[0]).wrapping_rem(d)))
}

fn mul(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(a[1..].iter().fold(to_int64(&a[0]), |acc, x| {
        acc.wrapping_mul(to_int64(x))
    })))
}

fn max(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(
        a.iter().map(to_int64).fold(to_int64(&a[0]), i64::max),
    ))
}

fn min(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Int(
        a.iter().map(to_int64).fold(to_int64(&a[0]), i64::min),
    ))
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

fn maxf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Float(
        a[1..]
            .iter()
            .map(to_float64)
            .fold(to_float64(&a[0]), go_max),
    ))
}

fn minf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Float(
        a[1..]
            .iter()
            .map(to_float64)
            .fold(to_float64(&a[0]), go_min),
    ))
}

fn ceil(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Float(to_float64(&a[0]).ceil()))
}

fn floor(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Float(to_float64(&a[0]).floor()))
}

fn round(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        _ => 0.5,
    };
    let val = to_float64(&a[0]);
    let places = arg_int(a, 1) as f64;
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}

fn rand_int(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (lo, hi) = (arg_int(a, 0), arg_int(a, 1));
    let n = hi.wrapping_sub(lo);
    if n <= 0 {
        return Err("invalid argument to Intn".into());
    }
    Ok(Value::Int(rand::rng().random_range(0..n) + lo))
}

// === decimal arithmetic (shopspring/decimal as sprig uses it) ===

/// `mant × 10^exp`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decimal {
    mant: i128,
    exp: i32,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that round-trips.
    fn from_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let s = format!("{:e}", f.abs());
        let (m, e) = s.split_once('e')?;
        let e: i32 = e.parse().ok()?;
        let frac_len = m.split_once('.').map_or(0, |(_, fr)| fr.len());
        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
        let mut mant: i128 = digits.parse().ok()?;
        if f.is_sign_negative() {
            mant = -mant;
        }
        Some(Decimal {
            mant,
            exp: e - i32::try_from(frac_len).ok()?,
        })
    }

    fn align(self, o: Decimal) -> Option<(i128, i128, i32)> {
        let exp = self.exp.min(o.exp);
        let a = self
            .mant
            .checked_mul(pow10(u32::try_from(self.exp - exp).ok()?)?)?;
        let b = o
            .mant
            .checked_mul(pow10(u32::try_from(o.exp - exp).ok()?)?)?;
        Some((a, b, exp))
    }

    fn add(self, o: Decimal) -> Option<Decimal> {
        let (a, b, exp) = self.align(o)?;
        Some(Decimal {
            mant: a.checked_add(b)?,
            exp,
        })
    }

    fn sub(self, o: Decimal) -> Option<Decimal> {
        let (a, b, exp) = self.align(o)?;
        Some(Decimal {
            mant: a.checked_sub(b)?,
            exp,
        })
    }

    fn mul(self, o: Decimal) -> Option<Decimal> {
        Some(Decimal {
            mant: self.mant.checked_mul(o.mant)?,
            exp: self.exp.checked_add(o.exp)?,
        })
    }

    /// `DivRound(o, 16)`: rounded half away from zero to 16 decimal places.
    fn div(self, o: Decimal) -> Option<Decimal> {
        const PREC: i32 = 16;
        let k = self.exp - o.exp + PREC;
        let (num, den) = if k >= 0 {
            (
                self.mant.checked_mul(pow10(u32::try_from(k).ok()?)?)?,
                o.mant,
            )
        } else {
            (
                self.mant,
                o.mant.checked_mul(pow10(u32::try_from(-k).ok()?)?)?,
            )
        };
        let q = num / den;
        let r = num % den;
        let q = if r.checked_abs()?.checked_mul(2)? >= den.checked_abs()? {
            if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
        } else {
            q
        };
        Some(Decimal {
            mant: q,
            exp: -PREC,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp).parse().unwrap_or(0.0)
    }
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// sprig's `execDecimalOp`: fold `rest` into `first` with exact decimal
/// arithmetic, falling back to float64 if a value does not fit.
fn decimal_op(first: f64, rest: &[Value], op: Op) -> Result<f64, String> {
    let mut acc = first;
    let mut dec = Decimal::from_f64(first);
    for x in rest {
        let y = to_float64(x);
        if matches!(op, Op::Div) && y == 0.0 {
            return Err("decimal division by 0".into());
        }
        let next = dec.zip(Decimal::from_f64(y)).and_then(|(a, b)| match op {
            Op::Add => a.add(b),
            Op::Sub => a.sub(b),
            Op::Mul => a.mul(b),
            Op::Div => a.div(b),
        });
        acc = match next {
            Some(d) => d.to_f64(),
            None => match op {
                Op::Add => acc + y,
                Op::Sub => acc - y,
                Op::Mul => acc * y,
                Op::Div => acc / y,
            },
        };
        dec = next.or_else(|| Decimal::from_f64(acc));
    }
    Ok(acc)
}

fn add1f(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    decimal_op(to_float64(&a[0]), &[Value::Int(1)], Op::Add).map(Value::Float)
}

fn addf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    decimal_op(0.0, a, Op::Add).map(Value::Float)
}

fn subf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    decimal_op(to_float64(&a[0]), &a[1..], Op::Sub).map(Value::Float)
}

fn divf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    decimal_op(to_float64(&a[0]), &a[1..], Op::Div).map(Value::Float)
}

fn mulf(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    decimal_op(to_float64(&a[0]), &a[1..], Op::Mul).map(Value::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_ops_are_exact() {
        assert_eq!(decimal_op(1.1, &[Value::Float(2.2)], Op::Add), Ok(3.3));
        assert_eq!(decimal_op(0.3, &[Value::Float(0.1)], Op::Sub), Ok(0.2));
        assert_eq!(decimal_op(1.1, &[Value::Int(3)], Op::Mul), Ok(3.3));
        assert_eq!(
            decimal_op(1.0, &[Value::Int(3)], Op::Div),
            Ok(0.3333333333333333)
        );
        assert_eq!(
            decimal_op(2.0, &[Value::Int(3)], Op::Div),
            Ok(0.6666666666666667)
        );
        assert_eq!(
            decimal_op(1.0, &[Value::Int(0)], Op::Div),
            Err("decimal division by 0".into())
        );
    }

    #[test]
    fn sequences() {
        let l = crate::Limits::DEFAULT;
        let c = Ctx { limits: &l };
        assert_eq!(steps(&c, 0, 5, 2), Ok(vec![0, 2, 4]));
        assert_eq!(steps(&c, 5, 0, -2), Ok(vec![5, 3, 1]));
        assert_eq!(steps(&c, 0, 5, 0), Ok(vec![]));
        assert!(steps(&c, 0, i64::MAX, 1).is_err());
        let s = seq(&c, &[Value::Int(3)]).unwrap();
        assert_eq!(s.as_str(), Some("1 2 3"));
        let s = seq(&c, &[Value::Int(5), Value::Int(-2), Value::Int(0)]).unwrap();
        assert_eq!(s.as_str(), Some("5 3 1"));
        let s = seq(&c, &[Value::Int(0)]).unwrap();
        assert_eq!(s.as_str(), Some("1 0"));
    }
}
