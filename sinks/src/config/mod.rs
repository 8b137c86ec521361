//! Receiver configuration: the `receivers:` list, decoded with herald-config's
//! located machinery.
//!
//! A receiver is `- name: <string>` plus exactly one sink key (KEE's types)
//! plus herald's optional [`delivery:`](DeliveryConfig) block. Unlike KEE,
//! which silently used one of several sink keys and hung on shutdown with
//! duplicate names, both are errors here; every error carries the file
//! location and a hint.

mod delivery;
mod tls;
mod units;

use std::collections::HashMap;

use herald_config::{
    DecodeOptions, Diagnostics, Located, Location, Node, child_path, decode_with, index_path,
};
use serde::Deserialize;

pub use delivery::{BatchConfig, DeliveryConfig, OnFullConfig, RetryConfig};
pub use tls::TlsConfig;
pub use units::{ByteSize, GoDuration};

use crate::file::FileConfig;
use crate::in_memory::InMemoryConfig;
use crate::pipe::PipeConfig;
use crate::stdout::StdoutConfig;
use crate::webhook::WebhookConfig;

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

/// The sink types this build implements.
pub const AVAILABLE_SINK_TYPES: [&str; 5] = ["stdout", "file", "pipe", "webhook", "inMemory"];

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
}

/// The sink of a receiver.
#[derive(Debug, Clone)]
pub enum SinkConfig {
    /// `stdout`.
    Stdout(StdoutConfig),
    /// `file`.
    File(FileConfig),
    /// `pipe`.
    Pipe(PipeConfig),
    /// `webhook`.
    Webhook(Box<WebhookConfig>),
    /// `inMemory`.
    InMemory(InMemoryConfig),
}

impl SinkConfig {
    /// Returns the config key of the sink type (`webhook`).
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Stdout(_) => "stdout",
            SinkConfig::File(_) => "file",
            SinkConfig::Pipe(_) => "pipe",
            SinkConfig::Webhook(_) => "webhook",
            SinkConfig::InMemory(_) => "inMemory",
        }
    }
}

/// The keys of a receiver entry, for unknown-key warnings and the name.
/// Sink values are inspected from the node itself.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawReceiver {
    #[serde(default)]
    name: Option<Located<String>>,
    #[serde(default)]
    delivery: Option<Node>,
    #[serde(default)]
    in_memory: Option<Node>,
    #[serde(default)]
    pipe: Option<Node>,
    #[serde(default)]
    webhook: Option<Node>,
    #[serde(default)]
    file: Option<Node>,
    #[serde(default)]
    syslog: Option<Node>,
    #[serde(default)]
    stdout: Option<Node>,
    #[serde(default)]
    elasticsearch: Option<Node>,
    #[serde(default)]
    kinesis: Option<Node>,
    #[serde(default)]
    firehose: Option<Node>,
    #[serde(default)]
    opensearch: Option<Node>,
    #[serde(default)]
    opsgenie: Option<Node>,
    #[serde(default)]
    sqs: Option<Node>,
    #[serde(default)]
    sns: Option<Node>,
    #[serde(default)]
    slack: Option<Node>,
    #[serde(default)]
    kafka: Option<Node>,
    #[serde(default)]
    pubsub: Option<Node>,
    #[serde(default)]
    opscenter: Option<Node>,
    #[serde(default)]
    teams: Option<Node>,
    #[serde(default)]
    bigquery: Option<Node>,
    #[serde(default)]
    eventbridge: Option<Node>,
    #[serde(default)]
    loki: Option<Node>,
}

/// Decodes the `receivers:` list, recording every problem in `diags`.
///
/// Returns the receivers that are valid; the caller stops startup when
/// `diags` has errors. Checked here: a name on every receiver, unique names,
/// exactly one sink key, a sink type this build implements, sink settings
/// (templates parse, TLS files are readable, …) and the `delivery:` block.
/// Unknown keys are warnings.
pub fn parse_receivers(node: &Node, diags: &mut Diagnostics) -> Vec<ReceiverConfig> {
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
        let Some((name, receiver)) = parse_receiver(item, &path, diags) else {
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
    let options = DecodeOptions {
        path,
        strict_types: &[],
    };
    // Without a known sink key, every other key is taken for a misspelled or unknown
    // receiver type and reported as such, not as an ignored key.
    let unknown_types: Vec<&herald_config::Key> = if entries
        .iter()
        .any(|(k, _)| KEE_SINK_TYPES.contains(&k.name.as_str()))
    {
        Vec::new()
    } else {
        entries
            .iter()
            .map(|(k, _)| k)
            .filter(|k| k.name != "name" && k.name != "delivery")
            .collect()
    };
    let mut decoded = Diagnostics::new();
    let raw: Option<RawReceiver> = decode_with(item, &options, &mut decoded);
    diags.extend(
        decoded
            .into_iter()
            .filter(|d| d.is_error() || !unknown_types.iter().any(|k| d.location == Some(k.loc))),
    );
    let raw = raw?;
    let name = match raw.name {
        Some(n) if !n.value.trim().is_empty() => n,
        Some(n) => {
            n.error(diags, "receiver name is empty")
                .with_hint("routes refer to receivers by name; give this one a name");
            return None;
        }
        None => {
            diags
                .error(item.loc, "receiver has no name")
                .with_path(path)
                .with_hint("add `name: <name>`; routes refer to receivers by name");
            return None;
        }
    };
    let sinks: Vec<(&herald_config::Key, &Node)> = entries
        .iter()
        .filter(|(k, _)| KEE_SINK_TYPES.contains(&k.name.as_str()))
        .map(|(k, v)| (k, v))
        .collect();
    let (key, sink_node) = match sinks.as_slice() {
        [] if !unknown_types.is_empty() => {
            for key in unknown_types {
                let d = diags
                    .error(key.loc, format!("unknown receiver type `{}`", key.name))
                    .with_path(child_path(path, &key.name));
                let types = AVAILABLE_SINK_TYPES.join(", ");
                match herald_config::suggest::closest(&key.name, KEE_SINK_TYPES.iter().copied()) {
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
                .with_hint(format!(
                    "add one of {}",
                    AVAILABLE_SINK_TYPES
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            return Some((name, None));
        }
        [one] => *one,
        [_, second, ..] => {
            let used = KEE_SINK_TYPES
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
    let sink_path = child_path(path, &key.name);
    let sink = match key.name.as_str() {
        "stdout" => StdoutConfig::from_node(sink_node, &sink_path, diags).map(SinkConfig::Stdout),
        "file" => FileConfig::from_node(sink_node, &sink_path, diags).map(SinkConfig::File),
        "pipe" => PipeConfig::from_node(sink_node, &sink_path, diags).map(SinkConfig::Pipe),
        "webhook" => WebhookConfig::from_node(sink_node, &sink_path, diags)
            .map(|c| SinkConfig::Webhook(Box::new(c))),
        "inMemory" => {
            InMemoryConfig::from_node(sink_node, &sink_path, diags).map(SinkConfig::InMemory)
        }
        other => {
            diags
                .error(
                    key.loc,
                    format!("receiver type `{other}` is not available in this build yet"),
                )
                .with_path(path)
                .with_hint(format!(
                    "available types: {}",
                    AVAILABLE_SINK_TYPES.join(", ")
                ));
            None
        }
    };
    let delivery = match &raw.delivery {
        Some(node) if !node.is_null() => {
            DeliveryConfig::from_node(node, &child_path(path, "delivery"), diags)
        }
        _ => Some(DeliveryConfig::default()),
    };
    let receiver = match (sink, delivery) {
        (Some(sink), Some(delivery)) => Some(ReceiverConfig {
            name: name.value.clone(),
            location: item.loc,
            sink,
            delivery,
        }),
        _ => None,
    };
    Some((name, receiver))
}

#[cfg(test)]
pub(crate) mod tests;
