//! sprig list functions: `list tuple first rest last initial append push
//! prepend reverse uniq without has compact slice concat chunk` and their
//! `must*` twins (sprig's panicking and error-returning variants fail with the
//! same message).

use super::conv::to_int64;
use super::logic::deep_equal;
use crate::funcs::{Ctx, FuncDef, NIL_DEREF, Param, arg_int, f, v};
use crate::value::{ElemType, List, Value};

const A: Param = Param::Any;

pub(crate) const FUNCS: &[FuncDef] = &[
    v("list", &[], A, |_, a| {
        Ok(Value::List(List::from_values(a.to_vec())))
    }),
    v("tuple", &[], A, |_, a| {
        Ok(Value::List(List::from_values(a.to_vec())))
    }),
    f("first", &[A], first),
    f("mustFirst", &[A], first),
    f("rest", &[A], rest),
    f("mustRest", &[A], rest),
    f("last", &[A], last),
    f("mustLast", &[A], last),
    f("initial", &[A], initial),
    f("mustInitial", &[A], initial),
    f("append", &[A, A], push),
    f("push", &[A, A], push),
    f("mustAppend", &[A, A], push),
    f("mustPush", &[A, A], push),
    f("prepend", &[A, A], prepend),
    f("mustPrepend", &[A, A], prepend),
    f("reverse", &[A], reverse),
    f("mustReverse", &[A], reverse),
    f("uniq", &[A], uniq),
    f("mustUniq", &[A], uniq),
    v("without", &[A], A, without),
    v("mustWithout", &[A], A, without),
    f("has", &[A, A], has),
    f("mustHas", &[A, A], has),
    f("compact", &[A], compact),
    f("mustCompact", &[A], compact),
    v("slice", &[A], A, slice),
    v("mustSlice", &[A], A, slice),
    v("concat", &[], A, concat),
    f("chunk", &[Param::Int, A], chunk),
    f("mustChunk", &[Param::Int, A], chunk),
];

/// The elements of a slice argument, or sprig's error for other kinds.
fn elems(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l) => Ok(l.items().to_vec()),
        Value::Bytes(b) => Ok(b.iter().map(|x| Value::Uint(u64::from(*x))).collect()),
        Value::Nil => Err(NIL_DEREF.into()),
        other => Err(format!("Cannot {what} on type {}", other.kind_name())),
    }
}

fn list(items: Vec<Value>) -> Value {
    Value::List(List::from_values(items))
}

fn first(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(elems(&a[0], "find first")?
        .into_iter()
        .next()
        .unwrap_or(Value::Nil))
}

fn last(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(elems(&a[0], "find last")?.pop().unwrap_or(Value::Nil))
}

fn rest(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let e = elems(&a[0], "find rest")?;
    Ok(list(e.into_iter().skip(1).collect()))
}

fn initial(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut e = elems(&a[0], "find initial")?;
    e.pop();
    Ok(list(e))
}

fn push(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut e = elems(&a[0], "push")?;
    c.check_len(e.len() as u64 + 1)?;
    e.push(a[1].clone());
    Ok(list(e))
}

fn prepend(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let e = elems(&a[0], "prepend")?;
    c.check_len(e.len() as u64 + 1)?;
    let mut out = Vec::with_capacity(e.len() + 1);
    out.push(a[1].clone());
    out.extend(e);
    Ok(list(out))
}

fn reverse(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut e = elems(&a[0], "find reverse")?;
    e.reverse();
    Ok(list(e))
}

/// A hashable identity for scalar values, which `reflect.DeepEqual` compares
/// by type and value.
#[derive(PartialEq, Eq, Hash)]
enum Scalar<'a> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    String(&'a str),
}

fn scalar(v: &Value) -> Option<Scalar<'_>> {
    Some(match v {
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Int(i) => Scalar::Int(*i),
        Value::Uint(u) => Scalar::Uint(*u),
        // NaN never equals itself, so it never deduplicates.
        Value::Float(f) if !f.is_nan() => Scalar::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
        Value::String(s) => Scalar::String(s),
        _ => return None,
    })
}

/// Deep comparisons `uniq` may spend on non-scalar elements.
const UNIQ_BUDGET: u64 = 5_000_000;

fn uniq(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let e = elems(&a[0], "find uniq")?;
    let mut seen = std::collections::HashSet::new();
    let mut others: Vec<usize> = Vec::new();
    let mut keep = vec![false; e.len()];
    let mut budget = UNIQ_BUDGET;
    for (i, item) in e.iter().enumerate() {
        if let Some(k) = scalar(item) {
            keep[i] = seen.insert(k);
            continue;
        }
        budget = budget.saturating_sub(others.len() as u64);
        if budget == 0 {
            return Err("uniq: list too large to compare".into());
        }
        if !others.iter().any(|&j| deep_equal(item, &e[j])) {
            others.push(i);
            keep[i] = true;
        }
    }
    Ok(list(
        e.iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

fn without(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let e = elems(&a[0], "find without")?;
    let omit = &a[1..];
    Ok(list(
        e.into_iter()
            .filter(|item| !omit.iter().any(|o| deep_equal(item, o)))
            .collect(),
    ))
}

fn has(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    if a[1].is_nil() {
        return Ok(Value::Bool(false));
    }
    let e = elems(&a[1], "find has")?;
    Ok(Value::Bool(e.iter().any(|item| deep_equal(&a[0], item))))
}

fn compact(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let e = elems(&a[0], "compact")?;
    Ok(list(e.into_iter().filter(Value::is_true).collect()))
}

fn slice(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (items, elem) = match &a[0] {
        Value::List(l) => (l.items().to_vec(), l.elem().clone()),
        Value::Bytes(b) => (
            b.iter().map(|x| Value::Uint(u64::from(*x))).collect(),
            ElemType::Other("uint8".into()),
        ),
        Value::Nil => return Err(NIL_DEREF.into()),
        other => {
            return Err(format!(
                "list should be type of slice or array but {}",
                other.kind_name()
            ));
        }
    };
    let l = items.len() as i64;
    if l == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map_or(0, to_int64);
    let end = if a.len() < 3 { l } else { to_int64(&a[2]) };
    if start < 0 || end < start || end > l {
        return Err("reflect.Value.Slice: slice index out of bounds".into());
    }
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    if let Value::Bytes(b) = &a[0] {
        return Ok(Value::Bytes(b[s..e].into()));
    }
    Ok(Value::List(List::new(elem, items[s..e].to_vec())))
}

fn concat(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    for l in a {
        match l {
            Value::List(_) | Value::Bytes(_) => out.extend(elems(l, "concat")?),
            Value::Nil => return Err(NIL_DEREF.into()),
            other => return Err(format!("Cannot concat type {} as list", other.kind_name())),
        }
        c.check_len(out.len() as u64)?;
    }
    Ok(list(out))
}

fn chunk(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let size = arg_int(a, 0);
    let e = elems(&a[1], "chunk")?;
    if e.is_empty() {
        return Ok(list(Vec::new()));
    }
    if size <= 0 {
        return Err("runtime error: makeslice: len out of range".into());
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(list(e.chunks(size).map(|ch| list(ch.to_vec())).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        static L: crate::Limits = crate::Limits::DEFAULT;
        Ctx { limits: &L }
    }

    fn ints(v: &[i64]) -> Value {
        list(v.iter().map(|i| Value::Int(*i)).collect())
    }

    #[test]
    fn list_ops() {
        let l = ints(&[1, 2, 2, 3]);
        assert_eq!(
            crate::fmt::to_string_v(&uniq(&ctx(), std::slice::from_ref(&l)).unwrap()),
            "[1 2 3]"
        );
        assert_eq!(
            crate::fmt::to_string_v(&without(&ctx(), &[l.clone(), Value::Int(2)]).unwrap()),
            "[1 3]"
        );
        assert_eq!(
            crate::fmt::to_string_v(&reverse(&ctx(), std::slice::from_ref(&l)).unwrap()),
            "[3 2 2 1]"
        );
        assert!(matches!(
            has(&ctx(), &[Value::Int(3), l.clone()]),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            has(&ctx(), &[Value::Float(3.0), l.clone()]),
            Ok(Value::Bool(false))
        ));
        assert_eq!(
            crate::fmt::to_string_v(&chunk(&ctx(), &[Value::Int(3), l.clone()]).unwrap()),
            "[[1 2 2] [3]]"
        );
        assert_eq!(
            crate::fmt::to_string_v(
                &slice(&ctx(), &[l.clone(), Value::Int(1), Value::Int(3)]).unwrap()
            ),
            "[2 2]"
        );
        assert_eq!(
            first(&ctx(), &[Value::from("x")]).unwrap_err(),
            "Cannot find first on type string"
        );
        assert_eq!(first(&ctx(), &[Value::Nil]).unwrap_err(), NIL_DEREF);
        let mixed = list(vec![
            Value::Int(1),
            Value::Float(1.0),
            Value::map([("a", Value::Int(1))]),
            Value::Int(1),
            Value::map([("a", Value::Int(1))]),
            Value::Float(-0.0),
            Value::Float(0.0),
        ]);
        assert_eq!(
            crate::fmt::to_string_v(&uniq(&ctx(), &[mixed]).unwrap()),
            "[1 1 map[a:1] -0]"
        );
        let big = list((0..10_000).map(|i| Value::Int(i % 100)).collect());
        let Value::List(u) = uniq(&ctx(), &[big]).unwrap() else {
            panic!("not a list")
        };
        assert_eq!(u.len(), 100);
        assert!(first(&ctx(), &[list(vec![])]).unwrap().is_nil());
    }
}
