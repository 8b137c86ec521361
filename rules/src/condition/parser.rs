//! Parses tokens into an expression tree with kube-events' precedence.
//!
//! kube-events' grammar puts `and` and `or` in one alternative, so they share one
//! precedence level and group left to right: `a or b and c` is `(a or b) and c`.
//! Its `not` is a prefix of lower precedence than both, so it negates the whole
//! and/or chain to its right up to the closing parenthesis: `not a and b` is
//! `not (a and b)`, and `a and not b or c` is `a and not (b or c)`. herald keeps
//! both rules so existing Rule objects select the same events.

use super::ConditionError;
use super::lexer::{Op, Segment, Spanned, Tok};

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// A string.
    Str(String),
    /// A number: its text (as `in` and `contains` compare text) and value.
    Num(String, f64),
    /// `true` / `false` (any of kube-events' spellings).
    Bool(bool),
}

impl Literal {
    pub(crate) fn text(&self) -> String {
        match self {
            Literal::Str(s) | Literal::Num(s, _) => s.clone(),
            Literal::Bool(b) => b.to_string(),
        }
    }
}

/// The parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    And(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    /// A parenthesised expression (kept so precedence warnings can tell).
    Group(Box<Ast>),
    /// `path op literal`; `values` has one element except for `in` / `not in`.
    Test {
        path: Vec<Segment>,
        op: Op,
        values: Vec<Literal>,
        /// Byte offset of the operator (for errors found while compiling).
        at: usize,
    },
    /// A bare path: true when its value reads as a true boolean.
    Truthy(Vec<Segment>),
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
}

/// Parses a whole condition.
pub(crate) fn parse(src: &str, toks: Vec<Spanned>) -> Result<Ast, ConditionError> {
    let mut p = Parser { src, toks, pos: 0 };
    if p.toks.is_empty() {
        return Err(ConditionError::at(
            src,
            0,
            "the condition is empty",
            "write a condition such as `type = \"Warning\" and reason = \"BackOff\"`",
        ));
    }
    let ast = p.chain()?;
    if let Some(t) = p.toks.get(p.pos) {
        let hint = match t.tok {
            Tok::RParen => "this `)` has no matching `(`",
            _ => "join conditions with `and` or `or`",
        };
        return Err(ConditionError::at(
            src,
            t.start,
            format!("unexpected {}", describe(&t.tok)),
            hint,
        ));
    }
    Ok(ast)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::And => "`and`".into(),
        Tok::Or => "`or`".into(),
        Tok::Not => "`not`".into(),
        Tok::Op(op) => format!("operator `{}`", op.text()),
        Tok::Comma => "`,`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Number(s, _) => format!("number {s}"),
        Tok::Bool(b) => format!("`{b}`"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Path(_) => "path".into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    /// Byte offset of the next token, or the end of the condition.
    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.start)
    }

    fn err(&self, message: impl Into<String>, hint: &str) -> ConditionError {
        let message = match self.toks.get(self.pos) {
            Some(t) => format!("{}, found {}", message.into(), describe(&t.tok)),
            None => format!("{} at the end of the condition", message.into()),
        };
        ConditionError::at(self.src, self.here(), message, hint)
    }

    /// `term ((and|or) term)*`, left to right on one level.
    fn chain(&mut self) -> Result<Ast, ConditionError> {
        let mut left = self.term()?;
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    left = Ast::And(Box::new(left), Box::new(self.term()?));
                }
                Some(Tok::Or) => {
                    self.pos += 1;
                    left = Ast::Or(Box::new(left), Box::new(self.term()?));
                }
                _ => return Ok(left),
            }
        }
    }

    fn term(&mut self) -> Result<Ast, ConditionError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                // kube-events: `not` takes the whole chain to its right
                Ok(Ast::Not(Box::new(self.chain()?)))
            }
            Some(Tok::LParen) => {
                let open = self.here();
                self.pos += 1;
                let inner = self.chain()?;
                if self.peek() != Some(&Tok::RParen) {
                    if self.pos >= self.toks.len() {
                        return Err(ConditionError::at(
                            self.src,
                            open,
                            "`(` is not closed",
                            "add the matching `)`",
                        ));
                    }
                    return Err(self.err("expected `)`", "close the parenthesis, or join conditions with `and` / `or`"));
                }
                self.pos += 1;
                Ok(Ast::Group(Box::new(inner)))
            }
            Some(Tok::Path(_)) => self.test(),
            _ => Err(self.err(
                "expected a condition",
                "a condition is `path op value` (reason = \"BackOff\"), `path exists`, a path alone (a boolean field), `not …` or `( … )`",
            )),
        }
    }

    fn test(&mut self) -> Result<Ast, ConditionError> {
        let Some(Tok::Path(path)) = self.peek().cloned() else {
            return Err(self.err("expected a path", "e.g. involvedObject.kind"));
        };
        self.pos += 1;
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            Some(Tok::Path(word)) if matches!(word.as_slice(), [Segment::Key(_)]) => {
                let Some(Segment::Key(w)) = word.first() else {
                    return Ok(Ast::Truthy(path));
                };
                return Err(ConditionError::at(
                    self.src,
                    self.here(),
                    format!("unknown operator `{w}`"),
                    OPERATORS,
                ));
            }
            Some(Tok::Str(_) | Tok::Number(..) | Tok::Bool(_)) => {
                return Err(self.err(
                    "expected an operator between the path and the value",
                    OPERATORS,
                ));
            }
            _ => return Ok(Ast::Truthy(path)),
        };
        let at = self.here();
        self.pos += 1;
        let values = match op {
            Op::Exists | Op::NotExists => Vec::new(),
            Op::In | Op::NotIn => self.list(op)?,
            Op::Eq | Op::Ne => vec![self.literal(op, true, true)?],
            Op::Gt | Op::Lt | Op::Ge | Op::Le | Op::Contains | Op::NotContains => {
                vec![self.literal(op, true, false)?]
            }
            Op::Like | Op::NotLike | Op::Regex | Op::NotRegex => {
                vec![self.literal(op, false, false)?]
            }
        };
        Ok(Ast::Test {
            path,
            op,
            values,
            at,
        })
    }

    fn literal(&mut self, op: Op, number: bool, boolean: bool) -> Result<Literal, ConditionError> {
        let lit = match self.peek() {
            Some(Tok::Str(s)) => Literal::Str(s.clone()),
            Some(Tok::Number(t, v)) if number => Literal::Num(t.clone(), *v),
            Some(Tok::Bool(b)) if boolean => Literal::Bool(*b),
            _ => {
                let what = match (number, boolean) {
                    (true, true) => "a string, a number or true/false",
                    (true, false) => "a string or a number",
                    _ => "a string",
                };
                let hint = format!("e.g. `{}` {}", op.text(), example(op));
                return Err(self.err(format!("`{}` needs {what}", op.text()), &hint));
            }
        };
        self.pos += 1;
        Ok(lit)
    }

    fn list(&mut self, op: Op) -> Result<Vec<Literal>, ConditionError> {
        let hint = format!("e.g. `reason {} (\"BackOff\", \"Failed\")`", op.text());
        if self.peek() != Some(&Tok::LParen) {
            return Err(self.err(
                format!("`{}` needs a list in parentheses", op.text()),
                &hint,
            ));
        }
        self.pos += 1;
        let mut out = vec![self.literal(op, true, false)?];
        loop {
            match self.peek() {
                Some(Tok::Comma) => {
                    self.pos += 1;
                    out.push(self.literal(op, true, false)?);
                }
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.err("expected `,` or `)` in the list", &hint)),
            }
        }
    }
}

const OPERATORS: &str = "operators: = == != > < >= <= contains, not contains, in (…), not in (…), like, not like, regex, not regex, exists, not exists";

fn example(op: Op) -> &'static str {
    match op {
        Op::Like | Op::NotLike => "\"kube-*\"",
        Op::Regex | Op::NotRegex => "\"^Back(Off|off)$\"",
        Op::Gt | Op::Lt | Op::Ge | Op::Le => "3",
        _ => "\"Warning\"",
    }
}
