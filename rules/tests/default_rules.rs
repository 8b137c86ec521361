//! kube-events' default rule set (97 rules) loads, and every enabled rule selects
//! the event its condition describes and nothing with the other event type.

use std::collections::BTreeMap;

use herald_proto::kube_json::parse_kube_event_value;
use herald_rules::{CompiledRule, RuleSpec, RuleType, event_view};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct RuleObject {
    spec: Spec,
}

#[derive(Deserialize)]
struct Spec {
    rules: Vec<RuleSpec>,
}

fn default_rules() -> Vec<RuleSpec> {
    let text = include_str!("fixtures/cluster-rules-default.yaml");
    let obj: RuleObject = serde_saphyr::from_str(text).expect("the default Rule object decodes");
    obj.spec.rules
}

/// An event built from the equality tests of a condition (`type="Warning"`,
/// `reason in ("A", "B")`, `count>3`, `fieldPath != ""`).
fn witness(condition: &str) -> Value {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let eq = Regex::new(r#"([A-Za-z][\w.]*)\s*==?\s*"([^"]*)""#).unwrap();
    let inn = Regex::new(r#"([A-Za-z][\w.]*)\s+in\s*\(\s*"([^"]*)""#).unwrap();
    for c in eq
        .captures_iter(condition)
        .chain(inn.captures_iter(condition))
    {
        fields.insert(c[1].to_owned(), c[2].to_owned());
    }
    let count = Regex::new(r"count\s*>\s*(\d+)")
        .unwrap()
        .captures(condition)
        .map_or(1, |c| c[1].parse::<i64>().unwrap() + 1);
    let get = |k: &str, d: &str| fields.get(k).cloned().unwrap_or_else(|| d.to_owned());
    json!({
        "metadata": {"name": "e1", "namespace": "shop", "uid": "u1"},
        "involvedObject": {
            "kind": get("involvedObject.kind", "Pod"),
            "name": "web-1",
            "namespace": "shop",
            "fieldPath": get("involvedObject.fieldPath", "spec.containers{api}"),
        },
        "type": get("type", "Normal"),
        "reason": get("reason", "Unknown"),
        "message": "something happened",
        "count": count,
        "source": {"component": "kubelet"},
    })
}

fn view_of(json: Value) -> Value {
    event_view(&parse_kube_event_value(json).expect("a valid event"))
}

#[test]
fn the_default_rule_set_loads_and_every_enabled_rule_evaluates() {
    let rules = default_rules();
    assert_eq!(rules.len(), 97);
    let alerts = rules
        .iter()
        .filter(|r| r.rule_type == RuleType::Alert)
        .count();
    assert_eq!((alerts, rules.len() - alerts), (63, 34));
    let compiled: Vec<CompiledRule> = rules
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap_or_else(|e| panic!("{}: {e}", r.name)))
        .collect();
    let enabled: Vec<&CompiledRule> = compiled.iter().filter(|r| r.enabled).collect();
    assert_eq!(enabled.len(), 96);
    for rule in &enabled {
        let cond = rule
            .condition()
            .expect("every default rule has a condition")
            .source();
        let ev = witness(cond);
        assert!(
            rule.matches(&view_of(ev.clone())),
            "{} does not match {ev}",
            rule.name
        );
        // every default rule tests the event type: the other type never matches
        let mut other = ev.clone();
        other["type"] = json!(if ev["type"] == "Warning" {
            "Normal"
        } else {
            "Warning"
        });
        assert!(
            !rule.matches(&view_of(other)),
            "{} matches the other type",
            rule.name
        );
    }
}

#[test]
fn default_rules_select_what_kube_events_selects() {
    let compiled: BTreeMap<String, CompiledRule> = default_rules()
        .iter()
        .map(|r| (r.name.clone(), CompiledRule::compile(r).unwrap()))
        .collect();
    let backoff = |count: i64, field_path: &str| {
        view_of(json!({
            "metadata": {"name": "e", "namespace": "shop", "uid": "u2"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "fieldPath": field_path},
            "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
            "count": count,
        }))
    };
    let rule = &compiled["ContainerBackoff"];
    assert!(rule.matches(&backoff(4, "spec.containers{api}")));
    assert!(
        !rule.matches(&backoff(3, "spec.containers{api}")),
        "count>3"
    );
    assert!(!rule.matches(&backoff(9, "")), "fieldPath != \"\"");
    // the first matching alert rule's alert, as kube-events builds it
    let ev = parse_kube_event_value(json!({
        "metadata": {"name": "e", "namespace": "shop", "uid": "u2"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "fieldPath": "spec.containers{api}"},
        "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
        "count": 5,
    }))
    .unwrap();
    let view = event_view(&ev);
    let m = rule.produce(&ev, &view, &|| herald_template::Value::Nil);
    assert_eq!(m.labels["alertname"], "ContainerBackoff");
    assert_eq!(m.labels["alerttype"], "event");
    assert_eq!(m.labels["pod"], "web-1");
    assert_eq!(m.labels["container"], "api");
    assert_eq!(m.labels["severity"], "warning");
    assert_eq!(
        m.annotations["message"],
        "Back-off restarting failed container"
    );
    assert_eq!(m.annotations["summary"], "Container back-off");
    assert_eq!(m.annotations["summaryCn"], "容器回退");
    // the one disabled rule is kept but not enabled
    assert!(!compiled["ContainerPreempting"].enabled);
}

#[test]
fn the_reason_index_selects_what_a_full_scan_selects() {
    let compiled: Vec<CompiledRule> = default_rules()
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap())
        .collect();
    let index = herald_rules::RuleIndex::new(compiled.iter().enumerate());
    let mut candidates = Vec::new();
    let mut tested = 0;
    for rule in compiled.iter().filter(|r| r.enabled) {
        let ev = parse_kube_event_value(witness(rule.condition().unwrap().source())).unwrap();
        let view = event_view(&ev);
        let full: Vec<usize> = (0..compiled.len())
            .filter(|&i| compiled[i].matches(&view))
            .collect();
        index.candidates(&ev.reason, &mut candidates);
        let indexed: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| compiled[i].matches(&view))
            .collect();
        assert_eq!(indexed, full, "{}", rule.name);
        assert!(
            candidates.len() < 10,
            "{}: {} candidates",
            rule.name,
            candidates.len()
        );
        tested += 1;
    }
    assert_eq!(tested, 96);
}
