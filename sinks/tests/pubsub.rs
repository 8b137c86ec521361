//! The `pubsub` sink in the real delivery driver against Google's Pub/Sub
//! emulator (`HERALD_PUBSUB_EMULATOR_BIN`, set by `.ci/test`): messages are
//! pulled back and their data, attributes and order checked; the emulator
//! is stopped and started again mid-stream and nothing is lost.
#![cfg(feature = "gcp")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::pubsub::{IDEMPOTENCY_ATTRIBUTE, PubsubConfig, PubsubSink};
use herald_testkit::driver::{DriverHarness, event};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(30);
const PROJECT: &str = "herald-test";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Google's Pub/Sub emulator on a free port, stopped when dropped.
struct Emulator {
    child: Child,
    url: String,
    port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the emulator's path, or `None` (loudly) when
/// `HERALD_PUBSUB_EMULATOR_BIN` is unset outside CI; in CI a missing peer
/// fails the test.
fn emulator_bin() -> Option<std::ffi::OsString> {
    let bin = std::env::var_os("HERALD_PUBSUB_EMULATOR_BIN");
    if bin.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HERALD_PUBSUB_EMULATOR_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!\n!!! SKIPPED: HERALD_PUBSUB_EMULATOR_BIN is not set, the Pub/Sub emulator test did not run \
             (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
        );
    }
    bin
}

/// Starts the emulator and waits until it answers.
async fn start_emulator(bin: &std::ffi::OsStr) -> Emulator {
    let port = free_port();
    let child = Command::new(bin)
        .args(["--host=127.0.0.1", &format!("--port={port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the Pub/Sub emulator");
    let emulator = Emulator {
        child,
        url: format!("http://127.0.0.1:{port}"),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(&emulator.url).await
            && r.status().is_success()
        {
            return emulator;
        }
        assert!(
            Instant::now() < deadline,
            "the Pub/Sub emulator did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn rest(method: reqwest::Method, url: String, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Creates the topic and an ordered subscription on it.
async fn create_topic_and_subscription(emulator: &Emulator, topic: &str, sub: &str) {
    let (status, body) = rest(
        reqwest::Method::PUT,
        format!("{}/v1/projects/{PROJECT}/topics/{topic}", emulator.url),
        json!({}),
    )
    .await;
    assert!(status == 200 || status == 409, "{status} {body}");
    let (status, body) = rest(
        reqwest::Method::PUT,
        format!("{}/v1/projects/{PROJECT}/subscriptions/{sub}", emulator.url),
        json!({"topic": format!("projects/{PROJECT}/topics/{topic}"), "enableMessageOrdering": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// One pulled message.
#[derive(Debug)]
struct Pulled {
    data: Value,
    attributes: BTreeMap<String, String>,
    ordering_key: String,
}

/// Pulls (and acknowledges) until `n` messages came, in the order the
/// emulator handed them out.
async fn pull(emulator: &Emulator, sub: &str, n: usize) -> Vec<Pulled> {
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "pulled {} of {n}: {out:?}",
            out.len()
        );
        let (status, body) = rest(
            reqwest::Method::POST,
            format!(
                "{}/v1/projects/{PROJECT}/subscriptions/{sub}:pull",
                emulator.url
            ),
            json!({"maxMessages": 100, "returnImmediately": true}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let received = body["receivedMessages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if received.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut ack_ids = Vec::new();
        for r in received {
            ack_ids.push(r["ackId"].clone());
            let m = &r["message"];
            let data = base64::engine::general_purpose::STANDARD
                .decode(m["data"].as_str().unwrap_or_default())
                .unwrap();
            out.push(Pulled {
                data: serde_json::from_slice(&data).unwrap(),
                attributes: serde_json::from_value(m["attributes"].clone()).unwrap_or_default(),
                ordering_key: m["orderingKey"].as_str().unwrap_or_default().to_owned(),
            });
        }
        let (status, body) = rest(
            reqwest::Method::POST,
            format!(
                "{}/v1/projects/{PROJECT}/subscriptions/{sub}:acknowledge",
                emulator.url
            ),
            json!({"ackIds": ack_ids}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    out
}

fn config(block: &str) -> PubsubConfig {
    let yaml = format!("- name: ps\n  pubsub:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0]
        .sink
        .downcast_ref::<PubsubConfig>()
        .unwrap()
        .clone()
}

/// Batches of up to 5 events, quick retries, a short timeout.
fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 5,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(20),
    });
    s.timeout = Duration::from_secs(3);
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: 0,
    };
    s
}

#[tokio::test]
async fn messages_come_back_with_data_attributes_and_in_order() {
    let Some(bin) = emulator_bin() else { return };
    let emulator = start_emulator(&bin).await;
    // The topic exists before the sink starts: `create_topic` takes that in
    // its stride.
    create_topic_and_subscription(&emulator, "kube-events", "audit").await;
    let c = config(
        "    gcloud_project_id: herald-test\n    topic: kube-events\n    create_topic: true\n    attributes:\n      reason: \"{{ .Reason }}\"\n      cluster: prod\n    ordering_key: \"{{ .Reason }}\"\n",
    );
    let host = format!("127.0.0.1:{}", emulator.port);
    let sink = PubsubSink::connect("ps", &c, Some(&host), &settings())
        .await
        .unwrap();
    let mut h = DriverHarness::start(sink, settings());
    let mut sent = Vec::new();
    for i in 0..20 {
        let mut ev = event(&format!("u{i}"), &format!("m{i}"));
        ev.reason = if i % 2 == 0 { "Even" } else { "Odd" }.to_owned();
        sent.push(ev.clone());
        h.deliver(ev).await;
    }
    let acks = h.acks(20, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let pulled = pull(&emulator, "audit", 20).await;
    assert_eq!(pulled.len(), 20);
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &pulled {
        let message = p.data["message"].as_str().unwrap();
        let i: usize = message[1..].parse().unwrap();
        let ev = &sent[i];
        assert_eq!(p.data["reason"], ev.reason.as_str());
        assert_eq!(p.data["metadata"]["uid"], format!("u{i}"));
        assert_eq!(p.attributes[IDEMPOTENCY_ATTRIBUTE], ev.idempotency_key());
        assert_eq!(p.attributes["reason"], ev.reason);
        assert_eq!(p.attributes["cluster"], "prod");
        assert_eq!(p.attributes.len(), 3, "{:?}", p.attributes);
        assert_eq!(p.ordering_key, ev.reason);
        by_key.entry(&p.ordering_key).or_default().push(message);
    }
    let expect = |parity: usize| -> Vec<String> {
        (0..20)
            .filter(|i| i % 2 == parity)
            .map(|i| format!("m{i}"))
            .collect()
    };
    assert_eq!(by_key["Even"], expect(0));
    assert_eq!(by_key["Odd"], expect(1));
}

/// A TCP forwarder the sink talks through, so the test decides when the
/// restarted emulator is reachable again (after its topic and
/// subscription exist). Without an upstream, connections are closed at once.
struct Proxy {
    port: u16,
    upstream: Arc<Mutex<Option<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = Arc::new(Mutex::new(Some(SocketAddr::from((
            [127, 0, 0, 1],
            upstream,
        )))));
        let target = upstream.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let to = *target.lock().unwrap();
                tokio::spawn(async move {
                    let Some(to) = to else { return };
                    if let Ok(mut server) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy {
            port,
            upstream,
            task,
        }
    }

    fn point_at(&self, port: Option<u16>) {
        *self.upstream.lock().unwrap() = port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    }
}

#[tokio::test]
async fn an_emulator_restart_mid_stream_loses_nothing() {
    let Some(bin) = emulator_bin() else { return };
    let first = start_emulator(&bin).await;
    create_topic_and_subscription(&first, "stream", "all").await;
    let proxy = Proxy::start(first.port).await;
    let c = config("    gcloud_project_id: herald-test\n    topic: stream\n");
    let host = format!("127.0.0.1:{}", proxy.port);
    let sink = PubsubSink::connect("ps", &c, Some(&host), &settings())
        .await
        .unwrap();
    let mut h = DriverHarness::start(sink, settings());
    for i in 0..5 {
        h.deliver(event(&format!("u{i}"), &format!("m{i}"))).await;
    }
    let acks = h.acks(5, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let before = pull(&first, "all", 5).await;

    // The emulator goes away (its topics with it); events keep coming.
    proxy.point_at(None);
    drop(first);
    for i in 5..10 {
        h.deliver(event(&format!("u{i}"), &format!("m{i}"))).await;
    }
    let deadline = Instant::now() + WAIT;
    while h.metric("herald_sink_retries_total", "") < 3.0 {
        assert!(Instant::now() < deadline, "the driver did not retry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.pending_acks().is_empty(),
        "nothing is acknowledged while the emulator is down"
    );
    // The client does not retry by itself: each attempt fails at once
    // (no attempt runs into the driver's timeout) and the driver retries.
    assert_eq!(
        h.metric("herald_sink_errors_total", "error_type=\"timeout\""),
        0.0
    );
    assert!(h.metric("herald_sink_errors_total", "error_type=\"retriable\"") >= 3.0);

    // It comes back (empty, as the emulator keeps nothing): the topic and
    // subscription are made again before the sink can reach it.
    let second = start_emulator(&bin).await;
    create_topic_and_subscription(&second, "stream", "all").await;
    proxy.point_at(Some(second.port));
    let acks = h.acks(5, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let after = pull(&second, "all", 5).await;
    let keys: BTreeSet<String> = before
        .iter()
        .chain(&after)
        .map(|p| p.attributes[IDEMPOTENCY_ATTRIBUTE].clone())
        .collect();
    let expected: BTreeSet<String> = (0..10)
        .map(|i| event(&format!("u{i}"), "").idempotency_key())
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(h.metric("herald_sink_sent_events_total", ""), 10.0);
}
