//! `webhook` sink tests against the test kit's fake target, which records
//! the exact request (header-name case included) and answers as scripted.
//! Tests through the delivery driver are in `sinks/tests/webhook.rs`.

use std::sync::Arc;
use std::time::Duration;

use herald_testkit::{FakeHttp, Reply};
use tokio::net::TcpListener;

use super::*;
use crate::config::tests::parse;
use crate::driver::{
    AckGroup, AckRef, Delivery, RequestBuilder as _, SendOutcome, Sink, SinkMetrics, ack_channel,
};
use crate::model::tests::compat_example;
use crate::set::SinkSet;

fn webhook_config(yaml_tail: &str, endpoint: &str) -> WebhookConfig {
    let (r, diags) = parse(&format!(
        "receivers:\n  - name: hook\n    webhook:\n      endpoint: \"{endpoint}\"\n{yaml_tail}"
    ));
    assert!(!diags.has_errors(), "{diags}");
    r[0].sink
        .downcast_ref::<WebhookConfig>()
        .expect("not a webhook")
        .clone()
}

fn sink(config: &WebhookConfig) -> WebhookSink {
    WebhookSink::new("hook", config, Duration::from_secs(5)).unwrap()
}

fn delivery() -> Delivery {
    Delivery::from_event(compat_example(), AckRef::detached())
}

async fn send_one(sink: &WebhookSink) -> Result<SendOutcome, crate::driver::SendError> {
    let request = sink.builder().request_for(&[&delivery()]).unwrap();
    sink.send(&request).await
}

#[test]
fn the_example_parses() {
    let (r, diags) = parse(include_str!("../../examples/webhook.yaml"));
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<crate::webhook::WebhookConfig>().expect("not webhook");
    assert_eq!(
        c.endpoint.as_str(),
        "https://alerts.example.com/hooks/kubernetes"
    );
    assert_eq!(c.headers.len(), 2);
    assert_eq!(c.tls.as_ref().unwrap().server_name, "alerts.example.com");
}

#[tokio::test]
async fn posts_the_kee_json_with_exact_headers() {
    let fake = FakeHttp::start().await;
    let url = fake.url();
    let config = webhook_config(
        "      headers:\n        x-api-key: abc123\n        X-Reason: \"{{ .Reason }}\"\n",
        &format!("{url}/hooks/k8s?team=a"),
    );
    send_one(&sink(&config)).await.unwrap();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/hooks/k8s?team=a");
    assert_eq!(r.header_exact("Content-Type"), ["application/json"]);
    assert_eq!(
        r.header_exact("User-Agent"),
        [concat!("herald/", env!("CARGO_PKG_VERSION"))]
    );
    assert_eq!(r.header_exact("X-Api-Key"), ["abc123"]);
    assert_eq!(r.header_exact("X-Reason"), ["BackOff"]);
    let mut want = Vec::new();
    crate::model::kee_json(&compat_example(), false, &mut want);
    assert_eq!(r.body, want, "body must be the KEE JSON without newline");
    assert_eq!(
        r.header_exact("Content-Length"),
        [want.len().to_string().as_str()]
    );
}

#[tokio::test]
async fn a_user_content_type_replaces_the_default() {
    let fake = FakeHttp::start().await;
    let url = fake.url();
    let config = webhook_config(
        "      headers:\n        content-type: application/cloudevents+json\n        user-agent: custom/1\n",
        &url,
    );
    send_one(&sink(&config)).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.header_exact("Content-Type"), ["application/cloudevents+json"]);
    assert_eq!(r.header_exact("User-Agent"), ["custom/1"]);
    assert_eq!(r.header_exact("Accept"), ["*/*"]);
}

#[tokio::test]
async fn posts_the_rendered_layout_with_typed_scalars() {
    let fake = FakeHttp::start().await;
    let url = fake.url();
    let config = webhook_config(
        "      layout:\n        message: \"{{ .Message }}\"\n        count: \"{{ .Count }}\"\n        priority: 3\n        page: true\n        details:\n          owner: \"{{ .InvolvedObject.Labels.app }}\"\n",
        &url,
    );
    send_one(&sink(&config)).await.unwrap();
    let body = fake.requests()[0].text();
    assert_eq!(
        body,
        r#"{"count":"1","details":{"owner":"web"},"message":"Back-off restarting failed container web in pod web-6d4cf56db6-x2x9q_shop(5e1d0a8c-4f1e-4c2b-9d7a-2b1c0e9f8a77)","page":true,"priority":3}"#
    );
}

#[tokio::test]
async fn a_failing_header_template_sends_its_raw_text() {
    let fake = FakeHttp::start().await;
    let url = fake.url();
    let config = webhook_config(
        "      headers:\n        X-Owner: \"{{ .NoSuchField }}\"\n",
        &url,
    );
    send_one(&sink(&config)).await.unwrap();
    assert_eq!(fake.requests()[0].header_exact("X-Owner"), ["{{ .NoSuchField }}"]);
}

#[tokio::test]
async fn classifies_responses() {
    let fake = FakeHttp::with_replies([
        Reply::status(503).body("unavailable"),
        Reply::status(429).header("Retry-After", "7"),
        Reply::status(400).body("{\"error\":\"bad payload\"}"),
        Reply::status(204),
    ])
    .await;
    let url = fake.url();
    let s = sink(&webhook_config("", &url));
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.to_string(), "unexpected HTTP status 503: unavailable");
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = send_one(&s).await.unwrap_err();
    assert!(!e.is_retriable());
    assert_eq!(
        e.to_string(),
        "unexpected HTTP status 400: {\"error\":\"bad payload\"}"
    );
    send_one(&s).await.unwrap();
}

#[tokio::test]
async fn a_hung_endpoint_times_out_retriably() {
    let fake = FakeHttp::with_replies([Reply::hang()]).await;
    let url = fake.url();
    let s = WebhookSink::new(
        "hook",
        &webhook_config("", &url),
        Duration::from_millis(300),
    )
    .unwrap();
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    assert!(e.to_string().starts_with("request timed out"), "{e}");
}

#[tokio::test]
async fn connection_errors_are_retriable_and_do_not_leak_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let s = sink(&webhook_config(
        "",
        &format!("http://user:s3cr3t@{addr}/x?token=abc"),
    ));
    let e = send_one(&s).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    let text = e.to_string();
    assert!(
        !text.contains("s3cr3t") && !text.contains("token=abc"),
        "{text}"
    );
}

#[tokio::test]
async fn batches_are_sent_as_a_json_array() {
    let fake = FakeHttp::start().await;
    let url = fake.url();
    let s = sink(&webhook_config("", &url));
    let items = vec![
        s.builder().encode(&delivery()).unwrap(),
        s.builder().encode(&delivery()).unwrap(),
    ];
    s.send(&s.builder().build_request(&items)).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&fake.requests()[0].body).unwrap();
    assert_eq!(body.as_array().unwrap().len(), 2);
}

mod tls {
    use super::*;
    use rustls::ServerConfig;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::TlsAcceptor;

    /// Starts an HTTPS fake with a certificate for `herald.test`; returns
    /// the CA file, the fake and its URL (by IP address).
    async fn start(dir: &std::path::Path) -> (std::path::PathBuf, Arc<FakeHttp>, String) {
        let ck = rcgen::generate_simple_self_signed(vec!["herald.test".to_owned()]).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, ck.cert.pem()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let config = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The fake's script and records, served over TLS connections.
        let fake = Arc::new(FakeHttp::start().await);
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let f = f.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        f.serve_connection(tls).await;
                    }
                });
            }
        });
        (ca, fake, format!("https://{addr}"))
    }

    #[tokio::test]
    async fn ca_file_and_server_name_verify_a_private_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, fake, url) = start(dir.path()).await;
        let tail = format!(
            "      tls:\n        caFile: {}\n        serverName: herald.test\n",
            ca.display()
        );
        send_one(&sink(&webhook_config(&tail, &url))).await.unwrap();
        assert_eq!(fake.requests().len(), 1);
    }

    #[tokio::test]
    async fn without_server_name_the_ip_does_not_match_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, fake, url) = start(dir.path()).await;
        let tail = format!("      tls:\n        caFile: {}\n", ca.display());
        let e = send_one(&sink(&webhook_config(&tail, &url)))
            .await
            .unwrap_err();
        assert!(e.is_retriable(), "{e}");
        assert!(fake.requests().is_empty());
    }

    #[tokio::test]
    async fn insecure_skip_verify_accepts_any_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (_ca, fake, url) = start(dir.path()).await;
        let tail = "      tls:\n        insecureSkipVerify: true\n";
        send_one(&sink(&webhook_config(tail, &url))).await.unwrap();
        assert_eq!(fake.requests().len(), 1);
    }
}

/// `herald route`'s preview is built by the receiver's own request builder:
/// it equals, header for header and byte for byte, what the target receives
/// (credentials aside, which the preview masks).
#[tokio::test]
async fn the_preview_is_the_request_the_target_receives() {
    let fake = FakeHttp::start().await;
    let (r, diags) = parse(&format!(
        "receivers:\n  - name: hook\n    webhook:\n      endpoint: \"{}/hooks/k8s?team=a\"\n      headers:\n        Authorization: \"Bearer s3cr3t\"\n        x-api-key: \"k3y\"\n        X-Reason: \"{{{{ .Reason }}}}\"\n      layout:\n        reason: \"{{{{ .Reason }}}}\"\n        object: \"{{{{ .InvolvedObject.Name }}}}\"\n",
        fake.url()
    ));
    assert!(!diags.has_errors(), "{diags}");
    let preview = crate::preview(&r[0], &compat_example()).unwrap();
    let set = SinkSet::build(&r, &SinkMetrics::new()).await.unwrap();
    let (tx, mut rx) = ack_channel();
    let ack = AckGroup::new(1, 1, &tx).remove(0);
    set.deliver_to("hook", Delivery::from_event(compat_example(), ack))
        .await;
    assert_eq!(rx.recv().await.unwrap().delivered, 1);
    let got = fake.requests().remove(0);

    let (head, body) = preview.split_once("\n\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("{} {}{}", got.method, fake.url(), got.target)
    );
    let mut shown: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let mut sent: Vec<(String, String)> = got
        .headers
        .iter()
        .map(|(n, v)| {
            let masked = matches!(n.as_str(), "Authorization" | "X-Api-Key");
            (n.clone(), if masked { "***".to_owned() } else { v.clone() })
        })
        .collect();
    shown.sort();
    sent.sort();
    assert_eq!(shown, sent, "{preview}");
    assert_eq!(got.header_exact("Authorization"), ["Bearer s3cr3t"]);
    assert_eq!(got.header_exact("Content-Type"), ["application/json"]);
    assert_eq!(
        got.header_exact("User-Agent"),
        [concat!("herald/", env!("CARGO_PKG_VERSION"))]
    );
    assert_eq!(body.as_bytes(), got.body.as_ref());
    assert!(!preview.contains("s3cr3t") && !preview.contains("k3y"), "{preview}");
    assert!(
        set.close_and_drain(Duration::from_secs(5))
            .await
            .is_complete()
    );
}
