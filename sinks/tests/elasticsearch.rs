//! The `elasticsearch` sink in the real delivery driver: item-by-item
//! answers against the test kit's fake target (only throttled items sent
//! again, refused ones counted), and documents landing in osmem-server, an
//! in-memory OpenSearch (`HERALD_OSMEM_BIN`, set by `.ci/test`), where a
//! redelivery makes no second document.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::elasticsearch::{ElasticsearchConfig, SearchSink};
use herald_sinks::opensearch::OpenSearchConfig;
use herald_sinks::registry::SinkType as _;
use herald_testkit::driver::{DriverHarness, event};
use herald_testkit::{FakeHttp, Reply};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn sink(kind: &str, block: &str) -> SearchSink {
    let yaml = format!("- name: dump\n  {kind}:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    let sink = &receivers[0].sink;
    let timeout = Duration::from_secs(5);
    if let Some(c) = sink.downcast_ref::<ElasticsearchConfig>() {
        SearchSink::new("dump", ElasticsearchConfig::NAME, &c.0, timeout).unwrap()
    } else {
        let c = sink.downcast_ref::<OpenSearchConfig>().unwrap();
        SearchSink::new("dump", OpenSearchConfig::NAME, &c.0, timeout).unwrap()
    }
}

/// Batches of up to 10 events, quick retries.
fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 10,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(200),
    });
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 0,
    };
    s
}

#[tokio::test]
async fn only_throttled_items_are_retried_and_refused_ones_are_counted() {
    let first = json!({"took": 2, "errors": true, "items": [
        {"create": {"_index": "k", "_id": "u1-0", "status": 201}},
        {"create": {"_index": "k", "_id": "u2-0", "status": 400,
            "error": {"type": "mapper_parsing_exception",
                      "reason": "failed to parse field [count] of type [long]"}}},
        {"create": {"_index": "k", "_id": "u3-0", "status": 429,
            "error": {"type": "es_rejected_execution_exception", "reason": "queue is full"}}},
    ]});
    let second = json!({"took": 1, "errors": false, "items": [
        {"create": {"_index": "k", "_id": "u3-0", "status": 201}},
    ]});
    let fake = FakeHttp::with_replies([Reply::ok().json(&first), Reply::ok().json(&second)]).await;
    let s = sink(
        "elasticsearch",
        &format!("    hosts: [\"{}\"]\n    index: k\n", fake.url()),
    );
    let mut h = DriverHarness::start(s, settings());
    for uid in ["u1", "u2", "u3"] {
        h.deliver(event(uid, "m")).await;
    }
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let ids = |body: &str| -> Vec<String> {
        body.lines()
            .step_by(2)
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["create"]["_id"].to_string())
            .collect()
    };
    assert_eq!(
        ids(&requests[0].text()),
        ["\"u1-0\"", "\"u2-0\"", "\"u3-0\""]
    );
    assert_eq!(ids(&requests[1].text()), ["\"u3-0\""]);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
    assert_eq!(h.metric("herald_sink_sent_events_total", ""), 2.0);
}

/// osmem-server on a free port, stopped when dropped.
struct Osmem {
    child: Child,
    url: String,
}

impl Drop for Osmem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts osmem-server, or returns `None` (loudly) when `HERALD_OSMEM_BIN`
/// is unset outside CI; in CI a missing peer fails the test.
async fn osmem() -> Option<Osmem> {
    let Some(bin) = std::env::var_os("HERALD_OSMEM_BIN") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HERALD_OSMEM_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!\n!!! SKIPPED: HERALD_OSMEM_BIN is not set, the osmem-server test did not run \
             (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
        );
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(bin)
        .args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start osmem-server");
    let server = Osmem {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + WAIT;
    while reqwest::get(&server.url).await.is_err() {
        assert!(Instant::now() < deadline, "osmem-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(server)
}

async fn count(url: &str, index: &str) -> u64 {
    let v: Value = reqwest::get(format!("{url}/{index}/_count"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["count"].as_u64().unwrap()
}

#[tokio::test]
async fn documents_land_once_in_osmem_even_when_redelivered() {
    let Some(server) = osmem().await else { return };
    let s = sink(
        "opensearch",
        &format!(
            "    hosts: [\"{}\"]\n    indexFormat: \"kube-events-{{2006-01-02}}\"\n",
            server.url
        ),
    );
    let index = format!("kube-events-{}", chrono::Utc::now().format("%Y-%m-%d"));
    let mut h = DriverHarness::start(s, settings());
    for uid in ["a", "b", "c"] {
        h.deliver(event(uid, "first")).await;
    }
    let acks = h.acks(3, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    assert_eq!(count(&server.url, &index).await, 3);
    // The same occurrences again (a redelivery after a crash): osmem answers
    // 409 per item, counted as delivered, and no document is added.
    for uid in ["a", "b"] {
        h.deliver(event(uid, "again")).await;
    }
    let acks = h.acks(2, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    assert_eq!(count(&server.url, &index).await, 3);
    let hits: Value = reqwest::get(format!("{}/{index}/_search", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hits = hits["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
    let found = hits
        .iter()
        .find(|h| h["_id"] == "a-0")
        .expect("document a-0");
    assert_eq!(found["_source"]["message"], "first", "{found}");
    assert_eq!(h.metric("herald_sink_sent_events_total", ""), 5.0);
}

#[tokio::test]
async fn use_event_id_keeps_one_document_per_event_in_osmem() {
    let Some(server) = osmem().await else { return };
    let s = sink(
        "elasticsearch",
        &format!(
            "    hosts: [\"{}\"]\n    index: events\n    useEventID: true\n",
            server.url
        ),
    );
    let mut h = DriverHarness::start(s, settings());
    h.deliver(event("x", "one")).await;
    h.acks(1, WAIT).await;
    let mut repeat = event("x", "two");
    repeat.occurrence = 1;
    h.deliver(repeat).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert_eq!(count(&server.url, "events").await, 1);
    let doc: Value = reqwest::get(format!("{}/events/_doc/x", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["_source"]["message"], "two", "{doc}");
}

#[tokio::test]
async fn batches_close_by_count_and_by_bytes() {
    let fake = FakeHttp::start().await;
    fake.set_default(Reply::ok().json(&json!({"took": 1, "errors": false, "items": []})));
    let s = sink(
        "elasticsearch",
        &format!("    hosts: [\"{}\"]\n    index: k\n", fake.url()),
    );
    let item = {
        use herald_sinks::driver::Sink as _;
        use herald_sinks::driver::{AckRef, Delivery, RequestBuilder as _};
        let d = Delivery::from_event(event("u0", "m"), AckRef::detached());
        let b = s.builder();
        b.item_size(&b.encode(&d).unwrap())
    };
    // Room for two documents per request by bytes, three by count.
    let mut settings = settings();
    settings.batch = BatchSettings {
        max_events: 3,
        max_bytes: item * 2 + item / 2,
        linger: Duration::from_millis(300),
    };
    let mut h = DriverHarness::start(s, settings);
    for uid in ["u1", "u2", "u3", "u4", "u5"] {
        h.deliver(event(uid, "m")).await;
    }
    let acks = h.acks(5, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1));
    let per_request: Vec<usize> = fake
        .requests()
        .iter()
        .map(|r| r.text().lines().count() / 2)
        .collect();
    assert_eq!(per_request, [2, 2, 1]);
    // By count: three per request when bytes allow.
    let fake = FakeHttp::start().await;
    fake.set_default(Reply::ok().json(&json!({"took": 1, "errors": false, "items": []})));
    let s = sink(
        "elasticsearch",
        &format!("    hosts: [\"{}\"]\n    index: k\n", fake.url()),
    );
    let mut settings = self::settings();
    settings.batch.max_events = 3;
    settings.batch.linger = Duration::from_millis(300);
    let mut h = DriverHarness::start(s, settings);
    for uid in ["u1", "u2", "u3", "u4"] {
        h.deliver(event(uid, "m")).await;
    }
    h.acks(4, WAIT).await;
    let per_request: Vec<usize> = fake
        .requests()
        .iter()
        .map(|r| r.text().lines().count() / 2)
        .collect();
    assert_eq!(per_request, [3, 1]);
}
