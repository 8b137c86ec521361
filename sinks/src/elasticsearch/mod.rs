//! `elasticsearch` sink (and, through the same code, `opensearch`): events
//! are written with the `_bulk` API.
//!
//! * One `POST <host>/_bulk` per batch (`Content-Type: application/x-ndjson`):
//!   an action line and the document line per event. The document is the
//!   rendered `layout`, or the KEE event JSON, `deDot` applied first.
//! * Index: `index`, or `indexFormat` whose part between the first `{` and the
//!   last `}` is a Go time layout (`kube-events-{2006-01-02}`), formatted in
//!   UTC with the time the event is encoded (`indexTime: now`, as
//!   kubernetes-event-exporter did) or with the event's time
//!   (`indexTime: event`).
//! * Document ids make redelivery harmless: by default the id is the event's
//!   idempotency key (`<uid>-<occurrence>`) written with the `create` action,
//!   so a second delivery of the same occurrence is answered 409
//!   `version_conflict_engine_exception`, which counts as delivered. With
//!   `useEventID: true` the id is the Event's UID written with `index` (one
//!   document per Event, replaced by each repeat), or, with
//!   `documentID: occurrence`, the idempotency key as by default.
//! * The answer is read item by item: 2xx items are delivered, 429 and 5xx
//!   items are retried alone, any other item is rejected with the target's
//!   `error.type` and `error.reason` (logged and counted by the driver).
//! * `hosts` are tried in order from the last one that answered: a
//!   connection error, a timeout or a 5xx answer moves to the next host.
//! * Authentication: credentials in a host URL, else `apiKey`
//!   (`Authorization: ApiKey …`), else Basic when both `username` and
//!   `password` are set; `headers` are static and added to every request.
//!   `opensearch` with `awsSigV4` signs every request with AWS SigV4 instead
//!   ([`sigv4`]), when it is sent (the preview shows it unsigned).

mod bulk;
mod config;
mod index;
pub(crate) mod sigv4;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{DocumentId, ElasticsearchConfig, IndexTime, SearchConfig, SigV4Config};
pub use index::IndexName;
pub use sink::{BulkItem, BulkRequest, SearchBuilder, SearchSink};

use crate::util::http::HttpClientError;

/// The elasticsearch or opensearch sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The HTTP client could not be created (its `tls` block, …).
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// `awsSigV4` is set but the environment has no AWS credentials.
    #[error(
        "awsSigV4 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in the environment"
    )]
    MissingAwsCredentials,
}
