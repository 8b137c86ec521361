//! The `webhook` sink and its request builder.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tracing::warn;

use super::{HeaderTemplate, WebhookConfig, WebhookError};
use crate::driver::{
    Delivery, EncodeError, HookSettings, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;
use crate::util::http::{HttpRequest, HttpSender};

/// One encoded event: its body, the headers rendered for it, and what its
/// receiver's hook changed.
#[derive(Debug)]
pub struct WebhookItem {
    body: Vec<u8>,
    headers: HeaderMap,
    /// The endpoint path the hook chose.
    path: Option<String>,
    /// Headers the hook set; each replaces a configured one of its name.
    hook_headers: HeaderMap,
}

/// The per-event settings a hook may change: `path` (the endpoint's path) and
/// `headers` (extra headers; the configured ones are not shown to the script,
/// as they may carry credentials).
const HOOK_PATH: &str = "path";
const HOOK_HEADERS: &str = "headers";

/// Headers a hook set, parsed; names that look like credentials are marked
/// sensitive (never printed).
fn hook_headers(pairs: &[(&str, &str)]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid HTTP header name"))?;
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{name}` has characters HTTP does not allow"))?;
        v.set_sensitive(
            herald_config::is_secret_key(name) || name.eq_ignore_ascii_case("cookie"),
        );
        headers.insert(header, v);
    }
    Ok(headers)
}

/// Checks a path a hook chose.
fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    if path.chars().any(|c| c.is_control() || c == ' ' || c == '#' || c == '?') {
        return Err(format!(
            "path `{path}` has a space, `?`, `#` or a control character"
        ));
    }
    Ok(())
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
        let settings = delivery.hook_settings();
        let path = settings
            .and_then(|s| s.text(HOOK_PATH))
            .map(str::to_owned);
        let hook_headers = match settings.and_then(|s| s.texts(HOOK_HEADERS)) {
            Some(pairs) => hook_headers(&pairs).map_err(EncodeError::Invalid)?,
            None => HeaderMap::new(),
        };
        Ok(WebhookItem {
            body,
            headers,
            path,
            hook_headers,
        })
    }

    fn same_request(&self, first: &WebhookItem, next: &WebhookItem) -> bool {
        first.path == next.path
            && first.headers == next.headers
            && first.hook_headers == next.hook_headers
    }

    fn hook_offer(&self, _delivery: &Delivery) -> serde_json::Map<String, serde_json::Value> {
        let mut offer = serde_json::Map::new();
        offer.insert(HOOK_PATH.into(), self.base.url.path().into());
        offer.insert(
            HOOK_HEADERS.into(),
            serde_json::Value::Object(serde_json::Map::new()),
        );
        offer
    }

    fn hook_check(&self, changed: &HookSettings) -> Result<(), String> {
        if let Some(path) = changed.text(HOOK_PATH) {
            check_path(path)?;
        }
        if let Some(pairs) = changed.texts(HOOK_HEADERS) {
            hook_headers(&pairs)?;
        }
        Ok(())
    }

    fn item_size(&self, item: &WebhookItem) -> usize {
        item.body.len()
    }

    /// One event is posted as its document; a batch as a JSON array of them.
    /// The items of a batch share their per-event headers and hook settings
    /// ([`RequestBuilder::same_request`]).
    fn build_request(&self, items: &[WebhookItem]) -> HttpRequest {
        let mut request = self.base.clone();
        if let Some(first) = items.first() {
            for (name, value) in &first.headers {
                request.headers.append(name.clone(), value.clone());
            }
            for (name, value) in &first.hook_headers {
                request.headers.insert(name.clone(), value.clone());
            }
            if let Some(path) = &first.path {
                request.url.set_path(path);
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
