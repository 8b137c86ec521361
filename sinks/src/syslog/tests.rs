//! `syslog` config, frames and transports against local sockets. The tests
//! against a real rsyslogd are in `sinks/tests/syslog.rs`.

use chrono::{TimeZone as _, Utc};

use super::frame::{Framer, MessageParts, cut, priority, severity_of};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, Sink as _};
use crate::model::tests::compat_example;

fn load(yaml: &str) -> (Option<SyslogConfig>, herald_config::Diagnostics) {
    let (r, diags) = parse(yaml);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<SyslogConfig>())
        .cloned();
    (c, diags)
}

fn syslog(block: &str) -> (Option<SyslogConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: s\n    syslog:\n{block}"))
}

fn delivery() -> Delivery {
    Delivery::from_event(compat_example(), AckRef::detached())
}

/// kubernetes-event-exporter's README example loads unchanged, with KEE's
/// frame as the default.
#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load(
        "receivers:\n  - name: \"syslog\"\n    syslog:\n      network: \"tcp\"\n      address: \"127.0.0.1:11514\"\n      tag: \"k8s.event\"\n",
    );
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.network, Network::Tcp);
    assert_eq!(c.address, "127.0.0.1:11514");
    assert_eq!(c.tag, "k8s.event");
    assert_eq!(c.format, MessageFormat::Rfc3164);
    assert_eq!(c.facility, Facility::LOCAL0);
    assert_eq!(c.framing, Framing::Newline);
    assert_eq!(c.max_message_size, 8192);
}

#[test]
fn the_example_file_loads() {
    let (c, diags) = load(include_str!("../../examples/syslog.yaml"));
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.format, MessageFormat::Rfc5424);
    assert_eq!(c.facility, Facility(17));
}

#[test]
fn tls_defaults_to_octet_counting_and_an_empty_network_is_the_local_socket() {
    let (c, diags) = syslog("      network: tls\n      address: \"127.0.0.1:6514\"\n");
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(c.unwrap().framing, Framing::OctetCounting);
    let (c, diags) = syslog("      tag: x\n");
    assert!(!diags.has_errors(), "{diags}");
    let c = c.unwrap();
    assert_eq!(c.network, Network::Local);
    assert!(c.address.is_empty());
}

#[test]
fn without_a_tag_the_program_name_is_used() {
    let (c, _) = syslog("      network: udp\n      address: \"127.0.0.1:514\"\n");
    let tag = c.unwrap().tag;
    let exe = std::env::current_exe().unwrap();
    assert_eq!(tag, exe.file_name().unwrap().to_string_lossy());
}

#[test]
fn bad_settings_are_errors_with_location_and_hint() {
    for (block, message, hint) in [
        ("      network: sctp\n      address: \"a:1\"\n", "unknown syslog network `sctp`", "tcp, udp"),
        ("      network: tcp\n", "needs an `address`", "host:port"),
        ("      network: tcp\n      address: syslog.example.com\n", "has no port", "host:port"),
        ("      network: udp\n      address: \"no-such-host.invalid:514\"\n", "does not resolve", "host name"),
        ("      network: unix\n", "needs an `address`", "path"),
        ("      network: tcp\n      address: \"127.0.0.1:514\"\n      facility: local9\n", "unknown syslog facility `local9`", "local7"),
        ("      network: tcp\n      address: \"127.0.0.1:514\"\n      format: json\n", "unknown syslog format", "rfc5424"),
        ("      network: tcp\n      address: \"127.0.0.1:514\"\n      framing: lines\n", "unknown syslog framing", "octet-counting"),
        ("      network: udp\n      address: \"127.0.0.1:514\"\n      maxMessageSize: 100\n", "out of range", "480"),
    ] {
        let (c, diags) = syslog(block);
        assert!(c.is_none(), "{block}");
        let e = diags.errors().next().unwrap_or_else(|| panic!("no error for {block}"));
        let shown = diags.to_string();
        assert!(e.message.contains(message), "{block}: {shown}");
        assert!(shown.contains("config.yaml:") && shown.contains(hint), "{block}: {shown}");
    }
}

#[test]
fn severity_follows_the_event_type_and_facility_is_configurable() {
    assert_eq!(severity_of("Warning"), 4);
    assert_eq!(severity_of("Normal"), 5);
    assert_eq!(severity_of(""), 5);
    assert_eq!(priority(Facility::LOCAL0, 4), 132);
    assert_eq!(priority(Facility::LOCAL0, 5), 133);
    let (c, _) = syslog("      network: udp\n      address: \"127.0.0.1:514\"\n      facility: daemon\n");
    assert_eq!(c.unwrap().facility, Facility(3));
}

fn parts(time: chrono::DateTime<Utc>) -> MessageParts<'static> {
    MessageParts {
        severity: 4,
        time,
        reason: "BackOff",
        idempotency_key: "0b7c-1",
        cluster: "prod \"eu\"]",
    }
}

fn framer(format: MessageFormat, local: bool) -> Framer {
    Framer {
        format,
        local,
        facility: Facility::LOCAL0,
        hostname: "node-a".into(),
        tag: "k8s.event".into(),
        pid: 42,
    }
}

/// The frame of Go's `log/syslog`: `<PRI>RFC3339 host tag[pid]: `, and
/// `<PRI>Stamp tag[pid]: ` on the local socket.
#[test]
fn rfc3164_headers_are_go_s_frames() {
    let t = Utc.with_ymd_and_hms(2024, 5, 4, 10, 0, 3).unwrap();
    let mut out = Vec::new();
    framer(MessageFormat::Rfc3164, false).header(&parts(t), &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "<132>2024-05-04T10:00:03Z node-a k8s.event[42]: ");
    let mut out = Vec::new();
    framer(MessageFormat::Rfc3164, true).header(&parts(t), &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "<132>May  4 10:00:03 k8s.event[42]: ");
}

#[test]
fn rfc5424_headers_carry_structured_data_escaped() {
    let t = Utc.with_ymd_and_hms(2024, 5, 14, 10, 0, 3).unwrap();
    let mut out = Vec::new();
    framer(MessageFormat::Rfc5424, false).header(&parts(t), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"<132>1 2024-05-14T10:00:03.000000Z node-a k8s.event 42 BackOff [herald@32473 idempotencyKey="0b7c-1" cluster="prod \"eu\"\]"] "#
    );
    let mut p = parts(t);
    p.reason = "";
    p.cluster = "";
    let mut f = framer(MessageFormat::Rfc5424, false);
    f.tag = "a tag with spaces".into();
    let mut out = Vec::new();
    f.header(&p, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"<132>1 2024-05-14T10:00:03.000000Z node-a a_tag_with_spaces 42 - [herald@32473 idempotencyKey="0b7c-1"] "#
    );
}

#[test]
fn cuts_keep_utf8_whole() {
    let mut m = "aé".as_bytes().to_vec(); // 61 c3 a9
    assert!(cut(&mut m, 2));
    assert_eq!(m, b"a");
    let mut m = b"abc".to_vec();
    assert!(!cut(&mut m, 3));
    assert_eq!(m, b"abc");
}

#[test]
fn the_message_is_the_event_json_or_the_layout() {
    let (c, _) = syslog("      network: tcp\n      address: \"127.0.0.1:514\"\n      tag: t\n");
    let b = SyslogBuilder::new("s", &c.unwrap());
    let item = b.encode(&delivery()).unwrap();
    let text = String::from_utf8(item.bytes().to_vec()).unwrap();
    let (header, json) = text.split_once("]: ").unwrap();
    assert!(header.starts_with("<132>") && header.contains(" t["), "{header}");
    assert!(json.ends_with("}\n"), "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(v["metadata"]["uid"], "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11");

    let (c, _) = syslog(
        "      network: tcp\n      address: \"127.0.0.1:514\"\n      layout:\n        reason: \"{{ .Reason }}\"\n",
    );
    let b = SyslogBuilder::new("s", &c.unwrap());
    let text = String::from_utf8(b.encode(&delivery()).unwrap().bytes().to_vec()).unwrap();
    assert!(text.ends_with("]: {\"reason\":\"BackOff\"}\n"), "{text}");
}

#[test]
fn octet_counting_prefixes_each_message_with_its_length() {
    let (c, _) = syslog(
        "      network: tcp\n      address: \"127.0.0.1:514\"\n      format: rfc5424\n      framing: octet-counting\n",
    );
    let b = SyslogBuilder::new("s", &c.unwrap());
    let item = b.encode(&delivery()).unwrap();
    assert!(!item.bytes().ends_with(b"\n"));
    let r = b.build_request(&[item.clone(), item.clone()]);
    let expected = format!("{} ", item.bytes().len()).into_bytes();
    assert!(r.messages[0].starts_with(&expected));
    assert_eq!(r.messages[0].len(), expected.len() + item.bytes().len());
    assert!(b.describe(&r).starts_with("syslog tcp 2 message(s)\n"));
}

/// UDP: one datagram per message, cut at `maxMessageSize` and counted.
#[tokio::test]
async fn udp_datagrams_are_cut_and_counted() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (c, diags) = syslog(&format!(
        "      network: udp\n      address: \"{}\"\n      maxMessageSize: 1500\n",
        server.local_addr().unwrap()
    ));
    assert!(!diags.has_errors(), "{diags}");
    let sink = SyslogSink::new("s", &c.unwrap()).unwrap();
    let mut long = compat_example();
    long.message = "x".repeat(3000);
    let short = compat_example();
    let items: Vec<_> = [long, short]
        .into_iter()
        .map(|e| {
            sink.builder()
                .encode(&Delivery::from_event(e, AckRef::detached()))
                .unwrap()
        })
        .collect();
    let request = sink.builder().build_request(&items);
    sink.send(&request).await.unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = server.recv(&mut buf).await.unwrap();
    assert_eq!(n, 1500);
    let n = server.recv(&mut buf).await.unwrap();
    assert!(n < 1500 && buf[..n].ends_with(b"}\n"), "{n}");
    assert_eq!(sink.stats().truncated(), 1);
}

/// A TCP server that closed the connection is noticed before the next write,
/// which goes over a new connection: nothing is written into a dead socket.
#[tokio::test]
async fn a_closed_tcp_connection_is_replaced_before_writing() {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (c, _) = syslog(&format!(
        "      network: tcp\n      address: \"{}\"\n",
        listener.local_addr().unwrap()
    ));
    let sink = SyslogSink::new("s", &c.unwrap()).unwrap();
    let item = sink.builder().encode(&delivery()).unwrap();
    let request = sink.builder().build_request(std::slice::from_ref(&item));
    sink.send(&request).await.unwrap();
    let (mut first, _) = listener.accept().await.unwrap();
    let mut buf = vec![0u8; item.bytes().len()];
    first.read_exact(&mut buf).await.unwrap();
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    sink.send(&request).await.unwrap();
    let (mut second, _) = listener.accept().await.unwrap();
    second.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, item.bytes());
    assert_eq!(sink.stats().connects(), 2);
}

/// A server that is not there is a retriable error naming the address.
#[tokio::test]
async fn an_unreachable_server_is_retriable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (c, _) = syslog(&format!("      network: tcp\n      address: \"127.0.0.1:{port}\"\n"));
    let sink = SyslogSink::new("s", &c.unwrap()).unwrap();
    let item = sink.builder().encode(&delivery()).unwrap();
    let e = sink
        .send(&sink.builder().build_request(&[item]))
        .await
        .unwrap_err();
    assert!(e.is_retriable(), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

/// `network: tls`: the server certificate is checked against `caFile` and
/// `serverName`, messages are octet-counted (RFC 5425), and without the CA the
/// connection is refused (a retriable error).
#[tokio::test]
async fn tls_checks_the_server_and_counts_octets() {
    use rustls::ServerConfig;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt as _;
    use tokio_rustls::TlsAcceptor;

    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["syslog.herald.test".to_owned()]).unwrap();
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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let _ = tx.send(got.clone());
                    }
                }
            });
        }
    });
    let base = format!("      network: tls\n      address: \"{addr}\"\n      format: rfc5424\n");
    let (c, diags) = syslog(&base);
    assert!(!diags.has_errors(), "{diags}");
    let sink = SyslogSink::new("s", &c.unwrap()).unwrap();
    let item = sink.builder().encode(&delivery()).unwrap();
    let request = sink.builder().build_request(std::slice::from_ref(&item));
    let e = sink.send(&request).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");

    let (c, diags) = syslog(&format!(
        "{base}      tls:\n        caFile: {}\n        serverName: syslog.herald.test\n",
        ca.display()
    ));
    assert!(!diags.has_errors(), "{diags}");
    let sink = SyslogSink::new("s", &c.unwrap()).unwrap();
    sink.send(&request).await.unwrap();
    let expected = [format!("{} ", item.bytes().len()).as_bytes(), item.bytes()].concat();
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let got = rx.recv().await.unwrap();
            if got.len() >= expected.len() {
                return got;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got, expected);
}
