//! The chart's Grafana dashboard queries only metrics a running herald exposes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::procs::{Proc, bin};

/// Every `herald_*` metric name in the dashboard's PromQL (targets and variables).
fn queried_metrics() -> BTreeSet<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/herald/dashboards/herald.json");
    let dashboard: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut exprs: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    let mut names = BTreeSet::new();
    for e in &exprs {
        let bytes = e.as_bytes();
        let mut i = 0;
        while let Some(at) = e[i..].find("herald_") {
            let start = i + at;
            let boundary = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            let end = e[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(e.len(), |n| start + n);
            if boundary {
                names.insert(e[start..end].to_owned());
            }
            i = end;
        }
    }
    names
}

/// Whether `/metrics` text declares `name`: a sample of it, or its family's `# TYPE`
/// line (families whose labelled series have not occurred yet, such as errors).
fn exposed(text: &str, name: &str) -> bool {
    let sample = text.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
    });
    let base = ["_total", "_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    sample || text.contains(&format!("# TYPE {base} "))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_dashboard_queries_is_exposed_by_a_running_herald() {
    let names = queried_metrics();
    assert!(names.len() >= 12, "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    // a receiver whose target refuses every request, so the error and drop series exist
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refusing.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in refusing.incoming() {
            let Ok(mut conn) = conn else { break };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = [0u8; 65536];
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "logLevel: warn\nmaxEventAgeSeconds: 60\nroute:\n  routes:\n    - match:\n        - receiver: console\n        - receiver: refused\nreceivers:\n  - name: console\n    stdout: {{}}\n  - name: refused\n    webhook:\n      endpoint: http://127.0.0.1:{port}/hook\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--rate", "20", "-o", "json", "--config"])
        .arg(&config);
    let mut demo = Proc::spawn("demo", cmd, dir.path());
    let deadline = Instant::now() + Duration::from_secs(45);
    let metrics = loop {
        let log = demo.log();
        if let Some(rest) = log.split("metrics at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        demo.assert_running();
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // once events were delivered, the per-receiver series exist
    let text = loop {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        let ready = [
            "herald_sink_sent_events_total{",
            "herald_sink_errors_total{",
            "herald_sink_dropped_events_total{",
            "herald_exporter_group_lag{",
            // polled from the exporter every 10 s
            "herald_ruler_consumer_lag{",
        ];
        if ready.iter().all(|s| text.contains(s)) {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing: Vec<&String> = names.iter().filter(|n| !exposed(&text, n)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, which /metrics does not have:\n{text}"
    );
    // and the check is not vacuous
    assert!(!exposed(&text, "herald_exporter_no_such_metric_total"));
    assert!(
        demo.terminate(Duration::from_secs(20)).await.success(),
        "{}",
        demo.log()
    );
}
