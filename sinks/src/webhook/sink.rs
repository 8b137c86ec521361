//! The `webhook` sink and its request builder.

use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Client, Url};
use tracing::warn;

use super::{HeaderTemplate, WebhookConfig, WebhookError};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;
use crate::util::http::{BODY_SNIPPET, classify_status, parse_retry_after};
use crate::util::tls::client_config;

/// `User-Agent` of every request.
const DEFAULT_USER_AGENT: &str = concat!("herald/", env!("CARGO_PKG_VERSION"));

/// One encoded event: its body and the headers rendered for it.
#[derive(Debug)]
pub struct WebhookItem {
    body: Vec<u8>,
    headers: HeaderMap,
}

/// One request, reused across retries.
#[derive(Debug)]
pub struct WebhookRequest {
    body: Bytes,
    headers: HeaderMap,
}

/// Turns events into webhook requests.
#[derive(Debug, Clone)]
pub struct WebhookBuilder {
    name: Arc<str>,
    endpoint: Url,
    encoder: PayloadEncoder,
    /// Defaults plus headers without template actions.
    static_headers: HeaderMap,
    /// Headers rendered per event.
    dynamic_headers: Vec<HeaderTemplate>,
}

impl WebhookBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &WebhookConfig) -> WebhookBuilder {
        let mut static_headers = HeaderMap::new();
        static_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        static_headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        let mut dynamic_headers = Vec::new();
        // A configured header replaces the default of the same name; several
        // configured values of one name (differing only in case) are all sent.
        for h in &config.headers {
            static_headers.remove(&h.name);
        }
        for h in &config.headers {
            if h.template.is_some() {
                dynamic_headers.push(h.clone());
            } else if let Some(v) = header_value(h, h.raw.expose()) {
                static_headers.append(h.name.clone(), v);
            }
        }
        WebhookBuilder {
            name: Arc::from(name),
            endpoint: config.endpoint.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            static_headers,
            dynamic_headers,
        }
    }

    fn render_header(&self, h: &HeaderTemplate, d: &Delivery) -> Option<HeaderValue> {
        let Some(template) = &h.template else {
            return header_value(h, h.raw.expose());
        };
        let mut text = String::new();
        match template.render_into(d.value(), &mut text) {
            Ok(()) => {}
            Err(e) => {
                warn!(
                    sink = %self.name,
                    sink_type = WebhookConfig::NAME,
                    header = %h.name,
                    error = %e,
                    "header template failed for this event, sending its raw text"
                );
                text.clone_from(h.raw.expose());
            }
        }
        let value = header_value(h, &text);
        if value.is_none() {
            warn!(
                sink = %self.name,
                sink_type = WebhookConfig::NAME,
                header = %h.name,
                "rendered header value contains characters HTTP does not allow, header not sent"
            );
        }
        value
    }
}

fn header_value(h: &HeaderTemplate, text: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_bytes(text.as_bytes()).ok()?;
    v.set_sensitive(h.sensitive);
    Some(v)
}

impl RequestBuilder for WebhookBuilder {
    type Item = WebhookItem;
    type Request = WebhookRequest;

    fn encode(&self, delivery: &Delivery) -> Result<WebhookItem, EncodeError> {
        let mut body = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut body)?;
        let mut headers = HeaderMap::new();
        for h in &self.dynamic_headers {
            if let Some(v) = self.render_header(h, delivery) {
                headers.append(h.name.clone(), v);
            }
        }
        Ok(WebhookItem { body, headers })
    }

    fn item_size(&self, item: &WebhookItem) -> usize {
        item.body.len()
    }

    fn build_request(&self, items: &[WebhookItem]) -> WebhookRequest {
        let mut headers = self.static_headers.clone();
        // Dynamic headers of a batch are rendered from its first event.
        if let Some(first) = items.first() {
            for (name, value) in &first.headers {
                headers.append(name.clone(), value.clone());
            }
        }
        let body = match items {
            [one] => one.body.clone(),
            _ => {
                let mut body =
                    Vec::with_capacity(items.iter().map(|i| i.body.len() + 1).sum::<usize>() + 1);
                body.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(&item.body);
                }
                body.push(b']');
                body
            }
        };
        WebhookRequest {
            body: Bytes::from(body),
            headers,
        }
    }

    fn describe(&self, request: &WebhookRequest) -> String {
        let mut out = format!("POST {}\n", self.endpoint);
        for (name, value) in &request.headers {
            let value = if value.is_sensitive() {
                "***".into()
            } else {
                String::from_utf8_lossy(value.as_bytes())
            };
            let name = crate::util::http::canonical_header_name(name.as_str());
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{name}: {value}");
        }
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&request.body));
        out
    }
}

/// Posts events to an HTTP endpoint.
pub struct WebhookSink {
    builder: WebhookBuilder,
    client: Client,
}

/// How much later than the driver's timeout the HTTP client gives up by itself.
const CLIENT_TIMEOUT_MARGIN: Duration = Duration::from_secs(1);

impl WebhookSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, or the client cannot be built.
    pub fn new(
        name: &str,
        config: &WebhookConfig,
        timeout: Duration,
    ) -> Result<Self, WebhookError> {
        // The driver enforces `timeout` around every send and reports it as a
        // timeout; the client's own limit is only a backstop a little later, so
        // the two never race and a hung endpoint is always counted as `timeout`.
        let backstop = timeout.saturating_add(CLIENT_TIMEOUT_MARGIN);
        let mut builder = Client::builder()
            .timeout(backstop)
            .connect_timeout(backstop)
            .http1_title_case_headers();
        if let Some(tls) = config.tls.as_ref().filter(|t| !t.is_default()) {
            builder = builder.tls_backend_preconfigured(client_config(tls)?);
        }
        let client = builder
            .build()
            .map_err(|e| WebhookError::Client(describe(&e)))?;
        Ok(WebhookSink {
            builder: WebhookBuilder::new(name, config),
            client,
        })
    }
}

/// Describes a client error with its causes, without the URL (it may carry
/// credentials).
fn describe(e: &reqwest::Error) -> String {
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

#[async_trait]
impl Sink for WebhookSink {
    type Builder = WebhookBuilder;

    fn kind(&self) -> &'static str {
        WebhookConfig::NAME
    }

    fn builder(&self) -> &WebhookBuilder {
        &self.builder
    }

    async fn send(&self, request: &WebhookRequest) -> Result<SendOutcome, SendError> {
        let response = self
            .client
            .post(self.builder.endpoint.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| SendError::retriable(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(SendOutcome::Delivered);
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
