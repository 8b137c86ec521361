//! `sqs` sink: sends events to an Amazon SQS queue with `SendMessageBatch`.
//!
//! * Where: the queue named by `queueName`, whose URL is looked up with
//!   `GetQueueUrl` when the first batch is sent (and again until it
//!   succeeds): a queue that does not exist yet makes the receiver
//!   unhealthy and its events wait, instead of stopping herald.
//! * Body: the rendered `layout`, or the event JSON.
//! * Batching: the driver collects up to 10 events (256 KiB); a batch larger
//!   than SQS takes (10 entries, 256 KiB) is sent in several calls. Entries
//!   SQS refuses are retried alone when SQS says the fault is not the
//!   sender's, rejected when it is.
//! * FIFO queues (`.fifo`): `MessageGroupId` from `messageGroupId`
//!   (templated; by default the involved object), `MessageDeduplicationId` =
//!   the event's idempotency key, so a redelivery within SQS's five-minute
//!   window is dropped by SQS itself.
//! * Region, endpoint and credentials: [`crate::aws`].

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::SqsConfig;
pub use sink::{SqsBuilder, SqsEntry, SqsRequest, SqsSink};

/// Most entries in one `SendMessageBatch`.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of message bodies in one `SendMessageBatch`, and of one
/// message.
pub const MAX_BYTES: usize = 256 * 1024;
