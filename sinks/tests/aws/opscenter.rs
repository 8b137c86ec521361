//! `opscenter` in the delivery driver against a fake `CreateOpsItem`
//! (moto lacks it): one call per event, an event whose priority is not an
//! integer rejected alone and counted, throttling retried.

use herald_sinks::opscenter::{OpsCenterConfig, OpsCenterSink};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_bad_priority_rejects_only_its_event_and_throttling_is_retried() {
    let created = || {
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.1")
            .json(&json!({"OpsItemId": "oi-1"}))
    };
    let throttled = Reply::status(400)
        .header("content-type", "application/x-amz-json-1.1")
        .json(&json!({"__type": "ThrottlingException", "message": "Rate exceeded"}));
    let fake = FakeHttp::with_replies([created(), throttled, created()]).await;
    let c: OpsCenterConfig = config(
        "opscenter",
        &format!(
            "    title: \"{{{{ .Message }}}}\"\n    description: d\n    source: herald\n    priority: \"{{{{ .Message }}}}\"\n    endpoint: {}\n",
            fake.url()
        ),
    );
    let sink = OpsCenterSink::new(&c, &sdk(), Duration::from_secs(5)).unwrap();
    let mut h = DriverHarness::start(sink, settings(1));
    for (uid, priority) in [("u1", "2"), ("u2", "urgent"), ("u3", "3")] {
        h.deliver(event(uid, priority)).await;
    }
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1));
    let priorities: Vec<i64> = fake
        .requests()
        .iter()
        .map(|r| r.json()["Priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [2, 3, 3]);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"encode_error\""
        ),
        1.0
    );
}
