//! `herald demo`: a simulated cluster, herald in combined mode and a stdout receiver.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::procs::{bin, run_to_end};

#[test]
fn demo_prints_json_lines_and_exits_after_its_duration() {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(["demo", "--duration", "5", "--rate", "5"]);
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
