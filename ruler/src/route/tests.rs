use super::*;
use herald_proto::{EventSource, InvolvedObject, ObjectMeta};

const RECEIVERS: &[&str] = &["dump", "alert", "pager", "slack"];

fn names() -> Vec<String> {
    RECEIVERS.iter().map(|s| (*s).to_owned()).collect()
}

fn compile(yaml: &str) -> (Option<RouteTree>, Diagnostics) {
    let (route, mut diags) = crate::testutil::decode_route(yaml);
    let tree = RouteTree::compile(&route, &names(), &mut diags);
    (tree, diags)
}

fn tree(yaml: &str) -> RouteTree {
    let (t, d) = compile(yaml);
    assert!(!d.has_errors(), "{d:?}");
    t.unwrap()
}

fn ev(ns: &str, ty: &str, reason: &str, kind: &str) -> Event {
    Event {
        occurrence: 1,
        count: 1,
        metadata: ObjectMeta {
            namespace: ns.into(),
            uid: "u".into(),
            ..Default::default()
        },
        event_type: ty.into(),
        reason: reason.into(),
        message: format!("{reason} happened"),
        source: EventSource {
            component: "kubelet".into(),
            host: "node-a".into(),
        },
        involved_object: InvolvedObject {
            kind: kind.into(),
            api_version: "v1".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn routed(t: &RouteTree, e: &Event) -> Vec<&'static str> {
    let mut sel = Selection::new(t.receivers());
    t.route(e, &mut sel);
    sel.receivers().iter().map(|i| RECEIVERS[*i]).collect()
}

const KEE_EXAMPLE: &str = r#"
routes:
  - match: [{receiver: dump}]
  - drop: [{type: "Normal"}]
    match: [{receiver: alert}]
    routes:
      - match: [{namespace: "^prod-", receiver: pager}]
"#;

#[test]
fn kee_readme_example() {
    let t = tree(KEE_EXAMPLE);
    assert_eq!(
        routed(&t, &ev("dev", "Normal", "Scheduled", "Pod")),
        vec!["dump"]
    );
    assert_eq!(
        routed(&t, &ev("dev", "Warning", "BackOff", "Pod")),
        vec!["dump", "alert"]
    );
    assert_eq!(
        routed(&t, &ev("prod-eu", "Warning", "BackOff", "Pod")),
        vec!["dump", "alert", "pager"]
    );
}

#[test]
fn drop_stops_only_its_subtree() {
    let t = tree(
        r#"
match: [{receiver: dump}]
drop: [{namespace: "kube-system"}]
"#,
    );
    // drop is evaluated first in the same route: nothing at all
    assert!(routed(&t, &ev("kube-system", "Normal", "X", "Pod")).is_empty());
    let t = tree(
        r#"
match: [{receiver: dump}]
routes:
  - drop: [{namespace: "kube-system"}]
    match: [{receiver: alert}]
"#,
    );
    // ancestors keep the event
    assert_eq!(
        routed(&t, &ev("kube-system", "Normal", "X", "Pod")),
        vec!["dump"]
    );
}

#[test]
fn match_rules_are_independent_and_gate_descent() {
    let t = tree(
        r#"
match:
  - {type: Warning, receiver: alert}
  - {reason: BackOff, receiver: slack}
routes:
  - match: [{receiver: pager}]
"#,
    );
    assert_eq!(
        routed(&t, &ev("a", "Warning", "Failed", "Pod")),
        vec!["alert"]
    );
    assert_eq!(
        routed(&t, &ev("a", "Normal", "BackOff", "Pod")),
        vec!["slack"]
    );
    assert_eq!(
        routed(&t, &ev("a", "Warning", "BackOff", "Pod")),
        vec!["alert", "slack", "pager"]
    );
}

#[test]
fn a_receiver_gets_an_event_once_per_pass() {
    // KEE sent two copies here; herald sends one
    let t = tree(
        r#"
match:
  - {receiver: dump}
  - {type: Warning, receiver: dump}
routes:
  - match: [{receiver: dump}]
"#,
    );
    assert_eq!(routed(&t, &ev("a", "Warning", "X", "Pod")), vec!["dump"]);
}

#[test]
fn unanchored_search_and_empty_fields() {
    let t = tree(r#"match: [{reason: "Back", message: "", kind: "od", receiver: dump}]"#);
    assert_eq!(
        routed(&t, &ev("a", "Warning", "BackOff", "Pod")),
        vec!["dump"]
    );
    assert!(routed(&t, &ev("a", "Warning", "Failed", "Pod")).is_empty());
}

#[test]
fn labels_annotations_and_min_count() {
    let t = tree(
        r#"
match:
  - labels: {app: "^web$", team: ""}
    annotations: {owner: "ops"}
    minCount: 3
    receiver: pager
"#,
    );
    let mut e = ev("a", "Warning", "BackOff", "Pod");
    assert!(routed(&t, &e).is_empty(), "labels missing");
    e.involved_object.labels.insert("app".into(), "web".into());
    e.involved_object
        .labels
        .insert("team".into(), "anything".into());
    e.involved_object
        .annotations
        .insert("owner".into(), "devops".into());
    assert!(routed(&t, &e).is_empty(), "count too low");
    e.occurrence = 3;
    assert_eq!(routed(&t, &e), vec!["pager"]);
    e.involved_object.labels.remove("team");
    assert!(routed(&t, &e).is_empty(), "`team: \"\"` requires the key");
}

#[test]
fn every_field_is_checked() {
    let t = tree(
        r#"
match:
  - {apiVersion: "^v1$", component: kubelet, host: "node-", namespace: shop, receiver: dump}
"#,
    );
    assert_eq!(routed(&t, &ev("shop", "Normal", "R", "Pod")), vec!["dump"]);
    let mut e = ev("shop", "Normal", "R", "Pod");
    e.source.host = "other".into();
    assert!(routed(&t, &e).is_empty());
}

#[test]
fn an_invalid_regex_warns_and_its_rule_never_matches_as_in_kee() {
    // KEE's README example: `*test*` compiles nowhere, KEE starts and the rule never
    // matches; herald starts too, warns with the hint and counts the rule.
    let (t, d) = compile(
        "drop: [{namespace: \"*test*\"}]\nmatch: [{receiver: dump}]\nroutes:\n  - match: [{receiver: alert, reason: \"(\"}]\n  - match: [{receiver: pager, labels: {app: \"[\"}}]\n",
    );
    assert!(!d.has_errors(), "{d}");
    let t = t.expect("the tree compiles");
    let w = d.warnings().next().unwrap();
    let text = describe(w);
    assert!(
        text.contains("invalid regular expression `*test*`"),
        "{text}"
    );
    assert!(text.contains("this rule never matches"), "{text}");
    assert!(text.contains("did you mean `.*test.*`?"), "{text}");
    assert_eq!(w.location.unwrap().line, 1);
    assert_eq!(d.warning_count(), 3, "{d}");
    assert_eq!(t.never_matching_rules(), 3);
    // the drop rule never drops, the broken match rules never select
    let mut e = ev("test-ns", "Warning", "(", "Pod");
    e.involved_object.labels.insert("app".into(), "[".into());
    assert_eq!(routed(&t, &e), vec!["dump"]);
    // a match rule that never matches also closes its sub-routes, as in KEE
    let (t, d) = compile("match: [{reason: \"*x\"}]\nroutes:\n  - match: [{receiver: dump}]\n");
    assert!(!d.has_errors(), "{d}");
    assert!(routed(&t.unwrap(), &ev("a", "Warning", "*x", "Pod")).is_empty());
    assert_eq!(tree(KEE_EXAMPLE).never_matching_rules(), 0);
}

#[test]
fn unknown_receiver_is_an_error_with_suggestion() {
    let (t, d) = compile("match: [{receiver: dumpp}]\n");
    assert!(t.is_none());
    let text = describe(d.errors().next().unwrap());
    assert!(text.contains("`dumpp`"), "{text}");
    assert!(text.contains("did you mean `dump`"), "{text}");
}

#[test]
fn glob_like_regexes_warn() {
    let (t, d) = compile("drop: [{namespace: \"kube-*\"}]\n");
    assert!(t.is_some());
    let w = describe(d.warnings().next().unwrap());
    assert!(w.contains("^kube-"), "{w}");
}

#[test]
fn a_negative_min_count_warns_and_an_empty_receiver_list_is_said_plainly() {
    let (t, d) = compile("match: [{receiver: dump, minCount: -1}]\n");
    let w = describe(d.warnings().next().unwrap());
    assert!(w.contains("`minCount: -1` has no effect"), "{w}");
    assert_eq!(
        routed(&t.unwrap(), &ev("a", "Normal", "R", "Pod")),
        vec!["dump"]
    );

    let (route, mut diags) = crate::testutil::decode_route("match: [{receiver: zzzzzz}]\n");
    assert!(RouteTree::compile(&route, &[], &mut diags).is_none());
    let e = describe(diags.errors().next().unwrap());
    assert!(
        e.contains("hint: no receiver is defined: add one under `receivers:`"),
        "{e}"
    );
    assert!(!e.contains("defined receivers: )"), "{e}");
}

fn describe(d: &herald_config::Diagnostic) -> String {
    format!(
        "{} (hint: {})",
        d.message,
        d.hint.clone().unwrap_or_default()
    )
}

#[test]
fn explain_names_the_first_rule_that_selected_each_receiver() {
    let t = tree(
        "routes:\n  - match: [{receiver: dump}]\n  - drop: [{type: \"Normal\"}]\n    match: [{receiver: alert}]\n    routes:\n      - match: [{namespace: \"^prod-\", receiver: pager}, {receiver: dump}]\n",
    );
    let e = ev("prod-eu", "Warning", "BackOff", "Pod");
    let hits = t.explain(&e);
    let got: Vec<(&str, &str, usize)> = hits
        .iter()
        .map(|h| (RECEIVERS[h.receiver], h.rule.path.as_str(), h.rule.line))
        .collect();
    assert_eq!(
        got,
        [
            ("dump", "routes[0].match[0]", 2),
            ("alert", "routes[1].match[0]", 4),
            ("pager", "routes[1].routes[0].match[0]", 6),
        ]
    );
    // the same receivers, in the same order, as routing selects
    assert_eq!(routed(&t, &e), ["dump", "alert", "pager"]);
    let normal = ev("prod-eu", "Normal", "Pulled", "Pod");
    assert_eq!(t.explain(&normal).len(), 1);
}

/// An event about a Pod in `ns`, whose namespace carries `labels`.
fn in_namespace(ns: &str, labels: &[(&str, &str)]) -> Event {
    let mut e = ev(ns, "Warning", "BackOff", "Pod");
    e.involved_object.namespace = ns.into();
    e.involved_object.namespace_labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    e
}

/// An event about a Node (cluster-scoped: its involved object has no namespace).
fn node_event() -> Event {
    let mut e = ev("default", "Warning", "NodeNotReady", "Node");
    e.involved_object.namespace.clear();
    e
}

#[test]
fn namespace_selectors_in_match_rules_are_anded_with_kee_fields() {
    let t = tree(
        r#"
match:
  - receiver: dump
  - receiver: alert
    type: Warning
    namespaceSelector: {matchLabels: {team: payments}}
  - receiver: pager
    namespaceSelector:
      matchExpressions: [{key: tier, operator: In, values: [gold, silver]}]
    includeNonNamespaced: true
"#,
    );
    let paying = in_namespace("shop", &[("team", "payments"), ("tier", "gold")]);
    assert_eq!(routed(&t, &paying), ["dump", "alert", "pager"]);
    let mut normal = paying.clone();
    normal.event_type = "Normal".into();
    assert_eq!(
        routed(&t, &normal),
        ["dump", "pager"],
        "the KEE field still has to match"
    );
    assert_eq!(
        routed(&t, &in_namespace("shop", &[("team", "search")])),
        ["dump"]
    );
    // no labels on the event (lookups off or failed): an empty label set
    assert_eq!(routed(&t, &in_namespace("shop", &[])), ["dump"]);
    // a Node event: only the rule with includeNonNamespaced
    assert_eq!(routed(&t, &node_event()), ["dump", "pager"]);
}

#[test]
fn a_failing_selector_closes_sub_routes_like_any_match_rule() {
    let t = tree(
        r#"
routes:
  - match: [{namespaceSelector: {matchLabels: {env: prod}}}]
    routes:
      - match: [{receiver: pager}]
"#,
    );
    assert_eq!(
        routed(&t, &in_namespace("a", &[("env", "prod")])),
        ["pager"]
    );
    assert!(routed(&t, &in_namespace("a", &[("env", "dev")])).is_empty());
    assert!(routed(&t, &node_event()).is_empty());
}

#[test]
fn namespace_selectors_in_drop_rules_drop_only_selected_namespaces() {
    let t = tree(
        r#"
drop:
  - namespaceSelector:
      matchExpressions: [{key: sandbox, operator: Exists}]
  - reason: Pulled
    namespaceSelector: {matchLabels: {team: payments}}
match: [{receiver: dump}]
"#,
    );
    assert!(routed(&t, &in_namespace("a", &[("sandbox", "")])).is_empty());
    assert_eq!(
        routed(&t, &in_namespace("a", &[("team", "payments")])),
        ["dump"]
    );
    let mut pulled = in_namespace("a", &[("team", "payments")]);
    pulled.reason = "Pulled".into();
    assert!(
        routed(&t, &pulled).is_empty(),
        "both conditions of the rule hold"
    );
    pulled.involved_object.namespace_labels.clear();
    assert_eq!(routed(&t, &pulled), ["dump"]);
    // a Node event is not in a selected namespace: not dropped
    assert_eq!(routed(&t, &node_event()), ["dump"]);
}

#[test]
fn invalid_selectors_are_errors_at_their_line_and_misspelt_keys_are_suggested() {
    let (t, d) = compile(
        "routes:\n  - match:\n      - receiver: dump\n        namespaceSelector:\n          matchExpressions: [{key: team, operator: Equal, values: [a]}]\n      - receiver: alert\n        namespaceSelector: team=payments\n",
    );
    assert!(t.is_none(), "{d}");
    let errors: Vec<_> = d.errors().collect();
    assert_eq!(errors.len(), 2, "{d}");
    assert_eq!(errors[0].location.unwrap().line, 5);
    assert_eq!(
        errors[0].path.as_deref(),
        Some("routes[0].match[0].namespaceSelector.matchExpressions[0].operator")
    );
    assert!(
        describe(errors[0]).contains("invalid operator `Equal`"),
        "{d}"
    );
    assert!(
        describe(errors[0]).contains("`In`, `NotIn`, `Exists` or `DoesNotExist`"),
        "{d}"
    );
    assert_eq!(errors[1].location.unwrap().line, 7);
    assert!(describe(errors[1]).contains("must be a mapping"), "{d}");

    let (t, d) = compile("match: [{receiver: dump, namespaceSelecter: {matchLabels: {a: b}}}]\n");
    assert!(t.is_some(), "an unknown key is a warning, as before");
    let w = describe(d.warnings().next().expect("a warning"));
    assert!(w.contains("namespaceSelecter"), "{w}");
    assert!(w.contains("did you mean `namespaceSelector`?"), "{w}");
}
