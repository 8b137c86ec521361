//! The `webhook` sink and its request builder.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use tracing::warn;

use super::{HeaderTemplate, WebhookConfig, WebhookError};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;
use crate::util::http::{HttpRequest, HttpSender};

/// One encoded event: its body and the headers rendered for it.
#[derive(Debug)]
pub struct WebhookItem {
    body: Vec<u8>,
    headers: HeaderMap,
}

/// Turns events into webhook requests.
#[derive(Debug, Clone)]
pub struct WebhookBuilder {
    name: Arc<str>,
    encoder: PayloadEncoder,
    /// The request without body and per-event headers: method, endpoint,
    /// defaults and headers without template actions.
    base: HttpRequest,
    /// Headers rendered per event.
    dynamic_headers: Vec<HeaderTemplate>,
}

impl WebhookBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &WebhookConfig) -> WebhookBuilder {
        let mut base = HttpRequest::new(Method::POST, config.endpoint.clone());
        base.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut dynamic_headers = Vec::new();
        // A configured header replaces the default of the same name; several
        // configured values of one name (differing only in case) are all sent.
        for h in &config.headers {
            base.headers.remove(&h.name);
        }
        for h in &config.headers {
            if h.template.is_some() {
                dynamic_headers.push(h.clone());
            } else if let Some(v) = header_value(h, h.raw.expose()) {
                base.headers.append(h.name.clone(), v);
            }
        }
        WebhookBuilder {
            name: Arc::from(name),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            base,
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
    type Request = HttpRequest;

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

    /// One event is posted as its document; a batch as a JSON array of them,
    /// with the per-event headers of its first event.
    fn build_request(&self, items: &[WebhookItem]) -> HttpRequest {
        let mut request = self.base.clone();
        if let Some(first) = items.first() {
            for (name, value) in &first.headers {
                request.headers.append(name.clone(), value.clone());
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
        request.body = Bytes::from(body);
        request
    }

    fn describe(&self, request: &HttpRequest) -> String {
        request.describe()
    }
}

/// Posts events to an HTTP endpoint.
pub struct WebhookSink {
    builder: WebhookBuilder,
    sender: HttpSender,
}

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
        Ok(WebhookSink {
            builder: WebhookBuilder::new(name, config),
            sender: HttpSender::new(config.tls.as_ref(), timeout)?,
        })
    }
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

    /// Any 2xx answer delivers the request; its body is not read.
    async fn send(&self, request: &HttpRequest) -> Result<SendOutcome, SendError> {
        self.sender.send(request).await?;
        Ok(SendOutcome::Delivered)
    }
}
