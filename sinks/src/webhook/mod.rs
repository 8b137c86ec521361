//! `webhook` sink: `POST`s each event to an HTTP endpoint.
//!
//! * Body: the rendered `layout`, or the KEE event JSON, without trailing
//!   newline; one event per request by default. With `delivery.batch.maxEvents`
//!   above 1 the body is a JSON array of those documents.
//! * Headers: `Content-Type: application/json`, `User-Agent: herald/<version>`,
//!   `Accept: */*` and the configured `headers`, whose values are templates
//!   rendered per event (when one fails, its raw text is sent and a warning
//!   logged, as KEE did silently). Names go out in Go's canonical form
//!   (`x-api-key` → `X-Api-Key`). A configured header **replaces** the
//!   default of the same name (KEE sent two `Content-Type` values). With
//!   batches, dynamic headers are rendered from the first event.
//! * Sent by the shared [`HttpSender`](crate::util::http::HttpSender): one
//!   client per receiver with its `tls` block and `delivery.timeout`, the
//!   proxy variables honoured, redirects not followed; 2xx is success; 429
//!   and 5xx are retriable and honour `Retry-After`; other statuses are
//!   permanent, with the first 512 bytes of the answer in the error;
//!   connection errors and timeouts are retriable.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{HeaderTemplate, WebhookConfig};
pub use sink::{WebhookBuilder, WebhookItem, WebhookSink};

use crate::util::http::HttpClientError;

/// The webhook sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The HTTP client could not be created (its `tls` block, …).
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
