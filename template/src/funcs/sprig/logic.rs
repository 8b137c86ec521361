//! sprig logic, reflection, JSON and environment functions: `default empty
//! coalesce all any ternary fail typeOf typeIs typeIsLike kindOf kindIs
//! deepEqual fromJson toJson toPrettyJson toRawJson` (+ `must*`), `env
//! expandenv`.

use crate::funcs::{Ctx, FuncDef, Param, arg_str, f, s, v};
use crate::json::{JsonError, encode_go_json, encode_go_json_pretty};
use crate::value::Value;

const A: Param = Param::Any;
const S: Param = Param::Str;

pub(crate) const FUNCS: &[FuncDef] = &[
    v("default", &[A], A, |_, a| {
        Ok(match a.get(1) {
            Some(g) if g.is_true() => g.clone(),
            _ => a[0].clone(),
        })
    }),
    f("empty", &[A], |_, a| Ok(Value::Bool(!a[0].is_true()))),
    v("coalesce", &[], A, |_, a| {
        Ok(a.iter()
            .find(|x| x.is_true())
            .cloned()
            .unwrap_or(Value::Nil))
    }),
    v("all", &[], A, |_, a| {
        Ok(Value::Bool(a.iter().all(Value::is_true)))
    }),
    v("any", &[], A, |_, a| {
        Ok(Value::Bool(a.iter().any(Value::is_true)))
    }),
    f("ternary", &[A, A, Param::Bool], |_, a| {
        Ok(if matches!(a[2], Value::Bool(true)) {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    f("fail", &[S], |_, a| Err(arg_str(a, 0).to_owned())),
    f("typeOf", &[A], |_, a| s(a[0].type_name())),
    f("typeIs", &[S, A], |_, a| {
        Ok(Value::Bool(arg_str(a, 0) == a[1].type_name()))
    }),
    f("typeIsLike", &[S, A], |_, a| {
        let (target, t) = (arg_str(a, 0), a[1].type_name());
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    }),
    f("kindOf", &[A], |_, a| s(a[0].kind_name())),
    f("kindIs", &[S, A], |_, a| {
        Ok(Value::Bool(arg_str(a, 0) == a[1].kind_name()))
    }),
    f("deepEqual", &[A, A], |_, a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    }),
    f("fromJson", &[S], |_, a| {
        Ok(from_json(arg_str(a, 0)).unwrap_or(Value::Nil))
    }),
    f("mustFromJson", &[S], |_, a| from_json(arg_str(a, 0))),
    f("toJson", &[A], |c, a| json(c, a, Mode::Compact, false)),
    f("mustToJson", &[A], |c, a| json(c, a, Mode::Compact, true)),
    f("toPrettyJson", &[A], |c, a| json(c, a, Mode::Pretty, false)),
    f("mustToPrettyJson", &[A], |c, a| {
        json(c, a, Mode::Pretty, true)
    }),
    f("toRawJson", &[A], |c, a| json(c, a, Mode::Raw, false)),
    f("mustToRawJson", &[A], |c, a| json(c, a, Mode::Raw, true)),
    f("env", &[S], |_, a| {
        s(std::env::var(arg_str(a, 0)).unwrap_or_default())
    }),
    f("expandenv", &[S], |c, a| {
        let out = expand(arg_str(a, 0), |k| std::env::var(k).unwrap_or_default());
        c.check_size(out.len())?;
        s(out)
    }),
];

/// Go's `reflect.DeepEqual` over values: types must match exactly.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    a == b
}

/// Go's `json.Unmarshal` into `interface{}`, with Go-style error messages.
fn from_json(src: &str) -> Result<Value, String> {
    match serde_json::from_str::<serde_json::Value>(src) {
        Ok(v) => Ok(Value::from_json_go(&v)),
        Err(e) => Err(go_json_error(src, &e)),
    }
}

fn go_json_error(src: &str, e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let line_start: usize = src
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = line_start + e.column().saturating_sub(1);
    let c = src
        .get(crate::parse::floor_boundary(src, offset)..)
        .and_then(|r| r.chars().next());
    match c {
        Some(c) => format!(
            "invalid character {} looking for beginning of value",
            crate::fmt::quote::quote_rune(c, false)
        ),
        None => "unexpected end of JSON input".into(),
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Compact,
    Pretty,
    Raw,
}

fn json(c: &Ctx<'_>, a: &[Value], mode: Mode, must: bool) -> Result<Value, String> {
    let mut out = String::new();
    let r = match mode {
        Mode::Compact => encode_go_json(&mut out, &a[0], true),
        Mode::Raw => encode_go_json(&mut out, &a[0], false),
        Mode::Pretty => encode_go_json_pretty(&mut out, &a[0]),
    };
    match r {
        Ok(()) => {
            c.check_size(out.len())?;
            s(out)
        }
        Err(JsonError(msg)) if must => Err(msg),
        Err(_) => s(""),
    }
}

/// Go's `os.Expand`.
pub(crate) fn expand(s: &str, mut mapping: impl FnMut(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&s[j + 1..]);
            if name.is_empty() && w > 0 {
                // Invalid syntax; the characters are dropped.
            } else if name.is_empty() {
                out.push(b'$');
            } else {
                out.extend_from_slice(mapping(name).as_bytes());
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    if i < b.len() {
        out.extend_from_slice(&b[i..]);
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if is_special(b[0]) {
        return (&s[..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_follows_os_expand() {
        let m = |k: &str| match k {
            "HOME" => "/root".to_owned(),
            "1" => "one".to_owned(),
            _ => String::new(),
        };
        assert_eq!(
            expand("$HOME/x ${HOME}y $1 $$ ${} $ end$", m),
            "/root/x /rooty one   $ end$"
        );
        assert_eq!(expand("no vars", m), "no vars");
        assert_eq!(expand("${HOME", m), "HOME");
    }

    #[test]
    fn deep_equal_is_type_strict() {
        assert!(deep_equal(&Value::Int(1), &Value::Int(1)));
        assert!(!deep_equal(&Value::Int(1), &Value::Float(1.0)));
        assert!(deep_equal(
            &Value::list([Value::from("a")]),
            &Value::list([Value::from("a")])
        ));
        assert!(!deep_equal(
            &Value::list([Value::from("a")]),
            &Value::List(crate::value::List::from_strings(["a"]))
        ));
    }

    #[test]
    fn json_errors_read_like_go() {
        assert_eq!(from_json("{").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            from_json("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
    }
}
