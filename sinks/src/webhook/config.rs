//! `webhook:` settings: `endpoint`, `tls`, `layout`, `headers`.

use std::fmt;

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with, is_secret_key,
};
use herald_template::Template;
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::{WebhookBuilder, WebhookError, WebhookSink};
use crate::config::TlsConfig;
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;
use crate::util::http::{canonical_header_name, redact_url};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhookConfig {
    #[serde(default)]
    endpoint: Located<String>,
    #[serde(default)]
    tls: Option<Node>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    headers: Option<Node>,
}

/// A `webhook:` receiver.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The URL events are posted to.
    pub endpoint: Url,
    /// TLS settings; `None` uses the system roots.
    pub tls: Option<TlsConfig>,
    /// The body per event; `None` sends the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// Extra headers, with templated values.
    pub headers: Vec<HeaderTemplate>,
}

/// One configured header. Its value is never printed: headers carry
/// credentials (`Authorization`, `X-Api-Key`).
#[derive(Clone)]
pub struct HeaderTemplate {
    /// Canonical header name.
    pub name: HeaderName,
    /// The value as written.
    pub raw: Secret<String>,
    /// The parsed value; `None` when it contains no template action.
    pub template: Option<Template>,
    /// Whether the name marks a credential (the value is flagged sensitive).
    pub sensitive: bool,
}

impl fmt::Debug for WebhookConfig {
    /// The endpoint is [redacted](redact_url): it may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("tls", &self.tls)
            .field("layout", &self.layout)
            .field("headers", &self.headers)
            .finish()
    }
}

impl fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderTemplate")
            .field("name", &self.name)
            .field("value", &self.raw)
            .field("templated", &self.template.is_some())
            .finish()
    }
}

impl WebhookConfig {
    /// Decodes and checks a `webhook:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawWebhookConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let endpoint = parse_endpoint(&raw.endpoint, node, path, diags);
        let tls = match &raw.tls {
            Some(t) if !t.is_null() => TlsConfig::from_node(t, &child_path(path, "tls"), diags),
            _ => None,
        };
        let layout = match &raw.layout {
            Some(l) if !l.is_null() => LayoutSpec::from_node(l, &child_path(path, "layout"), diags),
            _ => None,
        };
        let headers = match &raw.headers {
            Some(h) if !h.is_null() => parse_headers(h, &child_path(path, "headers"), diags),
            _ => Vec::new(),
        };
        if diags.error_count() > before {
            return None;
        }
        Some(WebhookConfig {
            endpoint: endpoint?,
            tls,
            layout,
            headers,
        })
    }
}

#[async_trait]
impl SinkType for WebhookConfig {
    const NAME: &'static str = "webhook";
    /// One event per request, as kubernetes-event-exporter sent them.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = WebhookSink;
    type BuildError = WebhookError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        WebhookConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> WebhookBuilder {
        WebhookBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<WebhookSink, WebhookError> {
        WebhookSink::new(cx.name, self, cx.settings.timeout)
    }
}

fn parse_endpoint(
    endpoint: &Located<String>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Url> {
    if endpoint.value.trim().is_empty() {
        diags
            .error(node.loc, "webhook needs an `endpoint`")
            .with_path(path)
            .with_hint("set `endpoint:` to the URL events are posted to");
        return None;
    }
    match Url::parse(endpoint.value.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
        Ok(url) => {
            endpoint
                .error(diags, format!("unsupported URL scheme `{}`", url.scheme()))
                .with_hint("use an http:// or https:// URL");
            None
        }
        Err(e) => {
            endpoint
                .error(diags, format!("invalid endpoint URL: {e}"))
                .with_hint("write a full URL such as https://example.com/events");
            None
        }
    }
}

fn parse_headers(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<HeaderTemplate> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!(
                    "expected a mapping of header names to values, found {}",
                    node.describe()
                ),
            )
            .with_path(path);
        return Vec::new();
    };
    let mut headers = Vec::new();
    for (key, value) in entries {
        let value_path = child_path(path, &key.name);
        let canonical = canonical_header_name(&key.name);
        let Ok(name) = HeaderName::from_bytes(canonical.as_bytes()) else {
            diags
                .error(key.loc, format!("invalid header name `{}`", key.name))
                .with_path(&value_path);
            continue;
        };
        let Some(text) = value.scalar_text() else {
            diags
                .error(
                    value.loc,
                    format!("expected a header value, found {}", value.describe()),
                )
                .with_path(&value_path);
            continue;
        };
        let text = text.into_owned();
        let sensitive = is_secret_key(&key.name) || key.name.eq_ignore_ascii_case("cookie");
        let template = match Template::parse(&value_path, &text) {
            Ok(t) if t.is_static() => None,
            Ok(t) => Some(t),
            Err(e) => {
                // The message quotes template syntax, never the whole value.
                diags
                    .error(
                        value.loc,
                        format!(
                            "invalid header template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(&value_path);
                continue;
            }
        };
        if template.is_none() && HeaderValue::from_bytes(text.as_bytes()).is_err() {
            diags
                .error(
                    value.loc,
                    "header value contains characters HTTP does not allow",
                )
                .with_path(&value_path)
                .with_hint("remove control characters such as newlines");
            continue;
        }
        headers.push(HeaderTemplate {
            name,
            raw: Secret::new(text),
            template,
            sensitive,
        });
    }
    headers
}
