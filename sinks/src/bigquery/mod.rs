//! `bigquery` sink: writes events as rows of a BigQuery table, over
//! BigQuery's REST API.
//!
//! * Row: the event JSON with `null`s dropped and keys sanitised into column
//!   names ([`rows`]), as kubernetes-event-exporter wrote them.
//! * `mode: load` (the default, kubernetes-event-exporter's way): one load
//!   job per batch, uploaded in memory as a multipart request (the job
//!   resource and the NDJSON rows; no temporary file), with schema detection,
//!   `ALLOW_FIELD_ADDITION` and `WRITE_APPEND`; the sink waits for the job
//!   (`jobs.get`) before the batch counts as delivered. The job id comes
//!   from the rows' idempotency keys, so a retry after a lost answer finds
//!   the job (409) instead of loading the rows twice.
//! * `mode: streaming`: `tabledata.insertAll` with each row's idempotency
//!   key as `insertId` (BigQuery drops repeated ids); the answer is read row
//!   by row: invalid rows are rejected with Google's message, the rest are
//!   sent again.
//! * Batching and retries are the driver's; `batch_size`,
//!   `interval_seconds`, `max_retries` and `timeout_seconds` set its
//!   defaults for the receiver (kubernetes-event-exporter's `max_retries`
//!   and `timeout_seconds` never took effect).
//! * Errors: 429, 5xx, Google's passing reasons (`backendError`,
//!   `rateLimitExceeded`, …) and setup problems (401, 403 `accessDenied`,
//!   404 `notFound`) are retried; other answers reject the batch, with
//!   Google's message.
//! * Credentials ([`auth`]): `credentials_path` (a service-account key) or
//!   Application Default Credentials; `endpoint` points at another API
//!   address (a proxy, a fake).

mod api;
pub mod auth;
mod config;
pub mod rows;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{BigqueryConfig, DEFAULT_ENDPOINT, WriteMode};
pub use sink::{BigqueryBuilder, BigqueryItem, BigqueryRequest, BigquerySink};

/// The bigquery sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum BigqueryError {
    /// The credentials could not be loaded (the message never quotes the
    /// file's content).
    #[error("bigquery credentials: {0}")]
    Credentials(String),
    /// The HTTP client could not be built.
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
}
