//! The `opsgenie` sink and its request builder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::config::{DEFAULT_PRIORITY, PRIORITIES};
use super::{OpsgenieConfig, OpsgenieError};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::fields::{render_list, render_map};
use crate::util::http::{HttpRequest, HttpSender, describe_each, send_each};

/// What `closeWhen` must render for an event to close its alert.
pub const CLOSE: &str = "true";

/// The body of `POST /v2/alerts`, in Opsgenie's field order.
#[derive(Debug, Serialize)]
struct CreateAlert {
    message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    alias: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    responders: Vec<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<BTreeMap<String, String>>,
    priority: String,
}

/// Opsgenie's 202 answer.
#[derive(Debug, Deserialize)]
struct Accepted {
    #[serde(rename = "requestId", default)]
    request_id: String,
}

/// The body of `POST /v2/alerts/{alias}/close`.
#[derive(Debug, Serialize)]
struct CloseAlert {
    source: &'static str,
    note: String,
}

/// Turns events into Opsgenie alert requests.
#[derive(Debug, Clone)]
pub struct OpsgenieBuilder {
    name: Arc<str>,
    config: Arc<OpsgenieConfig>,
    /// Headers of every request.
    base: HttpRequest,
}

impl OpsgenieBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &OpsgenieConfig) -> OpsgenieBuilder {
        let mut base = HttpRequest::new(Method::POST, alerts_url(&config.base, &[]));
        base.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(mut key) = HeaderValue::from_str(&format!("GenieKey {}", config.api_key.expose()))
        {
            key.set_sensitive(true);
            base.headers.insert(AUTHORIZATION, key);
        }
        OpsgenieBuilder {
            name: Arc::from(name),
            config: Arc::new(config.clone()),
            base,
        }
    }

    /// Returns the receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders the priority; a value Opsgenie does not know is sent as the
    /// default (P3), with a warning.
    fn priority(&self, d: &Delivery) -> Result<String, EncodeError> {
        let rendered = self.config.priority.render(d)?;
        let trimmed = rendered.trim();
        if PRIORITIES.contains(&trimmed) {
            return Ok(trimmed.to_owned());
        }
        warn!(
            sink = %self.name,
            sink_type = OpsgenieConfig::NAME,
            priority = %rendered,
            "the priority template rendered a value Opsgenie does not know, sending {DEFAULT_PRIORITY}"
        );
        Ok(DEFAULT_PRIORITY.to_owned())
    }

    fn create(&self, d: &Delivery, message: String, alias: String) -> Result<HttpRequest, EncodeError> {
        let c = &self.config;
        let mut responders = Vec::with_capacity(c.responders.len());
        for r in &c.responders {
            let value = r.value.render(d)?;
            if value.trim().is_empty() {
                continue;
            }
            responders.push(BTreeMap::from([("type", r.kind.to_owned()), (r.key, value)]));
        }
        let body = CreateAlert {
            message,
            alias,
            description: match &c.description {
                Some(t) => t.render(d)?,
                None => String::new(),
            },
            responders,
            tags: c.tags.as_ref().map(|t| render_list(t, d)).transpose()?,
            details: c
                .details
                .as_ref()
                .map(|t| render_map(t, d).map(|m| m.into_iter().collect()))
                .transpose()?,
            priority: self.priority(d)?,
        };
        self.request(self.base.url.clone(), &body)
    }

    fn close(&self, message: String, alias: &str) -> Result<HttpRequest, EncodeError> {
        let mut url = alerts_url(&self.config.base, &[alias, "close"]);
        url.set_query(Some("identifierType=alias"));
        let body = CloseAlert {
            source: "herald",
            note: message,
        };
        self.request(url, &body)
    }

    fn request(&self, url: Url, body: &impl Serialize) -> Result<HttpRequest, EncodeError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the alert: {e}")))?;
        let mut request = self.base.clone();
        request.url = url;
        request.body = Bytes::from(body);
        Ok(request)
    }
}

/// `<base>/v2/alerts` followed by `segments`, each percent-encoded as one
/// path segment (an alias may hold `/`).
fn alerts_url(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(["v2", "alerts"]).extend(segments);
    }
    url
}

impl RequestBuilder for OpsgenieBuilder {
    type Item = HttpRequest;
    type Request = Vec<HttpRequest>;

    /// An event creates an alert, or, when `closeWhen` renders `true` for
    /// it, closes the alert with its alias.
    fn encode(&self, d: &Delivery) -> Result<HttpRequest, EncodeError> {
        let c = &self.config;
        let message = c.message.render(d)?;
        if message.trim().is_empty() {
            return Err(EncodeError::Invalid(
                "the `message` template rendered empty; Opsgenie needs a message".to_owned(),
            ));
        }
        let alias = match &c.alias {
            Some(t) => t.render(d)?,
            None => String::new(),
        };
        let closes = match &c.close_when {
            Some(t) => t.render(d)?.trim() == CLOSE,
            None => false,
        };
        if !closes {
            return self.create(d, message, alias);
        }
        if alias.trim().is_empty() {
            return Err(EncodeError::Invalid(
                "the `alias` template rendered empty; there is no alert to close".to_owned(),
            ));
        }
        self.close(message, &alias)
    }

    fn item_size(&self, item: &HttpRequest) -> usize {
        item.body.len()
    }

    /// Opsgenie takes one alert per request: a batch is that many requests.
    fn build_request(&self, items: &[HttpRequest]) -> Vec<HttpRequest> {
        items.to_vec()
    }

    fn describe(&self, request: &Vec<HttpRequest>) -> String {
        describe_each(request, HttpRequest::describe)
    }
}

/// Creates (and closes) Opsgenie alerts.
pub struct OpsgenieSink {
    builder: OpsgenieBuilder,
    sender: HttpSender,
}

impl OpsgenieSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The client cannot be built.
    pub fn new(
        name: &str,
        config: &OpsgenieConfig,
        timeout: Duration,
    ) -> Result<Self, OpsgenieError> {
        Ok(OpsgenieSink {
            builder: OpsgenieBuilder::new(name, config),
            sender: HttpSender::new(None, timeout)?,
        })
    }
}

#[async_trait]
impl Sink for OpsgenieSink {
    type Builder = OpsgenieBuilder;

    fn kind(&self) -> &'static str {
        OpsgenieConfig::NAME
    }

    fn builder(&self) -> &OpsgenieBuilder {
        &self.builder
    }

    /// Opsgenie processes requests asynchronously: its 202 (with a
    /// `requestId`) means accepted, and is success.
    async fn send(&self, requests: &Vec<HttpRequest>) -> Result<SendOutcome, SendError> {
        send_each(requests, |r| async move {
            let response = self.sender.send(r).await?;
            // The answer names the request for Opsgenie's support and its
            // request API; the outcome itself is not in it.
            if let Ok(body) = response.body().await
                && let Ok(answer) = serde_json::from_slice::<Accepted>(&body)
            {
                debug!(
                    sink = %self.builder.name,
                    sink_type = OpsgenieConfig::NAME,
                    request_id = %answer.request_id,
                    "Opsgenie accepted the request"
                );
            }
            Ok(())
        })
        .await
    }
}
