//! One `Rule` object as a ruler loads it from the API: its scope (from its labels,
//! see [`crate::rule_object::scope_of`]) and its `spec.rules` compiled one by one. A
//! rule that does not compile (a condition that does not parse, an unknown `type`,
//! an annotation that is not a valid template) is left out and described in a
//! [`RuleProblem`]; so are all the rules of an object whose scope is unknown.

use std::collections::BTreeMap;

use herald_rules::{CompiledRule, RuleError, RuleSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rule_object::scope_of;
use crate::rules::Scope;

/// Why a rule (or, without `index`, the whole object) was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// Position in `spec.rules`; None for a problem of the object (its scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The rule's name (empty for a problem of the object, or a rule without one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// What is wrong, with the parser's position for a condition.
    pub message: String,
}

/// A `Rule` object, compiled.
#[derive(Debug, Clone)]
pub struct LoadedObject {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.generation` (0 when the server does not set it).
    pub generation: i64,
    /// Where its rules apply; None when its scope label is unusable.
    pub scope: Option<Scope>,
    /// The rules that compiled, in `spec.rules` order (enabled or not).
    pub rules: Vec<CompiledRule>,
    /// How many rules `spec.rules` has.
    pub total: usize,
    /// The rules left out, and why.
    pub problems: Vec<RuleProblem>,
    /// The object's `status` as last seen.
    pub status: Option<Value>,
    /// What the compiled rules depend on (labels, namespace and spec): an update
    /// with the same fingerprint reuses them.
    pub fingerprint: String,
}

#[derive(Debug, Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: WireMeta,
    #[serde(default)]
    spec: Option<Value>,
    #[serde(default)]
    status: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Why an API object cannot be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Not a JSON object with metadata.
    #[error("not a Rule object: {0}")]
    Shape(String),
    /// `metadata.name` is missing.
    #[error("the object has no name")]
    NoName,
}

/// The namespace and name of an API object (for deletions), without compiling it.
///
/// # Errors
/// [`ObjectError`] when it is not an object with a name.
pub fn key_of(obj: &Value) -> Result<(String, String), ObjectError> {
    let w: Wire =
        serde_json::from_value(obj.clone()).map_err(|e| ObjectError::Shape(e.to_string()))?;
    if w.metadata.name.is_empty() {
        return Err(ObjectError::NoName);
    }
    Ok((w.metadata.namespace, w.metadata.name))
}

/// What the compiled rules of `obj` depend on.
fn fingerprint(meta: &WireMeta, spec: Option<&Value>) -> String {
    serde_json::json!([meta.namespace, meta.labels, spec]).to_string()
}

/// Loads an API object. When `previous` has the same fingerprint, its compiled
/// rules and problems are reused (only the generation and status are refreshed).
///
/// # Errors
/// [`ObjectError`] when it is not an object with a name.
pub fn load(obj: &Value, previous: Option<&LoadedObject>) -> Result<LoadedObject, ObjectError> {
    let w: Wire =
        serde_json::from_value(obj.clone()).map_err(|e| ObjectError::Shape(e.to_string()))?;
    if w.metadata.name.is_empty() {
        return Err(ObjectError::NoName);
    }
    let fp = fingerprint(&w.metadata, w.spec.as_ref());
    let generation = w.metadata.generation.unwrap_or(0);
    if let Some(prev) = previous.filter(|p| p.fingerprint == fp) {
        let mut same = prev.clone();
        same.generation = generation;
        same.status = w.status;
        return Ok(same);
    }
    let labels = w.metadata.labels.clone().unwrap_or_default();
    let rules: Vec<Value> = match w.spec.as_ref().and_then(|s| s.get("rules")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            return Ok(LoadedObject {
                namespace: w.metadata.namespace,
                name: w.metadata.name,
                generation,
                scope: None,
                rules: Vec::new(),
                total: 0,
                problems: vec![RuleProblem {
                    index: None,
                    rule: String::new(),
                    message: "`spec.rules` is not a list".to_owned(),
                }],
                status: w.status,
                fingerprint: fp,
            });
        }
    };
    let mut out = LoadedObject {
        namespace: w.metadata.namespace.clone(),
        name: w.metadata.name.clone(),
        generation,
        scope: None,
        rules: Vec::new(),
        total: rules.len(),
        problems: Vec::new(),
        status: w.status,
        fingerprint: fp,
    };
    match scope_of(&labels, &w.metadata.namespace) {
        Ok(scope) => out.scope = Some(scope),
        Err(message) => {
            out.problems.push(RuleProblem {
                index: None,
                rule: String::new(),
                message: format!("{message}; none of the object's rules is loaded"),
            });
            return Ok(out);
        }
    }
    for (i, raw) in rules.iter().enumerate() {
        match compile(raw) {
            Ok(rule) => out.rules.push(rule),
            Err(message) => out.problems.push(RuleProblem {
                index: Some(i),
                rule: raw
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                message,
            }),
        }
    }
    Ok(out)
}

/// Compiles one entry of `spec.rules`; the error says what is wrong and where.
fn compile(raw: &Value) -> Result<CompiledRule, String> {
    let spec: RuleSpec =
        RuleSpec::deserialize(raw).map_err(|e| format!("not a valid rule: {e}"))?;
    CompiledRule::compile(&spec).map_err(|e| match e {
        RuleError::Condition(err) => {
            let at = if spec.condition.trim_end().contains('\n') {
                format!("line {}, column {} of the condition", err.line, err.column)
            } else {
                format!("column {} of the condition", err.column)
            };
            format!("condition does not parse: {} ({at})", err.message)
        }
        RuleError::Annotation { key, message } => {
            format!("annotation `{key}` is not a valid template: {message}")
        }
        RuleError::NoName => "a rule needs a name".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule_object(labels: Value, rules: Value) -> Value {
        json!({
            "apiVersion": "events.kubesphere.io/v1alpha1",
            "kind": "Rule",
            "metadata": {"name": "team", "namespace": "shop", "generation": 3, "labels": labels},
            "spec": {"rules": rules}
        })
    }

    #[test]
    fn good_rules_compile_and_bad_ones_are_described() {
        let obj = rule_object(
            json!({"kubesphere.io/rule-scope": "namespace"}),
            json!([
                {"name": "A", "condition": "reason = \"X\"", "enable": true, "type": "notification"},
                {"name": "B", "condition": "reason ~ \"x\"", "enable": true},
                {"name": "C", "type": "alarm", "enable": true},
                {"name": "D", "annotations": {"m": "{{ .Reason "}, "enable": true, "type": "alert"},
                {"name": "E", "condition": "type = \"Warning\"", "enable": false, "type": "alert"}
            ]),
        );
        let o = load(&obj, None).unwrap();
        assert_eq!(
            (o.namespace.as_str(), o.name.as_str(), o.generation),
            ("shop", "team", 3)
        );
        assert_eq!(o.scope, Some(Scope::Namespace("shop".into())));
        assert_eq!(o.total, 5);
        let names: Vec<&str> = o.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["A", "E"]);
        assert!(!o.rules[1].enabled);
        assert_eq!(o.problems.len(), 3, "{:?}", o.problems);
        assert_eq!(o.problems[0].index, Some(1));
        assert_eq!(o.problems[0].rule, "B");
        assert_eq!(
            o.problems[0].message,
            "condition does not parse: unexpected character `~` (column 8 of the condition)"
        );
        assert!(
            o.problems[1].message.contains("unknown variant `alarm`"),
            "{:?}",
            o.problems[1]
        );
        assert!(
            o.problems[2]
                .message
                .starts_with("annotation `m` is not a valid template"),
            "{:?}",
            o.problems[2]
        );
    }

    #[test]
    fn an_unknown_scope_leaves_every_rule_out() {
        let obj = rule_object(
            json!({"kubesphere.io/rule-scope": "global"}),
            json!([{"name": "A", "enable": true}]),
        );
        let o = load(&obj, None).unwrap();
        assert!(o.scope.is_none());
        assert!(o.rules.is_empty());
        assert_eq!(o.problems.len(), 1);
        assert_eq!(o.problems[0].index, None);
        assert!(
            o.problems[0].message.contains("unknown scope `global`"),
            "{:?}",
            o.problems
        );
    }

    #[test]
    fn an_unchanged_spec_reuses_the_compiled_rules() {
        let obj = rule_object(json!({}), json!([{"name": "A", "enable": true}]));
        let first = load(&obj, None).unwrap();
        let mut with_status = obj.clone();
        with_status["status"] = json!({"observedGeneration": 3});
        with_status["metadata"]["generation"] = json!(4);
        let again = load(&with_status, Some(&first)).unwrap();
        assert_eq!(again.fingerprint, first.fingerprint);
        assert_eq!(again.generation, 4);
        assert_eq!(again.status, Some(json!({"observedGeneration": 3})));
        let mut edited = obj.clone();
        edited["spec"]["rules"][0]["condition"] = json!("reason ~");
        let changed = load(&edited, Some(&first)).unwrap();
        assert_ne!(changed.fingerprint, first.fingerprint);
        assert_eq!(changed.problems.len(), 1);
    }

    #[test]
    fn objects_without_a_name_are_refused() {
        assert!(matches!(
            load(&json!({"metadata": {}}), None),
            Err(ObjectError::NoName)
        ));
        assert!(matches!(
            load(&json!([1]), None),
            Err(ObjectError::Shape(_))
        ));
        assert_eq!(
            key_of(&rule_object(json!({}), json!([]))).unwrap(),
            ("shop".to_owned(), "team".to_owned())
        );
    }
}
