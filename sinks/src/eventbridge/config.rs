//! `eventbridge:` settings: `detailType`, `details`, `source`,
//! `eventBusName`, `region` (as kubernetes-event-exporter had them) and
//! herald's `endpoint`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{EventBridgeBuilder, EventBridgeSink};
use crate::aws::fields::Field;
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEventBridgeConfig {
    #[serde(default)]
    detail_type: Option<Located<String>>,
    #[serde(default)]
    details: Option<Node>,
    #[serde(default)]
    source: Option<Located<String>>,
    #[serde(default)]
    event_bus_name: Option<Located<String>>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
}

/// An `eventbridge:` receiver.
#[derive(Debug, Clone)]
pub struct EventBridgeConfig {
    /// `DetailType`.
    pub detail_type: Field,
    /// `Detail`; `None` sends the event JSON.
    pub details: Option<LayoutSpec>,
    /// `Source`.
    pub source: Field,
    /// `EventBusName` (a name or an ARN); `None` is the default bus.
    pub event_bus_name: Option<String>,
    /// Region and endpoint.
    pub aws: AwsSettings,
}

fn required(
    raw: Option<&Located<String>>,
    key: &'static str,
    example: &str,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Field> {
    match raw.filter(|v| !v.value.trim().is_empty()) {
        Some(v) => Field::parse(key, v, diags),
        None => {
            diags
                .error(node.loc, format!("eventbridge needs `{key}`"))
                .with_path(path)
                .with_hint(format!(
                    "EventBridge refuses entries without it; set `{key}:`, such as `{key}: {example}`"
                ));
            None
        }
    }
}

impl EventBridgeConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawEventBridgeConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let detail_type = required(raw.detail_type.as_ref(), "detailType", "kubernetes-event", node, path, diags);
        let source = required(raw.source.as_ref(), "source", "kubernetes.events", node, path, diags);
        let details = raw
            .details
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "details"), diags));
        let event_bus_name = raw
            .event_bus_name
            .as_ref()
            .map(|b| b.value.trim().to_owned())
            .filter(|b| !b.is_empty());
        let aws = AwsSettings::decode(raw.region.as_ref(), raw.endpoint.as_ref(), diags);
        if diags.error_count() > before {
            return None;
        }
        Some(EventBridgeConfig {
            detail_type: detail_type?,
            details,
            source: source?,
            event_bus_name,
            aws: aws?,
        })
    }
}

#[async_trait]
impl SinkType for EventBridgeConfig {
    const NAME: &'static str = "eventbridge";
    /// One `PutEvents` per batch: EventBridge takes 10 entries and 256 KiB.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: super::MAX_ENTRIES,
        max_bytes: super::MAX_BYTES,
        linger: std::time::Duration::from_millis(200),
    };
    type Sink = EventBridgeSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        EventBridgeConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> EventBridgeBuilder {
        EventBridgeBuilder::new(self)
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<EventBridgeSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        Ok(EventBridgeSink::new(self, &sdk))
    }
}
