//! BigQuery's REST API as the sink speaks it: the multipart load-job upload,
//! `jobs.get`, `tabledata.insertAll`, and Google's error answers, classified
//! into retry or reject.

use std::time::Duration;

use serde_json::{Value, json};

use crate::driver::{ItemOutcome, SendError};

/// The multipart boundary of uploads (never part of NDJSON rows: they are
/// single-line JSON objects, and this line starts with `--`).
pub const BOUNDARY: &str = "herald_bigquery_load_boundary";

/// Where the load job, the dataset and the table are.
#[derive(Debug, Clone)]
pub struct Destination {
    /// API base URL.
    pub endpoint: String,
    /// Project id.
    pub project: String,
    /// Dataset id.
    pub dataset: String,
    /// Table id.
    pub table: String,
    /// Job location.
    pub location: String,
}

impl Destination {
    /// `POST …/upload/bigquery/v2/projects/P/jobs?uploadType=multipart`.
    pub fn upload_url(&self) -> String {
        format!(
            "{}/upload/bigquery/v2/projects/{}/jobs?uploadType=multipart",
            self.endpoint,
            encode(&self.project)
        )
    }

    /// `GET …/bigquery/v2/projects/P/jobs/J?location=L`.
    pub fn job_url(&self, job_id: &str) -> String {
        format!(
            "{}/bigquery/v2/projects/{}/jobs/{}?location={}",
            self.endpoint,
            encode(&self.project),
            encode(job_id),
            encode(&self.location)
        )
    }

    /// `POST …/bigquery/v2/projects/P/datasets/D/tables/T/insertAll`.
    pub fn insert_all_url(&self) -> String {
        format!(
            "{}/bigquery/v2/projects/{}/datasets/{}/tables/{}/insertAll",
            self.endpoint,
            encode(&self.project),
            encode(&self.dataset),
            encode(&self.table)
        )
    }

    /// `POST …/bigquery/v2/projects/P/datasets`.
    pub fn datasets_url(&self) -> String {
        format!(
            "{}/bigquery/v2/projects/{}/datasets",
            self.endpoint,
            encode(&self.project)
        )
    }

    /// The dataset to create at startup.
    pub fn dataset_resource(&self) -> Value {
        json!({
            "datasetReference": {"projectId": self.project, "datasetId": self.dataset},
            "location": self.location,
        })
    }

    /// The load job's resource: NDJSON, schema detection, new fields
    /// allowed, rows appended (the table is created when missing).
    pub fn load_job(&self, job_id: &str) -> Value {
        json!({
            "jobReference": {
                "projectId": self.project,
                "jobId": job_id,
                "location": self.location,
            },
            "configuration": {
                "load": {
                    "destinationTable": {
                        "projectId": self.project,
                        "datasetId": self.dataset,
                        "tableId": self.table,
                    },
                    "sourceFormat": "NEWLINE_DELIMITED_JSON",
                    "autodetect": true,
                    "schemaUpdateOptions": ["ALLOW_FIELD_ADDITION"],
                    "writeDisposition": "WRITE_APPEND",
                    "createDisposition": "CREATE_IF_NEEDED",
                }
            }
        })
    }
}

/// Percent-encodes one path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The multipart/related body of an upload: the job resource, then the
/// rows as NDJSON.
pub fn multipart_body(job: &Value, ndjson: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(ndjson.len() + 1024);
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(job.to_string().as_bytes());
    body.extend_from_slice(
        format!("\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(ndjson);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Google's error reasons that pass with time (throttling, backend
/// trouble) or once the receiver's setup is fixed (permissions, a missing
/// dataset): retried, so no event is lost meanwhile.
fn reason_is_retriable(reason: &str) -> bool {
    matches!(
        reason,
        "backendError"
            | "internalError"
            | "jobInternalError"
            | "rateLimitExceeded"
            | "quotaExceeded"
            | "jobRateLimitExceeded"
            | "timeout"
            | "stopped"
            | "accessDenied"
            | "notFound"
            | "responseTooLarge"
    )
}

/// Classifies a non-2xx answer from Google's JSON error body
/// (`{"error":{"code","message","errors":[{"reason"}],"status"}}`):
/// 429, 5xx, 401, 403 and 404 are retried (throttling, outages, and setup
/// problems an operator fixes: nothing is lost meanwhile), other statuses
/// reject the batch. The message is Google's.
pub fn classify_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> SendError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = &v["error"];
    let reason = error["errors"][0]["reason"].as_str().unwrap_or_default();
    let text = error["message"].as_str().map_or_else(
        || String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned(),
        str::to_owned,
    );
    let message = if reason.is_empty() {
        format!("HTTP {status}: {text}")
    } else {
        format!("HTTP {status} {reason}: {text}")
    };
    if matches!(status, 401 | 403 | 404 | 408 | 429) || status >= 500 || reason_is_retriable(reason) {
        SendError::Retriable {
            message,
            retry_after,
        }
    } else {
        SendError::permanent(message)
    }
}

/// Where a job is.
#[derive(Debug)]
pub enum JobState {
    /// Not finished.
    Running,
    /// Finished without error.
    Done,
    /// Finished with an error.
    Failed(SendError),
}

/// Reads a job resource's `status`.
pub fn job_state(job: &Value) -> JobState {
    let status = &job["status"];
    if status["state"].as_str() != Some("DONE") {
        return JobState::Running;
    }
    let error = &status["errorResult"];
    if error.is_null() {
        return JobState::Done;
    }
    let reason = error["reason"].as_str().unwrap_or_default();
    let mut message = format!(
        "load job failed: {reason}: {}",
        error["message"].as_str().unwrap_or_default()
    );
    // The first row-level detail, which names the bad field.
    if let Some(detail) = status["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|d| d["message"] != error["message"]))
        .and_then(|d| d["message"].as_str())
    {
        message.push_str(&format!(" ({detail})"));
    }
    if reason_is_retriable(reason) {
        JobState::Failed(SendError::retriable(message))
    } else {
        JobState::Failed(SendError::permanent(message))
    }
}

/// The `insertAll` body: one row per event with its `insertId`.
pub fn insert_all_body(rows: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = br#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":false,"ignoreUnknownValues":false,"rows":["#.to_vec();
    for (i, (insert_id, json)) in rows.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(br#"{"insertId":"#);
        body.extend_from_slice(Value::from(*insert_id).to_string().as_bytes());
        body.extend_from_slice(br#","json":"#);
        body.extend_from_slice(json);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

/// Reads an `insertAll` answer into one outcome per row: rows without
/// `insertErrors` were inserted; `invalid` rows are rejected with Google's
/// message; rows `stopped` because another row was invalid, and rows that
/// failed for a passing reason, are sent again.
pub fn insert_all_outcomes(body: &[u8], rows: usize) -> Result<Vec<ItemOutcome>, SendError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        SendError::retriable(format!("cannot read the insertAll answer: {e}"))
    })?;
    let mut outcomes = vec![ItemOutcome::Delivered; rows];
    for entry in v["insertErrors"].as_array().into_iter().flatten() {
        let Some(index) = entry["index"].as_u64().and_then(|i| usize::try_from(i).ok()) else {
            continue;
        };
        let Some(slot) = outcomes.get_mut(index) else {
            continue;
        };
        let errors = entry["errors"].as_array().cloned().unwrap_or_default();
        let describe = |e: &Value| {
            let location = e["location"].as_str().unwrap_or_default();
            let message = e["message"].as_str().unwrap_or_default();
            let reason = e["reason"].as_str().unwrap_or_default();
            if location.is_empty() {
                format!("{reason}: {message}")
            } else {
                format!("{reason} at {location}: {message}")
            }
        };
        let invalid = errors
            .iter()
            .find(|e| !reason_is_retriable(e["reason"].as_str().unwrap_or_default()));
        *slot = match invalid {
            Some(e) => ItemOutcome::rejected(describe(e)),
            None => ItemOutcome::retry(errors.first().map(describe).unwrap_or_else(|| "row not inserted".to_owned())),
        };
    }
    Ok(outcomes)
}
