//! kube-events' condition language, compiled once and evaluated over an event's JSON.
//!
//! ```text
//! type = "Warning" and involvedObject.kind = "Pod" and reason in ("BackOff", "Failed")
//! (count > 3 or message contains "OOM") and not involvedObject.namespace like "kube-*"
//! involvedObject.labels.app = "web"                 # herald: one label of the object
//! involvedObject.labels["app.kubernetes.io/name"] exists
//! metadata.ownerReferences[*].kind = "ReplicaSet"   # any element; [0] one; [1:3] all
//! ```
//!
//! * Boolean: `and`, `or`, `not` (or `!`), parentheses.
//! * Tests: `= == != > < >= <=` against a string, a number or (`=`, `!=` only)
//!   `true`/`false`; `contains`, `in (…)`, `like` (`*` any run, `?` one character),
//!   `regex` (Go RE2), `exists`, each with its `not` form (`not contains`, `not in`,
//!   `not like`, `not regex`, `not exists`); a bare path is true when its value
//!   reads as a true boolean.
//! * Paths are dotted JSON paths into the event ([`crate::view`]); `a[3]`, `a[*]`
//!   and slices `a[1:5]` index arrays; herald adds `key["with.dots/or-slashes"]`.
//!
//! kube-events' rules kept on purpose (existing Rule objects select the same
//! events; herald's `check-rule` warns about the first two):
//! * `and` and `or` share one precedence level and group left to right, so
//!   `a or b and c` means `(a or b) and c`;
//! * `not` negates everything to its right up to the closing parenthesis:
//!   `not a and b` means `not (a and b)`;
//! * `like` is a regular expression search, not an anchored glob: `*` becomes
//!   `(.*)`, `?` becomes `.`, other characters keep their regex meaning (`.` is any
//!   character), and the pattern may match anywhere in the value;
//! * comparisons read values as kube-events' flattened event did: as text, or as a
//!   float for numeric literals ([`eval`] has the details).
//!
//! Differences: a condition that does not parse, or a `regex`/`like` pattern that
//! does not compile, is rejected when the rule is loaded with its position
//! (kube-events failed on every event); escapes `\"` and `\\` in strings are
//! unescaped (kube-events compared them with the backslash); `not contains` and
//! friends accept any whitespace between the words.

mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

pub use lexer::{Op, Segment};
use regex::Regex;
use serde_json::Value;

pub(crate) use eval::go_string;

/// A condition that does not parse or compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct ConditionError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Byte offset in the condition.
    pub offset: usize,
    /// 1-based line in the condition.
    pub line: usize,
    /// 1-based column (in characters) in the condition.
    pub column: usize,
}

impl ConditionError {
    pub(crate) fn at(
        src: &str,
        offset: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConditionError {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        ConditionError {
            message: message.into(),
            hint: hint.into(),
            offset,
            line,
            column,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    root: eval::Node,
    warnings: Vec<String>,
}

impl Condition {
    /// Parses and compiles `source`.
    ///
    /// # Errors
    /// [`ConditionError`] with the position of the first problem.
    pub fn parse(source: &str) -> Result<Condition, ConditionError> {
        let toks = lexer::lex(source)?;
        let ast = parser::parse(source, toks)?;
        let mut warnings = Vec::new();
        precedence_warnings(&ast, false, &mut warnings);
        let root = eval::compile(ast, &mut |at, op, pattern| {
            compile_pattern(source, at, op, pattern)
        })?;
        Ok(Condition {
            source: source.to_owned(),
            root,
            warnings,
        })
    }

    /// Evaluates the condition over `doc` (an event's [`crate::view`]).
    pub fn matches(&self, doc: &Value) -> bool {
        self.root.eval(doc)
    }

    /// The values the top-level field `key` (such as `reason`) must have for the
    /// condition to hold, when the condition requires one through `and`s (`reason =
    /// "BackOff"`, `reason in ("A", "B")`). Lets a rule set skip the rules an event
    /// cannot match; see [`crate::index::RuleIndex`].
    pub fn required_values(&self, key: &str) -> Option<Vec<String>> {
        self.root.required(key)
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Places where kube-events' precedence may not mean what the reader expects
    /// (mixed `and`/`or`, or `not` before `and`/`or`, without parentheses).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn compile_pattern(src: &str, at: usize, op: Op, pattern: &str) -> Result<Regex, ConditionError> {
    let translated = match op {
        Op::Like | Op::NotLike => like_to_regex(pattern),
        _ => pattern.to_owned(),
    };
    herald_template::go_regex::compile(&translated).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or_default().trim().to_owned();
        ConditionError::at(
            src,
            at,
            format!("`{}` pattern \"{pattern}\" does not compile: {last}", op.text()),
            match op {
                Op::Like | Op::NotLike => "in `like`, `*` and `?` are wildcards and the other characters are regular expression syntax; escape them with `\\\\`",
                _ => "`regex` takes a Go (RE2) regular expression",
            },
        )
    })
}

/// kube-events' glob: `?` → `.`, each run of `*` → `(.*)`, nothing escaped.
fn like_to_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut stars = false;
    for c in pattern.chars() {
        if c == '*' {
            if !stars {
                out.push_str("(.*)");
            }
            stars = true;
            continue;
        }
        stars = false;
        if c == '?' {
            out.push('.');
        } else {
            out.push(c);
        }
    }
    out
}

fn precedence_warnings(ast: &parser::Ast, in_chain_of: bool, out: &mut Vec<String>) {
    use parser::Ast;
    match ast {
        Ast::And(a, b) | Ast::Or(a, b) => {
            let mixed = |x: &Ast| {
                matches!(
                    (ast, x),
                    (Ast::And(..), Ast::Or(..)) | (Ast::Or(..), Ast::And(..))
                )
            };
            if mixed(a) && out.iter().all(|w| !w.starts_with("`and` and `or`")) {
                out.push("`and` and `or` share one precedence level and group left to right (`a or b and c` is `(a or b) and c`); add parentheses to say what you mean".into());
            }
            precedence_warnings(a, true, out);
            precedence_warnings(b, true, out);
        }
        Ast::Not(inner) => {
            if matches!(**inner, Ast::And(..) | Ast::Or(..)) && !in_chain_of {
                out.push("`not` negates everything after it up to the closing parenthesis (`not a and b` is `not (a and b)`); write `(not a) and b` if you mean that".into());
            } else if matches!(**inner, Ast::And(..) | Ast::Or(..)) {
                out.push("`not` inside an and/or chain negates the rest of the chain (`a and not b or c` is `a and not (b or c)`); add parentheses to say what you mean".into());
            }
            precedence_warnings(inner, false, out);
        }
        Ast::Group(inner) => precedence_warnings(inner, false, out),
        Ast::Test { .. } | Ast::Truthy(_) => {}
    }
}
