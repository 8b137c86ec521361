//! `teams` sink: posts one message per event to a Microsoft Teams webhook.
//!
//! * `POST <endpoint>` with `Content-Type: application/json` and the
//!   configured (static) `headers`, a configured header replacing the default
//!   of the same name.
//! * `format: messageCard` (the default, kubernetes-event-exporter's body for
//!   connector webhooks): `{"summary":"event","text":"Event: <message>
//!   \nStatus: <reason> \nMetadata: <metadata>"}`, the three values read from
//!   the rendered `layout` (or the event JSON) and printed as Go's `%s` did
//!   ([`go_percent_s`]).
//! * `format: adaptiveCard` (Teams Workflows, which replace the retired
//!   connectors): `{"type":"message","attachments":[{"contentType":
//!   "application/vnd.microsoft.card.adaptive","contentUrl":null,"content":
//!   <card>}]}`, the card being the rendered `layout`, or herald's card
//!   (title, message and a fact set of namespace, object, reason, count, last
//!   seen and cluster).
//! * Any 2xx is success (a Workflow answers 202), except a connector's 200
//!   whose body says Teams throttled it, which is retried; 429 and 5xx are
//!   retried after `Retry-After`; other statuses are permanent. Connection
//!   errors and timeouts are errors and retried (kubernetes-event-exporter
//!   reported them as delivered).
//! * The endpoint is a credential: previews and logs show only its host and
//!   first path segment.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{StaticHeader, TeamsConfig, TeamsFormat};
pub use sink::{THROTTLED_ANSWER, TeamsBuilder, TeamsSink, go_percent_s};

use crate::util::http::HttpClientError;

/// The teams sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    /// The HTTP client could not be created.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
