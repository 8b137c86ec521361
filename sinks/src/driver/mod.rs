//! The delivery driver, written once and used by every sink, so that a sink is only
//! an encoder and a request.
//!
//! A sink implements [`Sink`] and its [`RequestBuilder`]: encode one event,
//! build a request from a batch of encoded events, send a request. Everything
//! else happens here, per receiver:
//!
//! * a bounded queue with an `onFull` policy ([`OnFull`]): `block` waits for
//!   space, which stops the receiver's own lane in the ruler from granting
//!   credits upstream (backpressure into the exporter's durable log; the other
//!   receivers read the log through lanes of their own and go on); `drop`
//!   sheds events, counted;
//! * batching by count, bytes and linger ([`BatchSettings`]);
//! * a per-request timeout (a hung endpoint is a retriable timeout) and a
//!   concurrency limit;
//! * retries with exponential backoff and full jitter, honouring the target's
//!   `Retry-After` ([`retry`]); when a target answers item by item
//!   ([`SendOutcome::Partial`]), only the items it asked to retry are sent
//!   again;
//! * acknowledgements ([`ack`]): each event carries an [`AckRef`] that is
//!   completed once, item by item, as delivered, rejected or dropped — never
//!   silently;
//! * metrics ([`SinkMetrics`]) and health (a receiver failing for longer than
//!   its window is unhealthy);
//! * a receiver's hook ([`hook`]), asked about every event before it is
//!   encoded, in a stage of its own ([`hook_stage`]);
//! * graceful drain on shutdown.

pub mod ack;
mod health;
pub mod hook;
mod hook_stage;
mod metrics;
mod receiver;
pub mod retry;
mod send;
mod settings;
mod worker;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::Event;
use herald_telemetry::traces::TraceContext;
use herald_template::Value;

pub use ack::{
    AckGroup, AckNotice, AckReceiver, AckRef, AckSender, AckStatus, AckWatch, ack_channel,
};
pub use hook::{DeliveryHook, HookDecision, HookErrorKind, HookOutcome, HookSettings, HookTarget};
pub use metrics::SinkMetrics;
pub use receiver::{DeliverOutcome, DrainOutcome, Receiver};
pub use settings::{BatchSettings, DeliverySettings, OnFull, RetrySettings};

/// The part of a sink that turns events into requests: pure code, no I/O.
///
/// The driver calls it for every event and batch; `herald route` calls the
/// very same code to show what a receiver would send
/// ([`RequestBuilder::describe`]), so a preview cannot drift from the real
/// request.
///
/// Encoding is per event (not per batch) so that an event whose template fails
/// is rejected alone, and so the driver knows each event's size before it
/// closes a batch by `maxBytes`.
pub trait RequestBuilder: Send + Sync + 'static {
    /// One encoded event.
    type Item: Send + 'static;
    /// What one [`Sink::send`] carries; kept across retries.
    type Request: Send + Sync + 'static;

    /// Encodes one event.
    ///
    /// # Errors
    /// An [`EncodeError`] rejects just this event for this receiver.
    fn encode(&self, delivery: &Delivery) -> Result<Self::Item, EncodeError>;

    /// Returns the size in bytes an item adds to a request, for `maxBytes`
    /// and the sent-bytes metric.
    fn item_size(&self, item: &Self::Item) -> usize;

    /// Builds one request from a non-empty batch of items, in queue order.
    /// The driver keeps the items, so that it can build a smaller request
    /// from the ones a target asked to retry.
    fn build_request(&self, items: &[Self::Item]) -> Self::Request;

    /// Returns whether two items may travel in one request (the worker closes
    /// a batch before an item that may not join it). Items differ when a
    /// hook changed per-event settings such as a path or a tenant, or when
    /// their per-event headers differ. Every item may by default.
    fn same_request(&self, first: &Self::Item, next: &Self::Item) -> bool {
        let _ = (first, next);
        true
    }

    /// The settings of this sink a receiver's hook may change for this event,
    /// with their current values (the `config` dict the hook's script gets).
    /// None by default: a hook can then only skip events.
    fn hook_offer(&self, delivery: &Delivery) -> serde_json::Map<String, serde_json::Value> {
        let _ = delivery;
        serde_json::Map::new()
    }

    /// Checks settings a hook changed (only keys [`RequestBuilder::hook_offer`]
    /// offered, with values of the offered types).
    ///
    /// # Errors
    /// A value this sink cannot send; the hook's `onError` then applies.
    fn hook_check(&self, changed: &HookSettings) -> Result<(), String> {
        let _ = changed;
        Ok(())
    }

    /// Shows a request as `herald route` prints it: what goes over the wire,
    /// with credentials (header values, URL userinfo and secret-looking query
    /// parameters) replaced by `***`.
    fn describe(&self, request: &Self::Request) -> String;

    /// Encodes `deliveries` and builds their request (previews and tests).
    ///
    /// # Errors
    /// The first event that cannot be encoded.
    fn request_for(&self, deliveries: &[&Delivery]) -> Result<Self::Request, EncodeError> {
        let items = deliveries
            .iter()
            .map(|d| self.encode(d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.build_request(&items))
    }
}

/// The request type of a sink.
pub type Request<S> = <<S as Sink>::Builder as RequestBuilder>::Request;

/// The item type of a sink.
pub type Item<S> = <<S as Sink>::Builder as RequestBuilder>::Item;

/// A destination for events.
///
/// A sink has a [`RequestBuilder`] (encode events, build requests) and sends
/// requests. Batching, retries, timeouts, concurrency, buffering, acks and
/// metrics are applied by the driver.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Turns events into this sink's requests.
    type Builder: RequestBuilder;

    /// Returns the receiver type as written in the config (`webhook`), used in
    /// metrics and logs.
    fn kind(&self) -> &'static str;

    /// Returns the sink's request builder.
    fn builder(&self) -> &Self::Builder;

    /// Sends one request. Called again with the same request when the whole
    /// request failed retriably.
    ///
    /// Returns [`SendOutcome::Delivered`] when the target took every item, or
    /// [`SendOutcome::Partial`] when it answered item by item: the driver then
    /// acknowledges the delivered items, rejects the refused ones and retries
    /// only the rest, in a request built from just those items.
    ///
    /// # Errors
    /// The whole request failed: [`SendError::Retriable`] (the driver backs
    /// off and sends it again) or [`SendError::Permanent`] (every item of the
    /// request is rejected).
    async fn send(&self, request: &Request<Self>) -> Result<SendOutcome, SendError>;

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
    /// The trace the receiver's request joins (the ruler's routing span).
    trace: Option<TraceContext>,
    /// The kube-events rule that selected the event for this receiver, with the
    /// alert it produced (None: the route tree selected it).
    pub rule: Option<Arc<herald_rules::RuleMatch>>,
    /// The settings the receiver's hook changed for this event.
    hook: Option<Arc<HookSettings>>,
}

impl Delivery {
    /// Creates a delivery with an already built template value.
    pub fn new(event: Arc<Event>, value: Value, ack: AckRef) -> Delivery {
        Delivery::shared(event, SharedValue::ready(value), ack)
    }

    /// Creates a delivery whose template value is shared with the event's other
    /// deliveries and built only if a receiver needs it (the ruler's way).
    pub fn shared(event: Arc<Event>, value: SharedValue, ack: AckRef) -> Delivery {
        Delivery {
            event,
            value,
            ack,
            trace: None,
            rule: None,
            hook: None,
        }
    }

    /// Makes the request that carries this event join `trace`.
    #[must_use]
    pub fn with_trace(mut self, trace: Option<TraceContext>) -> Delivery {
        self.trace = trace;
        self
    }

    /// The trace the request that carries this event joins.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// Attaches the rule that selected the event.
    pub fn with_rule(mut self, rule: Option<Arc<herald_rules::RuleMatch>>) -> Delivery {
        self.rule = rule;
        self
    }

    /// Attaches the settings the receiver's hook changed for this event.
    #[must_use]
    pub fn with_hook_settings(mut self, settings: Option<Arc<HookSettings>>) -> Delivery {
        self.hook = settings;
        self
    }

    /// The settings the receiver's hook changed for this event (`None`: as
    /// configured).
    pub fn hook_settings(&self) -> Option<&HookSettings> {
        self.hook.as_deref()
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

/// What a target did with a request it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Every item of the request was accepted.
    Delivered,
    /// The target answered item by item (Elasticsearch `_bulk`, Kinesis
    /// `PutRecords`, SQS `SendMessageBatch`, …).
    Partial(PartialOutcome),
}

impl SendOutcome {
    /// An item-by-item outcome without a retry hint.
    pub fn partial(items: Vec<ItemOutcome>) -> SendOutcome {
        SendOutcome::Partial(PartialOutcome {
            items,
            retry_after: None,
        })
    }
}

/// The item-by-item answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialOutcome {
    /// One outcome per item of the request, in the order the items were
    /// given to [`RequestBuilder::build_request`]. A missing outcome counts
    /// as [`ItemOutcome::Retry`] (and is logged as a sink bug); extra ones are
    /// ignored.
    pub items: Vec<ItemOutcome>,
    /// How long the target asked to wait before the items to retry are sent
    /// again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// What became of one item of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Accepted.
    Delivered,
    /// Refused for now (throttled, the target's shard unavailable): sent
    /// again, in a smaller request, after the backoff.
    Retry {
        /// Why, as the target said it (no secrets).
        reason: String,
    },
    /// Refused for good (a mapping conflict, an invalid document): the event
    /// is rejected for this receiver, logged with the reason and counted.
    Rejected {
        /// Why, as the target said it (no secrets).
        reason: String,
    },
}

impl ItemOutcome {
    /// An item to send again.
    pub fn retry(reason: impl Into<String>) -> ItemOutcome {
        ItemOutcome::Retry {
            reason: reason.into(),
        }
    }

    /// An item refused for good.
    pub fn rejected(reason: impl Into<String>) -> ItemOutcome {
        ItemOutcome::Rejected {
            reason: reason.into(),
        }
    }
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
