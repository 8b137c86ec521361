//! One receiver misbehaving never holds up the others: a layout that fails for some
//! events (only that receiver skips them, counted and logged, and they are still
//! acknowledged), and a webhook that never answers (timed out, retried, and with
//! `onFull: drop` the other receivers keep flowing); a receiver that keeps failing
//! shows as consumer lag on the ruler.

use std::time::Duration;

use crate::support::cluster::{BASE_CONFIG, Cluster, Combined, Exporter, Ruler};
use crate::support::probe::{
    counts, eventually, fully_acknowledged, json_lines, log_records, log_status, metric, scrape,
};
use crate::support::target::{Mode, Target};

const EVENTS: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn a_layout_failing_for_some_events_skips_them_for_that_receiver_only() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Accept).await;
    let (archive, fragile) = (cluster.path("archive.log"), cluster.path("fragile.log"));
    let config = cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}omitLookup: true
exporter:
  subscribers:
    ackTimeout: 2s
route:
  routes:
    - match:
        - receiver: archive
        - receiver: fragile
        - receiver: hook
receivers:
  - name: archive
    file:
      path: {archive}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
  - name: fragile
    file:
      path: {fragile}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
        owner: "{{{{ if eq .Type \"Warning\" }}}}{{{{ .NoSuchField }}}}{{{{ end }}}}"
  - name: hook
    webhook:
      endpoint: {url}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
"#,
            archive = archive.display(),
            fragile = fragile.display(),
            url = target.url,
        ),
    );
    let exporter = Exporter::start(&cluster, &config).await;
    let ruler = Ruler::start(&cluster, &config, &exporter.grpc_url(), "ruler-0", &[]).await;
    let warning = |i: usize| i % 5 < 3; // 6 of 10
    cluster.create_numbered("tf", 0..EVENTS, warning);

    let grpc = exporter.grpc_url();
    eventually("every event acknowledged", Duration::from_secs(20), || {
        fully_acknowledged(&grpc, "ruler", EVENTS as u64)
    })
    .await;
    // longer than the ack timeout: a skipped event is not redelivered
    tokio::time::sleep(Duration::from_secs(3)).await;

    let key = |i: usize| format!("tf-uid-{i:03}-1");
    let all: Vec<String> = (0..EVENTS).map(key).collect();
    let normal: Vec<String> = (0..EVENTS).filter(|i| !warning(*i)).map(key).collect();
    let keys = |path| {
        json_lines(path)
            .iter()
            .map(|l| l["key"].as_str().expect("key").to_owned())
            .collect::<Vec<_>>()
    };
    let hook_keys: Vec<String> = target
        .accepted()
        .iter()
        .map(|h| h.json()["key"].as_str().expect("key").to_owned())
        .collect();
    // the other receivers got every event, once; the failing one only the others
    assert_eq!(counts(keys(&archive)), counts(all.clone()));
    assert_eq!(counts(hook_keys), counts(all));
    assert_eq!(counts(keys(&fragile)), counts(normal.clone()));

    let m = scrape(&ruler.metrics_url()).await;
    let skipped = (EVENTS - normal.len()) as f64;
    let fragile_sink = [("sink", "fragile")];
    assert_eq!(
        metric(
            &m,
            "herald_sink_dropped_events_total",
            &[("sink", "fragile"), ("reason", "encode_error")]
        ),
        skipped,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "herald_sink_errors_total",
            &[("sink", "fragile"), ("error_type", "encode")]
        ),
        skipped
    );
    assert_eq!(
        metric(&m, "herald_sink_sent_events_total", &fragile_sink),
        normal.len() as f64
    );
    assert_eq!(
        metric(
            &m,
            "herald_sink_dropped_events_total",
            &[("sink", "archive")]
        ),
        0.0
    );
    assert_eq!(
        metric(
            &m,
            "herald_ruler_events_received_total",
            &[("receiver", "fragile")]
        ),
        EVENTS as f64,
        "events were redelivered"
    );

    // one warning per skipped event, naming the receiver and the event
    let log = ruler.proc.log();
    let warns: Vec<_> = log_records(&log, "WARN")
        .into_iter()
        .filter(|r| r["sink"] == "fragile")
        .collect();
    assert_eq!(warns.len(), skipped as usize, "{log}");
    for w in &warns {
        assert!(
            w["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot encode")),
            "{w}"
        );
        assert!(
            w["error"]
                .as_str()
                .is_some_and(|e| e.contains("NoSuchField")),
            "{w}"
        );
        let event = w["event"].as_str().expect("event key in the warning");
        assert!(!normal.iter().any(|k| k == event), "{w}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_webhook_times_out_and_retries_while_other_receivers_flow() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Hang).await;
    let archive = cluster.path("archive.log");
    let config = cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}omitLookup: true
ruler:
  shutdownGrace: 1s
route:
  routes:
    - match:
        - receiver: archive
        - receiver: stuck
receivers:
  - name: archive
    file:
      path: {archive}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
  - name: stuck
    webhook:
      endpoint: {url}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
    delivery:
      queueSize: 2
      onFull: drop
      timeout: 500ms
      retry:
        initialBackoff: 50ms
        maxBackoff: 100ms
"#,
            archive = archive.display(),
            url = target.url,
        ),
    );
    let mut herald = Combined::start(&cluster, &config).await;
    const N: usize = 20;
    cluster.create_numbered("hang", 0..N, |_| true);

    // the file receiver gets everything although the webhook never answers
    eventually(
        "every event in the file",
        Duration::from_secs(15),
        || async {
            let n = json_lines(&archive).len();
            (n >= N).then_some(()).ok_or(format!("{n} of {N} lines"))
        },
    )
    .await;
    let keys: Vec<String> = json_lines(&archive)
        .iter()
        .map(|l| l["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(
        counts(keys),
        counts((0..N).map(|i| format!("hang-uid-{i:03}-1")))
    );

    // the hanging request is timed out and sent again, the same event each time
    let first = eventually("three attempts", Duration::from_secs(10), || async {
        let hits = target.hits();
        (hits.len() >= 3)
            .then(|| hits[0].json()["key"].clone())
            .ok_or(format!("{} attempts", hits.len()))
    })
    .await;
    assert!(
        target.hits().iter().all(|h| h.json()["key"] == first),
        "a retry sent another event"
    );
    let m = scrape(&herald.metrics_url()).await;
    let stuck = |name: &str, extra: (&str, &str)| metric(&m, name, &[("sink", "stuck"), extra]);
    assert!(
        stuck("herald_sink_retries_total", ("sink_type", "webhook")) >= 2.0,
        "{m}"
    );
    // every attempt ended at the 500 ms timeout instead of hanging (the driver's timer
    // and the HTTP client's race, so the failure is labelled `timeout` or `retriable`)
    let failed = stuck("herald_sink_errors_total", ("error_type", "timeout"))
        + stuck("herald_sink_errors_total", ("error_type", "retriable"));
    let attempts = stuck(
        "herald_sink_request_duration_seconds_count",
        ("sink_type", "webhook"),
    );
    let seconds = stuck(
        "herald_sink_request_duration_seconds_sum",
        ("sink_type", "webhook"),
    );
    assert!(failed >= 2.0 && attempts >= failed, "{m}");
    assert!(
        seconds / attempts >= 0.45 && seconds / attempts < 1.0,
        "attempts took {seconds} s / {attempts}"
    );
    // queue (2) + the request in flight + the one waiting for it are held; the rest
    // were dropped for this receiver only
    let dropped = stuck("herald_sink_dropped_events_total", ("reason", "queue_full"));
    assert!(dropped >= (N - 4) as f64 && dropped < N as f64, "{m}");
    assert_eq!(
        metric(&m, "herald_sink_sent_events_total", &[("sink", "archive")]),
        N as f64
    );

    // shutdown gives up on the hanging receiver after the grace period
    let status = herald.proc.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_receiver_shows_as_consumer_lag_on_the_ruler() {
    // the chart's optional HPA custom metric scales rulers on this gauge
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}omitLookup: true
ruler:
  shutdownGrace: 1s
route:
  routes:
    - match:
        - receiver: down
receivers:
  - name: down
    webhook:
      endpoint: {url}
    delivery:
      retry:
        initialBackoff: 50ms
        maxBackoff: 100ms
"#,
            url = target.url,
        ),
    );
    let exporter = Exporter::start(&cluster, &config).await;
    const N: usize = 7;
    cluster.create_numbered("lag", 0..N, |_| true);
    let grpc = exporter.grpc_url();
    eventually("every event logged", Duration::from_secs(15), || async {
        let s = log_status(&grpc).await?;
        (s.last_offset >= N as u64)
            .then_some(())
            .ok_or(format!("last offset {}", s.last_offset))
    })
    .await;
    let ruler = Ruler::start(&cluster, &config, &grpc, "ruler-0", &[]).await;
    let labels = [
        ("exporter", grpc.as_str()),
        ("group", "ruler.down"),
        ("receiver", "down"),
    ];
    eventually("the lag of the group", Duration::from_secs(15), || async {
        let m = scrape(&ruler.metrics_url()).await;
        let lag = metric(&m, "herald_ruler_consumer_lag", &labels);
        (lag == N as f64)
            .then_some(())
            .ok_or(format!("lag {lag}, want {N}"))
    })
    .await;
    assert!(target.hits().len() >= 2, "the webhook is being retried");
}
