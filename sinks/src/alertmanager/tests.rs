
use std::sync::Arc;


use chrono::{TimeZone, Utc};
use herald_config::{Diagnostics, SourceFile};
use herald_proto::Event;
use herald_rules::{RuleMatch, RuleType};
use serde_json::{Value, json};

use super::*;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};

fn decode(block: &str) -> Result<AlertmanagerConfig, String> {
    let yaml = format!("- name: am\n  alertmanager:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = crate::parse_receivers(&node, &mut diags);
    if diags.has_errors() {
        return Err(diags.render(&source));
    }
    Ok(receivers[0]
        .sink
        .downcast_ref::<AlertmanagerConfig>()
        .expect("an alertmanager receiver")
        .clone())
}

fn event() -> Event {
    let mut ev = Event {
        reason: "BackOff".into(),
        message: "Back-off restarting failed container".into(),
        event_type: "Warning".into(),
        count: 5,
        first_timestamp: Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()),
        last_timestamp: Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 7, 0).unwrap()),
        ..Event::default()
    };
    ev.metadata.uid = "u1".into();
    ev.involved_object.kind = "Pod".into();
    ev.involved_object.name = "web-1".into();
    ev.involved_object.namespace = "shop".into();
    ev.involved_object.field_path = "spec.containers{api}".into();
    ev
}

#[test]
fn events_without_an_alert_rule_become_alerts_named_after_their_reason() {
    let config = decode("    url: http://127.0.0.1:9093\n    username: admin\n    password: Pa55w0rd\n").unwrap();
    let builder = AlertmanagerBuilder::new("am", &config);
    let mut ev = event();
    ev.first_timestamp = None;
    ev.last_timestamp = None;
    ev.observed_at = Some(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap());
    let d = Delivery::from_event(ev.clone(), AckRef::detached());
    let req = builder.request_for(&[&d]).unwrap();
    assert_eq!(req.len(), 1);
    let alert: Value = serde_json::from_slice(&req[0].body).unwrap();
    assert_eq!(
        alert,
        json!([{
            "labels": {"alertname": "BackOff", "alerttype": "event", "pod": "web-1",
                       "namespace": "shop", "container": "api"},
            "annotations": {"message": "Back-off restarting failed container"},
            "startsAt": "2026-12-01T09:00:00.000Z",
            "endsAt": "2026-12-01T09:05:00.000Z"
        }])
    );
    // basic auth, never shown in previews
    assert_eq!(
        req[0].headers.get("authorization").unwrap(),
        "Basic YWRtaW46UGE1NXcwcmQ="
    );
    let preview = builder.describe(&req);
    assert!(!preview.contains("YWRtaW46UGE1NXcwcmQ="), "{preview}");
    // a notification rule names the alert after the rule
    let notification = Arc::new(RuleMatch {
        rule: "PodEvents".into(),
        rule_type: RuleType::Notification,
        ..RuleMatch::default()
    });
    let d = Delivery::from_event(ev, AckRef::detached()).with_rule(Some(notification));
    let req = builder.request_for(&[&d]).unwrap();
    let alert: Value = serde_json::from_slice(&req[0].body).unwrap();
    assert_eq!(alert[0]["labels"]["alertname"], "PodEvents");
}

#[test]
fn bad_blocks_are_errors_with_hints_and_secrets_are_not_echoed() {
    let cases = [
        ("    resolveTimeout: 5m\n", "alertmanager needs a `url` (or `urls`)"),
        ("    url: ftp://am:9093\n", "unsupported alertmanager URL `ftp://am:9093/`"),
        ("    url: \"am:9093\"\n", "unsupported alertmanager URL"),
        ("    url: http://am:9093\n    resolveTimeout: 0s\n", "`resolveTimeout` must be more than 0"),
        ("    url: http://am:9093\n    username: u\n", "`username` is set but `password` is not"),
        ("    url: http://am:9093\n    password: Pa55w0rd\n", "`password` is set but `username` is not"),
        (
            "    url: http://am:9093\n    username: u\n    password: Pa55w0rd\n    bearerToken: t0k3n\n",
            "set either `username`/`password` or `bearerToken`, not both",
        ),
        ("    url: http://am:9093\n    generatorURL: '{{ .Nope '\n", "invalid generatorURL template"),
    ];
    for (block, want) in cases {
        let err = decode(block).expect_err(block);
        assert!(err.contains(want), "{block}\n{err}");
        assert!(!err.contains("Pa55w0rd") && !err.contains("t0k3n"), "{err}");
    }
    let ok = decode("    url: http://user:Pa55w0rd@am:9093/api/v2/alerts/\n").unwrap();
    assert_eq!(ok.urls[0].path(), "/api/v2/alerts");
    assert_eq!(ok.resolve_timeout, DEFAULT_RESOLVE_TIMEOUT);
    assert!(!format!("{ok:?}").contains("Pa55w0rd"));
}
