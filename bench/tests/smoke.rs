//! Keeps the benchmark harness working: runs every scenario with `--smoke` (tiny
//! sizes) against the binaries of this profile and checks the JSON it writes. The
//! numbers themselves are not checked (benchmarks are not pass/fail).

use std::process::Command;

#[test]
fn smoke_run_measures_every_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let out = Command::new(env!("CARGO_BIN_EXE_herald-bench"))
        .args(["--smoke", "--json"])
        .arg(&json)
        .env("HERALD_BENCH_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "herald-bench --smoke failed:\n{stderr}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| scenario | events |"),
        "no table:\n{table}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["smoke"], true);
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    for prefix in [
        "baseline: watch lines → serde_json::Value",
        "baseline: watch line → Event → protobuf",
        "ruler in-process: route only",
        "ruler in-process: route + render",
        "ruler in-process: 100 kube-events rules",
        "ruler process: route only",
        "ruler process: route + render",
        "receiver loki: ruler → push",
        "exporter ingest: list",
        "exporter ingest: watch stream",
        "exporter restart: warm",
        "exporter restart: cold",
        "exporter memory:",
        "exporter lookups: pod churn",
        "exporter lookups: after SIGKILL",
        "e2e burst: exporter + 1 ruler",
        "e2e latency @",
        "e2e burst: exporter + 2 rulers",
        "soak:",
        "occurrence memory (tiered):",
        "occurrence memory (one map):",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no row for `{prefix}` in {names:?}"
        );
    }
    // the elasticsearch row needs osmem-server, which CI always installs
    if std::env::var_os("HERALD_OSMEM_BIN").is_some() {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("receiver elasticsearch: ruler → `_bulk`")),
            "no elasticsearch row in {names:?}"
        );
    }
    // The real-peer rows run when their peer is installed; in CI it must be.
    let ci = std::env::var("CI").as_deref() == Ok("true");
    for (var, prefix) in [
        ("HERALD_TANSU_BIN", "receiver kafka: ruler → tansu"),
        ("HERALD_RSYSLOGD_BIN", "receiver syslog: ruler → rsyslogd"),
        ("HERALD_MOTO_BIN", "receiver sqs: ruler → SendMessageBatch"),
        (
            "HERALD_PUBSUB_EMULATOR_BIN",
            "receiver pubsub: ruler → Publish",
        ),
    ] {
        if ci || std::env::var_os(var).is_some() {
            assert!(
                names.iter().any(|n| n.starts_with(prefix)),
                "no row for `{prefix}` in {names:?} ({var} must be set)"
            );
        }
    }
    for r in rows {
        let name = r["scenario"].as_str().unwrap();
        assert!(r["events"].as_u64().unwrap() > 0, "{name}: no events");
        assert!(r["seconds"].as_f64().unwrap() > 0.0, "{name}: no time");
        assert!(
            !r["notes"].as_str().unwrap().contains("MISSING"),
            "{name}: events were lost: {}",
            r["notes"]
        );
        if name.starts_with("e2e")
            || name.starts_with("soak")
            || name.starts_with("exporter lookups")
        {
            assert!(r["p99_ms"].as_f64().is_some(), "{name}: no latency");
        }
    }
    let series = report["series"].as_array().unwrap();
    assert!(
        series
            .iter()
            .any(|s| s["name"] == "soak: ruler RSS (MiB)"
                && !s["points"].as_array().unwrap().is_empty()),
        "no RSS series: {series:?}"
    );
}
