//! The `slack` sink and its request builder.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::{SlackConfig, SlackError, SlackTarget};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::fields::{TextTemplate, render_map};
use crate::util::http::{
    HttpRequest, HttpSender, body_snippet, describe_each, parse_retry_after, redact_secret_url,
    send_each,
};

/// Slack error codes worth trying again: throttling and Slack's own trouble.
/// Every other `error` (`channel_not_found`, `invalid_auth`, `not_in_channel`,
/// `msg_too_long`, …) cannot succeed by retrying.
pub const RETRIABLE_ERRORS: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "fatal_error",
    "internal_error",
    "request_timeout",
];

/// The message posted for one event.
#[derive(Debug, Serialize)]
struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks: Option<serde_json::Value>,
}

/// A legacy attachment, as kubernetes-event-exporter made it.
#[derive(Debug, Serialize)]
struct Attachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    author_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<Field>,
    #[serde(skip_serializing_if = "String::is_empty")]
    footer: String,
}

#[derive(Debug, Serialize)]
struct Field {
    title: String,
    value: String,
    short: bool,
}

/// The Web API's answer.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: String,
}

/// Escapes `&`, `<` and `>` as Slack wants them in message text (as
/// kubernetes-event-exporter's Slack client did).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Turns events into Slack messages.
#[derive(Clone)]
pub struct SlackBuilder {
    name: Arc<str>,
    config: Arc<SlackConfig>,
    /// Method, URL and headers of every request.
    base: HttpRequest,
}

impl std::fmt::Debug for SlackBuilder {
    /// Shows the configuration (whose `Debug` masks the token and the
    /// webhook URL), never the request headers or URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SlackBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &SlackConfig) -> SlackBuilder {
        let url = match &config.target {
            SlackTarget::Api { url, .. } => url.clone(),
            SlackTarget::Webhook(url) => url.expose().clone(),
        };
        let mut base = HttpRequest::new(Method::POST, url);
        base.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let SlackTarget::Api { token, .. } = &config.target
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            base.headers.insert(AUTHORIZATION, value);
        }
        SlackBuilder {
            name: Arc::from(name),
            config: Arc::new(config.clone()),
            base,
        }
    }

    /// Returns the receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn render_opt(t: Option<&TextTemplate>, d: &Delivery) -> Result<String, EncodeError> {
        t.map_or_else(|| Ok(String::new()), |t| t.render(d))
    }

    fn message(&self, d: &Delivery) -> Result<Message, EncodeError> {
        let c = &self.config;
        let channel = Self::render_opt(c.channel.as_ref(), d)?;
        if channel.trim().is_empty() && matches!(c.target, SlackTarget::Api { .. }) {
            return Err(EncodeError::Invalid(
                "the `channel` template rendered an empty channel".to_owned(),
            ));
        }
        let text = escape_text(&Self::render_opt(c.message.as_ref(), d)?);
        let mut attachments = Vec::new();
        if let Some(fields) = &c.fields {
            attachments.push(Attachment {
                color: Self::render_opt(c.color.as_ref(), d)?,
                author_name: Self::render_opt(c.author_name.as_ref(), d)?,
                title: Self::render_opt(c.title.as_ref(), d)?,
                fields: render_map(fields, d)?
                    .into_iter()
                    .map(|(title, value)| Field {
                        title,
                        value,
                        short: false,
                    })
                    .collect(),
                footer: Self::render_opt(c.footer.as_ref(), d)?,
            });
        }
        let blocks = match &c.blocks {
            Some(layout) => {
                let mut json = Vec::new();
                layout.render_json(d.value(), &mut json)?;
                let mut root: serde_json::Value = serde_json::from_slice(&json)
                    .map_err(|e| EncodeError::Invalid(format!("blocks: {e}")))?;
                Some(root["blocks"].take())
            }
            None => None,
        };
        Ok(Message {
            channel: (!channel.is_empty()).then_some(channel),
            text,
            attachments,
            blocks,
        })
    }

    /// Shows one request; an incoming-webhook URL is a credential and loses
    /// its path.
    fn describe_one(&self, request: &HttpRequest) -> String {
        let text = request.describe();
        match &self.config.target {
            SlackTarget::Api { .. } => text,
            SlackTarget::Webhook(_) => {
                let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
                format!(
                    "{} {}\n{rest}",
                    request.method,
                    redact_secret_url(&request.url)
                )
            }
        }
    }
}

impl RequestBuilder for SlackBuilder {
    type Item = HttpRequest;
    type Request = Vec<HttpRequest>;

    fn encode(&self, delivery: &Delivery) -> Result<HttpRequest, EncodeError> {
        let message = self.message(delivery)?;
        let body = serde_json::to_vec(&message)
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the message: {e}")))?;
        let mut request = self.base.clone();
        request.body = Bytes::from(body);
        Ok(request)
    }

    fn item_size(&self, item: &HttpRequest) -> usize {
        item.body.len()
    }

    /// Slack takes one message per request: a batch is that many requests.
    fn build_request(&self, items: &[HttpRequest]) -> Vec<HttpRequest> {
        items.to_vec()
    }

    fn describe(&self, request: &Vec<HttpRequest>) -> String {
        describe_each(request, |r| self.describe_one(r))
    }
}

/// Posts events to Slack.
pub struct SlackSink {
    builder: SlackBuilder,
    sender: HttpSender,
}

impl SlackSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The client cannot be built.
    pub fn new(name: &str, config: &SlackConfig, timeout: Duration) -> Result<Self, SlackError> {
        Ok(SlackSink {
            builder: SlackBuilder::new(name, config),
            sender: HttpSender::new(None, timeout)?,
        })
    }

    async fn post(&self, request: &HttpRequest) -> Result<(), SendError> {
        let response = self.sender.send(request).await?;
        if matches!(self.builder.config.target, SlackTarget::Webhook(_)) {
            // An incoming webhook answers 200 `ok`; its errors are HTTP
            // statuses with the error code as the body.
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = response.body().await?;
        check_answer(&body, retry_after)
    }
}

/// Reads the Web API's answer: `ok: true` is success; `ok: false` is an error
/// carrying Slack's `error` code, retriable for [`RETRIABLE_ERRORS`].
///
/// # Errors
/// `ok: false`, or an answer that is not Slack's JSON.
pub fn check_answer(body: &[u8], retry_after: Option<Duration>) -> Result<(), SendError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|_| {
        SendError::permanent(format!(
            "Slack's answer is not its JSON: {}",
            body_snippet(body)
        ))
    })?;
    if answer.ok {
        return Ok(());
    }
    let code = if answer.error.is_empty() {
        "unknown_error"
    } else {
        answer.error.as_str()
    };
    let message = format!("Slack refused the message: {code}");
    if RETRIABLE_ERRORS.contains(&code) {
        Err(SendError::Retriable {
            message,
            retry_after,
        })
    } else {
        Err(SendError::Permanent { message })
    }
}

#[async_trait]
impl Sink for SlackSink {
    type Builder = SlackBuilder;

    fn kind(&self) -> &'static str {
        SlackConfig::NAME
    }

    fn builder(&self) -> &SlackBuilder {
        &self.builder
    }

    async fn send(&self, requests: &Vec<HttpRequest>) -> Result<SendOutcome, SendError> {
        send_each(requests, |r| self.post(r)).await
    }
}
