//! `kinesis:` settings: `streamName`, `region`, `layout` (as
//! kubernetes-event-exporter had them) and herald's `endpoint` and
//! `partitionKey`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{KinesisBuilder, KinesisSink};
use crate::aws::fields::Field;
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKinesisConfig {
    #[serde(default)]
    stream_name: Option<Located<String>>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    partition_key: Option<Located<String>>,
}

/// A `kinesis:` receiver.
#[derive(Debug, Clone)]
pub struct KinesisConfig {
    /// The stream's name.
    pub stream_name: String,
    /// Region and endpoint.
    pub aws: AwsSettings,
    /// The record data per event; `None` sends the event JSON.
    pub layout: Option<LayoutSpec>,
    /// The partition key template; `None` uses the Event's uid.
    pub partition_key: Option<Field>,
}

impl KinesisConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawKinesisConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let stream_name = match raw.stream_name.as_ref().filter(|s| !s.value.trim().is_empty()) {
            None => {
                diags
                    .error(node.loc, "kinesis needs a `streamName`")
                    .with_path(path)
                    .with_hint("set `streamName:` to the name of the data stream, such as `kube-events`");
                None
            }
            Some(s) if s.value.starts_with("arn:") || s.value.contains('/') => {
                let last = s.value.rsplit('/').next().unwrap_or_default();
                s.error(diags, "`streamName` takes the name of the stream, not its ARN")
                    .with_hint(format!("write just the name, such as `streamName: {last}`"));
                None
            }
            Some(s) => Some(s.value.trim().to_owned()),
        };
        let aws = AwsSettings::decode(raw.region.as_ref(), raw.endpoint.as_ref(), diags);
        let layout = raw
            .layout
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let partition_key = raw
            .partition_key
            .as_ref()
            .filter(|k| !k.value.is_empty())
            .and_then(|k| Field::parse("partitionKey", k, diags));
        if diags.error_count() > before {
            return None;
        }
        Some(KinesisConfig {
            stream_name: stream_name?,
            aws: aws?,
            layout,
            partition_key,
        })
    }
}

#[async_trait]
impl SinkType for KinesisConfig {
    const NAME: &'static str = "kinesis";
    /// One `PutRecords` per batch: Kinesis takes 500 records and 5 MiB,
    /// waiting up to a second for more.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: super::MAX_RECORDS,
        max_bytes: super::MAX_BYTES,
        linger: std::time::Duration::from_secs(1),
    };
    type Sink = KinesisSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        KinesisConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> KinesisBuilder {
        KinesisBuilder::new(self)
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<KinesisSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        Ok(KinesisSink::new(self, &sdk))
    }
}
