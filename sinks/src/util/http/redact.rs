//! URLs as herald shows and logs them: userinfo and the values of
//! secret-looking query parameters replaced by `***`.
//!
//! `http://bob:x@host/in?token=abc&team=a` is shown as
//! `http://***@host/in?token=***&team=a`. Users put credentials in webhook
//! URLs (basic auth, `?token=`, signed URLs); none of them may reach a log
//! line, an error or a preview.

use std::fmt::Write as _;

use reqwest::Url;

/// Parameter names that are secrets whatever else they contain.
const SECRET_PARAMS: &[&str] = &["key", "sig", "pwd", "pass", "auth", "code"];

/// Returns whether a query parameter (already percent-decoded) carries a
/// credential: `key`, `sig`, `pwd`, `pass`, `auth`, `code`, or any name
/// containing `token`, `secret`, `password`, `passwd`, `apikey`, `api_key`,
/// `api-key`, `signature`, `credential`, `authorization` or `private_key`
/// (case-insensitive; `access_token`, `X-Amz-Signature`, `client_secret`).
pub fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&lower.as_str())
        || lower.contains("signature")
        || herald_config::is_secret_key(&lower)
}

/// Returns `url` with its userinfo and the values of secret-looking query
/// (and fragment) parameters replaced by `***`; everything else as written.
pub fn redact_url(url: &Url) -> String {
    let mut out = format!("{}:", url.scheme());
    if let Some(host) = url.host_str() {
        out.push_str("//");
        if !url.username().is_empty() || url.password().is_some() {
            out.push_str("***@");
        }
        out.push_str(host);
        if let Some(port) = url.port() {
            // Writing to a String cannot fail.
            let _ = write!(out, ":{port}");
        }
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(&redact_params(query));
    }
    if let Some(fragment) = url.fragment() {
        out.push('#');
        out.push_str(&redact_params(fragment));
    }
    out
}

/// Returns `url` for a URL that is itself a credential (a Slack incoming
/// webhook, a Teams connector: whoever knows the path can post): scheme,
/// host, port and the first path segment as written, the rest of the path as
/// `***`, the query [redacted](redact_url) as usual.
///
/// `https://hooks.slack.com/services/T0/B0/XyZ` is shown as
/// `https://hooks.slack.com/services/***`.
pub fn redact_secret_url(url: &Url) -> String {
    let mut shown = url.clone();
    let mut segments = url.path().trim_start_matches('/').splitn(2, '/');
    let first = segments.next().unwrap_or_default();
    let path = match segments.next() {
        Some(rest) if !rest.is_empty() => format!("/{first}/***"),
        _ if !first.is_empty() => "/***".to_owned(),
        _ => "/".to_owned(),
    };
    shown.set_path(&path);
    // `set_path` percent-encodes nothing in `***`; the fragment never goes out.
    shown.set_fragment(None);
    redact_url(&shown)
}

/// Redacts the values of secret `name=value` pairs of a query string, keeping
/// every other byte as written.
fn redact_params(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret_param(&decode(name)) => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decodes a query component (`+` is a space), lossily.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(url: &str) -> String {
        redact_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn userinfo_and_secret_parameters_are_masked() {
        assert_eq!(
            redact("http://bob:x@host/?token=x"),
            "http://***@host/?token=***"
        );
        assert_eq!(
            redact("https://ghp_user@hooks.example.com:8443/in"),
            "https://***@hooks.example.com:8443/in"
        );
        assert_eq!(
            redact("https://h/in?team=a&api_key=k1&Signature=s&X-Amz-Credential=c&sig=z&page=2"),
            "https://h/in?team=a&api_key=***&Signature=***&X-Amz-Credential=***&sig=***&page=2"
        );
        assert_eq!(
            redact("https://h/cb?access_token=t&client_secret=s&password=p&key=k&apikey=a"),
            "https://h/cb?access_token=***&client_secret=***&password=***&key=***&apikey=***"
        );
    }

    #[test]
    fn everything_else_is_kept_as_written() {
        for url in [
            "https://hooks.example.com/alerts",
            "http://127.0.0.1:8080/hook?team=a&b=%20c",
            "https://h/in?monkey=1&keyboard=2&token=",
            "https://h/in?flag&x=1",
            "https://[::1]:9200/_bulk",
        ] {
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn encoded_parameter_names_are_recognised() {
        assert_eq!(
            redact("https://h/?acc%65ss_token=t"),
            "https://h/?acc%65ss_token=***"
        );
        assert_eq!(redact("https://h/?api%5Fkey=t"), "https://h/?api%5Fkey=***");
        assert_eq!(
            redact("https://h/?x=1#access_token=t"),
            "https://h/?x=1#access_token=***"
        );
    }

    #[test]
    fn secret_urls_keep_only_their_first_path_segment() {
        let secret = |u: &str| redact_secret_url(&Url::parse(u).unwrap());
        assert_eq!(
            secret("https://hooks.slack.com/services/T0/B0/XyZ"),
            "https://hooks.slack.com/services/***"
        );
        assert_eq!(
            secret("https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d"),
            "https://x.webhook.office.com/webhookb2/***"
        );
        assert_eq!(
            secret("https://h.logic.azure.com:443/workflows/id/triggers?api-version=1&sig=abc"),
            "https://h.logic.azure.com/workflows/***?api-version=1&sig=***"
        );
        assert_eq!(
            secret("http://u:p@127.0.0.1:8080/XyZ"),
            "http://***@127.0.0.1:8080/***"
        );
        assert_eq!(secret("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
    }

    #[test]
    fn decoding_survives_broken_escapes() {
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("a+b%41"), "a bA");
        assert_eq!(decode("%"), "%");
    }
}
