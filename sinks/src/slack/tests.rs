//! `slack` sink tests against the test kit's fake target standing in for
//! Slack: it checks the exact request and answers as Slack does (`ok:false`
//! with an error code, 429 with `Retry-After`, 5xx). Tests through the
//! delivery driver are in `sinks/tests/alerting.rs`.

use std::time::Duration;

use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, SendError, SendOutcome, Sink};
use crate::model::tests::compat_example;

/// kubernetes-event-exporter's README example, unchanged but for the fake's
/// address.
const KEE_EXAMPLE: &str = r#"receivers:
  - name: "slack"
    slack:
      token: YOUR-API-TOKEN-HERE
      channel: "@{{ .InvolvedObject.Labels.owner }}"
      message: "{{ .Message }}"
      color: # optional
      title: # optional
      author_name: # optional
      footer: # optional
      fields:
        namespace: "{{ .Namespace }}"
        reason: "{{ .Reason }}"
        object: "{{ .Namespace }}"
"#;

fn slack_config(yaml: &str) -> SlackConfig {
    let (r, diags) = parse(yaml);
    assert!(!diags.has_errors(), "{diags}");
    r[0].sink
        .downcast_ref::<SlackConfig>()
        .expect("not a slack receiver")
        .clone()
}

fn with_api(yaml: &str, fake: &FakeHttp) -> String {
    format!("{yaml}      apiURL: \"{}/api\"\n", fake.url())
}

fn sink(config: &SlackConfig) -> SlackSink {
    SlackSink::new("slack", config, Duration::from_secs(5)).unwrap()
}

fn delivery() -> Delivery {
    Delivery::from_event(compat_example(), AckRef::detached())
}

async fn send_one(sink: &SlackSink) -> Result<SendOutcome, SendError> {
    let request = sink.builder().request_for(&[&delivery()]).unwrap();
    sink.send(&request).await
}

fn errors(yaml: &str) -> String {
    let (_, diags) = parse(yaml);
    assert!(diags.has_errors(), "expected errors for:\n{yaml}");
    diags.to_string()
}

#[tokio::test]
async fn the_kee_example_posts_chat_post_message_with_sorted_fields() {
    let fake = FakeHttp::with_replies([Reply::ok().json(&json!({"ok": true, "channel": "D1", "ts": "1.2"}))]).await;
    let config = slack_config(&with_api(KEE_EXAMPLE, &fake));
    send_one(&sink(&config)).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/api/chat.postMessage");
    assert_eq!(r.header_exact("Authorization"), ["Bearer YOUR-API-TOKEN-HERE"]);
    assert_eq!(
        r.header_exact("Content-Type"),
        ["application/json; charset=utf-8"]
    );
    assert_eq!(
        r.text(),
        concat!(
            r#"{"channel":"@<no value>","text":"Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)","#,
            r#""attachments":[{"fields":[{"title":"namespace","value":"shop","short":false},{"title":"object","value":"shop","short":false},{"title":"reason","value":"BackOff","short":false}]}]}"#
        )
    );
}

#[test]
fn the_default_api_is_slack_com() {
    let config = slack_config(KEE_EXAMPLE);
    let SlackTarget::Api { url, token } = &config.target else {
        panic!("not the Web API")
    };
    assert_eq!(url.as_str(), "https://slack.com/api/chat.postMessage");
    assert_eq!(token.expose(), "YOUR-API-TOKEN-HERE");
}

#[tokio::test]
async fn attachment_settings_and_escaping() {
    let fake = FakeHttp::with_replies([Reply::ok().json(&json!({"ok": true}))]).await;
    let config = slack_config(&with_api(
        "receivers:\n  - name: s\n    slack:\n      token: xoxb-1\n      channel: \"#ops-{{ .Namespace }}\"\n      message: \"<b>{{ .Reason }}</b> & more\"\n      color: \"{{ if eq .Type \\\"Warning\\\" }}danger{{ else }}good{{ end }}\"\n      title: \"{{ .InvolvedObject.Kind }} {{ .InvolvedObject.Name }}\"\n      author_name: herald\n      footer: \"{{ .ClusterName }}\"\n      fields: {}\n",
        &fake,
    ));
    send_one(&sink(&config)).await.unwrap();
    assert_eq!(
        fake.requests()[0].json(),
        json!({
            "channel": "#ops-shop",
            "text": "&lt;b&gt;BackOff&lt;/b&gt; &amp; more",
            "attachments": [{
                "color": "danger",
                "author_name": "herald",
                "title": "Pod web-6d4cf56db6-x2x9q",
                "footer": "prod-eu"
            }]
        })
    );
}

#[tokio::test]
async fn without_fields_the_attachment_settings_are_ignored_as_in_kee() {
    let fake = FakeHttp::with_replies([Reply::ok().json(&json!({"ok": true}))]).await;
    let config = slack_config(&with_api(
        "receivers:\n  - name: s\n    slack:\n      token: xoxb-1\n      channel: C1\n      message: hi\n      color: good\n",
        &fake,
    ));
    send_one(&sink(&config)).await.unwrap();
    assert_eq!(fake.requests()[0].json(), json!({"channel": "C1", "text": "hi"}));
}

#[tokio::test]
async fn blocks_are_a_templated_block_kit_layout() {
    let fake = FakeHttp::with_replies([Reply::ok().json(&json!({"ok": true}))]).await;
    let config = slack_config(&with_api(
        "receivers:\n  - name: s\n    slack:\n      token: xoxb-1\n      channel: C1\n      message: \"{{ .Reason }}\"\n      blocks:\n        - type: header\n          text: {type: plain_text, text: \"{{ .Reason }} on {{ .InvolvedObject.Name }}\", emoji: true}\n        - type: section\n          text: {type: mrkdwn, text: \"*{{ .Namespace }}*: {{ .Message }}\"}\n",
        &fake,
    ));
    send_one(&sink(&config)).await.unwrap();
    let body = fake.requests()[0].json();
    assert_eq!(body["text"], "BackOff");
    assert_eq!(
        body["blocks"],
        json!([
            {"type": "header", "text": {"type": "plain_text", "text": "BackOff on web-6d4cf56db6-x2x9q", "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*shop*: Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)"}}
        ])
    );
}

#[tokio::test]
async fn the_incoming_webhook_form_posts_to_the_webhook_url() {
    let fake = FakeHttp::with_replies([Reply::ok().body("ok")]).await;
    let config = slack_config(&format!(
        "receivers:\n  - name: s\n    slack:\n      webhookURL: \"{}/services/T0/B0/XyZ\"\n      message: \"{{{{ .Reason }}}}\"\n",
        fake.url()
    ));
    send_one(&sink(&config)).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/services/T0/B0/XyZ");
    assert!(r.header("Authorization").is_empty());
    assert_eq!(r.text(), r#"{"text":"BackOff"}"#);
}

#[tokio::test]
async fn incoming_webhook_refusals_carry_slacks_error() {
    let fake = FakeHttp::with_replies([
        Reply::status(404).body("channel_not_found"),
        Reply::status(429).header("Retry-After", "9").body("rate limited"),
    ])
    .await;
    let config = slack_config(&format!(
        "receivers:\n  - name: s\n    slack:\n      webhookURL: \"{}/services/T0/B0/XyZ\"\n      channel: \"#gone\"\n      message: hi\n",
        fake.url()
    ));
    let s = sink(&config);
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(e.to_string(), "unexpected HTTP status 404: channel_not_found");
    assert!(!e.to_string().contains("XyZ"));
    let e = send_one(&s).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(9)));
    assert_eq!(fake.requests()[0].json(), json!({"channel": "#gone", "text": "hi"}));
}

#[tokio::test]
async fn ok_false_is_an_error_with_slacks_code() {
    let fake = FakeHttp::with_replies([
        Reply::ok().json(&json!({"ok": false, "error": "channel_not_found"})),
        Reply::ok().json(&json!({"ok": false, "error": "invalid_auth"})),
        Reply::ok()
            .header("Retry-After", "4")
            .json(&json!({"ok": false, "error": "ratelimited"})),
        Reply::status(429)
            .header("Retry-After", "30")
            .json(&json!({"ok": false, "error": "ratelimited"})),
        Reply::status(503).body("upstream connect error"),
        Reply::ok().body("<html>proxy</html>"),
        Reply::ok().json(&json!({"ok": true})),
    ])
    .await;
    let config = slack_config(&with_api(KEE_EXAMPLE, &fake));
    let s = sink(&config);
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(e.to_string(), "Slack refused the message: channel_not_found");
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(e.to_string(), "Slack refused the message: invalid_auth");
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert!(e.to_string().contains("not its JSON"), "{e}");
    send_one(&s).await.unwrap();
    for e in fake.requests() {
        assert_eq!(e.header_exact("Authorization"), ["Bearer YOUR-API-TOKEN-HERE"]);
    }
}

#[test]
fn every_slack_code_is_classified() {
    for code in RETRIABLE_ERRORS {
        let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
        assert!(check_answer(body.as_bytes(), None).unwrap_err().is_retriable());
    }
    for code in ["not_in_channel", "is_archived", "msg_too_long", "no_text", "token_revoked", "missing_scope"] {
        let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
        let e = check_answer(body.as_bytes(), None).unwrap_err();
        assert!(!e.is_retriable(), "{code}");
        assert!(e.to_string().ends_with(code));
    }
    let e = check_answer(br#"{"ok":false}"#, None).unwrap_err();
    assert_eq!(e.to_string(), "Slack refused the message: unknown_error");
}

#[test]
fn an_empty_channel_rejects_the_event() {
    let config = slack_config(
        "receivers:\n  - name: s\n    slack:\n      token: t\n      channel: \"{{ index .InvolvedObject.Labels \\\"owner\\\" }}\"\n      message: hi\n",
    );
    let e = SlackBuilder::new("s", &config).encode(&delivery()).unwrap_err();
    assert!(e.to_string().contains("empty channel"), "{e}");
}

#[test]
fn a_channel_template_that_does_not_parse_is_a_startup_error() {
    let text = errors(
        "receivers:\n  - name: s\n    slack:\n      token: t\n      channel: \"@{{ .InvolvedObject.Labels.owner \"\n      message: hi\n",
    );
    assert!(text.contains("config.yaml:5"), "{text}");
    assert!(text.contains("receivers[0].slack.channel"), "{text}");
    assert!(text.contains("invalid template"), "{text}");
    assert!(text.contains("hint: templates use Go text/template syntax"), "{text}");
}

#[test]
fn bad_blocks_are_startup_errors_at_their_line() {
    let text = errors(
        "receivers:\n  - name: s\n    slack:\n      token: t\n      channel: c\n      blocks:\n        - type: section\n          text: {type: mrkdwn, text: \"{{ .Reason \"}\n",
    );
    assert!(text.contains("receivers[0].slack.blocks[0].text.text"), "{text}");
    let text = errors(
        "receivers:\n  - name: s\n    slack:\n      token: t\n      channel: c\n      blocks: {type: section}\n",
    );
    assert!(text.contains("expected a list of Block Kit blocks"), "{text}");
}

#[test]
fn credentials_and_channels_are_checked() {
    let text = errors("receivers:\n  - name: s\n    slack:\n      message: hi\n");
    assert!(text.contains("needs a `token` or a `webhookURL`"), "{text}");
    let text = errors(
        "receivers:\n  - name: s\n    slack:\n      token: xoxb-s3cr3t\n      webhookURL: https://hooks.slack.com/services/T/B/s3cr3t\n      channel: c\n      message: hi\n",
    );
    assert!(text.contains("not both"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let text = errors("receivers:\n  - name: s\n    slack:\n      token: xoxb-s3cr3t\n      message: hi\n");
    assert!(text.contains("needs a `channel`"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let text = errors("receivers:\n  - name: s\n    slack:\n      webhookURL: \"hooks/s3cr3t\"\n      message: hi\n");
    assert!(text.contains("not an http(s) URL"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let text = errors("receivers:\n  - name: s\n    slack:\n      token: t\n      channel: c\n");
    assert!(text.contains("needs a `message`, `fields` or `blocks`"), "{text}");
}

#[test]
fn the_preview_masks_the_token_and_the_webhook_url() {
    let (r, diags) = parse(KEE_EXAMPLE);
    assert!(!diags.has_errors(), "{diags}");
    let p = crate::preview(&r[0], &compat_example()).unwrap();
    assert!(p.starts_with("POST https://slack.com/api/chat.postMessage\n"), "{p}");
    assert!(p.contains("\nAuthorization: ***\n"), "{p}");
    assert!(!p.contains("YOUR-API-TOKEN-HERE"), "{p}");
    assert!(p.ends_with(r#""short":false}]}]}"#), "{p}");

    let (r, diags) = parse(
        "receivers:\n  - name: s\n    slack:\n      webhookURL: https://hooks.slack.com/services/T0/B0/s3cr3t\n      message: hi\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let p = crate::preview(&r[0], &compat_example()).unwrap();
    assert!(p.starts_with("POST https://hooks.slack.com/services/***\n"), "{p}");
    assert!(!p.contains("s3cr3t"), "{p}");
    let c = r[0].sink.downcast_ref::<SlackConfig>().unwrap();
    let debug = format!("{:?} {:?}", r[0].sink, SlackBuilder::new("s", c));
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

#[test]
fn the_token_never_shows_in_debug_output() {
    let config = slack_config(KEE_EXAMPLE);
    let debug = format!("{config:?}");
    assert!(!debug.contains("YOUR-API-TOKEN-HERE"), "{debug}");
    let builder = format!("{:?}", SlackBuilder::new("s", &config));
    assert!(!builder.contains("YOUR-API-TOKEN-HERE"), "{builder}");
}

#[test]
fn api_url_with_a_webhook_is_a_warning() {
    let (r, diags) = parse(
        "receivers:\n  - name: s\n    slack:\n      webhookURL: https://hooks.slack.com/services/T/B/X\n      apiURL: https://slack.example.com/api/\n      message: hi\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(r.len(), 1);
    assert!(diags.to_string().contains("`apiURL` is only used with a `token`"), "{diags}");
}
