//! A rule as written (a `Rule` object's `spec.rules[]` entry, or the config file's
//! `rules:` list) and compiled: the condition parsed once, the annotation values
//! prepared, and what a match produces ([`RuleMatch`]).
//!
//! An alert is labelled as kube-events labels it, so Alertmanager routes written
//! for kube-events keep working: `alertname` (the rule's name), `alerttype=event`,
//! `<kind in lower case>=<involved object name>`, `namespace` (when the object has
//! one), `container` (from a `spec.containers{…}` or `spec.initContainers{…}`
//! field path), then the rule's own `labels` (which win).

use std::collections::BTreeMap;
use std::fmt;

use herald_proto::Event;
use herald_template::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::{Condition, ConditionError};
use crate::format::Substitution;

/// What a matching rule produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    /// The event itself.
    #[default]
    Notification,
    /// An Alertmanager alert.
    Alert,
}

impl fmt::Display for RuleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleType::Notification => "notification",
            RuleType::Alert => "alert",
        })
    }
}

/// One rule as a `Rule` object's `spec.rules[]` holds it (kube-events' schema).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// The rule's name (the alert's `alertname`).
    pub name: String,
    /// The condition ([`crate::condition`]).
    #[serde(default)]
    pub condition: String,
    /// Extra alert labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations: `%field` substitution, or a Go template when the value
    /// holds `{{`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Whether the rule is evaluated (kube-events' default: false).
    #[serde(default)]
    pub enable: bool,
    /// `notification` or `alert`.
    #[serde(default, rename = "type")]
    pub rule_type: RuleType,
}

/// Why a rule does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The condition does not parse.
    #[error("condition: {0}")]
    Condition(#[from] ConditionError),
    /// An annotation template does not parse.
    #[error("annotation `{key}`: {message}")]
    Annotation {
        /// The annotation key.
        key: String,
        /// The template error.
        message: String,
    },
    /// The rule has no name.
    #[error("the rule has no name")]
    NoName,
}

/// An annotation value, ready to render.
#[derive(Debug, Clone)]
enum Annotation {
    Subst(Substitution),
    Template(Template),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule's name.
    pub name: String,
    /// Its type.
    pub rule_type: RuleType,
    /// False when the rule is disabled (kept so tools can list it).
    pub enabled: bool,
    condition: Option<Condition>,
    labels: BTreeMap<String, String>,
    annotations: Vec<(String, Annotation)>,
}

impl CompiledRule {
    /// Compiles `spec`. An empty condition matches every event (as in kube-events).
    ///
    /// # Errors
    /// [`RuleError`] for a condition or annotation template that does not parse.
    pub fn compile(spec: &RuleSpec) -> Result<CompiledRule, RuleError> {
        if spec.name.is_empty() {
            return Err(RuleError::NoName);
        }
        let condition = if spec.condition.trim().is_empty() {
            None
        } else {
            Some(Condition::parse(&spec.condition)?)
        };
        let mut annotations = Vec::with_capacity(spec.annotations.len());
        for (k, v) in &spec.annotations {
            let a = if v.contains("{{") {
                Annotation::Template(Template::parse(k, v).map_err(|e| RuleError::Annotation {
                    key: k.clone(),
                    message: e.to_string(),
                })?)
            } else {
                Annotation::Subst(Substitution::parse(v))
            };
            annotations.push((k.clone(), a));
        }
        Ok(CompiledRule {
            name: spec.name.clone(),
            rule_type: spec.rule_type,
            enabled: spec.enable,
            condition,
            labels: spec.labels.clone(),
            annotations,
        })
    }

    /// The compiled condition (None: matches everything).
    pub fn condition(&self) -> Option<&Condition> {
        self.condition.as_ref()
    }

    /// True when the condition holds for the event whose view is `view`.
    pub fn matches(&self, view: &Value) -> bool {
        self.condition.as_ref().is_none_or(|c| c.matches(view))
    }

    /// What this rule produces for `ev`: for an alert, kube-events' labels and the
    /// annotations rendered (`%field` from `view`; templates from `template_value`,
    /// KEE's template data). An annotation whose template fails is left out and
    /// reported in [`RuleMatch::errors`].
    pub fn produce(
        &self,
        ev: &Event,
        view: &Value,
        template_value: &dyn Fn() -> herald_template::Value,
    ) -> RuleMatch {
        let mut m = RuleMatch {
            rule: self.name.clone(),
            rule_type: self.rule_type,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            errors: Vec::new(),
        };
        if self.rule_type != RuleType::Alert {
            return m;
        }
        m.labels = alert_labels(ev, &self.name, &self.labels);
        let mut data = None;
        for (k, a) in &self.annotations {
            match a {
                Annotation::Subst(s) => {
                    m.annotations.insert(k.clone(), s.render(view));
                }
                Annotation::Template(t) => {
                    let d = data.get_or_insert_with(template_value);
                    match t.render(d) {
                        Ok(v) => {
                            m.annotations.insert(k.clone(), v);
                        }
                        Err(e) => m.errors.push(format!("annotation `{k}`: {e}")),
                    }
                }
            }
        }
        m
    }
}

/// What a matching rule gives the receivers it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleMatch {
    /// The rule's name.
    pub rule: String,
    /// Its type.
    pub rule_type: RuleType,
    /// Alert labels (empty for a notification).
    pub labels: BTreeMap<String, String>,
    /// Alert annotations, rendered (empty for a notification).
    pub annotations: BTreeMap<String, String>,
    /// Annotations that failed to render.
    pub errors: Vec<String>,
}

/// kube-events' alert labels for `ev` matched by rule `name` with `extra` labels.
pub fn alert_labels(
    ev: &Event,
    name: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let io = &ev.involved_object;
    let mut l = BTreeMap::new();
    l.insert("alertname".to_owned(), name.to_owned());
    l.insert("alerttype".to_owned(), "event".to_owned());
    // an event without a kind gets no kind label (an empty label name is invalid)
    if !io.kind.is_empty() {
        l.insert(io.kind.to_lowercase(), io.name.clone());
    }
    if !io.namespace.is_empty() {
        l.insert("namespace".to_owned(), io.namespace.clone());
    }
    if let Some(c) = container(&io.field_path) {
        l.insert("container".to_owned(), c.to_owned());
    }
    for (k, v) in extra {
        l.insert(k.clone(), v.clone());
    }
    l
}

/// The container named by a field path (`spec.containers{app}` → `app`), as
/// kube-events cuts it.
fn container(field_path: &str) -> Option<&str> {
    let rest = if field_path.starts_with("spec.containers") {
        field_path
            .strip_prefix("spec.containers{")
            .unwrap_or(field_path)
    } else {
        field_path.strip_prefix("spec.initContainers{")?
    };
    Some(rest.strip_suffix('}').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let mut ev = Event::default();
        ev.involved_object.kind = "Pod".into();
        ev.involved_object.name = "web-1".into();
        ev.involved_object.namespace = "shop".into();
        ev.involved_object.field_path = "spec.containers{api}".into();
        ev.reason = "BackOff".into();
        ev.message = "Back-off restarting".into();
        ev.count = 4;
        ev
    }

    #[test]
    fn alert_labels_are_kube_events_labels() {
        let ev = event();
        let extra = BTreeMap::from([("severity".to_owned(), "warning".to_owned())]);
        let l = alert_labels(&ev, "ContainerBackoff", &extra);
        let want: BTreeMap<String, String> = [
            ("alertname", "ContainerBackoff"),
            ("alerttype", "event"),
            ("pod", "web-1"),
            ("namespace", "shop"),
            ("container", "api"),
            ("severity", "warning"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(l, want);
        let mut node = Event::default();
        node.involved_object.kind = "Node".into();
        node.involved_object.name = "n1".into();
        node.involved_object.field_path = "spec.initContainers{init}".into();
        let l = alert_labels(&node, "NodeNotReady", &BTreeMap::new());
        assert_eq!(l.get("node").map(String::as_str), Some("n1"));
        assert_eq!(l.get("container").map(String::as_str), Some("init"));
        assert!(!l.contains_key("namespace"));
    }

    #[test]
    fn alert_rules_render_substitutions_and_templates() {
        let spec = RuleSpec {
            name: "ContainerBackoff".into(),
            condition: "reason = \"BackOff\" and count > 3".into(),
            labels: BTreeMap::from([("severity".into(), "warning".into())]),
            annotations: BTreeMap::from([
                ("message".into(), "%message".into()),
                (
                    "summary".into(),
                    "{{ .Reason | upper }} x{{ .Count }}".into(),
                ),
                ("broken".into(), "{{ fail \"boom\" }}".into()),
            ]),
            enable: true,
            rule_type: RuleType::Alert,
        };
        let rule = CompiledRule::compile(&spec).unwrap();
        let ev = event();
        let view = crate::view::event_view(&ev);
        assert!(rule.matches(&view));
        let data = || {
            herald_template::Value::map([
                ("Reason", herald_template::Value::from("BackOff")),
                ("Count", herald_template::Value::Int(4)),
            ])
        };
        let m = rule.produce(&ev, &view, &data);
        assert_eq!(m.annotations["message"], "Back-off restarting");
        assert_eq!(m.annotations["summary"], "BACKOFF x4");
        assert!(!m.annotations.contains_key("broken"));
        assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
        assert_eq!(m.labels["alertname"], "ContainerBackoff");
        let notification = CompiledRule::compile(&RuleSpec {
            rule_type: RuleType::Notification,
            ..spec.clone()
        })
        .unwrap();
        assert!(notification.produce(&ev, &view, &data).labels.is_empty());
    }

    #[test]
    fn bad_rules_are_errors() {
        let bad = RuleSpec {
            name: "x".into(),
            condition: "reason = ".into(),
            ..RuleSpec::default()
        };
        let e = CompiledRule::compile(&bad).unwrap_err();
        assert!(e.to_string().starts_with("condition: `=` needs"), "{e}");
        let tmpl = RuleSpec {
            name: "x".into(),
            annotations: BTreeMap::from([("m".into(), "{{ .Reason ".into())]),
            ..RuleSpec::default()
        };
        assert!(matches!(
            CompiledRule::compile(&tmpl),
            Err(RuleError::Annotation { .. })
        ));
        assert_eq!(
            CompiledRule::compile(&RuleSpec::default()).unwrap_err(),
            RuleError::NoName
        );
        // an empty condition matches everything, as in kube-events
        let all = CompiledRule::compile(&RuleSpec {
            name: "all".into(),
            ..RuleSpec::default()
        })
        .unwrap();
        assert!(all.matches(&serde_json::json!({})));
    }
}
