//! `herald-template`: Go `text/template` with sprig v3.2.3, in Rust.
//!
//! kubernetes-event-exporter configurations carry Go templates
//! (`{{ .InvolvedObject.Labels.app }}`, `{{ toJson . }}`, `{{ .Reason | upper }}`);
//! this crate parses and renders them exactly as Go does, including Go's error
//! messages, `fmt` printing rules and sprig's quirks.
//!
//! - [`Template`]: parse once, render many times (`Send + Sync`, cheap to clone).
//! - [`Value`]: the data model, faithful to the Go types templates observe.
//! - [`to_go_json`] / [`write_go_json`]: `encoding/json`-identical output.
//! - [`Layout`]: a tree of templates (a receiver's `layout:`), rendered
//!   recursively.
//!
//! Modules: `parse` (lexer and parser), `exec` (evaluator), `funcs` (builtins
//! and sprig), `fmt` (Go's `fmt`/`strconv`), `gotime` (Go time layouts and
//! durations), `json` (encoder), `value` (data model), `layout`.
//!
//! # Compatibility notes
//!
//! Output and error messages follow Go 1.22 and sprig v3.2.3. Deliberate or
//! unavoidable differences:
//!
//! - Go's integer widths are not modelled: `%T` of any signed integer is
//!   `int`, `int` parameters accept any integer (Go rejects `int64` there), and
//!   sprig's `duration`/`durationRound` treat every integer as `int64`.
//! - Maps from host data are read-only: `set`, `unset` and `merge` into them
//!   fail (Go would mutate data shared by every sink). A map can never be
//!   stored inside itself, and values nest at most 200 levels deep.
//! - Dictionary functions accept maps of any element type (Go insists on
//!   `map[string]interface {}`).
//! - `Local` is UTC (as in kubernetes-event-exporter's container image); `now`
//!   prints without Go's monotonic-clock suffix.
//! - Pointers nested inside printed values show as `&{...}`, where Go prints
//!   a memory address; a nil struct field reports `interface {}` as its type in
//!   "nil pointer evaluating" errors.
//! - Byte-oriented string functions (`trunc`, `substr`, `abbrev`) never split
//!   a UTF-8 character; bytes that are not UTF-8 (`b64dec`, `"\xff"`) are
//!   replaced with U+FFFD.
//! - `keys` and `values` return sorted results (Go's order is random).
//! - Regular-expression compile errors and `mustFromJson` errors keep Go's
//!   prefix but word the detail differently; complex number literals are
//!   rejected.
//! - [`ParseError`] adds the column to Go's `template: NAME:LINE: MSG`.
//! - [`Limits`] bound output size, iterations and nesting.
//!
//! ```
//! use herald_template::{Template, Value};
//!
//! let t = Template::parse("msg", "{{ .reason | upper }} x{{ .count }}").unwrap();
//! let data = Value::map([("reason", Value::from("BackOff")), ("count", Value::Int(3))]);
//! assert_eq!(t.render(&data).unwrap(), "BACKOFF x3");
//! ```

#![forbid(unsafe_code)]

mod error;
mod exec;
mod fmt;
mod funcs;
mod gotime;
mod json;
mod layout;
mod parse;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::{ErrorLocation, ExecError, LayoutError, ParseError};
pub use funcs::function_names;
pub use json::{JsonError, JsonSink, to_go_json, write_go_json};
pub use layout::Layout;

/// Go (RE2) regular expressions on the `regex` crate: Go's `\d \w \s \b` are
/// ASCII-only and `\Q…\E` quotes, so patterns written for Go (kubernetes-event-exporter
/// rules, sprig's `regex*` functions) match exactly what they matched there.
pub mod go_regex {
    /// Rewrites Go RE2 syntax into the `regex` crate's dialect.
    pub fn translate(pattern: &str) -> String {
        crate::funcs::sprig::regex::translate(pattern)
    }

    /// Compiles a Go regular expression.
    ///
    /// # Errors
    /// The pattern is not valid RE2 syntax.
    pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
        regex::Regex::new(&translate(pattern))
    }
}
pub use value::{
    Duration, ElemType, Entries, FieldDef, FieldKind, List, Map, MapWriteError, NamedInt,
    NamedKind, StructError, StructType, StructTypeBuilder, StructValue, StructValueBuilder, Time,
    TimeKind, Value, Zone,
};

/// Resource limits applied to every render, so a runaway template fails with
/// an [`ExecError`] (`limit_exceeded`) instead of hanging or exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes one render may produce; also bounds strings built by
    /// functions such as `repeat`, `printf` or `join`.
    pub max_output_bytes: usize,
    /// Maximum `range` iterations per render; also bounds sequences built by
    /// `until`, `untilStep`, `seq` and list functions.
    pub max_range_iterations: u64,
    /// Maximum nesting of `if`/`with`/`range` bodies and `template` calls
    /// during execution (Go's "exceeded maximum template depth").
    pub max_depth: usize,
}

impl Limits {
    /// 1 MiB of output, 10 000 iterations, depth 200.
    pub const DEFAULT: Limits = Limits {
        max_output_bytes: 1 << 20,
        max_range_iterations: 10_000,
        max_depth: 200,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The parsed templates of one source text: the top-level body under its name
/// plus every `{{define}}`/`{{block}}`.
#[derive(Debug)]
pub(crate) struct TemplateSet {
    pub(crate) name: Arc<str>,
    pub(crate) source: Arc<str>,
    pub(crate) trees: HashMap<Arc<str>, parse::Tree>,
}

/// A parsed template: immutable, `Send + Sync`, cheap to clone.
#[derive(Clone, Debug)]
pub struct Template {
    set: Arc<TemplateSet>,
    static_text: Option<Arc<str>>,
    limits: Limits,
}

impl Template {
    /// Parses `src` as a Go template named `name` (the name appears in error
    /// messages). Functions are resolved now, as Go does: an unknown function
    /// is a parse error.
    ///
    /// # Errors
    /// Returns Go's parse error, with line and column.
    pub fn parse(name: &str, src: &str) -> Result<Template, ParseError> {
        let trees = parse::parse(name, src)?;
        let static_text = trees.get(name).and_then(|t| {
            let mut text = String::new();
            for n in &t.root {
                match n {
                    parse::Node::Text(s) => text.push_str(s),
                    _ => return None,
                }
            }
            Some(Arc::from(text))
        });
        Ok(Template {
            set: Arc::new(TemplateSet {
                name: Arc::from(name),
                source: Arc::from(src),
                trees,
            }),
            static_text,
            limits: Limits::DEFAULT,
        })
    }

    /// Returns a copy of the template that renders with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Template {
        self.limits = limits;
        self
    }

    /// Returns the limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Returns the template name.
    pub fn name(&self) -> &str {
        &self.set.name
    }

    /// Returns the source text.
    pub fn source(&self) -> &str {
        &self.set.source
    }

    /// Reports whether the template has no actions, so rendering is a copy.
    pub fn is_static(&self) -> bool {
        self.static_text.is_some()
    }

    /// Renders the template over `data`.
    ///
    /// # Errors
    /// Returns Go's execution error, or a limit error.
    pub fn render(&self, data: &Value) -> Result<String, ExecError> {
        let mut out = String::new();
        self.render_into(data, &mut out)?;
        Ok(out)
    }

    /// Appends the rendering of `data` to `out`. On error `out` is left as it
    /// was before the call.
    ///
    /// # Errors
    /// Returns Go's execution error, or a limit error.
    pub fn render_into(&self, data: &Value, out: &mut String) -> Result<(), ExecError> {
        if let Some(text) = &self.static_text {
            if text.len() > self.limits.max_output_bytes {
                return Err(ExecError {
                    template: self.set.name.to_string(),
                    location: None,
                    message: format!(
                        "output exceeds the limit of {} bytes",
                        self.limits.max_output_bytes
                    ),
                    limit_exceeded: true,
                });
            }
            out.push_str(text);
            return Ok(());
        }
        exec::execute(&self.set, &self.set.name, data, out, self.limits)
    }

    /// Renders the template defined as `name` (`{{define "name"}}`).
    ///
    /// # Errors
    /// Fails when no such template exists, or as [`Template::render`].
    pub fn render_named(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        let mut out = String::new();
        exec::execute(&self.set, name, data, &mut out, self.limits)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_thread_safe() {
        assert_send_sync::<Template>();
        assert_send_sync::<Value>();
        assert_send_sync::<Layout>();
    }

    #[test]
    fn static_templates_copy_their_text() {
        let t = Template::parse("t", "plain {{/* note */}}text").unwrap();
        assert!(t.is_static());
        assert_eq!(t.render(&Value::Nil).unwrap(), "plain text");
        let t = Template::parse("t", "{{ 1 }}").unwrap();
        assert!(!t.is_static());
    }

    #[test]
    fn render_into_appends_and_restores_on_error() {
        let t = Template::parse("t", "a{{ .x.y }}").unwrap();
        let mut out = String::from("keep:");
        let data = Value::map([("x", Value::from("s"))]);
        assert!(t.render_into(&data, &mut out).is_err());
        assert_eq!(out, "keep:");
        let ok = Template::parse("t", "b").unwrap();
        ok.render_into(&data, &mut out).unwrap();
        assert_eq!(out, "keep:b");
    }
}
