//! Receiver configuration: the `receivers:` list, decoded with herald-config's
//! located machinery.
//!
//! A receiver is `- name: <string>` plus exactly one sink key (KEE's types)
//! plus herald's optional [`delivery:`](DeliveryConfig) block and
//! `namespaceSelector` / `includeNonNamespaced` (the receiver only gets events whose
//! namespace labels match, see [`herald_config::selector`]). Unlike KEE,
//! which silently used one of several sink keys and hung on shutdown with
//! duplicate names, both are errors here; every error carries the file
//! location and a hint.

mod delivery;
mod tls;
mod units;

use std::collections::HashMap;

use herald_config::selector::NamespaceSelector;
use herald_config::{
    DecodeOptions, Diagnostics, Key, Located, Location, Node, child_path, decode_with, index_path,
};

pub use delivery::{BatchConfig, DeliveryConfig, OnFullConfig, RetryConfig};
pub use tls::TlsConfig;
pub use units::{ByteSize, GoDuration};

pub use crate::registry::SinkConfig;
use crate::registry::{Registration, registry};

/// Every sink key kubernetes-event-exporter knows, in its precedence order
/// (the one it used when several were given).
pub const KEE_SINK_TYPES: [&str; 21] = [
    "inMemory",
    "pipe",
    "webhook",
    "file",
    "syslog",
    "stdout",
    "elasticsearch",
    "kinesis",
    "firehose",
    "opensearch",
    "opsgenie",
    "sqs",
    "sns",
    "slack",
    "kafka",
    "pubsub",
    "opscenter",
    "teams",
    "bigquery",
    "eventbridge",
    "loki",
];

/// One receiver.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The name routes refer to.
    pub name: String,
    /// Where the receiver is written.
    pub location: Location,
    /// The sink.
    pub sink: SinkConfig,
    /// herald's delivery settings (all optional).
    pub delivery: DeliveryConfig,
    /// herald extension: only events whose namespace matches reach this receiver
    /// (`None`: every event the route selects).
    pub namespace_selector: Option<NamespaceSelector>,
    /// herald extension: a script asked about every event before it is sent.
    pub hook: Option<crate::hook::HookConfig>,
}

/// Keys of a receiver entry besides its sink key.
const RECEIVER_KEYS: [&str; 5] = [
    "name",
    "delivery",
    "namespaceSelector",
    "includeNonNamespaced",
    "hook",
];

/// Every sink key a receiver entry may have: kubernetes-event-exporter's, in
/// its precedence order, then registered types it did not have.
fn sink_keys(registry: &[Registration]) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = KEE_SINK_TYPES.to_vec();
    for r in registry {
        if !keys.contains(&r.name()) {
            keys.push(r.name());
        }
    }
    keys
}

/// Decodes the `receivers:` list, recording every problem in `diags`.
///
/// Returns the receivers that are valid; the caller stops startup when
/// `diags` has errors. Checked here: a name on every receiver, unique names,
/// exactly one sink key, a sink type this build implements, sink settings
/// (templates parse, TLS files are readable, …) and the `delivery:` block.
/// Unknown keys are warnings.
pub fn parse_receivers(node: &Node, diags: &mut Diagnostics) -> Vec<ReceiverConfig> {
    parse_receivers_in(node, diags, registry())
}

/// [`parse_receivers`] against a given registry.
pub(crate) fn parse_receivers_in(
    node: &Node,
    diags: &mut Diagnostics,
    registry: &[Registration],
) -> Vec<ReceiverConfig> {
    if node.is_null() {
        return Vec::new();
    }
    let Some(items) = node.as_seq() else {
        diags
            .error(
                node.loc,
                format!("expected a list of receivers, found {}", node.describe()),
            )
            .with_path("receivers")
            .with_hint("write `receivers:` followed by `- name: …` items");
        return Vec::new();
    };
    let mut receivers: Vec<ReceiverConfig> = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = index_path("receivers", i);
        let Some((name, receiver)) = parse_receiver(item, &path, diags, registry) else {
            continue;
        };
        if let Some(first) = seen.get(&name.value) {
            name.error(diags, format!("duplicate receiver name `{}`", name.value))
                .with_hint(format!(
                    "the first receiver with this name is at line {}; receiver names must be unique",
                    first.line
                ));
            continue;
        }
        seen.insert(name.value.clone(), name.location);
        if let Some(r) = receiver {
            receivers.push(r);
        }
    }
    receivers
}

/// Parses one receiver. Returns its name (for the duplicate check) when it
/// has one, and the receiver when it is valid.
fn parse_receiver(
    item: &Node,
    path: &str,
    diags: &mut Diagnostics,
    registry: &[Registration],
) -> Option<(Located<String>, Option<ReceiverConfig>)> {
    let Some(entries) = item.as_map() else {
        diags
            .error(
                item.loc,
                format!("expected a receiver mapping, found {}", item.describe()),
            )
            .with_path(path)
            .with_hint("write `- name: <name>` followed by one sink, e.g. `stdout: {}`");
        return None;
    };
    let sink_keys = sink_keys(registry);
    // Without a known sink key, every other key is taken for a misspelled or unknown
    // receiver type and reported as such, not as an ignored key.
    let unknown_types: Vec<&Key> = if entries
        .iter()
        .any(|(k, _)| sink_keys.contains(&k.name.as_str()))
    {
        Vec::new()
    } else {
        entries
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !RECEIVER_KEYS.contains(&k.name.as_str()))
            .collect()
    };
    if unknown_types.is_empty() {
        warn_unknown_keys(entries, &sink_keys, path, diags);
    }
    let name = parse_name(item, path, diags)?;
    let sinks: Vec<(&Key, &Node)> = entries
        .iter()
        .filter(|(k, _)| sink_keys.contains(&k.name.as_str()))
        .map(|(k, v)| (k, v))
        .collect();
    let (key, sink_node) = match sinks.as_slice() {
        [] if !unknown_types.is_empty() => {
            for key in unknown_types {
                let d = diags
                    .error(key.loc, format!("unknown receiver type `{}`", key.name))
                    .with_path(child_path(path, &key.name));
                let types = quoted(&available(registry));
                match herald_config::suggest::closest(&key.name, sink_keys.iter().copied()) {
                    Some(near) => d.with_hint(format!(
                        "did you mean `{near}`? receiver types in this build: {types}"
                    )),
                    None => d.with_hint(format!("receiver types in this build: {types}")),
                };
            }
            return Some((name, None));
        }
        [] => {
            diags
                .error(item.loc, format!("receiver `{}` has no sink", name.value))
                .with_path(path)
                .with_hint(format!("add one of {}", quoted(&available(registry))));
            return Some((name, None));
        }
        [one] => *one,
        [_, second, ..] => {
            let used = sink_keys
                .iter()
                .find(|t| sinks.iter().any(|(k, _)| k.name == **t))
                .copied()
                .unwrap_or_default();
            let listed = sinks
                .iter()
                .map(|(k, _)| format!("`{}`", k.name))
                .collect::<Vec<_>>()
                .join(", ");
            diags
                .error(
                    second.0.loc,
                    format!("receiver `{}` has more than one sink: {listed}", name.value),
                )
                .with_path(path)
                .with_hint(format!(
                    "kubernetes-event-exporter silently used only `{used}`; define one receiver per sink"
                ));
            return Some((name, None));
        }
    };
    let sink = parse_sink(key, sink_node, path, diags, registry);
    let delivery = match item.get("delivery") {
        Some(node) if !node.is_null() => {
            DeliveryConfig::from_node(node, &child_path(path, "delivery"), diags)
        }
        _ => Some(DeliveryConfig::default()),
    };
    let namespace_selector = parse_namespace_selector(item, path, diags);
    let hook: Result<Option<crate::hook::HookConfig>, ()> = match item.get("hook") {
        Some(node) if !node.is_null() => {
            crate::hook::decode(node, &child_path(path, "hook"), diags)
                .map(Some)
                .ok_or(())
        }
        _ => Ok(None),
    };
    let receiver = match (sink, delivery, namespace_selector, hook) {
        (Some(sink), Some(delivery), Ok(namespace_selector), Ok(hook)) => Some(ReceiverConfig {
            name: name.value.clone(),
            location: item.loc,
            sink,
            delivery,
            namespace_selector,
            hook,
        }),
        _ => None,
    };
    Some((name, receiver))
}

/// Decodes the sink block with its registered type, or explains why this
/// build cannot run it.
fn parse_sink(
    key: &Key,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
    registry: &[Registration],
) -> Option<SinkConfig> {
    let kind = key.name.as_str();
    match registry.iter().find(|r| r.name() == kind) {
        Some(r) if r.is_available() => r.decode(node, &child_path(path, kind), diags),
        Some(r) => {
            let feature = r.feature().unwrap_or_default();
            diags
                .error(
                    key.loc,
                    format!(
                        "receiver type `{kind}` needs the `{feature}` feature; this build was made without it"
                    ),
                )
                .with_path(path)
                .with_hint(format!(
                    "use a herald build with the `{feature}` feature (default builds have it: `cargo build --features {feature}`); this build runs {}",
                    quoted(&available(registry))
                ));
            None
        }
        None => {
            diags
                .error(
                    key.loc,
                    format!("receiver type `{kind}` is not available in this build yet"),
                )
                .with_path(path)
                .with_hint(format!(
                    "available types: {}",
                    available(registry).join(", ")
                ));
            None
        }
    }
}

/// Decodes and checks `namespaceSelector` and `includeNonNamespaced`; `Err` when
/// either has an error (reported in `diags`).
fn parse_namespace_selector(
    item: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Result<Option<NamespaceSelector>, herald_config::selector::SelectorInvalid> {
    let include: Option<Located<bool>> = match item.get("includeNonNamespaced") {
        Some(node) => {
            let include_path = child_path(path, "includeNonNamespaced");
            let options = DecodeOptions {
                path: &include_path,
                strict_types: &[],
            };
            Some(
                decode_with(node, &options, diags)
                    .ok_or(herald_config::selector::SelectorInvalid)?,
            )
        }
        None => None,
    };
    herald_config::selector::decode(
        item.get("namespaceSelector"),
        &child_path(path, "namespaceSelector"),
        include.as_ref(),
        diags,
    )
}

/// Decodes and checks `name`.
fn parse_name(item: &Node, path: &str, diags: &mut Diagnostics) -> Option<Located<String>> {
    let Some(node) = item.get("name") else {
        diags
            .error(item.loc, "receiver has no name")
            .with_path(path)
            .with_hint("add `name: <name>`; routes refer to receivers by name");
        return None;
    };
    let name_path = child_path(path, "name");
    let options = DecodeOptions {
        path: &name_path,
        strict_types: &[],
    };
    let name: Located<String> = decode_with(node, &options, diags)?;
    if name.value.trim().is_empty() {
        name.error(diags, "receiver name is empty")
            .with_hint("routes refer to receivers by name; give this one a name");
        return None;
    }
    Some(name)
}

/// Warns about keys that are neither `name`, `delivery` nor a sink key.
fn warn_unknown_keys(
    entries: &[(Key, Node)],
    sink_keys: &[&'static str],
    path: &str,
    diags: &mut Diagnostics,
) {
    let known = || RECEIVER_KEYS.iter().chain(sink_keys).copied();
    for (key, _) in entries {
        if known().any(|k| k == key.name) {
            continue;
        }
        let warning = diags
            .warning(key.loc, format!("unknown key `{}` is ignored", key.name))
            .with_path(path);
        if let Some(near) = herald_config::suggest::closest(&key.name, known()) {
            warning.with_hint(format!("did you mean `{near}`?"));
        }
    }
}

/// The types `registry` can run.
fn available(registry: &[Registration]) -> Vec<&'static str> {
    registry
        .iter()
        .filter(|r| r.is_available())
        .map(Registration::name)
        .collect()
}

/// `` `a`, `b`, `c` ``.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests;
