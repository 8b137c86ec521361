//! `firehose:` settings: `deliveryStreamName`, `region`, `layout`, `deDot`
//! (as kubernetes-event-exporter had them) and herald's `endpoint` and
//! `newline`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{FirehoseBuilder, FirehoseSink};
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFirehoseConfig {
    #[serde(default)]
    delivery_stream_name: Option<Located<String>>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    de_dot: bool,
    #[serde(default)]
    newline: bool,
}

/// A `firehose:` receiver.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// The delivery stream's name.
    pub delivery_stream_name: String,
    /// Region and endpoint.
    pub aws: AwsSettings,
    /// The record per event; `None` sends the event JSON.
    pub layout: Option<LayoutSpec>,
    /// Replace dots in label and annotation keys first.
    pub de_dot: bool,
    /// End every record with `\n`.
    pub newline: bool,
}

impl FirehoseConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawFirehoseConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let name = match raw
            .delivery_stream_name
            .as_ref()
            .filter(|s| !s.value.trim().is_empty())
        {
            None => {
                diags
                    .error(node.loc, "firehose needs a `deliveryStreamName`")
                    .with_path(path)
                    .with_hint("set `deliveryStreamName:` to the name of the Firehose stream, such as `kube-events`");
                None
            }
            Some(s) if s.value.starts_with("arn:") || s.value.contains('/') => {
                let last = s.value.rsplit('/').next().unwrap_or_default();
                s.error(diags, "`deliveryStreamName` takes the name of the stream, not its ARN")
                    .with_hint(format!("write just the name, such as `deliveryStreamName: {last}`"));
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
        if diags.error_count() > before {
            return None;
        }
        Some(FirehoseConfig {
            delivery_stream_name: name?,
            aws: aws?,
            layout,
            de_dot: raw.de_dot,
            newline: raw.newline,
        })
    }
}

#[async_trait]
impl SinkType for FirehoseConfig {
    const NAME: &'static str = "firehose";
    /// One `PutRecordBatch` per batch: Firehose takes 500 records and 4 MiB,
    /// waiting up to a second for more.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: super::MAX_RECORDS,
        max_bytes: super::MAX_BYTES,
        linger: std::time::Duration::from_secs(1),
    };
    type Sink = FirehoseSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        FirehoseConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> FirehoseBuilder {
        FirehoseBuilder::new(self)
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<FirehoseSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        Ok(FirehoseSink::new(self, &sdk))
    }
}
