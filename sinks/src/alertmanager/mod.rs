//! `alertmanager` sink: posts alerts to Prometheus Alertmanager's v2 API
//! (`POST /api/v2/alerts`).
//!
//! * Every configured Alertmanager (`url` and/or `urls`) gets every request, as
//!   Prometheus sends to all of them; a URL without a path ending in
//!   `/api/v2/alerts` gets that path appended. A request is delivered when every
//!   Alertmanager accepted it; otherwise it is retried (when any failure is
//!   retriable: connection errors, timeouts, 429, 5xx) and posted to all of them
//!   again, which adds nothing where it already landed: Alertmanager merges alerts
//!   with the same labels.
//! * The alert of an event selected by a kube-events `alert` rule carries that
//!   rule's labels (`alertname`, `alerttype=event`, `<kind>=<name>`, `namespace`,
//!   `container`, the rule's `labels`) and rendered annotations. An event that
//!   reached the receiver otherwise (the route tree, a `notification` rule) gets the
//!   same kube-events labels with `alertname` = the rule's name or the event's
//!   `reason`, and the annotation `message`.
//! * `startsAt` is when the event first happened (`firstTimestamp`, else
//!   `eventTime`, `lastTimestamp`, when herald observed it); `endsAt` is when it was
//!   last seen plus `resolveTimeout` (default 5m): an alert resolves itself when the
//!   event stops repeating. `generatorURL` is an optional template.
//! * Labels with an empty value are left out (Alertmanager treats them as absent);
//!   an alert with a label name Alertmanager refuses (`[a-zA-Z_][a-zA-Z0-9_]*`) is
//!   rejected on its own, so it does not fail the batch.
//! * Credentials: `username`/`password` (basic) or `bearerToken`; `tls` as every
//!   HTTP receiver.

mod alert;
mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use alert::{AlertDefaults, build_alert};
pub use config::{AlertmanagerAuth, AlertmanagerConfig, DEFAULT_RESOLVE_TIMEOUT, ALERTS_PATH};
pub use sink::{AlertmanagerBuilder, AlertmanagerSink};

use crate::util::http::HttpClientError;

/// The alertmanager sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    /// The HTTP client could not be created (its `tls` block, …).
    #[error(transparent)]
    Client(#[from] HttpClientError),
}
