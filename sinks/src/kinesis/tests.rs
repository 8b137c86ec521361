//! `kinesis` config and encoding. Sending (against a fake answering like
//! Kinesis, and into moto's streams) is tested in `sinks/tests/aws/kinesis.rs`.

use super::*;
use crate::aws::testing::load;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::model::tests::compat_example;

fn kinesis(block: &str) -> (Option<KinesisConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: k\n    kinesis:\n{block}"))
}

#[test]
fn the_kee_readme_examples_load_unchanged() {
    let (c, diags) = load::<KinesisConfig>(
        "receivers:\n  - name: \"kinesis\"\n    kinesis:\n      streamName: \"events-pipeline\"\n      region: us-west-2\n      layout: # Optional\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.stream_name, "events-pipeline");
    assert_eq!(c.aws.region.as_deref(), Some("us-west-2"));
    assert!(c.layout.is_none() && c.partition_key.is_none());
    // the "customizing payload" example
    let (c, diags) = load::<KinesisConfig>(
        r#"receivers:
  - name: pipe
    kinesis:
      region: us-west-2
      streamName: event-pipeline
      layout:
        region: "us-west-2"
        eventType: "kubernetes-event"
        createdAt: "{{ .GetTimestampMs }}"
        details:
          message: "{{ .Message }}"
          reason: "{{ .Reason }}"
          type: "{{ .Type }}"
          count: "{{ .Count }}"
          kind: "{{ .InvolvedObject.Kind }}"
          name: "{{ .InvolvedObject.Name }}"
          namespace: "{{ .Namespace }}"
          component: "{{ .Source.Component }}"
          host: "{{ .Source.Host }}"
          labels: "{{ toJson .InvolvedObject.Labels}}"
"#,
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let b = KinesisBuilder::new(&c.unwrap());
    let r = b
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    let data: serde_json::Value = serde_json::from_slice(&r.data).unwrap();
    assert_eq!(data["details"]["kind"], "Pod");
    assert_eq!(data["details"]["labels"], r#"{"app":"web","pod-template-hash":"6d4cf56db6"}"#);
    // the partition key is the Event's uid, as kubernetes-event-exporter sent it
    assert_eq!(r.partition_key, "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11");
}

#[test]
fn bad_blocks_are_reported_at_their_line() {
    let (c, diags) = kinesis("      region: us-west-2\n");
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert!(e.message.contains("needs a `streamName`"), "{diags}");
    let (c, diags) = kinesis(
        "      streamName: arn:aws:kinesis:us-east-1:123456789012:stream/events\n",
    );
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert_eq!(e.location.unwrap().line, 4);
    assert!(e.hint.as_deref().unwrap().contains("streamName: events"), "{diags}");
    let (c, diags) = kinesis("      streamName: s\n      partitionKey: \"{{ .Reason \"\n");
    assert!(c.is_none());
    assert_eq!(diags.errors().next().unwrap().location.unwrap().line, 5);
}

#[test]
fn partition_keys_and_record_sizes_are_checked() {
    let (c, _) = kinesis("      streamName: s\n      partitionKey: \"{{ .InvolvedObject.Namespace }}\"\n");
    let b = KinesisBuilder::new(&c.unwrap());
    let r = b
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    assert_eq!(r.partition_key, "shop");
    // an empty key (a cluster-scoped object) cannot be sent
    let mut ev = compat_example();
    ev.involved_object.namespace.clear();
    let err = b
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("partition key has 0 characters"), "{err}");
    // a record over 1 MiB is refused alone
    let (c, _) = kinesis("      streamName: s\n");
    let b = KinesisBuilder::new(&c.unwrap());
    let mut ev = compat_example();
    ev.message = "x".repeat(MAX_RECORD_BYTES);
    let err = b
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("Kinesis takes at most 1048576"), "{err}");
}
