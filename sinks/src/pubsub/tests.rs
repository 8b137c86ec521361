//! `pubsub` config, message encoding and error classification. Publishing
//! to Google's Pub/Sub emulator, through the delivery driver, is in
//! `sinks/tests/pubsub.rs`.

use std::sync::Arc;

use google_cloud_gax::error::rpc::{Code, Status};
use google_cloud_pubsub::error::PublishError;

use super::sink::{Target, classify, summarise};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, ItemOutcome, RequestBuilder as _, SendOutcome};
use crate::model::tests::compat_example;

fn load(yaml: &str) -> (Option<PubsubConfig>, herald_config::Diagnostics) {
    let (r, diags) = parse(yaml);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<PubsubConfig>())
        .cloned();
    (c, diags)
}

fn pubsub(tail: &str) -> (Option<PubsubConfig>, herald_config::Diagnostics) {
    load(&format!(
        "receivers:\n  - name: ps\n    pubsub:\n      gcloud_project_id: proj\n      topic: kube-events\n{tail}"
    ))
}

fn encode(config: &PubsubConfig) -> PubsubItem {
    let builder = PubsubBuilder::new("ps", config);
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    builder.encode(&d).expect("encodes")
}

/// kubernetes-event-exporter's README example loads unchanged (`False`
/// capitalised, as written there).
#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load(
        "receivers:\n  - name: \"pubsub\"\n    pubsub:\n      gcloud_project_id: \"my-project\"\n      topic: \"kube-event\"\n      create_topic: False\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.topic_name(), "projects/my-project/topics/kube-event");
    assert!(!c.create_topic);
    assert!(c.layout.is_none() && c.attributes.is_empty() && c.ordering_key.is_none());
}

#[test]
fn without_layout_the_data_is_the_event_json_and_the_idempotency_key_is_an_attribute() {
    let (c, diags) = pubsub("");
    assert!(!diags.has_errors(), "{diags}");
    let item = encode(&c.unwrap());
    let mut json = Vec::new();
    crate::model::kee_json(&compat_example(), false, &mut json);
    assert_eq!(item.data.as_ref(), json.as_slice());
    assert_eq!(item.attributes.len(), 1);
    assert_eq!(
        item.attributes[IDEMPOTENCY_ATTRIBUTE],
        compat_example().idempotency_key()
    );
    assert_eq!(item.ordering_key, "");
}

#[test]
fn layout_attributes_and_ordering_key_are_rendered_per_event() {
    let (c, diags) = pubsub(
        "      layout:\n        reason: \"{{ .Reason }}\"\n      attributes:\n        namespace: \"{{ .Namespace }}\"\n        source: herald\n      ordering_key: \"{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}\"\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let item = encode(&c.unwrap());
    assert_eq!(item.data.as_ref(), br#"{"reason":"BackOff"}"#);
    let ev = compat_example();
    assert_eq!(item.attributes["namespace"], ev.metadata.namespace);
    assert_eq!(item.attributes["source"], "herald");
    assert_eq!(item.attributes[IDEMPOTENCY_ATTRIBUTE], ev.idempotency_key());
    assert_eq!(
        item.ordering_key,
        format!(
            "{}/{}",
            ev.involved_object.namespace, ev.involved_object.name
        )
    );
}

#[test]
fn the_preview_shows_topic_attributes_ordering_key_and_data() {
    let (c, _) = pubsub("      ordering_key: k\n");
    let c = c.unwrap();
    let builder = PubsubBuilder::new("ps", &c);
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let request = builder.request_for(&[&d]).unwrap();
    let text = builder.describe(&request);
    assert!(
        text.starts_with("PUBLISH projects/proj/topics/kube-events (1 message(s))\nmessage 1: attributes {\"herald-idempotency-key\":"),
        "{text}"
    );
    assert!(text.contains("ordering_key \"k\"\n{\""), "{text}");
}

#[test]
fn missing_project_and_topic_are_located_errors_with_hints() {
    let (c, diags) = load("receivers:\n  - name: ps\n    pubsub:\n      create_topic: true\n");
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:4:") && text.contains("gcloud_project_id"), "{text}");
    assert!(text.contains("needs a `topic`") && text.contains("hint:"), "{text}");
}

#[test]
fn an_empty_topic_is_reported_at_its_key() {
    let (c, diags) =
        load("receivers:\n  - name: ps\n    pubsub:\n      gcloud_project_id: p1\n      topic:\n");
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:5:7") && text.contains("receivers[0].pubsub.topic"), "{text}");
}

#[test]
fn invalid_topic_ids_are_refused_at_their_line() {
    for (topic, hint) in [
        ("kube events", "only contain letters"),
        ("ke", "3 to 255"),
        ("1events", "starts with a letter"),
        ("goog-events", "reserved"),
        ("projects/p/topics/t", "last part"),
    ] {
        let (c, diags) = load(&format!(
            "receivers:\n  - name: ps\n    pubsub:\n      gcloud_project_id: proj\n      topic: \"{topic}\"\n"
        ));
        assert!(c.is_none(), "{topic}");
        let text = diags.to_string();
        assert!(text.contains("config.yaml:5:"), "{topic}: {text}");
        assert!(text.contains(hint), "{topic}: {text}");
    }
}

#[test]
fn reserved_attribute_names_are_refused() {
    for name in ["googClient", IDEMPOTENCY_ATTRIBUTE] {
        let (c, diags) = pubsub(&format!("      attributes:\n        {name}: x\n"));
        assert!(c.is_none(), "{name}");
        assert!(diags.to_string().contains("config.yaml:7:"), "{diags}");
    }
}

#[test]
fn an_attribute_template_that_fails_rejects_only_that_event() {
    let (c, diags) = pubsub("      attributes:\n        x: \"{{ .NoSuchField }}\"\n");
    assert!(!diags.has_errors(), "{diags}");
    let builder = PubsubBuilder::new("ps", &c.unwrap());
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let err = builder.encode(&d).unwrap_err();
    assert!(err.to_string().contains("attribute `x`"), "{err}");
}

#[test]
fn the_emulator_variable_wins_and_gets_a_scheme() {
    assert_eq!(
        Target::choose(Some("127.0.0.1:8085"), Some("https://x")),
        Target::Emulator("http://127.0.0.1:8085".into())
    );
    assert_eq!(
        Target::choose(Some("  "), Some("https://x")),
        Target::Google(Some("https://x".into()))
    );
    assert_eq!(Target::choose(None, None), Target::Google(None));
}

fn rpc(code: Code, message: &str) -> PublishError {
    PublishError::Rpc(Arc::new(google_cloud_pubsub::Error::service(
        Status::default().set_code(code).set_message(message),
    )))
}

#[test]
fn invalid_messages_are_rejected_and_everything_else_retried() {
    assert_eq!(
        classify(&rpc(Code::InvalidArgument, "message too large")),
        ItemOutcome::rejected("INVALID_ARGUMENT: message too large")
    );
    for code in [
        Code::Unavailable,
        Code::ResourceExhausted,
        Code::PermissionDenied,
        Code::NotFound,
        Code::DeadlineExceeded,
    ] {
        assert!(
            matches!(classify(&rpc(code, "m")), ItemOutcome::Retry { .. }),
            "{code:?}"
        );
    }
    assert!(matches!(
        classify(&PublishError::OrderingKeyPaused),
        ItemOutcome::Retry { .. }
    ));
    assert_eq!(
        summarise(vec![ItemOutcome::Delivered, ItemOutcome::Delivered]),
        SendOutcome::Delivered
    );
    assert_eq!(
        summarise(vec![ItemOutcome::Delivered, ItemOutcome::retry("x")]),
        SendOutcome::partial(vec![ItemOutcome::Delivered, ItemOutcome::retry("x")])
    );
}

#[test]
fn a_batch_is_up_to_100_events_or_1_mib_after_50_ms() {
    use crate::registry::SinkType as _;
    let b = PubsubConfig::BATCH_DEFAULTS;
    assert_eq!((b.max_events, b.max_bytes), (100, 1024 * 1024));
    assert_eq!(b.linger, std::time::Duration::from_millis(50));
}
