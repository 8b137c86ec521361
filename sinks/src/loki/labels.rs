//! Stream labels: `streamLabels:` decoded into per-event templates, the
//! default label set, checks of names and values, and the Prometheus text
//! form Loki's protobuf push names streams by.
//!
//! Every distinct label set is its own Loki stream, and Loki's index grows
//! with the number of streams: a label whose value comes from an unbounded
//! field (an object name or uid, the message, a timestamp, the count) is
//! reported as a warning at startup with its location.

use herald_config::{Diagnostics, Node, child_path};
use herald_proto::Event;
use herald_template::Template;
use herald_template::Value;

use crate::driver::EncodeError;

/// Most bytes of a label value Loki accepts by default
/// (`max_label_value_length`).
pub const MAX_LABEL_VALUE_BYTES: usize = 2048;

/// Most labels per stream Loki accepts by default (`max_label_names_per_series`).
pub const MAX_LABELS: usize = 15;

/// Template fields whose values are (nearly) unique per object or per event.
const UNBOUNDED_FIELDS: &[&str] = &[
    "Name",
    "UID",
    "Message",
    "Count",
    "FirstTimestamp",
    "LastTimestamp",
    "EventTime",
    "ResourceVersion",
    "Series",
    "IdempotencyKey",
    "ReportingInstance",
    "InvolvedObject.Name",
    "InvolvedObject.UID",
    "InvolvedObject.ResourceVersion",
    "InvolvedObject.FieldPath",
    "InvolvedObject.OwnerReferences",
];

/// Where a label's value comes from.
#[derive(Debug, Clone)]
pub enum LabelValue {
    /// Written out, without template actions.
    Static(String),
    /// A template rendered per event.
    Template(Template),
    /// The Event's namespace (`metadata.namespace`).
    Namespace,
    /// The Event's reason.
    Reason,
}

/// One stream label.
#[derive(Debug, Clone)]
pub struct LabelTemplate {
    /// The label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
    pub name: String,
    /// Its value.
    pub value: LabelValue,
}

impl LabelTemplate {
    /// Whether rendering the value needs the event's template value.
    pub fn needs_value(&self) -> bool {
        matches!(self.value, LabelValue::Template(_))
    }
}

/// The labels used without `streamLabels`: `job="herald"`, the Event's
/// `namespace` and its `reason` (both bounded: a few hundred values at most).
/// A label that renders empty is left out, as Loki treats it as absent.
pub fn default_labels() -> Vec<LabelTemplate> {
    vec![
        LabelTemplate {
            name: "job".into(),
            value: LabelValue::Static("herald".into()),
        },
        LabelTemplate {
            name: "namespace".into(),
            value: LabelValue::Namespace,
        },
        LabelTemplate {
            name: "reason".into(),
            value: LabelValue::Reason,
        },
    ]
}

/// Whether `name` is a valid Loki (Prometheus) label name.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Decodes `streamLabels:` at `path`: names checked, values parsed as
/// templates, unbounded fields warned about; sorted by name.
pub(crate) fn parse_stream_labels(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<LabelTemplate> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!(
                    "expected a mapping of label names to values, found {}",
                    node.describe()
                ),
            )
            .with_path(path)
            .with_hint("write `streamLabels:` as `name: value` lines, such as `app: kube-events`");
        return Vec::new();
    };
    let mut labels = Vec::new();
    for (key, value) in entries {
        let value_path = child_path(path, &key.name);
        if !is_valid_label_name(&key.name) {
            diags
                .error(key.loc, format!("invalid Loki label name `{}`", key.name))
                .with_path(&value_path)
                .with_hint(
                    "label names start with a letter or `_` and contain only letters, digits and `_` (use `_` for `-` or `.`)",
                );
            continue;
        }
        let Some(text) = value.scalar_text() else {
            diags
                .error(
                    value.loc,
                    format!("expected a label value, found {}", value.describe()),
                )
                .with_path(&value_path);
            continue;
        };
        let text = text.into_owned();
        let template = match Template::parse(&value_path, &text) {
            Ok(t) => t,
            Err(e) => {
                diags
                    .error(
                        value.loc,
                        format!(
                            "invalid label template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(&value_path)
                    .with_hint("values are Go templates, such as \"{{ .InvolvedObject.Kind }}\"");
                continue;
            }
        };
        if template.is_static() {
            labels.push(LabelTemplate {
                name: key.name.clone(),
                value: LabelValue::Static(text),
            });
            continue;
        }
        let unbounded = unbounded_fields(&text);
        if !unbounded.is_empty() {
            diags
                .warning(
                    value.loc,
                    format!(
                        "label `{}` uses {}: every distinct value is a new Loki stream, and their number has no bound",
                        key.name,
                        unbounded
                            .iter()
                            .map(|f| format!("`.{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_path(&value_path)
                .with_hint(
                    "keep such values in the log line (the event JSON has them) and query them with `| json`",
                );
        }
        labels.push(LabelTemplate {
            name: key.name.clone(),
            value: LabelValue::Template(template),
        });
    }
    if labels.len() > MAX_LABELS {
        diags
            .warning(
                node.loc,
                format!(
                    "{} stream labels: Loki refuses streams with more than {MAX_LABELS} by default",
                    labels.len()
                ),
            )
            .with_path(path)
            .with_hint("raise `max_label_names_per_series` in Loki, or use fewer labels");
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// The unbounded fields a template's actions refer to (`.InvolvedObject.Name`
/// is reported as `InvolvedObject.Name`, `.GetTimestampMs` as itself).
pub fn unbounded_fields(source: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or(after.len());
        for path in field_paths(&after[..end]) {
            let unbounded = UNBOUNDED_FIELDS.contains(&path.as_str())
                || path.starts_with("GetTimestamp");
            if unbounded && !found.contains(&path) {
                found.push(path);
            }
        }
        rest = &after[end..];
    }
    found
}

/// Dotted field paths in one template action, outside string literals.
fn field_paths(action: &str) -> Vec<String> {
    let bytes = action.as_bytes();
    let mut paths = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' | b'`' => quote = Some(b),
            b'.' if bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) =>
            {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric()
                        || bytes[j] == b'_'
                        || (bytes[j] == b'.'
                            && bytes
                                .get(j + 1)
                                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')))
                {
                    j += 1;
                }
                paths.push(action[start..j].to_owned());
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    paths
}

/// Renders the labels of one event, sorted by name; labels that render empty
/// are left out.
///
/// # Errors
/// A template fails, a value is longer than Loki accepts, or every label is
/// empty (Loki refuses a stream without labels).
pub fn render_labels(
    labels: &[LabelTemplate],
    event: &Event,
    value: Option<&Value>,
) -> Result<Vec<(String, String)>, EncodeError> {
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        let text = match &label.value {
            LabelValue::Static(s) => s.clone(),
            LabelValue::Namespace => event.metadata.namespace.clone(),
            LabelValue::Reason => event.reason.clone(),
            LabelValue::Template(t) => {
                let data = value.ok_or_else(|| {
                    EncodeError::Invalid("label template without event value".into())
                })?;
                t.render(data).map_err(|e| {
                    EncodeError::Template(format!("stream label `{}`: {e}", label.name))
                })?
            }
        };
        if text.is_empty() {
            continue;
        }
        if text.len() > MAX_LABEL_VALUE_BYTES {
            return Err(EncodeError::Invalid(format!(
                "stream label `{}` is {} bytes long; Loki accepts at most {MAX_LABEL_VALUE_BYTES}",
                label.name,
                text.len()
            )));
        }
        out.push((label.name.clone(), text));
    }
    if out.is_empty() {
        return Err(EncodeError::Invalid(
            "every stream label rendered empty; Loki refuses a stream without labels".into(),
        ));
    }
    Ok(out)
}

/// The Prometheus text form of a label set (`{a="b", c="d"}`), values
/// escaped as Go's `strconv.Quote` does for `\`, `"` and newlines.
pub fn prometheus_text(labels: &[(String, String)]) -> String {
    let mut out = String::with_capacity(2 + labels.len() * 24);
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}
