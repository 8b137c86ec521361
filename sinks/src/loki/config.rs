//! `loki:` settings: `url`, `streamLabels`, `headers`, `layout`, `tls` (as
//! kubernetes-event-exporter had them) and herald's `format`, `timestamp`,
//! `tenant`, `username`/`password` and `bearerToken`.

use std::fmt;

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with,
};
use reqwest::Url;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::headers::{HeaderTemplate, parse_headers};
use super::labels::{LabelTemplate, default_labels, parse_stream_labels};
use super::{LokiBuilder, LokiError, LokiSink};
use crate::config::TlsConfig;
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;
use crate::util::http::redact_url;

/// The push path appended to a `url` that does not end in `/push`.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLokiConfig {
    #[serde(default)]
    url: Located<String>,
    #[serde(default)]
    stream_labels: Option<Node>,
    #[serde(default)]
    headers: Option<Node>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    tls: Option<Node>,
    #[serde(default)]
    format: Option<Located<String>>,
    #[serde(default)]
    timestamp: Option<Located<String>>,
    #[serde(default)]
    tenant: Option<Located<String>>,
    #[serde(default)]
    username: Option<Located<String>>,
    #[serde(default)]
    password: Option<Secret<String>>,
    #[serde(default)]
    bearer_token: Option<Secret<String>>,
}

/// The push body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LokiFormat {
    /// `application/json` (the default, as kubernetes-event-exporter sent).
    #[default]
    Json,
    /// `application/x-protobuf`, snappy-compressed `PushRequest`.
    Protobuf,
}

/// Where an entry's timestamp comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampSource {
    /// The event: `lastTimestamp`, then `eventTime`, then when herald
    /// observed it (the default).
    #[default]
    Event,
    /// When the push is built, in whole seconds (kubernetes-event-exporter's
    /// behaviour).
    Send,
}

/// How requests authenticate.
#[derive(Clone)]
pub enum LokiAuth {
    /// `Authorization: Basic …` from `username` and `password`.
    Basic {
        /// The user (a Grafana Cloud instance id, …).
        username: String,
        /// The password or API token.
        password: Secret<String>,
    },
    /// `Authorization: Bearer …`.
    Bearer(Secret<String>),
}

impl fmt::Debug for LokiAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LokiAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            LokiAuth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// A `loki:` receiver.
#[derive(Clone)]
pub struct LokiConfig {
    /// The push URL (with the push path).
    pub url: Url,
    /// Stream labels, sorted by name ([`default_labels`] when none are set).
    pub stream_labels: Vec<LabelTemplate>,
    /// Extra headers, with templated values.
    pub headers: Vec<HeaderTemplate>,
    /// The line per event; `None` sends the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// TLS settings; `None` uses the system roots.
    pub tls: Option<TlsConfig>,
    /// The body format.
    pub format: LokiFormat,
    /// Where entry timestamps come from.
    pub timestamp: TimestampSource,
    /// `X-Scope-OrgID` (multi-tenant Loki).
    pub tenant: Option<String>,
    /// Credentials.
    pub auth: Option<LokiAuth>,
}

impl fmt::Debug for LokiConfig {
    /// The URL is [redacted](redact_url): it may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LokiConfig")
            .field("url", &redact_url(&self.url))
            .field("stream_labels", &self.stream_labels)
            .field("headers", &self.headers)
            .field("layout", &self.layout)
            .field("tls", &self.tls)
            .field("format", &self.format)
            .field("timestamp", &self.timestamp)
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .finish()
    }
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

impl LokiConfig {
    /// Decodes and checks a `loki:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawLokiConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let url = parse_url(&raw.url, node, path, diags);
        let stream_labels = match present(raw.stream_labels.as_ref()) {
            Some(l) => {
                let labels = parse_stream_labels(l, &child_path(path, "streamLabels"), diags);
                if labels.is_empty() && l.as_map().is_some_and(<[_]>::is_empty) {
                    default_labels()
                } else {
                    labels
                }
            }
            None => default_labels(),
        };
        let tls = present(raw.tls.as_ref())
            .and_then(|t| TlsConfig::from_node(t, &child_path(path, "tls"), diags));
        let layout = present(raw.layout.as_ref())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let headers = present(raw.headers.as_ref())
            .map(|h| parse_headers(h, &child_path(path, "headers"), diags))
            .unwrap_or_default();
        let format = match raw.format.as_ref().map(|f| (f, f.value.trim())) {
            None | Some((_, "" | "json")) => LokiFormat::Json,
            Some((_, "protobuf")) => LokiFormat::Protobuf,
            Some((f, other)) => {
                f.error(diags, format!("unknown loki format `{other}`"))
                    .with_hint("use `json` (the default) or `protobuf` (snappy-compressed)");
                LokiFormat::Json
            }
        };
        let timestamp = match raw.timestamp.as_ref().map(|t| (t, t.value.trim())) {
            None | Some((_, "" | "event")) => TimestampSource::Event,
            Some((_, "send")) => TimestampSource::Send,
            Some((t, other)) => {
                t.error(diags, format!("unknown loki timestamp source `{other}`"))
                    .with_hint("use `event` (the default: the event's own time) or `send` (the time of the push)");
                TimestampSource::Event
            }
        };
        let tenant = raw.tenant.as_ref().and_then(|t| {
            let v = t.value.trim();
            if v.is_empty() {
                None
            } else if HeaderValue::from_str(v).is_err() {
                t.error(diags, "tenant contains characters HTTP headers do not allow")
                    .with_hint("a Loki tenant id is letters, digits and `-_.!*'()`");
                None
            } else {
                Some(v.to_owned())
            }
        });
        let auth = parse_auth(&raw, node, path, diags);
        if diags.error_count() > before {
            return None;
        }
        Some(LokiConfig {
            url: url?,
            stream_labels,
            headers,
            layout,
            tls,
            format,
            timestamp,
            tenant,
            auth,
        })
    }
}

fn parse_auth(
    raw: &RawLokiConfig,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<LokiAuth> {
    let username = raw
        .username
        .as_ref()
        .filter(|u| !u.value.is_empty());
    let password = raw.password.as_ref().filter(|p| !p.is_empty());
    let bearer = raw.bearer_token.as_ref().filter(|p| !p.is_empty());
    match (username, password, bearer) {
        (None, None, None) => None,
        (Some(u), Some(p), None) => Some(LokiAuth::Basic {
            username: u.value.clone(),
            password: p.clone(),
        }),
        (None, None, Some(t)) => Some(LokiAuth::Bearer(t.clone())),
        (_, _, Some(_)) => {
            diags
                .error(
                    key_loc(node, "bearerToken"),
                    "set either `username`/`password` or `bearerToken`, not both",
                )
                .with_path(child_path(path, "bearerToken"))
                .with_hint("Loki behind a proxy takes one kind of credentials");
            None
        }
        (Some(u), None, None) => {
            u.error(diags, "`username` is set but `password` is not")
                .with_hint("basic auth needs both `username` and `password`");
            None
        }
        (None, Some(_), None) => {
            diags
                .error(
                    key_loc(node, "password"),
                    "`password` is set but `username` is not",
                )
                .with_path(child_path(path, "password"))
                .with_hint("basic auth needs both `username` and `password`");
            None
        }
    }
}

/// Where `key` is written in `node` (the node itself when it is not there).
fn key_loc(node: &Node, key: &str) -> herald_config::Location {
    node.entry(key).map_or(node.loc, |(k, _)| k.loc)
}

/// Parses `url`, appending [`PUSH_PATH`] when its path does not already end
/// in `/push` (users write both `http://loki:3100` and the full push URL).
fn parse_url(url: &Located<String>, node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Url> {
    let text = url.value.trim();
    if text.is_empty() {
        diags
            .error(node.loc, "loki needs a `url`")
            .with_path(path)
            .with_hint("set `url:` to Loki's address, such as http://loki:3100/loki/api/v1/push");
        return None;
    }
    let mut parsed = match Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        Ok(u) => {
            url.error(diags, format!("unsupported loki URL `{}`", redact_url(&u)))
                .with_hint("use an http:// or https:// URL with a host, such as http://loki:3100");
            return None;
        }
        Err(e) => {
            url.error(diags, format!("invalid loki URL: {e}"))
                .with_hint("write a full URL such as http://loki:3100/loki/api/v1/push");
            return None;
        }
    };
    let current = parsed.path().trim_end_matches('/').to_owned();
    if !current.ends_with("/push") {
        parsed.set_path(&format!("{current}{PUSH_PATH}"));
    }
    Some(parsed)
}

#[async_trait]
impl SinkType for LokiConfig {
    const NAME: &'static str = "loki";
    /// One push per batch: up to 500 events or 1 MiB, waiting up to a second
    /// for more.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 500,
        max_bytes: 1024 * 1024,
        linger: std::time::Duration::from_secs(1),
    };
    type Sink = LokiSink;
    type BuildError = LokiError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        LokiConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> LokiBuilder {
        LokiBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<LokiSink, LokiError> {
        LokiSink::new(cx.name, self, cx.settings.timeout)
    }
}
