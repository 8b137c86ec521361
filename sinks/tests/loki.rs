//! The `loki` receiver against Loki fakes. Every push is checked as Loki's
//! distributor would ([`decode_push`]: path, method, content type and
//! encoding; JSON or snappy-compressed protobuf decoded; label names, values
//! and nanosecond timestamps validated; entries ordered per stream, each
//! stream once).
//!
//! * [`FakeLoki`] answers by what it decodes: 204, or 400 with Loki's
//!   messages for entries too old, too new or too far behind their stream
//!   (keeping the valid ones, as Loki does), and scripted 429/500 answers.
//! * The test kit's [`FakeHttp`] records the request exactly as written on
//!   the wire (header-name case included) for the exact-request checks.
//!
//! Driver tests run the sink through the real delivery driver (the test
//! kit's harness).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use herald_config::{Diagnostics, SourceFile};
use herald_proto::Event;
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::loki::{LokiConfig, LokiSink, proto};
use herald_sinks::registry::SinkType as _;
use herald_testkit::driver::{DriverHarness, event};
use herald_testkit::http::Recorded;
use herald_testkit::{FakeHttp, Reply};

const WAIT: Duration = Duration::from_secs(10);

/// One stream as Loki received it: labels and (nanoseconds, line) entries.
type Streams = BTreeMap<Labels, Vec<(i64, String)>>;

/// A label set.
type Labels = BTreeMap<String, String>;

fn is_label_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Parses Loki's Prometheus text form of a label set, `{a="b", c="d"}`.
fn parse_label_text(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("labels not in braces: {text}"))?;
    let mut labels = BTreeMap::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return Err(format!("bad label pair in {text}"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some(c) => value.push(c),
                    None => return Err("dangling escape".into()),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err(format!("unterminated value in {text}")),
            }
        }
        labels.insert(name, value);
    }
    Ok(labels)
}

/// Decodes a push the way Loki's distributor does, and validates it.
fn decode_push(r: &Recorded) -> Result<Streams, String> {
    if r.method != "POST" || r.target != "/loki/api/v1/push" {
        return Err(format!("404: {} {}", r.method, r.target));
    }
    let content_type = r.header("Content-Type");
    let mut streams: Vec<(Labels, Vec<(i64, String)>)> = Vec::new();
    match content_type.as_slice() {
        ["application/json"] => {
            let body: serde_json::Value =
                serde_json::from_slice(&r.body).map_err(|e| format!("bad JSON: {e}"))?;
            for s in body["streams"].as_array().ok_or("no streams")? {
                let labels = s["stream"]
                    .as_object()
                    .ok_or("stream is not an object")?
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_str().ok_or("label not a string")?.to_owned(),
                        ))
                    })
                    .collect::<Result<BTreeMap<_, _>, String>>()?;
                let mut entries = Vec::new();
                for v in s["values"].as_array().ok_or("no values")? {
                    let ts = v[0].as_str().ok_or("timestamp not a string")?;
                    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("timestamp not in nanoseconds: {ts}"));
                    }
                    let ns: i64 = ts.parse().map_err(|e| format!("timestamp: {e}"))?;
                    let line = v[1].as_str().ok_or("line not a string")?;
                    if v.as_array().map(Vec::len) != Some(2) {
                        return Err("value is not a pair".into());
                    }
                    entries.push((ns, line.to_owned()));
                }
                streams.push((labels, entries));
            }
        }
        ["application/x-protobuf"] => {
            if !r.header("Content-Encoding").is_empty() {
                return Err("Loki reads snappy without Content-Encoding".into());
            }
            let push = proto::decode_snappy(&r.body)?;
            for s in push.streams {
                let labels = parse_label_text(&s.labels)?;
                let mut entries = Vec::new();
                for e in s.entries {
                    let t = e.timestamp.ok_or("entry without timestamp")?;
                    if !(0..1_000_000_000).contains(&t.nanos) {
                        return Err("bad nanos".into());
                    }
                    entries.push((t.seconds * 1_000_000_000 + i64::from(t.nanos), e.line));
                }
                streams.push((labels, entries));
            }
        }
        other => return Err(format!("415: unsupported content type {other:?}")),
    }
    let mut out = Streams::new();
    for (labels, entries) in streams {
        if labels.is_empty() {
            return Err("error at least one label pair is required per stream".into());
        }
        for (k, v) in &labels {
            if !is_label_name(k) {
                return Err(format!("invalid label name {k}"));
            }
            if v.is_empty() || v.len() > 2048 {
                return Err(format!("invalid label value for {k}"));
            }
        }
        if entries.windows(2).any(|w| w[0].0 > w[1].0) {
            return Err(format!("entries not sorted in stream {labels:?}"));
        }
        if out.insert(labels.clone(), entries).is_some() {
            return Err(format!("stream {labels:?} sent twice in one push"));
        }
    }
    Ok(out)
}

/// A fake Loki that answers by what it decodes, as Loki's distributor does:
/// valid entries are stored even when others in the push are refused; a push
/// with refused entries is answered 400 with Loki's messages and
/// `total ignored: N out of M`; an undecodable push is a 400 (or 404/415);
/// otherwise 204. Scripted answers (429, 500) go first when queued.
struct FakeLoki {
    addr: std::net::SocketAddr,
    state: Arc<std::sync::Mutex<LokiState>>,
    task: tokio::task::JoinHandle<()>,
}

/// An answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Default)]
struct LokiState {
    pushes: Vec<Recorded>,
    accepted: Streams,
    script: std::collections::VecDeque<Answer>,
    /// Entries older than this (ns) are "too old" (`reject_old_samples`).
    oldest: i64,
}

fn rfc3339(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn label_text(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

impl LokiState {
    fn answer(&mut self, push: Recorded) -> Answer {
        self.pushes.push(push.clone());
        if let Some(scripted) = self.script.pop_front() {
            return scripted;
        }
        let streams = match decode_push(&push) {
            Ok(s) => s,
            Err(e) => return (400, Vec::new(), e),
        };
        let now = Utc::now().timestamp_nanos_opt().unwrap();
        let (mut total, mut errors) = (0, Vec::new());
        for (labels, entries) in streams {
            for (ts, line) in entries {
                total += 1;
                let stream = label_text(&labels);
                let newest = self
                    .accepted
                    .get(&labels)
                    .and_then(|e| e.iter().map(|x| x.0).max());
                if ts < self.oldest {
                    errors.push(format!("entry for stream '{stream}' has timestamp too old: {}, oldest acceptable timestamp is: {}", rfc3339(ts), rfc3339(self.oldest)));
                } else if ts > now + 600 * NS {
                    errors.push(format!(
                        "entry for stream '{stream}' has timestamp too new: {}",
                        rfc3339(ts)
                    ));
                } else if newest.is_some_and(|n| ts < n - 3600 * NS) {
                    errors.push(format!("entry with timestamp {} ignored, reason: 'entry too far behind, oldest acceptable timestamp is: {}' for stream: {stream},", rfc3339(ts), rfc3339(newest.unwrap_or(0) - 3600 * NS)));
                } else {
                    self.accepted
                        .entry(labels.clone())
                        .or_default()
                        .push((ts, line));
                }
            }
        }
        if errors.is_empty() {
            (204, Vec::new(), String::new())
        } else {
            let n = errors.len();
            (
                400,
                Vec::new(),
                format!("{}\ntotal ignored: {n} out of {total}", errors.join("\n")),
            )
        }
    }
}

impl FakeLoki {
    async fn start() -> FakeLoki {
        use http_body_util::{BodyExt as _, Full};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(std::sync::Mutex::new(LokiState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let push = Recorded {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect(),
                                body,
                                status: None,
                            };
                            let (status, headers, text) = state.lock().unwrap().answer(push);
                            let mut response = hyper::Response::builder().status(status);
                            for (k, v) in headers {
                                response = response.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(bytes::Bytes::from(text))).unwrap(),
                            )
                        }
                    },
                );
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeLoki { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn script(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((status, headers, body.to_owned()));
    }

    fn reject_older_than(&self, ns: i64) {
        self.state.lock().unwrap().oldest = ns;
    }

    fn pushes(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().pushes.clone()
    }

    fn accepted(&self) -> Streams {
        self.state.lock().unwrap().accepted.clone()
    }
}

impl Drop for FakeLoki {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(yaml: &str) -> LokiConfig {
    let source = Arc::new(SourceFile::new("config.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let root = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let node = root.get("receivers").cloned().unwrap_or_default();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0]
        .sink
        .downcast_ref::<LokiConfig>()
        .unwrap()
        .clone()
}

/// Quick retries; batches of up to 10 events collected for 200 ms.
fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(LokiConfig::BATCH_DEFAULTS);
    s.batch = BatchSettings {
        max_events: 10,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(200),
    };
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 0,
    };
    s
}

fn harness(c: &LokiConfig, s: DeliverySettings) -> DriverHarness {
    DriverHarness::start(LokiSink::new("loki", c, s.timeout).unwrap(), s)
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_715_680_800 + secs, 0).unwrap()
}

fn ev(uid: &str, ns: &str, reason: &str, secs: i64) -> Event {
    let mut e = event(uid, &format!("{reason} {uid}"));
    e.metadata.namespace = ns.into();
    e.reason = reason.into();
    e.last_timestamp = Some(at(secs));
    e
}

const NS: i64 = 1_000_000_000;

/// kubernetes-event-exporter's README example, unchanged but for the host.
fn kee_example(url: &str) -> String {
    format!(
        "receivers:\n  - name: \"loki\"\n    loki:\n      streamLabels:\n        foo: bar\n      url: {url}/loki/api/v1/push\n"
    )
}

#[tokio::test]
async fn a_batch_is_one_json_push_grouped_per_stream_and_sorted() {
    let fake = FakeHttp::with_replies([]).await;
    fake.set_default(Reply::status(204));
    let c = config(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: {}\n",
        fake.url()
    ));
    let mut h = harness(&c, settings());
    // Two streams (namespace/reason), out of time order in the queue.
    h.deliver(ev("a", "shop", "BackOff", 30)).await;
    h.deliver(ev("b", "shop", "BackOff", 10)).await;
    h.deliver(ev("c", "infra", "Pulled", 20)).await;
    h.deliver(ev("d", "shop", "BackOff", 20)).await;
    let acks = h.acks(4, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "one push for the batch");
    let r = &reqs[0];
    assert_eq!(r.header_exact("Content-Type"), ["application/json"]);
    assert_eq!(
        r.header_exact("User-Agent"),
        [concat!("herald/", env!("CARGO_PKG_VERSION"))]
    );
    assert!(r.header("X-Scope-OrgID").is_empty());
    assert!(r.header("Authorization").is_empty());
    let streams = decode_push(r).unwrap();
    let shop: BTreeMap<String, String> = [
        ("job", "herald"),
        ("namespace", "shop"),
        ("reason", "BackOff"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let times: Vec<i64> = streams[&shop].iter().map(|e| e.0).collect();
    let base = 1_715_680_800 * NS;
    assert_eq!(times, [base + 10 * NS, base + 20 * NS, base + 30 * NS]);
    assert_eq!(streams.len(), 2);
    // The line is the event JSON, exactly.
    let mut want = Vec::new();
    herald_sinks::kee_json(&ev("b", "shop", "BackOff", 10), false, &mut want);
    assert_eq!(streams[&shop][0].1.as_bytes(), want.as_slice());
    // Exact body: streams by label text, values as [ns string, line].
    let body = r.json();
    assert_eq!(
        body["streams"][0]["stream"],
        serde_json::json!({"job":"herald","namespace":"infra","reason":"Pulled"})
    );
    assert_eq!(
        body["streams"][0]["values"][0][0],
        (base + 20 * NS).to_string()
    );
}

#[tokio::test]
async fn the_kee_example_pushes_its_static_labels() {
    let fake = FakeHttp::with_replies([Reply::status(204)]).await;
    let c = config(&kee_example(&fake.url()));
    let mut h = harness(&c, settings());
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    let streams = decode_push(&fake.requests()[0]).unwrap();
    let labels: Vec<_> = streams.keys().collect();
    assert_eq!(
        labels,
        [&BTreeMap::from([("foo".to_owned(), "bar".to_owned())])]
    );
}

#[tokio::test]
async fn protobuf_pushes_are_snappy_and_carry_templated_labels() {
    let fake = FakeHttp::with_replies([Reply::status(204)]).await;
    let c = config(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: {}/\n      format: protobuf\n      streamLabels:\n        kind: \"{{{{ .InvolvedObject.Kind }}}}\"\n        quote: 'a\"b'\n        cluster: prod\n",
        fake.url()
    ));
    let mut h = harness(&c, settings());
    let mut e1 = ev("a", "shop", "BackOff", 5);
    e1.involved_object.kind = "Pod".into();
    e1.last_timestamp = Some(at(5) + chrono::Duration::nanoseconds(123));
    let mut e2 = ev("b", "shop", "BackOff", 1);
    e2.involved_object.kind = "Pod".into();
    let mut e3 = ev("c", "shop", "BackOff", 3);
    e3.involved_object.kind = "Node".into();
    for e in [e1, e2, e3] {
        h.deliver(e).await;
    }
    assert!(h.acks(3, WAIT).await.iter().all(|a| a.delivered == 1));
    let r = &fake.requests()[0];
    assert_eq!(r.target, "/loki/api/v1/push");
    assert_eq!(r.header_exact("Content-Type"), ["application/x-protobuf"]);
    let raw = proto::decode_snappy(&r.body).unwrap();
    // The stream names are Prometheus text, labels sorted, values escaped.
    let names: Vec<&str> = raw.streams.iter().map(|s| s.labels.as_str()).collect();
    assert_eq!(
        names,
        [
            r#"{cluster="prod", kind="Node", quote="a\"b"}"#,
            r#"{cluster="prod", kind="Pod", quote="a\"b"}"#
        ]
    );
    let streams = decode_push(r).unwrap();
    let pod = streams.iter().find(|(k, _)| k["kind"] == "Pod").unwrap().1;
    let base = 1_715_680_800 * NS;
    assert_eq!(
        pod.iter().map(|e| e.0).collect::<Vec<_>>(),
        [base + NS, base + 5 * NS + 123]
    );
}

#[tokio::test]
async fn tenant_credentials_and_headers_are_sent() {
    let fake = FakeHttp::with_replies([Reply::status(204), Reply::status(204)]).await;
    let c = config(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: {}\n      tenant: team-a\n      username: \"12345\"\n      password: s3cr3t\n      headers:\n        x-cluster: \"{{{{ .Reason }}}}\"\n",
        fake.url()
    ));
    let mut h = harness(&c, settings());
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    h.acks(1, WAIT).await;
    let r = &fake.requests()[0];
    assert_eq!(r.header("X-Scope-OrgID"), ["team-a"]);
    // base64("12345:s3cr3t")
    assert_eq!(r.header_exact("Authorization"), ["Basic MTIzNDU6czNjcjN0"]);
    assert_eq!(r.header_exact("X-Cluster"), ["BackOff"]);
    // the preview of the same request masks the credentials
    use herald_sinks::RequestBuilder as _;
    let b = c.request_builder("loki");
    let d = herald_sinks::Delivery::from_event(
        ev("a", "shop", "BackOff", 1),
        herald_sinks::AckRef::detached(),
    );
    let shown = b.describe(&b.request_for(&[&d]).unwrap());
    assert!(shown.contains("Authorization: ***"), "{shown}");
    assert!(
        !shown.contains("MTIzNDU6czNjcjN0") && !shown.contains("s3cr3t"),
        "{shown}"
    );

    let c = config(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: {}\n      bearerToken: t0k3n\n",
        fake.url()
    ));
    let mut h = harness(&c, settings());
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    h.acks(1, WAIT).await;
    assert_eq!(
        fake.requests()[1].header_exact("Authorization"),
        ["Bearer t0k3n"]
    );
}

#[tokio::test]
async fn send_time_stamps_whole_seconds_as_kee_did() {
    let fake = FakeHttp::with_replies([Reply::status(204)]).await;
    let c = config(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: {}\n      timestamp: send\n",
        fake.url()
    ));
    let mut h = harness(&c, settings());
    let before = Utc::now().timestamp();
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    h.acks(1, WAIT).await;
    let after = Utc::now().timestamp();
    let streams = decode_push(&fake.requests()[0]).unwrap();
    let ts = streams.values().next().unwrap()[0].0;
    assert_eq!(ts % NS, 0);
    assert!((before..=after).contains(&(ts / NS)), "{ts}");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let loki = FakeLoki::start().await;
    loki.script(
        429,
        &[("Retry-After", "1")],
        "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec)",
    );
    loki.script(500, &[], "rpc error: code = Unavailable");
    let c = config(&kee_example(&loki.url()));
    let mut h = harness(&c, settings());
    let started = std::time::Instant::now();
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let pushes = loki.pushes();
    assert_eq!(pushes.len(), 3);
    assert!(
        pushes.iter().all(|r| r.body == pushes[0].body),
        "the same push again"
    );
    assert_eq!(h.metric("herald_sink_retries_total", ""), 2.0);
    assert_eq!(loki.accepted().values().map(Vec::len).sum::<usize>(), 1);
}

/// Many events, several streams, shuffled times, both formats: Loki takes
/// every entry, in the right stream.
#[tokio::test]
async fn loki_accepts_every_entry_of_mixed_batches() {
    for format in ["json", "protobuf"] {
        let loki = FakeLoki::start().await;
        let c = config(&format!(
            "receivers:\n  - name: loki\n    loki:\n      url: {}\n      format: {format}\n      streamLabels:\n        ns: \"{{{{ .Namespace }}}}\"\n        reason: \"{{{{ .Reason }}}}\"\n",
            loki.url()
        ));
        let mut h = harness(&c, settings());
        let namespaces = ["shop", "infra", "kube-system"];
        for i in 0..30_i64 {
            let ns = namespaces[usize::try_from(i % 3).unwrap()];
            h.deliver(ev(&format!("u{i}"), ns, "BackOff", (i * 7) % 30))
                .await;
        }
        let acks = h.acks(30, WAIT).await;
        assert!(acks.iter().all(|a| a.delivered == 1), "{format}: {acks:?}");
        let accepted = loki.accepted();
        assert_eq!(accepted.len(), 3, "{format}");
        assert!(accepted.values().all(|e| e.len() == 10), "{format}");
        assert!(loki.pushes().len() >= 3, "batches of at most 10");
    }
}

#[tokio::test]
async fn too_old_entries_are_permanent_and_counted_with_loki_s_message() {
    let loki = FakeLoki::start().await;
    loki.reject_older_than(at(100).timestamp_nanos_opt().unwrap());
    let c = config(&kee_example(&loki.url()));
    let mut h = harness(&c, settings());
    h.deliver(ev("a", "shop", "BackOff", 1)).await;
    let ack = h.acks(1, WAIT).await[0];
    assert_eq!((ack.delivered, ack.rejected), (0, 1));
    assert_eq!(loki.pushes().len(), 1, "never retried");
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
    h.deliver(ev("b", "shop", "BackOff", 200)).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);

    // The error carries Loki's own message.
    use herald_sinks::{RequestBuilder as _, Sink as _};
    let sink = LokiSink::new("loki", &c, Duration::from_secs(5)).unwrap();
    let d = herald_sinks::Delivery::from_event(
        ev("c", "shop", "BackOff", 2),
        herald_sinks::AckRef::detached(),
    );
    let e = sink
        .send(&sink.builder().request_for(&[&d]).unwrap())
        .await
        .unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(
        e.to_string(),
        "Loki refused the entries (HTTP 400): entry for stream '{foo=\"bar\"}' has timestamp too old: 2024-05-14T10:00:02Z, oldest acceptable timestamp is: 2024-05-14T10:01:40Z\ntotal ignored: 1 out of 1"
    );
}

/// Loki keeps the valid entries of a push it answers 400 to; herald counts
/// the whole push as rejected and never sends it again.
#[tokio::test]
async fn a_push_with_one_refused_entry_is_rejected_whole_and_not_resent() {
    let loki = FakeLoki::start().await;
    loki.reject_older_than(at(100).timestamp_nanos_opt().unwrap());
    let c = config(&kee_example(&loki.url()));
    let mut h = harness(&c, settings());
    h.deliver(ev("old", "shop", "BackOff", 1)).await;
    h.deliver(ev("new", "shop", "BackOff", 200)).await;
    let acks = h.acks(2, WAIT).await;
    assert!(acks.iter().all(|a| a.rejected == 1), "{acks:?}");
    assert_eq!(loki.pushes().len(), 1);
    let kept: Vec<i64> = loki.accepted().values().flatten().map(|e| e.0).collect();
    assert_eq!(kept, [at(200).timestamp_nanos_opt().unwrap()]);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        2.0
    );
}

#[tokio::test]
async fn entries_too_far_behind_their_stream_are_refused() {
    let loki = FakeLoki::start().await;
    let c = config(&kee_example(&loki.url()));
    let mut h = harness(&c, settings());
    h.deliver(ev("a", "shop", "BackOff", 7200)).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    h.deliver(ev("b", "shop", "BackOff", 0)).await;
    let ack = h.acks(1, WAIT).await[0];
    assert_eq!(ack.rejected, 1);
    assert_eq!(loki.pushes().len(), 2);
}

mod tls {
    use super::*;
    use rustls::ServerConfig;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// Starts an HTTPS fake Loki with a certificate for `loki.test`.
    async fn start(dir: &std::path::Path) -> (std::path::PathBuf, Arc<FakeHttp>, String) {
        let ck = rcgen::generate_simple_self_signed(vec!["loki.test".to_owned()]).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, ck.cert.pem()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let config = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Arc::new(FakeHttp::with_replies([]).await);
        fake.set_default(Reply::status(204));
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let f = f.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        f.serve_connection(tls).await;
                    }
                });
            }
        });
        (ca, fake, format!("https://{addr}"))
    }

    #[tokio::test]
    async fn the_tls_block_is_applied() {
        use herald_sinks::{RequestBuilder as _, Sink as _};
        let dir = tempfile::tempdir().unwrap();
        let (ca, fake, url) = start(dir.path()).await;
        let d = herald_sinks::Delivery::from_event(
            ev("a", "shop", "BackOff", 1),
            herald_sinks::AckRef::detached(),
        );
        // Without the CA the private certificate is refused.
        let c = config(&kee_example(&url));
        let sink = LokiSink::new("loki", &c, Duration::from_secs(5)).unwrap();
        assert!(
            sink.send(&sink.builder().request_for(&[&d]).unwrap())
                .await
                .is_err()
        );
        assert!(fake.requests().is_empty());
        // With caFile and serverName it is verified and the push arrives.
        let yaml = format!(
            "{}      tls:\n        caFile: {}\n        serverName: loki.test\n",
            kee_example(&url),
            ca.display()
        );
        let c = config(&yaml);
        let sink = LokiSink::new("loki", &c, Duration::from_secs(5)).unwrap();
        sink.send(&sink.builder().request_for(&[&d]).unwrap())
            .await
            .unwrap();
        assert_eq!(decode_push(&fake.requests()[0]).unwrap().len(), 1);
    }
}
