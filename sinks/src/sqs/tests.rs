//! `sqs` config and encoding. Sending (against a fake answering like SQS,
//! and into moto's queues) is tested in `sinks/tests/aws/sqs.rs`.

use crate::aws::fifo::{DEFAULT_GROUP_ID, bounded_group_id};
use super::*;
use crate::aws::testing::load;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::model::tests::compat_example;

fn sqs(block: &str) -> (Option<SqsConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: q\n    sqs:\n{block}"))
}

#[test]
fn the_kee_readme_example_loads_unchanged() {
    // kubernetes-event-exporter's README example, with its impossible queue name
    let (c, diags) = load::<SqsConfig>(
        "receivers:\n  - name: \"sqs\"\n    sqs:\n      queueName: \"/tmp/dump\"\n      region: us-west-2\n      layout: # Optional\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let c = c.unwrap();
    assert_eq!(c.queue_name, "/tmp/dump");
    assert_eq!(c.aws.region.as_deref(), Some("us-west-2"));
    assert!(c.layout.is_none() && c.group_id.is_none());
    // the name cannot be a queue: said at load time
    let w: Vec<_> = diags.warnings().collect();
    assert_eq!(w.len(), 1, "{diags}");
    assert!(w[0].message.contains("not a valid SQS queue name"), "{diags}");
}

#[test]
fn a_queue_url_is_refused_with_the_name_to_write() {
    let (c, diags) = sqs(
        "      queueName: https://sqs.eu-west-1.amazonaws.com/123456789012/kube-events\n",
    );
    assert!(c.is_none());
    let e: Vec<_> = diags.errors().collect();
    assert_eq!(e.len(), 1, "{diags}");
    assert_eq!(e[0].location.unwrap().line, 4);
    assert!(e[0].message.contains("not its URL"), "{diags}");
    assert!(e[0].hint.as_deref().unwrap().contains("queueName: kube-events"), "{diags}");
}

#[test]
fn fifo_settings_are_checked() {
    // a FIFO queue gets the involved object as group by default
    let (c, diags) = sqs("      queueName: events.fifo\n");
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(c.unwrap().group_id.unwrap().source(), DEFAULT_GROUP_ID);
    // an empty group id on a FIFO queue
    let (c, diags) = sqs("      queueName: events.fifo\n      messageGroupId: \"\"\n");
    assert!(c.is_none());
    let e: Vec<_> = diags.errors().collect();
    assert!(e[0].message.contains("FIFO queue needs a message group id"), "{diags}");
    assert_eq!(e[0].location.unwrap().line, 5);
    // a group id on a standard queue
    let (c, diags) = sqs("      queueName: events\n      messageGroupId: \"{{ .Namespace }}\"\n");
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("only for FIFO"), "{diags}");
    // a template that does not parse
    let (c, diags) = sqs("      queueName: events.fifo\n      messageGroupId: \"{{ .Namespace \"\n");
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert!(e.message.contains("invalid template in `messageGroupId`"), "{diags}");
    assert_eq!(e.location.unwrap().line, 5);
}

#[test]
fn region_and_endpoint_are_checked() {
    let (c, diags) = sqs("      queueName: q\n      region: \"US East\"\n");
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("not an AWS region"), "{diags}");
    let (c, diags) = sqs("      queueName: q\n      endpoint: \"localhost:4566\"\n");
    assert!(c.is_none(), "{diags}");
    let (c, diags) = sqs("      queueName: q\n      endpoint: \"http://127.0.0.1:4566/\"\n");
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(c.unwrap().aws.endpoint.unwrap().as_str(), "http://127.0.0.1:4566/");
}

#[test]
fn fifo_entries_carry_the_group_and_the_idempotency_key() {
    let (c, _) = sqs("      queueName: events.fifo\n");
    let b = SqsBuilder::new(&c.unwrap());
    let ev = compat_example();
    let key = ev.idempotency_key();
    let entry = b.encode(&Delivery::from_event(ev, AckRef::detached())).unwrap();
    assert_eq!(entry.group_id.as_deref(), Some("Pod/shop/web-6d4cf56db6-x2x9q"));
    assert_eq!(entry.dedup_id.as_deref(), Some(key.as_str()));
    // a standard queue gets neither
    let (c, _) = sqs("      queueName: events\n");
    let b = SqsBuilder::new(&c.unwrap());
    let entry = b
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    assert_eq!((entry.group_id, entry.dedup_id), (None, None));
    // a group id longer than SQS takes is replaced by its digest
    let long = bounded_group_id("x".repeat(300));
    assert_eq!(long.len(), 64);
}

#[test]
fn a_message_over_256_kib_is_rejected_alone() {
    let (c, _) = sqs("      queueName: events\n");
    let mut ev = compat_example();
    ev.message = "x".repeat(MAX_BYTES);
    let err = SqsBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("SQS takes at most 262144"), "{err}");
}
