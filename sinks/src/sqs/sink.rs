//! The `SendMessageBatch` request builder and the sink that sends it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tokio::sync::OnceCell;

use super::{MAX_BYTES, MAX_ENTRIES, SqsConfig};
use crate::aws::batch::{failed_entry, outcomes_by_id, send_chunked};
use crate::aws::fields::Field;
use crate::aws::fifo;
use crate::aws::{classify, sdk};
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::util::PayloadEncoder;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEntry {
    /// `MessageBody`.
    pub body: String,
    /// `MessageGroupId` (FIFO queues).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO queues): the idempotency key.
    pub dedup_id: Option<String>,
}

/// The messages of one request.
#[derive(Debug, Clone)]
pub struct SqsRequest {
    /// In queue order; entry ids are their positions.
    pub entries: Vec<SqsEntry>,
}

/// Turns events into messages.
#[derive(Debug, Clone)]
pub struct SqsBuilder {
    queue_name: String,
    encoder: PayloadEncoder,
    group_id: Option<Field>,
}

impl SqsBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &SqsConfig) -> SqsBuilder {
        SqsBuilder {
            queue_name: config.queue_name.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            group_id: config.group_id.clone(),
        }
    }
}

impl RequestBuilder for SqsBuilder {
    type Item = SqsEntry;
    type Request = SqsRequest;

    fn encode(&self, delivery: &Delivery) -> Result<SqsEntry, EncodeError> {
        let mut body = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut body)?;
        if body.len() > MAX_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the message is {} bytes; SQS takes at most {MAX_BYTES}",
                body.len()
            )));
        }
        let body = String::from_utf8(body)
            .map_err(|_| EncodeError::Invalid("the message is not UTF-8".into()))?;
        let (group_id, dedup_id) = fifo::ids(self.group_id.as_ref(), delivery)?;
        Ok(SqsEntry {
            body,
            group_id,
            dedup_id,
        })
    }

    fn item_size(&self, item: &SqsEntry) -> usize {
        item.body.len()
    }

    fn build_request(&self, items: &[SqsEntry]) -> SqsRequest {
        SqsRequest {
            entries: items.to_vec(),
        }
    }

    fn describe(&self, request: &SqsRequest) -> String {
        let mut out = format!(
            "SQS SendMessageBatch to queue {} ({} message(s))\n",
            self.queue_name,
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
            out.push_str(&format!(" {}\n", e.body));
        }
        out
    }
}

/// Sends messages to one queue.
pub struct SqsSink {
    builder: SqsBuilder,
    client: Client,
    queue_name: String,
    queue_url: OnceCell<String>,
    name: Arc<str>,
}

impl SqsSink {
    /// Creates the sink of receiver `name` with the loaded SDK configuration.
    pub fn new(name: &str, config: &SqsConfig, sdk: &SdkConfig) -> SqsSink {
        let mut conf = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(endpoint) = sdk::endpoint(&config.aws) {
            conf = conf.endpoint_url(endpoint);
        }
        SqsSink {
            builder: SqsBuilder::new(config),
            client: Client::from_conf(conf.build()),
            queue_name: config.queue_name.clone(),
            queue_url: OnceCell::new(),
            name: name.into(),
        }
    }

    /// The queue's URL, looked up once it exists.
    async fn queue_url(&self) -> Result<&str, SendError> {
        let url = self
            .queue_url
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_queue_url()
                    .queue_name(&self.queue_name)
                    .send()
                    .await
                    .map_err(|e| classify("SQS GetQueueUrl", &e))?;
                let url = out.queue_url.ok_or_else(|| {
                    SendError::retriable("SQS GetQueueUrl answered without a queue URL")
                })?;
                tracing::info!(receiver = %self.name, queue = %self.queue_name, "SQS queue found");
                Ok::<_, SendError>(url)
            })
            .await?;
        Ok(url)
    }

    async fn send_entries(&self, url: &str, entries: &[SqsEntry]) -> Result<Vec<ItemOutcome>, SendError> {
        let batch = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&e.body)
                    .set_message_group_id(e.group_id.clone())
                    .set_message_deduplication_id(e.dedup_id.clone())
                    .build()
                    .map_err(|e| SendError::permanent(format!("SQS SendMessageBatch: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(batch))
            .send()
            .await
            .map_err(|e| classify("SQS SendMessageBatch", &e))?;
        let failed = out.failed.into_iter().map(|f| {
            let outcome = failed_entry(&f.code, f.message.as_deref().unwrap_or(""), Some(f.sender_fault));
            (f.id, outcome)
        });
        Ok(outcomes_by_id(entries.len(), failed))
    }
}

#[async_trait]
impl Sink for SqsSink {
    type Builder = SqsBuilder;

    fn kind(&self) -> &'static str {
        "sqs"
    }

    fn builder(&self) -> &SqsBuilder {
        &self.builder
    }

    async fn send(&self, request: &SqsRequest) -> Result<SendOutcome, SendError> {
        let url = self.queue_url().await?;
        send_chunked(
            &request.entries,
            |e| e.body.len(),
            MAX_ENTRIES,
            MAX_BYTES,
            |run| self.send_entries(url, run),
        )
        .await
    }
}
