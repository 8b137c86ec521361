//! herald's sinks: what the ruler hands matched events to.
//!
//! * [`model`]: the event as templates see it (kubernetes-event-exporter's
//!   `EnhancedEvent`) and its default JSON;
//! * [`config`]: the `receivers:` list, decoded with located errors;
//! * [`registry`]: the receiver types of this build and the shape each has
//!   ([`SinkType`]);
//! * [`driver`]: the [`Sink`] trait and everything around it —
//!   queues, batching, retries, timeouts, acknowledgements, metrics, health;
//! * [`SinkSet`]: every configured receiver, running;
//! * one folder per receiver type, registered below: [`stdout`],
//!   [`file`](mod@file), [`pipe`], [`webhook`], [`in_memory`],
//!   [`elasticsearch`], [`opensearch`], [`loki`], [`slack`], [`teams`],
//!   [`opsgenie`], [`syslog`], [`alertmanager`]; `kafka` (with the `kafka`
//!   feature), `sqs`, `sns`, `kinesis`, `firehose`, `eventbridge`, `opscenter`
//!   (with the `aws` feature);
//! * [`hook`]: per-receiver Starlark hooks (run with the `hooks` feature);
//! * [`util`]: payload encoding, layouts, JSON lines, HTTP and TLS helpers.

pub mod config;
pub mod driver;
pub mod hook;
pub mod model;
pub mod preview;
pub mod registry;
mod set;
pub mod util;
// What the AWS receivers share (region, credentials, errors, batch answers).
#[cfg(feature = "aws")]
pub mod aws;

// The receiver types: one line per type (its folder's module and its config
// struct); see `registry` for the syntax of a type behind a cargo feature.
registry::receivers! {
    stdout::StdoutConfig,
    file::FileConfig,
    pipe::PipeConfig,
    webhook::WebhookConfig,
    in_memory::InMemoryConfig,
    elasticsearch::ElasticsearchConfig,
    opensearch::OpenSearchConfig,
    loki::LokiConfig,
    slack::SlackConfig,
    teams::TeamsConfig,
    opsgenie::OpsgenieConfig,
    sqs::SqsConfig as "sqs" if feature "aws",
    sns::SnsConfig as "sns" if feature "aws",
    kinesis::KinesisConfig as "kinesis" if feature "aws",
    firehose::FirehoseConfig as "firehose" if feature "aws",
    eventbridge::EventBridgeConfig as "eventbridge" if feature "aws",
    opscenter::OpsCenterConfig as "opscenter" if feature "aws",
    syslog::SyslogConfig,
    kafka::KafkaConfig as "kafka" if feature "kafka",
    alertmanager::AlertmanagerConfig,
    pubsub::PubsubConfig as "pubsub" if feature "gcp",
    bigquery::BigqueryConfig as "bigquery" if feature "gcp",
}

pub use config::{ReceiverConfig, SinkConfig, parse_receivers};
pub use driver::{
    AckGroup, AckNotice, AckReceiver, AckRef, AckSender, AckStatus, DeliverOutcome, Delivery,
    RequestBuilder, SharedValue, Sink, SinkMetrics, ack_channel,
};
pub use model::{dedot_event, event_value, kee_json};
pub use preview::preview;
pub use registry::{SinkBuildError, SinkType};
pub use set::{BuildError, BuildExtras, DrainReport, ReceiverId, SinkSet};
