//! sprig string functions: `abbrev abbrevboth trunc trim upper lower title
//! untitle substr repeat trimAll trimall trimSuffix trimPrefix nospace initials
//! rand* swapcase shuffle snakecase camelcase kebabcase wrap wrapWith contains
//! hasPrefix hasSuffix quote squote cat indent nindent replace plural toString
//! hello split splitList splitn toStrings join sortAlpha`.

use std::sync::Arc;

use rand::Rng;
use rand::seq::SliceRandom;

use super::conv::{strslice, strval};
use super::text;
use crate::funcs::{Ctx, FuncDef, Param, arg_int, arg_str, f, s, v};
use crate::value::{ElemType, List, Map, Value};

const S: Param = Param::Str;
const I: Param = Param::Int;
const A: Param = Param::Any;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("hello", &[], |_, _| s("Hello!")),
    f("abbrev", &[I, S], abbrev),
    f("abbrevboth", &[I, I, S], abbrevboth),
    f("trunc", &[I, S], trunc),
    f("trim", &[S], |_, a| s(arg_str(a, 0).trim())),
    f("upper", &[S], |_, a| s(text::to_upper(arg_str(a, 0)))),
    f("lower", &[S], |_, a| s(text::to_lower(arg_str(a, 0)))),
    f("title", &[S], |_, a| s(text::title(arg_str(a, 0)))),
    f("untitle", &[S], |_, a| s(text::untitle(arg_str(a, 0)))),
    f("substr", &[I, I, S], substr),
    f("repeat", &[I, S], repeat),
    f("trimAll", &[S, S], trim_all),
    f("trimall", &[S, S], trim_all),
    f("trimSuffix", &[S, S], |_, a| {
        let (cut, src) = (arg_str(a, 0), arg_str(a, 1));
        s(src.strip_suffix(cut).unwrap_or(src))
    }),
    f("trimPrefix", &[S, S], |_, a| {
        let (cut, src) = (arg_str(a, 0), arg_str(a, 1));
        s(src.strip_prefix(cut).unwrap_or(src))
    }),
    f("nospace", &[S], |_, a| {
        s(arg_str(a, 0)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>())
    }),
    f("initials", &[S], |_, a| s(text::initials(arg_str(a, 0)))),
    f("randAlphaNum", &[I], |c, a| {
        random_string(c, a, CharSet::AlphaNum)
    }),
    f("randAlpha", &[I], |c, a| {
        random_string(c, a, CharSet::Alpha)
    }),
    f("randAscii", &[I], |c, a| {
        random_string(c, a, CharSet::Ascii)
    }),
    f("randNumeric", &[I], |c, a| {
        random_string(c, a, CharSet::Numeric)
    }),
    f("swapcase", &[S], |_, a| s(text::swapcase(arg_str(a, 0)))),
    f("shuffle", &[S], |_, a| {
        let mut chars: Vec<char> = arg_str(a, 0).chars().collect();
        chars.shuffle(&mut rand::rng());
        s(chars.into_iter().collect::<String>())
    }),
    f("snakecase", &[S], |_, a| {
        s(text::camel_to_lower(arg_str(a, 0), '_'))
    }),
    f("kebabcase", &[S], |_, a| {
        s(text::camel_to_lower(arg_str(a, 0), '-'))
    }),
    f("camelcase", &[S], |_, a| s(text::camelcase(arg_str(a, 0)))),
    f("wrap", &[I, S], |c, a| {
        let out = text::wrap_custom(arg_str(a, 1), arg_int(a, 0), "\n", false);
        c.check_size(out.len())?;
        s(out)
    }),
    f("wrapWith", &[I, S, S], |c, a| {
        let (src, width, sep) = (arg_str(a, 2), arg_int(a, 0), arg_str(a, 1));
        let lines = src.len() / usize::try_from(width.max(1)).unwrap_or(1) + 1;
        c.check_size(src.len().saturating_add(lines.saturating_mul(sep.len())))?;
        let out = text::wrap_custom(src, width, sep, true);
        c.check_size(out.len())?;
        s(out)
    }),
    f("contains", &[S, S], |_, a| {
        Ok(Value::Bool(arg_str(a, 1).contains(arg_str(a, 0))))
    }),
    f("hasPrefix", &[S, S], |_, a| {
        Ok(Value::Bool(arg_str(a, 1).starts_with(arg_str(a, 0))))
    }),
    f("hasSuffix", &[S, S], |_, a| {
        Ok(Value::Bool(arg_str(a, 1).ends_with(arg_str(a, 0))))
    }),
    v("quote", &[], A, quote),
    v("squote", &[], A, squote),
    v("cat", &[], A, cat),
    f("indent", &[I, S], |c, a| indent(c, a, false)),
    f("nindent", &[I, S], |c, a| indent(c, a, true)),
    f("replace", &[S, S, S], replace),
    f("plural", &[S, S, I], |_, a| {
        s(if arg_int(a, 2) == 1 {
            arg_str(a, 0)
        } else {
            arg_str(a, 1)
        })
    }),
    f("toString", &[A], |_, a| s(strval(&a[0]))),
    f("split", &[S, S], |_, a| {
        Ok(split_map(&go_split(arg_str(a, 1), arg_str(a, 0), -1)))
    }),
    f("splitList", &[S, S], |_, a| {
        Ok(Value::List(List::from_strings(go_split(
            arg_str(a, 1),
            arg_str(a, 0),
            -1,
        ))))
    }),
    f("splitn", &[S, I, S], |_, a| {
        Ok(split_map(&go_split(
            arg_str(a, 2),
            arg_str(a, 0),
            arg_int(a, 1),
        )))
    }),
    f("toStrings", &[A], |_, a| {
        Ok(Value::List(List::from_strings(strslice(&a[0]))))
    }),
    f("join", &[S, A], |c, a| {
        let out = strslice(&a[1]).join(arg_str(a, 0));
        c.check_size(out.len())?;
        s(out)
    }),
    f("sortAlpha", &[A], sort_alpha),
];

fn abbrev(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (width, src) = (arg_int(a, 0), arg_str(a, 1));
    if width < 4 {
        return s(src);
    }
    s(text::abbreviate_full(src, 0, width))
}

fn abbrevboth(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (left, right, src) = (arg_int(a, 0), arg_int(a, 1), arg_str(a, 2));
    if right < 4 || left > 0 && right < 7 {
        return s(src);
    }
    s(text::abbreviate_full(src, left, right))
}

fn trunc(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (c, src) = (arg_int(a, 0), arg_str(a, 1));
    let len = src.len() as i64;
    if c < 0 && len + c > 0 {
        let start = usize::try_from(len + c).unwrap_or(0);
        return s(text::slice(src, start, src.len()));
    }
    if c >= 0 && len > c {
        let end = usize::try_from(c).unwrap_or(0);
        return s(text::slice(src, 0, end));
    }
    s(src)
}

fn substr(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (start, end, src) = (arg_int(a, 0), arg_int(a, 1), arg_str(a, 2));
    let len = src.len() as i64;
    let oob = |msg: String| Err(format!("runtime error: slice bounds out of range {msg}"));
    if start < 0 {
        if end < 0 {
            return oob(format!("[:{end}]"));
        }
        if end > len {
            return oob(format!("[:{end}] with length {len}"));
        }
        return s(text::slice(src, 0, usize::try_from(end).unwrap_or(0)));
    }
    if end < 0 || end > len {
        if start > len {
            return oob(format!("[{start}:{len}]"));
        }
        return s(text::slice(
            src,
            usize::try_from(start).unwrap_or(0),
            src.len(),
        ));
    }
    if start > end {
        return oob(format!("[{start}:{end}]"));
    }
    s(text::slice(
        src,
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    ))
}

fn repeat(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (count, src) = (arg_int(a, 0), arg_str(a, 1));
    if count < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let count = usize::try_from(count).map_err(|_| "strings: Repeat output length overflow")?;
    let total = src
        .len()
        .checked_mul(count)
        .ok_or("strings: Repeat output length overflow")?;
    c.check_size(total)?;
    s(src.repeat(count))
}

fn trim_all(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (cutset, src) = (arg_str(a, 0), arg_str(a, 1));
    s(src.trim_matches(|c| cutset.contains(c)))
}

#[derive(Clone, Copy)]
enum CharSet {
    AlphaNum,
    Alpha,
    Ascii,
    Numeric,
}

fn random_string(c: &Ctx<'_>, a: &[Value], set: CharSet) -> Result<Value, String> {
    let count = arg_int(a, 0);
    if count <= 0 {
        return s("");
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    c.check_size(count)?;
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const DIGITS: &[u8] = b"0123456789";
    let mut rng = rand::rng();
    let out: String = (0..count)
        .map(|_| match set {
            CharSet::Ascii => char::from(rng.random_range(32u8..127)),
            CharSet::Alpha => char::from(ALPHA[rng.random_range(0..ALPHA.len())]),
            CharSet::AlphaNum => char::from(ALNUM[rng.random_range(0..ALNUM.len())]),
            CharSet::Numeric => char::from(DIGITS[rng.random_range(0..DIGITS.len())]),
        })
        .collect();
    s(out)
}

fn quote(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| crate::fmt::quote::quote(&strval(v), false))
        .collect();
    let out = parts.join(" ");
    c.check_size(out.len())?;
    s(out)
}

fn squote(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| format!("'{}'", crate::fmt::to_string_v(v)))
        .collect();
    let out = parts.join(" ");
    c.check_size(out.len())?;
    s(out)
}

fn cat(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(crate::fmt::to_string_v)
        .collect();
    let out = parts.join(" ");
    c.check_size(out.len())?;
    s(out)
}

fn indent(c: &Ctx<'_>, a: &[Value], newline: bool) -> Result<Value, String> {
    let (spaces, src) = (arg_int(a, 0), arg_str(a, 1));
    if spaces < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let spaces = usize::try_from(spaces).unwrap_or(usize::MAX);
    let lines = src.matches('\n').count() + 1;
    let total = spaces
        .checked_mul(lines)
        .and_then(|n| n.checked_add(src.len() + 1))
        .ok_or("strings: Repeat output length overflow")?;
    c.check_size(total)?;
    let pad = " ".repeat(spaces);
    let mut out = String::with_capacity(total);
    if newline {
        out.push('\n');
    }
    out.push_str(&pad);
    out.push_str(&src.replace('\n', &format!("\n{pad}")));
    s(out)
}

fn replace(c: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let (old, new, src) = (arg_str(a, 0), arg_str(a, 1), arg_str(a, 2));
    let matches = if old.is_empty() {
        src.chars().count() + 1
    } else {
        src.matches(old).count()
    };
    let growth = matches.saturating_mul(new.len());
    c.check_size(src.len().saturating_add(growth))?;
    s(src.replace(old, new))
}

/// Go's `strings.SplitN(s, sep, n)` (`n < 0`: all).
pub(crate) fn go_split(src: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<&str> = src
            .char_indices()
            .map(|(i, c)| &src[i..i + c.len_utf8()])
            .collect();
        if n > 0 && (chars.len() as i64) > n {
            let k = usize::try_from(n - 1).unwrap_or(0);
            let mut out: Vec<String> = chars[..k].iter().map(|s| (*s).to_owned()).collect();
            let rest_start: usize = chars[..k].iter().map(|s| s.len()).sum();
            out.push(src[rest_start..].to_owned());
            return out;
        }
        return chars.into_iter().map(str::to_owned).collect();
    }
    if n < 0 {
        return src.split(sep).map(str::to_owned).collect();
    }
    src.splitn(usize::try_from(n).unwrap_or(usize::MAX), sep)
        .map(str::to_owned)
        .collect()
}

fn split_map(parts: &[String]) -> Value {
    Value::Map(Map::shared_typed(
        ElemType::String,
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| (Arc::<str>::from(format!("_{i}")), Value::from(p.as_str()))),
    ))
}

fn sort_alpha(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut items = match &a[0] {
        Value::List(_) | Value::Bytes(_) => strslice(&a[0]),
        other => vec![strval(other)],
    };
    items.sort();
    Ok(Value::List(List::from_strings(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_split_semantics() {
        assert_eq!(go_split("a,b,c", ",", -1), vec!["a", "b", "c"]);
        assert_eq!(go_split("", ",", -1), vec![""]);
        assert_eq!(go_split("abc", "", -1), vec!["a", "b", "c"]);
        assert_eq!(go_split("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert_eq!(go_split("abc", "", 2), vec!["a", "bc"]);
        assert!(go_split("a", ",", 0).is_empty());
    }

    #[test]
    fn substr_errors_like_go() {
        let l = crate::Limits::DEFAULT;
        let c = Ctx { limits: &l };
        let call =
            |a: i64, b: i64| substr(&c, &[Value::Int(a), Value::Int(b), Value::from("hello")]);
        assert_eq!(call(1, 3).unwrap().as_str(), Some("el"));
        assert_eq!(call(-1, 2).unwrap().as_str(), Some("he"));
        assert_eq!(call(2, 99).unwrap().as_str(), Some("llo"));
        assert_eq!(
            call(-1, 9).unwrap_err(),
            "runtime error: slice bounds out of range [:9] with length 5"
        );
        assert_eq!(
            call(4, 2).unwrap_err(),
            "runtime error: slice bounds out of range [4:2]"
        );
        assert_eq!(
            call(7, -1).unwrap_err(),
            "runtime error: slice bounds out of range [7:5]"
        );
    }

    #[test]
    fn size_limits_apply_before_allocation() {
        let l = crate::Limits {
            max_output_bytes: 10,
            ..crate::Limits::DEFAULT
        };
        let c = Ctx { limits: &l };
        assert!(repeat(&c, &[Value::Int(1 << 40), Value::from("ab")]).is_err());
        assert!(repeat(&c, &[Value::Int(-1), Value::from("ab")]).is_err());
        assert_eq!(
            repeat(&c, &[Value::Int(3), Value::from("ab")])
                .unwrap()
                .as_str(),
            Some("ababab")
        );
    }
}
