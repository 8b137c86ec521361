//! The compiled condition and its evaluation over a JSON document.
//!
//! Values are compared the way kube-events compares them: as text (Go's
//! `fmt.Sprint` of the value, so `count = "3"` holds for a count of 3) for strings,
//! `contains`, `in`, `like` and `regex`; as numbers (the value's text read as a
//! float) for numeric literals; as booleans (Go's `strconv.ParseBool`) for
//! `true`/`false` and bare paths. A path that is missing (or null) makes every test
//! false except `not exists`. Where kube-events stopped with an error (a number
//! compared with text that is not a number, a bare path that is not a boolean) the
//! test is false.
//!
//! Array paths: `a[*].b` holds when any element's `b` passes, `a[3].b` when element
//! 3 exists and passes, `a[1:5].b` when the slice is not empty and every element in
//! it passes (kube-events' rule). An element without the key does not pass.

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

use super::lexer::{Op, Segment};
use super::parser::{Ast, Literal};

/// A compiled test.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    Eq(Literal),
    Ne(Literal),
    /// String or numeric order; `Ordering` the accepted outcomes.
    Order(Literal, [bool; 3]),
    Contains(String, bool),
    In(Vec<String>, bool),
    /// `like` / `regex`, negated when true.
    Matches(Regex, bool),
    Exists(bool),
    Truthy,
}

/// A compiled node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Test(Vec<Segment>, Check),
}

/// Compiles `ast`; `re` turns a `like`/`regex` operand into a regex (errors carry
/// the operator's offset).
pub(crate) fn compile<E>(
    ast: Ast,
    re: &mut impl FnMut(usize, Op, &str) -> Result<Regex, E>,
) -> Result<Node, E> {
    Ok(match ast {
        Ast::And(a, b) => Node::And(Box::new(compile(*a, re)?), Box::new(compile(*b, re)?)),
        Ast::Or(a, b) => Node::Or(Box::new(compile(*a, re)?), Box::new(compile(*b, re)?)),
        Ast::Not(a) => Node::Not(Box::new(compile(*a, re)?)),
        Ast::Group(a) => compile(*a, re)?,
        Ast::Truthy(p) => Node::Test(p, Check::Truthy),
        Ast::Test {
            path,
            op,
            mut values,
            at,
        } => {
            let first = || {
                values
                    .first()
                    .cloned()
                    .unwrap_or(Literal::Str(String::new()))
            };
            let check = match op {
                Op::Eq => Check::Eq(first()),
                Op::Ne => Check::Ne(first()),
                Op::Gt => Check::Order(first(), [false, false, true]),
                Op::Ge => Check::Order(first(), [false, true, true]),
                Op::Lt => Check::Order(first(), [true, false, false]),
                Op::Le => Check::Order(first(), [true, true, false]),
                Op::Contains | Op::NotContains => {
                    Check::Contains(first().text(), op == Op::NotContains)
                }
                Op::In | Op::NotIn => Check::In(
                    values.drain(..).map(|v| v.text()).collect(),
                    op == Op::NotIn,
                ),
                Op::Like | Op::NotLike | Op::Regex | Op::NotRegex => {
                    let negated = matches!(op, Op::NotLike | Op::NotRegex);
                    Check::Matches(re(at, op, &first().text())?, negated)
                }
                Op::Exists => Check::Exists(true),
                Op::NotExists => Check::Exists(false),
            };
            Node::Test(path, check)
        }
    })
}

impl Node {
    /// The values the top-level path `key` must have for this node to hold: from an
    /// `=` with a string or an `in` list reached through `and`s only. None when the
    /// node does not require one (a necessary condition, used to skip rules).
    pub(crate) fn required(&self, key: &str) -> Option<Vec<String>> {
        match self {
            Node::And(a, b) => a.required(key).or_else(|| b.required(key)),
            Node::Test(path, check) => match (path.as_slice(), check) {
                ([Segment::Key(k)], Check::Eq(Literal::Str(s))) if k == key => {
                    Some(vec![s.clone()])
                }
                ([Segment::Key(k)], Check::In(list, false)) if k == key => Some(list.clone()),
                _ => None,
            },
            Node::Or(..) | Node::Not(_) => None,
        }
    }

    pub(crate) fn eval(&self, doc: &Value) -> bool {
        match self {
            Node::And(a, b) => a.eval(doc) && b.eval(doc),
            Node::Or(a, b) => a.eval(doc) || b.eval(doc),
            Node::Not(a) => !a.eval(doc),
            Node::Test(path, check) => test_path(doc, path, check),
        }
    }
}

/// Walks `path` from `v`; quantifiers decide how array elements combine.
fn test_path(v: &Value, path: &[Segment], check: &Check) -> bool {
    let Some((seg, rest)) = path.split_first() else {
        return check.present(v);
    };
    match seg {
        Segment::Key(k) => match v.get(k.as_str()) {
            Some(child) if !child.is_null() => test_path(child, rest, check),
            _ => check.missing(),
        },
        Segment::Any => match v.as_array() {
            Some(items) => items
                .iter()
                .any(|item| !item.is_null() && test_path(item, rest, check)),
            None => false,
        },
        Segment::Index(i) => match v.as_array().and_then(|a| a.get(*i)) {
            Some(item) if !item.is_null() => test_path(item, rest, check),
            _ => false,
        },
        Segment::Slice(a, z) => {
            let Some(items) = v.as_array() else {
                return false;
            };
            let z = z.unwrap_or(items.len()).min(items.len());
            let a = a.unwrap_or(0).min(items.len());
            match items.get(a..z) {
                Some(slice) if !slice.is_empty() => slice
                    .iter()
                    .all(|item| !item.is_null() && test_path(item, rest, check)),
                _ => false,
            }
        }
    }
}

impl Check {
    /// The outcome for a missing value: only `not exists` holds.
    fn missing(&self) -> bool {
        matches!(self, Check::Exists(false))
    }

    fn present(&self, v: &Value) -> bool {
        match self {
            Check::Exists(want) => *want,
            Check::Eq(lit) => equal(v, lit).unwrap_or(false),
            Check::Ne(lit) => equal(v, lit).is_some_and(|e| !e),
            Check::Order(lit, accept) => {
                let ord = match lit {
                    Literal::Str(s) => Some(text(v).as_ref().cmp(s.as_str())),
                    Literal::Num(_, n) => as_number(v).and_then(|x| x.partial_cmp(n)),
                    Literal::Bool(_) => None,
                };
                ord.is_some_and(|o| accept[(o as i8 + 1) as usize])
            }
            Check::Contains(s, negated) => text(v).contains(s.as_str()) != *negated,
            Check::In(list, negated) => {
                let text = text(v);
                list.iter().any(|s| s.as_str() == text.as_ref()) != *negated
            }
            Check::Matches(re, negated) => re.is_match(&text(v)) != *negated,
            Check::Truthy => parse_bool(&text(v)) == Some(true),
        }
    }
}

/// `=`: text, numeric or boolean equality; None when the value cannot be read as
/// the literal's kind (the test is then false for `=` and `!=` alike).
fn equal(v: &Value, lit: &Literal) -> Option<bool> {
    match lit {
        Literal::Str(s) => Some(text(v).as_ref() == s.as_str()),
        Literal::Num(_, n) => as_number(v).map(|x| x == *n),
        Literal::Bool(b) => parse_bool(&text(v)).map(|x| x == *b),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        other => text(other).trim().parse().ok(),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// [`go_string`] without a copy for strings (the common case).
fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(go_string(other)),
    }
}

/// The value as Go's `fmt.Sprint` prints what kube-events compared: numbers as
/// float64 (`3`, `2.5`, `1e+21`), maps as `map[k:v …]` with sorted keys, arrays
/// as `[a b]`.
pub(crate) fn go_string(v: &Value) -> String {
    let mut out = String::new();
    write_go(v, &mut out);
    out
}

fn write_go(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) => out.push_str(&go_float(f)),
            None => out.push_str(&n.to_string()),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_go(v, out);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64: shortest representation, exponent form below 1e-4 and
/// from 1e21.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        // Rust prints `1e-7` / `1.5e21`; Go pads the exponent to two digits with a sign
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    format!("{f}")
}
