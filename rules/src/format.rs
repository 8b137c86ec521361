//! kube-events' `%dotted.field` substitution in annotation values.
//!
//! `%` followed by letters, digits, `_` and `.` names a field of the event's
//! [view](crate::view) (`%message`, `%involvedObject.name`, `%count`), replaced by
//! its value as kube-events prints it (`7`, not `7.0`). herald's differences, which
//! only change text kube-events garbled: a field that is missing becomes empty
//! (kube-events wrote `<nil>`), dots ending the name are text (`%reason.` at the end
//! of a sentence), `%%` is a literal `%` and a `%` that names nothing is kept
//! (kube-events dropped it: `100%` became `100`).

use serde_json::Value;

use crate::condition::go_string;

/// A parsed substitution template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Vec<String>),
}

fn is_key(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl Substitution {
    /// Parses `text` (never fails: anything that is not a field is text).
    pub fn parse(text: &str) -> Substitution {
        let b = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let mut run = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            lit.push_str(&text[run..i]);
            if b.get(i + 1) == Some(&b'%') {
                lit.push('%');
                i += 2;
                run = i;
                continue;
            }
            let start = i + 1;
            let mut end = start;
            while end < b.len() && is_key(b[end]) {
                end += 1;
            }
            // trailing dots are punctuation
            let mut name_end = end;
            while name_end > start && b[name_end - 1] == b'.' {
                name_end -= 1;
            }
            if name_end == start {
                lit.push('%');
                i += 1;
                run = i;
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Field(
                text[start..name_end]
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ));
            i = name_end;
            run = i;
        }
        lit.push_str(&text[run..]);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Substitution { parts }
    }

    /// True when the text names no field.
    pub fn is_plain(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Renders with the fields of `view`.
    pub fn render(&self, view: &Value) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(path) => {
                    let v = path.iter().try_fold(view, |v, k| v.get(k.as_str()));
                    if let Some(v) = v.filter(|v| !v.is_null()) {
                        out.push_str(&go_string(v));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_substituted_as_kube_events_prints_them() {
        let view = json!({"message": "Back-off 10s", "count": 7, "involvedObject": {"name": "web-1", "labels": {"app": "web"}}});
        let cases = [
            ("%message", "Back-off 10s"),
            ("Pod %involvedObject.name failed.", "Pod web-1 failed."),
            ("%count times", "7 times"),
            ("app=%involvedObject.labels.app", "app=web"),
            ("missing: [%nope.field]", "missing: []"),
            ("100% sure, 50%% off", "100% sure, 50% off"),
            ("plain", "plain"),
            ("%", "%"),
            ("容器 %message", "容器 Back-off 10s"),
        ];
        for (text, want) in cases {
            assert_eq!(Substitution::parse(text).render(&view), want, "{text}");
        }
        assert!(Substitution::parse("no fields 100%").is_plain());
        assert!(!Substitution::parse("%message").is_plain());
    }
}
