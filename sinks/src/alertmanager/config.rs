//! `alertmanager:` settings: `url` / `urls`, `resolveTimeout`, `generatorURL`,
//! `username`/`password` or `bearerToken`, `tls`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with};
use herald_template::Template;
use reqwest::Url;
use serde::Deserialize;

use super::{AlertmanagerBuilder, AlertmanagerError, AlertmanagerSink};
use crate::config::{GoDuration, TlsConfig};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::http::redact_url;

/// Alertmanager's path for posting alerts.
pub const ALERTS_PATH: &str = "/api/v2/alerts";

/// Default `resolveTimeout` (Alertmanager's own default `resolve_timeout`).
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    url: Option<Located<String>>,
    #[serde(default)]
    urls: Vec<Located<String>>,
    #[serde(default)]
    resolve_timeout: Option<Located<GoDuration>>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<Located<String>>,
    #[serde(default)]
    username: Option<Located<String>>,
    #[serde(default)]
    password: Option<Secret<String>>,
    #[serde(default)]
    bearer_token: Option<Secret<String>>,
    #[serde(default)]
    tls: Option<Node>,
}

/// How requests authenticate.
#[derive(Clone)]
pub enum AlertmanagerAuth {
    /// `Authorization: Basic …`.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// `Authorization: Bearer …`.
    Bearer(Secret<String>),
}

impl fmt::Debug for AlertmanagerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertmanagerAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            AlertmanagerAuth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// An `alertmanager:` receiver.
#[derive(Clone)]
pub struct AlertmanagerConfig {
    /// The alerts URL of every Alertmanager.
    pub urls: Vec<Url>,
    /// `endsAt` = last seen + this.
    pub resolve_timeout: Duration,
    /// `generatorURL`, rendered per event.
    pub generator_url: Option<Template>,
    /// Credentials.
    pub auth: Option<AlertmanagerAuth>,
    /// TLS settings; `None` uses the system roots.
    pub tls: Option<TlsConfig>,
}

impl fmt::Debug for AlertmanagerConfig {
    /// URLs are [redacted](redact_url): they may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertmanagerConfig")
            .field(
                "urls",
                &self.urls.iter().map(redact_url).collect::<Vec<_>>(),
            )
            .field("resolve_timeout", &self.resolve_timeout)
            .field("generator_url", &self.generator_url.is_some())
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish()
    }
}

impl AlertmanagerConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let written: Vec<&Located<String>> = raw.url.iter().chain(&raw.urls).collect();
        if written.is_empty() {
            diags
                .error(node.loc, "alertmanager needs a `url` (or `urls`)")
                .with_path(path)
                .with_hint("set `url:` to Alertmanager's address, such as http://alertmanager:9093");
        }
        let urls: Vec<Url> = written.iter().filter_map(|u| parse_url(u, diags)).collect();
        let resolve_timeout = match &raw.resolve_timeout {
            Some(t) if t.value.0.is_zero() => {
                t.error(diags, "`resolveTimeout` must be more than 0")
                    .with_hint("alerts resolve this long after their event was last seen, e.g. `resolveTimeout: 5m`");
                DEFAULT_RESOLVE_TIMEOUT
            }
            Some(t) => t.value.0,
            None => DEFAULT_RESOLVE_TIMEOUT,
        };
        let generator_url = raw.generator_url.as_ref().and_then(|g| {
            match Template::parse(&child_path(path, "generatorURL"), &g.value) {
                Ok(t) => Some(t),
                Err(e) => {
                    g.error(
                        diags,
                        format!(
                            "invalid generatorURL template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_hint("e.g. `https://console.example.com/ns/{{ .InvolvedObject.Namespace }}`");
                    None
                }
            }
        });
        let auth = parse_auth(&raw, node, path, diags);
        let tls = match &raw.tls {
            Some(t) if !t.is_null() => TlsConfig::from_node(t, &child_path(path, "tls"), diags),
            _ => None,
        };
        if diags.error_count() > before {
            return None;
        }
        Some(AlertmanagerConfig {
            urls,
            resolve_timeout,
            generator_url,
            auth,
            tls,
        })
    }
}

/// Parses one Alertmanager URL, appending [`ALERTS_PATH`] unless the path already
/// ends with it (`http://am:9093` and `http://am:9093/api/v2/alerts` both work; a
/// path prefix such as `/alertmanager` is kept).
fn parse_url(url: &Located<String>, diags: &mut Diagnostics) -> Option<Url> {
    let text = url.value.trim();
    let mut parsed = match Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        Ok(u) => {
            url.error(diags, format!("unsupported alertmanager URL `{}`", redact_url(&u)))
                .with_hint("use an http:// or https:// URL with a host, such as http://alertmanager:9093");
            return None;
        }
        Err(e) => {
            url.error(diags, format!("invalid alertmanager URL: {e}"))
                .with_hint("write a full URL such as http://alertmanager:9093");
            return None;
        }
    };
    let current = parsed.path().trim_end_matches('/').to_owned();
    if current.ends_with(ALERTS_PATH) {
        parsed.set_path(&current);
    } else {
        parsed.set_path(&format!("{current}{ALERTS_PATH}"));
    }
    Some(parsed)
}

fn parse_auth(
    raw: &RawConfig,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<AlertmanagerAuth> {
    let key_loc = |key: &str| node.entry(key).map_or(node.loc, |(k, _)| k.loc);
    let username = raw.username.as_ref().filter(|u| !u.value.is_empty());
    let password = raw.password.as_ref().filter(|p| !p.is_empty());
    let bearer = raw.bearer_token.as_ref().filter(|p| !p.is_empty());
    match (username, password, bearer) {
        (None, None, None) => None,
        (Some(u), Some(p), None) => Some(AlertmanagerAuth::Basic {
            username: u.value.clone(),
            password: p.clone(),
        }),
        (None, None, Some(t)) => Some(AlertmanagerAuth::Bearer(t.clone())),
        (_, _, Some(_)) => {
            diags
                .error(
                    key_loc("bearerToken"),
                    "set either `username`/`password` or `bearerToken`, not both",
                )
                .with_path(child_path(path, "bearerToken"))
                .with_hint("Alertmanager behind a proxy takes one kind of credentials");
            None
        }
        (Some(u), None, None) => {
            u.error(diags, "`username` is set but `password` is not")
                .with_hint("basic auth needs both `username` and `password`");
            None
        }
        (None, Some(_), None) => {
            diags
                .error(key_loc("password"), "`password` is set but `username` is not")
                .with_path(child_path(path, "password"))
                .with_hint("basic auth needs both `username` and `password`");
            None
        }
    }
}

#[async_trait]
impl SinkType for AlertmanagerConfig {
    const NAME: &'static str = "alertmanager";
    /// Alertmanager takes a list of alerts per request.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 64,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(100),
    };
    type Sink = AlertmanagerSink;
    type BuildError = AlertmanagerError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        AlertmanagerConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> AlertmanagerBuilder {
        AlertmanagerBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<AlertmanagerSink, AlertmanagerError> {
        AlertmanagerSink::new(cx.name, self, cx.settings.timeout)
    }
}
