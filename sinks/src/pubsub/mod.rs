//! `pubsub` sink: publishes events to a Google Cloud Pub/Sub topic with
//! Google's client library (`google-cloud-pubsub`).
//!
//! * Topic: `projects/<gcloud_project_id>/topics/<topic>`; `create_topic:
//!   true` creates it at startup, and a topic that exists already is fine.
//! * Message: the data is the rendered `layout` or the event JSON; the
//!   attributes are the rendered `attributes` plus the event's idempotency
//!   key under [`IDEMPOTENCY_ATTRIBUTE`]; `ordering_key` (a template) orders
//!   the messages that share a key (the subscription must enable ordering).
//! * Batching: the driver collects up to 100 events (1 MiB, 50 ms linger);
//!   the batch is handed to the publisher at once, which sends it in as few
//!   `Publish` calls as Pub/Sub's limits allow, and each message's answer is
//!   read alone: failed messages are retried (unavailable, throttled,
//!   permission denied, topic not found: the receiver's setup can be fixed
//!   without losing events) or rejected (the message itself is invalid).
//! * Retries are the driver's: the client's own retry policy is off.
//! * Where: `PUBSUB_EMULATOR_HOST` (`host:port`) points the client at the
//!   Pub/Sub emulator without credentials, as Google's SDKs do; otherwise
//!   `endpoint` or Google's service, with Application Default Credentials
//!   (`GOOGLE_APPLICATION_CREDENTIALS`, workload identity, the metadata
//!   server).

mod attributes;
mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use attributes::{AttributeTemplate, IDEMPOTENCY_ATTRIBUTE};
pub(crate) use config::missing;
pub use config::{MAX_MESSAGES_PER_PUBLISH, PubsubConfig};
pub use sink::{PubsubBuilder, PubsubItem, PubsubRequest, PubsubSink};

/// The pubsub sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum PubsubError {
    /// The client could not be created (no Application Default
    /// Credentials, …).
    #[error("cannot create the Pub/Sub client: {0}")]
    Client(String),
    /// `create_topic` failed.
    #[error("cannot create the Pub/Sub topic {topic}: {message}")]
    CreateTopic {
        /// `projects/P/topics/T`.
        topic: String,
        /// Google's code and message.
        message: String,
    },
}
