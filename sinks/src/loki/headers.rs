//! `headers:`: extra request headers whose values are templates. Values are
//! credentials more often than not (`Authorization`, `X-Api-Key`), so they
//! are never printed.

use std::fmt;

use herald_config::{Diagnostics, Node, Secret, child_path, is_secret_key};
use herald_template::Template;
use reqwest::header::{HeaderName, HeaderValue};
use herald_template::Value;

use crate::util::http::canonical_header_name;

/// One configured header.
#[derive(Clone)]
pub struct HeaderTemplate {
    /// Canonical header name (`x-scope-orgid` → `X-Scope-Orgid`).
    pub name: HeaderName,
    /// The value as written.
    pub raw: Secret<String>,
    /// The parsed value; `None` when it contains no template action.
    pub template: Option<Template>,
    /// Whether the name marks a credential (the value is flagged sensitive).
    pub sensitive: bool,
}

impl fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderTemplate")
            .field("name", &self.name)
            .field("value", &self.raw)
            .field("templated", &self.template.is_some())
            .finish()
    }
}

impl HeaderTemplate {
    /// The value for one event: the rendered template, or the raw text when
    /// rendering fails (as kubernetes-event-exporter did), with the template
    /// error for the caller's log line. The value is `None` when the text is
    /// not a valid header value.
    pub(crate) fn render(&self, data: &Value) -> (Option<HeaderValue>, Option<String>) {
        let Some(template) = &self.template else {
            return (self.value(self.raw.expose()), None);
        };
        let mut text = String::new();
        match template.render_into(data, &mut text) {
            Ok(()) => (self.value(&text), None),
            Err(e) => (self.value(self.raw.expose()), Some(e.to_string())),
        }
    }

    /// `text` as this header's value, flagged sensitive when it is a credential.
    pub(crate) fn value(&self, text: &str) -> Option<HeaderValue> {
        let mut v = HeaderValue::from_bytes(text.as_bytes()).ok()?;
        v.set_sensitive(self.sensitive);
        Some(v)
    }
}

/// Decodes a `headers:` mapping at `path`, recording problems in `diags`.
pub(crate) fn parse_headers(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<HeaderTemplate> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!(
                    "expected a mapping of header names to values, found {}",
                    node.describe()
                ),
            )
            .with_path(path);
        return Vec::new();
    };
    let mut headers = Vec::new();
    for (key, value) in entries {
        let value_path = child_path(path, &key.name);
        let canonical = canonical_header_name(&key.name);
        let Ok(name) = HeaderName::from_bytes(canonical.as_bytes()) else {
            diags
                .error(key.loc, format!("invalid header name `{}`", key.name))
                .with_path(&value_path)
                .with_hint("header names are letters, digits and `-`");
            continue;
        };
        let Some(text) = value.scalar_text() else {
            diags
                .error(
                    value.loc,
                    format!("expected a header value, found {}", value.describe()),
                )
                .with_path(&value_path);
            continue;
        };
        let text = text.into_owned();
        let sensitive = is_secret_key(&key.name) || key.name.eq_ignore_ascii_case("cookie");
        let template = match Template::parse(&value_path, &text) {
            Ok(t) if t.is_static() => None,
            Ok(t) => Some(t),
            Err(e) => {
                // The message quotes template syntax, never the whole value.
                diags
                    .error(
                        value.loc,
                        format!(
                            "invalid header template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(&value_path);
                continue;
            }
        };
        if template.is_none() && HeaderValue::from_bytes(text.as_bytes()).is_err() {
            diags
                .error(
                    value.loc,
                    "header value contains characters HTTP does not allow",
                )
                .with_path(&value_path)
                .with_hint("remove control characters such as newlines");
            continue;
        }
        headers.push(HeaderTemplate {
            name,
            raw: Secret::new(text),
            template,
            sensitive,
        });
    }
    headers
}
