//! Parse and execution errors, displayed the way Go's `text/template` words them.

use std::fmt;

/// A template that could not be parsed.
///
/// Displays as `template: NAME:LINE:COLUMN: MESSAGE`; the message is Go's
/// (`unexpected "}" in operand`, `function "foo" not defined`, ...). Go itself
/// prints only the line; the column (1-based, in characters) is added to help
/// find the spot in long configuration values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}:{column}: {message}")]
pub struct ParseError {
    /// The template name given to [`crate::Template::parse`].
    pub name: String,
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// Go's error message.
    pub message: String,
}

/// Where in the template an execution error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLocation {
    /// The top-level template name (Go's `ParseName`).
    pub parse_name: String,
    /// 1-based line.
    pub line: usize,
    /// 0-based byte offset within the line, as Go reports it.
    pub column: usize,
    /// The node being executed, as Go prints it (`.Foo`, `printf "%d" .X`).
    pub context: String,
}

/// A template that failed while rendering.
///
/// Displays exactly like Go's `ExecError`:
/// `template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExecError {
    /// The name of the template (or `define`d sub-template) being executed.
    pub template: String,
    /// Where it happened, when a node is known.
    pub location: Option<ErrorLocation>,
    /// The error itself (`can't evaluate field Foo in type string`).
    pub message: String,
    /// Whether a configured resource limit (output size, iterations, depth)
    /// stopped the render.
    pub limit_exceeded: bool,
}

fn go_quote(s: &str) -> String {
    crate::fmt::quote::quote(s, false)
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            None => write!(f, "template: {}: {}", self.template, self.message),
            Some(loc) => write!(
                f,
                "template: {}:{}:{}: executing {} at <{}>: {}",
                loc.parse_name,
                loc.line,
                loc.column,
                go_quote(&self.template),
                loc.context,
                self.message
            ),
        }
    }
}

/// A layout (a tree of templates from a receiver's `layout:`) that could not
/// be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {source}")]
pub struct LayoutError {
    /// Where in the layout the template sits (`layout.details.owner`).
    pub path: String,
    /// The parse error.
    #[source]
    pub source: ParseError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_go() {
        let e = ExecError {
            template: "t".into(),
            location: Some(ErrorLocation {
                parse_name: "t".into(),
                line: 1,
                column: 2,
                context: ".Foo".into(),
            }),
            message: "can't evaluate field Foo in type string".into(),
            limit_exceeded: false,
        };
        assert_eq!(
            e.to_string(),
            "template: t:1:2: executing \"t\" at <.Foo>: can't evaluate field Foo in type string"
        );
        let p = ParseError {
            name: "t".into(),
            line: 3,
            column: 7,
            message: "unexpected EOF".into(),
        };
        assert_eq!(p.to_string(), "template: t:3:7: unexpected EOF");
    }
}
