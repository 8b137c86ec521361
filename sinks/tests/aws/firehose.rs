//! `firehose`: `PutRecordBatch` against a fake answering like Firehose (its
//! JSON protocol, per-record errors), and records landing through moto's
//! Firehose in moto's S3.

use herald_sinks::firehose::{FirehoseConfig, FirehoseSink};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;

fn sink(url: &str, stream: &str, block: &str) -> FirehoseSink {
    let c: FirehoseConfig = config(
        "firehose",
        &format!("    deliveryStreamName: {stream}\n    endpoint: {url}\n{block}"),
    );
    FirehoseSink::new(&c, &sdk())
}

#[tokio::test]
async fn only_records_firehose_failed_are_put_again() {
    let reply = |v: serde_json::Value| {
        Reply::ok()
            .header("content-type", "application/x-amz-json-1.1")
            .json(&v)
    };
    let fake = FakeHttp::with_replies([
        reply(
            json!({"FailedPutCount": 1, "Encrypted": false, "RequestResponses": [
                {"RecordId": "r0"},
                {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."},
                {"RecordId": "r2"}
            ]}),
        ),
        reply(json!({"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r1"}]})),
    ])
    .await;
    let mut h = DriverHarness::start(
        sink(&fake.url(), "logs", "    newline: true\n"),
        settings(3),
    );
    for uid in ["u0", "u1", "u2"] {
        h.deliver(event(uid, uid)).await;
    }
    let acks = h.acks(3, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 3);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/"));
    assert_eq!(
        r.header("x-amz-target"),
        ["Firehose_20150804.PutRecordBatch"]
    );
    assert_eq!(r.header("content-type"), ["application/x-amz-json-1.1"]);
    assert!(r.header("authorization")[0].contains("/us-east-1/firehose/aws4_request"));
    let messages = |v: serde_json::Value| -> Vec<String> {
        assert_eq!(v["DeliveryStreamName"], "logs");
        v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                use base64::Engine as _;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().unwrap())
                    .unwrap();
                assert_eq!(data.last(), Some(&b'\n'));
                let v: Value = serde_json::from_slice(&data).unwrap();
                v["message"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(messages(r.json()), ["u0", "u1", "u2"]);
    assert_eq!(messages(requests[1].json()), ["u1"]);
}

/// moto's Firehose writes each `PutRecordBatch` to its S3 as one object;
/// with `newline: true` the objects are JSON lines.
#[tokio::test]
async fn records_land_in_s3_as_json_lines() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.helper(&["firehose-create", "logs", "event-archive"]);
    let mut h = DriverHarness::start(
        sink(&moto.url, "logs", "    newline: true\n"),
        settings(600),
    );
    for i in 0..600 {
        h.deliver(event(&format!("u{i:03}"), &format!("m{i:03}")))
            .await;
    }
    let acks = h.acks(600, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 600);
    let data = moto.helper(&["s3-read", "event-archive"]);
    let mut got: Vec<String> = data
        .as_str()
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    got.sort();
    let want: Vec<String> = (0..600).map(|i| format!("m{i:03}")).collect();
    assert_eq!(got, want);
}
