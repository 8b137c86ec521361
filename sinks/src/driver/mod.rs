//! The delivery driver, written once and used by every sink, so that a sink is only
//! an encoder and a request.
//!
//! A sink implements [`Sink`]: encode one event, build a request from a batch
//! of encoded events, send a request. Everything else happens here, per
//! receiver:
//!
//! * a bounded queue with an `onFull` policy ([`OnFull`]): `block` waits for
//!   space, which stops the ruler from granting credits upstream
//!   (backpressure into the exporter's durable log). **A blocked receiver
//!   holds up the whole ruler once its queue is full**, so best-effort
//!   receivers should use `drop`;
//! * batching by count, bytes and linger ([`BatchSettings`]);
//! * a per-request timeout (a hung endpoint is a retriable timeout) and a
//!   concurrency limit;
//! * retries with exponential backoff and full jitter, honouring the target's
//!   `Retry-After` ([`retry`]);
//! * acknowledgements ([`ack`]): each event carries an [`AckRef`] that is
//!   completed as delivered, rejected or dropped — never silently;
//! * metrics ([`SinkMetrics`]) and health (a receiver failing for longer than
//!   its window is unhealthy);
//! * graceful drain on shutdown.

pub mod ack;
mod health;
mod metrics;
mod receiver;
pub mod retry;
mod settings;
mod worker;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::Event;
use herald_template::Value;

pub use ack::{AckGroup, AckNotice, AckReceiver, AckRef, AckSender, AckStatus, ack_channel};
pub use metrics::SinkMetrics;
pub use receiver::{DeliverOutcome, DrainOutcome, Receiver};
pub use settings::{BatchSettings, DeliverySettings, OnFull, RetrySettings};

/// A destination for events.
///
/// Implementors turn one event into an [`Item`](Sink::Item), a batch of items
/// into a [`Request`](Sink::Request), and send requests. Batching, retries,
/// timeouts, concurrency, buffering, acks and metrics are applied by the driver.
///
/// Encoding is per event (not per batch) so that an event whose template fails
/// is rejected alone, and so the driver knows each event's size before it
/// closes a batch by `maxBytes`.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// One encoded event.
    type Item: Send + 'static;
    /// What one [`send`](Sink::send) carries; kept across retries.
    type Request: Send + Sync + 'static;

    /// Returns the receiver type as written in the config (`webhook`), used in
    /// metrics and logs.
    fn kind(&self) -> &'static str;

    /// Returns this sink's batching defaults (overridden by `delivery.batch`).
    fn batch_defaults(&self) -> BatchSettings;

    /// Encodes one event.
    ///
    /// # Errors
    /// An [`EncodeError`] rejects just this event for this receiver.
    fn encode(&self, delivery: &Delivery) -> Result<Self::Item, EncodeError>;

    /// Returns the size in bytes an item adds to a request, for `maxBytes`
    /// and the sent-bytes metric.
    fn item_size(&self, item: &Self::Item) -> usize;

    /// Builds one request from a non-empty batch of items, in queue order.
    fn build_request(&self, items: Vec<Self::Item>) -> Self::Request;

    /// Sends one request. Called again with the same request on retries.
    ///
    /// # Errors
    /// Classify failures: [`SendError::Retriable`] (the driver backs off and
    /// retries) or [`SendError::Permanent`] (the batch is rejected).
    async fn send(&self, request: &Self::Request) -> Result<(), SendError>;

    /// Reopens files after log rotation (SIGHUP); a no-op by default.
    async fn reopen(&self) {}
}

/// The template value of one event ([`event_value`](crate::model::event_value)),
/// built on first use and shared by every receiver the event was routed to
/// (cloning is one reference count).
///
/// Receivers without a layout or templates (the default KEE JSON, `inMemory`) never
/// build it: the value is the costliest part of routing an event to them.
#[derive(Debug, Clone, Default)]
pub struct SharedValue(Arc<OnceLock<Value>>);

impl SharedValue {
    /// A value that is built when a receiver first needs it.
    pub fn new() -> SharedValue {
        SharedValue::default()
    }

    /// A value that is already built.
    pub fn ready(value: Value) -> SharedValue {
        SharedValue(Arc::new(OnceLock::from(value)))
    }

    /// Returns the value of `event`, building it on the first call.
    pub fn get(&self, event: &Event) -> &Value {
        self.0.get_or_init(|| crate::model::event_value(event))
    }

    /// Returns whether the value has been built.
    pub fn is_built(&self) -> bool {
        self.0.get().is_some()
    }
}

/// One event handed to one receiver.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub event: Arc<Event>,
    /// Its template value, shared with the other receivers of the event.
    value: SharedValue,
    /// Completion handle for this (event, receiver) pair.
    pub ack: AckRef,
}

impl Delivery {
    /// Creates a delivery with an already built template value.
    pub fn new(event: Arc<Event>, value: Value, ack: AckRef) -> Delivery {
        Delivery::shared(event, SharedValue::ready(value), ack)
    }

    /// Creates a delivery whose template value is shared with the event's other
    /// deliveries and built only if a receiver needs it (the ruler's way).
    pub fn shared(event: Arc<Event>, value: SharedValue, ack: AckRef) -> Delivery {
        Delivery { event, value, ack }
    }

    /// Creates a delivery for one event (tests and tools); its value is built when
    /// first needed.
    pub fn from_event(event: Event, ack: AckRef) -> Delivery {
        Delivery::shared(Arc::new(event), SharedValue::new(), ack)
    }

    /// Returns [`event_value`](crate::model::event_value) of the event, building it
    /// (once for all receivers of the event) on the first call.
    pub fn value(&self) -> &Value {
        self.value.get(&self.event)
    }
}

/// An event could not be encoded for a receiver.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A layout or field template failed for this event.
    #[error("template failed: {0}")]
    Template(String),
    /// Anything else that makes this event unencodable for this sink.
    #[error("{0}")]
    Invalid(String),
}

/// A request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Trying again later may succeed (connection error, timeout, 429, 5xx).
    #[error("{message}")]
    Retriable {
        /// What happened (no secrets).
        message: String,
        /// How long the target asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Trying again cannot succeed (4xx, invalid request).
    #[error("{message}")]
    Permanent {
        /// What happened (no secrets).
        message: String,
    },
}

impl SendError {
    /// Creates a retriable error without a retry hint.
    pub fn retriable(message: impl Into<String>) -> SendError {
        SendError::Retriable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// Creates a permanent error.
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError::Permanent {
            message: message.into(),
        }
    }

    /// Returns whether the driver should retry.
    pub fn is_retriable(&self) -> bool {
        matches!(self, SendError::Retriable { .. })
    }

    /// Returns the target's requested delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Retriable { retry_after, .. } => *retry_after,
            SendError::Permanent { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
