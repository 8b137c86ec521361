//! Builds the rule set the lanes consult: the config file's rules first, then the
//! rules of `Rule` objects ordered by namespace and name (within an object, in
//! `spec.rules` order), each feeding the receivers `ruler.ruleObjects` names for its
//! type.

use std::collections::BTreeMap;

use crate::rules::{ActiveRule, RuleSet};

use super::object::LoadedObject;
use super::targets::Targets;

/// `Rule` objects by (namespace, name): iteration order is evaluation order.
pub type Objects = BTreeMap<(String, String), LoadedObject>;

/// The rule set of `config_rules` followed by the rules of `objects`, over
/// `receivers` receivers. Rules of a type no receiver gets are left out.
pub fn build(
    config_rules: &[ActiveRule],
    objects: &Objects,
    targets: &Targets,
    receivers: usize,
) -> RuleSet {
    let mut rules = config_rules.to_vec();
    for obj in objects.values() {
        let Some(scope) = &obj.scope else {
            continue;
        };
        for rule in &obj.rules {
            let to = targets.of(rule.rule_type);
            if to.is_empty() {
                continue;
            }
            rules.push(ActiveRule {
                rule: rule.clone(),
                receivers: to.to_vec(),
                scope: scope.clone(),
                origin: format!("Rule {}/{}", obj.namespace, obj.name),
            });
        }
    }
    RuleSet::new(rules, receivers)
}

#[cfg(test)]
mod tests {
    use herald_proto::Event;
    use serde_json::json;

    use super::*;
    use crate::rule_objects::object::load;
    use crate::rules::Scope;

    fn object(ns: &str, name: &str, scope: &str, rules: serde_json::Value) -> LoadedObject {
        load(
            &json!({
                "metadata": {"name": name, "namespace": ns, "labels": {"kubesphere.io/rule-scope": scope}},
                "spec": {"rules": rules}
            }),
            None,
        )
        .unwrap()
    }

    fn ev(ns: &str, reason: &str) -> Event {
        let mut e = Event {
            reason: reason.into(),
            event_type: "Warning".into(),
            ..Event::default()
        };
        e.involved_object.namespace = ns.into();
        e
    }

    fn first<'a>(set: &'a RuleSet, receiver: usize, e: &Event) -> Option<&'a ActiveRule> {
        let mut view = None;
        let mut scratch = Vec::new();
        set.first_match(receiver, e, &mut view, &|_: &str| None, &mut scratch)
    }

    #[test]
    fn config_rules_come_first_then_objects_by_namespace_and_name() {
        let text = "receivers:\n  - name: hook\n    inMemory: {}\n  - name: am\n    inMemory: {}\nrules:\n  - name: FromConfig\n    condition: reason = \"Config\"\n    receivers: [hook]\n";
        let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
        let plan = crate::plan::plan(&loaded.config, &mut loaded.diagnostics).unwrap();
        let mut objects = Objects::new();
        for o in [
            object(
                "zeta",
                "a",
                "cluster",
                json!([{"name": "Z", "condition": "reason = \"X\"", "enable": true}]),
            ),
            object(
                "alpha",
                "b",
                "cluster",
                json!([
                    {"name": "B1", "condition": "reason = \"X\"", "enable": true},
                    {"name": "B2", "condition": "reason = \"Y\"", "enable": true, "type": "alert"}
                ]),
            ),
            object(
                "alpha",
                "a",
                "namespace",
                json!([
                    {"name": "A", "condition": "reason = \"X\"", "enable": true},
                    {"name": "Off", "condition": "reason = \"Config\"", "enable": false}
                ]),
            ),
        ] {
            objects.insert((o.namespace.clone(), o.name.clone()), o);
        }
        let targets = Targets {
            notification: vec![0],
            alert: vec![1],
        };
        let set = build(plan.rules.rules(), &objects, &targets, 2);
        let order: Vec<(&str, &str)> = set
            .rules()
            .iter()
            .map(|r| (r.rule.name.as_str(), r.origin.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("FromConfig", "config:7"),
                ("A", "Rule alpha/a"),
                ("Off", "Rule alpha/a"),
                ("B1", "Rule alpha/b"),
                ("B2", "Rule alpha/b"),
                ("Z", "Rule zeta/a"),
            ]
        );
        assert_eq!(
            set.rules()[4].receivers,
            vec![1],
            "alerts go to the alert receivers"
        );
        assert_eq!(set.rules()[1].scope, Scope::Namespace("alpha".into()));
        // reason X in namespace alpha: the namespace-scoped rule of alpha/a is first
        assert_eq!(
            first(&set, 0, &ev("alpha", "X")).map(|r| r.rule.name.as_str()),
            Some("A")
        );
        // elsewhere the cluster-scoped alpha/b
        assert_eq!(
            first(&set, 0, &ev("shop", "X")).map(|r| r.rule.name.as_str()),
            Some("B1")
        );
        assert_eq!(
            first(&set, 1, &ev("shop", "Y")).map(|r| r.rule.name.as_str()),
            Some("B2")
        );
        assert_eq!(
            first(&set, 0, &ev("shop", "Config")).map(|r| r.rule.name.as_str()),
            Some("FromConfig")
        );
        assert!(first(&set, 1, &ev("shop", "X")).is_none());
        // without alert receivers, alert rules are left out
        let only_notifications = Targets {
            notification: vec![0],
            alert: vec![],
        };
        let set = build(&[], &objects, &only_notifications, 2);
        assert!(set.rules().iter().all(|r| r.rule.name != "B2"));
        assert!(!set.feeds(1));
    }
}
