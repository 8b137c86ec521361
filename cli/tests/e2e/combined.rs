//! `herald run` (combined mode) with a file receiver: every event reaches the file
//! exactly once, also across a clean restart, and SIGTERM exits 0.

use std::time::Duration;

use crate::support::cluster::{Cluster, Combined, archive_config};
use crate::support::probe::{counts, eventually, fully_acknowledged, json_lines};

#[tokio::test(flavor = "multi_thread")]
async fn run_delivers_every_event_to_a_file_exactly_once_and_stops_cleanly() {
    let cluster = Cluster::start().await;
    let archive = cluster.path("archive.log");
    let config = cluster.write(
        "config.yaml",
        &archive_config(
            &archive,
            "      layout:
        key: \"{{ .IdempotencyKey }}\"
        reason: \"{{ .Reason }}\"
        count: \"{{ .Count }}\"
",
        ),
    );
    let mut herald = Combined::start(&cluster, &config).await;
    cluster.create_numbered("run", 0..30, |_| true);
    let wanted: Vec<String> = (0..30).map(|i| format!("run-uid-{i:03}-1")).collect();
    eventually("30 events in the file", Duration::from_secs(20), || async {
        let n = json_lines(&archive).len();
        (n >= 30).then_some(()).ok_or(format!("{n} lines"))
    })
    .await;
    let url = herald.grpc_url();
    eventually("all acknowledged", Duration::from_secs(10), || {
        fully_acknowledged(&url, "ruler", 30)
    })
    .await;
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());

    // a clean restart re-sends nothing; new events still arrive
    cluster.create_numbered("run", 30..40, |_| true);
    let mut herald = Combined::start(&cluster, &config).await;
    eventually("40 events in the file", Duration::from_secs(20), || async {
        let n = json_lines(&archive).len();
        (n >= 40).then_some(()).ok_or(format!("{n} lines"))
    })
    .await;
    let url = herald.grpc_url();
    eventually("all acknowledged", Duration::from_secs(10), || {
        fully_acknowledged(&url, "ruler", 40)
    })
    .await;
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());

    let lines = json_lines(&archive);
    let seen = counts(lines.iter().map(|l| l["key"].as_str().unwrap().to_owned()));
    let all: Vec<String> = wanted
        .into_iter()
        .chain((30..40).map(|i| format!("run-uid-{i:03}-1")))
        .collect();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), all);
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["count"] == "1" && l["reason"] == "BackOff")
    );
}
