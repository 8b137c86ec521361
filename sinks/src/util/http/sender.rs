//! [`HttpSender`]: the one way HTTP receivers talk to their targets.
//!
//! * One client per receiver (kubernetes-event-exporter raced on Go's shared
//!   client), built from the receiver's `tls` block and its
//!   `delivery.timeout`. The driver enforces the timeout around every send
//!   and counts it as a timeout; the client's own limit is a backstop one
//!   second later, so the two never race.
//! * The standard proxy variables are honoured (reqwest's own handling, read
//!   when the receiver starts): `HTTPS_PROXY` for `https://` targets (through
//!   `CONNECT`), `HTTP_PROXY` for `http://` targets, `ALL_PROXY` for both,
//!   `NO_PROXY` for exceptions (host names, domain suffixes, IP ranges, `*`);
//!   lower-case spellings too. A proxy URL may carry basic-auth userinfo; a
//!   value that is not an http(s) URL is ignored. When `REQUEST_METHOD` is set
//!   (a CGI environment, where `HTTP_PROXY` may come from a request header)
//!   every proxy variable is ignored.
//! * Redirects are not followed: a 3xx answer is a permanent error (a
//!   redirected `POST` would silently turn into a `GET` without body).
//! * Header names go out in the case they are written (Go's canonical form
//!   for kubernetes-event-exporter's headers) over HTTP/1.1.
//! * Every request has `User-Agent: herald/<version>` and `Accept: */*`
//!   unless the receiver sets its own ([`HttpRequest::new`]), so the request
//!   a receiver builds is the request sent, and [`HttpRequest::describe`]
//!   shows it as it goes out.
//! * Answers: 2xx is returned ([`HttpResponse`]); 429 and 5xx are retriable
//!   and honour `Retry-After` (seconds or an HTTP date); other statuses are
//!   permanent. The error of a non-2xx answer quotes the first 512 bytes of
//!   its body; connection errors and timeouts are retriable. No error ever
//!   contains the URL (it may carry credentials).

use std::error::Error as _;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Client, Method, StatusCode, Url};

use super::redact::redact_url;
use super::{BODY_SNIPPET, canonical_header_name, classify_status, parse_retry_after};
use crate::config::TlsConfig;
use crate::driver::SendError;
use crate::util::tls::{TlsError, client_config};

/// `User-Agent` of every request, unless a receiver sets its own.
pub const DEFAULT_USER_AGENT: &str = concat!("herald/", env!("CARGO_PKG_VERSION"));

/// Most bytes of a 2xx answer's body [`HttpResponse::body`] reads.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// How much later than the driver's timeout the client gives up by itself.
const CLIENT_TIMEOUT_MARGIN: Duration = Duration::from_secs(1);

/// The HTTP client of a receiver could not be created.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The `tls` block could not be applied.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The client could not be built (a proxy variable that is not a URL, …).
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
}

/// One HTTP request, complete: what a receiver's request builder makes, what
/// [`HttpSender::send`] sends and what `herald route` shows.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// `POST`, `PUT`, …
    pub method: Method,
    /// Where to; never shown without [`redact_url`].
    pub url: Url,
    /// Every header herald sends (the client adds only `Host` and
    /// `Content-Length`).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HttpRequest {
    /// A request with herald's default headers (`User-Agent`, `Accept`) and
    /// an empty body. Headers the receiver inserts replace the defaults.
    pub fn new(method: Method, url: Url) -> HttpRequest {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        HttpRequest {
            method,
            url,
            headers,
            body: Bytes::new(),
        }
    }

    /// Shows the request as it goes out over HTTP/1.1: the request line with
    /// the [redacted](redact_url) URL, `Host`, every header (credentials —
    /// values marked sensitive or under a credential-looking name — as `***`),
    /// `Content-Length`, a blank line and the body (text, or its size when it
    /// is binary).
    pub fn describe(&self) -> String {
        let mut url = self.url.clone();
        url.set_fragment(None);
        let mut out = format!("{} {}\n", self.method, redact_url(&url));
        // Writing to a String cannot fail.
        let _ = writeln!(out, "Host: {}", host_header(&self.url));
        for (name, value) in &self.headers {
            let shown = if is_credential(name, value) {
                "***".into()
            } else {
                String::from_utf8_lossy(value.as_bytes())
            };
            let _ = writeln!(out, "{}: {shown}", canonical_header_name(name.as_str()));
        }
        let _ = writeln!(out, "Content-Length: {}\n", self.body.len());
        match std::str::from_utf8(&self.body) {
            Ok(text) => out.push_str(text),
            Err(_) => {
                let _ = write!(out, "({} bytes of binary data)", self.body.len());
            }
        }
        out
    }
}

/// The `Host` header of `url`: its host, and its port unless it is the
/// scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Whether a header value must not be shown.
fn is_credential(name: &HeaderName, value: &HeaderValue) -> bool {
    value.is_sensitive()
        || matches!(name.as_str(), "cookie" | "proxy-authorization")
        || herald_config::is_secret_key(name.as_str())
}

/// A 2xx answer.
#[derive(Debug)]
pub struct HttpResponse {
    response: reqwest::Response,
}

impl HttpResponse {
    /// Returns the status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// Returns the headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// Reads the body (for targets that answer item by item).
    ///
    /// # Errors
    /// The connection failed while reading (retriable), or the body is larger
    /// than [`MAX_RESPONSE_BODY`] (permanent).
    pub async fn body(mut self) -> Result<Bytes, SendError> {
        let mut body = Vec::new();
        while let Some(chunk) = self
            .response
            .chunk()
            .await
            .map_err(|e| SendError::retriable(describe_error(&e)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                return Err(SendError::permanent(format!(
                    "the response body is larger than {MAX_RESPONSE_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }
}

/// Sends a receiver's requests with its own client.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: Client,
}

impl HttpSender {
    /// Creates the client of a receiver: its `tls` block (none or an empty
    /// one uses the system roots), its request `timeout`, the proxy
    /// variables of the environment.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, or the client cannot be built.
    pub fn new(tls: Option<&TlsConfig>, timeout: Duration) -> Result<HttpSender, HttpClientError> {
        let backstop = timeout.saturating_add(CLIENT_TIMEOUT_MARGIN);
        let mut builder = Client::builder()
            .timeout(backstop)
            .connect_timeout(backstop)
            .redirect(reqwest::redirect::Policy::none())
            .http1_title_case_headers();
        if let Some(tls) = tls.filter(|t| !t.is_default()) {
            builder = builder.tls_backend_preconfigured(client_config(tls)?);
        }
        let client = builder
            .build()
            .map_err(|e| HttpClientError::Client(describe_error(&e)))?;
        Ok(HttpSender { client })
    }

    /// Sends `request` and returns a 2xx answer.
    ///
    /// # Errors
    /// A connection error or timeout (retriable), or a non-2xx status,
    /// classified: 429 and 5xx retriable with the target's `Retry-After`,
    /// others permanent; the message quotes the start of the answer's body.
    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, SendError> {
        let response = self
            .client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| SendError::retriable(describe_error(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(HttpResponse { response });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let mut response = response;
        let mut body = Vec::new();
        while body.len() < BODY_SNIPPET {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Err(classify_status(status.as_u16(), retry_after, &body))
    }
}

/// Describes a client error with its causes but without the URL (reqwest's
/// own message quotes it, and it may carry credentials).
fn describe_error(e: &reqwest::Error) -> String {
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
mod tests;
