//! `opsgenie:` settings: kubernetes-event-exporter's `apiKey`, `URL`,
//! `priority`, `message`, `alias`, `description`, `tags` and `details`, and
//! herald's `responders`, `closeWhen` and `apiURL`.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with};
use reqwest::Url;
use serde::Deserialize;

use super::{OpsgenieBuilder, OpsgenieError, OpsgenieSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::fields::{TextTemplate, parse_list, parse_map};
use crate::util::http::redact_url;

/// Opsgenie's API hosts: the default, the EU instance and the sandbox.
pub const API_HOSTS: [&str; 3] = [
    "api.opsgenie.com",
    "api.eu.opsgenie.com",
    "api.sandbox.opsgenie.com",
];

/// The priorities Opsgenie knows.
pub const PRIORITIES: [&str; 5] = ["P1", "P2", "P3", "P4", "P5"];

/// The priority when none is set (as kubernetes-event-exporter sent it).
pub const DEFAULT_PRIORITY: &str = "P3";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOpsgenieConfig {
    #[serde(default)]
    api_key: Option<Secret<String>>,
    #[serde(default, rename = "URL")]
    url: Option<Located<String>>,
    #[serde(default, rename = "apiURL")]
    api_url: Option<Located<String>>,
    #[serde(default)]
    priority: Option<Located<String>>,
    #[serde(default)]
    message: Option<Located<String>>,
    #[serde(default)]
    alias: Option<Located<String>>,
    #[serde(default)]
    description: Option<Located<String>>,
    #[serde(default)]
    tags: Option<Vec<Located<String>>>,
    #[serde(default)]
    details: Option<BTreeMap<String, Located<String>>>,
    #[serde(default)]
    responders: Option<Vec<RawResponder>>,
    #[serde(default)]
    close_when: Option<Located<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponder {
    #[serde(rename = "type")]
    kind: Located<String>,
    #[serde(default)]
    id: Option<Located<String>>,
    #[serde(default)]
    name: Option<Located<String>>,
    #[serde(default)]
    username: Option<Located<String>>,
}

/// Who an alert is routed to.
#[derive(Debug, Clone)]
pub struct ResponderTemplate {
    /// `team`, `user`, `escalation` or `schedule`.
    pub kind: &'static str,
    /// Which of `id`, `name` or `username` identifies it.
    pub key: &'static str,
    /// The identifier, rendered per event; a responder rendering empty is
    /// left out.
    pub value: TextTemplate,
}

/// A `opsgenie:` receiver.
#[derive(Clone)]
pub struct OpsgenieConfig {
    /// `https://<URL>` or `apiURL`, without the `/v2/alerts` path.
    pub base: Url,
    /// The API key (an API integration's key), sent as `GenieKey`.
    pub api_key: Secret<String>,
    /// The priority (P1–P5); may be a template.
    pub priority: TextTemplate,
    /// The alert message.
    pub message: TextTemplate,
    /// The alias: Opsgenie's de-duplication key, and what `closeWhen` closes.
    pub alias: Option<TextTemplate>,
    /// The description.
    pub description: Option<TextTemplate>,
    /// Tags; `None` when not set.
    pub tags: Option<Vec<TextTemplate>>,
    /// Details, sorted by name; `None` when not set.
    pub details: Option<Vec<(String, TextTemplate)>>,
    /// Responders.
    pub responders: Vec<ResponderTemplate>,
    /// An event for which this renders `true` closes the alert with its
    /// alias instead of creating one.
    pub close_when: Option<TextTemplate>,
}

impl fmt::Debug for OpsgenieConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsgenieConfig")
            .field("base", &redact_url(&self.base))
            .field("api_key", &self.api_key)
            .field("priority", &self.priority)
            .field("message", &self.message)
            .field("alias", &self.alias)
            .field("description", &self.description)
            .field("tags", &self.tags)
            .field("details", &self.details)
            .field("responders", &self.responders)
            .field("close_when", &self.close_when)
            .finish()
    }
}

/// Where `key` is written in `node` (the node itself when it is not there).
fn key_loc(node: &Node, key: &str) -> herald_config::Location {
    node.entry(key).map_or(node.loc, |(k, _)| k.loc)
}

impl OpsgenieConfig {
    /// Decodes and checks an `opsgenie:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawOpsgenieConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let api_key = raw.api_key.clone().filter(|k| !k.is_empty());
        if api_key.is_none() {
            diags
                .error(key_loc(node, "apiKey"), "opsgenie needs an `apiKey`")
                .with_path(child_path(path, "apiKey"))
                .with_hint("set `apiKey:` to the key of an Opsgenie API integration, better from an environment variable: \"${OPSGENIE_API_KEY}\"");
        }
        let base = parse_base(&raw, node, path, diags);
        let priority = parse_priority(raw.priority.as_ref(), diags);
        let message = TextTemplate::parse_opt(raw.message.as_ref(), diags);
        if raw.message.as_ref().is_none_or(|m| m.value.is_empty()) {
            diags
                .error(key_loc(node, "message"), "opsgenie needs a `message`")
                .with_path(child_path(path, "message"))
                .with_hint("set `message:` to the alert's title, e.g. \"Event {{ .Reason }} for {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}\"");
        }
        let alias = TextTemplate::parse_opt(raw.alias.as_ref(), diags);
        let description = TextTemplate::parse_opt(raw.description.as_ref(), diags);
        let tags = raw.tags.as_ref().map(|t| parse_list(t, diags));
        let details = raw.details.as_ref().map(|d| parse_map(d, diags));
        let responders = raw
            .responders
            .as_ref()
            .map(|r| parse_responders(r, diags))
            .unwrap_or_default();
        let close_when = TextTemplate::parse_opt(raw.close_when.as_ref(), diags);
        if let Some(close) = &raw.close_when
            && !close.value.is_empty()
            && raw.alias.as_ref().is_none_or(|a| a.value.is_empty())
        {
            close
                .error(diags, "`closeWhen` needs an `alias`: alerts are closed by alias")
                .with_hint("set `alias:` to something the opening and the closing event share, e.g. \"{{ .InvolvedObject.UID }}\"");
        }
        if diags.error_count() > before {
            return None;
        }
        Some(OpsgenieConfig {
            base: base?,
            api_key: api_key?,
            priority: priority?,
            message: message?,
            alias,
            description,
            tags,
            details,
            responders,
            close_when,
        })
    }
}

/// The API base: `https://<URL>` (a host, as kubernetes-event-exporter
/// took it), or `apiURL` (a full base URL: a proxy, a test double).
fn parse_base(
    raw: &RawOpsgenieConfig,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Url> {
    let host = raw.url.as_ref().filter(|u| !u.value.trim().is_empty());
    let api_url = raw.api_url.as_ref().filter(|u| !u.value.trim().is_empty());
    match (host, api_url) {
        (Some(_), Some(_)) => {
            diags
                .error(key_loc(node, "apiURL"), "set either `URL` or `apiURL`, not both")
                .with_path(child_path(path, "apiURL"))
                .with_hint("`URL` is an Opsgenie host (api.eu.opsgenie.com); `apiURL` a full base URL such as https://proxy.example.com/opsgenie");
            None
        }
        (Some(host), None) => parse_host(host, diags),
        (None, Some(url)) => match Url::parse(url.value.trim()) {
            Ok(mut u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let trimmed = u.path().trim_end_matches('/').to_owned();
                u.set_path(&trimmed);
                Some(u)
            }
            _ => {
                url.error(diags, "`apiURL` is not an http(s) URL")
                    .with_hint("write a base URL such as https://proxy.example.com/opsgenie, or use `URL` for an Opsgenie host");
                None
            }
        },
        (None, None) => Url::parse(&format!("https://{}", API_HOSTS[0])).ok(),
    }
}

/// Checks `URL`: a host name (and port), never a scheme or a path.
fn parse_host(host: &Located<String>, diags: &mut Diagnostics) -> Option<Url> {
    let text = host.value.trim();
    let hint = "write just the host: api.opsgenie.com (the default), api.eu.opsgenie.com or api.sandbox.opsgenie.com";
    if text.contains("://") {
        host.error(diags, "`URL` is a host name, not a URL with a scheme")
            .with_hint(hint);
        return None;
    }
    let url = match Url::parse(&format!("https://{text}")) {
        Ok(u) if u.path() == "/" && !text.contains('/') && u.query().is_none() && u.host_str().is_some() => u,
        Ok(_) => {
            host.error(diags, "`URL` is a host name, without a path")
                .with_hint(hint);
            return None;
        }
        Err(e) => {
            host.error(diags, format!("`URL` is not a host name: {e}"))
                .with_hint(hint);
            return None;
        }
    };
    if !url.host_str().is_some_and(|h| API_HOSTS.contains(&h)) {
        host.warning(diags, "`URL` is not one of Opsgenie's API hosts")
            .with_hint(hint);
    }
    let mut base = url;
    base.set_path("");
    Some(base)
}

fn parse_priority(priority: Option<&Located<String>>, diags: &mut Diagnostics) -> Option<TextTemplate> {
    let Some(p) = priority.filter(|p| !p.value.is_empty()) else {
        return TextTemplate::literal("priority", DEFAULT_PRIORITY);
    };
    let template = TextTemplate::parse(p, diags)?;
    if let Some(text) = template.static_text()
        && !PRIORITIES.contains(&text)
    {
        p.error(diags, format!("unknown Opsgenie priority `{text}`"))
            .with_hint("use P1 (critical) to P5 (informational); the default is P3");
        return None;
    }
    Some(template)
}

fn parse_responders(raw: &[RawResponder], diags: &mut Diagnostics) -> Vec<ResponderTemplate> {
    let mut out = Vec::new();
    for r in raw {
        let kind = match r.kind.value.trim() {
            "team" => "team",
            "user" => "user",
            "escalation" => "escalation",
            "schedule" => "schedule",
            other => {
                r.kind
                    .error(diags, format!("unknown responder type `{other}`"))
                    .with_hint("use `team`, `user`, `escalation` or `schedule`");
                continue;
            }
        };
        let keys: Vec<(&'static str, &Located<String>)> = [
            ("id", r.id.as_ref()),
            ("name", r.name.as_ref()),
            ("username", r.username.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.value.is_empty()).map(|v| (k, v)))
        .collect();
        let allowed = if kind == "user" { ["id", "username"] } else { ["id", "name"] };
        match keys.as_slice() {
            [(key, value)] if allowed.contains(key) => {
                if let Some(value) = TextTemplate::parse(value, diags) {
                    out.push(ResponderTemplate { kind, key, value });
                }
            }
            _ => {
                r.kind
                    .error(
                        diags,
                        format!(
                            "a `{kind}` responder needs exactly one of `{}` and `{}`",
                            allowed[0], allowed[1]
                        ),
                    )
                    .with_hint("e.g. `- {type: team, name: platform}` or `- {type: user, username: jane@example.com}`");
            }
        }
    }
    out
}

#[async_trait]
impl SinkType for OpsgenieConfig {
    const NAME: &'static str = "opsgenie";
    /// One alert per event.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = OpsgenieSink;
    type BuildError = OpsgenieError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        OpsgenieConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> OpsgenieBuilder {
        OpsgenieBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<OpsgenieSink, OpsgenieError> {
        OpsgenieSink::new(cx.name, self, cx.settings.timeout)
    }
}
