//! `sqs`: `SendMessageBatch` against a fake answering like SQS (its JSON
//! protocol), and messages landing in moto's queues (standard and FIFO), a
//! missing queue and moto being down.

use herald_sinks::sqs::{SqsConfig, SqsSink};
use herald_testkit::{FakeHttp, Recorded, Reply};
use serde_json::json;

use super::*;

fn sink_at(fake: &FakeHttp, queue: &str) -> SqsSink {
    let c: SqsConfig = config(
        "sqs",
        &format!("    queueName: {queue}\n    endpoint: {}\n", fake.url()),
    );
    SqsSink::new("q", &c, &sdk())
}

fn queue_url_reply() -> Reply {
    Reply::ok()
        .header("content-type", "application/x-amz-json-1.0")
        .json(&json!({"QueueUrl": "http://127.0.0.1/000000000000/events"}))
}

/// The request is what SQS expects: a signed JSON 1.0 POST with the
/// operation in `X-Amz-Target`.
fn check_request(r: &Recorded, target: &str) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/");
    assert_eq!(r.header("x-amz-target"), [target]);
    assert_eq!(r.header("content-type"), ["application/x-amz-json-1.0"]);
    let auth = r.header("authorization");
    assert!(
        auth[0].starts_with("AWS4-HMAC-SHA256 Credential=testing/")
            && auth[0].contains("/us-east-1/sqs/aws4_request"),
        "{auth:?}"
    );
}

#[tokio::test]
async fn only_entries_sqs_failed_are_sent_again() {
    let fake = FakeHttp::with_replies([
        queue_url_reply(),
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({
                "Successful": [
                    {"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"},
                    {"Id": "3", "MessageId": "m3", "MD5OfMessageBody": "x"}
                ],
                "Failed": [
                    {"Id": "1", "SenderFault": false, "Code": "InternalError", "Message": "try again"},
                    {"Id": "2", "SenderFault": true, "Code": "InvalidParameterValue", "Message": "bad body"}
                ]
            })),
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({"Successful": [{"Id": "0", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []})),
    ])
    .await;
    let mut h = DriverHarness::start(sink_at(&fake, "events"), settings(4));
    for uid in ["u0", "u1", "u2", "u3"] {
        h.deliver(event(uid, &format!("message {uid}"))).await;
    }
    let acks = h.acks(4, Duration::from_secs(10)).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (3, 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    check_request(&requests[0], "AmazonSQS.GetQueueUrl");
    assert_eq!(requests[0].json(), json!({"QueueName": "events"}));
    check_request(&requests[1], "AmazonSQS.SendMessageBatch");
    let first = requests[1].json();
    assert_eq!(first["QueueUrl"], "http://127.0.0.1/000000000000/events");
    let bodies = |v: &serde_json::Value| -> Vec<String> {
        v["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(e["MessageBody"].as_str().unwrap())
                    .unwrap()["message"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        bodies(&first),
        ["message u0", "message u1", "message u2", "message u3"]
    );
    assert_eq!(bodies(&requests[2].json()), ["message u1"]);
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
}

#[tokio::test]
async fn a_missing_queue_keeps_the_receiver_unready_until_it_exists() {
    let missing = Reply::status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "x-amzn-query-error",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
        )
        .json(&json!({
            "__type": "com.amazonaws.sqs#QueueDoesNotExist",
            "message": "The specified queue does not exist."
        }));
    let fake = FakeHttp::with_replies([
        missing.clone(),
        missing,
        queue_url_reply(),
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({"Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}], "Failed": []})),
    ])
    .await;
    let mut h = DriverHarness::start(sink_at(&fake, "later"), settings(1));
    h.deliver(event("u0", "m")).await;
    let acks = h.acks(1, Duration::from_secs(10)).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 1);
    let targets: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.header("x-amz-target")[0].to_owned())
        .collect();
    assert_eq!(
        targets,
        [
            "AmazonSQS.GetQueueUrl",
            "AmazonSQS.GetQueueUrl",
            "AmazonSQS.GetQueueUrl",
            "AmazonSQS.SendMessageBatch"
        ]
    );
}

#[tokio::test]
async fn expired_credentials_are_retried_not_dropped() {
    let expired = Reply::status(403)
        .header("content-type", "application/x-amz-json-1.0")
        .json(&json!({
            "__type": "com.amazon.coral.service#ExpiredTokenException",
            "message": "The security token included in the request is expired"
        }));
    let fake = FakeHttp::with_replies([
        queue_url_reply(),
        expired.clone(),
        expired,
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({"Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}], "Failed": []})),
    ])
    .await;
    let mut h = DriverHarness::start(sink_at(&fake, "events"), settings(1));
    h.deliver(event("u0", "m")).await;
    let acks = h.acks(1, Duration::from_secs(10)).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 1);
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(h.metric("herald_sink_dropped_events_total", ""), 0.0);
}

#[tokio::test]
async fn a_batch_larger_than_sqs_takes_goes_out_in_several_calls() {
    let fake = FakeHttp::start().await;
    fake.push_reply(queue_url_reply());
    let ok = |ids: std::ops::Range<usize>| {
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({"Successful": ids.map(|i| json!({"Id": i.to_string(), "MessageId": "m", "MD5OfMessageBody": "x"})).collect::<Vec<_>>(), "Failed": []}))
    };
    fake.push_reply(ok(0..10));
    fake.push_reply(ok(0..10));
    fake.push_reply(ok(0..5));
    let mut h = DriverHarness::start(sink_at(&fake, "events"), settings(25));
    for i in 0..25 {
        h.deliver(event(&format!("u{i}"), "m")).await;
    }
    let acks = h.acks(25, Duration::from_secs(10)).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 25);
    let sizes: Vec<usize> = fake.requests()[1..]
        .iter()
        .map(|r| r.json()["Entries"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
}

fn sink(moto: &Moto, queue: &str) -> SqsSink {
    let c: SqsConfig = config(
        "sqs",
        &format!("    queueName: {queue}\n    endpoint: {}\n", moto.url),
    );
    SqsSink::new("r", &c, &sdk())
}

#[tokio::test]
async fn messages_land_in_the_queue() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["sqs-create", "events"]);
    let mut h = DriverHarness::start(sink(&moto, "events"), settings(25));
    for i in 0..25 {
        h.deliver(event(&format!("u{i:02}"), &format!("m{i:02}")))
            .await;
    }
    let acks = h.acks(25, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 25);
    let got = moto.helper(&["sqs-receive", "events", "25", "10"]);
    let want: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    assert_eq!(messages(&got), want);
}

#[tokio::test]
async fn a_fifo_queue_drops_a_redelivery_by_its_deduplication_id() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["sqs-create", "events.fifo"]);
    let mut h = DriverHarness::start(sink(&moto, "events.fifo"), settings(10));
    let mut ev = event("u1", "once");
    ev.involved_object.kind = "Pod".into();
    ev.involved_object.namespace = "shop".into();
    ev.involved_object.name = "web-1".into();
    // the same occurrence twice (a redelivery after a restart), then the next one
    h.deliver(ev.clone()).await;
    h.deliver(ev.clone()).await;
    let mut next = ev.clone();
    next.occurrence += 1;
    next.message = "twice".into();
    h.deliver(next).await;
    let acks = h.acks(3, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 3);
    let got = moto.helper(&["sqs-receive", "events.fifo", "3", "3"]);
    assert_eq!(messages(&got), ["once", "twice"]);
    let attrs = &got[0]["attributes"];
    assert_eq!(attrs["MessageGroupId"], "Pod/shop/web-1");
    assert_eq!(attrs["MessageDeduplicationId"], ev.idempotency_key());
}

#[tokio::test]
async fn a_missing_queue_is_unready_and_retried_until_it_exists() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let mut s = settings(1);
    s.unhealthy_after = Duration::from_millis(100);
    let mut h = DriverHarness::start(sink(&moto, "later"), s);
    h.deliver(event("u1", "waited")).await;
    let deadline = std::time::Instant::now() + WAIT;
    while h.receiver().unhealthy_for().is_none() {
        assert!(std::time::Instant::now() < deadline, "never unhealthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.pending_acks().is_empty());
    moto.helper(&["sqs-create", "later"]);
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1);
    assert!(h.receiver().unhealthy_for().is_none());
    let got = moto.helper(&["sqs-receive", "later", "1", "5"]);
    assert_eq!(messages(&got), ["waited"]);
}

#[tokio::test]
async fn nothing_is_lost_while_moto_is_down() {
    let Some(bin) = Moto::bin() else { return };
    let port = moto::free_port();
    let c: SqsConfig = config(
        "sqs",
        &format!("    queueName: events\n    endpoint: http://127.0.0.1:{port}\n"),
    );
    let mut h = DriverHarness::start(SqsSink::new("r", &c, &sdk()), settings(10));
    for i in 0..5 {
        h.deliver(event(&format!("u{i}"), &format!("m{i}"))).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(h.pending_acks().is_empty());
    let moto = Moto::start_on(bin, port).await;
    moto.helper(&["sqs-create", "events"]);
    let acks = h.acks(5, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 5);
    let got = moto.helper(&["sqs-receive", "events", "5", "5"]);
    assert_eq!(messages(&got), ["m0", "m1", "m2", "m3", "m4"]);
}
