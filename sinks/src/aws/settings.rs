//! The `region` and `endpoint` keys every AWS receiver has.

use herald_config::{Diagnostics, Located};
use reqwest::Url;

use crate::util::http::redact_url;

/// Where a receiver's AWS calls go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `region`; `None` leaves it to the default chain (`AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile, instance metadata).
    pub region: Option<String>,
    /// `endpoint`: a base URL replacing AWS's (a VPC endpoint, LocalStack,
    /// moto). Without it `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL`
    /// are honoured.
    pub endpoint: Option<Url>,
}

impl AwsSettings {
    /// Checks `region` and `endpoint`, recording problems at their location.
    pub fn decode(
        region: Option<&Located<String>>,
        endpoint: Option<&Located<String>>,
        diags: &mut Diagnostics,
    ) -> Option<AwsSettings> {
        let before = diags.error_count();
        let region = region.and_then(|r| {
            let text = r.value.trim();
            if text.is_empty() {
                return None;
            }
            let valid = text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                r.error(diags, format!("`{text}` is not an AWS region name"))
                    .with_hint("a region is written like `us-east-1` or `eu-central-1`");
                return None;
            }
            Some(text.to_owned())
        });
        let endpoint = endpoint.and_then(|e| {
            let text = e.value.trim();
            if text.is_empty() {
                return None;
            }
            match Url::parse(text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(u)
                }
                Ok(u) => {
                    e.error(diags, format!("unsupported endpoint `{}`", redact_url(&u)))
                        .with_hint("use an http:// or https:// URL, such as https://sqs.eu-west-1.amazonaws.com");
                    None
                }
                Err(err) => {
                    e.error(diags, format!("invalid endpoint URL: {err}"))
                        .with_hint("write a full URL, such as http://localhost:4566");
                    None
                }
            }
        });
        (diags.error_count() == before).then_some(AwsSettings { region, endpoint })
    }
}
