//! `opsgenie` sink tests against the test kit's fake target standing in for
//! Opsgenie's alert API: exact requests, and Opsgenie's answers (202 with a
//! `requestId`, 401, 422, 429, 5xx).

use std::time::Duration;

use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, SendError, SendOutcome, Sink};
use crate::model::tests::compat_example;

/// kubernetes-event-exporter's README example.
const KEE_EXAMPLE: &str = r#"receivers:
  - name: "alerts"
    opsgenie:
      apiKey: xxx
      priority: "P3"
      message: "Event {{ .Reason }} for {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }} on K8s cluster"
      alias: "{{ .UID }}"
      description: "<pre>{{ toPrettyJson . }}</pre>"
      tags:
        - "event"
        - "{{ .Reason }}"
        - "{{ .InvolvedObject.Kind }}"
        - "{{ .InvolvedObject.Name }}"
"#;

fn accepted() -> Reply {
    Reply::status(202).json(&json!({
        "result": "Request will be processed",
        "took": 0.302,
        "requestId": "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"
    }))
}

fn opsgenie_config(yaml: &str) -> OpsgenieConfig {
    let (r, diags) = parse(yaml);
    assert!(!diags.has_errors(), "{diags}");
    r[0].sink
        .downcast_ref::<OpsgenieConfig>()
        .expect("not an opsgenie receiver")
        .clone()
}

/// A minimal receiver at the fake, with `tail` appended.
fn at(fake: &FakeHttp, tail: &str) -> OpsgenieConfig {
    opsgenie_config(&format!(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k3y-s3cr3t\n      apiURL: \"{}\"\n      message: \"{{{{ .Reason }}}} on {{{{ .InvolvedObject.Name }}}}\"\n{tail}",
        fake.url()
    ))
}

fn sink(config: &OpsgenieConfig) -> OpsgenieSink {
    OpsgenieSink::new("og", config, Duration::from_secs(5)).unwrap()
}

async fn send_event(sink: &OpsgenieSink, ev: herald_proto::Event) -> Result<SendOutcome, SendError> {
    let d = Delivery::from_event(ev, AckRef::detached());
    let request = sink.builder().request_for(&[&d]).unwrap();
    sink.send(&request).await
}

fn errors(yaml: &str) -> String {
    let (_, diags) = parse(yaml);
    assert!(diags.has_errors(), "expected errors for:\n{yaml}");
    diags.to_string()
}

#[tokio::test]
async fn the_kee_example_creates_an_alert_with_geniekey() {
    let fake = FakeHttp::with_replies([accepted()]).await;
    let yaml = KEE_EXAMPLE.replace(
        "      apiKey: xxx\n",
        &format!("      apiKey: xxx\n      apiURL: \"{}\"\n", fake.url()),
    );
    let config = opsgenie_config(&yaml);
    assert_eq!(send_event(&sink(&config), compat_example()).await.unwrap(), SendOutcome::Delivered);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v2/alerts");
    assert_eq!(r.header_exact("Authorization"), ["GenieKey xxx"]);
    assert_eq!(r.header_exact("Content-Type"), ["application/json"]);
    let body = r.json();
    assert_eq!(
        body["message"],
        "Event BackOff for shop/web-6d4cf56db6-x2x9q on K8s cluster"
    );
    assert_eq!(body["alias"], "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11");
    assert_eq!(body["tags"], json!(["event", "BackOff", "Pod", "web-6d4cf56db6-x2x9q"]));
    assert_eq!(body["priority"], "P3");
    let description = body["description"].as_str().unwrap();
    assert!(description.starts_with("<pre>{\n"), "{description}");
    assert!(description.contains("\"reason\": \"BackOff\""), "{description}");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["alias", "description", "message", "priority", "tags"]
    );
    assert!(r.text().starts_with(r#"{"message":"Event BackOff for"#), "{}", r.text());
}

#[test]
fn hosts_map_to_https_base_urls() {
    let base = |tail: &str| {
        let c = opsgenie_config(&format!(
            "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: m\n{tail}"
        ));
        OpsgenieBuilder::new("og", &c)
            .request_for(&[&Delivery::from_event(compat_example(), AckRef::detached())])
            .unwrap()[0]
            .url
            .to_string()
    };
    assert_eq!(base(""), "https://api.opsgenie.com/v2/alerts");
    assert_eq!(base("      URL: api.eu.opsgenie.com\n"), "https://api.eu.opsgenie.com/v2/alerts");
    assert_eq!(
        base("      URL: api.sandbox.opsgenie.com\n"),
        "https://api.sandbox.opsgenie.com/v2/alerts"
    );
    assert_eq!(
        base("      apiURL: https://proxy.example.com/og/\n"),
        "https://proxy.example.com/og/v2/alerts"
    );
}

#[test]
fn a_url_with_a_scheme_or_a_path_is_a_startup_error() {
    for (url, what) in [
        ("https://api.eu.opsgenie.com", "not a URL with a scheme"),
        ("api.eu.opsgenie.com/v2", "without a path"),
    ] {
        let text = errors(&format!(
            "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      URL: {url}\n      message: m\n"
        ));
        assert!(text.contains("config.yaml:5"), "{text}");
        assert!(text.contains(what), "{text}");
        assert!(text.contains("hint: write just the host"), "{text}");
    }
    let (_, diags) = parse(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      URL: api.opsgenie.co\n      message: m\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    assert!(diags.to_string().contains("not one of Opsgenie's API hosts"), "{diags}");
}

#[test]
fn missing_and_bad_settings_are_startup_errors() {
    let text = errors("receivers:\n  - name: og\n    opsgenie:\n      message: m\n");
    assert!(text.contains("needs an `apiKey`"), "{text}");
    let text = errors("receivers:\n  - name: og\n    opsgenie:\n      apiKey: k3y-s3cr3t\n");
    assert!(text.contains("needs a `message`"), "{text}");
    assert!(!text.contains("k3y-s3cr3t"), "{text}");
    let text = errors(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: m\n      priority: P9\n",
    );
    assert!(text.contains("unknown Opsgenie priority `P9`"), "{text}");
    let text = errors(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: m\n      closeWhen: \"{{ eq .Type \\\"Normal\\\" }}\"\n",
    );
    assert!(text.contains("`closeWhen` needs an `alias`"), "{text}");
    let text = errors(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: m\n      responders:\n        - {type: squad, name: a}\n        - {type: user, name: b}\n",
    );
    assert!(text.contains("unknown responder type `squad`"), "{text}");
    assert!(text.contains("a `user` responder needs exactly one of `id` and `username`"), "{text}");
    let text = errors(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: \"{{ .Reason \"\n",
    );
    assert!(text.contains("receivers[0].opsgenie.message") && text.contains("invalid template"), "{text}");
}

#[tokio::test]
async fn templated_priority_responders_and_details() {
    let fake = FakeHttp::start().await;
    let config = at(
        &fake,
        "      priority: \"{{ if eq .Type \\\"Warning\\\" }}P2{{ else }}P5{{ end }}\"\n      responders:\n        - {type: team, name: \"{{ .InvolvedObject.Labels.app }}-oncall\"}\n        - {type: user, username: \"{{ index .InvolvedObject.Labels \\\"owner\\\" }}\"}\n        - {type: schedule, id: 4513b7ea-3b91-438f-b7e4-e3e54af9147c}\n      details:\n        namespace: \"{{ .Namespace }}\"\n        count: \"{{ .Count }}\"\n",
    );
    send_event(&sink(&config), compat_example()).await.unwrap();
    assert_eq!(
        fake.requests()[0].json(),
        json!({
            "message": "BackOff on web-6d4cf56db6-x2x9q",
            "responders": [
                {"type": "team", "name": "web-oncall"},
                {"type": "schedule", "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c"}
            ],
            "details": {"count": "1", "namespace": "shop"},
            "priority": "P2"
        })
    );
}

#[test]
fn an_unknown_rendered_priority_is_sent_as_p3() {
    let fake_url = "http://127.0.0.1:9";
    let config = opsgenie_config(&format!(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      apiURL: {fake_url}\n      message: m\n      priority: \"{{{{ .Reason }}}}\"\n"
    ));
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let r = OpsgenieBuilder::new("og", &config).request_for(&[&d]).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&r[0].body).unwrap();
    assert_eq!(body["priority"], "P3");
}

#[tokio::test]
async fn close_when_closes_the_alert_by_alias() {
    let fake = FakeHttp::with_replies([accepted(), accepted()]).await;
    let config = at(
        &fake,
        "      alias: \"{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}\"\n      closeWhen: \"{{ eq .Type \\\"Normal\\\" }}\"\n",
    );
    let s = sink(&config);
    send_event(&s, compat_example()).await.unwrap();
    let mut recovered = compat_example();
    recovered.event_type = "Normal".into();
    recovered.reason = "Started".into();
    send_event(&s, recovered).await.unwrap();
    let reqs = fake.requests();
    assert_eq!(reqs[0].target, "/v2/alerts");
    assert_eq!(reqs[0].json()["alias"], "shop/web-6d4cf56db6-x2x9q");
    assert_eq!(reqs[1].method, "POST");
    assert_eq!(
        reqs[1].target,
        "/v2/alerts/shop%2Fweb-6d4cf56db6-x2x9q/close?identifierType=alias"
    );
    assert_eq!(reqs[1].header_exact("Authorization"), ["GenieKey k3y-s3cr3t"]);
    assert_eq!(
        reqs[1].json(),
        json!({"source": "herald", "note": "Started on web-6d4cf56db6-x2x9q"})
    );
}

#[test]
fn empty_rendered_message_or_close_alias_rejects_the_event() {
    let config = opsgenie_config(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: \"{{ .Action }}\"\n",
    );
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let e = OpsgenieBuilder::new("og", &config).encode(&d).unwrap_err();
    assert!(e.to_string().contains("needs a message"), "{e}");
    let config = opsgenie_config(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k\n      message: m\n      alias: \"{{ .Action }}\"\n      closeWhen: \"true\"\n",
    );
    let e = OpsgenieBuilder::new("og", &config).encode(&d).unwrap_err();
    assert!(e.to_string().contains("no alert to close"), "{e}");
}

#[tokio::test]
async fn answers_are_classified() {
    let fake = FakeHttp::with_replies([
        Reply::status(422).json(&json!({"message": "Request body is not processable. Please check the errors.", "errors": {"message": "Message can not be empty."}, "took": 0.001, "requestId": "r1"})),
        Reply::status(401).json(&json!({"message": "Could not authenticate", "took": 0.0, "requestId": "r2"})),
        Reply::status(429).header("Retry-After", "5").json(&json!({"message": "Rate limit exceeded", "requestId": "r3"})),
        Reply::status(503),
        accepted(),
    ])
    .await;
    let s = sink(&at(&fake, ""));
    let e = send_event(&s, compat_example()).await.unwrap_err();
    assert!(!e.is_retriable());
    assert!(e.to_string().starts_with("unexpected HTTP status 422: {"), "{e}");
    assert!(e.to_string().contains("Message can not be empty."), "{e}");
    let e = send_event(&s, compat_example()).await.unwrap_err();
    assert!(!e.is_retriable());
    assert!(e.to_string().contains("Could not authenticate"), "{e}");
    let e = send_event(&s, compat_example()).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
    assert!(send_event(&s, compat_example()).await.unwrap_err().is_retriable());
    send_event(&s, compat_example()).await.unwrap();
    for r in fake.requests() {
        assert_eq!(r.header_exact("Authorization"), ["GenieKey k3y-s3cr3t"]);
    }
}

#[test]
fn the_api_key_never_shows_in_previews_or_debug_output() {
    let (r, diags) = parse(KEE_EXAMPLE);
    assert!(!diags.has_errors(), "{diags}");
    let p = crate::preview(&r[0], &compat_example()).unwrap();
    assert!(p.starts_with("POST https://api.opsgenie.com/v2/alerts\n"), "{p}");
    assert!(p.contains("\nAuthorization: ***\n"), "{p}");
    assert!(!p.contains("GenieKey xxx"), "{p}");
    let config = opsgenie_config(
        "receivers:\n  - name: og\n    opsgenie:\n      apiKey: k3y-s3cr3t\n      message: m\n",
    );
    let debug = format!("{config:?} {:?}", OpsgenieBuilder::new("og", &config));
    assert!(!debug.contains("k3y-s3cr3t"), "{debug}");
}

/// The README's Slack, Teams and Opsgenie example loads without a warning
/// (its environment variables given values).
#[test]
fn the_readme_alerting_example_loads() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("receivers:\n  - name: owners\n    slack:")
        .expect("README example");
    let block = &readme[start..];
    let yaml = block[..block.find("```").unwrap()]
        .replace("${SLACK_TOKEN}", "xoxb-1")
        .replace("${SLACK_WEBHOOK_URL}", "https://hooks.slack.com/services/T/B/X")
        .replace(
            "${TEAMS_WORKFLOW_URL}",
            "https://prod-1.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s",
        )
        .replace("${OPSGENIE_API_KEY}", "k");
    let (r, diags) = parse(&yaml);
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(r.len(), 4);
    let c = r[3].sink.downcast_ref::<OpsgenieConfig>().unwrap();
    assert_eq!(c.base.as_str(), "https://api.eu.opsgenie.com/");
    assert!(c.close_when.is_some());
    let mut normal = compat_example();
    normal.event_type = "Normal".into();
    let p = crate::preview(&r[3], &normal).unwrap();
    assert!(
        p.starts_with(
            "POST https://api.eu.opsgenie.com/v2/alerts/5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77/close?identifierType=alias\n"
        ),
        "{p}"
    );
}
