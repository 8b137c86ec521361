//! `webhook` sink: `POST`s each event to an HTTP endpoint.
//!
//! * Body: the rendered `layout`, or the KEE event JSON, without trailing
//!   newline; one event per request by default. With `delivery.batch.maxEvents`
//!   above 1 the body is a JSON array of those documents.
//! * Headers: `Content-Type: application/json`, `User-Agent: herald/<version>`
//!   and the configured `headers`, whose values are templates rendered per
//!   event (when one fails, its raw text is sent and a warning logged, as KEE
//!   did silently). Names go out in Go's canonical form (`x-api-key` →
//!   `X-Api-Key`). A configured `Content-Type` or `User-Agent` **replaces**
//!   the default (KEE sent two `Content-Type` values). With batches, dynamic
//!   headers are rendered from the first event.
//! * One HTTP client per receiver (KEE raced on Go's shared client), with the
//!   receiver's `tls` block and `delivery.timeout`; `HTTP(S)_PROXY` and
//!   `NO_PROXY` are honoured.
//! * 2xx is success; 429 and 5xx are retriable and honour `Retry-After`
//!   (seconds or an HTTP date); other statuses are permanent and the first 512
//!   bytes of the response body are logged; connection errors and timeouts
//!   are retriable.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{HeaderTemplate, WebhookConfig};
pub use sink::{WebhookBuilder, WebhookItem, WebhookRequest, WebhookSink};

use crate::util::tls::TlsError;

/// The webhook sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The `tls` block could not be applied.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
}
