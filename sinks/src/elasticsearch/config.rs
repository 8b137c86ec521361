//! The `elasticsearch:` and `opensearch:` blocks: `hosts`, `cloudID`,
//! `index`, `indexFormat`, `indexTime`, `useEventID`, `documentID`, `type`,
//! `username`, `password`, `apiKey`, `headers`, `tls`, `layout`, `deDot`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, Secret, child_path, decode_with,
};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::{IndexName, SearchBuilder, SearchError, SearchSink};
use crate::config::TlsConfig;
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;
use crate::util::http::{canonical_header_name, redact_url};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSearchConfig {
    #[serde(default)]
    hosts: Option<Vec<Located<String>>>,
    #[serde(default, rename = "cloudID")]
    cloud_id: Option<Located<String>>,
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    index_format: Option<Located<String>>,
    #[serde(default)]
    index_time: Option<Located<String>>,
    #[serde(default, rename = "useEventID")]
    use_event_id: Option<bool>,
    #[serde(default, rename = "documentID")]
    document_id: Option<Located<String>>,
    #[serde(default, rename = "type")]
    doc_type: Option<Located<String>>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<Secret<String>>,
    #[serde(default)]
    api_key: Option<Secret<String>>,
    #[serde(default)]
    headers: Option<Node>,
    #[serde(default)]
    tls: Option<Node>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    de_dot: Option<bool>,
    #[serde(default, rename = "awsSigV4")]
    aws_sig_v4: Option<RawSigV4>,
}

#[derive(Deserialize)]
struct RawSigV4 {
    #[serde(default)]
    region: Located<String>,
    #[serde(default)]
    service: Located<String>,
}

/// AWS SigV4 signing (`opensearch` only): the region and the service, `es`
/// (Amazon OpenSearch Service) or `aoss` (OpenSearch Serverless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Config {
    /// `eu-west-1`, …
    pub region: String,
    /// `es` or `aoss`.
    pub service: String,
}

/// Which time `indexFormat` is formatted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTime {
    /// When the event is encoded (kubernetes-event-exporter's behaviour).
    Now,
    /// The event's time (`firstTimestamp`, else `eventTime`; now when it has
    /// neither), so a late event lands in the index of its day.
    Event,
}

/// The `_id` of each document and the bulk action that writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentId {
    /// The idempotency key (`<uid>-<occurrence>`), action `create`: one
    /// document per occurrence, a redelivery answered 409 and counted as
    /// delivered.
    Occurrence,
    /// The Event's UID, action `index`: one document per Event, replaced by
    /// every repeat (`useEventID: true`).
    EventUid,
}

/// The settings shared by `elasticsearch:` and `opensearch:` receivers.
#[derive(Clone)]
pub struct SearchConfig {
    /// The hosts, each ending in `/`, tried in order.
    pub hosts: Vec<Url>,
    /// Where documents go.
    pub index: IndexName,
    /// Which time `indexFormat` is formatted with.
    pub index_time: IndexTime,
    /// Document ids and actions.
    pub document_id: DocumentId,
    /// `Authorization` sent to hosts without credentials in their URL.
    pub authorization: Option<Secret<String>>,
    /// Static extra headers (canonical names).
    pub headers: Vec<(HeaderName, Secret<String>)>,
    /// TLS settings; `None` uses the system roots.
    pub tls: Option<TlsConfig>,
    /// The document per event; `None` sends the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// Replace `.` in label and annotation keys with `_`.
    pub dedot: bool,
    /// Sign requests with AWS SigV4.
    pub sigv4: Option<SigV4Config>,
}

impl fmt::Debug for SearchConfig {
    /// Hosts are [redacted](redact_url); credentials and header values are
    /// never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(redact_url).collect();
        f.debug_struct("SearchConfig")
            .field("hosts", &hosts)
            .field("index", &self.index)
            .field("index_time", &self.index_time)
            .field("document_id", &self.document_id)
            .field("authorization", &self.authorization)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("tls", &self.tls)
            .field("layout", &self.layout)
            .field("dedot", &self.dedot)
            .field("sigv4", &self.sigv4)
            .finish()
    }
}

impl SearchConfig {
    /// Decodes and checks an `elasticsearch:` or `opensearch:` node (`kind`
    /// names the type in messages).
    pub(crate) fn from_node(
        node: &Node,
        path: &str,
        kind: &'static str,
        diags: &mut Diagnostics,
    ) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawSearchConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let hosts = parse_hosts(&raw, diags);
        let index = parse_index(&raw, node, path, kind, diags);
        let index_time = match &raw.index_time {
            None => IndexTime::Now,
            Some(t) => match t.value.as_str() {
                "" | "now" => IndexTime::Now,
                "event" => IndexTime::Event,
                other => {
                    t.error(diags, format!("unknown indexTime `{other}`"))
                        .with_hint("use `now` (the default) or `event`");
                    IndexTime::Now
                }
            },
        };
        let use_event_id = raw.use_event_id.unwrap_or(false);
        let document_id = match &raw.document_id {
            None => {
                if use_event_id {
                    DocumentId::EventUid
                } else {
                    DocumentId::Occurrence
                }
            }
            Some(d) => match d.value.as_str() {
                "uid" if use_event_id => DocumentId::EventUid,
                "occurrence" => DocumentId::Occurrence,
                "uid" => {
                    d.error(diags, "`documentID: uid` needs `useEventID: true`")
                        .with_hint("set `useEventID: true`, or remove `documentID`");
                    DocumentId::Occurrence
                }
                other => {
                    d.error(diags, format!("unknown documentID `{other}`"))
                        .with_hint("use `uid` (one document per Event) or `occurrence` (one per occurrence)");
                    DocumentId::Occurrence
                }
            },
        };
        if let Some(t) = &raw.doc_type
            && !t.value.trim().is_empty()
        {
            t.error(diags, "mapping types are not supported")
                .with_hint("remove `type`: Elasticsearch 8 and OpenSearch 2 have no mapping types and reject typed requests; documents go to `_doc`");
        }
        let authorization = authorization(&raw);
        let headers = match &raw.headers {
            Some(h) if !h.is_null() => parse_headers(h, &child_path(path, "headers"), diags),
            _ => Vec::new(),
        };
        let tls = match &raw.tls {
            Some(t) if !t.is_null() => TlsConfig::from_node(t, &child_path(path, "tls"), diags),
            _ => None,
        };
        let layout = match &raw.layout {
            Some(l) if !l.is_null() => LayoutSpec::from_node(l, &child_path(path, "layout"), diags),
            _ => None,
        };
        let sigv4 = raw
            .aws_sig_v4
            .as_ref()
            .and_then(|a| parse_sigv4(a, node, path, kind, diags));
        if diags.error_count() > before {
            return None;
        }
        Some(SearchConfig {
            hosts: hosts?,
            index: index?,
            index_time,
            document_id,
            authorization,
            headers,
            tls,
            layout,
            dedot: raw.de_dot.unwrap_or(false),
            sigv4,
        })
    }

    /// Batching when `delivery.batch` does not say otherwise: up to 500
    /// documents or 5 MiB per `_bulk`, waiting up to a second for more.
    pub const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 500,
        max_bytes: 5 * 1024 * 1024,
        linger: Duration::from_secs(1),
    };
}

fn parse_sigv4(
    raw: &RawSigV4,
    node: &Node,
    path: &str,
    kind: &str,
    diags: &mut Diagnostics,
) -> Option<SigV4Config> {
    if kind != "opensearch" {
        diags
            .error(node.loc, "`awsSigV4` is only available for `opensearch` receivers")
            .with_path(path)
            .with_hint("Amazon's managed clusters run OpenSearch: use an `opensearch:` receiver");
        return None;
    }
    let region = raw.region.value.trim();
    if region.is_empty() {
        diags
            .error(node.loc, "`awsSigV4` needs a `region`")
            .with_path(child_path(path, "awsSigV4"))
            .with_hint("set `region: eu-west-1` (the region of the domain or collection)");
        return None;
    }
    let service = match raw.service.value.trim() {
        "" | "es" => "es",
        "aoss" => "aoss",
        other => {
            raw.service
                .error(diags, format!("unknown AWS service `{other}`"))
                .with_hint("use `es` (Amazon OpenSearch Service) or `aoss` (OpenSearch Serverless)");
            return None;
        }
    };
    Some(SigV4Config {
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

fn authorization(raw: &RawSearchConfig) -> Option<Secret<String>> {
    if let Some(key) = raw.api_key.as_ref().filter(|k| !k.expose().is_empty()) {
        return Some(Secret::new(format!("ApiKey {}", key.expose())));
    }
    let user = raw.username.as_deref().filter(|u| !u.is_empty())?;
    let password = raw.password.as_ref().filter(|p| !p.expose().is_empty())?;
    Some(Secret::new(basic(user, password.expose())))
}

/// A Basic `Authorization` value.
pub(crate) fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn parse_hosts(raw: &RawSearchConfig, diags: &mut Diagnostics) -> Option<Vec<Url>> {
    let hosts: Vec<&Located<String>> = raw
        .hosts
        .iter()
        .flatten()
        .filter(|h| !h.value.trim().is_empty())
        .collect();
    let cloud = raw
        .cloud_id
        .as_ref()
        .filter(|c| !c.value.trim().is_empty());
    if let Some(cloud) = cloud {
        if !hosts.is_empty() {
            cloud
                .error(diags, "`cloudID` and `hosts` are both set")
                .with_hint("keep one: `cloudID` names the Elastic Cloud deployment, `hosts` a cluster of your own");
            return None;
        }
        return match decode_cloud_id(&cloud.value) {
            Some(url) => Some(vec![url]),
            None => {
                cloud
                    .error(diags, "`cloudID` is not an Elastic Cloud id")
                    .with_hint("copy the Cloud ID from the deployment page: `<name>:<base64 of host$es-id$kibana-id>`");
                None
            }
        };
    }
    if hosts.is_empty() {
        return Some(vec![Url::parse("http://localhost:9200/").ok()?]);
    }
    let mut urls = Vec::new();
    for h in hosts {
        match Url::parse(h.value.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                urls.push(with_trailing_slash(url));
            }
            Ok(url) => {
                h.error(diags, format!("unsupported host URL (scheme `{}`)", url.scheme()))
                    .with_hint("write a full URL such as https://es.example.com:9200");
            }
            Err(e) => {
                h.error(diags, format!("host is not a URL: {e}"))
                    .with_hint("write a full URL such as https://es.example.com:9200");
            }
        }
    }
    Some(urls)
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Decodes an Elastic Cloud id (`name:base64("host[:port]$es-id$kibana-id")`)
/// to `https://<es-id>.<host>[:port]/`.
pub(crate) fn decode_cloud_id(id: &str) -> Option<Url> {
    let encoded = id.rsplit_once(':').map_or(id, |(_, e)| e).trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let mut parts = text.split('$');
    let host = parts.next()?.trim().trim_end_matches('/');
    let es = parts.next()?.trim();
    if host.is_empty() || es.is_empty() {
        return None;
    }
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (host, None),
    };
    let url = match port {
        Some(p) => format!("https://{es}.{host}:{p}/"),
        None => format!("https://{es}.{host}/"),
    };
    Url::parse(&url).ok()
}

fn parse_index(
    raw: &RawSearchConfig,
    node: &Node,
    path: &str,
    kind: &str,
    diags: &mut Diagnostics,
) -> Option<IndexName> {
    if let Some(f) = raw.index_format.as_ref().filter(|f| !f.value.is_empty()) {
        return match IndexName::parse_format(&f.value) {
            Ok(name) => Some(name),
            Err(e) => {
                f.error(diags, format!("invalid indexFormat: {e}"))
                    .with_hint("write the Go time layout between braces, e.g. kube-events-{2006-01-02}");
                None
            }
        };
    }
    match raw.index.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        Some(index) => Some(IndexName::Fixed(index.to_owned())),
        None => {
            diags
                .error(node.loc, format!("{kind} needs an `index` or an `indexFormat`"))
                .with_path(path)
                .with_hint("set `index: kube-events`, or `indexFormat: kube-events-{2006-01-02}` for daily indices");
            None
        }
    }
}

fn parse_headers(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<(HeaderName, Secret<String>)> {
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
        if HeaderValue::from_bytes(text.as_bytes()).is_err() {
            diags
                .error(value.loc, "header value contains characters HTTP does not allow")
                .with_path(&value_path)
                .with_hint("remove control characters such as newlines");
            continue;
        }
        headers.push((name, Secret::new(text.into_owned())));
    }
    headers
}

/// An `elasticsearch:` receiver.
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig(pub SearchConfig);

#[async_trait]
impl SinkType for ElasticsearchConfig {
    const NAME: &'static str = "elasticsearch";
    const BATCH_DEFAULTS: BatchSettings = SearchConfig::BATCH_DEFAULTS;
    type Sink = SearchSink;
    type BuildError = SearchError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SearchConfig::from_node(node, path, Self::NAME, diags).map(ElasticsearchConfig)
    }

    fn request_builder(&self, _name: &str) -> SearchBuilder {
        SearchBuilder::new(&self.0)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SearchSink, SearchError> {
        SearchSink::from_env(cx.name, Self::NAME, &self.0, cx.settings.timeout)
    }
}
