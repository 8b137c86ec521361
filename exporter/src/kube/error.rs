//! [`ApiError`]: one classification of everything the API server (or the path to it) can
//! answer, shared by the watcher, the enricher and the leader elector.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// Longest piece of a response body or watch line quoted in an error.
pub const QUOTE_LIMIT: usize = 200;

/// Longest `Retry-After` honoured; larger values are clamped to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A failed API call, classified by what the caller should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 410 Gone: the resourceVersion (or continue token) is too old. Both the HTTP 410 of
    /// a list and the `ERROR` line with code 410 of a watch.
    #[error("resource version expired (410): {message}")]
    Gone {
        /// The Status message.
        message: String,
    },
    /// 504 with the cause `ResourceVersionTooLarge`: the API server has not reached the
    /// requested resourceVersion (a lagging API server, or etcd was restored from a
    /// snapshot and its revisions restarted lower). A watch `ERROR` line or a list's
    /// HTTP 504.
    #[error("resource version too large (504): {message}")]
    TooLarge {
        /// The Status message.
        message: String,
    },
    /// 429 Too Many Requests.
    #[error("too many requests (429), retry after {retry_after:?}")]
    TooManyRequests {
        /// The `Retry-After` header in seconds, when present and valid.
        retry_after: Option<Duration>,
    },
    /// 409 Conflict (stale resourceVersion on update, or create of an existing name).
    #[error("conflict (409): {message}")]
    Conflict {
        /// The Status message.
        message: String,
    },
    /// 404 Not Found.
    #[error("not found (404): {message}")]
    NotFound {
        /// The Status message.
        message: String,
    },
    /// 401 Unauthorized or 403 Forbidden.
    #[error("forbidden ({code}): {message}")]
    Forbidden {
        /// 401 or 403.
        code: u16,
        /// The Status message.
        message: String,
    },
    /// A 5xx answer.
    #[error("server error ({code}): {message}")]
    Server {
        /// The HTTP status code.
        code: u16,
        /// The Status message or the start of the body.
        message: String,
    },
    /// Any other non-success answer.
    #[error("unexpected answer ({code}): {message}")]
    Unexpected {
        /// The HTTP status code.
        code: u16,
        /// The Status message or the start of the body.
        message: String,
    },
    /// The request could not be sent or the response could not be read.
    #[error("transport error: {0}")]
    Transport(#[source] Arc<kube::Error>),
    /// A watch stream ended in the middle of a line (the connection was cut).
    #[error("watch stream ended in the middle of a line")]
    StreamCut,
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A body or a watch line is not what the API promises.
    #[error("cannot decode {what}: {error} (start: {line:?})")]
    Decode {
        /// What was being decoded (`watch line`, `event list`, ...).
        what: &'static str,
        /// The decoder's complaint.
        error: String,
        /// The offending text, cut to [`QUOTE_LIMIT`] characters.
        line: String,
    },
}

impl ApiError {
    /// Builds the error for a non-success HTTP answer.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let message = status_message(body);
        if status == StatusCode::GATEWAY_TIMEOUT
            && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| too_large(&v))
        {
            return Self::TooLarge { message };
        }
        Self::from_code(status.as_u16(), message, Some(headers))
    }

    /// Builds the error for a Status object (for example a watch `ERROR` line).
    pub(crate) fn from_status_value(status: &serde_json::Value) -> Self {
        let code = status
            .get("code")
            .and_then(serde_json::Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        let message = status
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map(|m| truncate(m, QUOTE_LIMIT))
            .unwrap_or_default();
        if code == 504 && too_large(status) {
            return Self::TooLarge { message };
        }
        Self::from_code(code, message, None)
    }

    fn from_code(code: u16, message: String, headers: Option<&HeaderMap>) -> Self {
        match code {
            410 => Self::Gone { message },
            429 => Self::TooManyRequests {
                retry_after: headers.and_then(retry_after),
            },
            409 => Self::Conflict { message },
            404 => Self::NotFound { message },
            401 | 403 => Self::Forbidden { code, message },
            500..=599 => Self::Server { code, message },
            _ => Self::Unexpected { code, message },
        }
    }

    /// Builds a [`ApiError::Decode`] quoting at most [`QUOTE_LIMIT`] characters of `text`.
    pub fn decode(what: &'static str, error: impl ToString, text: &[u8]) -> Self {
        Self::Decode {
            what,
            error: error.to_string(),
            line: truncate(&String::from_utf8_lossy(text), QUOTE_LIMIT),
        }
    }

    /// Returns true for 410 Gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Gone { .. })
    }

    /// Returns true for a resourceVersion the API server has not reached.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }
}

/// Whether a 504 Status says "Too large resource version": the cause
/// `ResourceVersionTooLarge`, or (API servers older than the cause) the message.
fn too_large(status: &serde_json::Value) -> bool {
    let by_cause = status
        .pointer("/details/causes")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|causes| {
            causes.iter().any(|c| {
                c.get("reason").and_then(serde_json::Value::as_str)
                    == Some("ResourceVersionTooLarge")
            })
        });
    let by_message = status
        .get("message")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m.contains("Too large resource version"));
    by_cause || by_message
}

impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        Self::Transport(Arc::new(e))
    }
}

/// Reads `Retry-After` as delay-seconds (the form the API server sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[derive(Deserialize)]
struct StatusBody {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Returns the Status message of a JSON Status body, else the start of the text.
fn status_message(body: &[u8]) -> String {
    if let Ok(status) = serde_json::from_slice::<StatusBody>(body)
        && status.kind.as_deref() == Some("Status")
    {
        return truncate(&status.message.unwrap_or_default(), QUOTE_LIMIT);
    }
    truncate(String::from_utf8_lossy(body).trim(), QUOTE_LIMIT)
}

/// Cuts `text` to at most `limit` characters, marking the cut with `…`.
pub(crate) fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../kubesim/fixtures/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).unwrap()
    }

    #[test]
    fn plain_text_429_with_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1".parse().unwrap());
        headers.insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
        let err = ApiError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            &fixture("event-create-429.txt"),
        );
        match err {
            ApiError::TooManyRequests { retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(1)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn retry_after_absent_invalid_or_huge() {
        let none = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b"");
        assert!(matches!(
            none,
            ApiError::TooManyRequests { retry_after: None }
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        let date = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"");
        assert!(matches!(
            date,
            ApiError::TooManyRequests { retry_after: None }
        ));
        headers.insert("retry-after", "999999".parse().unwrap());
        let huge = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"");
        assert!(matches!(
            huge,
            ApiError::TooManyRequests { retry_after: Some(d) } if d == MAX_RETRY_AFTER
        ));
    }

    #[test]
    fn list_410_is_gone_with_status_message() {
        let err = ApiError::from_response(
            StatusCode::GONE,
            &HeaderMap::new(),
            &fixture("watch-gone-410.json"),
        );
        assert!(err.is_gone());
        assert_eq!(
            err.to_string(),
            "resource version expired (410): The resourceVersion for the provided list is too old."
        );
        let cont = ApiError::from_response(
            StatusCode::GONE,
            &HeaderMap::new(),
            &fixture("list-continue-gone-410.json"),
        );
        assert!(cont.is_gone());
    }

    #[test]
    fn watch_error_line_410_is_gone() {
        for name in ["watch-gone-410.ndjson", "watch-gone-410-watchcache.ndjson"] {
            let line: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
            let err = ApiError::from_status_value(&line["object"]);
            assert!(err.is_gone(), "{name}: {err:?}");
        }
    }

    const TOO_LARGE: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 5000, current: 279","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504}"#;

    #[test]
    fn too_large_resource_version_as_a_watch_line_or_a_list_answer() {
        let status: serde_json::Value = serde_json::from_str(TOO_LARGE).unwrap();
        let err = ApiError::from_status_value(&status);
        assert!(err.is_too_large(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "resource version too large (504): Timeout: Too large resource version: 5000, current: 279"
        );
        let list = ApiError::from_response(
            StatusCode::GATEWAY_TIMEOUT,
            &HeaderMap::new(),
            TOO_LARGE.as_bytes(),
        );
        assert!(list.is_too_large(), "{list:?}");
        // an ordinary 504 stays a server error
        let plain = ApiError::from_response(
            StatusCode::GATEWAY_TIMEOUT,
            &HeaderMap::new(),
            br#"{"kind":"Status","message":"Timeout: request did not complete within 60s","reason":"Timeout","code":504}"#,
        );
        assert!(
            matches!(plain, ApiError::Server { code: 504, .. }),
            "{plain:?}"
        );
    }

    #[test]
    fn classifies_409_404_403_5xx_and_others() {
        let h = HeaderMap::new();
        let conflict = ApiError::from_response(
            StatusCode::CONFLICT,
            &h,
            &fixture("lease-conflict-409.json"),
        );
        assert!(
            matches!(&conflict, ApiError::Conflict { message } if message.starts_with("Operation cannot be fulfilled"))
        );
        let nf = ApiError::from_response(
            StatusCode::NOT_FOUND,
            &h,
            &fixture("involved-pod-metadata-404.json"),
        );
        assert!(
            matches!(&nf, ApiError::NotFound { message } if message == "pods \"nginx-74447cbdd9-r9zqj\" not found")
        );
        assert!(matches!(
            ApiError::from_response(StatusCode::FORBIDDEN, &h, b"{}"),
            ApiError::Forbidden { code: 403, .. }
        ));
        assert!(matches!(
            ApiError::from_response(StatusCode::UNAUTHORIZED, &h, b""),
            ApiError::Forbidden { code: 401, .. }
        ));
        assert!(matches!(
            ApiError::from_response(StatusCode::SERVICE_UNAVAILABLE, &h, b"upstream down"),
            ApiError::Server { code: 503, message } if message == "upstream down"
        ));
        assert!(matches!(
            ApiError::from_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &h,
                &fixture("event-create-422-invalid.json")
            ),
            ApiError::Unexpected { code: 422, .. }
        ));
    }

    #[test]
    fn decode_quotes_at_most_200_chars() {
        let long = "x".repeat(1000);
        let err = ApiError::decode("watch line", "bad", long.as_bytes());
        let ApiError::Decode { line, .. } = err else {
            panic!("not decode")
        };
        assert_eq!(line.chars().count(), QUOTE_LIMIT + 1);
        assert!(line.ends_with('…'));
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = "e".repeat(5000);
        let err =
            ApiError::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), body.as_bytes());
        assert!(err.to_string().len() < 300);
    }
}
