//! `teams:` settings: kubernetes-event-exporter's `endpoint`, `layout` and
//! `headers`, and herald's `format`.

use std::fmt;

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with, is_secret_key,
};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::{TeamsBuilder, TeamsError, TeamsSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;
use crate::util::http::{canonical_header_name, redact_secret_url};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTeamsConfig {
    #[serde(default)]
    endpoint: Located<String>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    headers: Option<Node>,
    #[serde(default)]
    format: Option<Located<String>>,
}

/// The body posted for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeamsFormat {
    /// kubernetes-event-exporter's connector MessageCard:
    /// `{"summary":"event","text":"Event: … \nStatus: … \nMetadata: …"}`.
    #[default]
    MessageCard,
    /// A message with one Adaptive Card attachment, as Teams Workflows
    /// ("When a Teams webhook request is received") expect it.
    AdaptiveCard,
}

/// One configured header (static, as kubernetes-event-exporter sent them).
#[derive(Clone)]
pub struct StaticHeader {
    /// Canonical name.
    pub name: HeaderName,
    /// The value, flagged sensitive when the name marks a credential.
    pub value: HeaderValue,
}

impl fmt::Debug for StaticHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticHeader")
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

/// A `teams:` receiver.
#[derive(Clone)]
pub struct TeamsConfig {
    /// The connector or Workflows URL; whoever knows it can post, so it is
    /// shown with its path masked.
    pub endpoint: Secret<Url>,
    /// What is posted.
    pub format: TeamsFormat,
    /// MessageCard: the document whose `message`, `reason` and `metadata`
    /// make the text (default: the event JSON). AdaptiveCard: the card
    /// (default: herald's card).
    pub layout: Option<LayoutSpec>,
    /// Extra headers.
    pub headers: Vec<StaticHeader>,
}

impl fmt::Debug for TeamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsConfig")
            .field("endpoint", &redact_secret_url(self.endpoint.expose()))
            .field("format", &self.format)
            .field("layout", &self.layout)
            .field("headers", &self.headers)
            .finish()
    }
}

/// Hosts of Teams Workflows webhooks (Power Automate), which take Adaptive
/// Cards, not MessageCards.
const WORKFLOW_HOSTS: &[&str] = &[".logic.azure.com", ".powerplatform.com"];

impl TeamsConfig {
    /// Decodes and checks a `teams:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawTeamsConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let endpoint = parse_endpoint(&raw.endpoint, node, path, diags);
        let format = match raw.format.as_ref().map(|f| (f, f.value.trim())) {
            None | Some((_, "" | "messageCard")) => TeamsFormat::MessageCard,
            Some((_, "adaptiveCard")) => TeamsFormat::AdaptiveCard,
            Some((f, other)) => {
                f.error(diags, format!("unknown teams format `{other}`"))
                    .with_hint("use `messageCard` (the default, for connector webhooks) or `adaptiveCard` (for Teams Workflows)");
                TeamsFormat::MessageCard
            }
        };
        if let Some(url) = &endpoint
            && format == TeamsFormat::MessageCard
            && url
                .host_str()
                .is_some_and(|h| WORKFLOW_HOSTS.iter().any(|w| h.ends_with(w)))
        {
            raw.endpoint
                .warning(diags, "this looks like a Teams Workflows URL, which expects an Adaptive Card")
                .with_hint("add `format: adaptiveCard`");
        }
        let layout = raw
            .layout
            .as_ref()
            .filter(|l| !l.is_null())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let headers = match &raw.headers {
            Some(h) if !h.is_null() => parse_headers(h, &child_path(path, "headers"), diags),
            _ => Vec::new(),
        };
        if diags.error_count() > before {
            return None;
        }
        Some(TeamsConfig {
            endpoint: Secret::new(endpoint?),
            format,
            layout,
            headers,
        })
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
            .error(node.loc, "teams needs an `endpoint`")
            .with_path(path)
            .with_hint("set `endpoint:` to the Teams webhook URL (a Workflows URL with `format: adaptiveCard`)");
        return None;
    }
    match Url::parse(endpoint.value.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Some(url)
        }
        // The URL is a credential: the message never quotes it.
        _ => {
            endpoint
                .error(diags, "the teams `endpoint` is not an http(s) URL")
                .with_hint("copy the webhook URL from Teams: https://…");
            None
        }
    }
}

fn parse_headers(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<StaticHeader> {
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
        let Ok(name) = HeaderName::from_bytes(canonical_header_name(&key.name).as_bytes()) else {
            diags
                .error(key.loc, format!("invalid header name `{}`", key.name))
                .with_path(&value_path)
                .with_hint("header names are letters, digits and `-`");
            continue;
        };
        let text = value.scalar_text();
        let Some(Ok(mut value)) = text.as_deref().map(HeaderValue::from_str) else {
            diags
                .error(value.loc, "expected a header value HTTP allows")
                .with_path(&value_path)
                .with_hint("write a single-line text value");
            continue;
        };
        value.set_sensitive(is_secret_key(&key.name) || key.name.eq_ignore_ascii_case("cookie"));
        headers.push(StaticHeader { name, value });
    }
    headers
}

#[async_trait]
impl SinkType for TeamsConfig {
    const NAME: &'static str = "teams";
    /// One message per event.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = TeamsSink;
    type BuildError = TeamsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        TeamsConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> TeamsBuilder {
        TeamsBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<TeamsSink, TeamsError> {
        TeamsSink::new(cx.name, self, cx.settings.timeout)
    }
}
