//! One `CreateOpsItem` call: credentials from the chain (kept until shortly
//! before they expire), the SSM endpoint, SigV4 signing, and AWS's JSON 1.1
//! error answers sorted into retriable and permanent.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use reqwest::Url;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::TARGET;
use crate::aws::is_retriable_code;
use crate::driver::SendError;

/// Credentials expiring within this margin are fetched again first.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Where and how to call SSM.
pub(crate) struct SsmCaller {
    client: reqwest::Client,
    url: Url,
    region: String,
    provider: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
}

/// The SSM endpoint: the receiver's `endpoint`, else `AWS_ENDPOINT_URL_SSM`,
/// else `AWS_ENDPOINT_URL` (in `sdk`), else AWS's for the region.
pub(crate) fn endpoint(configured: Option<&Url>, sdk: &SdkConfig, region: &str) -> Option<Url> {
    if let Some(url) = configured {
        return Some(url.clone());
    }
    let env = std::env::var("AWS_ENDPOINT_URL_SSM")
        .ok()
        .filter(|v| !v.is_empty());
    if let Some(url) = env.as_deref().or(sdk.endpoint_url()) {
        return Url::parse(url).ok();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Url::parse(&format!("https://ssm.{region}.{suffix}/")).ok()
}

/// What an error answer says.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

/// The error code of an AWS JSON answer (`com.amazonaws.ssm#ValidationException`
/// or `ValidationException:http://…` are `ValidationException`).
fn error_code(raw: &str) -> &str {
    let code = raw.rsplit('#').next().unwrap_or(raw);
    code.split(':').next().unwrap_or(code)
}

impl SsmCaller {
    pub(crate) fn new(client: reqwest::Client, url: Url, region: String, sdk: &SdkConfig) -> Self {
        SsmCaller {
            client,
            url,
            region,
            provider: sdk.credentials_provider(),
            cached: Mutex::new(None),
        }
    }

    /// The endpoint (for previews).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    async fn credentials(&self) -> Result<Credentials, SendError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_MARGIN)
        });
        if !fresh {
            let provider = self.provider.as_ref().ok_or_else(|| {
                SendError::retriable("no AWS credentials provider is configured")
            })?;
            let credentials = provider.provide_credentials().await.map_err(|e| {
                SendError::retriable(format!(
                    "SSM CreateOpsItem: no AWS credentials: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
            })?;
            *cached = Some(credentials);
        }
        cached
            .clone()
            .ok_or_else(|| SendError::retriable("no AWS credentials"))
    }

    /// Forgets the credentials (AWS said they expired or are invalid), so
    /// the next call asks the chain again.
    async fn forget_credentials(&self) {
        *self.cached.lock().await = None;
    }

    /// Calls `CreateOpsItem` with `body`.
    pub(crate) async fn create_ops_item(&self, body: &[u8]) -> Result<(), SendError> {
        let credentials = self.credentials().await?;
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), TARGET.into()),
        ];
        let host = match (self.url.host_str(), self.url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(SendError::permanent("the SSM endpoint has no host")),
        };
        headers.push(("host".into(), host));
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ssm")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SendError::permanent(format!("cannot sign the request: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SendError::permanent(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| SendError::permanent(format!("cannot sign the request: {e}")))?
            .into_parts();
        let mut request = self.client.post(self.url.clone());
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in instructions.headers() {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| SendError::permanent("the signature is not a header value"))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SendError::retriable(format!("SSM CreateOpsItem: {}", without_url(&e))))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let header_code = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| error_code(v).to_owned());
        let bytes = response.bytes().await.unwrap_or_default();
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let code = header_code
            .or_else(|| parsed.as_ref().map(|b| error_code(&b.kind).to_owned()))
            .unwrap_or_default();
        let message = parsed.map(|b| b.message).unwrap_or_default();
        let text = format!("SSM CreateOpsItem: {code}: {message} (HTTP {status})");
        if code.contains("Token") || code.contains("Signature") || code == "UnrecognizedClientException" {
            self.forget_credentials().await;
        }
        if is_retriable_code(&code) || status == 429 || status >= 500 {
            Err(SendError::retriable(text))
        } else {
            Err(SendError::permanent(text))
        }
    }
}

/// A client error with its causes, without the URL.
fn without_url(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut message = if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_every_shape() {
        assert_eq!(error_code("com.amazonaws.ssm#ValidationException"), "ValidationException");
        assert_eq!(
            error_code("ThrottlingException:http://internal.amazon.com/coral/"),
            "ThrottlingException"
        );
        assert_eq!(error_code("OpsItemLimitExceededException"), "OpsItemLimitExceededException");
    }
}
