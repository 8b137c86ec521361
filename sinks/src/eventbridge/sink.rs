//! The `PutEvents` request builder and the sink that sends it.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime as ChronoTime, Utc};

use super::{EventBridgeConfig, MAX_BYTES, MAX_ENTRIES};
use crate::aws::batch::{failed_entry, send_chunked};
use crate::aws::fields::Field;
use crate::aws::{classify, sdk};
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::util::PayloadEncoder;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBridgeEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail` (a JSON object).
    pub detail: String,
    /// `Time`: the Event's last occurrence.
    pub time: ChronoTime<Utc>,
}

impl EventBridgeEntry {
    /// The size EventBridge counts: 14 bytes of time plus the text fields.
    fn size(&self) -> usize {
        14 + self.source.len() + self.detail_type.len() + self.detail.len()
    }
}

/// The entries of one request.
#[derive(Debug, Clone)]
pub struct EventBridgeRequest {
    /// In queue order.
    pub entries: Vec<EventBridgeEntry>,
}

/// Turns events into entries.
#[derive(Debug, Clone)]
pub struct EventBridgeBuilder {
    source: Field,
    detail_type: Field,
    details: PayloadEncoder,
    bus: Option<String>,
}

impl EventBridgeBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &EventBridgeConfig) -> EventBridgeBuilder {
        EventBridgeBuilder {
            source: config.source.clone(),
            detail_type: config.detail_type.clone(),
            details: PayloadEncoder::new(config.details.clone(), false),
            bus: config.event_bus_name.clone(),
        }
    }
}

impl RequestBuilder for EventBridgeBuilder {
    type Item = EventBridgeEntry;
    type Request = EventBridgeRequest;

    fn encode(&self, delivery: &Delivery) -> Result<EventBridgeEntry, EncodeError> {
        let mut detail = Vec::with_capacity(1024);
        self.details.encode(delivery, &mut detail)?;
        let detail = String::from_utf8(detail)
            .map_err(|_| EncodeError::Invalid("the detail is not UTF-8".into()))?;
        let entry = EventBridgeEntry {
            source: self.source.render(delivery)?,
            detail_type: self.detail_type.render(delivery)?,
            detail,
            time: delivery.event.last_seen().unwrap_or_else(Utc::now),
        };
        if entry.source.is_empty() || entry.detail_type.is_empty() {
            return Err(EncodeError::Invalid(
                "`source` or `detailType` rendered empty; EventBridge refuses such entries".into(),
            ));
        }
        if entry.size() > MAX_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the entry is {} bytes; EventBridge takes at most {MAX_BYTES}",
                entry.size()
            )));
        }
        Ok(entry)
    }

    fn item_size(&self, item: &EventBridgeEntry) -> usize {
        item.size()
    }

    fn build_request(&self, items: &[EventBridgeEntry]) -> EventBridgeRequest {
        EventBridgeRequest {
            entries: items.to_vec(),
        }
    }

    fn describe(&self, request: &EventBridgeRequest) -> String {
        let mut out = format!(
            "EventBridge PutEvents to bus {} ({} entries)\n",
            self.bus.as_deref().unwrap_or("default"),
            request.entries.len()
        );
        for (i, e) in request.entries.iter().enumerate() {
            out.push_str(&format!(
                "[{i}] Source={} DetailType={} Time={} Detail={}\n",
                e.source,
                e.detail_type,
                e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                e.detail
            ));
        }
        out
    }
}

/// Puts entries on one bus.
pub struct EventBridgeSink {
    builder: EventBridgeBuilder,
    client: Client,
    bus: Option<String>,
}

impl EventBridgeSink {
    /// Creates the sink with the loaded SDK configuration.
    pub fn new(config: &EventBridgeConfig, sdk: &SdkConfig) -> EventBridgeSink {
        let mut conf = aws_sdk_eventbridge::config::Builder::from(sdk);
        if let Some(endpoint) = sdk::endpoint(&config.aws) {
            conf = conf.endpoint_url(endpoint);
        }
        EventBridgeSink {
            builder: EventBridgeBuilder::new(config),
            client: Client::from_conf(conf.build()),
            bus: config.event_bus_name.clone(),
        }
    }

    async fn put(&self, entries: &[EventBridgeEntry]) -> Result<Vec<ItemOutcome>, SendError> {
        let batch = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .time(DateTime::from_millis(e.time.timestamp_millis()))
                    .set_event_bus_name(self.bus.clone())
                    .build()
            })
            .collect::<Vec<_>>();
        let out = self
            .client
            .put_events()
            .set_entries(Some(batch))
            .send()
            .await
            .map_err(|e| classify("EventBridge PutEvents", &e))?;
        let answers = out.entries.unwrap_or_default();
        if out.failed_entry_count == 0 && answers.len() == entries.len() {
            return Ok(vec![ItemOutcome::Delivered; entries.len()]);
        }
        // One answer per entry, in order; an entry with an error code failed.
        Ok(answers
            .iter()
            .map(|a| match a.error_code() {
                Some(code) => failed_entry(code, a.error_message().unwrap_or(""), None),
                None => ItemOutcome::Delivered,
            })
            .collect())
    }
}

#[async_trait]
impl Sink for EventBridgeSink {
    type Builder = EventBridgeBuilder;

    fn kind(&self) -> &'static str {
        "eventbridge"
    }

    fn builder(&self) -> &EventBridgeBuilder {
        &self.builder
    }

    async fn send(&self, request: &EventBridgeRequest) -> Result<SendOutcome, SendError> {
        send_chunked(
            &request.entries,
            EventBridgeEntry::size,
            MAX_ENTRIES,
            MAX_BYTES,
            |run| self.put(run),
        )
        .await
    }
}
