//! `sns:` settings: `topicARN`, `region`, `layout` (as kubernetes-event-exporter
//! had them) and herald's `endpoint` and `messageGroupId`.

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{SnsBuilder, SnsSink};
use crate::aws::fields::Field;
use crate::aws::fifo::decode_group_id;
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

#[derive(Deserialize)]
struct RawSnsConfig {
    #[serde(default, rename = "topicARN")]
    topic_arn: Option<Located<String>>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default, rename = "messageGroupId")]
    message_group_id: Option<Located<String>>,
}

/// An `sns:` receiver.
#[derive(Debug, Clone)]
pub struct SnsConfig {
    /// The topic's ARN.
    pub topic_arn: String,
    /// Region (from the ARN when not set) and endpoint.
    pub aws: AwsSettings,
    /// The message per event; `None` sends the event JSON.
    pub layout: Option<LayoutSpec>,
    /// `MessageGroupId` for a FIFO topic; `None` for a standard topic.
    pub group_id: Option<Field>,
}

impl SnsConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawSnsConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let arn = check_topic_arn(raw.topic_arn.as_ref(), node, path, diags);
        let mut aws = AwsSettings::decode(raw.region.as_ref(), raw.endpoint.as_ref(), diags);
        if let (Some(aws), Some((arn_region, _))) = (aws.as_mut(), arn.as_ref()) {
            match (&aws.region, raw.region.as_ref()) {
                (None, _) => aws.region = Some(arn_region.clone()),
                (Some(r), Some(written)) if r != arn_region => {
                    written
                        .warning(
                            diags,
                            format!("the topic is in `{arn_region}` but `region` is `{r}`: SNS answers only in the topic's region"),
                        )
                        .with_hint(format!("set `region: {arn_region}`, or leave `region` out to use the topic's"));
                }
                _ => {}
            }
        }
        let layout = raw
            .layout
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let fifo = arn.as_ref().is_some_and(|(_, a)| a.ends_with(".fifo"));
        let group_id = decode_group_id(raw.message_group_id.as_ref(), fifo, "topic", diags);
        if diags.error_count() > before {
            return None;
        }
        Some(SnsConfig {
            topic_arn: arn?.1,
            aws: aws?,
            layout,
            group_id,
        })
    }
}

/// Checks `topicARN` (`arn:aws:sns:us-east-1:123456789012:events`); returns
/// the region written in it and the ARN.
fn check_topic_arn(
    arn: Option<&Located<String>>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<(String, String)> {
    let Some(arn) = arn.filter(|a| !a.value.trim().is_empty()) else {
        diags
            .error(node.loc, "sns needs a `topicARN`")
            .with_path(path)
            .with_hint("set `topicARN:` to the topic's ARN, such as arn:aws:sns:us-east-1:123456789012:kube-events");
        return None;
    };
    let text = arn.value.trim();
    let parts: Vec<&str> = text.split(':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && !parts[5].is_empty();
    if !valid {
        arn.error(diags, format!("`{text}` is not an SNS topic ARN"))
            .with_hint("a topic ARN reads arn:aws:sns:<region>:<account>:<topic name>");
        return None;
    }
    Some((parts[3].to_owned(), text.to_owned()))
}

#[async_trait]
impl SinkType for SnsConfig {
    const NAME: &'static str = "sns";
    /// One `PublishBatch` per batch: SNS takes 10 messages and 256 KiB.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: super::MAX_ENTRIES,
        max_bytes: super::MAX_BYTES,
        linger: std::time::Duration::from_millis(200),
    };
    type Sink = SnsSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SnsConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> SnsBuilder {
        SnsBuilder::new(self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SnsSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        Ok(SnsSink::new(cx.name, self, &sdk))
    }
}
