//! `teams` sink tests against the test kit's fake target standing in for a
//! Teams connector or Workflow: exact requests, and Teams' answers (200 with
//! a throttling text, 202, 400, 429 with `Retry-After`, 5xx, no answer).

use std::time::Duration;

use herald_testkit::{FakeHttp, Reply};
use serde_json::json;
use tokio::net::TcpListener;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, SendError, SendOutcome, Sink};
use crate::model::tests::compat_example;

/// kubernetes-event-exporter's README example.
const KEE_EXAMPLE: &str = r#"receivers:
  - name: "ms_teams"
    teams:
      endpoint: "https://outlook.office.com/webhook/..."
      layout: # Optional
"#;

const MESSAGE: &str = "Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)";

fn teams_config(yaml: &str) -> TeamsConfig {
    let (r, diags) = parse(yaml);
    assert!(!diags.has_errors(), "{diags}");
    r[0].sink
        .downcast_ref::<TeamsConfig>()
        .expect("not a teams receiver")
        .clone()
}

fn at(fake: &FakeHttp, tail: &str) -> TeamsConfig {
    teams_config(&format!(
        "receivers:\n  - name: t\n    teams:\n      endpoint: \"{}/webhookb2/abc@def/IncomingWebhook/s3cr3t\"\n{tail}",
        fake.url()
    ))
}

fn sink(config: &TeamsConfig) -> TeamsSink {
    TeamsSink::new("t", config, Duration::from_secs(5)).unwrap()
}

async fn send_one(sink: &TeamsSink) -> Result<SendOutcome, SendError> {
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let request = sink.builder().request_for(&[&d]).unwrap();
    sink.send(&request).await
}

#[test]
fn the_kee_example_loads() {
    let c = teams_config(KEE_EXAMPLE);
    assert_eq!(c.format, TeamsFormat::MessageCard);
    assert!(c.layout.is_none());
    assert_eq!(
        c.endpoint.expose().as_str(),
        "https://outlook.office.com/webhook/..."
    );
}

#[tokio::test]
async fn posts_kees_message_card_for_the_event_json() {
    let fake = FakeHttp::with_replies([Reply::ok().body("1")]).await;
    send_one(&sink(&at(&fake, ""))).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/webhookb2/abc@def/IncomingWebhook/s3cr3t");
    assert_eq!(r.header_exact("Content-Type"), ["application/json"]);
    assert_eq!(
        r.json(),
        json!({
            "summary": "event",
            "text": format!("Event: {MESSAGE} \nStatus: BackOff \nMetadata: map[creationTimestamp:2024-05-14T10:00:03Z name:web-6d4cf56db6-x2x9q.17cf0b8d2a4b1c3e namespace:shop resourceVersion:918273 uid:0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11]"),
        })
    );
}

#[tokio::test]
async fn a_layout_feeds_message_reason_and_metadata() {
    let fake = FakeHttp::start().await;
    let config = at(
        &fake,
        "      layout:\n        message: \"{{ .InvolvedObject.Name }}: {{ .Message }}\"\n        metadata:\n          cluster: \"{{ .ClusterName }}\"\n          count: 3\n",
    );
    send_one(&sink(&config)).await.unwrap();
    assert_eq!(
        fake.requests()[0].json()["text"],
        format!("Event: web-6d4cf56db6-x2x9q: {MESSAGE} \nStatus: %!s(<nil>) \nMetadata: map[cluster:prod-eu count:%!s(float64=3)]")
    );
}

#[test]
fn values_print_like_gos_percent_s() {
    let s = |v: serde_json::Value| go_percent_s(Some(&v));
    assert_eq!(go_percent_s(None), "%!s(<nil>)");
    assert_eq!(s(json!(null)), "%!s(<nil>)");
    assert_eq!(s(json!("x")), "x");
    assert_eq!(s(json!(true)), "%!s(bool=true)");
    assert_eq!(s(json!(1.5)), "%!s(float64=1.5)");
    assert_eq!(s(json!(123456)), "%!s(float64=123456)");
    assert_eq!(s(json!(1234567)), "%!s(float64=1.234567e+06)");
    assert_eq!(s(json!(0.00001)), "%!s(float64=1e-05)");
    assert_eq!(s(json!(["a", 1, {"b": "c"}])), "[a %!s(float64=1) map[b:c]]");
    assert_eq!(s(json!({"z": "1", "a": {"y": "x"}})), "map[a:map[y:x] z:1]");
}

#[tokio::test]
async fn adaptive_card_format_posts_herald_card() {
    let fake = FakeHttp::with_replies([Reply::status(202)]).await;
    let config = at(&fake, "      format: adaptiveCard\n");
    assert_eq!(send_one(&sink(&config)).await.unwrap(), SendOutcome::Delivered);
    assert_eq!(
        fake.requests()[0].json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "color": "Attention",
                         "text": "Warning BackOff: Pod shop/web-6d4cf56db6-x2x9q"},
                        {"type": "TextBlock", "wrap": true, "text": MESSAGE},
                        {"type": "FactSet", "facts": [
                            {"title": "Namespace", "value": "shop"},
                            {"title": "Object", "value": "Pod/web-6d4cf56db6-x2x9q"},
                            {"title": "Reason", "value": "BackOff"},
                            {"title": "Count", "value": "1"},
                            {"title": "Last seen", "value": "2024-05-14 10:00:03 +0000 UTC"},
                            {"title": "Cluster", "value": "prod-eu"}
                        ]}
                    ]
                }
            }]
        })
    );
}

#[tokio::test]
async fn adaptive_card_layout_is_the_card() {
    let fake = FakeHttp::start().await;
    let config = at(
        &fake,
        "      format: adaptiveCard\n      layout:\n        type: AdaptiveCard\n        version: \"1.5\"\n        body:\n          - type: TextBlock\n            text: \"{{ .Reason }}\"\n            wrap: true\n",
    );
    send_one(&sink(&config)).await.unwrap();
    assert_eq!(
        fake.requests()[0].json()["attachments"][0]["content"],
        json!({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "BackOff", "wrap": true}]})
    );
}

#[tokio::test]
async fn answers_are_classified() {
    let fake = FakeHttp::with_replies([
        Reply::ok().body("Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"),
        Reply::status(429).header("Retry-After", "12"),
        Reply::status(400).body("Bad payload received by generic incoming webhook."),
        Reply::status(502),
        Reply::ok().body("1"),
    ])
    .await;
    let s = sink(&at(&fake, ""));
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    assert!(e.to_string().starts_with("Teams throttled the webhook"), "{e}");
    let e = send_one(&s).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(
        e.to_string(),
        "unexpected HTTP status 400: Bad payload received by generic incoming webhook."
    );
    assert!(send_one(&s).await.unwrap_err().is_retriable());
    send_one(&s).await.unwrap();
}

#[tokio::test]
async fn transport_errors_are_errors_without_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = teams_config(&format!(
        "receivers:\n  - name: t\n    teams:\n      endpoint: http://{addr}/webhookb2/s3cr3t\n"
    ));
    let e = send_one(&sink(&config)).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
}

#[tokio::test]
async fn headers_are_sent_and_replace_defaults() {
    let fake = FakeHttp::start().await;
    let config = at(
        &fake,
        "      headers:\n        content-type: application/json; charset=utf-8\n        x-api-key: k3y\n",
    );
    send_one(&sink(&config)).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.header_exact("Content-Type"), ["application/json; charset=utf-8"]);
    assert_eq!(r.header_exact("X-Api-Key"), ["k3y"]);
}

#[test]
fn the_preview_masks_the_endpoint_path_and_secret_headers() {
    let (r, diags) = parse(
        "receivers:\n  - name: t\n    teams:\n      endpoint: https://x.webhook.office.com/webhookb2/abc/IncomingWebhook/s3cr3t\n      headers:\n        Authorization: Bearer t0k3n\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let p = crate::preview(&r[0], &compat_example()).unwrap();
    assert!(p.starts_with("POST https://x.webhook.office.com/webhookb2/***\n"), "{p}");
    assert!(p.contains("\nAuthorization: ***\n"), "{p}");
    assert!(!p.contains("s3cr3t") && !p.contains("t0k3n"), "{p}");
    let c = r[0].sink.downcast_ref::<TeamsConfig>().unwrap();
    let debug = format!("{:?} {c:?} {:?}", r[0].sink, TeamsBuilder::new("t", c));
    assert!(!debug.contains("s3cr3t") && !debug.contains("t0k3n"), "{debug}");
}

#[test]
fn bad_settings_are_startup_errors() {
    let (_, diags) = parse(
        "receivers:\n  - name: t\n    teams:\n      endpoint: \"outlook/s3cr3t\"\n      format: card\n",
    );
    let text = diags.to_string();
    assert!(text.contains("config.yaml:4") && text.contains("not an http(s) URL"), "{text}");
    // The message never quotes the URL (the source line is the user's own).
    assert!(
        !text.lines().filter(|l| !l.contains(" | ")).any(|l| l.contains("s3cr3t")),
        "{text}"
    );
    assert!(text.contains("config.yaml:5") && text.contains("unknown teams format `card`"), "{text}");
    assert!(text.contains("hint: use `messageCard`"), "{text}");
    let (_, diags) = parse("receivers:\n  - name: t\n    teams: {}\n");
    assert!(diags.to_string().contains("teams needs an `endpoint`"), "{diags}");
}

#[test]
fn a_workflows_url_without_adaptive_card_is_a_warning() {
    let (r, diags) = parse(
        "receivers:\n  - name: t\n    teams:\n      endpoint: \"https://prod-1.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s\"\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(r.len(), 1);
    let text = diags.to_string();
    assert!(text.contains("expects an Adaptive Card") && text.contains("format: adaptiveCard"), "{text}");
}
