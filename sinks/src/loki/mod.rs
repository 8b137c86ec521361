//! `loki` sink: pushes events to Grafana Loki's push API
//! (<https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs>).
//!
//! * Where: `POST <url>`; a `url` whose path does not end in `/push` gets
//!   `/loki/api/v1/push` appended (`http://loki:3100` and
//!   `http://loki:3100/loki/api/v1/push` both work).
//! * Batching: the driver collects up to 500 events (1 MiB, 1 s linger) and
//!   one push carries them all; entries are grouped per stream (same label
//!   set) and sorted by timestamp within each stream, as Loki wants them.
//! * Body: JSON (`{"streams":[{"stream":{…},"values":[["<ns>","<line>"]]}]}`)
//!   or, with `format: protobuf`, Loki's `PushRequest` protobuf compressed
//!   with snappy's block format ([`proto`]).
//! * Stream labels: `streamLabels` values are templates rendered per event
//!   ([`labels`]); without them `{job="herald", namespace, reason}`.
//! * Entry: timestamp from the event (`lastTimestamp`, `eventTime`, then
//!   when herald observed it), or the send time with `timestamp: send`; line
//!   is the rendered `layout` or the event JSON.
//! * Sent by the shared [`HttpSender`](crate::util::http::HttpSender) (its
//!   `tls` block applied, timeouts, proxies); 429 and 5xx are retried with
//!   `Retry-After`; Loki's 400 (entries out of order, too old, too new, bad
//!   labels) is permanent, logged with Loki's message and counted.

mod config;
mod headers;
pub mod labels;
pub mod proto;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{LokiConfig, LokiFormat, TimestampSource};
pub use headers::HeaderTemplate;
pub use sink::{LokiBuilder, LokiItem, LokiSink};

use crate::util::http::HttpClientError;

/// The loki sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    /// The HTTP client could not be created (its `tls` block, …).
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
