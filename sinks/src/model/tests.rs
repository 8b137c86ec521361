//! Tests of the event model: KEE JSON, template data, deDot.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use herald_proto::{Event, EventSeries, ObjectReference, OwnerReference};
use herald_template::{Template, Value, to_go_json};

use super::value::{timestamp_iso8601, timestamp_ms};
use super::*;

/// A BackOff event of a Deployment's pod with its involved object looked up: the
/// example kubernetes-event-exporter users see in its default JSON (no layout).
pub(crate) fn compat_example() -> Event {
    let t = Utc.with_ymd_and_hms(2024, 5, 14, 10, 0, 3).unwrap();
    let mut ev = Event {
        offset: 17,
        occurrence: 1,
        cluster_name: "prod-eu".into(),
        reason: "BackOff".into(),
        message: "Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)".into(),
        first_timestamp: Some(t),
        last_timestamp: Some(t),
        count: 1,
        event_type: "Warning".into(),
        reporting_component: "kubelet".into(),
        reporting_instance: "node-a".into(),
        ..Default::default()
    };
    ev.metadata.name = "web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e".into();
    ev.metadata.namespace = "shop".into();
    ev.metadata.uid = "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11".into();
    ev.metadata.resource_version = "918273".into();
    ev.metadata.creation_timestamp = Some(t);
    ev.source.component = "kubelet".into();
    ev.source.host = "node-a".into();
    let io = &mut ev.involved_object;
    io.kind = "Pod".into();
    io.namespace = "shop".into();
    io.name = "web-6d4cf56db6-x2x9q".into();
    io.uid = "5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77".into();
    io.api_version = "v1".into();
    io.resource_version = "918100".into();
    io.field_path = "spec.containers{web}".into();
    io.labels.insert("app".into(), "web".into());
    io.labels
        .insert("pod-template-hash".into(), "6d4cf56db6".into());
    io.owner_references.push(OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web-6d4cf56db6".into(),
        uid: "9a0b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    ev
}

const COMPAT_EXAMPLE_JSON: &str = concat!(
    r#"{"metadata":{"name":"web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e","namespace":"shop","uid":"0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11","resourceVersion":"918273","creationTimestamp":"2024-05-14T10:00:03Z"},"#,
    r#""reason":"BackOff","message":"Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)","#,
    r#""source":{"component":"kubelet","host":"node-a"},"firstTimestamp":"2024-05-14T10:00:03Z","lastTimestamp":"2024-05-14T10:00:03Z","#,
    r#""count":1,"type":"Warning","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"node-a","clusterName":"prod-eu","#,
    r#""involvedObject":{"kind":"Pod","namespace":"shop","name":"web-6d4cf56db6-x2x9q","uid":"5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77","apiVersion":"v1","resourceVersion":"918100","fieldPath":"spec.containers{web}","#,
    r#""labels":{"app":"web","pod-template-hash":"6d4cf56db6"},"#,
    r#""ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-6d4cf56db6","uid":"9a0b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d","controller":true,"blockOwnerDeletion":true}],"#,
    r#""deleted":false}}"#
);

fn json(ev: &Event, dedot: bool) -> String {
    let mut out = Vec::new();
    kee_json(ev, dedot, &mut out);
    String::from_utf8(out).unwrap()
}

fn render(src: &str, ev: &Event) -> String {
    Template::parse("t", src)
        .unwrap()
        .render(&event_value(ev))
        .unwrap()
}

#[test]
fn kee_json_matches_the_compat_example_byte_for_byte() {
    assert_eq!(json(&compat_example(), false), COMPAT_EXAMPLE_JSON);
}

#[test]
fn kee_json_of_an_empty_event_keeps_the_always_present_fields() {
    assert_eq!(
        json(&Event::default(), false),
        concat!(
            r#"{"metadata":{"creationTimestamp":null},"source":{},"firstTimestamp":null,"lastTimestamp":null,"#,
            r#""eventTime":null,"reportingComponent":"","reportingInstance":"","clusterName":"","involvedObject":{"deleted":false}}"#
        )
    );
}

#[test]
fn kee_json_writes_series_related_micro_times_and_escapes_html() {
    let mut ev = Event {
        message: "<b>&</b>".into(),
        event_time: Some(Utc.timestamp_opt(1_715_680_803, 123_456_789).unwrap()),
        series: Some(EventSeries {
            count: 4,
            last_observed_time: Some(Utc.timestamp_opt(1_715_680_810, 5_000).unwrap()),
        }),
        action: "Binding".into(),
        related: Some(ObjectReference {
            kind: "Node".into(),
            name: "n1".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    ev.metadata.generation = 2;
    ev.metadata.finalizers = vec!["a".into()];
    ev.metadata.deletion_grace_period_seconds = Some(0);
    let out = json(&ev, false);
    assert!(
        out.contains(r#""message":"\u003cb\u003e\u0026\u003c/b\u003e""#),
        "{out}"
    );
    assert!(
        out.contains(r#""eventTime":"2024-05-14T10:00:03.123456Z""#),
        "{out}"
    );
    assert!(out.contains(r#""series":{"count":4,"lastObservedTime":"2024-05-14T10:00:10.000005Z"},"action":"Binding","related":{"kind":"Node","name":"n1"},"reportingComponent""#), "{out}");
    assert!(out.contains(r#""generation":2,"creationTimestamp":null,"deletionGracePeriodSeconds":0,"finalizers":["a"]"#), "{out}");
}

#[test]
fn kee_json_dedots_keys_and_resorts_them() {
    let mut ev = Event::default();
    ev.metadata.labels.insert("a.b".into(), "x.y".into());
    ev.metadata.labels.insert("a0".into(), "z".into());
    ev.involved_object
        .annotations
        .insert("kubernetes.io/psp".into(), "v".into());
    let out = json(&ev, true);
    // '.' sorts before '0' but '_' after it.
    assert!(out.contains(r#""labels":{"a0":"z","a_b":"x.y"}"#), "{out}");
    assert!(
        out.contains(r#""annotations":{"kubernetes_io/psp":"v"}"#),
        "{out}"
    );
    assert!(json(&ev, false).contains(r#""labels":{"a.b":"x.y","a0":"z"}"#));
}

#[test]
fn kee_json_equals_go_json_of_the_template_value() {
    let ev = compat_example();
    assert_eq!(to_go_json(&event_value(&ev), true), COMPAT_EXAMPLE_JSON);
    assert_eq!(
        to_go_json(&event_value(&Event::default()), true),
        json(&Event::default(), false)
    );
}

#[test]
fn timestamp_methods_follow_kee_with_utc() {
    let t = Utc.timestamp_opt(1_715_680_803, 987_654_321).unwrap();
    assert_eq!(timestamp_ms(Some(t)), 1_715_680_803_987);
    assert_eq!(timestamp_iso8601(Some(t)), "2024-05-14T10:00:03.987Z");
    // Go's zero time overflows UnixNano; KEE prints this number.
    assert_eq!(timestamp_ms(None), -6_795_364_578_871);
    assert_eq!(timestamp_iso8601(None), "0001-01-01T00:00:00.000Z");
}

#[test]
fn value_structure_embeds_event_and_object_meta() {
    let v = event_value(&compat_example());
    let Value::Struct(enhanced) = &v else {
        panic!("not a struct")
    };
    assert_eq!(enhanced.type_name(), "*kube.EnhancedEvent");
    assert_eq!(
        enhanced.get("ClusterName").and_then(Value::as_str),
        Some("prod-eu")
    );
    let Some(Value::Struct(event)) = enhanced.get("Event") else {
        panic!("no embedded Event")
    };
    let Some(Value::Struct(meta)) = event.get("ObjectMeta") else {
        panic!("no embedded ObjectMeta")
    };
    assert_eq!(
        meta.get("Name").and_then(Value::as_str),
        Some("web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e")
    );
    assert_eq!(
        meta.get("GetUID").and_then(Value::as_str),
        Some("0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11")
    );
    assert!(matches!(
        enhanced.get("GetTimestampMs"),
        Some(Value::Int(1_715_680_803_000))
    ));
    assert_eq!(
        enhanced.get("IdempotencyKey").and_then(Value::as_str),
        Some("0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11-1")
    );
    assert!(matches!(enhanced.get("Offset"), Some(Value::Uint(17))));
    assert!(event.get("Series").is_some_and(Value::is_nil));
}

#[test]
fn templates_resolve_go_field_names_promoted_fields_and_methods() {
    let mut ev = compat_example();
    ev.involved_object
        .namespace_labels
        .insert("team".into(), "payments".into());
    let cases = [
        (
            "{{ .Name }}/{{ .Namespace }}",
            "web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e/shop",
        ),
        (
            "{{ .InvolvedObject.Name }} {{ .Reason | upper }}",
            "web-6d4cf56db6-x2x9q BACKOFF",
        ),
        ("{{ .InvolvedObject.Labels.app }}", "web"),
        ("{{ .InvolvedObject.Labels.owner }}", "<no value>"),
        (
            "{{ .Source.Component }}@{{ .Source.Host }}",
            "kubelet@node-a",
        ),
        (
            "{{ .Count }} {{ .Type }} {{ .ClusterName }}",
            "1 Warning prod-eu",
        ),
        (
            "{{ .ReportingController }}/{{ .ReportingInstance }}",
            "kubelet/node-a",
        ),
        ("{{ .GetTimestampMs }}", "1715680803000"),
        ("{{ .GetTimestampISO8601 }}", "2024-05-14T10:00:03.000Z"),
        (
            "{{ .GetName }} {{ .GetNamespace }}",
            "web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e shop",
        ),
        ("{{ .FirstTimestamp }}", "2024-05-14 10:00:03 +0000 UTC"),
        ("{{ .LastTimestamp.Unix }}", "1715680803"),
        ("{{ .FirstTimestamp.Format \"2006-01-02\" }}", "2024-05-14"),
        (
            "{{ (index .InvolvedObject.OwnerReferences 0).Kind }}",
            "ReplicaSet",
        ),
        ("{{ .InvolvedObject.Deleted }}", "false"),
        (
            "{{ .IdempotencyKey }} {{ .Offset }} {{ .Occurrence }}",
            "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11-1 17 1",
        ),
        ("{{ .InvolvedObject.NamespaceLabels.team }}", "payments"),
        ("{{ .Kind }}|{{ .Action }}|{{ .Series }}", "||<nil>"),
        ("{{ .EventTime }}", "0001-01-01 00:00:00 +0000 UTC"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, &ev), want, "template {src}");
    }
}

#[test]
fn extras_are_not_serialised_by_to_json() {
    let ev = compat_example();
    let out = render("{{ toJson . }}", &ev);
    assert_eq!(out, COMPAT_EXAMPLE_JSON);
    assert!(!out.contains("IdempotencyKey"));
}

#[test]
fn zero_timestamps_give_gos_overflow_value() {
    let ev = Event::default();
    assert_eq!(render("{{ .GetTimestampMs }}", &ev), "-6795364578871");
}

#[test]
fn the_value_is_shared_cheaply() {
    let v = event_value(&compat_example());
    let Value::Struct(s) = &v else { panic!() };
    let before = Arc::strong_count(s);
    let copy = v.clone();
    assert_eq!(Arc::strong_count(s), before + 1);
    drop(copy);
}
