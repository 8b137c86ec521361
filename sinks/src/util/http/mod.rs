//! What every HTTP receiver shares: the [`HttpSender`] (one client per
//! receiver, its requests and their previews), URL redaction, `Retry-After`
//! parsing, response classification and Go's canonical header names.

mod each;
mod redact;
mod sender;

pub use each::{describe_each, send_each};
pub use redact::{is_secret_param, redact_secret_url, redact_url};
pub use sender::{
    DEFAULT_USER_AGENT, HttpClientError, HttpRequest, HttpResponse, HttpSender, MAX_RESPONSE_BODY,
};

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::driver::SendError;

/// Most bytes of a response body quoted in an error.
pub const BODY_SNIPPET: usize = 512;

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime) relative to `now`; a date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
                .map(|n| n.and_utc())
        })?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Classifies a non-2xx HTTP response: 429 and 5xx are retriable (honouring
/// `retry_after`), anything else is permanent. The first
/// [`BODY_SNIPPET`] bytes of the body go into the message.
pub fn classify_status(status: u16, retry_after: Option<Duration>, body: &[u8]) -> SendError {
    let snippet = body_snippet(body);
    let message = if snippet.is_empty() {
        format!("unexpected HTTP status {status}")
    } else {
        format!("unexpected HTTP status {status}: {snippet}")
    };
    if status == 429 || (500..600).contains(&status) {
        SendError::Retriable {
            message,
            retry_after,
        }
    } else {
        SendError::Permanent { message }
    }
}

/// Returns at most [`BODY_SNIPPET`] bytes of `body` as text (lossy UTF-8,
/// cut at a character boundary, trimmed).
pub fn body_snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_SNIPPET)];
    let text = String::from_utf8_lossy(cut);
    let text = text.trim_end_matches('\u{fffd}');
    text.trim().to_owned()
}

/// Returns Go's canonical form of a header name (`x-api-key` → `X-Api-Key`,
/// `textproto.CanonicalMIMEHeaderKey`): the first letter and every letter
/// after `-` upper case, the rest lower case. A name with bytes that are not
/// valid in a header name is returned unchanged, as Go does.
pub fn canonical_header_name(name: &str) -> String {
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 30).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:40 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:31 1994", now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn statuses_are_classified() {
        assert!(classify_status(503, None, b"").is_retriable());
        assert!(classify_status(429, Some(Duration::from_secs(3)), b"").is_retriable());
        assert_eq!(
            classify_status(429, Some(Duration::from_secs(3)), b"").retry_after(),
            Some(Duration::from_secs(3))
        );
        let e = classify_status(400, None, b"  bad request: missing field  ");
        assert!(!e.is_retriable());
        assert_eq!(
            e.to_string(),
            "unexpected HTTP status 400: bad request: missing field"
        );
        assert!(!classify_status(302, None, b"").is_retriable());
    }

    #[test]
    fn long_bodies_are_cut_to_512_bytes() {
        let body = "é".repeat(400); // 800 bytes
        let s = body_snippet(body.as_bytes());
        assert!(s.len() <= BODY_SNIPPET);
        assert_eq!(s.chars().count(), 256);
    }

    #[test]
    fn header_names_are_canonicalised_like_go() {
        assert_eq!(canonical_header_name("x-api-key"), "X-Api-Key");
        assert_eq!(canonical_header_name("AUTHORIZATION"), "Authorization");
        assert_eq!(canonical_header_name("content-TYPE"), "Content-Type");
        assert_eq!(canonical_header_name("x_under"), "X_under");
        assert_eq!(canonical_header_name("bad name"), "bad name");
    }
}
