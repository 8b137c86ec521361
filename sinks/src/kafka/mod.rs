//! `kafka` sink: events as Kafka records, produced with librdkafka (the
//! `rdkafka` crate, behind the `kafka` cargo feature).
//!
//! * Record: topic from `topic` (a template); key from `key` (a template;
//!   default the Event UID, as KEE); value the rendered `layout`, else KEE's
//!   Avro frame when `avro.schemaID` is set ([`avro`]), else the KEE event
//!   JSON; headers `idempotency-key` (`<uid>-<occurrence>`), `cluster` (when
//!   set) and the templated `headers`.
//! * Partition: sarama's hash of the key by default ([`partition`]), so a key
//!   lands where KEE put it; librdkafka's partitioners by name.
//! * Delivery: a batch is produced at once; each record is acknowledged when
//!   its delivery report says the broker has it (`acks=all`, idempotent
//!   producer). Retriable failures (queue full, broker down, leader change,
//!   timeout) go back to the driver; permanent ones (record too large,
//!   unknown topic, authorization) are rejected with the broker's reason.
//! * librdkafka settings: [`properties`].

pub mod avro;
mod config;
pub mod partition;
pub mod properties;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{
    CODECS, KafkaConfig, KafkaHeader, KafkaSasl, KafkaTls, LIBRDKAFKA_PARTITIONERS,
    PartitionerChoice, SaslMechanism,
};
pub use sink::{
    CLUSTER_HEADER, IDEMPOTENCY_HEADER, KafkaBuilder, KafkaContext, KafkaItem, KafkaSink,
    is_permanent,
};

/// The kafka sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused to create the producer (its message, secrets
    /// removed).
    #[error("cannot create the Kafka producer: {0}")]
    Client(String),
}
