//! Event JSON to a BigQuery row, as kubernetes-event-exporter converted it:
//! `null` values are dropped (recursively in nested objects, not inside
//! arrays) and keys are sanitised for column names (every character that is
//! not an ASCII letter or digit becomes `_`, and `_` is prefixed when the
//! first character is not a letter), so `app.kubernetes.io/name` becomes
//! `app_kubernetes_io_name`.

use serde_json::{Map, Value};

/// Sanitises one key into a BigQuery column name.
pub fn sanitize_key(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, '_');
    }
    out
}

/// Converts an event's JSON object into a row: nulls dropped and keys
/// sanitised in it and in every nested object (arrays are kept as they are).
pub fn to_row(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(convert_object(map)),
        other => other,
    }
}

fn convert_object(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            Value::Null => continue,
            Value::Object(inner) => Value::Object(convert_object(inner)),
            other => other,
        };
        out.insert(sanitize_key(&key), value);
    }
    out
}
