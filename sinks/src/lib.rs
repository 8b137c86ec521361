//! herald's sinks: what the ruler hands matched events to.
//!
//! * [`model`]: the event as templates see it (kubernetes-event-exporter's
//!   `EnhancedEvent`) and its default JSON;
//! * [`config`]: the `receivers:` list, decoded with located errors;
//! * [`driver`]: the [`Sink`] trait and everything around it —
//!   queues, batching, retries, timeouts, acknowledgements, metrics, health;
//! * [`SinkSet`]: every configured receiver, running;
//! * one module per sink: [`stdout`], [`file`](mod@file), [`pipe`], [`webhook`],
//!   [`in_memory`];
//! * [`util`]: payload encoding, layouts, HTTP and TLS helpers.

pub mod config;
pub mod driver;
pub mod file;
pub mod in_memory;
pub mod model;
pub mod pipe;
pub mod preview;
mod set;
pub mod stdout;
pub mod util;
pub mod webhook;

pub use config::{ReceiverConfig, SinkConfig, parse_receivers};
pub use driver::{
    AckGroup, AckNotice, AckReceiver, AckRef, AckSender, AckStatus, DeliverOutcome, Delivery,
    SharedValue, Sink, SinkMetrics, ack_channel,
};
pub use model::{dedot_event, event_value, kee_json};
pub use preview::preview;
pub use set::{BuildError, DrainReport, ReceiverId, SinkBuildError, SinkSet};
