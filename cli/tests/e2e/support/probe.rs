//! Looking at a running system: Prometheus metrics, the exporter's log status over
//! gRPC, JSON-lines files and logs, and polling until a condition holds.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;

/// Polls `check` every 100 ms until it returns `Ok`; panics with `what` and the last
/// error after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(e) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The body of `GET <base>/metrics`.
pub async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("scrape /metrics")
        .text()
        .await
        .expect("read /metrics")
}

/// Sum of every sample of `name` (exact name, e.g. `herald_sink_sent_events_total`)
/// whose labels include all of `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(r) => {
                    let (ls, v) = r.split_once('}')?;
                    (ls, v)
                }
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let all = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|p| p == format!("{k}=\"{v}\"")));
            all.then(|| value.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The exporter's log status.
pub async fn log_status(grpc: &str) -> Result<pb::LogStatus, String> {
    let mut c = EventLogClient::connect(grpc.to_owned())
        .await
        .map_err(|e| format!("connect {grpc}: {e}"))?;
    c.get_log_status(pb::GetLogStatusRequest {})
        .await
        .map(tonic::Response::into_inner)
        .map_err(|e| format!("log status: {e}"))
}

/// `Ok` once consumer group `group` — for rulers, every receiver's group
/// `group.<receiver>` — has acknowledged the whole log (at least `min` events) and has
/// nothing in flight.
pub async fn fully_acknowledged(grpc: &str, group: &str, min: u64) -> Result<(), String> {
    let s = log_status(grpc).await?;
    let prefix = format!("{group}.");
    let groups: Vec<&pb::GroupStatus> = s
        .groups
        .iter()
        .filter(|g| g.name == group || g.name.starts_with(&prefix))
        .collect();
    if groups.is_empty() {
        return Err(format!("no group {group} yet: {s:?}"));
    }
    let behind: Vec<String> = groups
        .iter()
        .filter(|g| g.committed_offset != s.last_offset || g.in_flight > 0)
        .map(|g| {
            format!(
                "{} committed {} with {} in flight",
                g.name, g.committed_offset, g.in_flight
            )
        })
        .collect();
    if s.last_offset >= min && behind.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "last offset {} (want ≥ {min}); behind: {behind:?}",
            s.last_offset
        ))
    }
}

/// The complete lines of a file (a line still being written is left out); none when
/// the file does not exist yet.
pub fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

/// Parses every line as JSON, panicking with the file name and line on bad JSON.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    lines(path)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {l}", path.display(), i + 1))
        })
        .collect()
}

/// How many times each value occurs.
pub fn counts<I: IntoIterator<Item = String>>(items: I) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in items {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// The JSON log lines (`logFormat: json`) at `level` (e.g. `WARN`).
pub fn log_records(log: &str, level: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == level)
        .collect()
}
