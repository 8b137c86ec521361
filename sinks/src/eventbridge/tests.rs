//! `eventbridge` config and encoding. Sending (against a fake answering like
//! EventBridge, and through a moto rule into SQS) is tested in
//! `sinks/tests/aws/eventbridge.rs`.

use super::*;
use crate::aws::testing::load;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::model::tests::compat_example;

fn eventbridge(block: &str) -> (Option<EventBridgeConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: e\n    eventbridge:\n{block}"))
}

#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load::<EventBridgeConfig>(
        r#"receivers:
 - name: "eventbridge"
   eventbridge:
     detailType: "deployment"
     source: "cd"
     eventBusName: "default"
     region: "ap-southeast-1"
     details:
       message: "{{ .Message }}"
       namespace: "{{ .Namespace }}"
       reason: "{{ .Reason }}"
       object: "{{ .Namespace }}"

"#,
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.event_bus_name.as_deref(), Some("default"));
    assert_eq!(c.aws.region.as_deref(), Some("ap-southeast-1"));
    let ev = compat_example();
    let at = ev.last_seen().unwrap();
    let e = EventBridgeBuilder::new(&c)
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap();
    assert_eq!((e.source.as_str(), e.detail_type.as_str()), ("cd", "deployment"));
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
    assert_eq!(detail["reason"], "BackOff");
    assert_eq!(detail["object"], "shop");
    // the Event's time, not the time of sending
    assert_eq!(e.time, at);
}

#[test]
fn without_details_the_event_json_is_the_detail() {
    let (c, diags) = eventbridge("      source: \"k8s.{{ .Namespace }}\"\n      detailType: event\n");
    assert!(!diags.has_errors(), "{diags}");
    let e = EventBridgeBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    assert_eq!(e.source, "k8s.shop");
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
    assert_eq!(detail["involvedObject"]["name"], "web-6d4cf56db6-x2x9q");
}

#[test]
fn bad_blocks_are_reported_at_their_line() {
    let (c, diags) = eventbridge("      detailType: x\n");
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert!(e.message.contains("needs `source`"), "{diags}");
    let (c, diags) = eventbridge(
        "      detailType: x\n      source: y\n      details:\n        message: \"{{ .Message \"\n",
    );
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert_eq!(e.location.unwrap().line, 7, "{diags}");
    let (c, diags) = eventbridge("      detailType: x\n      source: y\n      details: text\n");
    assert!(c.is_none());
    assert_eq!(diags.errors().next().unwrap().location.unwrap().line, 6, "{diags}");
}

#[test]
fn an_entry_over_256_kib_is_rejected_alone() {
    let (c, _) = eventbridge("      source: s\n      detailType: t\n");
    let mut ev = compat_example();
    ev.message = "x".repeat(MAX_BYTES);
    let err = EventBridgeBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(ev, AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("EventBridge takes at most 262144"), "{err}");
}
