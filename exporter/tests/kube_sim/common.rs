//! Shared helpers: a simulator, a connected API handle, event builders.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use herald_exporter::kube::client::{ClientEnv, ClientOptions, KubeConnection, connect};
use herald_exporter::kube::{BackoffOptions, KubeApi, KubeStats, WatchItem};
use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator};
use serde_json::{Value, json};

/// Starts a plain-HTTP simulator without authentication.
pub async fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).await.unwrap()
}

/// Client options reading only `kubeconfig` (nothing from the real environment).
pub fn options(kubeconfig: &std::path::Path, stats: Arc<KubeStats>) -> ClientOptions {
    ClientOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        service_account_dir: kubeconfig.with_file_name("no-service-account"),
        env: ClientEnv::default(),
        qps: -1.0,
        burst: 0,
        request_timeout: Duration::from_secs(5),
        stats,
    }
}

/// Connects to `sim` through an anonymous kubeconfig; returns the API and its stats.
pub async fn api(sim: &Simulator) -> (KubeApi, Arc<KubeStats>) {
    let conn = connection(sim, KubeconfigAuth::Anonymous).await;
    let stats = conn.api.stats().clone();
    (conn.api, stats)
}

/// Connects to `sim` with `auth`.
pub async fn connection(sim: &Simulator, auth: KubeconfigAuth) -> KubeConnection {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path, auth).unwrap();
    connect(options(&path, Arc::new(KubeStats::default())))
        .await
        .unwrap()
}

/// Backoff for tests: short delays.
pub fn fast_backoff() -> BackoffOptions {
    BackoffOptions {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        reset_after: Duration::from_secs(10),
    }
}

/// A core/v1 Event about pod `ns/pod`.
pub fn event(ns: &str, name: &str, pod: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1",
                           "uid": format!("uid-{pod}")},
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "source": {"component": "kubelet", "host": "worker-1"},
        "firstTimestamp": "2026-11-22T01:40:00Z",
        "lastTimestamp": "2026-11-22T01:40:00Z",
        "count": 1,
        "type": "Warning",
        "eventTime": null,
        "reportingComponent": "",
        "reportingInstance": ""
    })
}

/// Returns the next stream item, failing the test after 10 s.
pub async fn next<S: Stream<Item = WatchItem> + Unpin>(stream: &mut S) -> WatchItem {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no watch item within 10 s")
        .expect("watch stream ended")
}

/// Skips items until an Event arrives and returns it with its observation.
pub async fn next_event<S: Stream<Item = WatchItem> + Unpin>(
    stream: &mut S,
) -> (herald_proto::Event, herald_proto::Observation) {
    loop {
        match next(stream).await {
            WatchItem::Event { event, observation } => return (event, observation),
            WatchItem::Checkpoint { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Polls `cond` every 10 ms for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
