//! `elasticsearch`/`opensearch` config and request tests: KEE's examples,
//! bad input with file:line, exact `_bulk` requests against the test kit's
//! fake target, host failover. Through the driver and against osmem-server:
//! `sinks/tests/elasticsearch.rs`.

use std::time::Duration;

use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::config::decode_cloud_id;
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, SendOutcome, Sink};
use crate::model::tests::compat_example;
use crate::opensearch::OpenSearchConfig;

fn es_config(block: &str) -> SearchConfig {
    let (r, diags) = parse(&format!(
        "receivers:\n  - name: dump\n    elasticsearch:\n{block}"
    ));
    assert!(!diags.has_errors(), "{diags}");
    r[0].sink
        .downcast_ref::<ElasticsearchConfig>()
        .expect("not elasticsearch")
        .0
        .clone()
}

fn errors_of(block: &str) -> String {
    let (_, diags) = parse(&format!(
        "receivers:\n  - name: dump\n    elasticsearch:\n{block}"
    ));
    assert!(diags.has_errors(), "expected errors for {block}");
    diags.to_string()
}

fn delivery() -> Delivery {
    Delivery::from_event(compat_example(), AckRef::detached())
}

fn ok_reply(n: usize) -> Reply {
    let items: Vec<_> = (0..n)
        .map(|_| json!({"create": {"_index": "k", "status": 201}}))
        .collect();
    Reply::ok().json(&json!({"took": 1, "errors": false, "items": items}))
}

/// kubernetes-event-exporter's README example for `elasticsearch` (its
/// `true|false` placeholders written as booleans, since KEE itself cannot
/// load them), with every empty placeholder left as written.
const KEE_ES_EXAMPLE: &str = r#"receivers:
  - name: "dump"
    elasticsearch:
      hosts:
        - http://localhost:9200
      index: kube-events
      # Ca be used optionally for time based indices, accepts Go time formatting directives
      indexFormat: "kube-events-{2006-01-02}"
      username: # optional
      password: # optional
      # If set to true, it allows updating the same document in ES (might be useful handling count)
      useEventID: true
      # Type should be only used for clusters Version 6 and lower.
      # type: kube-event
      # If set to true, all dots in labels and annotation keys are replaced by underscores. Defaults false
      deDot: true
      layout: # Optionally specify layout, if omitted the event JSON is used
      tls: # optional, advanced options for tls
        insecureSkipVerify: true # optional, if set to true, the tls cert won't be verified
        serverName: # optional, the domain, the certificate was issued for, in case it doesn't match the hostname used for the connection
        caFile: # optional, path to the CA file of the trusted authority the cert was signed with
"#;

#[test]
fn kee_readme_examples_load_unchanged() {
    let (r, diags) = parse(KEE_ES_EXAMPLE);
    assert!(!diags.has_errors(), "{diags}");
    let c = &r[0].sink.downcast_ref::<ElasticsearchConfig>().unwrap().0;
    assert_eq!(c.hosts[0].as_str(), "http://localhost:9200/");
    assert!(matches!(c.index, IndexName::Timed { .. }));
    assert_eq!(c.document_id, DocumentId::EventUid);
    assert!(c.dedot);
    assert!(c.tls.as_ref().unwrap().insecure_skip_verify);
    assert!(c.authorization.is_none());

    let os = KEE_ES_EXAMPLE.replace("elasticsearch:", "opensearch:");
    let (r, diags) = parse(&os);
    assert!(!diags.has_errors(), "{diags}");
    assert!(r[0].sink.downcast_ref::<OpenSearchConfig>().is_some());

    // The example of KEE's own configuration file.
    let (r, diags) = parse(
        "receivers:\n  - name: dump\n    elasticsearch:\n      hosts:\n        - \"http://localhost:9200\"\n      indexFormat: \"kube-events-{2006-01-02}\"\n      apiKey: abc\n      username: elastic\n      password: secret\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let c = &r[0].sink.downcast_ref::<ElasticsearchConfig>().unwrap().0;
    assert_eq!(c.authorization.as_ref().unwrap().expose(), "ApiKey abc");
}

#[test]
fn bad_input_is_refused_with_location_and_hint() {
    let e = errors_of("      hosts: [\"not a url\"]\n      index: k\n");
    assert!(e.contains("config.yaml:4:") && e.contains("host is not a URL"), "{e}");
    let e = errors_of("      hosts: [\"ftp://x\"]\n      index: k\n");
    assert!(e.contains("unsupported host URL"), "{e}");
    let e = errors_of(
        "      hosts: [\"http://a:9200\"]\n      cloudID: \"x:eWFo\"\n      index: k\n",
    );
    assert!(e.contains("config.yaml:5:") && e.contains("`cloudID` and `hosts` are both set"), "{e}");
    let e = errors_of("      indexFormat: \"kube-{2006-01-02\"\n");
    assert!(e.contains("config.yaml:4:") && e.contains("has no closing `}`"), "{e}");
    let e = errors_of("      index: k\n      type: kube-event\n");
    assert!(e.contains("config.yaml:5:") && e.contains("mapping types"), "{e}");
    assert!(e.contains("remove `type`"), "{e}");
    let e = errors_of("      hosts: [\"http://a:9200\"]\n");
    assert!(e.contains("needs an `index` or an `indexFormat`"), "{e}");
    let e = errors_of("      index: k\n      documentID: uid\n");
    assert!(e.contains("needs `useEventID: true`"), "{e}");
    let e = errors_of("      index: k\n      indexTime: yesterday\n");
    assert!(e.contains("unknown indexTime"), "{e}");
    let e = errors_of("      index: k\n      cloudID: \"name:bm9wZQ==\"\n");
    assert!(e.contains("not an Elastic Cloud id"), "{e}");
    // An empty `type` is accepted, as are no hosts (localhost:9200).
    let c = es_config("      index: k\n      type: \"\"\n");
    assert_eq!(c.hosts[0].as_str(), "http://localhost:9200/");
}

#[test]
fn cloud_ids_decode_to_the_elasticsearch_endpoint() {
    // base64("us-east-1.aws.found.io$abc123$kib456")
    let id = "my-deploy:dXMtZWFzdC0xLmF3cy5mb3VuZC5pbyRhYmMxMjMka2liNDU2";
    assert_eq!(
        decode_cloud_id(id).unwrap().as_str(),
        "https://abc123.us-east-1.aws.found.io/"
    );
    // base64("eu.example.com:9243$es1$kb1")
    assert_eq!(
        decode_cloud_id("x:ZXUuZXhhbXBsZS5jb206OTI0MyRlczEka2Ix").unwrap().as_str(),
        "https://es1.eu.example.com:9243/"
    );
    assert!(decode_cloud_id("x:!!!").is_none());
    let c = es_config("      cloudID: \"my-deploy:dXMtZWFzdC0xLmF3cy5mb3VuZC5pbyRhYmMxMjMka2liNDU2\"\n      index: k\n");
    assert_eq!(c.hosts[0].as_str(), "https://abc123.us-east-1.aws.found.io/");
}

#[tokio::test]
async fn bulk_request_is_exact() {
    let fake = FakeHttp::with_replies([ok_reply(2)]).await;
    let c = es_config(&format!(
        "      hosts: [\"{}/prefix\"]\n      index: kube-events\n      apiKey: \"aWQ6a2V5\"\n      headers:\n        x-team: infra\n",
        fake.url()
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    let mut second = compat_example();
    second.occurrence = 2;
    let d2 = Delivery::from_event(second, AckRef::detached());
    let request = sink.builder().request_for(&[&delivery(), &d2]).unwrap();
    assert_eq!(sink.send(&request).await.unwrap(), SendOutcome::Delivered);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/prefix/_bulk");
    assert_eq!(r.header_exact("Content-Type"), ["application/x-ndjson"]);
    assert_eq!(r.header_exact("Authorization"), ["ApiKey aWQ6a2V5"]);
    assert_eq!(r.header_exact("X-Team"), ["infra"]);
    let ev = compat_example();
    let mut doc = Vec::new();
    crate::model::kee_json(&ev, false, &mut doc);
    let doc = String::from_utf8(doc).unwrap();
    let uid = &ev.metadata.uid;
    let want = format!(
        "{{\"create\":{{\"_id\":\"{uid}-{o1}\",\"_index\":\"kube-events\"}}}}\n{doc}\n{{\"create\":{{\"_id\":\"{uid}-2\",\"_index\":\"kube-events\"}}}}\n{doc2}\n",
        o1 = ev.occurrence,
        doc2 = {
            let mut e2 = compat_example();
            e2.occurrence = 2;
            let mut d = Vec::new();
            crate::model::kee_json(&e2, false, &mut d);
            String::from_utf8(d).unwrap()
        }
    );
    assert_eq!(r.text(), want);
    // The preview shows the same request, the credential hidden.
    let shown = sink.builder().describe(&request);
    assert!(shown.contains("Authorization: ***") && !shown.contains("aWQ6a2V5"), "{shown}");
}

#[tokio::test]
async fn use_event_id_indexes_by_uid_with_event_time_index_and_basic_auth() {
    let fake = FakeHttp::with_replies([ok_reply(1)]).await;
    let c = es_config(&format!(
        "      hosts: [\"{}\"]\n      indexFormat: \"ev-{{2006.01.02}}\"\n      indexTime: event\n      useEventID: true\n      username: elastic\n      password: pw\n      deDot: true\n",
        fake.url()
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    let request = sink.builder().request_for(&[&delivery()]).unwrap();
    sink.send(&request).await.unwrap();
    let r = &fake.requests()[0];
    assert_eq!(r.header_exact("Authorization"), ["Basic ZWxhc3RpYzpwdw=="]);
    let ev = compat_example();
    let day = ev.timestamp().unwrap().format("%Y.%m.%d").to_string();
    let text = r.text();
    let first = text.lines().next().unwrap();
    let action: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(
        action,
        json!({"index": {"_index": format!("ev-{day}"), "_id": ev.metadata.uid}})
    );
    let mut doc = Vec::new();
    crate::model::kee_json(&ev, true, &mut doc);
    assert_eq!(text.lines().nth(1).unwrap().as_bytes(), doc.as_slice());
}

#[tokio::test]
async fn a_failing_host_fails_over_to_the_next() {
    let down = FakeHttp::start().await;
    down.set_default(Reply::status(503));
    let up = FakeHttp::with_replies([ok_reply(1), ok_reply(1)]).await;
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let c = es_config(&format!(
        "      hosts: [\"{closed}\", \"{}\", \"{}\"]\n      index: k\n",
        down.url(),
        up.url()
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    let request = sink.builder().request_for(&[&delivery()]).unwrap();
    assert_eq!(sink.send(&request).await.unwrap(), SendOutcome::Delivered);
    assert_eq!(down.requests().len(), 1);
    assert_eq!(up.requests().len(), 1);
    // The host that answered is tried first from now on.
    sink.send(&request).await.unwrap();
    assert_eq!((down.requests().len(), up.requests().len()), (1, 2));
    // Credentials in a host URL win over the configured ones.
    let authed = FakeHttp::with_replies([ok_reply(1)]).await;
    let url = authed.url().replace("http://", "http://us%40er:p%3Ass@");
    let c = es_config(&format!(
        "      hosts: [\"{url}\"]\n      index: k\n      apiKey: zzz\n"
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    sink.send(&sink.builder().request_for(&[&delivery()]).unwrap())
        .await
        .unwrap();
    assert_eq!(
        authed.requests()[0].header_exact("Authorization"),
        [super::config::basic("us@er", "p:ss")]
    );
}

#[tokio::test]
async fn a_429_answer_does_not_fail_over_and_is_retriable() {
    let a = FakeHttp::with_replies([Reply::status(429)]).await;
    let b = FakeHttp::start().await;
    let c = es_config(&format!(
        "      hosts: [\"{}\", \"{}\"]\n      index: k\n",
        a.url(),
        b.url()
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    let e = sink
        .send(&sink.builder().request_for(&[&delivery()]).unwrap())
        .await
        .unwrap_err();
    assert!(e.is_retriable());
    assert_eq!(b.requests().len(), 0);
}

/// The `tls` block reaches the shared sender: a private CA and `serverName`
/// verify an HTTPS target's certificate, and without the CA it is refused.
#[tokio::test]
async fn the_tls_block_is_applied() {
    use rustls::ServerConfig;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;
    use tokio_rustls::TlsAcceptor;

    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["es.herald.test".to_owned()]).unwrap();
    let ca = dir.path().join("ca.pem");
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(FakeHttp::with_replies([ok_reply(1)]).await);
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
    let hosts = format!("      hosts: [\"https://{addr}\"]\n      index: k\n");
    let plain = es_config(&hosts);
    let sink = SearchSink::new("dump", "elasticsearch", &plain, Duration::from_secs(5)).unwrap();
    let request = sink.builder().request_for(&[&delivery()]).unwrap();
    assert!(sink.send(&request).await.is_err());
    assert!(fake.requests().is_empty());
    let c = es_config(&format!(
        "{hosts}      tls:\n        caFile: {}\n        serverName: es.herald.test\n",
        ca.display()
    ));
    let sink = SearchSink::new("dump", "elasticsearch", &c, Duration::from_secs(5)).unwrap();
    assert_eq!(sink.send(&request).await.unwrap(), SendOutcome::Delivered);
    assert_eq!(fake.requests().len(), 1);
}

mod sigv4_signing {
    use super::*;
    use crate::elasticsearch::sigv4::{self, Canonical, Credentials};
    use herald_config::Secret;
    use sha2::Digest as _;

    fn os_config(block: &str) -> SearchConfig {
        let (r, diags) = parse(&format!(
            "receivers:\n  - name: dump\n    opensearch:\n{block}"
        ));
        assert!(!diags.has_errors(), "{diags}");
        r[0].sink.downcast_ref::<OpenSearchConfig>().unwrap().0.clone()
    }

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: Secret::new("AKIDEXAMPLE".into()),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: Some(Secret::new("session-token".into())),
        }
    }

    #[test]
    fn the_aws_sigv4_block_is_checked() {
        let c = os_config("      index: k\n      awsSigV4:\n        region: eu-west-1\n        service: aoss\n");
        assert_eq!(
            c.sigv4,
            Some(SigV4Config {
                region: "eu-west-1".into(),
                service: "aoss".into()
            })
        );
        let c = os_config("      index: k\n      awsSigV4: {region: us-east-1}\n");
        assert_eq!(c.sigv4.unwrap().service, "es");
        let e = errors_of("      index: k\n      awsSigV4: {region: us-east-1}\n");
        assert!(e.contains("only available for `opensearch`"), "{e}");
        let (_, diags) = parse("receivers:\n  - name: d\n    opensearch:\n      index: k\n      awsSigV4: {service: es}\n");
        assert!(diags.to_string().contains("needs a `region`"), "{diags}");
        let (_, diags) = parse("receivers:\n  - name: d\n    opensearch:\n      index: k\n      awsSigV4: {region: x, service: s3}\n");
        assert!(diags.to_string().contains("unknown AWS service `s3`"), "{diags}");
        let c = os_config("      index: k\n      awsSigV4: {region: us-east-1}\n");
        let e = SearchSink::with_credentials("d", "opensearch", &c, Duration::from_secs(5), None)
            .err()
            .unwrap();
        assert!(matches!(e, SearchError::MissingAwsCredentials));
    }

    #[tokio::test]
    async fn requests_are_signed_when_sent() {
        let fake = FakeHttp::with_replies([ok_reply(1)]).await;
        let c = os_config(&format!(
            "      hosts: [\"{}\"]\n      index: k\n      awsSigV4: {{region: eu-west-1, service: aoss}}\n",
            fake.url()
        ));
        let sink =
            SearchSink::with_credentials("d", "opensearch", &c, Duration::from_secs(5), Some(credentials()))
                .unwrap();
        let request = sink.builder().request_for(&[&delivery()]).unwrap();
        // The preview shows the request unsigned.
        assert!(!sink.builder().describe(&request).contains("AWS4"));
        sink.send(&request).await.unwrap();
        let r = &fake.requests()[0];
        let one = |name: &str| r.header(name)[0].to_owned();
        assert_eq!(
            one("x-amz-content-sha256"),
            sigv4::hex(&sha2::Sha256::digest(&r.body))
        );
        assert_eq!(one("x-amz-security-token"), "session-token");
        let date = one("x-amz-date");
        let auth = one("authorization");
        assert!(
            auth.starts_with(&format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/eu-west-1/aoss/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
                , &date[..8]
            )),
            "{auth}"
        );
        // The signature is the one of the request as the target received it.
        let headers = ["content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"]
            .iter()
            .map(|n| ((*n).to_owned(), one(n)))
            .collect();
        let canonical = Canonical {
            method: "POST",
            path: "/_bulk",
            query: Vec::new(),
            headers,
            payload_sha256: one("x-amz-content-sha256"),
        };
        assert_eq!(
            auth,
            sigv4::authorization(&canonical, &date, "eu-west-1", "aoss", &credentials())
        );
    }
}

/// The README's `elasticsearch` example loads (its CA file swapped for a
/// real one).
#[test]
fn the_readme_example_loads() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("receivers:\n  - name: dump\n    elasticsearch:")
        .expect("README example");
    let block = &readme[start..];
    let block = &block[..block.find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["es-1".to_owned()]).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    let yaml = block.replace("/etc/es-ca.pem", &ca.display().to_string());
    let (r, diags) = parse(&yaml);
    assert!(!diags.has_errors(), "{diags}");
    let c = &r[0].sink.downcast_ref::<ElasticsearchConfig>().unwrap().0;
    assert_eq!(c.hosts.len(), 2);
    assert_eq!(c.index_time, IndexTime::Event);
    assert_eq!(c.document_id, DocumentId::Occurrence);
    assert!(c.authorization.as_ref().unwrap().expose().starts_with("ApiKey "));
}
