//! sprig dictionary functions: `dict get set unset hasKey pluck keys pick omit
//! merge mergeOverwrite mustMerge mustMergeOverwrite values dig deepCopy
//! mustDeepCopy`. `set`, `unset` and `merge*` mutate their first argument, as
//! Go maps are references; host data is read-only and refuses mutation.

use std::sync::Arc;

use super::conv::strval;
use crate::funcs::{Ctx, FuncDef, Param, arg_str, f, v};
use crate::value::{ElemType, List, Map, Value};

const M: Param = Param::Map;
const S: Param = Param::Str;
const A: Param = Param::Any;

pub(crate) const FUNCS: &[FuncDef] = &[
    v("dict", &[], A, dict),
    f("get", &[M, S], get),
    f("set", &[M, S, A], set),
    f("unset", &[M, S], unset),
    f("hasKey", &[M, S], |_, a| {
        Ok(Value::Bool(
            as_map(&a[0]).is_some_and(|m| m.contains_key(arg_str(a, 1))),
        ))
    }),
    v("pluck", &[S], M, pluck),
    v("keys", &[], M, keys),
    v("pick", &[M], S, pick),
    v("omit", &[M], S, omit),
    v("merge", &[M], M, |_, a| merge(a, false)),
    v("mustMerge", &[M], M, |_, a| merge(a, false)),
    v("mergeOverwrite", &[M], M, |_, a| merge(a, true)),
    v("mustMergeOverwrite", &[M], M, |_, a| merge(a, true)),
    f("values", &[M], values),
    v("dig", &[], A, dig),
    f("deepCopy", &[A], |_, a| Ok(deep_copy(&a[0], 0))),
    f("mustDeepCopy", &[A], |_, a| Ok(deep_copy(&a[0], 0))),
];

fn as_map(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn dict(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    c.check_len(a.len() as u64)?;
    let mut entries: Vec<(Arc<str>, Value)> = Vec::with_capacity(a.len() / 2 + 1);
    for pair in a.chunks(2) {
        let key: Arc<str> = Arc::from(strval(&pair[0]));
        let val = pair.get(1).cloned().unwrap_or_else(|| Value::from(""));
        entries.push((key, val));
    }
    Ok(Value::Map(Map::shared(entries)))
}

fn get(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(as_map(&a[0])
        .and_then(|m| m.get(arg_str(a, 1)))
        .unwrap_or_else(|| Value::from("")))
}

fn set(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let Some(m) = as_map(&a[0]) else {
        return Err("assignment to entry in nil map".into());
    };
    m.insert(Arc::from(arg_str(a, 1)), a[2].clone())
        .map_err(|e| e.to_string())?;
    Ok(a[0].clone())
}

fn unset(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    if let Some(m) = as_map(&a[0]) {
        m.remove(arg_str(a, 1)).map_err(|e| e.to_string())?;
    }
    Ok(a[0].clone())
}

fn pluck(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let key = arg_str(a, 0);
    let found: Vec<Value> = a[1..]
        .iter()
        .filter_map(as_map)
        .filter_map(|m| m.get(key))
        .collect();
    Ok(Value::List(List::from_values(found)))
}

fn keys(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let all: Vec<Arc<str>> = a.iter().filter_map(as_map).flat_map(Map::keys).collect();
    Ok(Value::List(List::from_strings(all)))
}

fn pick(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let src = as_map(&a[0]);
    let entries: Vec<(Arc<str>, Value)> = a[1..]
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|k| src.and_then(|m| m.get(k)).map(|v| (Arc::from(k), v)))
        .collect();
    Ok(Value::Map(Map::shared(entries)))
}

fn omit(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let drop: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
    let entries: Vec<(Arc<str>, Value)> = match as_map(&a[0]) {
        Some(m) => m
            .entries()
            .iter()
            .filter(|(k, _)| !drop.contains(&&***k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => Vec::new(),
    };
    Ok(Value::Map(Map::shared(entries)))
}

fn values(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let vals: Vec<Value> = as_map(&a[0])
        .map(|m| m.entries().iter().map(|(_, v)| v.clone()).collect())
        .unwrap_or_default();
    Ok(Value::List(List::from_values(vals)))
}

/// A mutable copy of `m` (used when merging into read-only nested maps).
fn to_shared(m: &Map) -> Map {
    let entries = m.entries();
    Map::shared_typed(
        m.elem().clone(),
        entries.iter().map(|(k, v)| (k.clone(), v.clone())),
    )
}

const MAX_MERGE_DEPTH: usize = 64;

/// `mergo.Merge` / `mergo.MergeWithOverwrite` for `map[string]interface{}` as
/// mergo v0.3.11 does it: nested maps merge recursively, a non-nil
/// destination value wins unless overwriting.
fn merge_into(dst: &Map, src: &Map, overwrite: bool, depth: usize) -> Result<(), String> {
    if depth > MAX_MERGE_DEPTH {
        return Err("merge: maps nested too deeply".into());
    }
    let entries = src.entries();
    for (k, sv) in entries.iter() {
        let dv = dst.get(k);
        let dst_set = matches!(&dv, Some(v) if !v.is_nil());
        let write = |v: Value| dst.insert(k.clone(), v).map_err(|e| e.to_string());
        match sv {
            Value::Nil => {
                if overwrite {
                    write(Value::Nil)?;
                }
            }
            Value::Map(sm) => {
                if let Some(Value::Map(dm)) = &dv {
                    if dm.is_mutable() {
                        merge_into(dm, sm, overwrite, depth + 1)?;
                    } else {
                        let copy = to_shared(dm);
                        merge_into(&copy, sm, overwrite, depth + 1)?;
                        write(Value::Map(copy))?;
                    }
                }
                if !dst_set {
                    write(sv.clone())?;
                }
            }
            Value::List(_) => {
                if overwrite || !dst_set {
                    write(sv.clone())?;
                }
            }
            _ => {
                if overwrite || !dst_set {
                    write(sv.clone())?;
                }
            }
        }
    }
    Ok(())
}

fn merge(a: &[Value], overwrite: bool) -> Result<Value, String> {
    let Some(dst) = as_map(&a[0]) else {
        return Ok(a[0].clone());
    };
    for src in a[1..].iter().filter_map(as_map) {
        merge_into(dst, src, overwrite, 0)?;
    }
    Ok(a[0].clone())
}

fn type_assert_map(v: &Value) -> Result<&Map, String> {
    match v {
        Value::Map(m) if *m.elem() == ElemType::Interface => Ok(m),
        other => Err(format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            if other.is_nil() {
                "nil".into()
            } else {
                other.type_name()
            }
        )),
    }
}

fn dig(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    let mut cur = type_assert_map(&a[a.len() - 1])?.clone();
    let default = a[a.len() - 2].clone();
    let keys = &a[..a.len() - 2];
    let mut names = Vec::with_capacity(keys.len());
    for k in keys {
        match k {
            Value::String(s) => names.push(s.clone()),
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not string",
                    if other.is_nil() {
                        "nil".into()
                    } else {
                        other.type_name()
                    }
                ));
            }
        }
    }
    for (i, k) in names.iter().enumerate() {
        let Some(step) = cur.get(k) else {
            return Ok(default);
        };
        if i + 1 == names.len() {
            return Ok(step);
        }
        cur = type_assert_map(&step)?.clone();
    }
    Ok(default)
}

/// `copystructure.Copy`: new maps and lists all the way down.
pub(crate) fn deep_copy(v: &Value, depth: usize) -> Value {
    if depth > 512 {
        return v.clone();
    }
    match v {
        Value::Map(m) => {
            let entries = m.entries();
            Value::Map(Map::shared_typed(
                m.elem().clone(),
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), deep_copy(v, depth + 1))),
            ))
        }
        Value::List(l) => Value::List(List::new(
            l.elem().clone(),
            l.items().iter().map(|x| deep_copy(x, depth + 1)).collect(),
        )),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(pairs: &[(&str, Value)]) -> Value {
        Value::Map(Map::shared(pairs.iter().map(|(k, v)| (*k, v.clone()))))
    }

    #[test]
    fn merge_keeps_destination_values() {
        let dst = shared(&[
            ("a", Value::Int(1)),
            ("n", shared(&[("x", Value::Int(1))])),
            ("empty", Value::Nil),
        ]);
        let src = shared(&[
            ("a", Value::Int(2)),
            ("b", Value::Int(3)),
            ("n", shared(&[("x", Value::Int(9)), ("y", Value::Int(2))])),
            ("empty", Value::from("filled")),
        ]);
        merge(&[dst.clone(), src.clone()], false).unwrap();
        assert_eq!(
            crate::fmt::to_string_v(&dst),
            "map[a:1 b:3 empty:filled n:map[x:1 y:2]]"
        );
        let dst2 = shared(&[("a", Value::Int(1)), ("k", Value::Bool(true))]);
        let src2 = shared(&[("a", Value::Int(2)), ("k", Value::Bool(false))]);
        merge(&[dst2.clone(), src2], true).unwrap();
        assert_eq!(crate::fmt::to_string_v(&dst2), "map[a:2 k:false]");
    }

    #[test]
    fn dig_walks_nested_maps() {
        let l = crate::Limits::DEFAULT;
        let c = Ctx { limits: &l };
        let d = shared(&[("a", shared(&[("b", Value::from("v"))]))]);
        let r = dig(
            &c,
            &[
                Value::from("a"),
                Value::from("b"),
                Value::from("def"),
                d.clone(),
            ],
        )
        .unwrap();
        assert_eq!(r.as_str(), Some("v"));
        let r = dig(
            &c,
            &[
                Value::from("a"),
                Value::from("z"),
                Value::from("def"),
                d.clone(),
            ],
        )
        .unwrap();
        assert_eq!(r.as_str(), Some("def"));
        let e = dig(
            &c,
            &[
                Value::from("a"),
                Value::from("b"),
                Value::from("c"),
                Value::from("def"),
                d,
            ],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "interface conversion: interface {} is string, not map[string]interface {}"
        );
    }

    #[test]
    fn set_refuses_host_data() {
        let l = crate::Limits::DEFAULT;
        let c = Ctx { limits: &l };
        let labels = Value::string_map([("a", "b")]);
        let err = set(&c, &[labels, Value::from("x"), Value::from("y")]).unwrap_err();
        assert!(err.contains("read-only"));
    }
}
