//! Turns the config file's `route:` and `receivers:` into what the ruler runs: the
//! compiled route tree and the receiver configurations, reporting every problem (with
//! file:line) at once. `herald check-config` and `herald route` use the same function.

use herald_config::{Config, DecodeOptions, Diagnostics, Node, decode_with};
use herald_sinks::{ReceiverConfig, parse_receivers};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::route::{RouteConfig, RouteTree};

/// The ruler's compiled configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The route tree, compiled against `receivers` (index = position).
    pub tree: RouteTree,
    /// Receiver configurations in file order.
    pub receivers: Vec<ReceiverConfig>,
}

impl Plan {
    /// Receiver names in tree index order.
    pub fn receiver_names(&self) -> Vec<String> {
        self.receivers.iter().map(|r| r.name.clone()).collect()
    }

    /// Registers the gauges that describe this plan:
    /// `herald_ruler_rules_never_matching`, the rules whose pattern is not a valid
    /// regular expression (they never match, as in kubernetes-event-exporter; the
    /// startup log and `herald check-config` say which).
    pub fn register_metrics(&self, registry: &mut Registry) {
        let never = Gauge::<i64>::default();
        never.set(i64::try_from(self.tree.never_matching_rules()).unwrap_or(i64::MAX));
        registry.register(
            "herald_ruler_rules_never_matching",
            "Route rules that never match because a pattern is not a valid regular expression (listed as warnings at startup and by herald check-config)",
            never,
        );
    }
}

/// Decodes and compiles `route` and `receivers`; None when any error was reported.
pub fn plan(config: &Config, diags: &mut Diagnostics) -> Option<Plan> {
    let before = diags.error_count();
    let receivers = match &config.receivers {
        Some(node) => parse_receivers(node, diags),
        None => Vec::new(),
    };
    let route: RouteConfig = match &config.route {
        Some(node) => decode_with(
            node,
            &DecodeOptions {
                path: "route",
                strict_types: &[],
            },
            diags,
        )
        .unwrap_or_default(),
        None => RouteConfig::default(),
    };
    let mut names: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    if diags.error_count() > before
        && let Some(node) = &config.receivers
    {
        // A receiver with an error is still defined: a route naming it must not get a
        // second, misleading "not defined" error. The plan is discarded on errors, so
        // these extra names never index a receiver.
        for name in declared_names(node) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let tree = RouteTree::compile(&route, &names, diags);
    if receivers.is_empty() && diags.error_count() == before {
        diags.warning(
            Option::<herald_config::Location>::None,
            "no receivers are defined: events are acknowledged without being sent anywhere",
        );
    }
    match tree {
        Some(tree) if diags.error_count() == before => Some(Plan { tree, receivers }),
        _ => None,
    }
}

/// The `name` of every receiver entry, valid or not.
fn declared_names(receivers: &Node) -> impl Iterator<Item = String> + '_ {
    receivers
        .as_seq()
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("name")?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_matching_rules_are_exposed_as_a_gauge() {
        let text = "route:\n  routes:\n    - drop:\n        - namespace: \"*test*\"\n      match:\n        - receiver: dump\nreceivers:\n  - name: dump\n    stdout: {}\n";
        let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
        let plan = plan(&loaded.config, &mut loaded.diagnostics).expect("KEE starts with it");
        let mut registry = Registry::default();
        plan.register_metrics(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(
            out.contains("\nherald_ruler_rules_never_matching 1\n"),
            "{out}"
        );
    }

    #[test]
    fn a_route_naming_an_invalid_receiver_gets_no_not_defined_error() {
        let text = "route:\n  routes:\n    - match:\n        - receiver: dump\n        - receiver: dumq\nreceivers:\n  - name: dump\n    stdout:\n      layout:\n        m: \"{{ .Message \"\n";
        let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
        assert!(plan(&loaded.config, &mut loaded.diagnostics).is_none());
        let out = loaded.diagnostics.to_string();
        assert!(out.contains("invalid template"), "{out}");
        assert!(!out.contains("`dump`, which is not defined"), "{out}");
        assert!(out.contains("`dumq`, which is not defined"), "{out}");
        assert!(out.contains("did you mean `dump`?"), "{out}");
    }
}
