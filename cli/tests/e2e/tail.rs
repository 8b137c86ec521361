//! `herald tail` against a running `herald-exporter`: JSON lines with idempotency keys,
//! a server-side type filter, and a durable group that continues where it stopped.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::cluster::{BASE_CONFIG, Cluster, EventSpec, Exporter};
use crate::support::probe::{eventually, log_status};
use crate::support::procs::{bin, run_to_end_async};

const EVENTS: usize = 12;

/// Runs `herald tail --exporter URL --output json ARGS…` and parses its lines.
async fn tail(exporter: &str, args: &[&str]) -> Vec<Value> {
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("tail")
        .arg("--exporter")
        .arg(exporter)
        .arg("--output")
        .arg("json")
        .args(args);
    let out = run_to_end_async(cmd, Duration::from_secs(30)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "herald tail {args:?} failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn offsets(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l["offset"].as_u64().expect("offset"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_json_filters_by_type_and_groups_continue() {
    let cluster = Cluster::start().await;
    for i in 0..EVENTS {
        cluster.create_event(&EventSpec {
            namespace: "shop",
            name: format!("tail-{i:02}"),
            uid: format!("tail-uid-{i:02}"),
            pod: "web-0",
            event_type: if i % 3 == 2 { "Normal" } else { "Warning" },
            reason: if i % 3 == 2 { "Pulled" } else { "BackOff" },
        });
    }
    let config = cluster.write("config.yaml", &format!("{BASE_CONFIG}omitLookup: true\n"));
    let exporter = Exporter::start(&cluster, &config).await;
    let url = exporter.grpc_url();
    eventually("every event logged", Duration::from_secs(20), || async {
        let s = log_status(&url).await?;
        (s.last_offset >= EVENTS as u64)
            .then_some(())
            .ok_or(format!("last offset {}", s.last_offset))
    })
    .await;

    // an ephemeral tail from the beginning: N lines, each with its event's key
    let lines = tail(&url, &["--from", "earliest", "--limit", "5"]).await;
    assert_eq!(offsets(&lines), vec![1, 2, 3, 4, 5]);
    for l in &lines {
        let uid = l["event"]["metadata"]["uid"].as_str().expect("event uid");
        assert!(uid.starts_with("tail-uid-"), "{l}");
        assert_eq!(l["idempotencyKey"], format!("{uid}-1"), "{l}");
        assert_eq!(l["event"]["clusterName"], "e2e", "{l}");
        assert!(
            l["observedAt"].as_str().is_some_and(|t| !t.is_empty()),
            "{l}"
        );
    }

    // a server-side filter
    let warnings = tail(
        &url,
        &["--from", "earliest", "--type", "Warning", "--limit", "8"],
    )
    .await;
    assert_eq!(warnings.len(), 8);
    assert!(
        warnings.iter().all(|l| l["event"]["type"] == "Warning"),
        "{warnings:?}"
    );

    // a durable group: the second run continues after what the first acknowledged
    let group = ["--group", "audit", "--from", "earliest"];
    let first = tail(&url, &[&group[..], &["--limit", "5"]].concat()).await;
    let second = tail(&url, &[&group[..], &["--limit", "5"]].concat()).await;
    let third = tail(&url, &[&group[..], &["--limit", "2"]].concat()).await;
    assert_eq!(offsets(&first), vec![1, 2, 3, 4, 5]);
    assert_eq!(offsets(&second), vec![6, 7, 8, 9, 10]);
    assert_eq!(offsets(&third), vec![11, 12]);
    let keys: std::collections::BTreeSet<&str> = [&first, &second, &third]
        .into_iter()
        .flatten()
        .map(|l| l["idempotencyKey"].as_str().expect("key"))
        .collect();
    assert_eq!(keys.len(), EVENTS, "every event once: {keys:?}");
}
