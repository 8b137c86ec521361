//! `slack:` settings: kubernetes-event-exporter's `token`, `channel`,
//! `message`, `color`, `footer`, `title`, `author_name` and `fields`, and
//! herald's `webhookURL`, `blocks` and `apiURL`.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Key, Located, Node, NodeValue, Secret, child_path, decode_with,
};
use reqwest::Url;
use serde::Deserialize;

use super::{SlackBuilder, SlackError, SlackSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;
use crate::util::fields::{TextTemplate, parse_map};
use crate::util::http::{redact_secret_url, redact_url};

/// Slack's Web API, where `chat.postMessage` lives.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSlackConfig {
    #[serde(default)]
    token: Option<Secret<String>>,
    #[serde(default, rename = "webhookURL")]
    webhook_url: Option<Secret<String>>,
    #[serde(default, rename = "apiURL")]
    api_url: Option<Located<String>>,
    #[serde(default)]
    channel: Option<Located<String>>,
    #[serde(default)]
    message: Option<Located<String>>,
    #[serde(default)]
    color: Option<Located<String>>,
    #[serde(default)]
    footer: Option<Located<String>>,
    #[serde(default)]
    title: Option<Located<String>>,
    #[serde(default, rename = "author_name")]
    author_name: Option<Located<String>>,
    #[serde(default)]
    fields: Option<BTreeMap<String, Located<String>>>,
    #[serde(default)]
    blocks: Option<Node>,
}

/// Where messages go.
#[derive(Clone)]
pub enum SlackTarget {
    /// `chat.postMessage` of the Web API with a bot (or user) token, sent
    /// as `Authorization: Bearer …`.
    Api {
        /// The `chat.postMessage` URL.
        url: Url,
        /// The token.
        token: Secret<String>,
    },
    /// An incoming webhook; its URL is the credential.
    Webhook(Secret<Url>),
}

impl fmt::Debug for SlackTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlackTarget::Api { url, .. } => f
                .debug_struct("Api")
                .field("url", &redact_url(url))
                .field("token", &"***")
                .finish(),
            SlackTarget::Webhook(url) => f
                .debug_tuple("Webhook")
                .field(&redact_secret_url(url.expose()))
                .finish(),
        }
    }
}

/// A `slack:` receiver.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Where messages go.
    pub target: SlackTarget,
    /// The channel (`#ops`, a channel id, `@user`); required with a token,
    /// optional with a webhook (which posts to its own channel).
    pub channel: Option<TextTemplate>,
    /// The message text.
    pub message: Option<TextTemplate>,
    /// Attachment color (with `fields`).
    pub color: Option<TextTemplate>,
    /// Attachment footer (with `fields`).
    pub footer: Option<TextTemplate>,
    /// Attachment title (with `fields`).
    pub title: Option<TextTemplate>,
    /// Attachment author (with `fields`).
    pub author_name: Option<TextTemplate>,
    /// Attachment fields, sorted by name; `Some` (even empty) adds the
    /// attachment.
    pub fields: Option<Vec<(String, TextTemplate)>>,
    /// Block Kit blocks (a layout whose root is `{"blocks": [...]}`).
    pub blocks: Option<LayoutSpec>,
}

impl SlackConfig {
    /// Decodes and checks a `slack:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawSlackConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let target = parse_target(&raw, node, path, diags);
        let channel = TextTemplate::parse_opt(raw.channel.as_ref(), diags);
        let message = TextTemplate::parse_opt(raw.message.as_ref(), diags);
        let color = TextTemplate::parse_opt(raw.color.as_ref(), diags);
        let footer = TextTemplate::parse_opt(raw.footer.as_ref(), diags);
        let title = TextTemplate::parse_opt(raw.title.as_ref(), diags);
        let author_name = TextTemplate::parse_opt(raw.author_name.as_ref(), diags);
        let fields = raw.fields.as_ref().map(|f| parse_map(f, diags));
        let blocks = raw
            .blocks
            .as_ref()
            .filter(|b| !b.is_null())
            .and_then(|b| parse_blocks(b, &child_path(path, "blocks"), diags));
        if matches!(target, Some(SlackTarget::Api { .. }))
            && channel.is_none()
            && raw.channel.as_ref().is_none_or(|c| c.value.is_empty())
        {
            diags
                .error(key_loc(node, "token"), "slack with a `token` needs a `channel`")
                .with_path(child_path(path, "channel"))
                .with_hint("set `channel:` to a channel name or id (`#ops`, `C0123ABCD`); it may be a template such as \"@{{ .InvolvedObject.Labels.owner }}\"");
        }
        if raw.message.as_ref().is_none_or(|m| m.value.is_empty())
            && raw.fields.is_none()
            && blocks.is_none()
        {
            diags
                .error(node.loc, "slack needs a `message`, `fields` or `blocks`")
                .with_path(path)
                .with_hint("set `message:` to the text to post, e.g. \"{{ .Message }}\"");
        }
        if diags.error_count() > before {
            return None;
        }
        Some(SlackConfig {
            target: target?,
            channel,
            message,
            color,
            footer,
            title,
            author_name,
            fields,
            blocks,
        })
    }
}

/// Where `key` is written in `node` (the node itself when it is not there).
fn key_loc(node: &Node, key: &str) -> herald_config::Location {
    node.entry(key).map_or(node.loc, |(k, _)| k.loc)
}

fn parse_target(
    raw: &RawSlackConfig,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<SlackTarget> {
    let token = raw.token.as_ref().filter(|t| !t.is_empty());
    let webhook = raw.webhook_url.as_ref().filter(|w| !w.is_empty());
    match (token, webhook) {
        (Some(_), Some(_)) => {
            diags
                .error(
                    key_loc(node, "webhookURL"),
                    "set either `token` or `webhookURL`, not both",
                )
                .with_path(child_path(path, "webhookURL"))
                .with_hint("a bot token posts with chat.postMessage to any channel it is in; an incoming webhook posts to its own channel");
            None
        }
        (None, None) => {
            diags
                .error(node.loc, "slack needs a `token` or a `webhookURL`")
                .with_path(path)
                .with_hint("set `token:` to a bot token (xoxb-…, better from an environment variable: \"${SLACK_TOKEN}\") or `webhookURL:` to an incoming-webhook URL");
            None
        }
        (Some(token), None) => {
            let url = match &raw.api_url {
                Some(u) if !u.value.trim().is_empty() => parse_api_url(u, diags)?,
                _ => Url::parse(DEFAULT_API_URL).ok()?,
            };
            let url = url.join("chat.postMessage").ok()?;
            Some(SlackTarget::Api {
                url,
                token: token.clone(),
            })
        }
        (None, Some(webhook)) => {
            if let Some(api) = raw.api_url.as_ref().filter(|u| !u.value.trim().is_empty()) {
                api.warning(diags, "`apiURL` is only used with a `token`; an incoming webhook posts to its own URL")
                    .with_hint("remove `apiURL`");
            }
            parse_webhook(webhook, node, path, diags)
        }
    }
}

/// Parses `webhookURL`, which is a credential: messages never quote it.
fn parse_webhook(
    webhook: &Secret<String>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<SlackTarget> {
    match Url::parse(webhook.expose().trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(SlackTarget::Webhook(Secret::new(url)))
            }
            // The URL is a credential: the message never quotes it.
            _ => {
                diags
                    .error(key_loc(node, "webhookURL"), "`webhookURL` is not an http(s) URL")
                    .with_path(child_path(path, "webhookURL"))
                    .with_hint("copy the incoming-webhook URL from Slack: https://hooks.slack.com/services/…");
                None
            }
    }
}

/// Parses `apiURL`, making sure it ends in `/` so that method names join.
fn parse_api_url(url: &Located<String>, diags: &mut Diagnostics) -> Option<Url> {
    match Url::parse(url.value.trim()) {
        Ok(mut u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if !u.path().ends_with('/') {
                let path = format!("{}/", u.path());
                u.set_path(&path);
            }
            Some(u)
        }
        _ => {
            url.error(diags, "`apiURL` is not an http(s) URL")
                .with_hint("leave it out to use https://slack.com/api/, or write the base URL of a Slack-compatible API");
            None
        }
    }
}

/// Compiles `blocks:` (a list of Block Kit blocks whose strings are
/// templates) as the layout `{"blocks": [...]}`.
fn parse_blocks(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<LayoutSpec> {
    if node.as_seq().is_none() {
        diags
            .error(
                node.loc,
                format!("expected a list of Block Kit blocks, found {}", node.describe()),
            )
            .with_path(path)
            .with_hint("write blocks as a list, e.g. `- type: section` with `text: {type: mrkdwn, text: \"{{ .Message }}\"}`");
        return None;
    }
    let key = Key {
        name: "blocks".to_owned(),
        loc: node.loc,
    };
    let root = Node::new(NodeValue::Map(vec![(key, node.clone())]), node.loc);
    // Templates inside are reported under `…slack.blocks[2].text.text`.
    let parent = path.strip_suffix(".blocks").unwrap_or(path);
    LayoutSpec::from_node(&root, parent, diags)
}

#[async_trait]
impl SinkType for SlackConfig {
    const NAME: &'static str = "slack";
    /// One message per event.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = SlackSink;
    type BuildError = SlackError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SlackConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> SlackBuilder {
        SlackBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SlackSink, SlackError> {
        SlackSink::new(cx.name, self, cx.settings.timeout)
    }
}
