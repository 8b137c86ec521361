//! kube-events' `Rule` custom resource (`events.kubesphere.io/v1alpha1`, kind
//! `Rule`): its scope, and the offline check behind `herald check-rule FILE`.
//!
//! The scope comes from the object's `kubesphere.io/rule-scope` label: `cluster`
//! (every event), `namespace` (events whose involved object is in the Rule's
//! namespace; also when the label is missing, as kube-events' admission webhook
//! defaults it) or `workspace` (events in namespaces whose `kubesphere.io/workspace`
//! label equals the Rule's own `kubesphere.io/workspace` label).

use std::collections::BTreeMap;
use std::path::Path;

use herald_config::{DecodeOptions, Diagnostics, Located, Location, Node, SourceFile, decode_with};
use herald_rules::{CompiledRule, RuleError, RuleSpec, RuleType};
use serde::Deserialize;

use crate::rules::{Scope, WORKSPACE_LABEL};

/// The API group and version of `Rule`.
pub const API_VERSION: &str = "events.kubesphere.io/v1alpha1";
/// The kind.
pub const KIND: &str = "Rule";
/// The label that sets a Rule's scope.
pub const SCOPE_LABEL: &str = "kubesphere.io/rule-scope";

/// The scope of a Rule object in `namespace` with `labels`.
///
/// # Errors
/// An unknown scope, or a workspace scope without a workspace label (the message
/// says which and how to fix it).
pub fn scope_of(labels: &BTreeMap<String, String>, namespace: &str) -> Result<Scope, String> {
    match labels.get(SCOPE_LABEL).map(String::as_str) {
        Some("cluster") => Ok(Scope::Cluster),
        Some("namespace") | None => Ok(Scope::Namespace(namespace.to_owned())),
        Some("workspace") => match labels.get(WORKSPACE_LABEL) {
            Some(ws) if !ws.is_empty() => Ok(Scope::Workspace(ws.clone())),
            _ => Err(format!(
                "a workspace-scoped Rule needs the label `{WORKSPACE_LABEL}` naming its workspace"
            )),
        },
        Some(other) => Err(format!(
            "unknown scope `{other}` in label `{SCOPE_LABEL}`: use cluster, namespace or workspace"
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    #[serde(default)]
    api_version: Located<String>,
    #[serde(default)]
    kind: Located<String>,
    #[serde(default)]
    metadata: Option<Node>,
    #[serde(default)]
    spec: Option<RawSpec>,
    #[serde(default)]
    status: Option<Node>,
}

#[derive(Debug, Deserialize)]
struct RawSpec {
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    name: Located<String>,
    #[serde(default)]
    condition: Option<Located<String>>,
    #[serde(default, rename = "type")]
    rule_type: Option<Located<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, Located<String>>,
    #[serde(default)]
    enable: bool,
}

/// What [`check_file`] found.
#[derive(Debug)]
pub struct CheckReport {
    /// Every problem, with its line.
    pub diagnostics: Diagnostics,
    /// The file, for rendering the diagnostics.
    pub source: SourceFile,
    /// Rules found.
    pub rules: usize,
    /// Of which enabled.
    pub enabled: usize,
    /// The scope, when it could be determined.
    pub scope: Option<Scope>,
}

/// Checks a `Rule` object file: its kind, its scope label and every rule (its
/// condition, type and annotation templates), as the ruler would load it.
///
/// # Errors
/// The file cannot be read.
pub fn check_file(path: &Path) -> Result<CheckReport, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(check_text(&path.display().to_string(), &text))
}

/// [`check_file`] on text.
pub fn check_text(name: &str, text: &str) -> CheckReport {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = SourceFile::new(name.to_owned(), text);
    let mut diags = Diagnostics::new();
    let mut report = CheckReport {
        diagnostics: Diagnostics::new(),
        source: source.clone(),
        rules: 0,
        enabled: 0,
        scope: None,
    };
    let Some(root) = herald_config::yaml::parse(&source, &mut diags) else {
        report.diagnostics = diags;
        return report;
    };
    let options = DecodeOptions {
        path: "",
        strict_types: &[],
    };
    let Some(obj) = decode_with::<RawObject>(&root, &options, &mut diags) else {
        report.diagnostics = diags;
        return report;
    };
    let _ = obj.status;
    if obj.api_version.value != API_VERSION || obj.kind.value != KIND {
        diags
            .error(
                obj.kind.location,
                format!(
                    "expected a `{KIND}` of `{API_VERSION}`, found `{}` of `{}`",
                    obj.kind.value, obj.api_version.value
                ),
            )
            .with_hint(format!(
                "a kube-events Rule starts with `apiVersion: {API_VERSION}` and `kind: {KIND}`"
            ));
    }
    let (labels, namespace, meta_loc) = metadata(obj.metadata.as_ref());
    match scope_of(&labels, &namespace) {
        Ok(s) => report.scope = Some(s),
        Err(e) => {
            diags
                .error(meta_loc, e)
                .with_path("metadata.labels")
                .with_hint(format!(
                    "set `{SCOPE_LABEL}: cluster`, `namespace` or `workspace`"
                ));
        }
    }
    let rules = obj.spec.map(|s| s.rules).unwrap_or_default();
    if rules.is_empty() {
        diags
            .warning(root.loc, "the Rule has no rules")
            .with_hint("list them under `spec.rules`");
    }
    report.rules = rules.len();
    for r in &rules {
        if compile_located(r, &mut diags).is_some_and(|c| c.enabled) {
            report.enabled += 1;
        }
    }
    report.diagnostics = diags;
    report
}

fn metadata(meta: Option<&Node>) -> (BTreeMap<String, String>, String, Location) {
    let Some(meta) = meta else {
        return (BTreeMap::new(), String::new(), Location::UNKNOWN);
    };
    let labels = meta
        .get("labels")
        .and_then(Node::as_map)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.name.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let namespace = meta
        .get("namespace")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_owned();
    (labels, namespace, meta.loc)
}

/// Compiles one located rule, reporting problems at their lines.
fn compile_located(r: &RawRule, diags: &mut Diagnostics) -> Option<CompiledRule> {
    let rule_type = match r.rule_type.as_ref().map(|t| t.value.as_str()) {
        None | Some("notification") => RuleType::Notification,
        Some("alert") => RuleType::Alert,
        Some(other) => {
            if let Some(t) = &r.rule_type {
                t.error(diags, format!("unknown rule type `{other}`"))
                    .with_hint("`type` is `notification` (send the event) or `alert` (send an Alertmanager alert)");
            }
            return None;
        }
    };
    let spec = RuleSpec {
        name: r.name.value.clone(),
        condition: r
            .condition
            .as_ref()
            .map(|c| c.value.clone())
            .unwrap_or_default(),
        labels: r.labels.clone(),
        annotations: r
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        enable: r.enable,
        rule_type,
    };
    report_compile(&spec, &r.name, r.condition.as_ref(), &r.annotations, diags)
}

/// Compiles `spec`, turning its errors and precedence warnings into diagnostics at
/// the located values they are about.
pub(crate) fn report_compile(
    spec: &RuleSpec,
    name: &Located<String>,
    condition: Option<&Located<String>>,
    annotations: &BTreeMap<String, Located<String>>,
    diags: &mut Diagnostics,
) -> Option<CompiledRule> {
    match CompiledRule::compile(spec) {
        Ok(c) => {
            if let (Some(cond), Some(compiled)) = (condition, c.condition()) {
                for w in compiled.warnings() {
                    cond.warning(diags, format!("rule `{}`: {w}", spec.name));
                }
            }
            Some(c)
        }
        Err(RuleError::Condition(err)) => {
            if let Some(c) = condition {
                let at = if c.value.trim_end().contains('\n') {
                    format!("line {}, column {} of the condition", err.line, err.column)
                } else {
                    format!("column {} of the condition", err.column)
                };
                c.error(
                    diags,
                    format!("condition does not parse: {} ({at})", err.message),
                )
                .with_hint(err.hint.clone());
            }
            None
        }
        Err(RuleError::Annotation { key, message }) => {
            if let Some(v) = annotations.get(&key) {
                v.error(
                    diags,
                    format!("annotation `{key}` is not a valid template: {message}"),
                )
                .with_hint("annotation values are Go templates when they contain `{{`, else text with kube-events' `%field` substitution");
            }
            None
        }
        Err(RuleError::NoName) => {
            name.error(diags, "a rule needs a name").with_hint(
                "the name becomes the alert's `alertname`, e.g. `name: ContainerBackoff`",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_object_checks_clean() {
        let text = include_str!("../../rules/tests/fixtures/cluster-rules-default.yaml");
        let r = check_text("cluster-rules-default.yaml", text);
        assert_eq!(r.diagnostics.error_count(), 0, "{}", r.diagnostics);
        assert_eq!((r.rules, r.enabled), (97, 96));
        assert_eq!(r.scope, Some(Scope::Cluster));
    }

    #[test]
    fn problems_are_reported_at_their_lines() {
        let text = "apiVersion: events.kubesphere.io/v1alpha1\nkind: Rule\nmetadata:\n  name: r\n  namespace: shop\n  labels:\n    kubesphere.io/rule-scope: workspace\nspec:\n  rules:\n    - name: A\n      condition: reason in \"x\"\n      enable: true\n    - name: B\n      type: alarm\n    - name: C\n      conditon: x\n";
        let r = check_text("r.yaml", text);
        let out = r.diagnostics.to_string();
        assert!(out.contains("4:3: error: metadata.labels: a workspace-scoped Rule needs the label `kubesphere.io/workspace`"), "{out}");
        assert!(out.contains("11:18: error: spec.rules[0].condition: condition does not parse: `in` needs a list in parentheses, found string \"x\" (column 11 of the condition)"), "{out}");
        assert!(
            out.contains("14:13: error: spec.rules[1].type: unknown rule type `alarm`"),
            "{out}"
        );
        assert!(out.contains("unknown key `conditon`"), "{out}");
        let wrong = check_text("w.yaml", "apiVersion: v1\nkind: ConfigMap\n");
        assert!(wrong.diagnostics.to_string().contains(
            "expected a `Rule` of `events.kubesphere.io/v1alpha1`, found `ConfigMap` of `v1`"
        ));
    }

    #[test]
    fn scopes_come_from_the_labels() {
        let l = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            scope_of(&l(&[]), "shop"),
            Ok(Scope::Namespace("shop".into()))
        );
        assert_eq!(
            scope_of(&l(&[(SCOPE_LABEL, "cluster")]), "x"),
            Ok(Scope::Cluster)
        );
        assert_eq!(
            scope_of(
                &l(&[(SCOPE_LABEL, "workspace"), (WORKSPACE_LABEL, "retail")]),
                "x"
            ),
            Ok(Scope::Workspace("retail".into()))
        );
        assert!(
            scope_of(&l(&[(SCOPE_LABEL, "global")]), "x")
                .unwrap_err()
                .contains("unknown scope `global`")
        );
    }
}
