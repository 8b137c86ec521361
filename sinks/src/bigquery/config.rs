//! `bigquery:` settings: kubernetes-event-exporter's `location`, `project`,
//! `dataset`, `table`, `credentials_path`, `batch_size`, `max_retries`,
//! `interval_seconds` and `timeout_seconds`, and herald's `mode` and
//! `endpoint`.

use std::time::Duration;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, decode_with};
use serde::Deserialize;

use super::{BigqueryBuilder, BigqueryError, BigquerySink};
use crate::driver::{BatchSettings, DeliverySettings};
use crate::pubsub::missing;
use crate::registry::{BuildContext, SinkType};

/// Google's BigQuery API.
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";

#[derive(Deserialize)]
struct RawBigqueryConfig {
    #[serde(default)]
    location: Option<Located<String>>,
    #[serde(default)]
    project: Located<String>,
    #[serde(default)]
    dataset: Located<String>,
    #[serde(default)]
    table: Located<String>,
    #[serde(default)]
    credentials_path: Option<Located<String>>,
    #[serde(default)]
    batch_size: Option<Located<u64>>,
    #[serde(default)]
    max_retries: Option<Located<u32>>,
    #[serde(default)]
    interval_seconds: Option<Located<u64>>,
    #[serde(default)]
    timeout_seconds: Option<Located<u64>>,
    #[serde(default)]
    mode: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
}

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// A load job per batch (kubernetes-event-exporter's way): the schema is
    /// detected, new fields are added to the table.
    #[default]
    Load,
    /// The streaming `insertAll` API: rows are queryable at once, each with
    /// its idempotency key as `insertId`; the table must exist.
    Streaming,
}

/// A `bigquery:` receiver.
#[derive(Debug, Clone)]
pub struct BigqueryConfig {
    /// Where load jobs run (default `US`).
    pub location: String,
    /// The project of the dataset (and of the jobs).
    pub project: String,
    /// The dataset.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// A service-account key file; `None` uses Application Default
    /// Credentials.
    pub credentials_path: Option<String>,
    /// Events per load job or `insertAll` call (default 1000).
    pub batch_size: usize,
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// How long a batch waits for more events (default 10 s).
    pub interval: Duration,
    /// The limit of one attempt: the upload and waiting for the job
    /// (default 60 s).
    pub timeout: Duration,
    /// Load jobs or streaming inserts.
    pub mode: WriteMode,
    /// The API's base URL (default [`DEFAULT_ENDPOINT`]).
    pub endpoint: String,
}

impl BigqueryConfig {
    /// Decodes and checks a `bigquery:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawBigqueryConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let mut required = |value: &Located<String>, key: &str, what: &str, hint: &str| {
            let text = value.value.trim();
            if text.is_empty() {
                missing(value, node, key, path, diags, &format!("bigquery needs `{key}`"))
                    .with_hint(hint.to_owned());
                return None;
            }
            if text.contains(['/', '?', '#', '`']) {
                value
                    .error(diags, format!("`{key}` is not a {what}"))
                    .with_hint(hint.to_owned());
                return None;
            }
            Some(text.to_owned())
        };
        let project = required(
            &raw.project,
            "project",
            "project id",
            "set `project:` to the Google Cloud project of the dataset, such as `my-project`",
        );
        let dataset = required(
            &raw.dataset,
            "dataset",
            "dataset id",
            "set `dataset:` to the dataset id (letters, digits and `_`), such as `kube_events`",
        );
        let table = required(
            &raw.table,
            "table",
            "table id",
            "set `table:` to the table id, such as `events`; load jobs create it",
        );
        if let Some(d) = &raw.dataset.value.trim().chars().find(|c| !c.is_ascii_alphanumeric() && *c != '_')
            && dataset.is_some()
        {
            raw.dataset
                .error(diags, format!("a dataset id cannot contain `{d}`"))
                .with_hint("dataset ids are letters, digits and `_`, such as `kube_events`");
        }
        let credentials_path = raw
            .credentials_path
            .as_ref()
            .filter(|p| !p.value.trim().is_empty())
            .map(|p| {
                if diags.checks_files_of(herald_config::Role::Ruler)
                    && let Err(problem) = super::auth::check_key_file(p.value.trim())
                {
                    p.error(diags, problem.message).with_hint(problem.hint);
                }
                p.value.trim().to_owned()
            });
        let mode = match raw.mode.as_ref().map(|m| (m, m.value.trim())) {
            None | Some((_, "" | "load")) => WriteMode::Load,
            Some((_, "streaming")) => WriteMode::Streaming,
            Some((m, other)) => {
                m.error(diags, format!("unknown bigquery mode `{other}`"))
                    .with_hint("use `load` (the default: load jobs with schema detection) or `streaming` (insertAll)");
                WriteMode::Load
            }
        };
        let endpoint = match raw.endpoint.as_ref().filter(|e| !e.value.trim().is_empty()) {
            None => DEFAULT_ENDPOINT.to_owned(),
            Some(e) => match reqwest::Url::parse(e.value.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    e.value.trim().trim_end_matches('/').to_owned()
                }
                _ => {
                    e.error(diags, "`endpoint` is not an http:// or https:// URL")
                        .with_hint(format!("leave it out to use {DEFAULT_ENDPOINT}"));
                    DEFAULT_ENDPOINT.to_owned()
                }
            },
        };
        let batch_size = match raw.batch_size.as_ref().filter(|b| b.value > 0) {
            None => 1000,
            Some(b) => usize::try_from(b.value).unwrap_or(usize::MAX),
        };
        let positive = |v: &Option<Located<u64>>, default: u64| {
            v.as_ref().map_or(default, |v| if v.value == 0 { default } else { v.value })
        };
        let location = raw
            .location
            .as_ref()
            .map(|l| l.value.trim())
            .filter(|l| !l.is_empty())
            .unwrap_or("US")
            .to_owned();
        if diags.error_count() > before {
            return None;
        }
        Some(BigqueryConfig {
            location,
            project: project?,
            dataset: dataset?,
            table: table?,
            credentials_path,
            batch_size,
            max_retries: raw.max_retries.as_ref().map_or(3, |r| r.value),
            interval: Duration::from_secs(positive(&raw.interval_seconds, 10)),
            timeout: Duration::from_secs(positive(&raw.timeout_seconds, 60)),
            mode,
            endpoint,
        })
    }
}

#[async_trait]
impl SinkType for BigqueryConfig {
    const NAME: &'static str = "bigquery";
    /// Up to 1000 events (9 MiB, below the API's 10 MB request limit),
    /// waiting up to 10 s for more: `batch_size` and `interval_seconds`
    /// change the defaults.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 1000,
        max_bytes: 9 * 1024 * 1024,
        linger: Duration::from_secs(10),
    };
    type Sink = BigquerySink;
    type BuildError = BigqueryError;

    fn delivery_defaults(&self) -> DeliverySettings {
        let mut s = DeliverySettings::with_batch(BatchSettings {
            max_events: self.batch_size,
            linger: self.interval,
            ..Self::BATCH_DEFAULTS
        });
        s.timeout = self.timeout;
        s.retry.max_attempts = self.max_retries.saturating_add(1);
        s
    }

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        BigqueryConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> BigqueryBuilder {
        BigqueryBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<BigquerySink, BigqueryError> {
        BigquerySink::connect(cx.name, self, cx.settings).await
    }
}
