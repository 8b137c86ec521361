//! End-to-end: how the exporter serves — gRPC TLS with client certificates and bearer
//! tokens, readiness that follows the watch, and subscribers told on shutdown.

#[allow(dead_code)]
#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use herald_kubesim::HttpFault;
use herald_kubesim::tls::Pki;
use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

async fn channel(
    url: &str,
    pki: &Pki,
    client_cert: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if client_cert {
        tls = tls.identity(Identity::from_pem(
            &pki.client_cert_pem,
            &pki.client_key_pem,
        ));
    }
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

async fn status(ch: Channel, token: Option<&str>) -> Result<pb::LogStatus, tonic::Status> {
    let token = token.map(|t| {
        format!("Bearer {t}")
            .parse::<tonic::metadata::MetadataValue<_>>()
            .unwrap()
    });
    let mut c = EventLogClient::with_interceptor(ch, move |mut r: tonic::Request<()>| {
        if let Some(t) = &token {
            r.metadata_mut().insert("authorization", t.clone());
        }
        Ok(r)
    });
    c.get_log_status(pb::GetLogStatusRequest {})
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_requires_tls_client_certificates_and_a_token() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let pki = Pki::generate().unwrap();
    for (name, body) in [
        ("tls.crt", pki.server_cert_pem()),
        ("tls.key", pki.server_key_pem()),
        ("ca.crt", pki.ca_pem.clone()),
    ] {
        std::fs::write(setup.path(name), body).unwrap();
    }
    let cfg = setup.config(
        "config.yaml",
        &format!(
            "  grpc:\n    tls:\n      certFile: {}\n      keyFile: {}\n      clientCaFile: {}\n    authTokens: [\"s3cret-token\"]\n",
            setup.path("tls.crt").display(),
            setup.path("tls.key").display(),
            setup.path("ca.crt").display()
        ),
    );
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    let url = ex.grpc.replace("http://", "https://");
    // certificate and token: served
    let ok = status(
        channel(&url, &pki, true).await.unwrap(),
        Some("s3cret-token"),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    // wrong token: refused, and the token is not echoed
    let err = status(channel(&url, &pki, true).await.unwrap(), Some("wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(!err.message().contains("wrong"));
    // no token
    let err = status(channel(&url, &pki, true).await.unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    // no client certificate: the handshake (or the first call) fails
    let no_cert = match channel(&url, &pki, false).await {
        Ok(ch) => status(ch, Some("s3cret-token")).await.is_err(),
        Err(_) => true,
    };
    assert!(no_cert, "a client without a certificate must be refused");
    // plain text to a TLS port fails
    let plain = EventLogClient::connect(ex.grpc.clone()).await;
    let refused = match plain {
        Ok(mut c) => c.get_log_status(pb::GetLogStatusRequest {}).await.is_err(),
        Err(_) => true,
    };
    assert!(refused);
    assert!(
        !ex.log_text().contains("s3cret-token"),
        "the token never appears in logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_the_watch_and_subscribers_hear_about_shutdown() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config(
        "config.yaml",
        "  watch:\n    unhealthyAfter: 1s\n    timeout: 5s\n",
    );
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    // the API server starts failing every event request
    sim.faults()
        .fail_next("/api/v1/events", 10_000, HttpFault::InternalError);
    sim.faults().close_watches();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = reqwest::get(format!("{}/-/ready", ex.metrics))
            .await
            .unwrap();
        if r.status() == 503 {
            let body = r.text().await.unwrap();
            assert!(body.contains("watch"), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never turned unready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = ex.metrics_text().await;
    assert!(
        metrics.contains("herald_exporter_watch_healthy 0"),
        "{metrics}"
    );
    // it recovers by itself
    sim.faults().clear();
    ex.wait_ready().await;

    // a subscriber is told when the exporter shuts down
    let mut m = Member::join(&ex.grpc, "", "t", 10).await;
    let pid = ex.child.id();
    let waiter = tokio::spawn(async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), m.next_message()).await {
                Ok(Some(pb::subscribe_response::Response::Closing(c))) => return Some(c.reason),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let reason = waiter.await.unwrap();
    assert_eq!(reason.as_deref(), Some("shutting down"));
    // one SIGTERM is a clean stop (a second one would force exit code 130)
    assert_eq!(ex.wait_exit(), Some(0));
}

/// The exporter keeps serving its log while the API server is down at start, reports
/// unready and retries; once the API answers, new events flow.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_api_at_start_still_serves_the_log_and_retries() {
    let port = free_port();
    let bind: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let first = herald_kubesim::Simulator::start(herald_kubesim::SimConfig {
        bind,
        ..herald_kubesim::SimConfig::default()
    })
    .await
    .unwrap();
    let setup = Setup::new(&first);
    // the API's revisions restart with the second simulator: the watch finds that out
    // with its progress check
    let cfg = setup.config("config.yaml", "    progressCheck: 1s\n");
    create_events(&first, "shop", "before", 3);
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_logged(3).await;
    assert_eq!(ex.terminate(), Some(0));
    first.shutdown().await;

    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    // unready, with the reason
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = reqwest::get(format!("{}/-/ready", ex.metrics))
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if status == 503 && body.contains("cannot reach the Kubernetes API") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{status} {body}; log:\n{}",
            ex.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // a consumer group reads what the previous run logged
    let mut member = Member::join(&ex.grpc, "ruler", "ruler-0", 100).await;
    let mut names = Vec::new();
    while names.len() < 3 {
        let batch = member
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no batch; log:\n{}", ex.log_text()));
        let offsets = batch.events.iter().map(|e| e.offset).collect();
        names.extend(batch.events.into_iter().map(|e| e.metadata.unwrap().name));
        member.ack(offsets).await;
    }
    names.sort();
    assert_eq!(names, ["before-0", "before-1", "before-2"]);
    assert!(
        ex.log_text()
            .contains("cannot reach the Kubernetes API, retrying")
    );
    // the API comes up (with new revisions) and new events flow to the same member
    let second = herald_kubesim::Simulator::start(herald_kubesim::SimConfig {
        bind,
        ..herald_kubesim::SimConfig::default()
    })
    .await
    .unwrap();
    create_events(&second, "shop", "after", 2);
    ex.wait_ready().await;
    let mut after = Vec::new();
    while after.len() < 2 {
        let batch = member
            .next(Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("no new events; log:\n{}", ex.log_text()));
        let offsets = batch.events.iter().map(|e| e.offset).collect();
        after.extend(batch.events.into_iter().map(|e| e.metadata.unwrap().name));
        member.ack(offsets).await;
    }
    after.sort();
    assert_eq!(after, ["after-0", "after-1"]);
    assert_eq!(ex.terminate(), Some(0));
    second.shutdown().await;
}

/// A client that sends `Sync` after its last `Ack` and leaves when `Synced` arrives has
/// its acknowledgements committed: a SIGKILL of the exporter right after does not
/// deliver them again.
#[tokio::test(flavor = "multi_thread")]
async fn synced_acks_survive_a_kill_of_the_exporter() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    create_events(&sim, "shop", "ev", 6);
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_logged(6).await;
    let mut m = Member::join(&ex.grpc, "app", "app-0", 4).await;
    let b = m.next(Duration::from_secs(10)).await.unwrap();
    let offsets: Vec<u64> = b.events.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [1, 2, 3, 4]);
    m.ack(offsets).await;
    m.sync(7).await;
    let synced = loop {
        match m.next_message().await {
            Some(pb::subscribe_response::Response::Synced(s)) => break s,
            Some(pb::subscribe_response::Response::Batch(_)) => {}
            other => panic!("expected synced, got {other:?}"),
        }
    };
    assert_eq!(synced.token, 7);
    assert_eq!(synced.committed_offset, 4);
    // at once, without the periodic flush
    ex.kill9();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    let s = ex.status().await;
    let g = s.groups.iter().find(|g| g.name == "app").unwrap();
    assert_eq!(g.committed_offset, 4);
    let mut again = Member::join(&ex.grpc, "app", "app-0", 10).await;
    assert_eq!(again.welcome.committed_offset, 4);
    let b = again.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(b.events.first().map(|e| e.offset), Some(5));
}

/// A second connection with a member id that is connected to the group is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_member_id_is_refused() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    let _first = Member::join(&ex.grpc, "app", "app-0", 4).await;
    let mut c = EventLogClient::connect(ex.grpc.clone()).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(pb::SubscribeRequest {
        request: Some(pb::subscribe_request::Request::Hello(pb::Hello {
            group: "app".into(),
            member_id: "app-0".into(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let err = match c
        .subscribe(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
    {
        Err(e) => e,
        Ok(resp) => resp.into_inner().message().await.err().unwrap(),
    };
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains("app-0"), "{err:?}");
}

/// A group member that grants thousands of credits, with a client built from the
/// proto alone (tonic's default 4 MiB message limit), receives large Events in
/// messages it can decode: a batch is split on the wire, never sent as one message
/// past the limit (which the client would refuse, and be handed again and again).
#[tokio::test(flavor = "multi_thread")]
async fn a_member_with_thousands_of_credits_gets_large_events_in_messages_it_can_decode() {
    use pb::subscribe_request::Request as Msg;
    let sim = sim().await;
    let n = 2_000;
    let long = "x".repeat(4_096);
    for i in 0..n {
        let mut body = event("big", &format!("big-{i}"), "BackOff", chrono::Utc::now());
        body["message"] = serde_json::Value::String(format!("{i} {long}"));
        sim.create_event(body).unwrap();
    }
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    ex.wait_logged(n).await;
    let mut client = EventLogClient::connect(ex.grpc.clone()).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::SubscribeRequest {
        request: Some(Msg::Hello(pb::Hello {
            group: "large".into(),
            member_id: "m".into(),
            max_batch_size: 5_000,
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    tx.send(pb::SubscribeRequest {
        request: Some(Msg::Credit(pb::Credit { events: 5_000 })),
    })
    .await
    .unwrap();
    let mut stream = client
        .subscribe(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut offsets = std::collections::BTreeSet::new();
    let mut messages = 0;
    while offsets.len() < usize::try_from(n).unwrap() {
        let msg = tokio::time::timeout(Duration::from_secs(20), stream.message())
            .await
            .expect("a batch within 20 s")
            .expect("every message decodes within the default limit")
            .expect("the stream stays open");
        if let Some(pb::subscribe_response::Response::Batch(b)) = msg.response {
            messages += 1;
            for e in b.events {
                assert!(e.message.ends_with(&long), "{}", e.message.len());
                assert!(offsets.insert(e.offset), "offset {} twice", e.offset);
            }
        }
    }
    assert_eq!(offsets.len(), 2_000);
    assert!(messages >= 3, "≈ 10 MB came in {messages} messages");
    drop(tx);
}
