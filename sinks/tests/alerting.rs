//! The `slack`, `teams` and `opsgenie` sinks in the real delivery driver (the
//! test kit's harness) against fakes answering as those services do:
//! throttling honoured (`Retry-After`), refusals rejected at once, outages
//! retried, batches answered event by event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings, Sink};
use herald_sinks::opsgenie::{OpsgenieConfig, OpsgenieSink};
use herald_sinks::registry::SinkType;
use herald_sinks::slack::{SlackConfig, SlackSink};
use herald_sinks::teams::{TeamsConfig, TeamsSink};
use herald_testkit::driver::{DriverHarness, event};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn config<T: SinkType + Clone>(block: &str) -> T {
    let yaml = format!("- name: test\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0].sink.downcast_ref::<T>().unwrap().clone()
}

/// The type's defaults, with quick retries.
fn settings<T: SinkType>() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(T::BATCH_DEFAULTS);
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 0,
    };
    s
}

fn slack(fake: &FakeHttp, s: DeliverySettings) -> DriverHarness {
    let c: SlackConfig = config(&format!(
        "  slack:\n    token: xoxb-t\n    channel: \"#ops\"\n    message: \"{{{{ .Message }}}}\"\n    apiURL: \"{}/api/\"\n",
        fake.url()
    ));
    start(SlackSink::new("test", &c, s.timeout).unwrap(), s)
}

fn start<S: Sink>(sink: S, s: DeliverySettings) -> DriverHarness {
    DriverHarness::start(sink, s)
}

fn ok() -> Reply {
    Reply::ok().json(&json!({"ok": true}))
}

#[tokio::test]
async fn slack_429_waits_for_retry_after() {
    let fake = FakeHttp::with_replies([
        Reply::status(429)
            .header("Retry-After", "1")
            .json(&json!({"ok": false, "error": "ratelimited"})),
        ok(),
    ])
    .await;
    let mut h = slack(&fake, settings::<SlackConfig>());
    let started = Instant::now();
    h.deliver(event("u1", "a")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn slack_ok_false_is_rejected_once_and_counted() {
    let fake = FakeHttp::with_replies([
        Reply::ok().json(&json!({"ok": false, "error": "channel_not_found"}))
    ])
    .await;
    let mut h = slack(&fake, settings::<SlackConfig>());
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
}

#[tokio::test]
async fn a_slack_batch_is_answered_message_by_message() {
    let fake = FakeHttp::with_replies([
        ok(),
        Reply::ok().json(&json!({"ok": false, "error": "msg_too_long"})),
        Reply::ok().json(&json!({"ok": false, "error": "ratelimited"})),
        ok(),
    ])
    .await;
    let mut s = settings::<SlackConfig>();
    s.batch = BatchSettings {
        max_events: 3,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(200),
    };
    let mut h = slack(&fake, s);
    for (uid, message) in [("u1", "first"), ("u2", "second"), ("u3", "third")] {
        h.deliver(event(uid, message)).await;
    }
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1));
    let texts: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    // the refused message is not sent again; the throttled one is
    assert_eq!(texts, ["first", "second", "third", "third"]);
}

#[tokio::test]
async fn teams_outages_are_retried_until_delivered() {
    let fake = FakeHttp::with_replies([
        Reply::status(503),
        Reply::ok().body("Microsoft Teams endpoint returned HTTP error 429"),
        Reply::ok().body("1"),
    ])
    .await;
    let c: TeamsConfig = config(&format!(
        "  teams:\n    endpoint: \"{}/webhook/x\"\n",
        fake.url()
    ));
    let s = settings::<TeamsConfig>();
    let mut h = start(TeamsSink::new("test", &c, s.timeout).unwrap(), s);
    h.deliver(event("u1", "a")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(h.metric("herald_sink_retries_total", ""), 2.0);
}

#[tokio::test]
async fn teams_unreachable_is_retried_not_reported_delivered() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c: TeamsConfig = config(&format!(
        "  teams:\n    endpoint: \"http://{addr}/webhook/x\"\n"
    ));
    let mut s = settings::<TeamsConfig>();
    s.retry.max_attempts = 2;
    let mut h = start(TeamsSink::new("test", &c, s.timeout).unwrap(), s);
    h.deliver(event("u1", "a")).await;
    let ack = h.acks(1, WAIT).await[0];
    assert_eq!(ack.delivered, 0, "{ack:?}");
    assert!(h.metric("herald_sink_errors_total", "") >= 2.0);
}

#[tokio::test]
async fn opsgenie_throttling_is_retried_and_bad_alerts_rejected() {
    let fake = FakeHttp::with_replies([
        Reply::status(429).header("Retry-After", "1"),
        Reply::status(202)
            .json(&json!({"result": "Request will be processed", "took": 0.1, "requestId": "r1"})),
        Reply::status(422).json(
            &json!({"message": "Request body is not processable.", "took": 0.0, "requestId": "r2"}),
        ),
    ])
    .await;
    let c: OpsgenieConfig = config(&format!(
        "  opsgenie:\n    apiKey: k\n    apiURL: \"{}\"\n    message: \"{{{{ .Message }}}}\"\n",
        fake.url()
    ));
    let s = settings::<OpsgenieConfig>();
    let mut h = start(OpsgenieSink::new("test", &c, s.timeout).unwrap(), s);
    let started = Instant::now();
    h.deliver(event("u1", "a")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    h.deliver(event("u2", "b")).await;
    assert_eq!(h.acks(1, WAIT).await[0].rejected, 1);
    assert_eq!(fake.requests().len(), 3);
}
