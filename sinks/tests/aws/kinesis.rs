//! `kinesis`: `PutRecords` against a fake answering like Kinesis (its JSON
//! protocol, per-record errors), and records read back from a moto stream
//! with `GetRecords`.

use herald_sinks::kinesis::{KinesisConfig, KinesisSink};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;

fn sink(url: &str, block: &str) -> KinesisSink {
    let c: KinesisConfig = config(
        "kinesis",
        &format!("    streamName: events\n    endpoint: {url}\n{block}"),
    );
    KinesisSink::new(&c, &sdk())
}

#[tokio::test]
async fn only_records_kinesis_failed_are_put_again() {
    let reply = |v: serde_json::Value| {
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.1")
            .json(&v)
    };
    let fake = FakeHttp::with_replies([
        reply(json!({"FailedRecordCount": 2, "Records": [
            {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard shardId-000000000000"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."},
            {"SequenceNumber": "2", "ShardId": "shardId-000000000000"}
        ]})),
        reply(json!({"FailedRecordCount": 0, "Records": [
            {"SequenceNumber": "3", "ShardId": "shardId-000000000000"},
            {"SequenceNumber": "4", "ShardId": "shardId-000000000000"}
        ]})),
    ])
    .await;
    let mut h = DriverHarness::start(sink(&fake.url(), ""), settings(4));
    for uid in ["u0", "u1", "u2", "u3"] {
        h.deliver(event(uid, uid)).await;
    }
    let acks = h.acks(4, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 4);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/"));
    assert_eq!(r.header("x-amz-target"), ["Kinesis_20131202.PutRecords"]);
    assert_eq!(r.header("content-type"), ["application/x-amz-json-1.1"]);
    assert!(r.header("authorization")[0].contains("/us-east-1/kinesis/aws4_request"));
    let keys = |v: serde_json::Value| -> Vec<String> {
        assert_eq!(v["StreamName"], "events");
        v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["PartitionKey"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys(r.json()), ["u0", "u1", "u2", "u3"]);
    assert_eq!(keys(requests[1].json()), ["u1", "u2"]);
}

/// moto refuses a `PutRecords` of more than 500 records, as Kinesis does.
#[tokio::test]
async fn records_land_in_the_stream_in_calls_of_at_most_500() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["kinesis-create", "events", "2"]);
    let mut h = DriverHarness::start(sink(&moto.url, ""), settings(1200));
    for i in 0..1200 {
        h.deliver(event(&format!("u{i:04}"), &format!("m{i:04}")))
            .await;
    }
    let acks = h.acks(1200, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 1200);
    let records = moto.helper(&["kinesis-read", "events"]);
    let mut got: Vec<(String, String)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let data: Value = serde_json::from_str(r["data"].as_str().unwrap()).unwrap();
            (
                r["key"].as_str().unwrap().to_owned(),
                data["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = (0..1200)
        .map(|i| (format!("u{i:04}"), format!("m{i:04}")))
        .collect();
    assert_eq!(got, want);
}

/// moto refuses a `PutRecords` over 500 records or 5 MiB, as Kinesis does:
/// 12 records of about 900 KB only go through in calls of at most five.
#[tokio::test]
async fn large_records_go_out_in_calls_under_5_mib() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["kinesis-create", "big", "1"]);
    let c: KinesisConfig = config(
        "kinesis",
        &format!("    streamName: big\n    endpoint: {}\n", moto.url),
    );
    let mut h = DriverHarness::start(KinesisSink::new(&c, &sdk()), settings(12));
    for i in 0..12 {
        h.deliver(event(&format!("u{i:02}"), &"x".repeat(900_000)))
            .await;
    }
    let acks = h.acks(12, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 12);
    let records = moto.helper(&["kinesis-read", "big"]);
    assert_eq!(records.as_array().unwrap().len(), 12);
}
