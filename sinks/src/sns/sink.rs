//! The `PublishBatch` request builder and the sink that sends it.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::PublishBatchRequestEntry;

use super::{MAX_BYTES, MAX_ENTRIES, SnsConfig};
use crate::aws::batch::{failed_entry, outcomes_by_id, send_chunked};
use crate::aws::fields::Field;
use crate::aws::{classify, fifo, sdk};
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::util::PayloadEncoder;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsEntry {
    /// `Message`.
    pub message: String,
    /// `MessageGroupId` (FIFO topics).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO topics): the idempotency key.
    pub dedup_id: Option<String>,
}

/// The messages of one request.
#[derive(Debug, Clone)]
pub struct SnsRequest {
    /// In queue order; entry ids are their positions.
    pub entries: Vec<SnsEntry>,
}

/// Turns events into messages.
#[derive(Debug, Clone)]
pub struct SnsBuilder {
    topic_arn: String,
    encoder: PayloadEncoder,
    group_id: Option<Field>,
}

impl SnsBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &SnsConfig) -> SnsBuilder {
        SnsBuilder {
            topic_arn: config.topic_arn.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            group_id: config.group_id.clone(),
        }
    }
}

impl RequestBuilder for SnsBuilder {
    type Item = SnsEntry;
    type Request = SnsRequest;

    fn encode(&self, delivery: &Delivery) -> Result<SnsEntry, EncodeError> {
        let mut body = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut body)?;
        if body.len() > MAX_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the message is {} bytes; SNS takes at most {MAX_BYTES}",
                body.len()
            )));
        }
        let message = String::from_utf8(body)
            .map_err(|_| EncodeError::Invalid("the message is not UTF-8".into()))?;
        let (group_id, dedup_id) = fifo::ids(self.group_id.as_ref(), delivery)?;
        Ok(SnsEntry {
            message,
            group_id,
            dedup_id,
        })
    }

    fn item_size(&self, item: &SnsEntry) -> usize {
        item.message.len()
    }

    fn build_request(&self, items: &[SnsEntry]) -> SnsRequest {
        SnsRequest {
            entries: items.to_vec(),
        }
    }

    fn describe(&self, request: &SnsRequest) -> String {
        let mut out = format!(
            "SNS PublishBatch to {} ({} message(s))\n",
            self.topic_arn,
            request.entries.len()
        );
        for (i, e) in request.entries.iter().enumerate() {
            out.push_str(&format!("[{i}]"));
            if let Some(g) = &e.group_id {
                out.push_str(&format!(" MessageGroupId={g}"));
            }
            if let Some(d) = &e.dedup_id {
                out.push_str(&format!(" MessageDeduplicationId={d}"));
            }
            out.push_str(&format!(" {}\n", e.message));
        }
        out
    }
}

/// Publishes to one topic.
pub struct SnsSink {
    builder: SnsBuilder,
    client: Client,
    topic_arn: String,
}

impl SnsSink {
    /// Creates the sink of receiver `name` with the loaded SDK configuration.
    pub fn new(_name: &str, config: &SnsConfig, sdk: &SdkConfig) -> SnsSink {
        let mut conf = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(endpoint) = sdk::endpoint(&config.aws) {
            conf = conf.endpoint_url(endpoint);
        }
        SnsSink {
            builder: SnsBuilder::new(config),
            client: Client::from_conf(conf.build()),
            topic_arn: config.topic_arn.clone(),
        }
    }

    async fn publish(&self, entries: &[SnsEntry]) -> Result<Vec<ItemOutcome>, SendError> {
        let batch = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(&e.message)
                    .set_message_group_id(e.group_id.clone())
                    .set_message_deduplication_id(e.dedup_id.clone())
                    .build()
                    .map_err(|e| SendError::permanent(format!("SNS PublishBatch: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(batch))
            .send()
            .await
            .map_err(|e| classify("SNS PublishBatch", &e))?;
        let failed = out.failed.unwrap_or_default().into_iter().map(|f| {
            let outcome = failed_entry(&f.code, f.message.as_deref().unwrap_or(""), Some(f.sender_fault));
            (f.id, outcome)
        });
        Ok(outcomes_by_id(entries.len(), failed))
    }
}

#[async_trait]
impl Sink for SnsSink {
    type Builder = SnsBuilder;

    fn kind(&self) -> &'static str {
        "sns"
    }

    fn builder(&self) -> &SnsBuilder {
        &self.builder
    }

    async fn send(&self, request: &SnsRequest) -> Result<SendOutcome, SendError> {
        send_chunked(
            &request.entries,
            |e| e.message.len(),
            MAX_ENTRIES,
            MAX_BYTES,
            |run| self.publish(run),
        )
        .await
    }
}
