//! The `teams` sink and its request builder.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use herald_template::Layout;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value as Json, json};

use super::{TeamsConfig, TeamsError, TeamsFormat};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;
use crate::util::http::{
    HttpRequest, HttpSender, body_snippet, describe_each, redact_secret_url, send_each,
};

/// What a connector answers, with status 200, when Teams throttled it.
pub const THROTTLED_ANSWER: &str = "Microsoft Teams endpoint returned HTTP error 429";

/// The card herald posts with `format: adaptiveCard` and no `layout`.
static DEFAULT_CARD: LazyLock<Layout> = LazyLock::new(|| {
    let card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "wrap": true,
                "color": "{{ if eq .Type \"Warning\" }}Attention{{ else }}Default{{ end }}",
                "text": "{{ .Type }} {{ .Reason }}: {{ .InvolvedObject.Kind }} {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}"
            },
            {"type": "TextBlock", "wrap": true, "text": "{{ .Message }}"},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Namespace", "value": "{{ .InvolvedObject.Namespace }}"},
                    {"title": "Object", "value": "{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Name }}"},
                    {"title": "Reason", "value": "{{ .Reason }}"},
                    {"title": "Count", "value": "{{ .Count }}"},
                    {"title": "Last seen", "value": "{{ .LastTimestamp }}"},
                    {"title": "Cluster", "value": "{{ .ClusterName }}"}
                ]
            }
        ]
    });
    // A constant that is covered by tests.
    Layout::compile(&card, "teams.defaultCard").expect("the default card compiles")
});

/// Formats a JSON value the way Go's `fmt` `%s` verb prints the
/// `interface{}` that `encoding/json` decodes it into (kubernetes-event-exporter
/// built the MessageCard text that way): strings as they are, maps as
/// `map[k:v …]` with sorted keys, lists as `[a b]`, and `%!s(…)` for numbers,
/// booleans and a missing value.
pub fn go_percent_s(value: Option<&Json>) -> String {
    let mut out = String::new();
    write_percent_s(value, &mut out);
    out
}

fn write_percent_s(value: Option<&Json>, out: &mut String) {
    match value {
        None | Some(Json::Null) => out.push_str("%!s(<nil>)"),
        Some(Json::String(s)) => out.push_str(s),
        Some(Json::Bool(b)) => out.push_str(&format!("%!s(bool={b})")),
        Some(Json::Number(n)) => {
            out.push_str(&format!("%!s(float64={})", go_float(n.as_f64().unwrap_or(0.0))));
        }
        Some(Json::Array(items)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_percent_s(Some(item), out);
            }
            out.push(']');
        }
        Some(Json::Object(map)) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_percent_s(Some(v), out);
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64 (`strconv`'s shortest `%g`): exponent form
/// (`1e+06`, `1.5e-05`) when the decimal exponent is below -4 or at least 6.
fn go_float(f: f64) -> String {
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let x: i32 = exp.parse().unwrap_or(0);
    if f == 0.0 || (-4..6).contains(&x) {
        return format!("{f}");
    }
    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Turns events into Teams messages.
#[derive(Clone)]
pub struct TeamsBuilder {
    name: Arc<str>,
    format: TeamsFormat,
    encoder: PayloadEncoder,
    layout: Option<crate::util::LayoutSpec>,
    base: HttpRequest,
}

impl std::fmt::Debug for TeamsBuilder {
    /// The endpoint is a credential: its path is masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsBuilder")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("endpoint", &redact_secret_url(&self.base.url))
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl TeamsBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &TeamsConfig) -> TeamsBuilder {
        let mut base = HttpRequest::new(Method::POST, config.endpoint.expose().clone());
        base.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // A configured header replaces the default of the same name.
        for h in &config.headers {
            base.headers.remove(&h.name);
        }
        for h in &config.headers {
            base.headers.append(h.name.clone(), h.value.clone());
        }
        TeamsBuilder {
            name: Arc::from(name),
            format: config.format,
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            layout: config.layout.clone(),
            base,
        }
    }

    /// Returns the receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn body(&self, d: &Delivery) -> Result<Json, EncodeError> {
        match self.format {
            TeamsFormat::MessageCard => {
                let mut payload = Vec::with_capacity(1024);
                self.encoder.encode(d, &mut payload)?;
                let doc: Json = serde_json::from_slice(&payload).unwrap_or(Json::Null);
                let text = format!(
                    "Event: {} \nStatus: {} \nMetadata: {}",
                    go_percent_s(doc.get("message")),
                    go_percent_s(doc.get("reason")),
                    go_percent_s(doc.get("metadata")),
                );
                Ok(json!({"summary": "event", "text": text}))
            }
            TeamsFormat::AdaptiveCard => {
                let mut card = Vec::with_capacity(2048);
                match &self.layout {
                    Some(layout) => layout.render_json(d.value(), &mut card)?,
                    None => DEFAULT_CARD
                        .render_json(d.value(), &mut card, false)
                        .map_err(|e| EncodeError::Template(e.to_string()))?,
                }
                let content: Json = serde_json::from_slice(&card)
                    .map_err(|e| EncodeError::Invalid(format!("the card is not JSON: {e}")))?;
                Ok(json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": null,
                        "content": content,
                    }]
                }))
            }
        }
    }
}

impl RequestBuilder for TeamsBuilder {
    type Item = HttpRequest;
    type Request = Vec<HttpRequest>;

    fn encode(&self, delivery: &Delivery) -> Result<HttpRequest, EncodeError> {
        let body = serde_json::to_vec(&self.body(delivery)?)
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the message: {e}")))?;
        let mut request = self.base.clone();
        request.body = Bytes::from(body);
        Ok(request)
    }

    fn item_size(&self, item: &HttpRequest) -> usize {
        item.body.len()
    }

    /// Teams takes one message per request: a batch is that many requests.
    fn build_request(&self, items: &[HttpRequest]) -> Vec<HttpRequest> {
        items.to_vec()
    }

    /// The endpoint is a credential: its path is masked.
    fn describe(&self, request: &Vec<HttpRequest>) -> String {
        describe_each(request, |r| {
            let text = r.describe();
            let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
            format!("{} {}\n{rest}", r.method, redact_secret_url(&r.url))
        })
    }
}

/// Posts events to Microsoft Teams.
pub struct TeamsSink {
    builder: TeamsBuilder,
    sender: HttpSender,
}

impl TeamsSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The client cannot be built.
    pub fn new(name: &str, config: &TeamsConfig, timeout: Duration) -> Result<Self, TeamsError> {
        Ok(TeamsSink {
            builder: TeamsBuilder::new(name, config),
            sender: HttpSender::new(None, timeout)?,
        })
    }

    async fn post(&self, request: &HttpRequest) -> Result<(), SendError> {
        let response = self.sender.send(request).await?;
        let body = response.body().await?;
        if String::from_utf8_lossy(&body).contains(THROTTLED_ANSWER) {
            return Err(SendError::retriable(format!(
                "Teams throttled the webhook: {}",
                body_snippet(&body)
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for TeamsSink {
    type Builder = TeamsBuilder;

    fn kind(&self) -> &'static str {
        TeamsConfig::NAME
    }

    fn builder(&self) -> &TeamsBuilder {
        &self.builder
    }

    async fn send(&self, requests: &Vec<HttpRequest>) -> Result<SendOutcome, SendError> {
        send_each(requests, |r| self.post(r)).await
    }
}
