//! `sqs:` settings: `queueName`, `region`, `layout` (as kubernetes-event-exporter
//! had them) and herald's `endpoint` and `messageGroupId`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{SqsBuilder, SqsSink};
use crate::aws::fields::Field;
use crate::aws::fifo::decode_group_id;
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSqsConfig {
    #[serde(default)]
    queue_name: Option<Located<String>>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    message_group_id: Option<Located<String>>,
}

/// An `sqs:` receiver.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// The queue's name (`events`, `events.fifo`).
    pub queue_name: String,
    /// Region and endpoint.
    pub aws: AwsSettings,
    /// The message body per event; `None` sends the event JSON.
    pub layout: Option<LayoutSpec>,
    /// `MessageGroupId` for a FIFO queue; `None` for a standard queue.
    pub group_id: Option<Field>,
}

impl SqsConfig {
    /// Whether the queue is a FIFO queue (its name ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.queue_name.ends_with(".fifo")
    }

    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawSqsConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let queue_name = check_queue_name(raw.queue_name.as_ref(), node, path, diags);
        let aws = AwsSettings::decode(raw.region.as_ref(), raw.endpoint.as_ref(), diags);
        let layout = raw
            .layout
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let fifo = queue_name.as_deref().is_some_and(|q| q.ends_with(".fifo"));
        let group_id = decode_group_id(raw.message_group_id.as_ref(), fifo, "queue", diags);
        if diags.error_count() > before {
            return None;
        }
        Some(SqsConfig {
            queue_name: queue_name?,
            aws: aws?,
            layout,
            group_id,
        })
    }
}

/// Checks `queueName`: present, and a name rather than a queue URL or ARN.
fn check_queue_name(
    name: Option<&Located<String>>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    let Some(name) = name.filter(|n| !n.value.trim().is_empty()) else {
        diags
            .error(node.loc, "sqs needs a `queueName`")
            .with_path(path)
            .with_hint("set `queueName:` to the name of the queue, such as `kube-events`");
        return None;
    };
    let text = name.value.trim();
    if text.contains("://") || text.starts_with("arn:") {
        let last = text.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(text);
        name.error(diags, "`queueName` takes the name of the queue, not its URL or ARN")
            .with_hint(format!(
                "write just the name, such as `queueName: {last}`; the URL is looked up with GetQueueUrl"
            ));
        return None;
    }
    let base = text.strip_suffix(".fifo").unwrap_or(text);
    let valid = !base.is_empty()
        && text.len() <= 80
        && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        // kubernetes-event-exporter's own README shows `queueName: "/tmp/dump"`:
        // such a config still loads, and the receiver stays unready.
        name.warning(diags, format!("`{text}` is not a valid SQS queue name: GetQueueUrl will fail and the receiver will stay unready"))
            .with_hint("queue names have 1 to 80 letters, digits, `-` and `_`, and FIFO queues end in `.fifo`");
    }
    Some(text.to_owned())
}

#[async_trait]
impl SinkType for SqsConfig {
    const NAME: &'static str = "sqs";
    /// One `SendMessageBatch` per batch: SQS takes 10 messages and 256 KiB.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: super::MAX_ENTRIES,
        max_bytes: super::MAX_BYTES,
        linger: std::time::Duration::from_millis(200),
    };
    type Sink = SqsSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SqsConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> SqsBuilder {
        SqsBuilder::new(self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SqsSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        Ok(SqsSink::new(cx.name, self, &sdk))
    }
}
