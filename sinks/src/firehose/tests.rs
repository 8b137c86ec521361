//! `firehose` config and encoding. Sending (against a fake answering like
//! Firehose, and through moto into S3) is tested in
//! `sinks/tests/aws/firehose.rs`.

use super::*;
use crate::aws::testing::load;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::model::tests::compat_example;

fn firehose(block: &str) -> (Option<FirehoseConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: f\n    firehose:\n{block}"))
}

#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load::<FirehoseConfig>(
        "receivers:\n  - name: \"firehose\"\n    firehose:\n      deliveryStreamName: \"events-pipeline\"\n      region: us-west-2\n      layout: # Optional\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.delivery_stream_name, "events-pipeline");
    assert!(!c.newline && !c.de_dot);
    // records are written back to back, as kubernetes-event-exporter did
    let r = FirehoseBuilder::new(&c)
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    assert_eq!(r.last(), Some(&b'}'));
}

#[test]
fn newline_ends_every_record_and_dedot_applies() {
    let (c, diags) = firehose("      deliveryStreamName: s\n      newline: true\n      deDot: true\n");
    assert!(!diags.has_errors(), "{diags}");
    let mut ev = compat_example();
    ev.involved_object.labels.insert("app.kubernetes.io/name".into(), "web".into());
    let r = FirehoseBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap();
    assert_eq!(r.last(), Some(&b'\n'));
    let v: serde_json::Value = serde_json::from_slice(&r).unwrap();
    assert_eq!(v["involvedObject"]["labels"]["app_kubernetes_io/name"], "web");
}

#[test]
fn bad_blocks_are_reported_at_their_line() {
    let (c, diags) = firehose("      region: us-west-2\n");
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("needs a `deliveryStreamName`"), "{diags}");
    let (c, diags) = firehose(
        "      deliveryStreamName: arn:aws:firehose:us-east-1:123456789012:deliverystream/logs\n",
    );
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert_eq!(e.location.unwrap().line, 4);
    assert!(e.hint.as_deref().unwrap().contains("deliveryStreamName: logs"), "{diags}");
    let (c, diags) = firehose("      deliveryStreamName: s\n      newline: sometimes\n");
    assert!(c.is_none());
    assert_eq!(diags.errors().next().unwrap().location.unwrap().line, 5, "{diags}");
}

#[test]
fn a_record_over_1000_kib_is_rejected_alone() {
    let (c, _) = firehose("      deliveryStreamName: s\n");
    let mut ev = compat_example();
    ev.message = "x".repeat(MAX_RECORD_BYTES);
    let err = FirehoseBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("Firehose takes at most 1024000"), "{err}");
}
