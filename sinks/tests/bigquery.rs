//! The `bigquery` sink in the real delivery driver against a fake BigQuery
//! REST API that checks every request as the service would (a signed
//! service-account token, the multipart upload, the load job's settings,
//! column names, `jobs.get` with the job's location, `insertAll` rows) and
//! answers in Google's shapes: jobs that run and finish or fail, 409 for a
//! job id that exists, per-row `insertErrors`, 429 and 503.
#![cfg(feature = "gcp")]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use bytes::Bytes;
use herald_config::{Diagnostics, SourceFile};
use herald_sinks::bigquery::{BigqueryConfig, BigquerySink};
use herald_sinks::driver::DeliverySettings;
use herald_sinks::registry::SinkType as _;
use herald_testkit::driver::{DriverHarness, event};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(20);
const EMAIL: &str = "herald@p1.iam.gserviceaccount.com";
const KEY_ID: &str = "k1";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    content_type: String,
    /// Whether `Authorization` held a valid token, or why not.
    auth: Result<(), String>,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Job {
    resource: Value,
    rows: Vec<Value>,
    /// `jobs.get` calls left before the job is done.
    running_for: u32,
    failure: Option<(String, String)>,
    done: bool,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    datasets: BTreeSet<String>,
    jobs: BTreeMap<String, Job>,
    table: Vec<Value>,
    insert_ids: BTreeSet<String>,
    /// Answers (status, reason, Retry-After) for the next requests.
    faults: VecDeque<(u16, &'static str, Option<&'static str>)>,
    /// How the next created jobs end (reason, message).
    job_failures: VecDeque<(String, String)>,
    /// Create the next job, then answer 503 as if the answer were lost.
    lose_next_upload_answer: bool,
}

/// The fake BigQuery on 127.0.0.1.
struct Fake {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn google_error(status: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let code = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        _ => "UNAVAILABLE",
    };
    let body = json!({"error": {"code": status, "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}], "status": code}});
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn ok(body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Checks a service-account JWT as Google's front end does: RS256 signed
/// with the key, issued by and for the account, the scope, not expired.
fn check_token(header: &str, public_key: &[u8]) -> Result<(), String> {
    let token = header.strip_prefix("Bearer ").ok_or("no bearer token")?;
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("not a JWT".into());
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |p: &str| -> Result<Value, String> {
        serde_json::from_slice(&b64.decode(p).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    };
    let (head, claims) = (decode(h)?, decode(c)?);
    if head["alg"] != "RS256" || head["kid"] != KEY_ID {
        return Err(format!("header {head}"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if claims["iss"] != EMAIL || claims["sub"] != EMAIL || claims["scope"] != SCOPE || exp < now {
        return Err(format!("claims {claims}"));
    }
    let signature = b64.decode(s).map_err(|e| e.to_string())?;
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())
}

/// Whether every key of every object (arrays included) is a valid column
/// name, as BigQuery requires of loaded JSON.
fn valid_columns(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().all(|(k, v)| {
            k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && valid_columns(v)
        }),
        Value::Array(a) => a.iter().all(valid_columns),
        _ => true,
    }
}

fn handle(state: &Mutex<State>, seen: Seen) -> Response<Full<Bytes>> {
    let mut st = state.lock().unwrap();
    st.seen.push(seen.clone());
    if let Err(why) = &seen.auth {
        return google_error(
            401,
            "authError",
            &format!("Request had invalid authentication credentials: {why}"),
        );
    }
    if let Some((status, reason, retry_after)) = st.faults.pop_front() {
        let mut r = google_error(status, reason, "injected");
        if let Some(after) = retry_after {
            r.headers_mut()
                .insert("retry-after", after.parse().unwrap());
        }
        return r;
    }
    let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (seen.method.as_str(), segments.as_slice()) {
        ("POST", ["bigquery", "v2", "projects", "p1", "datasets"]) => {
            let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            let id = body["datasetReference"]["datasetId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !st.datasets.insert(id.clone()) {
                return google_error(
                    409,
                    "duplicate",
                    &format!("Already Exists: Dataset p1:{id}"),
                );
            }
            ok(
                &json!({"kind": "bigquery#dataset", "id": format!("p1:{id}"), "datasetReference": body["datasetReference"], "location": body["location"]}),
            )
        }
        ("POST", ["upload", "bigquery", "v2", "projects", "p1", "jobs"]) => {
            assert_eq!(query, "uploadType=multipart");
            let boundary = seen
                .content_type
                .strip_prefix("multipart/related; boundary=")
                .expect("a multipart/related upload");
            let text = String::from_utf8(seen.body.to_vec()).unwrap();
            let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
            assert_eq!(parts.len(), 4, "{text}");
            assert_eq!(parts[3], "--\r\n");
            let (meta_head, meta) = parts[1].split_once("\r\n\r\n").unwrap();
            assert_eq!(
                meta_head,
                "\r\nContent-Type: application/json; charset=UTF-8"
            );
            let (data_head, data) = parts[2].split_once("\r\n\r\n").unwrap();
            assert_eq!(data_head, "\r\nContent-Type: application/octet-stream");
            let job: Value = serde_json::from_str(meta.trim_end_matches("\r\n")).unwrap();
            let load = &job["configuration"]["load"];
            assert_eq!(load["sourceFormat"], "NEWLINE_DELIMITED_JSON");
            assert_eq!(load["autodetect"], true);
            assert_eq!(load["schemaUpdateOptions"], json!(["ALLOW_FIELD_ADDITION"]));
            assert_eq!(load["writeDisposition"], "WRITE_APPEND");
            let table = &load["destinationTable"];
            assert_eq!(table["projectId"], "p1");
            let dataset = table["datasetId"].as_str().unwrap().to_owned();
            if !st.datasets.contains(&dataset) {
                return google_error(404, "notFound", &format!("Not found: Dataset p1:{dataset}"));
            }
            let id = job["jobReference"]["jobId"].as_str().unwrap().to_owned();
            if st.jobs.contains_key(&id) {
                return google_error(409, "duplicate", &format!("Already Exists: Job p1:US.{id}"));
            }
            let rows: Vec<Value> = data
                .trim_end_matches("\r\n")
                .lines()
                .map(|l| serde_json::from_str(l).expect("NDJSON rows"))
                .collect();
            let mut resource = job.clone();
            resource["kind"] = json!("bigquery#job");
            resource["id"] = json!(format!("p1:US.{id}"));
            resource["status"] = json!({"state": "RUNNING"});
            let failure = st.job_failures.pop_front();
            let failure = match (failure, rows.iter().all(valid_columns)) {
                (Some(f), _) => Some(f),
                (None, true) => None,
                (None, false) => Some(("invalid".to_owned(), "Invalid field name".to_owned())),
            };
            st.jobs.insert(
                id,
                Job {
                    resource: resource.clone(),
                    rows,
                    running_for: 1,
                    failure,
                    done: false,
                },
            );
            if std::mem::take(&mut st.lose_next_upload_answer) {
                return google_error(503, "backendError", "the answer was lost");
            }
            ok(&resource)
        }
        ("GET", ["bigquery", "v2", "projects", "p1", "jobs", id]) => {
            let id = (*id).to_owned();
            let State { jobs, table, .. } = &mut *st;
            let Some(job) = jobs.get_mut(&id) else {
                return google_error(404, "notFound", &format!("Not found: Job p1:{id}"));
            };
            assert_eq!(
                query,
                format!(
                    "location={}",
                    job.resource["jobReference"]["location"].as_str().unwrap()
                )
            );
            if job.running_for > 0 {
                job.running_for -= 1;
                return ok(&job.resource);
            }
            if !job.done {
                job.done = true;
                match &job.failure {
                    None => {
                        table.extend(job.rows.iter().cloned());
                        job.resource["status"] = json!({"state": "DONE"});
                    }
                    Some((reason, message)) => {
                        let e = json!({"reason": reason, "message": message});
                        job.resource["status"] =
                            json!({"state": "DONE", "errorResult": e, "errors": [e]});
                    }
                }
            }
            ok(&job.resource)
        }
        (
            "POST",
            [
                "bigquery",
                "v2",
                "projects",
                "p1",
                "datasets",
                _,
                "tables",
                _,
                "insertAll",
            ],
        ) => {
            assert_eq!(seen.content_type, "application/json");
            let body: Value = serde_json::from_slice(&seen.body).unwrap();
            assert_eq!(body["kind"], "bigquery#tableDataInsertAllRequest");
            assert_eq!(body["skipInvalidRows"], false);
            let rows = body["rows"].as_array().unwrap();
            let bad: Vec<usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r["json"]["message"] == "bad" || !valid_columns(&r["json"]))
                .map(|(i, _)| i)
                .collect();
            if !bad.is_empty() {
                // skipInvalidRows false: nothing is inserted; the other
                // rows are "stopped".
                let errors: Vec<Value> = (0..rows.len())
                    .map(|i| {
                        let (reason, location, message) = if bad.contains(&i) {
                            ("invalid", "message", "Invalid value")
                        } else {
                            ("stopped", "", "")
                        };
                        json!({"index": i, "errors": [{"reason": reason, "location": location, "debugInfo": "", "message": message}]})
                    })
                    .collect();
                return ok(
                    &json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors}),
                );
            }
            for r in rows {
                let id = r["insertId"].as_str().unwrap().to_owned();
                // BigQuery drops a row whose insertId it saw recently.
                if st.insert_ids.insert(id) {
                    st.table.push(r["json"].clone());
                }
            }
            ok(&json!({"kind": "bigquery#tableDataInsertAllResponse"}))
        }
        _ => google_error(
            404,
            "notFound",
            &format!("no such endpoint: {} {}", seen.method, seen.target),
        ),
    }
}

impl Fake {
    async fn start(public_key: Vec<u8>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let public_key = Arc::new(public_key);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                let public_key = public_key.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let state = state.clone();
                            let public_key = public_key.clone();
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let header = |n: &str| {
                                    parts
                                        .headers
                                        .get(n)
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_owned()
                                };
                                let seen = Seen {
                                    method: parts.method.to_string(),
                                    target: parts.uri.to_string(),
                                    content_type: header("content-type"),
                                    auth: check_token(&header("authorization"), &public_key),
                                    body,
                                };
                                Ok::<_, std::convert::Infallible>(handle(&state, seen))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

/// A fresh RSA service-account key file, and the public key that checks
/// its signatures.
fn service_account() -> (tempfile::NamedTempFile, Vec<u8>) {
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = key.as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    let file = json!({
        "type": "service_account",
        "project_id": "p1",
        "private_key_id": KEY_ID,
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    });
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(file.to_string().as_bytes()).unwrap();
    (f, key.public_key().as_ref().to_vec())
}

fn config(fake: &Fake, key: &tempfile::NamedTempFile, extra: &str) -> BigqueryConfig {
    let yaml = format!(
        "- name: bq\n  bigquery:\n    project: p1\n    dataset: kube_events\n    table: events\n    credentials_path: {}\n    endpoint: {}\n{extra}",
        key.path().display(),
        fake.url()
    );
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0]
        .sink
        .downcast_ref::<BigqueryConfig>()
        .unwrap()
        .clone()
}

/// The receiver's own defaults (from the KEE keys), with a short linger and
/// quick retries.
fn settings(c: &BigqueryConfig) -> DeliverySettings {
    let mut s = c.delivery_defaults();
    s.batch.linger = Duration::from_millis(100);
    s.retry.initial_backoff = Duration::from_millis(10);
    s.retry.max_backoff = Duration::from_millis(30);
    s
}

async fn start(fake: &Fake, key: &tempfile::NamedTempFile, extra: &str) -> DriverHarness {
    let c = config(fake, key, extra);
    let s = settings(&c);
    let sink = BigquerySink::connect("bq", &c, &s).await.unwrap();
    DriverHarness::start(sink, s)
}

fn labelled(uid: &str, message: &str) -> herald_proto::Event {
    let mut ev = event(uid, message);
    ev.involved_object
        .labels
        .insert("app.kubernetes.io/name".into(), "web".into());
    ev
}

fn has_null_in_objects(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(|v| v.is_null() || has_null_in_objects(v)),
        _ => false,
    }
}

#[tokio::test]
async fn a_load_job_lands_the_rows_with_a_signed_token_and_kee_columns() {
    let (key, public) = service_account();
    let fake = Fake::start(public).await;
    let mut h = start(&fake, &key, "").await;
    for uid in ["u1", "u2", "u3"] {
        h.deliver(labelled(uid, "m")).await;
    }
    let acks = h.acks(3, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let st = fake.state();
    assert!(st.seen.iter().all(|s| s.auth.is_ok()), "{:?}", st.seen);
    assert_eq!(st.datasets, BTreeSet::from(["kube_events".to_owned()]));
    let targets: Vec<(&str, &str)> = st
        .seen
        .iter()
        .map(|s| (s.method.as_str(), s.target.split('?').next().unwrap()))
        .collect();
    let job_id = st.jobs.keys().next().unwrap().clone();
    let job_path = format!("/bigquery/v2/projects/p1/jobs/{job_id}");
    assert_eq!(
        targets,
        [
            ("POST", "/bigquery/v2/projects/p1/datasets"),
            ("POST", "/upload/bigquery/v2/projects/p1/jobs"),
            // running, then done
            ("GET", job_path.as_str()),
            ("GET", job_path.as_str()),
        ]
    );
    assert!(
        job_id.starts_with("herald_") && job_id.ends_with("_0"),
        "{job_id}"
    );
    assert_eq!(st.table.len(), 3);
    for row in &st.table {
        assert_eq!(
            row["involvedObject"]["labels"]["app_kubernetes_io_name"], "web",
            "{row}"
        );
        assert!(!has_null_in_objects(row), "{row}");
        assert!(valid_columns(row), "{row}");
    }
    let uids: BTreeSet<&str> = st
        .table
        .iter()
        .map(|r| r["metadata"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, BTreeSet::from(["u1", "u2", "u3"]));
}

#[tokio::test]
async fn a_lost_upload_answer_finds_the_job_again_instead_of_loading_twice() {
    let (key, public) = service_account();
    let fake = Fake::start(public).await;
    let mut h = start(&fake, &key, "").await;
    fake.state().lose_next_upload_answer = true;
    h.deliver(event("a", "m")).await;
    h.deliver(event("b", "m")).await;
    let acks = h.acks(2, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    {
        let st = fake.state();
        assert_eq!(st.jobs.len(), 1);
        assert_eq!(st.table.len(), 2, "loaded once: {:?}", st.table);
        let uploads: Vec<&Seen> = st
            .seen
            .iter()
            .filter(|s| s.target.starts_with("/upload/"))
            .collect();
        assert_eq!(uploads.len(), 2);
        // Both uploads name the same job; the second was answered 409.
        let job_of = |s: &Seen| {
            let text = String::from_utf8_lossy(&s.body).into_owned();
            let start = text.find("\"jobId\":\"").unwrap() + 9;
            text[start..start + text[start..].find('"').unwrap()].to_owned()
        };
        assert_eq!(job_of(uploads[0]), job_of(uploads[1]));
        assert_eq!(h.metric("herald_sink_retries_total", ""), 1.0);
    }
    // A second receiver finds the dataset there (409): it starts all the same.
    let c = config(&fake, &key, "");
    BigquerySink::connect("bq2", &c, &settings(&c))
        .await
        .unwrap();
    let st = fake.state();
    let creates = st
        .seen
        .iter()
        .filter(|s| s.target.ends_with("/datasets"))
        .count();
    assert_eq!(creates, 2);
}

#[tokio::test]
async fn throttling_and_failed_jobs_are_retried_and_invalid_jobs_rejected() {
    let (key, public) = service_account();
    let fake = Fake::start(public).await;
    let mut h = start(&fake, &key, "    max_retries: 3\n").await;
    {
        let mut st = fake.state();
        st.faults.push_back((429, "rateLimitExceeded", Some("0")));
        st.faults.push_back((503, "backendError", None));
        st.job_failures
            .push_back(("backendError".into(), "Backend error, try again".into()));
    }
    h.deliver(event("a", "m")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1, "{acks:?}");
    {
        let st = fake.state();
        assert_eq!(st.table.len(), 1);
        // The job that failed for a passing reason is retried under a new id.
        let ids: Vec<&String> = st.jobs.keys().collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(ids.iter().any(|i| i.ends_with("_0")) && ids.iter().any(|i| i.ends_with("_1")));
    }
    fake.state().job_failures.push_back((
        "invalid".into(),
        "Error while reading data, error message: JSON parsing error".into(),
    ));
    h.deliver(event("b", "m")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!((acks[0].delivered, acks[0].rejected), (0, 1), "{acks:?}");
    assert_eq!(fake.state().table.len(), 1);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let (key, public) = service_account();
    let fake = Fake::start(public).await;
    let mut h = start(&fake, &key, "    max_retries: 2\n").await;
    {
        let mut st = fake.state();
        for _ in 0..10 {
            st.faults.push_back((503, "backendError", None));
        }
    }
    h.deliver(event("a", "m")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].rejected, 1, "{acks:?}");
    // three attempts: the first and two retries
    let uploads = fake
        .state()
        .seen
        .iter()
        .filter(|s| s.target.starts_with("/upload/"))
        .count();
    assert_eq!(uploads, 3);
}

#[tokio::test]
async fn streaming_inserts_reject_invalid_rows_resend_stopped_ones_and_dedupe_by_insert_id() {
    let (key, public) = service_account();
    let fake = Fake::start(public).await;
    let mut h = start(&fake, &key, "    mode: streaming\n").await;
    fake.state().faults.push_back((503, "backendError", None));
    let sent = [event("u1", "ok"), event("u2", "bad"), labelled("u3", "ok")];
    for ev in &sent {
        h.deliver(ev.clone()).await;
    }
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1), "{acks:?}");
    {
        let st = fake.state();
        let inserts: Vec<Value> = st
            .seen
            .iter()
            .filter(|s| s.target.ends_with("/insertAll"))
            .map(|s| serde_json::from_slice(&s.body).unwrap())
            .collect();
        // 503, then the three rows (u2 invalid, the rest stopped), then the two.
        assert_eq!(inserts.len(), 3);
        let ids = |v: &Value| -> Vec<String> {
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["insertId"].as_str().unwrap().to_owned())
                .collect()
        };
        let keys: Vec<String> = sent
            .iter()
            .map(herald_proto::Event::idempotency_key)
            .collect();
        assert_eq!(ids(&inserts[1]), keys);
        assert_eq!(ids(&inserts[2]), [keys[0].clone(), keys[2].clone()]);
        assert_eq!(st.table.len(), 2);
        assert!(st.seen.iter().all(|s| s.auth.is_ok()));
    }
    // u1 again (a redelivery): BigQuery drops the repeated insertId.
    h.deliver(event("u1", "ok")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert_eq!(fake.state().table.len(), 2);
}
