//! Property test of the compiled route tree against a direct reading of
//! kubernetes-event-exporter's algorithm over the route as written: for random trees
//! (drop and match rules on several fields, labels, minCount, nested routes, invalid
//! patterns) and random events, both select the same receivers in the same order.

use std::collections::BTreeMap;

use herald_config::{Diagnostics, Located};
use herald_proto::{Event, EventSource, InvolvedObject, ObjectMeta};
use proptest::prelude::*;

use super::*;

const RECEIVERS: [&str; 3] = ["r0", "r1", "r2"];
/// Patterns over the values below, including an invalid one (never matches).
const PATTERNS: [&str; 8] = ["", "a", "^a", "b$", "a|b", "^ab$", ".*", "*a"];
const VALUES: [&str; 5] = ["", "a", "b", "ab", "ba"];

fn pattern() -> impl Strategy<Value = Option<Located<String>>> {
    prop::option::of(
        prop::sample::select(&PATTERNS[..]).prop_map(|p| Located::unlocated(p.to_owned())),
    )
}

fn rule(with_receiver: bool) -> impl Strategy<Value = RuleConfig> {
    (
        pattern(),
        pattern(),
        pattern(),
        prop::option::of(prop::collection::btree_map(
            prop::sample::select(&["app", "team"][..]).prop_map(str::to_owned),
            prop::sample::select(&PATTERNS[..]).prop_map(|p| Located::unlocated(p.to_owned())),
            0..2,
        )),
        prop::option::of((-1i32..4).prop_map(Located::unlocated)),
        prop::option::of(prop::sample::select(&RECEIVERS[..])),
    )
        .prop_map(
            move |(namespace, reason, event_type, labels, min_count, receiver)| RuleConfig {
                namespace,
                reason,
                event_type,
                labels,
                min_count,
                receiver: receiver
                    .filter(|_| with_receiver)
                    .map(|r| Located::unlocated(r.to_owned())),
                ..RuleConfig::default()
            },
        )
}

fn route_config() -> impl Strategy<Value = RouteConfig> {
    let leaf = (
        prop::collection::vec(rule(false), 0..2),
        prop::collection::vec(rule(true), 0..3),
    )
        .prop_map(|(drop, matches)| RouteConfig {
            drop,
            matches,
            routes: Vec::new(),
        });
    leaf.prop_recursive(3, 16, 3, |inner| {
        (
            prop::collection::vec(rule(false), 0..2),
            prop::collection::vec(rule(true), 0..3),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(drop, matches, routes)| RouteConfig {
                drop,
                matches,
                routes,
            })
    })
}

fn event() -> impl Strategy<Value = Event> {
    let value = || prop::sample::select(&VALUES[..]).prop_map(str::to_owned);
    (
        value(),
        value(),
        value(),
        prop::option::of(value()),
        prop::option::of(value()),
        1i32..4,
    )
        .prop_map(|(namespace, reason, event_type, app, team, occurrence)| {
            let mut labels = BTreeMap::new();
            if let Some(v) = app {
                labels.insert("app".to_owned(), v);
            }
            if let Some(v) = team {
                labels.insert("team".to_owned(), v);
            }
            Event {
                occurrence,
                metadata: ObjectMeta {
                    namespace,
                    ..Default::default()
                },
                reason,
                event_type,
                source: EventSource::default(),
                involved_object: InvolvedObject {
                    labels,
                    ..Default::default()
                },
                ..Default::default()
            }
        })
}

/// KEE's `regexp.MatchString`: a pattern that does not compile never matches.
fn matches(pattern: &str, value: &str) -> bool {
    crate::go_regex::compile(pattern).is_ok_and(|re| re.is_match(value))
}

/// KEE's `Rule.MatchesEvent`, read from the rule as written.
fn rule_matches(r: &RuleConfig, ev: &Event) -> bool {
    let field = |p: &Option<Located<String>>, v: &str| {
        p.as_ref()
            .is_none_or(|p| p.value.is_empty() || matches(&p.value, v))
    };
    let labels = r.labels.iter().flatten().all(|(k, p)| {
        ev.involved_object
            .labels
            .get(k)
            .is_some_and(|v| matches(&p.value, v))
    });
    field(&r.namespace, &ev.metadata.namespace)
        && field(&r.reason, &ev.reason)
        && field(&r.event_type, &ev.event_type)
        && labels
        && r.min_count
            .as_ref()
            .is_none_or(|m| ev.occurrence >= m.value)
}

/// KEE's `ProcessEvent`, with herald's one difference: a receiver is selected once.
fn reference(route: &RouteConfig, ev: &Event, out: &mut Vec<usize>) {
    if route.drop.iter().any(|r| rule_matches(r, ev)) {
        return;
    }
    let mut all = true;
    for r in &route.matches {
        if rule_matches(r, ev) {
            if let Some(name) = &r.receiver {
                let i = RECEIVERS.iter().position(|n| *n == name.value).unwrap();
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        } else {
            all = false;
        }
    }
    if all {
        for sub in &route.routes {
            reference(sub, ev, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_compiled_tree_routes_as_kee_reads_the_route(
        route in route_config(),
        events in prop::collection::vec(event(), 1..8),
    ) {
        let names: Vec<String> = RECEIVERS.iter().map(|s| (*s).to_owned()).collect();
        let mut diags = Diagnostics::new();
        let tree = RouteTree::compile(&route, &names, &mut diags);
        prop_assert!(!diags.has_errors(), "{}", diags);
        let tree = tree.unwrap();
        let mut sel = Selection::new(tree.receivers());
        for ev in &events {
            tree.route(ev, &mut sel);
            let mut want = Vec::new();
            reference(&route, ev, &mut want);
            prop_assert_eq!(sel.receivers(), want.as_slice(), "event {:?}", ev);
        }
    }
}
