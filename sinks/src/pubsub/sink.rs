//! The publish request builder and the sink that hands its messages to
//! Google's Pub/Sub publisher, reading the answer message by message.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_pubsub::client::{Publisher, TopicAdmin};
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::model::Message;
use herald_template::{Template, Value};
use tracing::info;

use super::attributes::{AttributeTemplate, render_attributes};
use super::config::MAX_MESSAGES_PER_PUBLISH;
use super::{PubsubConfig, PubsubError};
use crate::driver::{
    Delivery, DeliverySettings, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome,
    Sink,
};
use crate::util::PayloadEncoder;

/// Pub/Sub's limit on an ordering key, in bytes.
const MAX_ORDERING_KEY_BYTES: usize = 1024;
/// The publisher's byte threshold: below Pub/Sub's 10 MB per `Publish` call.
const PUBLISH_BYTES: u32 = 9 * 1024 * 1024;

/// One encoded event: a Pub/Sub message.
#[derive(Debug, Clone)]
pub struct PubsubItem {
    /// The message data: the rendered layout or the event JSON.
    pub data: Bytes,
    /// The message attributes, the idempotency key included.
    pub attributes: BTreeMap<String, String>,
    /// The ordering key; empty when messages are not ordered.
    pub ordering_key: String,
}

impl PubsubItem {
    fn message(&self) -> Message {
        let message = Message::new()
            .set_data(self.data.clone())
            .set_attributes(self.attributes.clone());
        if self.ordering_key.is_empty() {
            message
        } else {
            message.set_ordering_key(self.ordering_key.clone())
        }
    }
}

/// The messages of one batch, published together.
#[derive(Debug, Clone)]
pub struct PubsubRequest {
    /// `projects/P/topics/T`.
    pub topic: Arc<str>,
    /// The messages, in queue order.
    pub messages: Vec<PubsubItem>,
}

/// Turns events into Pub/Sub messages.
#[derive(Debug, Clone)]
pub struct PubsubBuilder {
    topic: Arc<str>,
    encoder: PayloadEncoder,
    attributes: Vec<AttributeTemplate>,
    ordering_key: Option<Template>,
    /// Whether an attribute or the ordering key reads the event.
    templated: bool,
}

impl PubsubBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(_name: &str, config: &PubsubConfig) -> PubsubBuilder {
        let templated = config.attributes.iter().any(|a| !a.value.is_static())
            || config.ordering_key.as_ref().is_some_and(|k| !k.is_static());
        PubsubBuilder {
            topic: Arc::from(config.topic_name()),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            attributes: config.attributes.clone(),
            ordering_key: config.ordering_key.clone(),
            templated,
        }
    }
}

impl RequestBuilder for PubsubBuilder {
    type Item = PubsubItem;
    type Request = PubsubRequest;

    fn encode(&self, delivery: &Delivery) -> Result<PubsubItem, EncodeError> {
        let mut data = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut data)?;
        let null = Value::Nil;
        let value = if self.templated {
            delivery.value()
        } else {
            &null
        };
        let attributes = render_attributes(
            &self.attributes,
            value,
            delivery.event.idempotency_key(),
        )?;
        let ordering_key = match &self.ordering_key {
            Some(t) => t
                .render(value)
                .map_err(|e| EncodeError::Template(format!("ordering_key: {e}")))?,
            None => String::new(),
        };
        if ordering_key.len() > MAX_ORDERING_KEY_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the ordering key is {} bytes long; Pub/Sub allows {MAX_ORDERING_KEY_BYTES}",
                ordering_key.len()
            )));
        }
        Ok(PubsubItem {
            data: Bytes::from(data),
            attributes,
            ordering_key,
        })
    }

    fn item_size(&self, item: &PubsubItem) -> usize {
        item.data.len()
            + item.ordering_key.len()
            + item
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    fn build_request(&self, items: &[PubsubItem]) -> PubsubRequest {
        PubsubRequest {
            topic: self.topic.clone(),
            messages: items.to_vec(),
        }
    }

    fn describe(&self, request: &PubsubRequest) -> String {
        let mut out = format!(
            "PUBLISH {} ({} message(s))\n",
            request.topic,
            request.messages.len()
        );
        for (i, m) in request.messages.iter().enumerate() {
            let attributes = serde_json::to_string(&m.attributes).unwrap_or_default();
            let _ = write!(out, "message {}: attributes {attributes}", i + 1);
            if !m.ordering_key.is_empty() {
                let _ = write!(out, " ordering_key {:?}", m.ordering_key);
            }
            let _ = writeln!(out, "\n{}", String::from_utf8_lossy(&m.data));
        }
        out
    }
}

/// Where the client connects and how it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The Pub/Sub emulator named by `PUBSUB_EMULATOR_HOST`: plain HTTP/2, no
    /// credentials (as Google's SDKs do when the variable is set).
    Emulator(String),
    /// Google's service (or `endpoint`), with Application Default
    /// Credentials (a key file, workload identity, the metadata server).
    Google(Option<String>),
}

impl Target {
    /// Chooses the target: a non-empty `PUBSUB_EMULATOR_HOST` wins.
    pub(crate) fn choose(emulator: Option<&str>, endpoint: Option<&str>) -> Target {
        match emulator.map(str::trim).filter(|h| !h.is_empty()) {
            Some(host) if host.contains("://") => Target::Emulator(host.to_owned()),
            Some(host) => Target::Emulator(format!("http://{host}")),
            None => Target::Google(endpoint.map(str::to_owned)),
        }
    }
}

/// Publishes events to a Pub/Sub topic.
pub struct PubsubSink {
    builder: PubsubBuilder,
    publisher: Publisher,
}

impl std::fmt::Debug for PubsubSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubsubSink")
            .field("topic", &self.builder.topic)
            .finish_non_exhaustive()
    }
}

macro_rules! configure {
    ($builder:expr, $target:expr) => {{
        let b = $builder.with_retry_policy(NeverRetry);
        match $target {
            Target::Emulator(url) => b
                .with_endpoint(url.clone())
                .with_credentials(Anonymous::new().build()),
            Target::Google(Some(url)) => b.with_endpoint(url.clone()),
            Target::Google(None) => b,
        }
    }};
}

impl PubsubSink {
    /// Starts the sink of receiver `name`: creates the topic when asked and
    /// the publisher. `emulator` is the value of `PUBSUB_EMULATOR_HOST`.
    ///
    /// The client never retries by itself: the driver owns retries, with the
    /// receiver's backoff and attempt limits.
    ///
    /// # Errors
    /// The client cannot be created (no Application Default Credentials), or
    /// `create_topic` failed for a reason other than the topic existing.
    pub async fn connect(
        name: &str,
        config: &PubsubConfig,
        emulator: Option<&str>,
        settings: &DeliverySettings,
    ) -> Result<PubsubSink, PubsubError> {
        let target = Target::choose(emulator, config.endpoint.as_deref());
        if matches!(target, Target::Emulator(_)) {
            // The variable's value is not logged.
            info!(sink = %name, sink_type = "pubsub", "publishing to the Pub/Sub emulator named by PUBSUB_EMULATOR_HOST, without credentials");
        }
        let topic = config.topic_name();
        if config.create_topic {
            create_topic(name, &topic, &target).await?;
        }
        let count = u32::try_from(settings.batch.max_events.clamp(1, MAX_MESSAGES_PER_PUBLISH))
            .unwrap_or(100);
        let publisher = configure!(Publisher::builder(topic.clone()), &target)
            .set_message_count_threshold(count)
            .set_byte_threshold(PUBLISH_BYTES)
            .set_delay_threshold(Duration::from_millis(1))
            .build()
            .await
            .map_err(|e| PubsubError::Client(e.to_string()))?;
        Ok(PubsubSink {
            builder: PubsubBuilder::new(name, config),
            publisher,
        })
    }
}

/// Creates `topic`; one that exists already is fine.
async fn create_topic(name: &str, topic: &str, target: &Target) -> Result<(), PubsubError> {
    let admin = configure!(TopicAdmin::builder(), target)
        .build()
        .await
        .map_err(|e| PubsubError::Client(e.to_string()))?;
    match admin.create_topic().set_name(topic).send().await {
        Ok(_) => {
            info!(sink = %name, sink_type = "pubsub", topic, "created the Pub/Sub topic");
            Ok(())
        }
        Err(e) if e.status().is_some_and(|s| s.code == Code::AlreadyExists) => {
            info!(sink = %name, sink_type = "pubsub", topic, "the Pub/Sub topic exists already");
            Ok(())
        }
        Err(e) => Err(PubsubError::CreateTopic {
            topic: topic.to_owned(),
            message: describe_error(&e),
        }),
    }
}

/// Google's code and message of an error, or the client's description.
fn describe_error(e: &google_cloud_pubsub::Error) -> String {
    match e.status() {
        Some(status) => format!("{}: {}", status.code.name(), status.message),
        None => e.to_string(),
    }
}

/// What one message's failure means: retry it or reject it.
pub(crate) fn classify(e: &PublishError) -> ItemOutcome {
    match e {
        PublishError::Rpc(rpc) => {
            let message = describe_error(rpc);
            match rpc.status().map(|s| s.code) {
                // The message itself is wrong (too large, bad attributes):
                // sending it again cannot help.
                Some(Code::InvalidArgument | Code::OutOfRange | Code::Unimplemented) => {
                    ItemOutcome::rejected(message)
                }
                _ if rpc.is_serialization() => ItemOutcome::rejected(message),
                // Everything else is about the service or the receiver's
                // setup (unavailable, throttled, permission denied, topic
                // not found): retried until it is fixed, nothing lost.
                _ => ItemOutcome::retry(message),
            }
        }
        PublishError::OrderingKeyPaused => ItemOutcome::retry(
            "publishing was paused for this ordering key after an earlier message failed",
        ),
        other => ItemOutcome::retry(other.to_string()),
    }
}

#[async_trait]
impl Sink for PubsubSink {
    type Builder = PubsubBuilder;

    fn kind(&self) -> &'static str {
        "pubsub"
    }

    fn builder(&self) -> &PubsubBuilder {
        &self.builder
    }

    async fn send(&self, request: &PubsubRequest) -> Result<SendOutcome, SendError> {
        // Every message is handed to the publisher before any answer is
        // awaited, so they go out in as few `Publish` calls as possible.
        let pending: Vec<_> = request
            .messages
            .iter()
            .map(|m| self.publisher.publish(m.message()))
            .collect();
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut paused = BTreeSet::new();
        for (future, message) in pending.into_iter().zip(&request.messages) {
            let outcome = match future.await {
                Ok(_id) => ItemOutcome::Delivered,
                Err(e) => {
                    if !message.ordering_key.is_empty() {
                        paused.insert(message.ordering_key.as_str());
                    }
                    classify(&e)
                }
            };
            outcomes.push(outcome);
        }
        // A failure pauses its ordering key in the publisher; the driver
        // sends the failed messages again in order, so publishing resumes.
        for key in paused {
            self.publisher.resume_publish(key);
        }
        Ok(summarise(outcomes))
    }
}

/// Folds per-message outcomes into the answer for the driver: all delivered,
/// or item by item (the driver retries or rejects just the failed ones).
pub(crate) fn summarise(outcomes: Vec<ItemOutcome>) -> SendOutcome {
    if outcomes.iter().all(|o| *o == ItemOutcome::Delivered) {
        return SendOutcome::Delivered;
    }
    SendOutcome::partial(outcomes)
}
