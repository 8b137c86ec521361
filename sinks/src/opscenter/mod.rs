//! `opscenter` sink: creates one AWS Systems Manager OpsCenter OpsItem per
//! event with `CreateOpsItem`.
//!
//! * Request: a SigV4-signed `POST /` to the SSM endpoint with
//!   `X-Amz-Target: AmazonSSM.CreateOpsItem` and a JSON 1.1 body, made here
//!   ([`call`]) rather than through the SSM SDK crate: one operation does
//!   not justify compiling the whole SSM client. Credentials come from the
//!   same default chain as the other AWS receivers.
//! * Fields: `title`, `description`, `source` (required), `category`,
//!   `severity`, `priority`, the values of `operationalData` and `tags`, and
//!   `notifications` are templates; `priority` must render to an integer (an
//!   event for which it does not is rejected for this receiver and counted);
//!   `relatedOpsItems` are OpsItem ids as written (kubernetes-event-exporter
//!   filled them from the operational data values instead).
//! * Redeliveries: the OpsItem carries the operational data key
//!   `/aws/dedup` with the event's idempotency key, so OpsCenter does not
//!   open a second OpsItem for an event delivered twice (a `/aws/dedup`
//!   written in `operationalData` wins).
//! * Errors: throttling, 5xx, expired or refused credentials retriable;
//!   `ValidationException` and the like permanent ([`crate::aws::errors`]).

mod call;
mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::OpsCenterConfig;
pub use sink::{OpsCenterBuilder, OpsCenterRequest, OpsCenterSink};

/// The operation's `X-Amz-Target`.
pub const TARGET: &str = "AmazonSSM.CreateOpsItem";
