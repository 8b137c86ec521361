//! The `webhook` sink in the real delivery driver (the test kit's harness)
//! against the test kit's fake target: retries, `Retry-After`, timeouts,
//! permanent refusals and batches, as the target sees them and as the
//! acknowledgements and metrics report them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::registry::SinkType as _;
use herald_sinks::webhook::{WebhookConfig, WebhookSink};
use herald_testkit::driver::{DriverHarness, event};
use herald_testkit::{FakeHttp, Reply};

const WAIT: Duration = Duration::from_secs(10);

fn config(endpoint: &str) -> WebhookConfig {
    let yaml = format!("- name: hook\n  webhook:\n    endpoint: \"{endpoint}\"\n");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0]
        .sink
        .downcast_ref::<WebhookConfig>()
        .unwrap()
        .clone()
}

/// The webhook's own defaults, with quick retries.
fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(WebhookConfig::BATCH_DEFAULTS);
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 0,
    };
    s
}

fn harness(fake: &FakeHttp, settings: DeliverySettings) -> DriverHarness {
    let sink = WebhookSink::new("test", &config(&fake.url()), settings.timeout).unwrap();
    DriverHarness::start(sink, settings)
}

#[tokio::test]
async fn a_503_is_retried_until_delivered() {
    let fake = FakeHttp::with_replies([Reply::status(503), Reply::status(503)]).await;
    let mut h = harness(&fake, settings());
    let (offset, _) = h.deliver(event("u1", "a")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!((acks[0].offset, acks[0].delivered), (offset, 1));
    let requests = fake.requests();
    let statuses: Vec<Option<u16>> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    assert_eq!(h.metric("herald_sink_retries_total", ""), 2.0);
    assert_eq!(h.metric("herald_sink_sent_events_total", ""), 1.0);
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let fake = FakeHttp::with_replies([Reply::status(429).header("Retry-After", "1")]).await;
    let mut h = harness(&fake, settings());
    let started = Instant::now();
    h.deliver(event("u1", "a")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_hung_target_is_a_timeout_and_retried() {
    let fake = FakeHttp::with_replies([Reply::hang()]).await;
    let mut s = settings();
    s.timeout = Duration::from_millis(300);
    let mut h = harness(&fake, s);
    h.deliver(event("u1", "a")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert_eq!(fake.requests().len(), 2);
    // the client's own limit is only a backstop: the driver counts a timeout
    assert_eq!(
        h.metric("herald_sink_errors_total", "error_type=\"timeout\""),
        1.0
    );
    assert_eq!(h.metric("herald_sink_errors_total", ""), 1.0);
}

#[tokio::test]
async fn a_400_is_rejected_at_once_and_counted() {
    let fake = FakeHttp::with_replies([Reply::status(400).body("bad payload")]).await;
    let mut h = harness(&fake, settings());
    h.deliver(event("u1", "a")).await;
    let ack = h.acks(1, WAIT).await[0];
    assert_eq!((ack.delivered, ack.rejected), (0, 1));
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
    // the next event goes out normally
    h.deliver(event("u2", "b")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
}

#[tokio::test]
async fn a_batch_is_one_request_with_a_json_array_in_queue_order() {
    let fake = FakeHttp::start().await;
    let mut s = settings();
    s.batch = BatchSettings {
        max_events: 3,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(200),
    };
    let mut h = harness(&fake, s);
    for (uid, message) in [("u1", "first"), ("u2", "second"), ("u3", "third")] {
        h.deliver(event(uid, message)).await;
    }
    let acks = h.acks(3, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let messages: Vec<String> = requests[0]
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|doc| doc["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["first", "second", "third"]);
    assert!(h.pending_acks().is_empty());
}
