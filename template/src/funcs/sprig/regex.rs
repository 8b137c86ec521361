//! sprig regular expressions (`regexMatch regexFind regexFindAll
//! regexReplaceAll regexReplaceAllLiteral regexSplit regexQuoteMeta` and
//! `must*`). Go's RE2 syntax maps onto the `regex` crate; the differences are
//! bridged here: `\d \w \s \b` are ASCII-only in Go, `\Q...\E` quoting, and Go's
//! rules for empty matches in `FindAll`/`ReplaceAll`/`Split`. Compiled
//! expressions are cached.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use regex::Regex;

use crate::funcs::{Ctx, FuncDef, Param, arg_int, arg_str, f, s};
use crate::value::{List, Value};

const S: Param = Param::Str;
const I: Param = Param::Int;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("regexMatch", &[S, S], |_, a| {
        Ok(Value::Bool(
            compile(arg_str(a, 0)).is_ok_and(|r| r.is_match(arg_str(a, 1))),
        ))
    }),
    f("mustRegexMatch", &[S, S], |_, a| {
        Ok(Value::Bool(compile(arg_str(a, 0))?.is_match(arg_str(a, 1))))
    }),
    f("regexFind", &[S, S], |_, a| find(a, false)),
    f("mustRegexFind", &[S, S], |_, a| find(a, true)),
    f("regexFindAll", &[S, S, I], |_, a| find_all(a, false)),
    f("mustRegexFindAll", &[S, S, I], |_, a| find_all(a, true)),
    f("regexReplaceAll", &[S, S, S], |c, a| {
        replace(c, a, true, false)
    }),
    f("mustRegexReplaceAll", &[S, S, S], |c, a| {
        replace(c, a, true, true)
    }),
    f("regexReplaceAllLiteral", &[S, S, S], |c, a| {
        replace(c, a, false, false)
    }),
    f("mustRegexReplaceAllLiteral", &[S, S, S], |c, a| {
        replace(c, a, false, true)
    }),
    f("regexSplit", &[S, S, I], |_, a| split(a, false)),
    f("mustRegexSplit", &[S, S, I], |_, a| split(a, true)),
    f("regexQuoteMeta", &[S], |_, a| s(quote_meta(arg_str(a, 0)))),
];

/// Rewrites Go RE2 syntax into the `regex` crate's dialect.
pub(crate) fn translate(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len() + 16);
    let mut chars = pat.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = class_start;
        class_start = false;
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (outside, inside): (&str, &str) = match e {
                    'd' => ("[0-9]", "0-9"),
                    'D' => ("[^0-9]", "[^0-9]"),
                    'w' => ("[0-9A-Za-z_]", "0-9A-Za-z_"),
                    'W' => ("[^0-9A-Za-z_]", "[^0-9A-Za-z_]"),
                    's' => ("[\\t\\n\\x0C\\r ]", "\\t\\n\\x0C\\r "),
                    'S' => ("[^\\t\\n\\x0C\\r ]", "[^\\t\\n\\x0C\\r ]"),
                    'b' if !in_class => ("(?-u:\\b)", ""),
                    'B' if !in_class => ("(?-u:\\B)", ""),
                    'Q' => {
                        let mut lit = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            lit.push(q);
                        }
                        out.push_str(&regex::escape(&lit));
                        continue;
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                        continue;
                    }
                };
                out.push_str(if in_class { inside } else { outside });
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class such as [:alpha:].
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class && !at_class_start => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                // Rust reserves `&&`, `~~` and `--` as class set operators.
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

const CACHE_LIMIT: usize = 512;

/// Compiled expressions (or their errors) by Go pattern.
type Cache = HashMap<String, Result<Arc<Regex>, String>>;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles a Go regular expression (cached); the error reads like Go's.
pub(crate) fn compile(pat: &str) -> Result<Arc<Regex>, String> {
    {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = cache.get(pat) {
            return r.clone();
        }
    }
    let compiled = Regex::new(&translate(pat)).map(Arc::new).map_err(|e| {
        let detail = e.to_string();
        let last = detail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid syntax")
            .trim()
            .trim_start_matches("error: ")
            .to_owned();
        format!("error parsing regexp: {last}: `{pat}`")
    });
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(pat.to_owned(), compiled.clone());
    compiled
}

/// `regexp.MustCompile`'s panic text.
fn must_compile(pat: &str) -> Result<Arc<Regex>, String> {
    compile(pat).map_err(|e| {
        let q = if crate::fmt::quote::can_backquote(pat) {
            format!("`{pat}`")
        } else {
            crate::fmt::quote::quote(pat, false)
        };
        format!("regexp: Compile({q}): {e}")
    })
}

fn compiler(must: bool) -> fn(&str) -> Result<Arc<Regex>, String> {
    if must { compile } else { must_compile }
}

/// Go's `allMatches`: successive non-overlapping matches, skipping an empty
/// match right after the previous match.
fn go_matches(re: &Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let limit = if n < 0 {
        s.len() + 1
    } else {
        usize::try_from(n).unwrap_or(0)
    };
    let mut out = Vec::new();
    let mut pos = 0;
    let mut prev_end: Option<usize> = None;
    while out.len() < limit && pos <= s.len() {
        let Some(m) = re.find_at(s, pos) else { break };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((m.start(), m.end()));
        }
    }
    out
}

fn find(a: &[Value], must: bool) -> Result<Value, String> {
    let re = compiler(must)(arg_str(a, 0))?;
    let src = arg_str(a, 1);
    s(re.find(src).map_or("", |m| m.as_str()))
}

fn find_all(a: &[Value], must: bool) -> Result<Value, String> {
    let re = compiler(must)(arg_str(a, 0))?;
    let src = arg_str(a, 1);
    let found = go_matches(&re, src, arg_int(a, 2));
    Ok(Value::List(List::from_strings(
        found.into_iter().map(|(x, y)| &src[x..y]),
    )))
}

fn replace(c: &Ctx<'_>, a: &[Value], expand: bool, must: bool) -> Result<Value, String> {
    let re = compiler(must)(arg_str(a, 0))?;
    let (src, repl) = (arg_str(a, 1), arg_str(a, 2));
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for (x, y) in go_matches(&re, src, -1) {
        out.push_str(&src[last..x]);
        if expand {
            if let Some(caps) = re.captures_at(src, x) {
                caps.expand(repl, &mut out);
            }
        } else {
            out.push_str(repl);
        }
        last = y;
        c.check_size(out.len())?;
    }
    out.push_str(&src[last..]);
    c.check_size(out.len())?;
    s(out)
}

fn split(a: &[Value], must: bool) -> Result<Value, String> {
    let re = compiler(must)(arg_str(a, 0))?;
    let (src, n) = (arg_str(a, 1), arg_int(a, 2));
    if n == 0 {
        return Ok(Value::List(List::from_strings(Vec::<String>::new())));
    }
    if !re.as_str().is_empty() && src.is_empty() {
        return Ok(Value::List(List::from_strings([""])));
    }
    let mut parts: Vec<&str> = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for (x, y) in go_matches(&re, src, n) {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        end = x;
        if y != 0 {
            parts.push(&src[beg..end]);
        }
        beg = y;
    }
    if end != src.len() {
        parts.push(&src[beg..]);
    }
    Ok(Value::List(List::from_strings(parts)))
}

/// Go's `regexp.QuoteMeta`.
pub(crate) fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_classes_are_ascii() {
        let re = compile(r"^\w+\s\d$").unwrap();
        assert!(re.is_match("abc_1 5"));
        assert!(!re.is_match("héllo 5"));
        assert!(!compile(r"\d").unwrap().is_match("٣"));
        assert!(compile(r"[\d.]+").unwrap().is_match("1.5"));
        assert!(compile(r"\bfoo\b").unwrap().is_match("a foo b"));
        assert!(compile(r"\Qa.b\E").unwrap().is_match("a.b"));
        assert!(!compile(r"\Qa.b\E").unwrap().is_match("axb"));
        assert!(compile(r"[]a]").unwrap().is_match("]"));
        assert!(compile(r"[a-c&&]").unwrap().is_match("&"));
    }

    #[test]
    fn empty_matches_follow_go() {
        let re = compile("a*").unwrap();
        assert_eq!(go_matches(&re, "baaab", -1), vec![(0, 0), (1, 4), (5, 5)]);
        assert_eq!(go_matches(&re, "baaab", 2), vec![(0, 0), (1, 4)]);
    }

    #[test]
    fn split_and_quote_meta() {
        let l = crate::Limits::DEFAULT;
        let c = Ctx { limits: &l };
        let r = split(
            &[Value::from("z+"), Value::from("pizza"), Value::Int(-1)],
            false,
        )
        .unwrap();
        assert_eq!(crate::fmt::to_string_v(&r), "[pi a]");
        let r = split(
            &[Value::from(""), Value::from("abc"), Value::Int(-1)],
            false,
        )
        .unwrap();
        assert_eq!(crate::fmt::to_string_v(&r), "[a b c]");
        assert_eq!(quote_meta("1.5+x"), "1\\.5\\+x");
        let r = replace(
            &c,
            &[
                Value::from("a(x*)b"),
                Value::from("-ab-axxb-"),
                Value::from("${1}W"),
            ],
            true,
            false,
        )
        .unwrap();
        assert_eq!(r.as_str(), Some("-W-xxW-"));
        let r = replace(
            &c,
            &[
                Value::from("a(x*)b"),
                Value::from("-ab-axxb-"),
                Value::from("$1W"),
            ],
            true,
            false,
        )
        .unwrap();
        assert_eq!(r.as_str(), Some("---"));
        assert!(
            must_compile("(")
                .unwrap_err()
                .starts_with("regexp: Compile(`(`): error parsing regexp")
        );
    }
}
