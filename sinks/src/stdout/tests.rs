//! `stdout` sink tests.

use tokio::io::AsyncReadExt as _;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, Sink};
use crate::model::tests::compat_example;

#[test]
fn the_example_parses() {
    let (r, diags) = parse(include_str!("../../examples/stdout.yaml"));
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<crate::stdout::StdoutConfig>().expect("not stdout");
    assert!(c.de_dot && c.layout.is_some());
}

#[tokio::test]
async fn writes_one_kee_json_line_per_event() {
    let (writer, mut reader) = tokio::io::duplex(1 << 16);
    let sink = StdoutSink::with_writer(&StdoutConfig::default(), Box::new(writer));
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let item = sink.builder().encode(&d).unwrap();
    let request = sink.builder().build_request(&[item.clone(), item]);
    sink.send(&request).await.unwrap();
    drop(sink);
    let mut out = String::new();
    reader.read_to_string(&mut out).await.unwrap();
    let mut expected = Vec::new();
    crate::model::kee_json(&d.event, false, &mut expected);
    let line = String::from_utf8(expected).unwrap() + "\n";
    assert_eq!(out, line.repeat(2));
}

#[tokio::test]
async fn applies_dedot_before_writing() {
    let (writer, mut reader) = tokio::io::duplex(1 << 16);
    let config = StdoutConfig {
        de_dot: true,
        layout: None,
    };
    let sink = StdoutSink::with_writer(&config, Box::new(writer));
    let mut ev = compat_example();
    ev.involved_object
        .labels
        .insert("app.kubernetes.io/name".into(), "web".into());
    let d = Delivery::from_event(ev, AckRef::detached());
    let request = sink.builder().build_request(&[sink.builder().encode(&d).unwrap()]);
    sink.send(&request).await.unwrap();
    drop(sink);
    let mut out = String::new();
    reader.read_to_string(&mut out).await.unwrap();
    assert!(out.contains("\"app_kubernetes_io/name\":\"web\""), "{out}");
    assert!(out.ends_with("}\n"));
}
