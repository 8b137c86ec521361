//! What the AWS receivers (`sqs`, `sns`, `kinesis`, `firehose`,
//! `eventbridge`, `opscenter`) share: the `region` and `endpoint` keys,
//! loading the SDK configuration with the standard credential chain, and
//! sorting AWS errors into retriable and permanent ones.
//!
//! * [`settings`]: `region` and `endpoint` decoded with located errors.
//! * [`sdk`]: the SDK configuration: region from the key or the default
//!   chain (`AWS_REGION`, profiles, instance metadata), credentials from the
//!   default chain (environment, shared config and profiles, web identity /
//!   IRSA, ECS and EC2 roles), `AWS_ENDPOINT_URL` and
//!   `AWS_ENDPOINT_URL_<SERVICE>`, and the SDK's own retries switched off:
//!   the delivery driver owns retries.
//! * [`errors`]: throttling, server errors, network failures and expired or
//!   missing credentials are retriable; a request AWS refuses for its
//!   content is permanent.
//! * [`fields`]: templated string fields.
//! * [`fifo`]: group and deduplication ids of FIFO queues and topics.
//! * [`batch`]: the per-entry answers of the batch APIs turned into the
//!   driver's item-by-item outcome.
//!
//! Credentials are never logged: the SDK's types print them as `** redacted **`
//! and errors carry AWS's code and message only.

pub mod batch;
pub mod errors;
pub mod fields;
pub mod fifo;
pub mod sdk;
pub mod settings;
#[cfg(test)]
pub(crate) mod testing;

pub use errors::{classify, is_retriable_code};
pub use sdk::{AwsError, load};
pub use settings::AwsSettings;
