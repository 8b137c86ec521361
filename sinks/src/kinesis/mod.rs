//! `kinesis` sink: puts events into an Amazon Kinesis data stream with
//! `PutRecords`.
//!
//! * Where: the stream `streamName`.
//! * Record: data = the rendered `layout`, or the event JSON; partition key
//!   = the Event's uid (as kubernetes-event-exporter chose it, so one
//!   Event's updates land on one shard in order), or the `partitionKey`
//!   template.
//! * Batching: the driver collects up to 500 events (5 MiB); a larger batch
//!   is sent in several calls. Records Kinesis refuses
//!   (`ProvisionedThroughputExceededException`, `InternalFailure`) are sent
//!   again alone; `FailedRecordCount` and every record's answer are checked.
//! * Region, endpoint and credentials: [`crate::aws`].

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::KinesisConfig;
pub use sink::{KinesisBuilder, KinesisRecord, KinesisRequest, KinesisSink};

/// Most records in one `PutRecords`.
pub const MAX_RECORDS: usize = 500;
/// Most bytes (data and partition keys) in one `PutRecords`.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Most bytes of one record (data and partition key).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Longest partition key, in characters.
pub const MAX_PARTITION_KEY: usize = 256;
