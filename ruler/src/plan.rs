//! Turns the config file's `route:` and `receivers:` into what the ruler runs: the
//! compiled route tree and the receiver configurations, reporting every problem (with
//! file:line) at once.
//!
//! [`load`] is the one validation of a config file: `herald check-config`, `herald
//! route`, `herald run`, the ruler and the exporter all call it, so a file one of them
//! rejects is rejected by all (the exporter does not route, but starting on a file its
//! rulers refuse would hide the mistake until they restart).

use std::path::Path;

use herald_config::{
    Config, ConfigError, DecodeOptions, Diagnostics, LoadedConfig, Node, Role, SourceFile,
    decode_with,
};
use herald_sinks::{ReceiverConfig, parse_receivers};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::route::{RouteConfig, RouteTree};
use crate::rule_objects::{Targets, decode_targets};
use crate::rules::{RuleSet, decode_rules};

/// The ruler's compiled configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The route tree, compiled against `receivers` (index = position).
    pub tree: RouteTree,
    /// Receiver configurations in file order.
    pub receivers: Vec<ReceiverConfig>,
    /// The config file's kube-events rules (indexed against `receivers`).
    pub rules: std::sync::Arc<RuleSet>,
    /// Where the rules of `Rule` objects send their matches; None when
    /// `ruler.ruleObjects` is off.
    pub rule_objects: Option<Targets>,
}

impl Plan {
    /// Returns whether a receiver's hook reads Pods (`enrichPod`): the ruler
    /// then needs a Kubernetes client.
    pub fn needs_pods(&self) -> bool {
        self.receivers
            .iter()
            .any(|r| r.hook.as_ref().is_some_and(|h| h.enrich_pod))
    }

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

/// Why [`load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read as text (the message names the file and the reason).
    #[error("{0}")]
    Unreadable(String),
    /// The file has errors; every problem found, rendered (file:line, message, hint).
    #[error("invalid configuration:\n{0}")]
    Invalid(String),
}

/// Loads the config file at `path` for a process in `role` (which decides the files
/// that are opened, see [`Role`]) and compiles its route tree and receivers; every
/// problem of the whole file is collected.
///
/// # Errors
/// [`LoadError`] when the file cannot be read or has any error.
pub fn load(path: &Path, role: Role) -> Result<(LoadedConfig, Plan), LoadError> {
    let mut loaded = match herald_config::load_file_for(path, role) {
        Ok(l) => l,
        Err(ConfigError::Invalid(mut d)) => {
            check_routing(path, &mut d);
            return Err(LoadError::Invalid(d.to_string()));
        }
        Err(e) => return Err(LoadError::Unreadable(e.to_string())),
    };
    match plan(&loaded.config, &mut loaded.diagnostics) {
        Some(p) => Ok((loaded, p)),
        None => Err(LoadError::Invalid(
            loaded
                .diagnostics
                .render(&loaded.source)
                .trim_end()
                .to_owned(),
        )),
    }
}

/// When the top-level settings do not load, `route` and `receivers` are never
/// compiled; compiles them from the raw file so their problems are reported in the
/// same run. Reads the file as the loader does (BOM, environment expansion).
fn check_routing(path: &Path, diags: &mut Diagnostics) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let source = SourceFile::new(path.display().to_string(), text);
    // `std::env::var` panics on such names; the loader treats them as unset too
    let env = |name: &str| {
        (!name.is_empty() && !name.contains(['=', '\0']))
            .then(|| std::env::var_os(name))
            .flatten()
            .map(|v| v.to_string_lossy().into_owned())
    };
    let expanded = herald_config::expand_env(text, env);
    // parse problems were already reported by the loader
    let mut parse_diags = Diagnostics::new();
    let Some(root) = herald_config::yaml::parse_expanded(&expanded, &source, &mut parse_diags)
    else {
        return;
    };
    let config = Config {
        route: root.get("route").cloned(),
        receivers: root.get("receivers").filter(|n| !n.is_null()).cloned(),
        rules: root.get("rules").filter(|n| n.as_seq().is_some()).cloned(),
        ..Config::default()
    };
    plan(&config, diags);
}

/// Decodes and compiles `route`, `receivers` and `rules`; None when any error was
/// reported.
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
    let rules = match &config.rules {
        Some(node) => decode_rules(node, &names, diags),
        None => Vec::new(),
    };
    let rules = RuleSet::new(rules, receivers.len());
    let rule_objects = decode_targets(&config.ruler.rule_objects, &names, diags);
    if receivers.is_empty() && diags.error_count() == before {
        diags.warning(
            Option::<herald_config::Location>::None,
            "no receivers are defined: events are acknowledged without being sent anywhere",
        );
    }
    if let Some(tree) = tree.as_ref().filter(|_| diags.error_count() == before) {
        unreached_receivers(
            config,
            tree,
            &rules,
            rule_objects.as_ref(),
            &receivers,
            diags,
        );
        selectors_without_labels(config, tree, &receivers, diags);
    }
    match tree {
        Some(tree) if diags.error_count() == before => Some(Plan {
            tree,
            receivers,
            rules: std::sync::Arc::new(rules),
            rule_objects,
        }),
        _ => None,
    }
}

/// Warns about receivers no event can reach: all of them when there is no `route:`
/// and no rule, else each one no match rule, no kube-events rule and no
/// `ruler.ruleObjects` list names.
fn unreached_receivers(
    config: &Config,
    tree: &RouteTree,
    rules: &RuleSet,
    rule_objects: Option<&Targets>,
    receivers: &[ReceiverConfig],
    diags: &mut Diagnostics,
) {
    let Some(first) = receivers.first() else {
        return;
    };
    if config.route.is_none() && config.rules.is_none() && rule_objects.is_none() {
        diags
            .warning(
                first.location,
                format!(
                    "{} receiver(s) defined but there is no `route:`: no event is sent anywhere",
                    receivers.len()
                ),
            )
            .with_path("receivers")
            .with_hint(format!(
                "add a route, e.g. `route: {{routes: [{{match: [{{receiver: {}}}]}}]}}`",
                first.name
            ));
        return;
    }
    for (i, (rc, named)) in receivers.iter().zip(tree.named_receivers()).enumerate() {
        if !named && !rules.feeds(i) && !rule_objects.is_some_and(|t| t.feeds(i)) {
            diags
                .warning(
                    rc.location,
                    format!("no route or rule sends events to receiver `{}`", rc.name),
                )
                .with_path(format!("receivers[{i}]"))
                .with_hint(format!(
                    "name it in a match rule under `route:`, e.g. `- match: [{{receiver: {}}}]`, or in a rule's `receivers:`, or remove it",
                    rc.name
                ));
        }
    }
}

/// Warns about each namespace selector (per receiver, per route rule) when the
/// exporter attaches no namespace labels (`omitLookup: true` or
/// `exporter.lookup.namespaceLabels: false`): every namespaced event is then tested
/// against an empty label set.
fn selectors_without_labels(
    config: &Config,
    tree: &RouteTree,
    receivers: &[ReceiverConfig],
    diags: &mut Diagnostics,
) {
    let off = if config.omit_lookup {
        "`omitLookup: true`"
    } else if !config.exporter.lookup.namespace_labels {
        "`exporter.lookup.namespaceLabels: false`"
    } else {
        return;
    };
    let hint = "namespaced events are tested against an empty label set, so `matchLabels`, `In` and `Exists` never match; remove `omitLookup` and keep `exporter.lookup.namespaceLabels` on (the default)";
    for (i, rc) in receivers.iter().enumerate() {
        if rc.namespace_selector.is_some() {
            diags
                .warning(
                    rc.location,
                    format!(
                        "receiver `{}` has a `namespaceSelector`, but with {off} events carry no namespace labels",
                        rc.name
                    ),
                )
                .with_path(format!("receivers[{i}].namespaceSelector"))
                .with_hint(hint);
        }
    }
    for (location, path) in tree.namespace_selectors() {
        diags
            .warning(
                location,
                format!("this rule has a `namespaceSelector`, but with {off} events carry no namespace labels"),
            )
            .with_path(path)
            .with_hint(hint);
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

    fn warnings(text: &str) -> Vec<String> {
        let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
        assert!(plan(&loaded.config, &mut loaded.diagnostics).is_some());
        loaded
            .diagnostics
            .warnings()
            .map(|d| {
                format!(
                    "{}: {}: {} (hint: {})",
                    d.location.map_or(0, |l| l.line),
                    d.path.as_deref().unwrap_or(""),
                    d.message,
                    d.hint.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn receivers_no_route_reaches_are_warnings() {
        let receivers =
            "receivers:\n  - name: dump\n    stdout: {}\n  - name: spare\n    stdout: {}\n";
        assert_eq!(
            warnings(receivers),
            [
                "2: receivers: 2 receiver(s) defined but there is no `route:`: no event is sent anywhere (hint: add a route, e.g. `route: {routes: [{match: [{receiver: dump}]}]}`)"
            ]
        );
        let routed = format!(
            "route:\n  routes:\n    - drop: [{{receiver: spare}}]\n      match: [{{receiver: dump}}]\n{receivers}"
        );
        let w = warnings(&routed);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("a receiver in a drop rule is ignored"),
            "{w:?}"
        );
        assert_eq!(
            w[1],
            "8: receivers[1]: no route or rule sends events to receiver `spare` (hint: name it in a match rule under `route:`, e.g. `- match: [{receiver: spare}]`, or in a rule's `receivers:`, or remove it)"
        );
        // a receiver named in a sub-route is reached
        let nested = format!(
            "route:\n  routes:\n    - match: [{{receiver: dump}}]\n      routes:\n        - match: [{{receiver: spare}}]\n{receivers}"
        );
        assert_eq!(warnings(&nested), Vec::<String>::new());
    }

    #[test]
    fn selectors_warn_when_the_exporter_attaches_no_namespace_labels() {
        let body = "route:\n  routes:\n    - match:\n        - receiver: team\n          namespaceSelector: {matchLabels: {team: a}}\nreceivers:\n  - name: team\n    stdout: {}\n    namespaceSelector: {matchLabels: {team: a}}\n";
        assert_eq!(warnings(body), Vec::<String>::new());
        let w = warnings(&format!("omitLookup: true\n{body}"));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("8: receivers[0].namespaceSelector: receiver `team` has a `namespaceSelector`, but with `omitLookup: true` events carry no namespace labels (hint: namespaced events are tested against an empty label set"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with(
                "6: route.routes[0].match[0].namespaceSelector: this rule has a `namespaceSelector`"
            ),
            "{w:?}"
        );
        let w = warnings(&format!(
            "exporter:\n  lookup: {{namespaceLabels: false}}\n{body}"
        ));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains(
                "with `exporter.lookup.namespaceLabels: false` events carry no namespace labels"
            ),
            "{w:?}"
        );
    }

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
