//! The request builder (rows, load-job uploads, `insertAll` bodies) and the
//! sink that sends them, waits for load jobs and reads answers row by row.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use sha2::Digest as _;
use tracing::{info, warn};

use super::api::{
    BOUNDARY, Destination, JobState, classify_error, insert_all_body, insert_all_outcomes,
    job_state, multipart_body,
};
use super::auth::TokenSource;
use super::rows::to_row;
use super::{BigqueryConfig, BigqueryError, WriteMode};
use crate::driver::{
    Delivery, DeliverySettings, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome,
    Sink,
};
use crate::model::kee_json;
use crate::util::http::{HttpRequest, parse_retry_after};

/// The first wait before a running load job is checked again; it doubles
/// up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(100);
/// The longest wait between two checks of a running load job.
const MAX_POLL: Duration = Duration::from_secs(2);

/// One encoded event: its row and its idempotency key.
#[derive(Debug, Clone)]
pub struct BigqueryItem {
    /// The event's idempotency key (`insertId` when streaming).
    pub insert_id: String,
    /// The row: one line of JSON, nulls dropped, keys sanitised.
    pub row: Bytes,
}

/// What one batch sends.
#[derive(Debug)]
pub enum BigqueryRequest {
    /// A load job of the rows.
    Load {
        /// The rows as NDJSON.
        ndjson: Bytes,
        /// The job id without its generation suffix: derived from the
        /// table and the rows' idempotency keys, so an upload whose answer
        /// was lost is found again (409) instead of loading twice.
        job_base: String,
        /// Bumped when a job failed for a passing reason: the retry needs a
        /// job id of its own.
        generation: AtomicU32,
    },
    /// An `insertAll` call.
    Streaming {
        /// The JSON body.
        body: Bytes,
        /// How many rows it carries.
        rows: usize,
    },
}

impl BigqueryRequest {
    /// The job id of the next attempt (load jobs).
    pub fn job_id(&self) -> Option<String> {
        match self {
            BigqueryRequest::Load {
                job_base,
                generation,
                ..
            } => Some(format!("{job_base}_{}", generation.load(Ordering::Relaxed))),
            BigqueryRequest::Streaming { .. } => None,
        }
    }
}

/// Turns events into BigQuery rows and requests.
#[derive(Debug, Clone)]
pub struct BigqueryBuilder {
    destination: Arc<Destination>,
    mode: WriteMode,
}

impl BigqueryBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(_name: &str, config: &BigqueryConfig) -> BigqueryBuilder {
        BigqueryBuilder {
            destination: Arc::new(destination(config)),
            mode: config.mode,
        }
    }

    /// The HTTP request of an attempt, without its `Authorization`.
    fn http(&self, request: &BigqueryRequest) -> Result<HttpRequest, String> {
        let (url, content_type, body) = match request {
            BigqueryRequest::Load { ndjson, .. } => {
                let job_id = request.job_id().unwrap_or_default();
                let job = self.destination.load_job(&job_id);
                (
                    self.destination.upload_url(),
                    format!("multipart/related; boundary={BOUNDARY}"),
                    Bytes::from(multipart_body(&job, ndjson)),
                )
            }
            BigqueryRequest::Streaming { body, .. } => (
                self.destination.insert_all_url(),
                "application/json".to_owned(),
                body.clone(),
            ),
        };
        let url = Url::parse(&url).map_err(|e| format!("invalid BigQuery URL: {e}"))?;
        let mut http = HttpRequest::new(Method::POST, url);
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            http.headers.insert(CONTENT_TYPE, v);
        }
        http.body = body;
        Ok(http)
    }
}

fn destination(config: &BigqueryConfig) -> Destination {
    Destination {
        endpoint: config.endpoint.clone(),
        project: config.project.clone(),
        dataset: config.dataset.clone(),
        table: config.table.clone(),
        location: config.location.clone(),
    }
}

impl RequestBuilder for BigqueryBuilder {
    type Item = BigqueryItem;
    type Request = BigqueryRequest;

    fn encode(&self, delivery: &Delivery) -> Result<BigqueryItem, EncodeError> {
        let mut json = Vec::with_capacity(1024);
        kee_json(&delivery.event, false, &mut json);
        let value: serde_json::Value = serde_json::from_slice(&json)
            .map_err(|e| EncodeError::Invalid(format!("the event JSON does not parse: {e}")))?;
        let row = serde_json::to_vec(&to_row(value))
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the row: {e}")))?;
        Ok(BigqueryItem {
            insert_id: delivery.event.idempotency_key(),
            row: Bytes::from(row),
        })
    }

    fn item_size(&self, item: &BigqueryItem) -> usize {
        item.row.len() + 1
    }

    fn build_request(&self, items: &[BigqueryItem]) -> BigqueryRequest {
        match self.mode {
            WriteMode::Load => {
                let mut ndjson = Vec::with_capacity(items.iter().map(|i| i.row.len() + 1).sum());
                let mut digest = sha2::Sha256::new();
                let d = &self.destination;
                digest.update(format!("{}.{}.{}\n", d.project, d.dataset, d.table));
                for item in items {
                    ndjson.extend_from_slice(&item.row);
                    ndjson.push(b'\n');
                    digest.update(item.insert_id.as_bytes());
                    digest.update(b"\n");
                }
                let mut job_base = String::from("herald_");
                for b in &digest.finalize()[..20] {
                    let _ = write!(job_base, "{b:02x}");
                }
                BigqueryRequest::Load {
                    ndjson: Bytes::from(ndjson),
                    job_base,
                    generation: AtomicU32::new(0),
                }
            }
            WriteMode::Streaming => {
                let rows: Vec<(&str, &[u8])> = items
                    .iter()
                    .map(|i| (i.insert_id.as_str(), i.row.as_ref()))
                    .collect();
                BigqueryRequest::Streaming {
                    body: Bytes::from(insert_all_body(&rows)),
                    rows: items.len(),
                }
            }
        }
    }

    fn describe(&self, request: &BigqueryRequest) -> String {
        match self.http(request) {
            Ok(mut http) => {
                // The token is fetched when the request is sent.
                let mut auth = HeaderValue::from_static("Bearer");
                auth.set_sensitive(true);
                http.headers.insert(AUTHORIZATION, auth);
                http.describe()
            }
            Err(e) => e,
        }
    }
}

/// Writes events to a BigQuery table.
pub struct BigquerySink {
    name: Arc<str>,
    builder: BigqueryBuilder,
    client: reqwest::Client,
    tokens: TokenSource,
}

impl std::fmt::Debug for BigquerySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigquerySink")
            .field("name", &self.name)
            .field("destination", &self.builder.destination)
            .finish_non_exhaustive()
    }
}

impl BigquerySink {
    /// Starts the sink of receiver `name`: loads the credentials and tries
    /// to create the dataset (as kubernetes-event-exporter did, a failure is
    /// only logged: the dataset may exist, or be made by someone else).
    ///
    /// # Errors
    /// The credentials cannot be loaded, or the HTTP client cannot be built.
    pub async fn connect(
        name: &str,
        config: &BigqueryConfig,
        settings: &DeliverySettings,
    ) -> Result<BigquerySink, BigqueryError> {
        let tokens = TokenSource::new(config.credentials_path.as_deref())?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout.saturating_add(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BigqueryError::Client(e.to_string()))?;
        let sink = BigquerySink {
            name: Arc::from(name),
            builder: BigqueryBuilder::new(name, config),
            client,
            tokens,
        };
        sink.create_dataset().await;
        Ok(sink)
    }

    async fn create_dataset(&self) {
        let d = &self.builder.destination;
        let result = async {
            let token = self.tokens.token().await.map_err(SendError::retriable)?;
            let response = self
                .client
                .post(d.datasets_url())
                .bearer_auth(token)
                .json(&d.dataset_resource())
                .send()
                .await
                .map_err(|e| SendError::retriable(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            Ok::<_, SendError>((status, body))
        }
        .await;
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                info!(sink = %self.name, sink_type = "bigquery", dataset = %d.dataset, "created the BigQuery dataset");
            }
            Ok((409, _)) => {}
            Ok((status, body)) => {
                let error = classify_error(status, &body, None);
                warn!(sink = %self.name, sink_type = "bigquery", dataset = %d.dataset, error = %error, "cannot create the BigQuery dataset");
            }
            Err(error) => {
                warn!(sink = %self.name, sink_type = "bigquery", dataset = %d.dataset, error = %error, "cannot create the BigQuery dataset");
            }
        }
    }

    /// Sends `http` with the token; returns the 2xx body, or the status and
    /// body of another answer.
    async fn call(
        &self,
        method: Method,
        url: Url,
        token: &str,
        content_type: Option<&HeaderValue>,
        body: Bytes,
    ) -> Result<Result<Bytes, (u16, Bytes, Option<Duration>)>, SendError> {
        let mut request = self.client.request(method, url).bearer_auth(token);
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct.clone());
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| SendError::retriable(format!("BigQuery request failed: {e}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::retriable(format!("cannot read BigQuery's answer: {e}")))?;
        if (200..300).contains(&status) {
            Ok(Ok(body))
        } else {
            Ok(Err((status, body, retry_after)))
        }
    }

    async fn get_job(&self, job_id: &str, token: &str) -> Result<serde_json::Value, SendError> {
        let url = Url::parse(&self.builder.destination.job_url(job_id))
            .map_err(|e| SendError::permanent(format!("invalid BigQuery URL: {e}")))?;
        match self.call(Method::GET, url, token, None, Bytes::new()).await? {
            Ok(body) => parse_json(&body),
            Err((status, body, retry_after)) => Err(classify_error(status, &body, retry_after)),
        }
    }

    async fn load(
        &self,
        request: &BigqueryRequest,
        generation: &AtomicU32,
        token: &str,
    ) -> Result<SendOutcome, SendError> {
        let http = self.builder.http(request).map_err(SendError::permanent)?;
        let job_id = request.job_id().unwrap_or_default();
        let answer = self
            .call(
                Method::POST,
                http.url,
                token,
                http.headers.get(CONTENT_TYPE),
                http.body,
            )
            .await?;
        let mut job = match answer {
            Ok(body) => parse_json(&body)?,
            // The job exists: an earlier attempt's upload landed but its
            // answer was lost. Wait for that job instead of loading again.
            Err((409, _, _)) => self.get_job(&job_id, token).await?,
            Err((status, body, retry_after)) => {
                return Err(classify_error(status, &body, retry_after));
            }
        };
        let mut delay = FIRST_POLL;
        loop {
            match job_state(&job) {
                JobState::Done => return Ok(SendOutcome::Delivered),
                JobState::Failed(e) => {
                    if e.is_retriable() {
                        generation.fetch_add(1, Ordering::Relaxed);
                    }
                    return Err(e);
                }
                JobState::Running => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_POLL);
                    job = self.get_job(&job_id, token).await?;
                }
            }
        }
    }

    async fn insert(
        &self,
        request: &BigqueryRequest,
        rows: usize,
        token: &str,
    ) -> Result<SendOutcome, SendError> {
        let http = self.builder.http(request).map_err(SendError::permanent)?;
        let answer = self
            .call(
                Method::POST,
                http.url,
                token,
                http.headers.get(CONTENT_TYPE),
                http.body,
            )
            .await?;
        match answer {
            Ok(body) => {
                let outcomes = insert_all_outcomes(&body, rows)?;
                if outcomes.iter().all(|o| *o == ItemOutcome::Delivered) {
                    Ok(SendOutcome::Delivered)
                } else {
                    Ok(SendOutcome::partial(outcomes))
                }
            }
            Err((status, body, retry_after)) => Err(classify_error(status, &body, retry_after)),
        }
    }
}

fn parse_json(body: &[u8]) -> Result<serde_json::Value, SendError> {
    serde_json::from_slice(body)
        .map_err(|e| SendError::retriable(format!("cannot read BigQuery's answer: {e}")))
}

#[async_trait]
impl Sink for BigquerySink {
    type Builder = BigqueryBuilder;

    fn kind(&self) -> &'static str {
        "bigquery"
    }

    fn builder(&self) -> &BigqueryBuilder {
        &self.builder
    }

    async fn send(&self, request: &BigqueryRequest) -> Result<SendOutcome, SendError> {
        let token = self.tokens.token().await.map_err(SendError::retriable)?;
        match request {
            BigqueryRequest::Load { generation, .. } => {
                self.load(request, generation, &token).await
            }
            BigqueryRequest::Streaming { rows, .. } => self.insert(request, *rows, &token).await,
        }
    }
}
