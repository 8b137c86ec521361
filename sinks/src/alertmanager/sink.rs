//! The `alertmanager` sink and its request builder.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tracing::warn;

use super::alert::{AlertDefaults, build_alert};
use super::{AlertmanagerAuth, AlertmanagerConfig, AlertmanagerError};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::http::{HttpRequest, HttpSender, redact_url};

/// Turns deliveries into alert lists, one request per Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerBuilder {
    name: Arc<str>,
    /// One request per Alertmanager, without body.
    bases: Vec<HttpRequest>,
    defaults: AlertDefaults,
    generator_url: Option<herald_template::Template>,
}

impl AlertmanagerBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &AlertmanagerConfig) -> AlertmanagerBuilder {
        let auth = config.auth.as_ref().and_then(auth_header);
        let bases = config
            .urls
            .iter()
            .map(|url| {
                let mut r = HttpRequest::new(Method::POST, url.clone());
                r.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                if let Some(a) = &auth {
                    r.headers.insert(AUTHORIZATION, a.clone());
                }
                r
            })
            .collect();
        AlertmanagerBuilder {
            name: Arc::from(name),
            bases,
            defaults: AlertDefaults {
                resolve_timeout: config.resolve_timeout,
            },
            generator_url: config.generator_url.clone(),
        }
    }
}

fn auth_header(auth: &AlertmanagerAuth) -> Option<HeaderValue> {
    let text = match auth {
        AlertmanagerAuth::Basic { username, password } => {
            use base64::Engine as _;
            let raw = format!("{username}:{}", password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        }
        AlertmanagerAuth::Bearer(token) => format!("Bearer {}", token.expose()),
    };
    let mut v = HeaderValue::from_str(&text).ok()?;
    v.set_sensitive(true);
    Some(v)
}

impl RequestBuilder for AlertmanagerBuilder {
    type Item = Vec<u8>;
    type Request = Vec<HttpRequest>;

    fn encode(&self, d: &Delivery) -> Result<Vec<u8>, EncodeError> {
        let generator = match &self.generator_url {
            Some(t) => match t.render(d.value()) {
                Ok(u) => Some(u),
                Err(e) => {
                    warn!(sink = %self.name, sink_type = AlertmanagerConfig::NAME, error = %e, "generatorURL template failed for this event, alert sent without it");
                    None
                }
            },
            None => None,
        };
        let alert = build_alert(d, self.defaults, generator.as_deref(), chrono::Utc::now())?;
        serde_json::to_vec(&alert).map_err(|e| EncodeError::Invalid(e.to_string()))
    }

    fn item_size(&self, item: &Vec<u8>) -> usize {
        item.len()
    }

    /// The alerts as one JSON array, for every Alertmanager.
    fn build_request(&self, items: &[Vec<u8>]) -> Vec<HttpRequest> {
        let mut body = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item);
        }
        body.push(b']');
        let body = Bytes::from(body);
        self.bases
            .iter()
            .map(|b| {
                let mut r = b.clone();
                r.body = body.clone();
                r
            })
            .collect()
    }

    fn describe(&self, requests: &Vec<HttpRequest>) -> String {
        requests
            .iter()
            .map(HttpRequest::describe)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Posts alerts to every configured Alertmanager.
pub struct AlertmanagerSink {
    builder: AlertmanagerBuilder,
    sender: HttpSender,
}

impl AlertmanagerSink {
    /// Creates the sink of receiver `name` with its own HTTP client.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, or the client cannot be built.
    pub fn new(
        name: &str,
        config: &AlertmanagerConfig,
        timeout: Duration,
    ) -> Result<Self, AlertmanagerError> {
        Ok(AlertmanagerSink {
            builder: AlertmanagerBuilder::new(name, config),
            sender: HttpSender::new(config.tls.as_ref(), timeout)?,
        })
    }
}

#[async_trait]
impl Sink for AlertmanagerSink {
    type Builder = AlertmanagerBuilder;

    fn kind(&self) -> &'static str {
        AlertmanagerConfig::NAME
    }

    fn builder(&self) -> &AlertmanagerBuilder {
        &self.builder
    }

    /// Delivered when every Alertmanager answered 2xx. Otherwise retriable when
    /// any failure is (the retry posts to all of them again), else permanent.
    async fn send(&self, requests: &Vec<HttpRequest>) -> Result<SendOutcome, SendError> {
        let results =
            futures::future::join_all(requests.iter().map(|r| self.sender.send(r))).await;
        let mut failures = Vec::new();
        let mut retriable = false;
        let mut retry_after: Option<Duration> = None;
        for (r, result) in requests.iter().zip(results) {
            match result {
                Ok(_) => {}
                Err(e) => {
                    if let SendError::Retriable {
                        retry_after: ra, ..
                    } = &e
                    {
                        retriable = true;
                        retry_after = retry_after.max(*ra);
                    }
                    failures.push(format!("{}: {e}", redact_url(&r.url)));
                }
            }
        }
        if failures.is_empty() {
            return Ok(SendOutcome::Delivered);
        }
        let message = failures.join("; ");
        Err(if retriable {
            SendError::Retriable {
                message,
                retry_after,
            }
        } else {
            SendError::Permanent { message }
        })
    }
}
