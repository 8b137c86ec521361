//! A receiver's `layout:`: a YAML tree whose strings are templates, rendered
//! per event into a JSON document.
//!
//! Strings render to strings (as in KEE); other scalars keep their type and
//! value (KEE turned them into `null`, opsgenie#185); maps and lists render
//! recursively. The document is written like Go's `json.Marshal`: sorted
//! keys, HTML escaping.

use std::sync::Arc;

use herald_config::{Diagnostics, Node, NodeValue, child_path, index_path};
use herald_template::{Layout, Template, Value};

use crate::driver::EncodeError;

/// A compiled `layout:`; cheap to clone.
#[derive(Clone)]
pub struct LayoutSpec {
    layout: Arc<Layout>,
}

impl std::fmt::Debug for LayoutSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayoutSpec")
    }
}

impl LayoutSpec {
    /// Compiles the `layout:` node at `path`, reporting every template that
    /// does not parse at its own location (`receivers[1].webhook.layout.details.owner`).
    ///
    /// Returns `None` for a null node (no layout: the event JSON is sent) and
    /// when there are errors.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        if node.is_null() {
            return None;
        }
        if node.as_map().is_none() {
            diags
                .error(
                    node.loc,
                    format!("expected a mapping for the layout, found {}", node.describe()),
                )
                .with_path(path)
                .with_hint("a layout is a mapping of output keys to templates, e.g. `message: \"{{ .Message }}\"`");
            return None;
        }
        let before = diags.error_count();
        let json = to_json(node, path, diags);
        if diags.error_count() > before {
            return None;
        }
        match Layout::compile(&json, path) {
            Ok(layout) => Some(LayoutSpec {
                layout: Arc::new(layout),
            }),
            Err(e) => {
                diags.error(node.loc, e.to_string()).with_path(path);
                None
            }
        }
    }

    /// Renders the layout for one event and appends its JSON to `out`.
    ///
    /// # Errors
    /// A template that fails for this event.
    pub fn render_json(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        self.layout.render_json(value, out, true).map_err(|e| {
            // Drop whatever part of the document was written before the error.
            out.truncate(start);
            EncodeError::Template(e.to_string())
        })
    }
}

/// Converts a layout node to JSON, checking that every string parses as a
/// template and reporting failures at the string's location.
fn to_json(node: &Node, path: &str, diags: &mut Diagnostics) -> serde_json::Value {
    match &node.value {
        NodeValue::Null => serde_json::Value::Null,
        NodeValue::Bool(b) => serde_json::Value::Bool(*b),
        NodeValue::Int(i) => serde_json::Value::from(*i),
        NodeValue::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => serde_json::Value::Number(n),
            None => {
                diags
                    .error(node.loc, "layout numbers must be finite")
                    .with_path(path);
                serde_json::Value::Null
            }
        },
        NodeValue::String(s) => {
            if let Err(e) = Template::parse(path, s) {
                diags
                    .error(
                        node.loc,
                        format!(
                            "invalid template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(path)
                    .with_hint(
                        "templates use Go text/template syntax, e.g. `{{ .InvolvedObject.Name }}`",
                    );
            }
            serde_json::Value::String(s.clone())
        }
        NodeValue::Seq(items) => serde_json::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| to_json(n, &index_path(path, i), diags))
                .collect(),
        ),
        NodeValue::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.name.clone(),
                        to_json(v, &child_path(path, &k.name), diags),
                    )
                })
                .collect(),
        ),
    }
}
