//! `slack` sink: posts one message per event to Slack.
//!
//! * With a `token`: `POST https://slack.com/api/chat.postMessage` (or
//!   `<apiURL>chat.postMessage`) with `Authorization: Bearer <token>` and a
//!   JSON body `{"channel", "text", "attachments"?, "blocks"?}`. Slack answers
//!   200 with `{"ok": true}`, or `{"ok": false, "error": "<code>"}`: an
//!   error carrying the code, retried for throttling and Slack's own trouble
//!   ([`RETRIABLE_ERRORS`]), permanent for the rest
//!   (`channel_not_found`, `invalid_auth`, …).
//! * With a `webhookURL` (an incoming webhook): `POST <webhookURL>` with the
//!   same body (`channel` only when set); 200 is success, and Slack's
//!   refusals are HTTP statuses whose body is the error code. The URL is a
//!   credential: previews and logs show only its host and first path segment.
//! * Message: `text` is the rendered `message` with `&`, `<` and `>`
//!   escaped; when `fields` is set, one attachment with the fields (sorted
//!   by name, `short: false`) and the rendered `color`, `title`,
//!   `author_name` and `footer` (as kubernetes-event-exporter built it);
//!   `blocks` is a Block Kit layout whose strings are templates.
//! * 429 and 5xx are retried after the answer's `Retry-After`; connection
//!   errors and timeouts are retried. A batch (`delivery.batch.maxEvents`
//!   above 1) is one request per event, answered event by event.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{DEFAULT_API_URL, SlackConfig, SlackTarget};
pub use sink::{RETRIABLE_ERRORS, SlackBuilder, SlackSink, check_answer, escape_text};

use crate::util::http::HttpClientError;

/// The slack sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// The HTTP client could not be created.
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
