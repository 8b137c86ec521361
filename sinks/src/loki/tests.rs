//! `loki` config, stream labels and encoding. Pushes against a fake Loki,
//! through the delivery driver, are in `sinks/tests/loki.rs`.

use super::labels::{LabelTemplate, LabelValue, prometheus_text, render_labels, unbounded_fields};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::registry::SinkType as _;
use crate::model::tests::compat_example;

fn load(yaml: &str) -> (Option<LokiConfig>, herald_config::Diagnostics) {
    let (r, diags) = parse(yaml);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<LokiConfig>())
        .cloned();
    (c, diags)
}

fn loki(tail: &str) -> (Option<LokiConfig>, herald_config::Diagnostics) {
    load(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: http://loki:3100\n{tail}"
    ))
}

/// kubernetes-event-exporter's README example loads unchanged.
#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load(
        "receivers:\n  - name: \"loki\"\n    loki:\n      streamLabels:\n        foo: bar\n      url: http://127.0.0.1:3100/loki/api/v1/push\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.url.as_str(), "http://127.0.0.1:3100/loki/api/v1/push");
    assert_eq!(c.stream_labels.len(), 1);
    assert_eq!(c.format, LokiFormat::Json);
    assert_eq!(c.timestamp, TimestampSource::Event);
}

#[test]
fn the_example_file_loads() {
    let (c, diags) = load(include_str!("../../examples/loki.yaml"));
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.format, LokiFormat::Protobuf);
    assert_eq!(c.tenant.as_deref(), Some("platform"));
}

#[test]
fn the_push_path_is_added_when_missing() {
    for (written, used) in [
        ("http://loki:3100", "http://loki:3100/loki/api/v1/push"),
        ("http://loki:3100/", "http://loki:3100/loki/api/v1/push"),
        ("https://gw.example.com/tenant-a/", "https://gw.example.com/tenant-a/loki/api/v1/push"),
        ("http://loki:3100/loki/api/v1/push", "http://loki:3100/loki/api/v1/push"),
        ("http://loki:3100/api/prom/push", "http://loki:3100/api/prom/push"),
    ] {
        let (c, diags) = load(&format!(
            "receivers:\n  - name: loki\n    loki:\n      url: \"{written}\"\n"
        ));
        assert!(!diags.has_errors(), "{diags}");
        assert_eq!(c.unwrap().url.as_str(), used);
    }
}

#[test]
fn without_stream_labels_the_default_is_bounded() {
    let (c, _) = loki("");
    let names: Vec<_> = c.unwrap().stream_labels.iter().map(|l| l.name.clone()).collect();
    assert_eq!(names, ["job", "namespace", "reason"]);
    let labels = render_labels(&labels::default_labels(), &compat_example(), None).unwrap();
    assert_eq!(
        prometheus_text(&labels),
        r#"{job="herald", namespace="shop", reason="BackOff"}"#
    );
    // an empty namespace (a cluster-scoped object) is left out
    let mut ev = compat_example();
    ev.metadata.namespace.clear();
    let labels = render_labels(&labels::default_labels(), &ev, None).unwrap();
    assert_eq!(prometheus_text(&labels), r#"{job="herald", reason="BackOff"}"#);
}

#[test]
fn a_bad_url_is_an_error_with_location_and_hint() {
    for url in ["not a url", "ftp://loki:3100", "loki:3100"] {
        let (c, diags) = load(&format!(
            "receivers:\n  - name: loki\n    loki:\n      url: \"{url}\"\n"
        ));
        assert!(c.is_none());
        let text = diags.to_string();
        assert!(text.contains("config.yaml:4:"), "{text}");
        assert!(text.contains("loki URL"), "{text}");
        assert!(text.contains("http://"), "hint: {text}");
    }
    let (c, diags) = load("receivers:\n  - name: loki\n    loki:\n      streamLabels: {a: b}\n");
    assert!(c.is_none());
    assert!(diags.to_string().contains("loki needs a `url`"), "{diags}");
}

#[test]
fn a_bad_label_name_is_an_error() {
    let (c, diags) = loki("      streamLabels:\n        app.kubernetes.io/name: x\n");
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:6:9"), "{text}");
    assert!(text.contains("invalid Loki label name `app.kubernetes.io/name`"), "{text}");
    assert!(text.contains("use `_` for `-` or `.`"), "{text}");
}

#[test]
fn a_label_template_that_does_not_parse_is_an_error() {
    let (c, diags) = loki("      streamLabels:\n        kind: \"{{ .InvolvedObject.Kind \"\n");
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:6:"), "{text}");
    assert!(text.contains("invalid label template"), "{text}");
}

#[test]
fn unbounded_labels_are_warned_about_with_their_location() {
    let (c, diags) = loki(
        "      streamLabels:\n        kind: \"{{ .InvolvedObject.Kind }}\"\n        pod: \"{{ .InvolvedObject.Name }}\"\n        msg: \"{{ .Message | trunc 10 }}\"\n",
    );
    assert!(c.is_some(), "{diags}");
    assert_eq!(diags.warning_count(), 2, "{diags}");
    let text = diags.to_string();
    assert!(text.contains("config.yaml:8:"), "{text}");
    assert!(text.contains("label `pod` uses `.InvolvedObject.Name`"), "{text}");
    assert!(text.contains("label `msg` uses `.Message`"), "{text}");
    assert!(!text.contains("label `kind`"), "{text}");
}

#[test]
fn unbounded_fields_are_found_in_actions_only() {
    assert_eq!(unbounded_fields("{{ .InvolvedObject.Kind }}"), Vec::<String>::new());
    assert_eq!(unbounded_fields("{{ .UID }}-{{ .Name }}"), ["UID", "Name"]);
    assert_eq!(unbounded_fields("{{ $.InvolvedObject.UID }}"), ["InvolvedObject.UID"]);
    assert_eq!(unbounded_fields(".Name {{ \".Name\" }}"), Vec::<String>::new());
    assert_eq!(unbounded_fields("{{ .GetTimestampMs }}"), ["GetTimestampMs"]);
    assert_eq!(unbounded_fields("{{ .InvolvedObject.Namespace }}"), Vec::<String>::new());
    assert_eq!(unbounded_fields("{{ .InvolvedObject.Labels.app }}"), Vec::<String>::new());
}

#[test]
fn format_timestamp_and_auth_are_checked() {
    let (c, diags) = loki("      format: xml\n");
    assert!(c.is_none());
    assert!(diags.to_string().contains("unknown loki format `xml`"), "{diags}");
    let (c, diags) = loki("      timestamp: later\n");
    assert!(c.is_none());
    assert!(diags.to_string().contains("unknown loki timestamp source"), "{diags}");
    let (c, diags) = loki("      username: u\n");
    assert!(c.is_none());
    assert!(diags.to_string().contains("`password` is not"), "{diags}");
    let (c, diags) = loki("      password: p4ss\n");
    assert!(c.is_none());
    assert!(diags.to_string().contains("config.yaml:5:7"), "{diags}");
    let (c, diags) = loki("      username: u\n      password: p4ss\n      bearerToken: t0k\n");
    assert!(c.is_none());
    let text = diags.to_string();
    assert!(text.contains("config.yaml:7:7"), "{text}");
    assert!(text.contains("not both"), "{text}");
    assert!(!text.contains("p4ss") && !text.contains("t0k"), "{text}");
    let (c, _) = loki("      password: p4ss\n      username: u\n");
    assert!(!format!("{:?}", c.unwrap()).contains("p4ss"));
}

#[test]
fn label_values_are_rendered_and_checked() {
    let (c, diags) = loki(
        "      streamLabels:\n        kind: \"{{ .InvolvedObject.Kind }}\"\n        owner: \"{{ .InvolvedObject.Labels.missing }}\"\n        bad: \"{{ .NoSuchField }}\"\n",
    );
    let c = c.unwrap_or_else(|| panic!("{diags}"));
    let b = c.request_builder("loki");
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    // an unknown field fails the event, as KEE's template errors did
    let e = b.encode(&d).unwrap_err();
    assert!(e.to_string().contains("stream label `bad`"), "{e}");

    let long = LabelTemplate {
        name: "x".into(),
        value: LabelValue::Static("y".repeat(labels::MAX_LABEL_VALUE_BYTES + 1)),
    };
    assert!(render_labels(&[long], &compat_example(), None).is_err());
    let empty = LabelTemplate {
        name: "x".into(),
        value: LabelValue::Static(String::new()),
    };
    assert!(render_labels(&[empty], &compat_example(), None).is_err());
}

#[test]
fn prometheus_text_escapes_like_go() {
    let labels = vec![
        ("a".to_owned(), "x\"y\\z\nw".to_owned()),
        ("b".to_owned(), "ü".to_owned()),
    ];
    assert_eq!(prometheus_text(&labels), r#"{a="x\"y\\z\nw", b="ü"}"#);
}

#[test]
fn a_layout_is_the_line() {
    let (c, _) = loki("      layout:\n        msg: \"{{ .Message }}\"\n        kind: \"{{ .InvolvedObject.Kind }}\"\n");
    let b = c.unwrap().request_builder("loki");
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let r = b.request_for(&[&d]).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let line = body["streams"][0]["values"][0][1].as_str().unwrap();
    assert!(line.starts_with(r#"{"kind":"Pod","msg":"Back-off"#), "{line}");
    // lastTimestamp 2024-05-14T10:00:03Z
    assert_eq!(body["streams"][0]["values"][0][0], "1715680803000000000");
}

#[test]
fn the_entry_time_falls_back_to_event_time_then_observed() {
    let mut ev = compat_example();
    let t = ev.last_timestamp.unwrap();
    assert_eq!(sink::event_nanos(&ev), t.timestamp() * 1_000_000_000);
    ev.last_timestamp = None;
    ev.event_time = Some(t + chrono::Duration::microseconds(5));
    assert_eq!(sink::event_nanos(&ev), t.timestamp() * 1_000_000_000 + 5_000);
    ev.event_time = None;
    ev.observed_at = Some(t + chrono::Duration::seconds(2));
    assert_eq!(sink::event_nanos(&ev), (t.timestamp() + 2) * 1_000_000_000);
}

#[test]
fn an_empty_label_map_uses_the_default_and_too_many_labels_warn() {
    let (c, diags) = loki("      streamLabels: {}\n");
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(c.unwrap().stream_labels.len(), 3);
    let many: String = (0..16).map(|i| format!("        l{i}: v\n")).collect();
    let (c, diags) = loki(&format!("      streamLabels:\n{many}"));
    assert!(c.is_some());
    assert_eq!(diags.warning_count(), 1, "{diags}");
    assert!(diags.to_string().contains("16 stream labels"), "{diags}");
}

#[test]
fn batches_default_to_500_events_with_a_one_second_linger() {
    let b = LokiConfig::BATCH_DEFAULTS;
    assert_eq!(
        (b.max_events, b.max_bytes, b.linger),
        (500, 1 << 20, std::time::Duration::from_secs(1))
    );
}

#[test]
fn a_configured_header_replaces_herald_s_own() {
    let (c, diags) = loki(
        "      tenant: from-key\n      bearerToken: t0k3n\n      headers:\n        X-Scope-OrgID: from-header\n        Authorization: Basic abc\n        content-type: application/json; charset=utf-8\n",
    );
    let b = c.unwrap_or_else(|| panic!("{diags}")).request_builder("loki");
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let r = b.request_for(&[&d]).unwrap();
    let all = |n: &str| -> Vec<String> {
        r.headers
            .get_all(n)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(all("x-scope-orgid"), ["from-header"]);
    assert_eq!(all("authorization"), ["Basic abc"]);
    assert_eq!(all("content-type"), ["application/json; charset=utf-8"]);
    let shown = b.describe(&r);
    assert!(!shown.contains("Basic abc") && !shown.contains("t0k3n"), "{shown}");
}

/// `herald route`'s preview is the push Loki receives (credentials masked).
#[tokio::test]
async fn the_preview_is_the_push_loki_receives() {
    use crate::driver::{AckGroup, SinkMetrics, ack_channel};
    use crate::set::SinkSet;
    use herald_testkit::{FakeHttp, Reply};

    let fake = FakeHttp::with_replies([Reply::status(204)]).await;
    let (r, diags) = parse(&format!(
        "receivers:\n  - name: loki\n    loki:\n      url: \"{}\"\n      tenant: a\n      bearerToken: s3cr3t\n      streamLabels:\n        kind: \"{{{{ .InvolvedObject.Kind }}}}\"\n",
        fake.url()
    ));
    assert!(!diags.has_errors(), "{diags}");
    let preview = crate::preview(&r[0], &compat_example()).unwrap();
    let set = SinkSet::build(&r, &SinkMetrics::new()).await.unwrap();
    let (tx, mut rx) = ack_channel();
    let ack = AckGroup::new(1, 1, &tx).remove(0);
    set.deliver_to("loki", Delivery::from_event(compat_example(), ack))
        .await;
    assert_eq!(rx.recv().await.unwrap().delivered, 1);
    let got = fake.requests().remove(0);
    let (head, body) = preview.split_once("\n\n").unwrap();
    assert_eq!(
        head.lines().next().unwrap(),
        format!("POST {}/loki/api/v1/push", fake.url())
    );
    assert!(head.contains("Authorization: ***"), "{preview}");
    assert!(!preview.contains("s3cr3t"), "{preview}");
    assert_eq!(got.header_exact("Authorization"), ["Bearer s3cr3t"]);
    assert_eq!(body.as_bytes(), got.body.as_ref());
    assert!(
        set.close_and_drain(std::time::Duration::from_secs(5))
            .await
            .is_complete()
    );
}

#[test]
fn a_failing_header_template_sends_its_raw_text() {
    let (c, diags) = loki(
        "      headers:\n        X-Owner: \"{{ .NoSuchField }}\"\n        X-Kind: \"{{ .InvolvedObject.Kind }}\"\n",
    );
    let b = c.unwrap_or_else(|| panic!("{diags}")).request_builder("loki");
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let r = b.request_for(&[&d]).unwrap();
    assert_eq!(r.headers["x-owner"], "{{ .NoSuchField }}");
    assert_eq!(r.headers["x-kind"], "Pod");
}
