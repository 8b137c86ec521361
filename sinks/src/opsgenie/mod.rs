//! `opsgenie` sink: creates an Opsgenie alert per event, and optionally
//! closes it when a later event says the condition ended.
//!
//! * Create: `POST https://<URL>/v2/alerts` (`URL` is a host:
//!   `api.opsgenie.com` by default, `api.eu.opsgenie.com`,
//!   `api.sandbox.opsgenie.com`; or `apiURL`, a full base URL) with
//!   `Authorization: GenieKey <apiKey>` and `{"message", "alias"?,
//!   "description"?, "responders"?, "tags"?, "details"?, "priority"}`. Every
//!   value is a template, `priority` and `responders` included; a priority
//!   that renders to something other than P1–P5 is sent as P3, with a
//!   warning. An empty rendered message rejects the event (Opsgenie would).
//! * Close: with `closeWhen`, an event for which that template renders
//!   `true` does not create an alert: it closes the alert whose alias is the
//!   event's rendered `alias` (`POST /v2/alerts/<alias>/close?identifierType=alias`
//!   with `{"source":"herald","note":<message>}`). The alias must render the
//!   same for the opening and the closing event (the involved object's UID,
//!   say, with `closeWhen: '{{ eq .Type "Normal" }}'`).
//! * Opsgenie answers 202 with a `requestId` and processes the request
//!   later: 202 (any 2xx) is success. 429 and 5xx are retried (after
//!   `Retry-After` when given); 4xx (a bad key, an invalid alert) are
//!   permanent, with Opsgenie's message in the error. Connection errors and
//!   timeouts are retried. The key only ever goes out in the header; previews
//!   and logs show `***`.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{API_HOSTS, DEFAULT_PRIORITY, OpsgenieConfig, PRIORITIES, ResponderTemplate};
pub use sink::{CLOSE, OpsgenieBuilder, OpsgenieSink};

use crate::util::http::HttpClientError;

/// The opsgenie sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpsgenieError {
    /// The HTTP client could not be created.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
