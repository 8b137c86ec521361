//! The `loki` sink and its request builder: events become entries, a batch
//! becomes one push with its entries grouped per stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use herald_proto::Event;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use tracing::warn;

use super::config::LokiAuth;
use super::labels::{
    LabelTemplate, MAX_LABEL_VALUE_BYTES, MAX_LABELS, is_valid_label_name, prometheus_text,
    render_labels,
};
use super::proto::{EntryAdapter, PushRequest, StreamAdapter, encode_snappy};
use super::{HeaderTemplate, LokiConfig, LokiError, LokiFormat, TimestampSource};
use crate::driver::{
    Delivery, EncodeError, HookSettings, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;
use crate::util::http::{HttpRequest, HttpSender};

/// One encoded event: its stream, timestamp, line and rendered headers.
#[derive(Debug)]
pub struct LokiItem {
    /// The labels, sorted by name.
    labels: Vec<(String, String)>,
    /// The labels in Prometheus text form (the stream's identity).
    stream: String,
    /// Nanoseconds since the epoch; `None` with `timestamp: send`.
    nanos: Option<i64>,
    /// The log line.
    line: String,
    /// Per-event headers.
    headers: HeaderMap,
    /// The tenant the hook chose (`Some("")`: none).
    tenant: Option<String>,
}

/// The per-event settings a hook may change: `tenant` (`X-Scope-OrgID`, empty
/// for none) and `labels` (the event's stream labels, as rendered).
const HOOK_TENANT: &str = "tenant";
const HOOK_LABELS: &str = "labels";

/// Stream labels a hook chose, checked as Loki would; empty values are left
/// out, as with rendered labels.
fn hook_labels(pairs: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
    let mut labels = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        if !is_valid_label_name(name) {
            return Err(format!(
                "`{name}` is not a valid Loki label name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        if value.len() > MAX_LABEL_VALUE_BYTES {
            return Err(format!(
                "label `{name}` is {} bytes long; Loki accepts at most {MAX_LABEL_VALUE_BYTES}",
                value.len()
            ));
        }
        if !value.is_empty() {
            labels.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    if labels.is_empty() {
        return Err("every stream label is empty; Loki refuses a stream without labels".into());
    }
    if labels.len() > MAX_LABELS {
        return Err(format!(
            "{} stream labels; Loki accepts at most {MAX_LABELS}",
            labels.len()
        ));
    }
    Ok(labels)
}

/// `X-Scope-OrgID`: the tenant of a multi-tenant Loki.
const TENANT_HEADER: HeaderName = HeaderName::from_static("x-scope-orgid");

/// Turns events into Loki pushes.
#[derive(Debug, Clone)]
pub struct LokiBuilder {
    name: Arc<str>,
    encoder: PayloadEncoder,
    labels: Vec<LabelTemplate>,
    format: LokiFormat,
    timestamp: TimestampSource,
    /// Method, URL, default and static headers.
    base: HttpRequest,
    /// Headers rendered per event.
    dynamic_headers: Vec<HeaderTemplate>,
}

impl LokiBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &LokiConfig) -> LokiBuilder {
        let mut base = HttpRequest::new(Method::POST, config.url.clone());
        let content_type = match config.format {
            LokiFormat::Json => "application/json",
            LokiFormat::Protobuf => "application/x-protobuf",
        };
        base.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(tenant) = &config.tenant
            && let Ok(v) = HeaderValue::from_str(tenant)
        {
            // `X-Scope-OrgID`: the tenant of a multi-tenant Loki.
            base.headers.insert(TENANT_HEADER, v);
        }
        if let Some(v) = config.auth.as_ref().and_then(auth_header) {
            base.headers.insert(AUTHORIZATION, v);
        }
        // A configured header replaces the default of the same name.
        for h in &config.headers {
            base.headers.remove(&h.name);
        }
        let mut dynamic_headers = Vec::new();
        for h in &config.headers {
            if h.template.is_some() {
                dynamic_headers.push(h.clone());
            } else if let Some(v) = h.value(h.raw.expose()) {
                base.headers.append(h.name.clone(), v);
            }
        }
        LokiBuilder {
            name: Arc::from(name),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            labels: config.stream_labels.clone(),
            format: config.format,
            timestamp: config.timestamp,
            base,
            dynamic_headers,
        }
    }

    /// The event's stream labels as configured, rendered.
    fn render_labels(&self, delivery: &Delivery) -> Result<Vec<(String, String)>, EncodeError> {
        let needs_value = self.labels.iter().any(LabelTemplate::needs_value);
        render_labels(
            &self.labels,
            &delivery.event,
            needs_value.then(|| delivery.value()),
        )
    }

    fn json_body(streams: &BTreeMap<&str, Vec<&LokiItem>>, now: i64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Push<'a> {
            streams: Vec<Stream<'a>>,
        }
        #[derive(Serialize)]
        struct Stream<'a> {
            stream: BTreeMap<&'a str, &'a str>,
            values: Vec<(String, &'a str)>,
        }
        let push = Push {
            streams: streams
                .values()
                .map(|items| Stream {
                    stream: items[0]
                        .labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    values: items
                        .iter()
                        .map(|i| (i.nanos.unwrap_or(now).to_string(), i.line.as_str()))
                        .collect(),
                })
                .collect(),
        };
        // Serialising strings and integers into memory cannot fail.
        serde_json::to_vec(&push).unwrap_or_default()
    }

    fn protobuf_body(streams: &BTreeMap<&str, Vec<&LokiItem>>, now: i64) -> Vec<u8> {
        let push = PushRequest {
            streams: streams
                .iter()
                .map(|(labels, items)| StreamAdapter {
                    labels: (*labels).to_owned(),
                    entries: items
                        .iter()
                        .map(|i| EntryAdapter {
                            timestamp: Some(timestamp(i.nanos.unwrap_or(now))),
                            line: i.line.clone(),
                        })
                        .collect(),
                    hash: 0,
                })
                .collect(),
        };
        encode_snappy(&push)
    }
}

fn auth_header(auth: &LokiAuth) -> Option<HeaderValue> {
    let text = match auth {
        LokiAuth::Basic { username, password } => {
            use base64::Engine as _;
            let raw = format!("{username}:{}", password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        }
        LokiAuth::Bearer(token) => format!("Bearer {}", token.expose()),
    };
    let mut v = HeaderValue::from_str(&text).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// `nanos` as a `google.protobuf.Timestamp`.
fn timestamp(nanos: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        // Always within 0..1e9.
        nanos: i32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
    }
}

/// Nanoseconds since the epoch, saturating outside 1677..2262.
fn nanos_of(t: &DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The time of an event: `lastTimestamp`, then `eventTime`, then when herald
/// observed it, then now.
pub(crate) fn event_nanos(event: &Event) -> i64 {
    event
        .last_timestamp
        .or(event.event_time)
        .or(event.observed_at)
        .map_or_else(|| nanos_of(&Utc::now()), |t| nanos_of(&t))
}

/// Now in whole seconds, as nanoseconds (kubernetes-event-exporter's stamp).
fn send_time_nanos() -> i64 {
    Utc::now().timestamp().saturating_mul(1_000_000_000)
}

impl RequestBuilder for LokiBuilder {
    type Item = LokiItem;
    type Request = HttpRequest;

    fn encode(&self, delivery: &Delivery) -> Result<LokiItem, EncodeError> {
        let settings = delivery.hook_settings();
        let labels = match settings.and_then(|s| s.texts(HOOK_LABELS)) {
            Some(pairs) => hook_labels(&pairs).map_err(EncodeError::Invalid)?,
            None => self.render_labels(delivery)?,
        };
        let tenant = settings
            .and_then(|s| s.text(HOOK_TENANT))
            .map(str::to_owned);
        let mut line = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut line)?;
        let line = String::from_utf8(line)
            .map_err(|_| EncodeError::Invalid("the log line is not UTF-8".into()))?;
        let mut headers = HeaderMap::new();
        for h in &self.dynamic_headers {
            let (value, error) = h.render(delivery.value());
            if let Some(error) = error {
                warn!(
                    sink = %self.name,
                    sink_type = LokiConfig::NAME,
                    header = %h.name,
                    error = %error,
                    "header template failed for this event, sending its raw text"
                );
            }
            if let Some(v) = value {
                headers.append(h.name.clone(), v);
            } else {
                warn!(
                    sink = %self.name,
                    sink_type = LokiConfig::NAME,
                    header = %h.name,
                    "rendered header value contains characters HTTP does not allow, header not sent"
                );
            }
        }
        let nanos = match self.timestamp {
            TimestampSource::Event => Some(event_nanos(&delivery.event)),
            TimestampSource::Send => None,
        };
        Ok(LokiItem {
            stream: prometheus_text(&labels),
            labels,
            nanos,
            line,
            headers,
            tenant,
        })
    }

    fn same_request(&self, first: &LokiItem, next: &LokiItem) -> bool {
        first.tenant == next.tenant && first.headers == next.headers
    }

    fn hook_offer(&self, delivery: &Delivery) -> serde_json::Map<String, serde_json::Value> {
        let tenant = self
            .base
            .headers
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // A label template that fails for this event offers no labels; the
        // encode reports the failure when the hook does not set them.
        let labels: serde_json::Map<String, serde_json::Value> = self
            .render_labels(delivery)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let mut offer = serde_json::Map::new();
        offer.insert(HOOK_TENANT.into(), tenant.into());
        offer.insert(HOOK_LABELS.into(), serde_json::Value::Object(labels));
        offer
    }

    fn hook_check(&self, changed: &HookSettings) -> Result<(), String> {
        if let Some(tenant) = changed.text(HOOK_TENANT)
            && HeaderValue::from_str(tenant).is_err()
        {
            return Err(format!(
                "tenant `{tenant}` has characters an HTTP header does not allow"
            ));
        }
        if let Some(pairs) = changed.texts(HOOK_LABELS) {
            hook_labels(&pairs)?;
        }
        Ok(())
    }

    fn item_size(&self, item: &LokiItem) -> usize {
        // The line, its timestamp and quoting; the stream's labels once.
        item.line.len() + 24
    }

    /// One push: entries grouped per stream (streams in label order), sorted
    /// by timestamp within each stream (queue order among equal ones). The
    /// items of a push share their per-event headers and tenant
    /// ([`RequestBuilder::same_request`]).
    fn build_request(&self, items: &[LokiItem]) -> HttpRequest {
        let mut request = self.base.clone();
        if let Some(first) = items.first() {
            for (name, value) in &first.headers {
                request.headers.append(name.clone(), value.clone());
            }
            match first.tenant.as_deref() {
                None => {}
                Some("") => {
                    request.headers.remove(TENANT_HEADER);
                }
                // Checked by `hook_check`.
                Some(tenant) => {
                    if let Ok(v) = HeaderValue::from_str(tenant) {
                        request.headers.insert(TENANT_HEADER, v);
                    }
                }
            }
        }
        let mut streams: BTreeMap<&str, Vec<&LokiItem>> = BTreeMap::new();
        for item in items {
            streams.entry(item.stream.as_str()).or_default().push(item);
        }
        for entries in streams.values_mut() {
            entries.sort_by_key(|i| i.nanos);
        }
        let now = send_time_nanos();
        let body = match self.format {
            LokiFormat::Json => Self::json_body(&streams, now),
            LokiFormat::Protobuf => Self::protobuf_body(&streams, now),
        };
        request.body = Bytes::from(body);
        request
    }

    fn describe(&self, request: &HttpRequest) -> String {
        request.describe()
    }
}

/// Pushes events to Loki.
pub struct LokiSink {
    builder: LokiBuilder,
    sender: HttpSender,
}

impl LokiSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, or the client cannot be built.
    pub fn new(name: &str, config: &LokiConfig, timeout: Duration) -> Result<Self, LokiError> {
        Ok(LokiSink {
            builder: LokiBuilder::new(name, config),
            sender: HttpSender::new(config.tls.as_ref(), timeout)?,
        })
    }
}

/// Loki answers 400 when it refuses entries for good (out of order, too old
/// or too new, invalid labels, line too long): the request is rejected with
/// Loki's own message.
fn loki_error(e: SendError) -> SendError {
    match e {
        SendError::Permanent { message } => match message.strip_prefix("unexpected HTTP status 400") {
            Some(rest) => SendError::permanent(format!(
                "Loki refused the entries (HTTP 400){rest}"
            )),
            None => SendError::Permanent { message },
        },
        other => other,
    }
}

#[async_trait]
impl Sink for LokiSink {
    type Builder = LokiBuilder;

    fn kind(&self) -> &'static str {
        LokiConfig::NAME
    }

    fn builder(&self) -> &LokiBuilder {
        &self.builder
    }

    /// Any 2xx answer (Loki's is 204) delivers the push.
    async fn send(&self, request: &HttpRequest) -> Result<SendOutcome, SendError> {
        self.sender.send(request).await.map_err(loki_error)?;
        Ok(SendOutcome::Delivered)
    }
}
