//! `pubsub:` settings: kubernetes-event-exporter's `gcloud_project_id`,
//! `topic` and `create_topic`, and herald's `layout`, `attributes`,
//! `ordering_key` and `endpoint`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use herald_template::Template;
use serde::Deserialize;

use super::attributes::{AttributeTemplate, parse_attributes};
use super::{PubsubBuilder, PubsubError, PubsubSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

/// The most messages one Pub/Sub `Publish` call may carry.
pub const MAX_MESSAGES_PER_PUBLISH: usize = 1000;

#[derive(Deserialize)]
struct RawPubsubConfig {
    #[serde(default)]
    gcloud_project_id: Located<String>,
    #[serde(default)]
    topic: Located<String>,
    #[serde(default)]
    create_topic: bool,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    attributes: Option<Node>,
    #[serde(default)]
    ordering_key: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
}

/// A `pubsub:` receiver.
#[derive(Debug, Clone)]
pub struct PubsubConfig {
    /// The Google Cloud project of the topic.
    pub project: String,
    /// The topic id (the last part of `projects/P/topics/T`).
    pub topic: String,
    /// Create the topic at startup (an existing topic is fine).
    pub create_topic: bool,
    /// The message data per event; `None` sends the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// Message attributes with templated values (the idempotency key is
    /// always added).
    pub attributes: Vec<AttributeTemplate>,
    /// The ordering key per event, if messages are ordered.
    pub ordering_key: Option<Template>,
    /// Where the Pub/Sub API is (`https://pubsub.googleapis.com` when unset;
    /// `PUBSUB_EMULATOR_HOST` wins over both).
    pub endpoint: Option<String>,
}

impl PubsubConfig {
    /// Returns the topic's full name, `projects/P/topics/T`.
    pub fn topic_name(&self) -> String {
        format!("projects/{}/topics/{}", self.project, self.topic)
    }

    /// Decodes and checks a `pubsub:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawPubsubConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let project = check_project(&raw.gcloud_project_id, node, path, diags);
        let topic = check_topic(&raw.topic, node, path, diags);
        let layout = raw
            .layout
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let attributes = raw
            .attributes
            .as_ref()
            .filter(|a| !a.is_null())
            .map(|a| parse_attributes(a, &child_path(path, "attributes"), diags))
            .unwrap_or_default();
        let ordering_key = raw
            .ordering_key
            .as_ref()
            .filter(|k| !k.value.trim().is_empty())
            .and_then(|k| match Template::parse(&k.path, &k.value) {
                Ok(t) => Some(t),
                Err(e) => {
                    k.error(
                        diags,
                        format!(
                            "invalid ordering_key template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_hint("write a Go template such as `{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}`");
                    None
                }
            });
        let endpoint = raw
            .endpoint
            .as_ref()
            .filter(|e| !e.value.trim().is_empty())
            .and_then(|e| check_endpoint(e, diags));
        if diags.error_count() > before {
            return None;
        }
        Some(PubsubConfig {
            project: project?,
            topic: topic?,
            create_topic: raw.create_topic,
            layout,
            attributes,
            ordering_key,
            endpoint,
        })
    }
}

/// Records that a required value is missing: at the key when it is written
/// empty, else at the block.
pub(crate) fn missing<'d>(
    value: &Located<String>,
    node: &Node,
    key: &str,
    path: &str,
    diags: &'d mut Diagnostics,
    message: &str,
) -> &'d mut herald_config::Diagnostic {
    match node.entry(key) {
        Some((k, _)) => diags.error(k.loc, message).with_path(if value.path.is_empty() {
            child_path(path, key)
        } else {
            value.path.clone()
        }),
        None => diags.error(node.loc, message).with_path(path),
    }
}

/// Checks `gcloud_project_id`: required, and one path segment.
fn check_project(
    project: &Located<String>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    let text = project.value.trim();
    if text.is_empty() {
        missing(project, node, "gcloud_project_id", path, diags, "pubsub needs `gcloud_project_id`")
            .with_hint("set `gcloud_project_id:` to the Google Cloud project that owns the topic");
        return None;
    }
    let valid = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'));
    if !valid {
        project
            .error(diags, "`gcloud_project_id` is not a project id")
            .with_hint("a project id is lowercase letters, digits and hyphens, such as `my-project-123`");
        return None;
    }
    Some(text.to_owned())
}

/// Checks `topic` against Pub/Sub's rules for resource names: 3 to 255
/// characters, starting with a letter, made of letters, digits and
/// `-_.~+%`, and not starting with `goog`.
fn check_topic(
    topic: &Located<String>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    let text = topic.value.trim();
    if text.is_empty() {
        missing(topic, node, "topic", path, diags, "pubsub needs a `topic`")
            .with_hint("set `topic:` to the topic id, such as `kube-events`");
        return None;
    }
    if text.starts_with("projects/") {
        topic
            .error(diags, "`topic` is the topic id, not its full name")
            .with_hint("write only the last part (`kube-events` for projects/P/topics/kube-events); the project is `gcloud_project_id`");
        return None;
    }
    let problem = if !(3..=255).contains(&text.len()) {
        Some("a topic id is 3 to 255 characters long")
    } else if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("a topic id starts with a letter")
    } else if text.to_ascii_lowercase().starts_with("goog") {
        Some("topic ids starting with `goog` are reserved by Google")
    } else if !text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '%'))
    {
        Some("a topic id may only contain letters, digits and `-_.~+%`")
    } else {
        None
    };
    if let Some(problem) = problem {
        topic
            .error(diags, "invalid Pub/Sub topic id")
            .with_hint(format!("{problem}, such as `kube-events`"));
        return None;
    }
    Some(text.to_owned())
}

/// Checks `endpoint`: an http:// or https:// URL.
fn check_endpoint(endpoint: &Located<String>, diags: &mut Diagnostics) -> Option<String> {
    let text = endpoint.value.trim();
    match reqwest::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Some(text.trim_end_matches('/').to_owned())
        }
        _ => {
            endpoint
                .error(diags, "`endpoint` is not an http:// or https:// URL")
                .with_hint("leave it out to use https://pubsub.googleapis.com, or write a full URL such as https://pubsub.googleapis.com");
            None
        }
    }
}

#[async_trait]
impl SinkType for PubsubConfig {
    const NAME: &'static str = "pubsub";
    /// One `Publish` call per batch: up to 100 events or 1 MiB, waiting up to
    /// 50 ms for more (Pub/Sub takes 1000 messages and 10 MB per call).
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 100,
        max_bytes: 1024 * 1024,
        linger: std::time::Duration::from_millis(50),
    };
    type Sink = PubsubSink;
    type BuildError = PubsubError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        PubsubConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> PubsubBuilder {
        PubsubBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<PubsubSink, PubsubError> {
        let emulator = std::env::var("PUBSUB_EMULATOR_HOST").ok();
        PubsubSink::connect(cx.name, self, emulator.as_deref(), cx.settings).await
    }
}
