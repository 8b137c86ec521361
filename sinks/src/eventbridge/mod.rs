//! `eventbridge` sink: puts events on an Amazon EventBridge bus with
//! `PutEvents`.
//!
//! * Entry: `Source` and `DetailType` from `source` and `detailType`
//!   (templates), `Detail` = the rendered `details` map (a layout) or the
//!   event JSON, `EventBusName` from `eventBusName` (the account's default
//!   bus without it), `Time` = the Event's own time (its last occurrence),
//!   not the time of sending.
//! * Batching: the driver collects up to 10 events (256 KiB); a larger batch
//!   is sent in several calls. `FailedEntryCount` and every entry's answer
//!   are checked: throttled entries and internal failures are sent again
//!   alone, entries EventBridge refuses (`MalformedDetail`, …) are rejected
//!   and counted. Nothing is logged per event.
//! * Region, endpoint and credentials: [`crate::aws`].

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::EventBridgeConfig;
pub use sink::{EventBridgeBuilder, EventBridgeEntry, EventBridgeRequest, EventBridgeSink};

/// Most entries in one `PutEvents`.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of entries in one `PutEvents`, and of one entry.
pub const MAX_BYTES: usize = 256 * 1024;
