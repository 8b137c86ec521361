//! Problems found in a configuration file, each with a location, a key path,
//! a message and an optional hint, and their rendering for humans and logs.
//!
//! Loading never stops at the first problem: every stage adds to one
//! [`Diagnostics`] so `herald check-config` can print them all at once.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::location::{Location, SourceFile};
use crate::model::Role;
use crate::node::{is_secret_key, redact_url_userinfo};
use crate::redact::{EnvValues, Strength, redact};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The configuration still loads; the user should fix it anyway.
    Warning,
    /// The configuration cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem in a configuration file.
///
/// A diagnostic never shows a value that came from an environment variable:
/// its message, hint and path name the variable (`${SECRET_TOKEN}`) instead,
/// also when they are set after it was recorded (see the `redact` module).
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where in the user's file; `None` for problems about the file as a whole.
    pub location: Option<Location>,
    /// Key path of the offending value, such as `receivers[2].webhook.headers`.
    pub path: Option<String>,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
    /// Set for problems with secret values: the source line is not shown.
    pub hide_source: bool,
    /// Environment values to keep out of the text, and the variables whose
    /// values were replaced so far.
    redaction: Redaction,
}

#[derive(Clone, Debug, Default)]
struct Redaction {
    /// Values pasted into the text this diagnostic is about.
    value: EnvValues,
    /// Values pasted anywhere in the file.
    file: EnvValues,
    /// Variables whose values were replaced, in order.
    hidden: Vec<String>,
}

impl PartialEq for Diagnostic {
    fn eq(&self, other: &Self) -> bool {
        self.severity == other.severity
            && self.location == other.location
            && self.path == other.path
            && self.message == other.message
            && self.hint == other.hint
            && self.hide_source == other.hide_source
    }
}

impl Eq for Diagnostic {}

impl Diagnostic {
    /// Creates a diagnostic; an unknown location is stored as `None`.
    pub fn new(
        severity: Severity,
        location: impl Into<Option<Location>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            location: location.into().filter(Location::is_known),
            path: None,
            message: message.into(),
            hint: None,
            hide_source: false,
            redaction: Redaction::default(),
        }
    }

    /// Sets the key path (an empty path is ignored).
    pub fn with_path(&mut self, path: impl Into<String>) -> &mut Self {
        let path = self.redacted(path.into());
        self.path = (!path.is_empty()).then_some(path);
        self
    }

    /// Sets the hint.
    pub fn with_hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(self.redacted(hint.into()));
        self
    }

    /// Declares that this diagnostic is about text holding the pasted values
    /// `env` (a node's or a [`Located`](crate::Located) value's
    /// `env_values()`): every occurrence of them in the message, the hint and
    /// the path, now or later, is replaced by `${NAME}`.
    pub fn about_env_values(&mut self, env: &EnvValues) -> &mut Self {
        if !env.is_empty() {
            self.redaction.value = self.redaction.value.union(env);
            self.redact_all();
        }
        self
    }

    /// Replaces the values pasted anywhere in the file (the safety net for
    /// messages that quote a value written elsewhere).
    pub(crate) fn redact_file_values(&mut self, env: &EnvValues) {
        if !env.is_empty() {
            self.redaction.file = self.redaction.file.union(env);
            self.redact_all();
        }
    }

    /// Variables whose values were replaced by `${NAME}` in this diagnostic.
    pub fn hidden_variables(&self) -> &[String] {
        &self.redaction.hidden
    }

    fn redact_all(&mut self) {
        let message = std::mem::take(&mut self.message);
        self.message = self.redacted(message);
        if let Some(hint) = self.hint.take() {
            self.hint = Some(self.redacted(hint));
        }
        if let Some(path) = self.path.take() {
            self.path = Some(self.redacted(path));
        }
    }

    fn redacted(&mut self, text: String) -> String {
        let r = &self.redaction;
        if r.value.is_empty() && r.file.is_empty() {
            return text;
        }
        let (out, found) = redact(
            &text,
            &[(&r.value, Strength::Value), (&r.file, Strength::File)],
        );
        let out = match out {
            std::borrow::Cow::Owned(o) => o,
            std::borrow::Cow::Borrowed(_) => text,
        };
        for name in found {
            if !self.redaction.hidden.contains(&name) {
                self.redaction.hidden.push(name);
            }
        }
        out
    }

    /// The message as shown: with a note naming the variables whose values
    /// were replaced.
    pub fn shown_message(&self) -> Cow<'_, str> {
        let hidden = &self.redaction.hidden;
        if hidden.is_empty() {
            return Cow::Borrowed(&self.message);
        }
        let names = hidden
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (noun, verb) = if hidden.len() == 1 {
            ("variable", "is")
        } else {
            ("variables", "are")
        };
        Cow::Owned(format!(
            "{} (the value of environment {noun} {names} {verb} not shown)",
            self.message
        ))
    }

    /// Returns whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Appends the rendering of this diagnostic to `out`.
    fn render_into(&self, out: &mut String, source: Option<&SourceFile>) {
        use std::fmt::Write as _;
        if let Some(source) = source {
            out.push_str(source.name());
            out.push(':');
        }
        if let Some(loc) = self.location {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}:{}:", loc.line, loc.column);
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        let _ = write!(out, "{}: ", self.severity);
        if let Some(path) = &self.path {
            let _ = write!(out, "{path}: ");
        }
        out.push_str(&self.shown_message());
        out.push('\n');
        if let (Some(loc), Some(source), false) = (self.location, source, self.hide_source)
            && let Some(line) = source.line(loc.line)
            && !line.trim().is_empty()
        {
            let line = mask_secret_value(line);
            let (line, column) = snippet_window(&line, loc.column);
            let number = loc.line.to_string();
            let pad = " ".repeat(number.len());
            let caret: String = line
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "  {number} | {line}");
            let _ = writeln!(out, "  {pad} | {caret}^");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  hint: {hint}");
        }
    }
}

/// Most characters of a source line shown under a diagnostic.
const SNIPPET_MAX_CHARS: usize = 160;
/// Characters kept before the caret when a long line is cut.
const SNIPPET_BEFORE_CARET: usize = 60;

/// Cuts a long source line to a window around the 1-based `column`, marking cut
/// ends with `…`; returns the text shown and the caret's column in it.
fn snippet_window(line: &str, column: usize) -> (Cow<'_, str>, usize) {
    let chars = line.chars().count();
    if chars <= SNIPPET_MAX_CHARS {
        return (Cow::Borrowed(line), column);
    }
    let at = column.saturating_sub(1).min(chars);
    let end = (at.saturating_sub(SNIPPET_BEFORE_CARET) + SNIPPET_MAX_CHARS).min(chars);
    let start = end.saturating_sub(SNIPPET_MAX_CHARS);
    let mut shown = String::with_capacity(SNIPPET_MAX_CHARS * 4 + 8);
    if start > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(start).take(end - start));
    if end < chars {
        shown.push('…');
    }
    let caret = at - start + usize::from(start > 0) + 1;
    (Cow::Owned(shown), caret)
}

/// Masks the value of a `key: value` line whose key names a secret, and the
/// password of a `scheme://user:password@host` URL, so a password written
/// literally in the file is not repeated in messages.
fn mask_secret_value(line: &str) -> Cow<'_, str> {
    let body = line.trim_start().trim_start_matches("- ");
    let Some(colon) = body.find(": ") else {
        return redact_url_userinfo(line);
    };
    let key = body[..colon].trim().trim_matches(['"', '\'']);
    if !is_secret_key(key) {
        return redact_url_userinfo(line);
    }
    let value_start = line.len() - body.len() + colon + 2;
    Cow::Owned(format!("{}***", &line[..value_start]))
}

/// Every problem found while loading a configuration, in discovery order.
///
/// Identical diagnostics are stored once. When a [`SourceFile`] is attached,
/// [`Display`](fmt::Display) prints `file:line:column: severity: path: message`
/// with the offending source line, a caret and the hint.
#[derive(Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    source: Option<Arc<SourceFile>>,
    /// Values environment expansion pasted into the file; never shown.
    env: EnvValues,
    /// The process the file is checked for (decides which files checks open).
    role: Role,
}

impl Diagnostics {
    /// Creates an empty collection without a source file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty collection whose rendering uses `source`.
    pub fn for_source(source: Arc<SourceFile>) -> Self {
        Diagnostics {
            items: Vec::new(),
            source: Some(source),
            env: EnvValues::default(),
            role: Role::All,
        }
    }

    /// Records which process the configuration is checked for: checks that open
    /// or inspect files named in a section (TLS material, file sink paths) run only
    /// for the sections that process uses. [`Role::All`] unless set.
    pub fn set_role(&mut self, role: Role) {
        self.role = role;
    }

    /// Tells whether checks of the files named in `section` should run: a ruler pod
    /// has no reason to hold the exporter's key, and an exporter checking the whole
    /// file does not mount the receivers' certificates.
    pub fn checks_files_of(&self, section: Role) -> bool {
        self.role.uses(section)
    }

    /// Keeps the values environment expansion pasted into the file out of
    /// every diagnostic, recorded or to come (they show as `${NAME}`).
    pub fn hide_env_values(&mut self, env: &EnvValues) {
        self.env = self.env.union(env);
        for d in &mut self.items {
            d.redact_file_values(env);
        }
    }

    /// The values pasted into the file by environment expansion (names only
    /// in `Debug`).
    pub fn env_values(&self) -> &EnvValues {
        &self.env
    }

    /// Returns the attached source file, if any.
    pub fn source(&self) -> Option<&SourceFile> {
        self.source.as_deref()
    }

    /// Attaches the source file used by [`Display`](fmt::Display).
    pub fn set_source(&mut self, source: Arc<SourceFile>) {
        self.source = Some(source);
    }

    /// Records an error and returns it so a path or hint can be added.
    pub fn error(
        &mut self,
        location: impl Into<Option<Location>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::new(Severity::Error, location, message))
    }

    /// Records a warning and returns it so a path or hint can be added.
    pub fn warning(
        &mut self,
        location: impl Into<Option<Location>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::new(Severity::Warning, location, message))
    }

    /// Records a diagnostic unless an identical one is already recorded, and
    /// returns the stored one.
    pub fn push(&mut self, mut diagnostic: Diagnostic) -> &mut Diagnostic {
        diagnostic.redact_file_values(&self.env);
        let index = match self.items.iter().position(|d| *d == diagnostic) {
            Some(index) => index,
            None => {
                self.items.push(diagnostic);
                self.items.len() - 1
            }
        };
        &mut self.items[index]
    }

    /// Moves every diagnostic of `other` into `self`.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        for d in other {
            self.push(d);
        }
    }

    /// Returns whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Returns the number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Returns the number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Returns the number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Returns whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Iterates over all diagnostics in discovery order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Iterates over the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    /// Iterates over the warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    /// Renders every diagnostic against `source`, ordered by position
    /// (problems about the whole file first).
    pub fn render(&self, source: &SourceFile) -> String {
        self.render_with(Some(source))
    }

    fn render_with(&self, source: Option<&SourceFile>) -> String {
        let mut ordered: Vec<&Diagnostic> = self.items.iter().collect();
        ordered.sort_by_key(|d| d.location);
        let mut out = String::new();
        for d in ordered {
            let mut one = String::new();
            d.render_into(&mut one, source);
            out.push_str(&one);
        }
        out
    }

    /// Emits every diagnostic as a structured `tracing` event (warnings at
    /// WARN, errors at ERROR).
    pub fn log(&self) {
        let file = self.source().map_or("", SourceFile::name);
        for d in &self.items {
            let loc = d.location.unwrap_or_default();
            let path = d.path.as_deref().unwrap_or("");
            let hint = d.hint.as_deref().unwrap_or("");
            match d.severity {
                Severity::Error => tracing::error!(
                    file,
                    line = loc.line,
                    column = loc.column,
                    path,
                    hint,
                    "config: {}",
                    d.shown_message()
                ),
                Severity::Warning => tracing::warn!(
                    file,
                    line = loc.line,
                    column = loc.column,
                    path,
                    hint,
                    "config: {}",
                    d.shown_message()
                ),
            }
        }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render_with(self.source()).trim_end())
    }
}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Arc<SourceFile> {
        Arc::new(SourceFile::new(
            "config.yaml",
            "logLevel: info\nmaxEventAgeSeconds: \"60\"\n",
        ))
    }

    #[test]
    fn renders_file_line_column_source_caret_and_hint() {
        let mut diags = Diagnostics::for_source(source());
        diags
            .error(
                Location::new(2, 21),
                "expected an integer, found the string \"60\"",
            )
            .with_path("maxEventAgeSeconds")
            .with_hint("remove the quotes");
        let text = diags.to_string();
        assert_eq!(
            text,
            "config.yaml:2:21: error: maxEventAgeSeconds: expected an integer, found the string \"60\"\n  \
             2 | maxEventAgeSeconds: \"60\"\n    \
             |                     ^\n  \
             hint: remove the quotes"
        );
    }

    #[test]
    fn orders_by_location_and_counts_severities() {
        let mut diags = Diagnostics::for_source(source());
        diags.warning(Location::new(2, 1), "second");
        diags.error(Location::new(1, 1), "first");
        diags.warning(None, "whole file");
        assert_eq!(diags.error_count(), 1);
        assert_eq!(diags.warning_count(), 2);
        assert!(diags.has_errors());
        let text = diags.to_string();
        let whole = text.find("whole file").unwrap();
        let first = text.find("first").unwrap();
        let second = text.find("second").unwrap();
        assert!(whole < first && first < second, "{text}");
        assert!(text.starts_with("config.yaml: warning: whole file"));
    }

    #[test]
    fn identical_diagnostics_are_stored_once() {
        let mut diags = Diagnostics::new();
        diags.warning(Location::new(1, 1), "same");
        diags.warning(Location::new(1, 1), "same");
        diags.warning(Location::new(1, 2), "same");
        assert_eq!(diags.len(), 2);
    }

    #[test]
    fn secret_values_are_not_shown_in_source_lines() {
        let source = Arc::new(SourceFile::new(
            "c.yaml",
            "sasl:\n  password: {{ hunter2\n  - apiKey: \"abc\"\n",
        ));
        let mut diags = Diagnostics::for_source(source);
        diags.error(Location::new(2, 13), "cannot parse YAML");
        diags.error(Location::new(3, 13), "bad");
        diags.error(Location::new(1, 1), "hidden").hide_source = true;
        let text = diags.to_string();
        assert!(!text.contains("hunter2") && !text.contains("abc"), "{text}");
        assert!(text.contains("2 |   password: ***"), "{text}");
        assert!(!text.contains("1 | sasl"), "{text}");
    }

    #[test]
    fn url_passwords_are_not_shown_in_source_lines() {
        let source = Arc::new(SourceFile::new(
            "c.yaml",
            "endpoint: \"ftp://herald:Pa55w0rd@hooks.example.com/x\"\n",
        ));
        let mut diags = Diagnostics::for_source(source);
        diags.error(Location::new(1, 11), "unsupported URL scheme `ftp`");
        let text = diags.to_string();
        assert!(!text.contains("Pa55w0rd"), "{text}");
        assert!(
            text.contains("ftp://herald:***@hooks.example.com/x"),
            "{text}"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let long = format!(
            "key: {}{}",
            "a".repeat(300_000),
            "BAD".to_owned() + &"b".repeat(100_000)
        );
        let column = 5 + 300_000 + 1;
        let source = Arc::new(SourceFile::new("c.yaml", format!("{long}\n")));
        let mut diags = Diagnostics::for_source(source);
        diags.error(Location::new(1, column), "bad value");
        let text = diags.to_string();
        assert!(text.len() < 1_000, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("  1 | …aaa"), "{}", lines[1]);
        assert!(lines[1].ends_with("bbb…"), "{}", lines[1]);
        // the caret still points at `BAD`
        let caret = lines[2].chars().position(|c| c == '^').unwrap();
        let under: String = lines[1].chars().skip(caret).take(3).collect();
        assert_eq!(under, "BAD", "{text}");
        // short lines are shown whole
        assert_eq!(snippet_window("short", 3), (Cow::Borrowed("short"), 3));
        let xs = "x".repeat(500);
        let (shown, col) = snippet_window(&xs, 1);
        assert_eq!((shown.chars().count(), col), (SNIPPET_MAX_CHARS + 1, 1));
    }

    #[test]
    fn renders_without_source() {
        let mut diags = Diagnostics::new();
        diags.error(Location::new(3, 4), "bad");
        assert_eq!(diags.to_string(), "3:4: error: bad");
        assert_eq!(diags.render(&source()), "config.yaml:3:4: error: bad\n");
    }
}
