//! Test helpers of the AWS receivers: an SDK configuration with fixed
//! credentials, and loading one receiver's block.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The access key id of [`sdk`].
pub(crate) const ACCESS_KEY: &str = "AKIDEXAMPLE";
/// The secret key of [`sdk`].
pub(crate) const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// An SDK configuration for region `us-east-1` with fixed credentials and
/// the SDK's retries off (as [`load`](super::load) makes it).
pub(crate) fn sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        )))
        .retry_config(RetryConfig::disabled())
        .build()
}

/// Decodes `receivers:` YAML and returns the first receiver's config of
/// type `T` with the diagnostics.
pub(crate) fn load<T: crate::SinkType + Clone>(
    yaml: &str,
) -> (Option<T>, herald_config::Diagnostics) {
    let (r, diags) = crate::config::tests::parse(yaml);
    let c = r.first().and_then(|r| r.sink.downcast_ref::<T>()).cloned();
    (c, diags)
}
