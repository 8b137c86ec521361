//! `sns` sink: publishes events to an Amazon SNS topic with `PublishBatch`.
//!
//! * Where: the topic `topicARN`, in `region` or, without one, the region
//!   written in the ARN.
//! * Message: the rendered `layout`, or the event JSON.
//! * Batching: the driver collects up to 10 events (256 KiB); a larger batch
//!   is sent in several calls. Entries SNS refuses are retried alone unless
//!   SNS says the fault is the sender's.
//! * FIFO topics (`.fifo`): `MessageGroupId` from `messageGroupId`
//!   (templated; by default the involved object) and
//!   `MessageDeduplicationId` = the event's idempotency key.
//! * Region, endpoint and credentials: [`crate::aws`].

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::SnsConfig;
pub use sink::{SnsBuilder, SnsEntry, SnsRequest, SnsSink};

/// Most entries in one `PublishBatch`.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of messages in one `PublishBatch`, and of one message.
pub const MAX_BYTES: usize = 256 * 1024;
