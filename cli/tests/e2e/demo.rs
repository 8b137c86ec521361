//! `herald demo`: a simulated cluster, herald in combined mode and a stdout receiver.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::procs::{Proc, bin, run_to_end};

#[test]
fn demo_prints_json_lines_and_exits_after_its_duration() {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--duration", "5", "--rate", "5", "-o", "json"]);
    let started = std::time::Instant::now();
    let out = run_to_end(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "stopped before --duration"
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        events.len() >= 3,
        "too few events in 5 s:\n{stdout}\n{stderr}"
    );
    for e in &events {
        for key in ["time", "type", "reason", "object", "count", "message"] {
            assert!(
                e[key].as_str().is_some_and(|v| !v.is_empty()),
                "`{key}` missing in {e}"
            );
        }
        assert!(
            matches!(e["type"].as_str(), Some("Normal" | "Warning")),
            "{e}"
        );
    }
}

#[test]
fn demo_json_repeats_are_told_apart_by_their_occurrence() {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--duration", "6", "--rate", "20", "-o", "json"]);
    let out = run_to_end(cmd, Duration::from_secs(40));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for e in &events {
        let key = e["key"].as_str().unwrap();
        assert!(
            keys.insert(key.to_owned()),
            "an occurrence printed twice: {e}"
        );
        // the count is the occurrence: the key's suffix (series.count for events.k8s.io)
        let occurrence = key.rsplit('-').next().unwrap();
        assert_eq!(e["count"].as_str().unwrap(), occurrence, "{e}");
        assert_ne!(e["count"], "0", "{e}");
    }
    assert!(events.len() >= 20, "{stdout}");
}

#[test]
fn demo_prints_a_table_and_the_addresses_to_tail_it() {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--duration", "5", "--rate", "5"]);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut lines = stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("OFFSET") && header.contains("REASON") && header.contains("COUNT"),
        "{stdout}"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() >= 3, "{stdout}\n{stderr}");
    for (i, row) in rows.iter().enumerate() {
        assert!(
            row.starts_with(&(i + 1).to_string()),
            "rows in log order: {row}"
        );
        assert!(
            row.contains(" Normal ") || row.contains(" Warning "),
            "{row}"
        );
    }
    assert!(stderr.contains("gRPC at 127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("metrics at http://127.0.0.1:"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn herald_tail_reads_a_running_demo_at_the_printed_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--rate", "10"]);
    let mut demo = Proc::spawn("demo", cmd, dir.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let grpc = loop {
        let log = demo.log();
        if let Some(rest) = log.split("gRPC at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        demo.assert_running();
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let metrics = demo
        .log()
        .split("metrics at ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut tail = Command::new(bin("herald"));
    tail.args([
        "tail",
        "--exporter",
        &grpc,
        "--from",
        "earliest",
        "--limit",
        "3",
        "-o",
        "json",
    ]);
    let out = crate::support::procs::run_to_end_async(tail, Duration::from_secs(30)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    assert!(
        text.contains("herald_exporter_events_logged_total"),
        "{text}"
    );
    assert!(
        demo.terminate(Duration::from_secs(20)).await.success(),
        "{}",
        demo.log()
    );
}
