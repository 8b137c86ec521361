//! `bigquery` config, rows, request bodies and answer classification. Load
//! jobs and streaming inserts against a fake BigQuery, through the delivery
//! driver, are in `sinks/tests/bigquery.rs`.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;

use super::api::{
    BOUNDARY, Destination, JobState, classify_error, insert_all_body, insert_all_outcomes,
    job_state, multipart_body,
};
use super::rows::{sanitize_key, to_row};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, ItemOutcome, RequestBuilder as _};
use crate::model::tests::compat_example;
use crate::registry::SinkType as _;

fn load(yaml: &str) -> (Option<BigqueryConfig>, herald_config::Diagnostics) {
    let (r, diags) = parse(yaml);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<BigqueryConfig>())
        .cloned();
    (c, diags)
}

/// kubernetes-event-exporter's README example, a blank form: every key is
/// known (no warnings) and the three required ones are reported at their
/// own lines, as kubernetes-event-exporter refused to start without them.
#[test]
fn the_blank_kee_readme_example_names_the_three_required_keys() {
    let (c, diags) = load(
        "receivers:\n  - name: \"my-big-query\"\n    bigquery:\n      location:\n      project:\n      dataset:\n      table:\n      credentials_path:\n      batch_size:\n      max_retries:\n      interval_seconds:\n      timeout_seconds:\n",
    );
    assert!(c.is_none());
    assert_eq!(diags.warning_count(), 0, "{diags}");
    assert_eq!(diags.error_count(), 3, "{diags}");
    let text = diags.to_string();
    for (line, key) in [(5, "project"), (6, "dataset"), (7, "table")] {
        assert!(
            text.contains(&format!("config.yaml:{line}:7: error: receivers[0].bigquery.{key}: bigquery needs `{key}`")),
            "{text}"
        );
    }
    assert_eq!(text.matches("hint:").count(), 3, "{text}");
}

#[test]
fn the_filled_in_example_loads_with_kee_defaults() {
    let (c, diags) = load(
        "receivers:\n  - name: \"my-big-query\"\n    bigquery:\n      location:\n      project: my-project\n      dataset: kube_events\n      table: events\n      credentials_path:\n      batch_size:\n      max_retries:\n      interval_seconds:\n      timeout_seconds:\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.location, "US");
    assert_eq!(c.batch_size, 1000);
    assert_eq!(c.max_retries, 3);
    assert_eq!(c.interval, Duration::from_secs(10));
    assert_eq!(c.timeout, Duration::from_secs(60));
    assert_eq!(c.mode, WriteMode::Load);
    assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
    assert!(c.credentials_path.is_none());
}

#[test]
fn kee_batch_retry_and_timeout_keys_set_the_delivery_defaults() {
    let (r, diags) = parse(
        "receivers:\n  - name: bq\n    bigquery:\n      project: p\n      dataset: d\n      table: t\n      batch_size: 50\n      max_retries: 5\n      interval_seconds: 2\n      timeout_seconds: 30\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<BigqueryConfig>().unwrap();
    let s = c.delivery_defaults();
    assert_eq!(s.batch.max_events, 50);
    assert_eq!(s.batch.linger, Duration::from_secs(2));
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(s.retry.max_attempts, 6);
    // herald's `delivery:` block still wins.
    let (r, _) = parse(
        "receivers:\n  - name: bq\n    delivery:\n      batch:\n        maxEvents: 7\n    bigquery:\n      project: p\n      dataset: d\n      table: t\n      batch_size: 50\n",
    );
    let c = r[0].sink.downcast_ref::<BigqueryConfig>().unwrap();
    assert_eq!(r[0].delivery.apply(c.delivery_defaults()).batch.max_events, 7);
}

fn with_credentials(content: &str) -> (tempfile::NamedTempFile, herald_config::Diagnostics) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content.as_bytes()).unwrap();
    let (c, diags) = load(&format!(
        "receivers:\n  - name: bq\n    bigquery:\n      project: p\n      dataset: d\n      table: t\n      credentials_path: {}\n",
        f.path().display()
    ));
    assert!(c.is_none() == diags.has_errors());
    (f, diags)
}

#[test]
fn a_credentials_file_that_is_not_a_service_account_key_is_refused_without_its_content() {
    let (_f, diags) = with_credentials(
        r#"{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t-value","refresh_token":"r"}"#,
    );
    let text = diags.to_string();
    assert!(text.contains("config.yaml:7:") && text.contains("`authorized_user` credentials, not a service-account key"), "{text}");
    assert!(text.contains("hint: create a key for a service account"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    let (_f, diags) = with_credentials("client_secret: s3cr3t-value\n");
    let text = diags.to_string();
    assert!(text.contains("is not JSON") && !text.contains("s3cr3t-value"), "{text}");
    let (_f, diags) = with_credentials(r#"{"type":"service_account","client_email":"a@b"}"#);
    assert!(diags.to_string().contains("has no `private_key`"), "{diags}");
}

#[test]
fn bad_mode_dataset_and_endpoint_are_located_errors() {
    let (c, diags) = load(
        "receivers:\n  - name: bq\n    bigquery:\n      project: p\n      dataset: kube-events\n      table: t\n      mode: stream\n      endpoint: bigquery\n",
    );
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:5:") && text.contains("cannot contain `-`"), "{text}");
    assert!(text.contains("config.yaml:7:") && text.contains("unknown bigquery mode"), "{text}");
    assert!(text.contains("config.yaml:8:") && text.contains("`endpoint`"), "{text}");
}

#[test]
fn rows_drop_nulls_in_objects_and_sanitise_keys_like_kee() {
    assert_eq!(sanitize_key("app.kubernetes.io/name"), "app_kubernetes_io_name");
    assert_eq!(sanitize_key("1st"), "_1st");
    assert_eq!(sanitize_key("_x"), "__x");
    assert_eq!(sanitize_key("firstTimestamp"), "firstTimestamp");
    let row = to_row(json!({
        "a": null,
        "metadata": {"labels": {"app.kubernetes.io/name": "web", "gone": null}},
        "list": [null, {"k.x": null}],
        "count": 3,
    }));
    assert_eq!(
        row,
        json!({
            "metadata": {"labels": {"app_kubernetes_io_name": "web"}},
            "list": [null, {"k.x": null}],
            "count": 3,
        })
    );
}

fn destination() -> Destination {
    Destination {
        endpoint: "http://bq".into(),
        project: "p".into(),
        dataset: "d".into(),
        table: "t".into(),
        location: "EU".into(),
    }
}

#[test]
fn the_upload_is_multipart_related_with_the_job_and_the_rows() {
    let d = destination();
    assert_eq!(
        d.upload_url(),
        "http://bq/upload/bigquery/v2/projects/p/jobs?uploadType=multipart"
    );
    assert_eq!(d.job_url("herald_x_0"), "http://bq/bigquery/v2/projects/p/jobs/herald_x_0?location=EU");
    let job = d.load_job("j1");
    assert_eq!(job["configuration"]["load"]["autodetect"], true);
    assert_eq!(
        job["configuration"]["load"]["schemaUpdateOptions"],
        json!(["ALLOW_FIELD_ADDITION"])
    );
    let body = multipart_body(&job, b"{\"a\":1}\n");
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        format!(
            "--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{job}\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n\r\n{{\"a\":1}}\n\r\n--{BOUNDARY}--\r\n"
        )
    );
}

#[test]
fn the_job_id_depends_on_the_rows_and_the_preview_hides_the_token() {
    let (c, _) = load(
        "receivers:\n  - name: bq\n    bigquery:\n      project: p\n      dataset: d\n      table: t\n",
    );
    let b = BigqueryBuilder::new("bq", &c.unwrap());
    let one = Delivery::from_event(compat_example(), AckRef::detached());
    let mut other = compat_example();
    other.occurrence += 1;
    let two = Delivery::from_event(other, AckRef::detached());
    let a = b.request_for(&[&one]).unwrap().job_id().unwrap();
    assert_eq!(a, b.request_for(&[&one]).unwrap().job_id().unwrap());
    assert_ne!(a, b.request_for(&[&one, &two]).unwrap().job_id().unwrap());
    assert!(a.starts_with("herald_") && a.ends_with("_0") && a.len() == 7 + 40 + 2, "{a}");
    let text = b.describe(&b.request_for(&[&one]).unwrap());
    assert!(text.starts_with("POST https://bigquery.googleapis.com/upload/bigquery/v2/projects/p/jobs?uploadType=multipart\n"), "{text}");
    assert!(text.contains("Authorization: ***\n"), "{text}");
    assert!(text.contains("\"autodetect\":true"), "{text}");
}

#[test]
fn job_states_and_google_errors_are_classified() {
    assert!(matches!(job_state(&json!({"status": {"state": "RUNNING"}})), JobState::Running));
    assert!(matches!(job_state(&json!({"status": {"state": "DONE"}})), JobState::Done));
    let JobState::Failed(e) = job_state(&json!({"status": {"state": "DONE",
        "errorResult": {"reason": "invalid", "message": "Error while reading data"},
        "errors": [{"reason": "invalid", "message": "Error while reading data"},
                   {"reason": "invalid", "message": "No such field: x"}]}}))
    else {
        panic!("failed job")
    };
    assert!(!e.is_retriable());
    assert_eq!(e.to_string(), "load job failed: invalid: Error while reading data (No such field: x)");
    let JobState::Failed(e) = job_state(&json!({"status": {"state": "DONE",
        "errorResult": {"reason": "backendError", "message": "try again"}}}))
    else {
        panic!("failed job")
    };
    assert!(e.is_retriable());
    let google = |code: u16, reason: &str| {
        json!({"error": {"code": code, "message": "m", "errors": [{"reason": reason, "message": "m"}]}}).to_string()
    };
    assert!(classify_error(429, google(429, "rateLimitExceeded").as_bytes(), None).is_retriable());
    assert!(classify_error(403, google(403, "quotaExceeded").as_bytes(), None).is_retriable());
    assert!(classify_error(403, google(403, "accessDenied").as_bytes(), None).is_retriable());
    assert!(classify_error(503, b"", None).is_retriable());
    assert!(classify_error(401, google(401, "authError").as_bytes(), None).is_retriable());
    assert!(classify_error(404, google(404, "notFound").as_bytes(), None).is_retriable());
    let e = classify_error(400, google(400, "invalid").as_bytes(), None);
    assert!(!e.is_retriable());
    assert_eq!(e.to_string(), "HTTP 400 invalid: m");
}

#[test]
fn insert_all_carries_insert_ids_and_answers_row_by_row() {
    let body = insert_all_body(&[("u-1", br#"{"a":1}"#), ("u-2", br#"{"a":2}"#)]);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":false,"ignoreUnknownValues":false,"rows":[{"insertId":"u-1","json":{"a":1}},{"insertId":"u-2","json":{"a":2}}]}"#
    );
    let answer = json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": [
        {"index": 0, "errors": [{"reason": "invalid", "location": "count", "debugInfo": "", "message": "Cannot convert value to integer."}]},
        {"index": 2, "errors": [{"reason": "stopped", "location": "", "debugInfo": "", "message": ""}]},
    ]});
    let outcomes = insert_all_outcomes(answer.to_string().as_bytes(), 3).unwrap();
    assert_eq!(
        outcomes,
        vec![
            ItemOutcome::rejected("invalid at count: Cannot convert value to integer."),
            ItemOutcome::Delivered,
            ItemOutcome::retry("stopped: "),
        ]
    );
}
