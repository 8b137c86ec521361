//! The `_bulk` request builder and the sink that sends it, host by host.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use herald_config::is_secret_key;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use tracing::warn;

use super::bulk::parse_response;
use super::config::basic;
use super::sigv4::{self, Canonical, Credentials};
use super::{DocumentId, IndexName, IndexTime, SearchConfig, SearchError, SigV4Config};
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::util::PayloadEncoder;
use crate::util::http::{HttpRequest, HttpSender, redact_url};

/// One encoded event: its action line and its document line, both ending in
/// `\n`.
#[derive(Debug)]
pub struct BulkItem {
    lines: Vec<u8>,
}

/// One `_bulk` request: the request for the first host and the number of
/// documents it carries.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// The request as sent to the first host (`describe` shows it).
    pub http: HttpRequest,
    /// How many documents the body holds.
    pub count: usize,
}

/// Turns events into `_bulk` requests.
#[derive(Debug, Clone)]
pub struct SearchBuilder {
    encoder: PayloadEncoder,
    index: IndexName,
    index_time: IndexTime,
    document_id: DocumentId,
    base: HttpRequest,
}

impl SearchBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &SearchConfig) -> SearchBuilder {
        let url = config.hosts[0].join("_bulk").unwrap_or_else(|_| config.hosts[0].clone());
        let mut base = HttpRequest::new(Method::POST, url);
        base.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        if let Some(auth) = &config.authorization
            && let Ok(mut v) = HeaderValue::from_str(auth.expose())
        {
            v.set_sensitive(true);
            base.headers.insert(AUTHORIZATION, v);
        }
        for (name, _) in &config.headers {
            base.headers.remove(name);
        }
        for (name, value) in &config.headers {
            if let Ok(mut v) = HeaderValue::from_str(value.expose()) {
                v.set_sensitive(is_secret_key(name.as_str()));
                base.headers.append(name.clone(), v);
            }
        }
        SearchBuilder {
            encoder: PayloadEncoder::new(config.layout.clone(), config.dedot),
            index: config.index.clone(),
            index_time: config.index_time,
            document_id: config.document_id,
            base,
        }
    }
}

impl RequestBuilder for SearchBuilder {
    type Item = BulkItem;
    type Request = BulkRequest;

    fn encode(&self, delivery: &Delivery) -> Result<BulkItem, EncodeError> {
        let event = &delivery.event;
        let at = match self.index_time {
            IndexTime::Now => chrono::Utc::now(),
            IndexTime::Event => event.timestamp().unwrap_or_else(chrono::Utc::now),
        };
        let index = self.index.render(at);
        let (action, id) = match self.document_id {
            DocumentId::Occurrence => ("create", event.idempotency_key()),
            DocumentId::EventUid => ("index", event.metadata.uid.clone()),
        };
        let mut meta = serde_json::Map::new();
        meta.insert("_index".into(), index.into());
        if !id.is_empty() {
            meta.insert("_id".into(), id.into());
        }
        let action = serde_json::json!({ action: meta });
        let mut lines = serde_json::to_vec(&action)
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the action line: {e}")))?;
        lines.push(b'\n');
        let start = lines.len();
        self.encoder.encode(delivery, &mut lines)?;
        if lines[start..].contains(&b'\n') {
            return Err(EncodeError::Invalid(
                "the document contains a newline, which _bulk cannot carry".into(),
            ));
        }
        lines.push(b'\n');
        Ok(BulkItem { lines })
    }

    fn item_size(&self, item: &BulkItem) -> usize {
        item.lines.len()
    }

    fn build_request(&self, items: &[BulkItem]) -> BulkRequest {
        let mut body = Vec::with_capacity(items.iter().map(|i| i.lines.len()).sum());
        for item in items {
            body.extend_from_slice(&item.lines);
        }
        let mut http = self.base.clone();
        http.body = Bytes::from(body);
        BulkRequest {
            http,
            count: items.len(),
        }
    }

    fn describe(&self, request: &BulkRequest) -> String {
        request.http.describe()
    }
}

/// One host: where `_bulk` is, and the `Authorization` of credentials
/// written in its URL.
#[derive(Debug)]
struct Host {
    bulk: Url,
    authorization: Option<HeaderValue>,
}

impl Host {
    fn new(url: &Url) -> Host {
        let mut url = url.clone();
        let authorization = if url.username().is_empty() {
            None
        } else {
            let user = percent_decode(url.username());
            let password = percent_decode(url.password().unwrap_or_default());
            let _ = url.set_username("");
            let _ = url.set_password(None);
            HeaderValue::from_str(&basic(&user, &password))
                .ok()
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
        };
        let bulk = url.join("_bulk").unwrap_or(url);
        Host {
            bulk,
            authorization,
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(Some(h)), Some(Some(l))) =
                (bytes.get(i + 1).map(|b| hex(*b)), bytes.get(i + 2).map(|b| hex(*b)))
        {
            // Two hex digits make one byte.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes events to Elasticsearch or OpenSearch with `_bulk`.
pub struct SearchSink {
    name: Arc<str>,
    kind: &'static str,
    builder: SearchBuilder,
    sender: HttpSender,
    hosts: Vec<Host>,
    /// The host that answered last; tried first.
    current: AtomicUsize,
    /// AWS SigV4 signing and its credentials.
    signer: Option<(SigV4Config, Credentials)>,
}

impl SearchSink {
    /// Creates the sink of receiver `name` (type `kind`) with its own HTTP
    /// client.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, or the client cannot be built.
    pub fn new(
        name: &str,
        kind: &'static str,
        config: &SearchConfig,
        timeout: Duration,
    ) -> Result<Self, SearchError> {
        Self::with_credentials(name, kind, config, timeout, None)
    }

    /// Creates the sink, with the AWS credentials of the environment when
    /// the config asks for SigV4.
    ///
    /// # Errors
    /// The TLS files cannot be loaded, the client cannot be built, or
    /// `awsSigV4` is set without credentials in the environment.
    pub fn from_env(
        name: &str,
        kind: &'static str,
        config: &SearchConfig,
        timeout: Duration,
    ) -> Result<Self, SearchError> {
        let credentials = match &config.sigv4 {
            Some(_) => Some(Credentials::from_env().ok_or(SearchError::MissingAwsCredentials)?),
            None => None,
        };
        Self::with_credentials(name, kind, config, timeout, credentials)
    }

    pub(crate) fn with_credentials(
        name: &str,
        kind: &'static str,
        config: &SearchConfig,
        timeout: Duration,
        credentials: Option<Credentials>,
    ) -> Result<Self, SearchError> {
        let signer = match (&config.sigv4, credentials) {
            (Some(s), Some(c)) => Some((s.clone(), c)),
            (Some(_), None) => return Err(SearchError::MissingAwsCredentials),
            (None, _) => None,
        };
        Ok(SearchSink {
            signer,
            name: Arc::from(name),
            kind,
            builder: SearchBuilder::new(config),
            sender: HttpSender::new(config.tls.as_ref(), timeout)?,
            hosts: config.hosts.iter().map(Host::new).collect(),
            current: AtomicUsize::new(0),
        })
    }

    async fn send_to(&self, host: &Host, request: &BulkRequest) -> Result<SendOutcome, SendError> {
        let mut http = request.http.clone();
        http.url = host.bulk.clone();
        if let Some(auth) = &host.authorization {
            http.headers.insert(AUTHORIZATION, auth.clone());
        }
        if let Some((config, credentials)) = &self.signer {
            sign(&mut http, config, credentials, chrono::Utc::now());
        }
        let response = self.sender.send(&http).await?;
        let body = response.body().await?;
        parse_response(&body, request.count)
    }
}

/// Signs `http` with AWS SigV4 at `now`: adds `X-Amz-Date`,
/// `X-Amz-Content-Sha256`, `X-Amz-Security-Token` (temporary credentials) and
/// `Authorization`, signing those, `Host` and `Content-Type`.
pub(crate) fn sign(
    http: &mut HttpRequest,
    config: &SigV4Config,
    credentials: &Credentials,
    now: chrono::DateTime<chrono::Utc>,
) {
    use sha2::Digest as _;
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let payload = sigv4::hex(&sha2::Sha256::digest(&http.body));
    let mut set = |name: &'static str, value: &str, sensitive: bool| {
        if let Ok(mut v) = HeaderValue::from_str(value) {
            v.set_sensitive(sensitive);
            http.headers.insert(name, v);
        }
    };
    set("x-amz-date", &amz_date, false);
    set("x-amz-content-sha256", &payload, false);
    if let Some(token) = &credentials.session_token {
        set("x-amz-security-token", token.expose(), true);
    }
    let host = match http.url.port() {
        Some(port) => format!("{}:{port}", http.url.host_str().unwrap_or_default()),
        None => http.url.host_str().unwrap_or_default().to_owned(),
    };
    let mut headers = vec![("host".to_owned(), host)];
    for name in [
        "content-type",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
    ] {
        if let Some(v) = http.headers.get(name).and_then(|v| v.to_str().ok()) {
            headers.push((name.to_owned(), v.to_owned()));
        }
    }
    let canonical = Canonical {
        method: http.method.as_str(),
        path: http.url.path(),
        query: http
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        payload_sha256: payload,
    };
    let auth = sigv4::authorization(
        &canonical,
        &amz_date,
        &config.region,
        &config.service,
        credentials,
    );
    if let Ok(mut v) = HeaderValue::from_str(&auth) {
        v.set_sensitive(true);
        http.headers.insert(AUTHORIZATION, v);
    }
}

/// Whether an error means "this host is unwell, try another": a connection
/// error, a timeout or a 5xx answer (not 429, which the cluster as a whole
/// says).
fn fails_over(e: &SendError) -> bool {
    match e {
        SendError::Retriable { message, .. } => !message.starts_with("unexpected HTTP status 429"),
        SendError::Permanent { .. } => false,
    }
}

#[async_trait]
impl Sink for SearchSink {
    type Builder = SearchBuilder;

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn builder(&self) -> &SearchBuilder {
        &self.builder
    }

    async fn send(&self, request: &BulkRequest) -> Result<SendOutcome, SendError> {
        let n = self.hosts.len();
        let first = self.current.load(Ordering::Relaxed) % n.max(1);
        let mut last = SendError::retriable("no hosts");
        for step in 0..n {
            let i = (first + step) % n;
            match self.send_to(&self.hosts[i], request).await {
                Ok(outcome) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(outcome);
                }
                Err(e) if fails_over(&e) && step + 1 < n => {
                    warn!(
                        sink = %self.name,
                        sink_type = self.kind,
                        host = %redact_url(&self.hosts[i].bulk),
                        error = %e,
                        "host failed, trying the next one"
                    );
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}
