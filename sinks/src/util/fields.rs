//! Templated text settings of the chat and alerting receivers (Slack's
//! `message`, Opsgenie's `alias`, …): parsed once at startup, with a located
//! error and a hint when one does not parse, and rendered per event.

use std::collections::BTreeMap;

use herald_config::{Diagnostics, Located};
use herald_template::Template;

use crate::driver::{Delivery, EncodeError};

/// Hint for a template that does not parse.
const TEMPLATE_HINT: &str =
    "templates use Go text/template syntax, e.g. `{{ .InvolvedObject.Name }}`";

/// One templated setting.
#[derive(Debug, Clone)]
pub struct TextTemplate {
    template: Template,
}

impl TextTemplate {
    /// Parses `field`; `None` when it is empty (not set) or does not parse
    /// (an error at its line is recorded in `diags`).
    pub fn parse(field: &Located<String>, diags: &mut Diagnostics) -> Option<TextTemplate> {
        if field.value.is_empty() {
            return None;
        }
        match Template::parse(&field.path, &field.value) {
            Ok(template) => Some(TextTemplate { template }),
            Err(e) => {
                // The message quotes the template's syntax error, never the
                // whole value (it may hold a secret pasted from the environment).
                field
                    .error(
                        diags,
                        format!(
                            "invalid template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_hint(TEMPLATE_HINT);
                None
            }
        }
    }

    /// A setting without template actions (a default); `None` only if
    /// `text` holds template syntax that does not parse.
    pub fn literal(name: &str, text: &str) -> Option<TextTemplate> {
        Template::parse(name, text)
            .ok()
            .map(|template| TextTemplate { template })
    }

    /// Parses an optional setting.
    pub fn parse_opt(
        field: Option<&Located<String>>,
        diags: &mut Diagnostics,
    ) -> Option<TextTemplate> {
        field.and_then(|f| TextTemplate::parse(f, diags))
    }

    /// Returns the text as written when it has no template action.
    pub fn static_text(&self) -> Option<&str> {
        self.template.is_static().then(|| self.template.source())
    }

    /// Renders the setting for one event.
    ///
    /// # Errors
    /// The template fails for this event (a missing struct field, a failing
    /// function); the message names the setting.
    pub fn render(&self, delivery: &Delivery) -> Result<String, EncodeError> {
        if let Some(text) = self.static_text() {
            return Ok(text.to_owned());
        }
        self.template
            .render(delivery.value())
            .map_err(|e| EncodeError::Template(e.to_string()))
    }
}

/// Parses a list of templated values (Opsgenie `tags`); every one that does
/// not parse is reported. Entries that are empty are kept (rendered empty).
pub fn parse_list(items: &[Located<String>], diags: &mut Diagnostics) -> Vec<TextTemplate> {
    items
        .iter()
        .filter_map(|item| {
            if item.value.is_empty() {
                return TextTemplate::literal(&item.path, "");
            }
            TextTemplate::parse(item, diags)
        })
        .collect()
}

/// Parses a mapping of names to templated values (Slack `fields`, Opsgenie
/// `details`), sorted by name; every value that does not parse is reported.
pub fn parse_map(
    entries: &BTreeMap<String, Located<String>>,
    diags: &mut Diagnostics,
) -> Vec<(String, TextTemplate)> {
    entries
        .iter()
        .filter_map(|(name, value)| {
            let template = if value.value.is_empty() {
                TextTemplate::literal(&value.path, "")?
            } else {
                TextTemplate::parse(value, diags)?
            };
            Some((name.clone(), template))
        })
        .collect()
}

/// Renders every template of a list, in order.
///
/// # Errors
/// The first one that fails for this event.
pub fn render_list(items: &[TextTemplate], d: &Delivery) -> Result<Vec<String>, EncodeError> {
    items.iter().map(|t| t.render(d)).collect()
}

/// Renders every value of a mapping, keeping the (sorted) names.
///
/// # Errors
/// The first value that fails for this event.
pub fn render_map(
    entries: &[(String, TextTemplate)],
    d: &Delivery,
) -> Result<Vec<(String, String)>, EncodeError> {
    entries
        .iter()
        .map(|(name, t)| Ok((name.clone(), t.render(d)?)))
        .collect()
}
