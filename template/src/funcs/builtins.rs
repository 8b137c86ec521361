//! Go `text/template` builtins: `and or not len index print printf println html
//! js urlquery eq ne lt le gt ge call` (`slice` comes from sprig, which
//! overrides it).

use super::{Ctx, Ev, FuncDef, Imp, Param, v};
use crate::value::Value;

const R: Param = Param::Reflect;

pub(crate) const FUNCS: &[FuncDef] = &[
    FuncDef {
        name: "and",
        params: &[R],
        variadic: Some(R),
        imp: Imp::And,
    },
    FuncDef {
        name: "or",
        params: &[R],
        variadic: Some(R),
        imp: Imp::Or,
    },
    FuncDef {
        name: "call",
        params: &[R],
        variadic: Some(R),
        imp: Imp::Call,
    },
    FuncDef {
        name: "not",
        params: &[R],
        variadic: None,
        imp: Imp::Raw(not),
    },
    FuncDef {
        name: "len",
        params: &[R],
        variadic: None,
        imp: Imp::Raw(len),
    },
    FuncDef {
        name: "index",
        params: &[R],
        variadic: Some(R),
        imp: Imp::Raw(index),
    },
    FuncDef {
        name: "eq",
        params: &[R],
        variadic: Some(R),
        imp: Imp::Raw(eq_fn),
    },
    FuncDef {
        name: "ne",
        params: &[R, R],
        variadic: None,
        imp: Imp::Raw(ne),
    },
    FuncDef {
        name: "lt",
        params: &[R, R],
        variadic: None,
        imp: Imp::Raw(lt_fn),
    },
    FuncDef {
        name: "le",
        params: &[R, R],
        variadic: None,
        imp: Imp::Raw(le_fn),
    },
    FuncDef {
        name: "gt",
        params: &[R, R],
        variadic: None,
        imp: Imp::Raw(gt),
    },
    FuncDef {
        name: "ge",
        params: &[R, R],
        variadic: None,
        imp: Imp::Raw(ge),
    },
    v("print", &[], Param::Any, print),
    v("printf", &[Param::Str], Param::Any, printf),
    v("println", &[], Param::Any, println),
    v("html", &[], Param::Any, html),
    v("js", &[], Param::Any, js),
    v("urlquery", &[], Param::Any, urlquery),
];

fn truth(v: &Ev) -> bool {
    v.as_ref().is_some_and(Value::is_true)
}

fn not(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    Ok(Some(Value::Bool(!truth(&a[0]))))
}

fn len(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    let n = match &a[0] {
        None => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Some(Value::Nil) => return Err("len of nil pointer".into()),
        Some(Value::String(s)) => s.len(),
        Some(Value::Bytes(b)) => b.len(),
        Some(Value::List(l)) => l.len(),
        Some(Value::Map(m)) => m.len(),
        Some(other) => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Some(Value::Int(i64::try_from(n).unwrap_or(i64::MAX))))
}

fn index_arg(index: &Ev, cap: usize) -> Result<usize, String> {
    let x: i128 = match index {
        Some(Value::Int(i)) => i128::from(*i),
        Some(Value::Uint(u)) => i128::from(*u),
        Some(Value::Duration(d)) => i128::from(d.0),
        Some(Value::Named(n)) => i128::from(n.value),
        None | Some(Value::Nil) => return Err("cannot index slice/array with nil".into()),
        Some(other) => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x > i128::try_from(cap).unwrap_or(i128::MAX) {
        return Err(format!("index out of range: {x}"));
    }
    usize::try_from(x).map_err(|_| format!("index out of range: {x}"))
}

/// Go's `index` builtin.
pub(crate) fn index(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    let Some(mut item) = a[0].clone() else {
        return Err("index of untyped nil".into());
    };
    let mut current: Ev = Some(item.clone());
    for idx in &a[1..] {
        item = match current {
            None | Some(Value::Nil) => return Err("index of nil pointer".into()),
            Some(v) => v,
        };
        current = match &item {
            Value::List(l) => {
                let x = index_arg(idx, l.len())?;
                let e = l
                    .items()
                    .get(x)
                    .ok_or("reflect: slice index out of range")?;
                if e.is_nil() { None } else { Some(e.clone()) }
            }
            Value::Bytes(b) => {
                let x = index_arg(idx, b.len())?;
                let e = b.get(x).ok_or("reflect: slice index out of range")?;
                Some(Value::Uint(u64::from(*e)))
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                let e = s
                    .as_bytes()
                    .get(x)
                    .ok_or("reflect: string index out of range")?;
                Some(Value::Uint(u64::from(*e)))
            }
            Value::Map(m) => {
                let key = match idx {
                    Some(Value::String(k)) => k,
                    None | Some(Value::Nil) => {
                        return Err("value is nil; should be of type string".into());
                    }
                    Some(other) => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                match m.get(key) {
                    Some(Value::Nil) => None,
                    Some(v) => Some(v),
                    None => m.elem().zero(),
                }
            }
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(current)
}

// === comparison ===

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

fn basic_kind(v: &Ev) -> Kind {
    match v {
        Some(Value::Bool(_)) => Kind::Bool,
        Some(Value::Int(_) | Value::Duration(_) | Value::Named(_)) => Kind::Int,
        Some(Value::Uint(_)) => Kind::Uint,
        Some(Value::Float(_)) => Kind::Float,
        Some(Value::String(_)) => Kind::String,
        _ => Kind::Invalid,
    }
}

fn as_int(v: &Ev) -> i64 {
    match v {
        Some(Value::Int(i)) => *i,
        Some(Value::Duration(d)) => d.0,
        Some(Value::Named(n)) => n.value,
        _ => 0,
    }
}

fn as_uint(v: &Ev) -> u64 {
    match v {
        Some(Value::Uint(u)) => *u,
        _ => 0,
    }
}

fn as_float(v: &Ev) -> f64 {
    match v {
        Some(Value::Float(f)) => *f,
        _ => 0.0,
    }
}

fn as_str(v: &Ev) -> &str {
    v.as_ref().and_then(Value::as_str).unwrap_or("")
}

/// The `reflect.Kind` name used to decide whether two values can be compared.
fn reflect_kind(v: &Ev) -> &'static str {
    match v {
        None => "invalid",
        Some(Value::Nil) => "ptr",
        Some(v) => v.kind_name(),
    }
}

fn comparable(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Map(_) | Value::Bytes(_) => false,
        Value::Struct(s) => s.values().iter().all(comparable),
        _ => true,
    }
}

/// Go's `==` on comparable values.
fn go_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Named(x), Value::Named(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Struct(x), Value::Struct(y)) => {
            x.type_name() == y.type_name()
                && x.values().len() == y.values().len()
                && x.values()
                    .iter()
                    .zip(y.values())
                    .all(|(a, b)| go_equal(a, b))
        }
        _ => false,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn show(v: &Ev) -> String {
    v.as_ref()
        .map_or_else(|| "<invalid reflect.Value>".into(), crate::fmt::to_string_v)
}

fn type_of(v: &Ev) -> String {
    v.as_ref()
        .map_or_else(|| "<nil>".into(), |v| v.type_name().into_owned())
}

fn eq(a1: &Ev, rest: &[Ev]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a1);
    for a in rest {
        let k2 = basic_kind(a);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) => as_int(a1) >= 0 && as_int(a1) as u64 == as_uint(a),
                (Kind::Uint, Kind::Int) => as_int(a) >= 0 && as_uint(a1) == as_int(a) as u64,
                _ => {
                    if a1.is_some() && a.is_some() {
                        return Err(BAD_COMPARISON.into());
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => truth(a1) == truth(a),
                Kind::Float => as_float(a1) == as_float(a),
                Kind::Int => as_int(a1) == as_int(a),
                Kind::String => as_str(a1) == as_str(a),
                Kind::Uint => as_uint(a1) == as_uint(a),
                Kind::Invalid => {
                    let (r1, r2) = (reflect_kind(a1), reflect_kind(a));
                    if r1 != r2 && r1 != "invalid" && r2 != "invalid" {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            show(a1),
                            type_of(a1),
                            type_of(a),
                            show(a)
                        ));
                    }
                    let nil1 = matches!(a1, None | Some(Value::Nil));
                    let nil2 = matches!(a, None | Some(Value::Nil));
                    if nil1 || nil2 {
                        nil1 == nil2
                    } else {
                        let (Some(x), Some(y)) = (a1, a) else {
                            return Ok(false);
                        };
                        if !comparable(y) {
                            return Err(format!("non-comparable type {}: {}", show(a), type_of(a)));
                        }
                        go_equal(x, y)
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a1: &Ev, a2: &Ev) -> Result<bool, String> {
    let k1 = basic_kind(a1);
    if k1 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    let k2 = basic_kind(a2);
    if k2 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => Ok(as_int(a1) < 0 || (as_int(a1) as u64) < as_uint(a2)),
            (Kind::Uint, Kind::Int) => Ok(as_int(a2) >= 0 && as_uint(a1) < as_int(a2) as u64),
            _ => Err(BAD_COMPARISON.into()),
        };
    }
    Ok(match k1 {
        Kind::Bool | Kind::Invalid => return Err(BAD_COMPARISON_TYPE.into()),
        Kind::Float => as_float(a1) < as_float(a2),
        Kind::Int => as_int(a1) < as_int(a2),
        Kind::String => as_str(a1) < as_str(a2),
        Kind::Uint => as_uint(a1) < as_uint(a2),
    })
}

fn le(a1: &Ev, a2: &Ev) -> Result<bool, String> {
    if lt(a1, a2)? {
        return Ok(true);
    }
    eq(a1, std::slice::from_ref(a2))
}

fn b(x: bool) -> Ev {
    Some(Value::Bool(x))
}

fn eq_fn(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    eq(&a[0], &a[1..]).map(b)
}

fn ne(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    eq(&a[0], &a[1..2]).map(|x| b(!x))
}

fn lt_fn(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    lt(&a[0], &a[1]).map(b)
}

fn le_fn(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    le(&a[0], &a[1]).map(b)
}

fn gt(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    le(&a[0], &a[1]).map(|x| b(!x))
}

fn ge(_: &Ctx<'_>, a: &[Ev]) -> Result<Ev, String> {
    lt(&a[0], &a[1]).map(|x| b(!x))
}

// === printing ===

fn print(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut s = String::new();
    crate::fmt::sprint(&mut s, a);
    c.check_size(s.len())?;
    super::s(s)
}

fn printf(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut s = String::new();
    crate::fmt::sprintf(&mut s, super::arg_str(a, 0), &a[1..]);
    c.check_size(s.len())?;
    super::s(s)
}

fn println(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut s = String::new();
    crate::fmt::sprintln(&mut s, a);
    c.check_size(s.len())?;
    super::s(s)
}

/// Go's `evalArgs` for the escapers: nil prints as `<no value>`.
fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.to_string();
    }
    let printable: Vec<Value> = a
        .iter()
        .map(|v| match v {
            Value::Nil => Value::from("<no value>"),
            Value::Struct(s) if s.is_pointer() => {
                Value::Struct(std::sync::Arc::new(s.without_pointer()))
            }
            other => other.clone(),
        })
        .collect();
    let mut s = String::new();
    crate::fmt::sprint(&mut s, &printable);
    s
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_ascii() || crate::fmt::quote::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

fn html(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    super::s(html_escape(&eval_args(a)))
}

fn js(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    super::s(js_escape(&eval_args(a)))
}

fn urlquery(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    super::s(crate::funcs::sprig::query_escape(&eval_args(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use crate::value::List;

    fn ctx() -> Ctx<'static> {
        static L: Limits = Limits::DEFAULT;
        Ctx { limits: &L }
    }

    #[test]
    fn comparisons() {
        let i = |x| Some(Value::Int(x));
        assert_eq!(eq(&i(1), &[i(2), i(1)]), Ok(true));
        assert_eq!(eq(&i(1), &[Some(Value::Uint(1))]), Ok(true));
        assert_eq!(eq(&i(1), &[Some("a".into())]), Err(BAD_COMPARISON.into()));
        assert_eq!(eq(&None, &[Some("a".into())]), Ok(false));
        assert_eq!(eq(&None, &[None]), Ok(true));
        let m = Some(Value::map([("a", Value::Int(1))]));
        assert_eq!(
            eq(&m, std::slice::from_ref(&m)),
            Err("non-comparable type map[a:1]: map[string]interface {}".into())
        );
        assert_eq!(lt(&i(1), &i(2)), Ok(true));
        assert_eq!(lt(&Some("b".into()), &Some("a".into())), Ok(false));
        assert_eq!(
            lt(&Some(Value::Bool(true)), &Some(Value::Bool(false))),
            Err(BAD_COMPARISON_TYPE.into())
        );
        assert_eq!(lt(&i(-1), &Some(Value::Uint(0))), Ok(true));
        assert_eq!(le(&i(2), &i(2)), Ok(true));
        assert_eq!(lt(&None, &i(2)), Err(BAD_COMPARISON_TYPE.into()));
    }

    #[test]
    fn index_rules() {
        let l = Some(Value::List(List::from_values(vec![
            Value::Int(1),
            Value::Nil,
        ])));
        assert!(matches!(
            index(&ctx(), &[l.clone(), Some(Value::Int(0))]),
            Ok(Some(Value::Int(1)))
        ));
        assert!(matches!(
            index(&ctx(), &[l.clone(), Some(Value::Int(1))]),
            Ok(None)
        ));
        assert_eq!(
            index(&ctx(), &[l.clone(), Some(Value::Int(5))]).unwrap_err(),
            "index out of range: 5"
        );
        assert_eq!(
            index(&ctx(), &[l.clone(), Some(Value::Int(2))]).unwrap_err(),
            "reflect: slice index out of range"
        );
        assert_eq!(index(&ctx(), &[None]).unwrap_err(), "index of untyped nil");
        let labels = Some(Value::string_map([("app", "web")]));
        assert!(
            matches!(index(&ctx(), &[labels.clone(), Some("x".into())]), Ok(Some(Value::String(s))) if s.is_empty())
        );
        assert_eq!(
            index(&ctx(), &[labels, Some(Value::Int(1))]).unwrap_err(),
            "value has type int; should be string"
        );
    }

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("it's <b>\"x\"</b>=\n"),
            "it\\'s \\u003Cb\\u003E\\\"x\\\"\\u003C/b\\u003E\\u003D\\u000A"
        );
        assert_eq!(eval_args(&[Value::Nil]), "<no value>");
    }
}
