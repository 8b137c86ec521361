//! Access tokens for BigQuery, from Google's auth library
//! (`google-cloud-auth`): a service-account key file (`credentials_path`,
//! self-signed JWTs, no token endpoint involved) or Application Default
//! Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, workload identity, the
//! metadata server). Tokens are cached and refreshed by the library.

use google_cloud_auth::credentials::{self, AccessTokenCredentials, service_account};

use super::BigqueryError;

/// A credentials file problem, for a config diagnostic.
#[derive(Debug)]
pub(crate) struct KeyFileProblem {
    pub message: String,
    pub hint: String,
}

const KEY_HINT: &str = "create a key for a service account (IAM > Service accounts > Keys, JSON) \
     or leave `credentials_path` out to use Application Default Credentials (workload identity)";

/// Reads a key file and checks that it is a service-account key. The
/// file's content is never quoted.
pub(crate) fn read_key_file(path: &str) -> Result<serde_json::Value, KeyFileProblem> {
    let text = std::fs::read(path).map_err(|e| KeyFileProblem {
        message: format!("cannot read the credentials file `{path}`: {e}"),
        hint: "mount the file into the container or fix the path".to_owned(),
    })?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|_| KeyFileProblem {
        message: format!("the credentials file `{path}` is not JSON"),
        hint: KEY_HINT.to_owned(),
    })?;
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some("service_account") => {}
        Some(other) if other.len() <= 64 && other.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(KeyFileProblem {
                message: format!(
                    "the credentials file `{path}` holds `{other}` credentials, not a service-account key"
                ),
                hint: KEY_HINT.to_owned(),
            });
        }
        _ => {
            return Err(KeyFileProblem {
                message: format!("the credentials file `{path}` is not a service-account key"),
                hint: KEY_HINT.to_owned(),
            });
        }
    }
    for field in ["client_email", "private_key"] {
        if value.get(field).and_then(serde_json::Value::as_str).is_none_or(str::is_empty) {
            return Err(KeyFileProblem {
                message: format!("the service-account key `{path}` has no `{field}`"),
                hint: KEY_HINT.to_owned(),
            });
        }
    }
    Ok(value)
}

/// Checks a key file at config time.
pub(crate) fn check_key_file(path: &str) -> Result<(), KeyFileProblem> {
    read_key_file(path).map(|_| ())
}

/// Where tokens come from.
#[derive(Clone, Debug)]
pub struct TokenSource {
    credentials: AccessTokenCredentials,
}

impl TokenSource {
    /// The service-account key at `path`, or Application Default Credentials.
    ///
    /// # Errors
    /// The key file is unreadable or not a service-account key, or no
    /// Application Default Credentials are found.
    pub fn new(path: Option<&str>) -> Result<TokenSource, BigqueryError> {
        let credentials = match path {
            Some(path) => {
                let key = read_key_file(path)
                    .map_err(|p| BigqueryError::Credentials(p.message))?;
                service_account::Builder::new(key)
                    .build_access_token_credentials()
                    .map_err(|e| BigqueryError::Credentials(format!("the service-account key `{path}` cannot be used: {e}")))?
            }
            None => credentials::Builder::default()
                .build_access_token_credentials()
                .map_err(|e| {
                    BigqueryError::Credentials(format!(
                        "no Application Default Credentials: {e}"
                    ))
                })?,
        };
        Ok(TokenSource { credentials })
    }

    /// Returns a current access token.
    ///
    /// # Errors
    /// The token could not be made or fetched (the message is the library's;
    /// it never holds the token).
    pub async fn token(&self) -> Result<String, String> {
        self.credentials
            .access_token()
            .await
            .map(|t| t.token)
            .map_err(|e| format!("cannot get a Google access token: {e}"))
    }
}
