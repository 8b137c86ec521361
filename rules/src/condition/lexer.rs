//! Splits a condition into tokens, each with its byte span.
//!
//! Words follow kube-events' lexer: a word made of path characters is a keyword only
//! when the whole word is one (`and`, but `android` is a path), and `not` followed
//! by `contains`, `in`, `like`, `regex` or `exists` is one negated operator (herald
//! accepts any whitespace between the two words, kube-events exactly one space).

use super::ConditionError;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    And,
    Or,
    /// `not` or `!`.
    Not,
    Op(Op),
    Comma,
    LParen,
    RParen,
    /// A number literal: its text and value.
    Number(String, f64),
    Bool(bool),
    /// A string literal, unescaped.
    Str(String),
    /// A path, already split into segments.
    Path(Vec<Segment>),
}

/// An operator between a path and a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
    /// `>=`.
    Ge,
    /// `<=`.
    Le,
    /// `contains`.
    Contains,
    /// `not contains`.
    NotContains,
    /// `in`.
    In,
    /// `not in`.
    NotIn,
    /// `like`.
    Like,
    /// `not like`.
    NotLike,
    /// `regex`.
    Regex,
    /// `not regex`.
    NotRegex,
    /// `exists`.
    Exists,
    /// `not exists`.
    NotExists,
}

impl Op {
    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Contains => "contains",
            Op::NotContains => "not contains",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Like => "like",
            Op::NotLike => "not like",
            Op::Regex => "regex",
            Op::NotRegex => "not regex",
            Op::Exists => "exists",
            Op::NotExists => "not exists",
        }
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// `[n]`: one element.
    Index(usize),
    /// `[*]`: any element.
    Any,
    /// `[a:b]`: every element of the slice (kube-events' rule).
    Slice(Option<usize>, Option<usize>),
}

/// A token and where it is (byte offsets into the condition).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Tokenizes `src`.
pub(crate) fn lex(src: &str) -> Result<Vec<Spanned>, ConditionError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (tok, end) = match c {
            b'(' => (Tok::LParen, i + 1),
            b')' => (Tok::RParen, i + 1),
            b',' => (Tok::Comma, i + 1),
            b'=' if b.get(i + 1) == Some(&b'=') => (Tok::Op(Op::Eq), i + 2),
            b'=' => (Tok::Op(Op::Eq), i + 1),
            b'!' if b.get(i + 1) == Some(&b'=') => (Tok::Op(Op::Ne), i + 2),
            b'!' => (Tok::Not, i + 1),
            b'>' if b.get(i + 1) == Some(&b'=') => (Tok::Op(Op::Ge), i + 2),
            b'>' => (Tok::Op(Op::Gt), i + 1),
            b'<' if b.get(i + 1) == Some(&b'=') => (Tok::Op(Op::Le), i + 2),
            b'<' => (Tok::Op(Op::Lt), i + 1),
            b'"' => string(src, i)?,
            b'-' | b'0'..=b'9' => number(src, i)?,
            c if is_word_start(c) => word(src, i)?,
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ConditionError::at(
                    src,
                    i,
                    format!("unexpected character `{ch}`"),
                    "conditions use paths (involvedObject.kind), strings in double quotes, numbers, operators (= != > < >= <= contains in like regex exists) and and/or/not",
                ));
            }
        };
        out.push(Spanned { tok, start, end });
        i = end;
    }
    Ok(out)
}

fn string(src: &str, start: usize) -> Result<(Tok, usize), ConditionError> {
    let b = src.as_bytes();
    let mut s = String::new();
    let mut i = start + 1;
    let mut run = i;
    while i < b.len() {
        match b[i] {
            b'"' => {
                s.push_str(&src[run..i]);
                return Ok((Tok::Str(s), i + 1));
            }
            b'\\' if matches!(b.get(i + 1), Some(b'"' | b'\\')) => {
                s.push_str(&src[run..i]);
                s.push(char::from(b[i + 1]));
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err(ConditionError::at(
        src,
        start,
        "string is not closed",
        "end the string with `\"`; write a quote inside a string as `\\\"`",
    ))
}

fn number(src: &str, start: usize) -> Result<(Tok, usize), ConditionError> {
    let b = src.as_bytes();
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let after = digits(i);
    if after == i {
        return Err(ConditionError::at(
            src,
            start,
            "`-` must start a number",
            "write a negative number as `-3`",
        ));
    }
    i = after;
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i = digits(i + 1);
    }
    let text = &src[start..i];
    let value: f64 = text.parse().map_err(|_| {
        ConditionError::at(
            src,
            start,
            format!("`{text}` is not a number"),
            "write numbers as 3 or 2.5",
        )
    })?;
    Ok((Tok::Number(text.to_owned(), value), i))
}

const NEGATABLE: [(&str, Op); 5] = [
    ("contains", Op::NotContains),
    ("in", Op::NotIn),
    ("like", Op::NotLike),
    ("regex", Op::NotRegex),
    ("exists", Op::NotExists),
];

fn word(src: &str, start: usize) -> Result<(Tok, usize), ConditionError> {
    let (segments, end) = path(src, start)?;
    let text = &src[start..end];
    let keyword = match text {
        "and" => Some(Tok::And),
        "or" => Some(Tok::Or),
        "contains" => Some(Tok::Op(Op::Contains)),
        "in" => Some(Tok::Op(Op::In)),
        "like" => Some(Tok::Op(Op::Like)),
        "regex" => Some(Tok::Op(Op::Regex)),
        "exists" => Some(Tok::Op(Op::Exists)),
        "true" | "True" | "TRUE" => Some(Tok::Bool(true)),
        "false" | "False" | "FALSE" => Some(Tok::Bool(false)),
        "not" => {
            // `not contains` and friends are one operator
            let b = src.as_bytes();
            let mut j = end;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut k = j;
            while k < b.len() && is_word(b[k]) {
                k += 1;
            }
            let next = &src[j..k];
            if j > end
                && let Some((_, op)) = NEGATABLE.iter().find(|(w, _)| *w == next)
            {
                return Ok((Tok::Op(*op), k));
            }
            Some(Tok::Not)
        }
        _ => None,
    };
    Ok((keyword.unwrap_or(Tok::Path(segments)), end))
}

/// Reads a path: `name`, `a.b.c`, `a[3].b`, `a[*].b`, `a[1:5]`, and herald's quoted
/// key `labels["app.kubernetes.io/name"]` for keys with dots or slashes.
fn path(src: &str, start: usize) -> Result<(Vec<Segment>, usize), ConditionError> {
    let b = src.as_bytes();
    let mut segs = Vec::new();
    let mut i = start;
    loop {
        // a key
        if i >= b.len() || !is_word_start(b[i]) {
            return Err(ConditionError::at(
                src,
                i,
                "a path needs a name after `.`",
                "path parts start with a letter or `_`, e.g. involvedObject.kind",
            ));
        }
        let k0 = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        segs.push(Segment::Key(src[k0..i].to_owned()));
        // any number of brackets
        while i < b.len() && b[i] == b'[' {
            let (seg, end) = bracket(src, i)?;
            segs.push(seg);
            i = end;
        }
        if i + 1 < b.len() && b[i] == b'.' && is_word_start(b[i + 1]) {
            i += 1;
            continue;
        }
        if i < b.len() && b[i] == b'.' && !(i + 1 < b.len() && b[i + 1].is_ascii_digit()) {
            // kube-events accepts a trailing dot
            i += 1;
        }
        return Ok((segs, i));
    }
}

fn bracket(src: &str, open: usize) -> Result<(Segment, usize), ConditionError> {
    let b = src.as_bytes();
    let Some(close_rel) = src[open..].find(']') else {
        return Err(ConditionError::at(
            src,
            open,
            "`[` is not closed",
            "index arrays as a[3], a[*] or a[1:5]",
        ));
    };
    let close = open + close_rel;
    let inner = &src[open + 1..close];
    let bad = || {
        ConditionError::at(
            src,
            open,
            format!("`[{inner}]` is not an index"),
            "use a[3] (one element), a[*] (any element), a[1:5] (every element of the slice) or labels[\"app.kubernetes.io/name\"] (a key with dots)",
        )
    };
    if b.get(open + 1) == Some(&b'"') {
        let (tok, end) = string(src, open + 1)?;
        if b.get(end) != Some(&b']') {
            return Err(bad());
        }
        let Tok::Str(key) = tok else {
            return Err(bad());
        };
        return Ok((Segment::Key(key), end + 1));
    }
    let num = |s: &str| -> Result<Option<usize>, ConditionError> {
        if s.is_empty() {
            Ok(None)
        } else if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().map(Some).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let seg = if inner == "*" {
        Segment::Any
    } else if let Some((a, z)) = inner.split_once(':') {
        Segment::Slice(num(a)?, num(z)?)
    } else {
        Segment::Index(num(inner)?.ok_or_else(bad)?)
    };
    Ok((seg, close + 1))
}
