//! Parse tree nodes. `Display` reproduces Go's `Node.String()`, which appears
//! in execution error messages (`executing "t" at <.Foo>`).

use std::fmt;
use std::sync::Arc;

use crate::funcs::FuncId;
use crate::value::Value;

/// A parsed template body.
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) name: Arc<str>,
    pub(crate) root: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Box<str>),
    Action(Action),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template(TemplateCall),
    Break(usize),
    Continue(usize),
}

#[derive(Debug)]
pub(crate) struct Action {
    pub(crate) pos: usize,
    pub(crate) pipe: Pipe,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) pos: usize,
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct TemplateCall {
    pub(crate) pos: usize,
    pub(crate) name: Arc<str>,
    pub(crate) pipe: Option<Pipe>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) is_assign: bool,
    pub(crate) decl: Vec<Arc<str>>,
    pub(crate) cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) struct Number {
    pub(crate) pos: usize,
    pub(crate) text: Box<str>,
    pub(crate) is_int: bool,
    pub(crate) is_uint: bool,
    pub(crate) is_float: bool,
    pub(crate) int: i64,
    pub(crate) uint: u64,
    pub(crate) float: f64,
}

#[derive(Debug)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        idents: Vec<Arc<str>>,
    },
    /// `(pipe).A.B` or `$x.A` style chains on other terms.
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<Arc<str>>,
    },
    /// A function name.
    Ident {
        pos: usize,
        name: Arc<str>,
        func: FuncId,
    },
    /// `$x.A.B`; `idents[0]` is the variable name including `$`.
    Variable {
        pos: usize,
        idents: Vec<Arc<str>>,
    },
    Dot(usize),
    Nil(usize),
    Bool {
        pos: usize,
        value: bool,
    },
    Number(Box<Number>),
    String {
        pos: usize,
        quoted: Box<str>,
        value: Value,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// === Display: Go's String() ===

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for id in idents {
                    write!(f, ".{id}")?;
                }
                Ok(())
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = &**node {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for id in fields {
                    write!(f, ".{id}")?;
                }
                Ok(())
            }
            Arg::Ident { name, .. } => f.write_str(name),
            Arg::Variable { idents, .. } => {
                for (i, id) in idents.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(id)?;
                }
                Ok(())
            }
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            for (i, v) in self.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(v)?;
            }
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    for n in list {
        write!(f, "{n}")?;
    }
    Ok(())
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, name: &str, b: &Branch| {
            write!(f, "{{{{{name} {}}}}}", b.pipe)?;
            write_list(f, &b.list)?;
            if let Some(e) = &b.else_list {
                f.write_str("{{else}}")?;
                write_list(f, e)?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(a) => write!(f, "{{{{{}}}}}", a.pipe),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template(t) => {
                write!(
                    f,
                    "{{{{template {}",
                    crate::fmt::quote::quote(&t.name, false)
                )?;
                if let Some(p) = &t.pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

// === numbers ===

fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let b = if matches!(b.first(), Some(b'-' | b'+')) {
        &b[1..]
    } else {
        b
    };
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_uint0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (base, digits): (u32, &str) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int0(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint0(rest)?;
    if neg {
        if u > 1 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the literals the lexer produces
/// (decimal and hexadecimal, with `_` separators). Out-of-range values fail.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        return parse_float(&s.replace('_', ""));
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        let (mant, exp) = hex.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut m: f64 = 0.0;
        for c in int.chars() {
            m = m * 16.0 + f64::from(c.to_digit(16)?);
        }
        let mut scale = 1.0 / 16.0;
        for c in frac.chars() {
            m += f64::from(c.to_digit(16)?) * scale;
            scale /= 16.0;
        }
        m * 2f64.powi(exp)
    } else {
        if lower.contains("inf") || lower.contains("nan") {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if !v.is_finite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

impl Number {
    /// Go's `Tree.newNumber` for integer/float literals (not characters).
    pub(crate) fn parse(pos: usize, text: &str) -> Result<Number, String> {
        let mut n = Number {
            pos,
            text: text.into(),
            is_int: false,
            is_uint: false,
            is_float: false,
            int: 0,
            uint: 0,
            float: 0.0,
        };
        if text.ends_with('i') {
            return Err(format!("complex numbers are not supported: {text}"));
        }
        let u = parse_uint0(text);
        if let Some(u) = u {
            n.is_uint = true;
            n.uint = u;
        }
        if let Some(i) = parse_int0(text) {
            n.is_int = true;
            n.int = i;
            if i == 0 {
                n.is_uint = true;
                n.uint = u.unwrap_or(0);
            }
        }
        if n.is_int {
            n.is_float = true;
            n.float = n.int as f64;
        } else if n.is_uint {
            n.is_float = true;
            n.float = n.uint as f64;
        } else if let Some(f) = parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!(
                    "integer overflow: {}",
                    crate::fmt::quote::quote(text, false)
                ));
            }
            n.is_float = true;
            n.float = f;
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                n.is_int = true;
                n.int = f as i64;
            }
            if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                n.is_uint = true;
                n.uint = f as u64;
            }
        }
        if !n.is_int && !n.is_uint && !n.is_float {
            return Err(format!(
                "illegal number syntax: {}",
                crate::fmt::quote::quote(text, false)
            ));
        }
        Ok(n)
    }

    /// A character constant such as `'a'` or `'\n'`.
    pub(crate) fn parse_char(pos: usize, text: &str) -> Result<Number, String> {
        let inner = text.get(1..).unwrap_or("");
        let (c, _, tail) = crate::fmt::quote::unquote_char(inner, b'\'')
            .map_err(|_| "invalid syntax".to_owned())?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        let v = u32::from(c);
        Ok(Number {
            pos,
            text: text.into(),
            is_int: true,
            is_uint: true,
            is_float: true,
            int: i64::from(v),
            uint: u64::from(v),
            float: f64::from(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_go_rules() {
        let n = Number::parse(0, "0x1F").unwrap();
        assert!(n.is_int && n.int == 31);
        let n = Number::parse(0, "1_000").unwrap();
        assert_eq!(n.int, 1000);
        let n = Number::parse(0, "017").unwrap();
        assert_eq!(n.int, 15);
        let n = Number::parse(0, "0o17").unwrap();
        assert_eq!(n.int, 15);
        let n = Number::parse(0, "2.0").unwrap();
        assert!(n.is_int && n.is_float && n.int == 2);
        let n = Number::parse(0, "1.5").unwrap();
        assert!(!n.is_int && n.float == 1.5);
        let n = Number::parse(0, "-7").unwrap();
        assert!(n.is_int && !n.is_uint);
        let n = Number::parse(0, "0x1p-2").unwrap();
        assert_eq!(n.float, 0.25);
        assert_eq!(
            Number::parse(0, "08").unwrap_err(),
            "integer overflow: \"08\""
        );
        assert_eq!(
            Number::parse(0, "99999999999999999999").unwrap_err(),
            "integer overflow: \"99999999999999999999\""
        );
        assert_eq!(
            Number::parse(0, "1__0").unwrap_err(),
            "illegal number syntax: \"1__0\""
        );
        let n = Number::parse(0, "18446744073709551615").unwrap();
        assert!(n.is_uint && !n.is_int);
    }

    #[test]
    fn char_constants() {
        assert_eq!(Number::parse_char(0, "'a'").unwrap().int, 97);
        assert_eq!(Number::parse_char(0, "'\\n'").unwrap().int, 10);
        assert_eq!(
            Number::parse_char(0, "'ab'").unwrap_err(),
            "malformed character constant: 'ab'"
        );
    }
}
