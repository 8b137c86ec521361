//! `sns`: `PublishBatch` against a fake answering like SNS (the query
//! protocol: a form-encoded POST, an XML answer), and messages reaching an
//! SQS queue subscribed to a moto topic (standard and FIFO).

use herald_sinks::sns::{SnsConfig, SnsSink};
use herald_testkit::{FakeHttp, Reply};

use super::*;

fn xml(body: &str) -> Reply {
    Reply::ok().header("content-type", "text/xml").body(format!(
        "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishBatchResult>{body}</PublishBatchResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></PublishBatchResponse>"
    ))
}

#[tokio::test]
async fn only_entries_sns_failed_are_published_again() {
    let fake = FakeHttp::with_replies([
        xml("<Successful><member><Id>0</Id><MessageId>m0</MessageId></member></Successful><Failed><member><Id>1</Id><Code>InternalError</Code><Message>try again</Message><SenderFault>false</SenderFault></member><member><Id>2</Id><Code>InvalidParameter</Code><Message>bad</Message><SenderFault>true</SenderFault></member></Failed>"),
        xml("<Successful><member><Id>0</Id><MessageId>m1</MessageId></member></Successful><Failed/>"),
    ])
    .await;
    let c: SnsConfig = config(
        "sns",
        &format!(
            "    topicARN: arn:aws:sns:us-east-1:123456789012:events\n    endpoint: {}\n",
            fake.url()
        ),
    );
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 3,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(200),
    });
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 0,
    };
    let mut h = DriverHarness::start(SnsSink::new("t", &c, &sdk()), s);
    for uid in ["u0", "u1", "u2"] {
        h.deliver(event(uid, uid)).await;
    }
    let acks = h.acks(3, Duration::from_secs(10)).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (2, 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/"));
    assert_eq!(
        r.header("content-type"),
        ["application/x-www-form-urlencoded"]
    );
    assert!(r.header("authorization")[0].contains("/us-east-1/sns/aws4_request"));
    let form = r.text();
    assert!(form.starts_with("Action=PublishBatch&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aevents"), "{form}");
    assert!(
        form.contains("PublishBatchRequestEntries.member.3.Id=2"),
        "{form}"
    );
    let again = requests[1].text();
    assert!(
        again.contains("PublishBatchRequestEntries.member.1.Id=0"),
        "{again}"
    );
    assert!(!again.contains("member.2"), "{again}");
    assert!(again.contains("%22message%22%3A%22u1%22"), "{again}");
}

fn moto_sink(moto: &Moto, arn: &str) -> SnsSink {
    let c: SnsConfig = config(
        "sns",
        &format!("    topicARN: {arn}\n    endpoint: {}\n", moto.url),
    );
    SnsSink::new("r", &c, &sdk())
}

#[tokio::test]
async fn messages_reach_a_subscribed_queue() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let arn = moto.helper(&["sns-create", "events", "from-sns"]);
    let mut h = DriverHarness::start(moto_sink(&moto, arn.as_str().unwrap()), settings(25));
    for i in 0..25 {
        h.deliver(event(&format!("u{i:02}"), &format!("m{i:02}")))
            .await;
    }
    let acks = h.acks(25, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 25);
    let got = moto.helper(&["sqs-receive", "from-sns", "25", "10"]);
    let want: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    assert_eq!(messages(&got), want);
}

#[tokio::test]
async fn a_fifo_topic_drops_a_redelivery_by_its_deduplication_id() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let arn = moto.helper(&["sns-create", "events.fifo", "from-sns.fifo"]);
    let mut h = DriverHarness::start(moto_sink(&moto, arn.as_str().unwrap()), settings(10));
    let mut ev = event("u1", "once");
    ev.involved_object.kind = "Pod".into();
    ev.involved_object.namespace = "shop".into();
    ev.involved_object.name = "web-1".into();
    h.deliver(ev.clone()).await;
    h.deliver(ev.clone()).await;
    let mut next = ev.clone();
    next.occurrence += 1;
    next.message = "twice".into();
    h.deliver(next).await;
    let acks = h.acks(3, WAIT).await;
    assert_eq!(acks.iter().map(|a| a.delivered).sum::<u32>(), 3);
    let got = moto.helper(&["sqs-receive", "from-sns.fifo", "3", "3"]);
    assert_eq!(messages(&got), ["once", "twice"]);
}
