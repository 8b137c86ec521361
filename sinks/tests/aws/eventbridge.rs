//! `eventbridge`: `PutEvents` against a fake answering like EventBridge (its
//! JSON protocol, `FailedEntryCount` and per-entry errors), and events
//! reaching an SQS queue through a moto rule.

use herald_sinks::eventbridge::{EventBridgeConfig, EventBridgeSink};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;

fn sink(url: &str, block: &str) -> EventBridgeSink {
    let c: EventBridgeConfig = config("eventbridge", &format!("    endpoint: {url}\n{block}"));
    EventBridgeSink::new(&c, &sdk())
}

const BLOCK: &str = "    source: kubernetes.events\n    detailType: \"{{ .Reason }}\"\n    eventBusName: cluster\n    details:\n      message: \"{{ .Message }}\"\n";

#[tokio::test]
async fn failed_entries_are_checked_and_only_throttled_ones_sent_again() {
    let reply = |v: serde_json::Value| {
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.1")
            .json(&v)
    };
    let fake = FakeHttp::with_replies([
        reply(json!({"FailedEntryCount": 2, "Entries": [
            {"EventId": "e0"},
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"},
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        ]})),
        reply(json!({"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}]})),
    ])
    .await;
    let mut h = DriverHarness::start(sink(&fake.url(), BLOCK), settings(3));
    for uid in ["u0", "u1", "u2"] {
        h.deliver(event(uid, uid)).await;
    }
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/"));
    assert_eq!(r.header("x-amz-target"), ["AWSEvents.PutEvents"]);
    assert_eq!(r.header("content-type"), ["application/x-amz-json-1.1"]);
    assert!(r.header("authorization")[0].contains("/us-east-1/events/aws4_request"));
    let body = r.json();
    let entry = &body["Entries"][1];
    assert_eq!(entry["Source"], "kubernetes.events");
    assert_eq!(entry["DetailType"], "BackOff");
    assert_eq!(entry["EventBusName"], "cluster");
    assert_eq!(entry["Detail"], r#"{"message":"u1"}"#);
    let again = requests[1].json();
    assert_eq!(again["Entries"].as_array().unwrap().len(), 1);
    assert_eq!(again["Entries"][0]["Detail"], r#"{"message":"u1"}"#);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
}

#[tokio::test]
async fn events_reach_a_rule_target_with_the_event_time() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["events-create", "cluster", "kubernetes.events", "from-bus"]);
    let mut h = DriverHarness::start(sink(&moto.url, BLOCK), settings(25));
    let at = chrono::DateTime::parse_from_rfc3339("2024-05-14T10:00:03Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for i in 0..25 {
        let mut ev = event(&format!("u{i:02}"), &format!("m{i:02}"));
        ev.last_timestamp = Some(at);
        h.deliver(ev).await;
    }
    let acks = h.acks(25, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 25);
    let got = moto.helper(&["sqs-receive", "from-bus", "25", "10"]);
    let envelopes: Vec<Value> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m["body"].as_str().unwrap()).unwrap())
        .collect();
    let mut messages: Vec<String> = envelopes
        .iter()
        .map(|e| e["detail"]["message"].as_str().unwrap().to_owned())
        .collect();
    messages.sort();
    let want: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    assert_eq!(messages, want);
    assert_eq!(envelopes[0]["detail-type"], "BackOff");
    assert_eq!(envelopes[0]["source"], "kubernetes.events");
    assert_eq!(envelopes[0]["time"], "2024-05-14T10:00:03Z");
}
