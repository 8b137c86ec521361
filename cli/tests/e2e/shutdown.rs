//! Shutdown is bounded even when a receiver never succeeds: the ruler is blocked on a
//! full `onFull: block` queue and its exporter connection is blocked handing over the
//! next batch, SIGTERM still ends the process shortly after the grace period (a
//! clean exit), and every event the receiver could not take is delivered after a
//! restart — nothing is lost, nothing delivered twice. Both inputs are covered: the
//! in-process log of `herald run` and a gRPC exporter of `herald-ruler`. A second
//! SIGTERM does not wait for the grace period at all.

use std::time::{Duration, Instant};

use herald_telemetry::process::FORCED_EXIT_CODE;

use crate::support::cluster::{BASE_CONFIG, Cluster, Combined, Exporter, Ruler};
use crate::support::probe::{counts, eventually, metric, scrape};
use crate::support::target::{Mode, Target};

const EVENTS: usize = 60;
const GRACE_SECS: u64 = 2;
/// What shutdown may take past the grace period: the ack settle time and the bounded
/// close of the exporter connections, with room for a loaded CI machine.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(8);

fn config(cluster: &Cluster, url: &str, grace_secs: u64) -> std::path::PathBuf {
    cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}omitLookup: true
ruler:
  shutdownGrace: {grace_secs}s
route:
  routes:
    - match:
        - receiver: hook
receivers:
  - name: hook
    webhook:
      endpoint: {url}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
    delivery:
      queueSize: 2
      onFull: block
      timeout: 1s
      retry:
        initialBackoff: 50ms
        maxBackoff: 200ms
"#
        ),
    )
}

/// Waits until the receiver keeps failing with its queue full, i.e. the router is
/// blocked on it.
async fn wait_blocked(target: &Target, metrics: &str) {
    eventually(
        "the receiver failing with a full queue",
        Duration::from_secs(20),
        || async {
            let m = scrape(metrics).await;
            let depth = metric(
                &m,
                "herald_sink_buffer_events",
                &[("sink", "hook"), ("sink_type", "webhook")],
            );
            let attempts = target.hits().len();
            (depth >= 2.0 && attempts >= 3)
                .then_some(())
                .ok_or(format!("queue depth {depth}, {attempts} attempts"))
        },
    )
    .await;
}

/// Every key accepted by the target exactly once.
async fn wait_all_accepted(target: &Target, keys: &[String]) {
    eventually("every event accepted", Duration::from_secs(30), || async {
        let n = target.accepted().len();
        (n >= keys.len())
            .then_some(())
            .ok_or(format!("{n} of {} accepted", keys.len()))
    })
    .await;
    // let a late duplicate show up before counting
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = counts(
        target
            .accepted()
            .iter()
            .map(|h| h.json()["key"].as_str().expect("key").to_owned()),
    );
    assert_eq!(got, counts(keys.iter().cloned()), "lost or duplicated");
}

fn assert_bounded(started: Instant, what: &str, log: &str) {
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(GRACE_SECS) + SHUTDOWN_MARGIN,
        "{what} took {took:?} to stop; log:\n{log}"
    );
    assert!(
        took >= Duration::from_secs(GRACE_SECS) - Duration::from_millis(100),
        "{what} stopped after {took:?}, before its grace period; log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn combined_mode_stops_within_its_grace_period_while_a_receiver_keeps_failing() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = config(&cluster, &target.url, GRACE_SECS);
    let mut herald = Combined::start(&cluster, &config).await;
    let keys = cluster.create_numbered("stuck", 0..EVENTS, |_| true);
    wait_blocked(&target, &herald.metrics_url()).await;

    let started = Instant::now();
    let status = herald.proc.terminate(Duration::from_secs(30)).await;
    let log = herald.proc.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert_bounded(started, "herald run", &log);
    assert!(log.contains("did not drain"), "{log}");

    target.set_mode(Mode::Accept);
    let mut herald = Combined::start(&cluster, &config).await;
    wait_all_accepted(&target, &keys).await;
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ruler_stops_within_its_grace_period_while_a_receiver_keeps_failing() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = config(&cluster, &target.url, GRACE_SECS);
    let exporter = Exporter::start(&cluster, &config).await;
    let url = exporter.grpc_url();
    let mut ruler = Ruler::start(&cluster, &config, &url, "ruler-a", &[]).await;
    let keys = cluster.create_numbered("grpc", 0..EVENTS, |_| true);
    wait_blocked(&target, &ruler.metrics_url()).await;

    let started = Instant::now();
    let status = ruler.proc.terminate(Duration::from_secs(30)).await;
    let log = ruler.proc.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert_bounded(started, "herald-ruler", &log);

    // a new ruler gets everything the stopped one had not delivered
    target.set_mode(Mode::Accept);
    let mut ruler = Ruler::start(&cluster, &config, &url, "ruler-b", &[]).await;
    wait_all_accepted(&target, &keys).await;
    let status = ruler.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", ruler.proc.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_exits_at_once_and_loses_nothing() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = config(&cluster, &target.url, 600);
    let mut herald = Combined::start(&cluster, &config).await;
    let keys = cluster.create_numbered("forced", 0..EVENTS, |_| true);
    wait_blocked(&target, &herald.metrics_url()).await;

    let first = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(herald.proc.pid().to_string())
        .status()
        .expect("run kill");
    assert!(first.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    herald.proc.assert_running();
    // the second signal: no waiting for the 600 s grace period
    let status = herald.proc.terminate(Duration::from_secs(5)).await;
    assert_eq!(
        status.code(),
        Some(FORCED_EXIT_CODE),
        "{status}; log:\n{}",
        herald.proc.log()
    );

    target.set_mode(Mode::Accept);
    let mut herald = Combined::start(&cluster, &config).await;
    wait_all_accepted(&target, &keys).await;
    herald.proc.kill9();
}
