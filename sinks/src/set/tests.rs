//! `SinkSet` tests: building from config, routing by name, a failing layout
//! on one receiver, health, SIGHUP reopen and drain reports.

use std::time::Duration;

use herald_proto::Event;
use herald_telemetry::Health;
use herald_telemetry::KeeMetrics;
use herald_telemetry::kee::KeeCounter;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckGroup, AckRef, BatchSettings, ack_channel};
use crate::model::tests::compat_example;

async fn build(yaml: &str) -> (SinkSet, SinkMetrics, KeeMetrics) {
    let (receivers, diags) = parse(yaml);
    assert!(!diags.has_errors(), "{diags}");
    let kee = KeeMetrics::new("");
    let metrics = SinkMetrics::new().with_kee(kee.clone());
    let set = SinkSet::build(&receivers, &metrics).await.unwrap();
    (set, metrics, kee)
}

/// A URL nothing listens on.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

#[tokio::test]
async fn builds_every_type_and_routes_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
receivers:
  - name: out
    stdout: {{}}
  - name: archive
    file: {{path: "{dir}/events.log"}}
  - name: fifo
    pipe: {{path: "{dir}/pipe.out"}}
  - name: hook
    webhook: {{endpoint: "http://127.0.0.1:9/"}}
  - name: mem
    inMemory: {{}}
"#,
        dir = dir.path().display()
    );
    let (set, _, _) = build(&yaml).await;
    let kinds: Vec<&str> = set.receivers().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["stdout", "file", "pipe", "webhook", "inMemory"]);
    // each type's batch defaults, from its folder
    let batches: Vec<BatchSettings> = set.receivers().iter().map(|r| r.settings().batch).collect();
    assert_eq!(
        batches,
        [
            BatchSettings::STREAM,
            BatchSettings::STREAM,
            BatchSettings::STREAM,
            BatchSettings::SINGLE,
            BatchSettings::STREAM
        ]
    );
    assert!(set.id("archive").is_some() && set.id("nope").is_none());
    let store = set.in_memory("mem").unwrap();
    let (tx, mut rx) = ack_channel();
    let ack = AckGroup::new(1, 1, &tx).remove(0);
    let outcome = set
        .deliver_to("mem", Delivery::from_event(compat_example(), ack))
        .await;
    assert_eq!(outcome, DeliverOutcome::Queued);
    assert_eq!(rx.recv().await.unwrap().delivered, 1);
    assert_eq!(store.events()[0].reason, "BackOff");

    let ack = AckGroup::new(2, 1, &tx).remove(0);
    let outcome = set
        .deliver_to("nope", Delivery::from_event(Event::default(), ack))
        .await;
    assert_eq!(outcome, DeliverOutcome::Rejected);
    assert_eq!(rx.recv().await.unwrap().rejected, 1);
    assert!(
        set.close_and_drain(Duration::from_secs(5))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn a_layout_failing_for_one_event_only_skips_that_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
receivers:
  - name: mem
    inMemory: {{}}
  - name: strict
    file:
      path: "{dir}/strict.log"
      layout:
        reason: "{{{{ .Reason }}}}"
        name: "{{{{ .Name.Missing }}}}"
"#,
        dir = dir.path().display()
    );
    let (set, metrics, kee) = build(&yaml).await;
    let (tx, mut rx) = ack_channel();
    let ev = std::sync::Arc::new(compat_example());
    let value = crate::model::event_value(&ev);
    let mut refs = AckGroup::new(7, 2, &tx);
    set.deliver(
        set.id("mem").unwrap(),
        Delivery::new(ev.clone(), value.clone(), refs.remove(0)),
    )
    .await;
    set.deliver(
        set.id("strict").unwrap(),
        Delivery::new(ev, value, refs.remove(0)),
    )
    .await;
    let n = rx.recv().await.unwrap();
    assert_eq!((n.offset, n.delivered, n.rejected), (7, 1, 1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("strict.log")).unwrap(),
        ""
    );
    assert_eq!(kee.get(KeeCounter::SendEventErrors), 1);
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("herald_sink_dropped_events_total{sink=\"strict\",sink_type=\"file\",reason=\"encode_error\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_receiver_failing_too_long_makes_readiness_fail() {
    let url = closed_port_url().await;
    let yaml = format!(
        "receivers:\n  - name: hook\n    webhook: {{endpoint: \"{url}\"}}\n    delivery:\n      unhealthyAfter: 50ms\n      retry: {{initialBackoff: 10ms, maxBackoff: 20ms}}\n  - name: mem\n    inMemory: {{}}\n"
    );
    let (set, _, _) = build(&yaml).await;
    let health = Health::new();
    let probe = health.probe("sinks");
    set.update_probe(&probe);
    assert!(health.readiness().0);
    set.deliver_to(
        "hook",
        Delivery::from_event(compat_example(), AckRef::detached()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let unhealthy = set.unhealthy();
    assert_eq!(unhealthy.len(), 1, "{unhealthy:?}");
    assert!(
        unhealthy[0].starts_with("receiver `hook` (webhook) failing for"),
        "{unhealthy:?}"
    );
    set.update_probe(&probe);
    let (ready, reasons) = health.readiness();
    assert!(!ready);
    assert!(reasons[0].contains("hook"), "{reasons:?}");

    // The retrying request never succeeds: the drain gives up on it.
    let report = set.close_and_drain(Duration::from_millis(200)).await;
    assert_eq!(report.drained, ["mem"]);
    assert_eq!(report.not_drained, [("hook".to_owned(), 1)]);
}

#[tokio::test]
async fn reopen_reaches_file_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    let yaml = format!(
        "receivers:\n  - name: archive\n    file: {{path: \"{}\"}}\n",
        path.display()
    );
    let (set, _, _) = build(&yaml).await;
    let (tx, mut rx) = ack_channel();
    let send = |offset| {
        let ack = AckGroup::new(offset, 1, &tx).remove(0);
        set.deliver_to("archive", Delivery::from_event(compat_example(), ack))
    };
    send(1).await;
    rx.recv().await.unwrap();
    std::fs::rename(&path, dir.path().join("events.log.1")).unwrap();
    set.reopen().await;
    send(2).await;
    rx.recv().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_fails_the_build_with_its_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (mut receivers, diags) = parse(
        "receivers:\n  - name: ok\n    inMemory: {}\n  - name: broken\n    file: {path: /tmp/placeholder.log}\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    // Something the config check cannot see: the directory appears as a
    // regular file after the config was read.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let mut f = receivers[1]
        .sink
        .downcast_ref::<crate::file::FileConfig>()
        .expect("not a file receiver")
        .clone();
    f.path = dir.path().join("blocker/events.log");
    receivers[1].sink = crate::SinkConfig::new(f);
    let e = SinkSet::build(&receivers, &SinkMetrics::new())
        .await
        .unwrap_err();
    assert_eq!(e.receiver, "broken");
    assert_eq!(e.location.line, 4);
    assert!(
        e.to_string()
            .starts_with("receiver `broken` at line 4: cannot open"),
        "{e}"
    );
}

#[tokio::test]
async fn delivery_batch_keys_apply_over_the_type_defaults() {
    let (set, _, _) = build(
        "receivers:\n  - name: hook\n    webhook: {endpoint: \"http://127.0.0.1:9/\"}\n    delivery:\n      batch: {maxEvents: 20}\n      timeout: 3s\n",
    )
    .await;
    let s = set.receivers()[0].settings();
    assert_eq!(s.batch.max_events, 20);
    assert_eq!(s.batch.max_bytes, BatchSettings::SINGLE.max_bytes);
    assert_eq!(s.batch.linger, BatchSettings::SINGLE.linger);
    assert_eq!(s.timeout, Duration::from_secs(3));
}
