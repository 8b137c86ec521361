//! `firehose` sink: puts events into an Amazon Data Firehose stream with
//! `PutRecordBatch`.
//!
//! * Where: the delivery stream `deliveryStreamName`.
//! * Record: the rendered `layout`, or the event JSON (`deDot` applied
//!   first), followed by `\n` with `newline: true` so that the objects
//!   Firehose writes to S3 are JSON lines (Athena, S3 Select and most
//!   readers need that; kubernetes-event-exporter wrote records back to
//!   back, which stays the default).
//! * Batching: the driver collects up to 500 events (4 MiB); a larger batch
//!   is sent in several calls. Records Firehose refuses
//!   (`ServiceUnavailableException`, `InternalFailure`) are sent again alone;
//!   `FailedPutCount` and every record's answer are checked.
//! * Region, endpoint and credentials: [`crate::aws`].

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::FirehoseConfig;
pub use sink::{FirehoseBuilder, FirehoseRequest, FirehoseSink};

/// Most records in one `PutRecordBatch`.
pub const MAX_RECORDS: usize = 500;
/// Most bytes in one `PutRecordBatch`.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Most bytes of one record (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;
