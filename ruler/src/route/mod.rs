//! kubernetes-event-exporter's route tree, compiled once.
//!
//! kubernetes-event-exporter's semantics, evaluated depth-first from the root:
//! 1. **drop**: if any drop rule matches, stop here (this route and its sub-routes);
//!    receivers chosen by ancestors keep the event;
//! 2. **match**: every match rule is evaluated (no short-circuit); each matching rule
//!    with a receiver selects that receiver;
//! 3. **descent**: only when *all* match rules matched (or there are none), the
//!    sub-routes are evaluated in order.
//!
//! A rule matches when every field it sets matches: string fields are Go RE2
//! regexes searched anywhere in the value (unanchored, case-sensitive, ASCII classes);
//! `labels`/`annotations` need every key present with a matching value; `minCount`
//! needs the occurrence count to be at least that.
//!
//! herald extension: a rule may also hold `namespaceSelector` (and
//! `includeNonNamespaced`), a Kubernetes label selector over the labels of the
//! involved object's namespace ([`herald_config::selector`]), ANDed with the rest.
//!
//! herald's deliberate differences, documented in the README: an event reaches a
//! receiver at most once per routing pass (KEE sent one copy per matching rule);
//! unknown receivers are startup errors (KEE ignored them silently); `minCount`
//! compares the occurrence count, which is `series.count` for events written through
//! events.k8s.io/v1 (KEE compared `count`, which is 0 there).
//!
//! An invalid regular expression behaves as in KEE, whose match ignored the compile
//! error: the rule holding it never matches (a drop rule never drops, a match rule
//! never selects and gates its sub-routes shut). It is a loud warning with a hint
//! instead of KEE's silence, is counted by [`RouteTree::never_matching_rules`] (the
//! `herald_ruler_rules_never_matching` gauge), and `herald check-config --strict`
//! turns it into an error.

use std::collections::{BTreeMap, HashMap};

use herald_config::selector::NamespaceSelector;
use herald_config::{Diagnostics, Located, Node};
use herald_proto::Event;
use regex::Regex;
use serde::Deserialize;

use crate::go_regex;

/// A route as written in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RouteConfig {
    /// Rules that stop this route (and its sub-routes) when one matches.
    #[serde(default)]
    pub drop: Vec<RuleConfig>,
    /// Rules evaluated independently; a matching rule with a receiver selects it.
    #[serde(default, rename = "match")]
    pub matches: Vec<RuleConfig>,
    /// Sub-routes, evaluated when every match rule matched.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// A rule as written in the config file. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    /// Regex on `message`.
    pub message: Option<Located<String>>,
    /// Regex on `involvedObject.apiVersion`.
    pub api_version: Option<Located<String>>,
    /// Regex on `involvedObject.kind`.
    pub kind: Option<Located<String>>,
    /// Regex on the Event object's own `metadata.namespace`.
    pub namespace: Option<Located<String>>,
    /// Regex on `reason`.
    pub reason: Option<Located<String>>,
    /// Regex on `type`.
    #[serde(rename = "type")]
    pub event_type: Option<Located<String>>,
    /// Regex on `source.component`.
    pub component: Option<Located<String>>,
    /// Regex on `source.host`.
    pub host: Option<Located<String>>,
    /// Involved object labels: key → regex on the value (every key must exist).
    pub labels: Option<BTreeMap<String, Located<String>>>,
    /// Involved object annotations: key → regex on the value.
    pub annotations: Option<BTreeMap<String, Located<String>>>,
    /// Minimum occurrence count.
    pub min_count: Option<Located<i32>>,
    /// herald extension: a label selector the involved object's namespace must match.
    pub namespace_selector: Option<Located<Node>>,
    /// herald extension: with `namespaceSelector`, events of cluster-scoped objects
    /// match too (default false).
    pub include_non_namespaced: Option<Located<bool>>,
    /// Receiver to send matching events to.
    pub receiver: Option<Located<String>>,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Message,
    ApiVersion,
    Kind,
    Namespace,
    Reason,
    Type,
    Component,
    Host,
}

impl Field {
    fn get(self, ev: &Event) -> &str {
        match self {
            Field::Message => &ev.message,
            Field::ApiVersion => &ev.involved_object.api_version,
            Field::Kind => &ev.involved_object.kind,
            Field::Namespace => &ev.metadata.namespace,
            Field::Reason => &ev.reason,
            Field::Type => &ev.event_type,
            Field::Component => &ev.source.component,
            Field::Host => &ev.source.host,
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    fields: Vec<(Field, Regex)>,
    labels: Vec<(String, Option<Regex>)>,
    annotations: Vec<(String, Option<Regex>)>,
    min_count: Option<i32>,
    namespaces: Option<NamespaceSelector>,
    /// Where `namespaceSelector` is written, when the rule has one.
    selector_at: Option<(herald_config::Location, String)>,
    receiver: Option<usize>,
    /// A pattern of this rule is not a valid regular expression: the rule never
    /// matches, as in KEE.
    never: bool,
    /// Where the rule is written: its key path and the line of its `receiver`.
    origin: RuleOrigin,
}

/// Where a match rule is written in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleOrigin {
    /// Key path of the rule, such as `route.routes[1].match[0]`.
    pub path: String,
    /// Line of its `receiver:` key (0 when unknown).
    pub line: usize,
}

/// A receiver an event reached, and the first rule that selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Receiver index.
    pub receiver: usize,
    /// The rule.
    pub rule: RuleOrigin,
}

impl Rule {
    fn matches(&self, ev: &Event) -> bool {
        if self.never || self.min_count.is_some_and(|min| ev.occurrence < min) {
            return false;
        }
        self.fields.iter().all(|(f, re)| re.is_match(f.get(ev)))
            && map_matches(&self.labels, &ev.involved_object.labels)
            && map_matches(&self.annotations, &ev.involved_object.annotations)
            && self.namespaces.as_ref().is_none_or(|s| {
                s.matches(
                    &ev.involved_object.namespace,
                    &ev.involved_object.namespace_labels,
                )
            })
    }
}

fn map_matches(rules: &[(String, Option<Regex>)], map: &BTreeMap<String, String>) -> bool {
    rules.iter().all(|(k, re)| {
        map.get(k)
            .is_some_and(|v| re.as_ref().is_none_or(|re| re.is_match(v)))
    })
}

#[derive(Debug, Clone, Default)]
struct Route {
    drop: Vec<Rule>,
    matches: Vec<Rule>,
    routes: Vec<Route>,
}

/// The id of the next compiled [`RouteTree`].
static NEXT_TREE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The compiled route tree.
#[derive(Debug, Clone, Default)]
pub struct RouteTree {
    root: Route,
    receivers: usize,
    never_matching: usize,
    /// Shared by this tree and its clones only (0: the empty default tree).
    id: u64,
}

/// The receivers an event reached in one routing pass (each at most once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    hit: Vec<bool>,
    order: Vec<usize>,
}

impl Selection {
    /// An empty selection for a tree with `receivers` receivers.
    pub fn new(receivers: usize) -> Selection {
        Selection {
            hit: vec![false; receivers],
            order: Vec::with_capacity(4),
        }
    }

    /// Clears the selection for reuse.
    pub fn clear(&mut self) {
        for i in self.order.drain(..) {
            self.hit[i] = false;
        }
    }

    fn add(&mut self, receiver: usize) {
        if !self.hit[receiver] {
            self.hit[receiver] = true;
            self.order.push(receiver);
        }
    }

    /// Receiver indices in the order they were first selected.
    pub fn receivers(&self) -> &[usize] {
        &self.order
    }

    /// Keeps only receiver `index` (if it was selected).
    pub fn retain_only(&mut self, index: usize) {
        let selected = self.hit.get(index).copied().unwrap_or(false);
        self.clear();
        if selected {
            self.add(index);
        }
    }

    /// True when no receiver was selected.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl RouteTree {
    /// Compiles `root` against the receiver names (index = position). Every problem is
    /// reported to `diags`; returns None when any was an error.
    pub fn compile(
        root: &RouteConfig,
        receivers: &[String],
        diags: &mut Diagnostics,
    ) -> Option<RouteTree> {
        let index: HashMap<&str, usize> = receivers
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let before = diags.error_count();
        let root = compile_route(root, &index, receivers, diags);
        let never_matching = count_never(&root);
        (diags.error_count() == before).then_some(RouteTree {
            root,
            receivers: receivers.len(),
            never_matching,
            id: NEXT_TREE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Identifies this compiled tree: trees with the same id (a tree and its clones)
    /// route every event alike, so a routing result can be shared between them.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of receivers this tree was compiled against.
    pub fn receivers(&self) -> usize {
        self.receivers
    }

    /// Tells, for each receiver (by index), whether a match rule names it: a receiver
    /// no rule names never gets an event.
    pub fn named_receivers(&self) -> Vec<bool> {
        fn walk(r: &Route, out: &mut [bool]) {
            for rule in &r.matches {
                if let Some(slot) = rule.receiver.and_then(|i| out.get_mut(i)) {
                    *slot = true;
                }
            }
            for sub in &r.routes {
                walk(sub, out);
            }
        }
        let mut out = vec![false; self.receivers];
        walk(&self.root, &mut out);
        out
    }

    /// Where every rule with a `namespaceSelector` is written (location, key path).
    pub fn namespace_selectors(&self) -> Vec<(herald_config::Location, String)> {
        fn walk(r: &Route, out: &mut Vec<(herald_config::Location, String)>) {
            out.extend(
                r.drop
                    .iter()
                    .chain(&r.matches)
                    .filter_map(|rule| rule.selector_at.clone()),
            );
            for sub in &r.routes {
                walk(sub, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// Number of rules that can never match because one of their patterns is not a
    /// valid regular expression.
    pub fn never_matching_rules(&self) -> usize {
        self.never_matching
    }

    /// Routes `ev`, adding the selected receivers to `out` (cleared first).
    pub fn route(&self, ev: &Event, out: &mut Selection) {
        out.clear();
        if out.hit.len() < self.receivers {
            *out = Selection::new(self.receivers);
        }
        route(&self.root, ev, &mut |_, i| out.add(i));
    }

    /// Routes `ev` and tells, for each receiver it reaches (in the order of
    /// [`RouteTree::route`]), the first rule that selected it.
    pub fn explain(&self, ev: &Event) -> Vec<Hit> {
        let mut seen = vec![false; self.receivers];
        let mut hits = Vec::new();
        route(&self.root, ev, &mut |rule, i| {
            if let Some(slot) = seen.get_mut(i)
                && !*slot
            {
                *slot = true;
                hits.push(Hit {
                    receiver: i,
                    rule: rule.origin.clone(),
                });
            }
        });
        hits
    }
}

/// Evaluates route `r` for `ev`, calling `select` for every match rule with a receiver
/// that selects the event.
fn route(r: &Route, ev: &Event, select: &mut impl FnMut(&Rule, usize)) {
    if r.drop.iter().any(|rule| rule.matches(ev)) {
        return;
    }
    let mut all = true;
    for rule in &r.matches {
        if rule.matches(ev) {
            if let Some(i) = rule.receiver {
                select(rule, i);
            }
        } else {
            all = false;
        }
    }
    if all {
        for sub in &r.routes {
            route(sub, ev, select);
        }
    }
}

fn count_never(r: &Route) -> usize {
    r.drop
        .iter()
        .chain(&r.matches)
        .filter(|rule| rule.never)
        .count()
        + r.routes.iter().map(count_never).sum::<usize>()
}

fn compile_route(
    cfg: &RouteConfig,
    index: &HashMap<&str, usize>,
    names: &[String],
    diags: &mut Diagnostics,
) -> Route {
    Route {
        drop: cfg
            .drop
            .iter()
            .map(|r| compile_rule(r, index, names, diags, false))
            .collect(),
        matches: cfg
            .matches
            .iter()
            .map(|r| compile_rule(r, index, names, diags, true))
            .collect(),
        routes: cfg
            .routes
            .iter()
            .map(|r| compile_route(r, index, names, diags))
            .collect(),
    }
}

fn compile_rule(
    cfg: &RuleConfig,
    index: &HashMap<&str, usize>,
    names: &[String],
    diags: &mut Diagnostics,
    is_match: bool,
) -> Rule {
    let mut fields = Vec::new();
    let mut never = false;
    for (field, value) in [
        (Field::Message, &cfg.message),
        (Field::ApiVersion, &cfg.api_version),
        (Field::Kind, &cfg.kind),
        (Field::Namespace, &cfg.namespace),
        (Field::Reason, &cfg.reason),
        (Field::Type, &cfg.event_type),
        (Field::Component, &cfg.component),
        (Field::Host, &cfg.host),
    ] {
        let Some(v) = value else { continue };
        // an empty string means "don't care", as in KEE
        if v.value.is_empty() {
            continue;
        }
        match compile_pattern(v, diags) {
            Some(re) => fields.push((field, re)),
            None => never = true,
        }
    }
    let mut map_rules = |m: &Option<BTreeMap<String, Located<String>>>, diags: &mut Diagnostics| {
        let mut out = Vec::new();
        for (k, v) in m.iter().flatten() {
            if v.value.is_empty() {
                // `app: ""` only checks that the key exists
                out.push((k.clone(), None));
            } else {
                match compile_pattern(v, diags) {
                    Some(re) => out.push((k.clone(), Some(re))),
                    None => never = true,
                }
            }
        }
        out
    };
    let labels = map_rules(&cfg.labels, diags);
    let annotations = map_rules(&cfg.annotations, diags);
    // errors are reported in `diags`, which fails the compilation
    let namespaces = herald_config::selector::decode(
        cfg.namespace_selector.as_ref().map(|n| &n.value),
        cfg.namespace_selector
            .as_ref()
            .map_or("namespaceSelector", |n| n.path.as_str()),
        cfg.include_non_namespaced.as_ref(),
        diags,
    )
    .unwrap_or_default();
    let receiver = match &cfg.receiver {
        Some(r) if !r.value.is_empty() => match index.get(r.value.as_str()) {
            Some(i) => {
                if !is_match {
                    r.warning(diags, "a receiver in a drop rule is ignored")
                        .with_hint(
                            "drop rules only stop routing; move the receiver to a match rule",
                        );
                }
                Some(*i)
            }
            None => {
                let d = r.error(
                    diags,
                    format!("route names receiver `{}`, which is not defined", r.value),
                );
                match herald_config::suggest::closest(&r.value, names.iter().map(String::as_str)) {
                    Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                    None if names.is_empty() => d.with_hint(format!(
                        "no receiver is defined: add one under `receivers:`, e.g. `- name: {}` with `stdout: {{}}`",
                        r.value
                    )),
                    None => d.with_hint(format!("defined receivers: {}", names.join(", "))),
                };
                None
            }
        },
        _ => None,
    };
    if let Some(min) = cfg.min_count.as_ref().filter(|m| m.value < 0) {
        min.warning(
            diags,
            format!(
                "`minCount: {}` has no effect: every event occurred at least once",
                min.value
            ),
        )
        .with_hint(
            "remove it, or set the number of occurrences an event needs, e.g. `minCount: 3`",
        );
    }
    let origin = cfg
        .receiver
        .as_ref()
        .map(|r| RuleOrigin {
            path: r
                .path
                .strip_suffix(".receiver")
                .unwrap_or(&r.path)
                .to_owned(),
            line: r.location.line,
        })
        .unwrap_or_default();
    Rule {
        fields,
        labels,
        annotations,
        min_count: cfg.min_count.as_ref().map(|m| m.value),
        selector_at: namespaces.as_ref().and(
            cfg.namespace_selector
                .as_ref()
                .map(|n| (n.location, n.path.clone())),
        ),
        namespaces,
        receiver,
        never,
        origin,
    }
}

/// Compiles a rule's pattern. An invalid one is a warning (KEE starts with it, and the
/// rule never matches there); `None` tells the caller the rule never matches.
fn compile_pattern(v: &Located<String>, diags: &mut Diagnostics) -> Option<Regex> {
    match go_regex::compile(&v.value) {
        Ok(re) => {
            if let Some(h) = glob_warning(&v.value) {
                v.warning(
                    diags,
                    format!(
                        "`{}` is a regular expression searched anywhere in the value, not a glob",
                        v.value
                    ),
                )
                .with_hint(h);
            }
            Some(re)
        }
        Err(e) => {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned();
            let d = v.warning(
                diags,
                format!(
                    "invalid regular expression `{}`: {first}; this rule never matches (kubernetes-event-exporter ignores the error the same way)",
                    v.value
                ),
            );
            match go_regex::glob_hint(&v.value) {
                Some(h) => d.with_hint(format!(
                    "did you mean `{h}`? (rules are regular expressions, not globs)"
                )),
                None => d.with_hint("rules use Go/RE2 regular expression syntax"),
            };
            None
        }
    }
}

/// A hint for valid patterns that look like globs (`kube-*`, `sou*`), whose regex
/// meaning surprised KEE users.
fn glob_warning(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let n = b.len();
    let globby =
        n >= 2 && b[n - 1] == b'*' && (b[n - 2].is_ascii_alphanumeric() || b[n - 2] == b'-');
    if globby {
        let stem = &p[..n - 1];
        return Some(format!(
            "it matches any value containing `{}`; for a prefix use `^{stem}`",
            &stem[..stem.len() - 1]
        ));
    }
    None
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
