//! `herald-exporter` with lookups on and KEE's default API budget (`kubeQPS` 5,
//! `kubeBurst` 10) while pods come and go: every Event is logged promptly, the API
//! server sees no more requests than the budget, and the Event watch never waits
//! behind lookups. Measured from the exporter's own counters and the simulator's
//! request log, with bounds meant for a loaded test machine.

#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

use harness::*;
use herald_kubesim::scenario::{Mix, Scenario, ScenarioConfig};
use herald_proto::pb;

/// Event writes per second, for this long.
const RATE: f64 = 40.0;
const CHURN: Duration = Duration::from_secs(12);

/// The value of the sample `name` (with its labels) in an OpenMetrics text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn new_pods_at_40_events_per_second_fit_kees_default_budget() {
    let sim = sim().await;
    let mut scenario = Scenario::new(ScenarioConfig {
        seed: 3,
        namespaces: 8,
        mix: Mix::PodChurn,
        ..ScenarioConfig::default()
    });
    // the cluster (8 namespaces, 24 deployments with their pods) and a first replacement
    scenario.step(&sim);
    let setup = Setup::new(&sim);
    let cfg = setup.path("kee.yaml");
    // KEE's defaults for everything that matters here: lookups on, cacheSize 1024,
    // kubeQPS and kubeBurst unset (5 and 10).
    std::fs::write(
        &cfg,
        "logLevel: debug\nmaxEventAgeSeconds: 3600\nexporter:\n  watch:\n    timeout: 5s\n",
    )
    .unwrap();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    ex.wait_logged(sim.event_count() as u64).await;

    sim.clear_requests();
    let started = Instant::now();
    let report = scenario.run(&sim, RATE, tokio::time::sleep(CHURN)).await;
    assert_eq!(report.failed, 0, "{report:?}");
    let written = sim.event_count() as u64;
    ex.wait_logged(written).await;
    let elapsed = started.elapsed().as_secs_f64();
    let requests = sim.requests();

    let metrics = ex.metrics_text().await;
    // Event timestamps have second precision, so "within 5 s" is "within 4 to 5 s".
    let logged = sample(&metrics, "herald_exporter_ingest_lag_seconds_count");
    let within_5s = sample(
        &metrics,
        "herald_exporter_ingest_lag_seconds_bucket{le=\"5.0\"}",
    );
    assert_eq!(logged, written as f64, "every Event was logged once");
    assert_eq!(
        within_5s,
        logged,
        "Events logged more than 5 s after they happened:\n{}",
        metrics
            .lines()
            .filter(|l| l.starts_with("herald_exporter_ingest_lag_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The Event watch never queued behind lookups.
    let throttled = sample(&metrics, "herald_exporter_kube_client_throttled_seconds");
    assert!(throttled < 1.0, "waited {throttled} s in the rate limiter");
    // The API server saw no more than the budget: bursts of 10, then 5 per second.
    let allowed = 10.0 + 5.0 * elapsed;
    assert!(
        requests.len() as f64 <= allowed + 1.0,
        "{} requests in {elapsed:.1} s (allowed {allowed:.0}): {:?}",
        requests.len(),
        requests.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>()
    );

    // And the budget went where it helps: Pod Events carry their Pod's metadata.
    let events = tail_all(&ex.grpc, Duration::from_millis(1500)).await;
    let pods: Vec<&pb::InvolvedObject> = events
        .iter()
        .filter_map(|e| e.involved_object.as_ref())
        .filter(|io| io.kind == "Pod")
        .collect();
    let found = pods
        .iter()
        .filter(|io| io.lookup == pb::Lookup::Found as i32 && io.labels.contains_key("app"))
        .count();
    assert!(
        found * 10 >= pods.len() * 8,
        "only {found} of {} Pod Events enriched",
        pods.len()
    );
    assert_eq!(ex.terminate(), Some(0));
    sim.shutdown().await;
}
