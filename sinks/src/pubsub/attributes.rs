//! `attributes:`: Pub/Sub message attributes whose values are templates,
//! rendered per event. Every message also carries the event's idempotency
//! key as [`IDEMPOTENCY_ATTRIBUTE`], so subscribers can drop redeliveries.

use std::collections::BTreeMap;

use herald_config::{Diagnostics, Node, child_path};
use herald_template::{Template, Value};

use crate::driver::EncodeError;

/// The attribute every message carries: the event's idempotency key
/// (`<uid>-<occurrence>`).
pub const IDEMPOTENCY_ATTRIBUTE: &str = "herald-idempotency-key";

/// Pub/Sub's limit on an attribute key, in bytes.
const MAX_KEY_BYTES: usize = 256;
/// Pub/Sub's limit on an attribute value, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 1024;

/// One configured attribute.
#[derive(Debug, Clone)]
pub struct AttributeTemplate {
    /// The attribute key.
    pub key: String,
    /// The value template (static text is a template without actions).
    pub value: Template,
}

/// Renders the attributes of one event, the idempotency key included.
///
/// # Errors
/// A value template fails for this event, or renders a value longer than
/// Pub/Sub allows.
pub(crate) fn render_attributes(
    attributes: &[AttributeTemplate],
    data: &Value,
    idempotency_key: String,
) -> Result<BTreeMap<String, String>, EncodeError> {
    let mut out = BTreeMap::new();
    for attribute in attributes {
        let text = attribute
            .value
            .render(data)
            .map_err(|e| EncodeError::Template(format!("attribute `{}`: {e}", attribute.key)))?;
        if text.len() > MAX_VALUE_BYTES {
            return Err(EncodeError::Invalid(format!(
                "attribute `{}` is {} bytes long; Pub/Sub allows {MAX_VALUE_BYTES}",
                attribute.key,
                text.len()
            )));
        }
        out.insert(attribute.key.clone(), text);
    }
    out.insert(IDEMPOTENCY_ATTRIBUTE.to_owned(), idempotency_key);
    Ok(out)
}

/// Decodes an `attributes:` mapping at `path`, recording problems in `diags`.
pub(crate) fn parse_attributes(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<AttributeTemplate> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!(
                    "expected a mapping of attribute names to values, found {}",
                    node.describe()
                ),
            )
            .with_path(path)
            .with_hint("write `attributes: {namespace: \"{{ .Namespace }}\"}`");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let value_path = child_path(path, &key.name);
        let problem = if key.name.is_empty() {
            Some("an attribute name cannot be empty".to_owned())
        } else if key.name.len() > MAX_KEY_BYTES {
            Some(format!("an attribute name is at most {MAX_KEY_BYTES} bytes"))
        } else if key.name.to_ascii_lowercase().starts_with("goog") {
            Some("attribute names starting with `goog` are reserved by Google".to_owned())
        } else if key.name == IDEMPOTENCY_ATTRIBUTE {
            Some(format!(
                "`{IDEMPOTENCY_ATTRIBUTE}` is set by herald on every message (the event's idempotency key)"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            diags
                .error(key.loc, format!("invalid attribute name `{}`", key.name))
                .with_path(&value_path)
                .with_hint(problem);
            continue;
        }
        let Some(text) = value.scalar_text() else {
            diags
                .error(
                    value.loc,
                    format!("expected an attribute value, found {}", value.describe()),
                )
                .with_path(&value_path)
                .with_hint("attribute values are strings (templates are allowed)");
            continue;
        };
        match Template::parse(&value_path, &text) {
            Ok(value) => out.push(AttributeTemplate {
                key: key.name.clone(),
                value,
            }),
            Err(e) => {
                diags
                    .error(
                        value.loc,
                        format!(
                            "invalid attribute template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(&value_path);
            }
        }
    }
    out
}
