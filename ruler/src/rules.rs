//! kube-events rules in the ruler: the config file's `rules:` list decoded against the
//! receivers, and the rule set every lane consults.
//!
//! A rule names the receivers it feeds. For each event, a receiver's lane evaluates
//! the enabled rules that name it, in order (the config file's rules first, then
//! those of `Rule` objects by namespace and name), and the first one that matches
//! decides what the receiver gets: the event (a `notification` rule) or the event
//! with the alert kube-events would build (an `alert` rule: its labels and rendered
//! annotations travel with the delivery, and the `alertmanager` receiver posts
//! them). A receiver gets an event at most once: when the route tree also selects
//! it, the rule's match travels with that one delivery.
//!
//! kube-events sends one notification and one alert per event to every sink of the
//! type; herald scopes "first match" to each receiver instead, so rules naming
//! different receivers do not shadow each other.

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_config::{DecodeOptions, Diagnostics, Located, Node, decode_with};
use herald_proto::Event;
use herald_rules::{CompiledRule, RuleIndex, RuleSpec, RuleType};
use serde::Deserialize;
use serde_json::Value;

/// Where a rule applies (the `kubesphere.io/rule-scope` label of its `Rule` object).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every event (config-file rules; `cluster` Rule objects).
    #[default]
    Cluster,
    /// Events whose involved object is in this namespace.
    Namespace(String),
    /// Events whose involved object's namespace carries `kubesphere.io/workspace`
    /// with this value.
    Workspace(String),
}

/// The namespace label that puts a namespace in a KubeSphere workspace.
pub const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";

impl Scope {
    /// True when the rule applies to `ev`. `workspace_of` answers the workspace of a
    /// namespace when the event does not carry its namespace's labels.
    pub fn applies(&self, ev: &Event, workspace_of: &dyn Fn(&str) -> Option<String>) -> bool {
        let ns = &ev.involved_object.namespace;
        match self {
            Scope::Cluster => true,
            Scope::Namespace(want) => ns == want,
            Scope::Workspace(want) => {
                match ev.involved_object.namespace_labels.get(WORKSPACE_LABEL) {
                    Some(ws) => ws == want,
                    None => !ns.is_empty() && workspace_of(ns).as_deref() == Some(want.as_str()),
                }
            }
        }
    }
}

/// A rule the ruler evaluates.
#[derive(Debug, Clone)]
pub struct ActiveRule {
    /// The compiled rule.
    pub rule: CompiledRule,
    /// The receivers it feeds (indices into the plan's receivers).
    pub receivers: Vec<usize>,
    /// Where it applies.
    pub scope: Scope,
    /// Where it was defined, for logs (`config.yaml:12`, `Rule kube-system/default`).
    pub origin: String,
}

/// The rules of one ruler, indexed by receiver (and, per receiver, by the reason
/// each rule requires, see [`RuleIndex`]).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<ActiveRule>,
    by_receiver: Vec<Vec<usize>>,
    index: Vec<RuleIndex>,
}

impl RuleSet {
    /// Indexes the enabled rules of `rules` by receiver (`receivers` receivers).
    pub fn new(rules: Vec<ActiveRule>, receivers: usize) -> RuleSet {
        let mut by_receiver = vec![Vec::new(); receivers];
        for (i, r) in rules.iter().enumerate() {
            if !r.rule.enabled {
                continue;
            }
            for &rc in &r.receivers {
                if let Some(list) = by_receiver.get_mut(rc)
                    && !list.contains(&i)
                {
                    list.push(i);
                }
            }
        }
        let index = by_receiver
            .iter()
            .map(|list| {
                RuleIndex::new(
                    list.iter()
                        .enumerate()
                        .filter_map(|(pos, &i)| rules.get(i).map(|r| (pos, &r.rule))),
                )
            })
            .collect();
        RuleSet {
            rules,
            by_receiver,
            index,
        }
    }

    /// Every rule, enabled or not, in evaluation order.
    pub fn rules(&self) -> &[ActiveRule] {
        &self.rules
    }

    /// True when an enabled rule names receiver `receiver`.
    pub fn feeds(&self, receiver: usize) -> bool {
        self.by_receiver
            .get(receiver)
            .is_some_and(|l| !l.is_empty())
    }

    /// The first enabled rule naming `receiver` that applies to `ev` and matches it.
    /// `view` holds the event's [view](herald_rules::view), built on first need;
    /// `scratch` is reused between calls.
    pub fn first_match(
        &self,
        receiver: usize,
        ev: &Event,
        view: &mut Option<Value>,
        workspace_of: &dyn Fn(&str) -> Option<String>,
        scratch: &mut Vec<usize>,
    ) -> Option<&ActiveRule> {
        let list = self.by_receiver.get(receiver)?;
        self.index.get(receiver)?.candidates(&ev.reason, scratch);
        scratch
            .iter()
            .filter_map(|&pos| self.rules.get(*list.get(pos)?))
            .find(|r| {
                r.scope.applies(ev, workspace_of)
                    && r.rule
                        .matches(view.get_or_insert_with(|| herald_rules::event_view(ev)))
            })
    }
}

/// A rule as the config file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleEntry {
    name: Located<String>,
    #[serde(default)]
    condition: Option<Located<String>>,
    #[serde(default, rename = "type")]
    rule_type: Option<Located<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, Located<String>>,
    /// Defaults to true in the config file (a `Rule` object's default is false).
    #[serde(default)]
    enable: Option<bool>,
    #[serde(default)]
    receivers: Vec<Located<String>>,
}

/// Decodes the config file's `rules:` list against `receivers` (names, index =
/// position). Every problem goes to `diags`; rules with errors are left out.
pub fn decode_rules(node: &Node, receivers: &[String], diags: &mut Diagnostics) -> Vec<ActiveRule> {
    let options = DecodeOptions {
        path: "rules",
        strict_types: &["RuleEntry"],
    };
    let Some(entries) = decode_with::<Vec<RuleEntry>>(node, &options, diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries {
        if let Some(line) = seen.insert(e.name.value.clone(), e.name.location.line) {
            e.name
                .warning(
                    diags,
                    format!(
                        "a rule named `{}` is already defined at line {line}",
                        e.name.value
                    ),
                )
                .with_hint(
                    "rule names become the alert's `alertname`: give each rule its own name",
                );
        }
        if let Some(rule) = decode_entry(&e, receivers, diags) {
            out.push(rule);
        }
    }
    out
}

fn decode_entry(
    e: &RuleEntry,
    receivers: &[String],
    diags: &mut Diagnostics,
) -> Option<ActiveRule> {
    let before = diags.error_count();
    let rule_type = match e.rule_type.as_ref().map(|t| t.value.as_str()) {
        None | Some("notification") => RuleType::Notification,
        Some("alert") => RuleType::Alert,
        Some(other) => {
            if let Some(t) = &e.rule_type {
                t.error(diags, format!("unknown rule type `{other}`"))
                    .with_hint("`type` is `notification` (send the event) or `alert` (send an Alertmanager alert)");
            }
            RuleType::Notification
        }
    };
    let mut indices = Vec::new();
    if e.receivers.is_empty() {
        e.name
            .error(diags, format!("rule `{}` names no receivers", e.name.value))
            .with_hint(match receivers.first() {
                Some(r) => format!("add `receivers: [{r}]`: the receivers that get the events (or alerts) this rule selects"),
                None => "define a receiver under `receivers:` and name it in `receivers: [...]`".to_owned(),
            });
    }
    for r in &e.receivers {
        let message = format!(
            "rule `{}` names receiver `{}`, which is not defined",
            e.name.value, r.value
        );
        if let Some(i) = receiver_index(r, receivers, message, diags) {
            indices.push(i);
        }
    }
    let spec = RuleSpec {
        name: e.name.value.clone(),
        condition: e
            .condition
            .as_ref()
            .map(|c| c.value.clone())
            .unwrap_or_default(),
        labels: e.labels.clone(),
        annotations: e
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        enable: e.enable.unwrap_or(true),
        rule_type,
    };
    let compiled = crate::rule_object::report_compile(
        &spec,
        &e.name,
        e.condition.as_ref(),
        &e.annotations,
        diags,
    );
    let rule = compiled?;
    (diags.error_count() == before).then(|| ActiveRule {
        rule,
        receivers: indices,
        scope: Scope::Cluster,
        origin: format!("{}:{}", "config", e.name.location.line),
    })
}

/// The index of receiver `name` among `receivers`; when it is not defined, an error
/// with `message` at its line and a hint (the closest name, or the defined ones).
pub(crate) fn receiver_index(
    name: &Located<String>,
    receivers: &[String],
    message: String,
    diags: &mut Diagnostics,
) -> Option<usize> {
    if let Some(i) = receivers.iter().position(|n| *n == name.value) {
        return Some(i);
    }
    let d = name.error(diags, message);
    match herald_config::suggest::closest(&name.value, receivers.iter().map(String::as_str)) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None if receivers.is_empty() => {
            d.with_hint("no receiver is defined: add one under `receivers:`")
        }
        None => d.with_hint(format!("defined receivers: {}", receivers.join(", "))),
    };
    None
}

/// The rule set of a plan, shared by the lanes.
pub type SharedRules = Arc<RuleSet>;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rules: &str) -> (Option<crate::plan::Plan>, String) {
        let text = format!(
            "receivers:\n  - name: alertmanager\n    inMemory: {{}}\n  - name: hook\n    inMemory: {{}}\nrules:\n{rules}"
        );
        let mut loaded = herald_config::load_str("c.yaml", &text, |_| None).unwrap();
        let plan = crate::plan::plan(&loaded.config, &mut loaded.diagnostics);
        (plan, loaded.diagnostics.to_string())
    }

    #[test]
    fn config_rules_compile_against_the_receivers() {
        let (plan, diags) = load(
            "  - name: BackOff\n    condition: type = \"Warning\" and reason = \"BackOff\"\n    type: alert\n    labels: {severity: warning}\n    annotations: {message: '%message'}\n    receivers: [alertmanager]\n  - name: Everything\n    receivers: [hook, alertmanager]\n  - name: Off\n    condition: reason exists\n    enable: false\n    receivers: [hook]\n",
        );
        let plan = plan.unwrap_or_else(|| panic!("{diags}"));
        let rules = &plan.rules;
        assert_eq!(rules.rules().len(), 3);
        assert_eq!(rules.rules()[0].rule.rule_type, RuleType::Alert);
        assert_eq!(rules.rules()[0].receivers, vec![0]);
        assert_eq!(rules.rules()[0].origin, "config:7");
        assert!(
            rules.rules()[1].rule.enabled,
            "enabled unless `enable: false`"
        );
        assert!(!rules.rules()[2].rule.enabled);
        assert!(rules.feeds(0) && rules.feeds(1));
        // no "no route sends events" warnings: rules feed both receivers
        assert!(!diags.contains("no route"), "{diags}");
    }

    #[test]
    fn bad_rules_are_errors_with_lines_and_hints() {
        let cases = [
            (
                "  - name: A\n    condition: reason = \"x\"\n    receivers: [alertmanagr]\n",
                "c.yaml:9:17: error: rules[0].receivers[0]: rule `A` names receiver `alertmanagr`, which is not defined",
                "did you mean `alertmanager`?",
            ),
            (
                "  - name: A\n    condition: type = \"Warning\" and reason ~ \"x\"\n    receivers: [hook]\n",
                "c.yaml:8:16: error: rules[0].condition: condition does not parse: unexpected character `~` (column 29 of the condition)",
                "conditions use paths",
            ),
            (
                "  - name: A\n    condition: |\n      type = \"Warning\" and\n      reason matches \"x\"\n    receivers: [hook]\n",
                "condition does not parse: unknown operator `matches` (line 2, column 8 of the condition)",
                "operators: =",
            ),
            (
                "  - name: A\n    type: alarm\n    receivers: [hook]\n",
                "c.yaml:8:11: error: rules[0].type: unknown rule type `alarm`",
                "`type` is `notification`",
            ),
            (
                "  - name: A\n    condition: reason = \"x\"\n",
                "c.yaml:7:11: error: rules[0].name: rule `A` names no receivers",
                "add `receivers: [alertmanager]`",
            ),
            (
                "  - name: A\n    conditon: reason = \"x\"\n    receivers: [hook]\n",
                "unknown key `conditon`",
                "did you mean `condition`?",
            ),
            (
                "  - name: A\n    annotations: {m: '{{ .Reason '}\n    receivers: [hook]\n",
                "annotation `m` is not a valid template",
                "Go templates",
            ),
        ];
        for (rules, message, hint) in cases {
            let (plan, diags) = load(rules);
            assert!(plan.is_none(), "{rules}");
            assert!(diags.contains(message), "{rules}\n{diags}");
            assert!(diags.contains(hint), "{rules}\n{diags}");
        }
        // a list is required
        let err = herald_config::load_str("c.yaml", "rules:\n  name: A\n", |_| None).unwrap_err();
        assert!(
            err.to_string().contains("expected a list of rules"),
            "{err}"
        );
    }

    #[test]
    fn precedence_traps_and_duplicate_names_are_warnings() {
        let (plan, diags) = load(
            "  - name: A\n    condition: reason = \"a\" or reason = \"b\" and type = \"Warning\"\n    receivers: [hook]\n  - name: A\n    condition: not reason = \"a\" and type = \"Warning\"\n    receivers: [hook]\n",
        );
        assert!(plan.is_some(), "{diags}");
        assert!(
            diags.contains(
                "c.yaml:8:16: warning: rules[0].condition: rule `A`: `and` and `or` share one precedence level"
            ),
            "{diags}"
        );
        assert!(
            diags.contains("`not` negates everything after it"),
            "{diags}"
        );
        assert!(
            diags.contains("a rule named `A` is already defined at line 7"),
            "{diags}"
        );
    }

    #[test]
    fn scopes_select_namespaces_and_workspaces() {
        let mut ev = Event::default();
        ev.involved_object.namespace = "shop".into();
        let none = |_: &str| None;
        let ws = |ns: &str| (ns == "shop").then(|| "retail".to_owned());
        assert!(Scope::Cluster.applies(&ev, &none));
        assert!(Scope::Namespace("shop".into()).applies(&ev, &none));
        assert!(!Scope::Namespace("other".into()).applies(&ev, &none));
        assert!(!Scope::Workspace("retail".into()).applies(&ev, &none));
        assert!(Scope::Workspace("retail".into()).applies(&ev, &ws));
        assert!(!Scope::Workspace("other".into()).applies(&ev, &ws));
        // the namespace's labels carried by the event win
        ev.involved_object
            .namespace_labels
            .insert(WORKSPACE_LABEL.into(), "other".into());
        assert!(Scope::Workspace("other".into()).applies(&ev, &ws));
        assert!(!Scope::Workspace("retail".into()).applies(&ev, &ws));
    }
}
