//! Loading the SDK configuration of one receiver.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::AwsSettings;

/// An AWS receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// Neither the receiver nor the environment names a region.
    #[error(
        "no AWS region: the receiver has no `region` and none was found in AWS_REGION, \
         AWS_DEFAULT_REGION, the shared config file or instance metadata \
         (set `region:` in the receiver, such as `region: us-east-1`)"
    )]
    NoRegion,
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
}

/// Loads the SDK configuration for `settings`: the default credential chain
/// (environment, shared config and profiles, web identity / IRSA, ECS and EC2
/// roles, `credential_process`), the region from `region` or the default
/// chain, and the SDK's retries off.
///
/// The endpoint override is applied per service client (so that
/// `AWS_ENDPOINT_URL_<SERVICE>` still works without one).
///
/// # Errors
/// [`AwsError::NoRegion`] when no region is configured anywhere.
pub async fn load(settings: &AwsSettings) -> Result<SdkConfig, AwsError> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    Ok(config)
}

/// The endpoint override of `settings` as the SDK builders take it (without
/// a trailing `/`).
pub fn endpoint(settings: &AwsSettings) -> Option<String> {
    settings
        .endpoint
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
}
