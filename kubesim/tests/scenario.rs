//! The scenario generator: determinism by seed, a realistic mix, rate and bulk modes.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{get, get_accept, sim};
use herald_kubesim::scenario::{Clock, Mix, Scenario, ScenarioConfig};
use serde_json::Value;

fn virtual_cfg(seed: u64) -> ScenarioConfig {
    ScenarioConfig {
        seed,
        clock: Clock::virtual_default(),
        ..ScenarioConfig::default()
    }
}

async fn run_steps(seed: u64, steps: usize) -> (Vec<u8>, Vec<u8>) {
    let sim = sim().await;
    let mut s = Scenario::new(virtual_cfg(seed));
    for _ in 0..steps {
        let r = s.step(&sim);
        assert_eq!(r.failed, 0, "{r:?}");
    }
    let (_, _, events) = get(&sim, "/api/v1/events").await;
    let (_, pods) = get_accept(
        &sim,
        "/api/v1/pods",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    )
    .await;
    sim.shutdown().await;
    (events, pods)
}

#[tokio::test]
async fn same_seed_same_cluster_byte_for_byte() {
    let (events_a, pods_a) = run_steps(42, 250).await;
    let (events_b, pods_b) = run_steps(42, 250).await;
    assert_eq!(events_a, events_b);
    assert_eq!(pods_a, pods_b);
    let (events_c, _) = run_steps(43, 250).await;
    assert_ne!(events_a, events_c);
}

#[tokio::test]
async fn pod_churn_replaces_pods_and_tells_their_lifecycle() {
    let sim = sim().await;
    let mut s = Scenario::new(ScenarioConfig {
        mix: Mix::PodChurn,
        ..virtual_cfg(5)
    });
    let first = s.step(&sim);
    assert_eq!(first.failed, 0, "{first:?}");
    assert_eq!(first.events_created, 7, "{first:?}");
    let pods = |body: &[u8]| -> BTreeSet<String> {
        let list: Value = serde_json::from_slice(body).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let meta_list = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let (_, before) = get_accept(&sim, "/api/v1/pods", meta_list).await;
    let before = pods(&before);
    for _ in 0..40 {
        let r = s.step(&sim);
        assert_eq!(
            (r.events_created, r.events_repeated, r.failed),
            (7, 0, 0),
            "{r:?}"
        );
    }
    let (_, after) = get_accept(&sim, "/api/v1/pods", meta_list).await;
    let after = pods(&after);
    assert_eq!(
        before.len(),
        after.len(),
        "one pod goes for each that comes"
    );
    assert!(
        before.intersection(&after).count() < before.len(),
        "pods were replaced"
    );

    // Started is about a pod that exists; Killing about one that is gone.
    let (_, _, body) = get(&sim, "/api/v1/events").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    let items = list["items"].as_array().unwrap();
    let about = |reason: &str| -> Vec<String> {
        items
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["involvedObject"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(about("Started").len(), 41);
    assert_eq!(about("Killing").len(), 41);
    assert_eq!(about("Scheduled").len(), 41);
    let started: BTreeSet<String> = about("Started").into_iter().collect();
    for new in after.difference(&before) {
        assert!(
            started.contains(new),
            "{new} came without its Started event"
        );
    }
    for killed in about("Killing") {
        assert!(!after.contains(&killed), "{killed}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn activity_is_a_realistic_mix_with_resolvable_objects() {
    let sim = sim().await;
    let mut s = Scenario::new(ScenarioConfig {
        seed: 7,
        ..ScenarioConfig::default()
    });
    let mut repeated = 0;
    for _ in 0..600 {
        repeated += s.step(&sim).events_repeated;
    }
    assert!(repeated > 50, "repeats: {repeated}");
    let (_, _, body) = get(&sim, "/api/v1/events").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    let items = list["items"].as_array().unwrap();
    let reasons: BTreeSet<&str> = items
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    for want in [
        "BackOff",
        "Failed",
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
        "FailedScheduling",
        "Unhealthy",
        "SawCompletedJob",
        "NodeHasDiskPressure",
        "Evicted",
    ] {
        assert!(reasons.contains(want), "missing {want} in {reasons:?}");
    }
    assert!(
        items.iter().any(|e| e["count"].as_i64().unwrap_or(0) > 1),
        "count bumps"
    );
    assert!(
        items
            .iter()
            .any(|e| e["series"]["count"].as_i64().unwrap_or(0) >= 2),
        "series bumps"
    );
    assert!(
        items.iter().any(|e| e["type"] == "Warning") && items.iter().any(|e| e["type"] == "Normal")
    );

    // Involved pods resolve through metadata GETs, except the ones incidents deleted.
    let (mut found, mut gone) = (0, 0);
    for e in items
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == "Pod")
        .take(200)
    {
        let o = &e["involvedObject"];
        let (status, body) = get_accept(
            &sim,
            &format!(
                "/api/v1/namespaces/{}/pods/{}",
                o["namespace"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            ),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
        .await;
        match status {
            200 => {
                let meta: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(meta["metadata"]["uid"], o["uid"]);
                assert!(meta["metadata"]["ownerReferences"][0]["kind"].is_string());
                assert!(meta["metadata"]["labels"].is_object());
                found += 1;
            }
            404 => gone += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(found > gone, "found {found}, gone {gone}");
    for ns in s.namespaces() {
        let (status, _, body) = get(&sim, &format!("/api/v1/namespaces/{ns}")).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["metadata"]["labels"]["team"].is_string());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn run_paces_event_writes() {
    let sim = sim().await;
    let mut s = Scenario::new(ScenarioConfig::default());
    let started = Instant::now();
    let report = s
        .run(&sim, 200.0, tokio::time::sleep(Duration::from_millis(1000)))
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1000));
    let writes = report.event_writes();
    assert!(
        (60..=400).contains(&writes),
        "{writes} event writes in {elapsed:?}"
    );
    assert_eq!(sim.event_count(), report.events_created);
    sim.shutdown().await;
}

#[tokio::test]
async fn preload_fills_the_store_quickly() {
    let sim = sim().await;
    let mut s = Scenario::new(virtual_cfg(3));
    let stats = s.preload(&sim, 20_000, 5_000).unwrap();
    assert_eq!(stats.events, 20_000);
    assert_eq!(stats.objects, 5_000);
    assert_eq!(sim.event_count(), 20_000);
    let (_, _, body) = get(&sim, "/api/v1/events?limit=500").await;
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["metadata"]["remainingItemCount"], 19_500);
    let (_, pods) = get_accept(
        &sim,
        "/api/v1/pods",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    )
    .await;
    let pods: Value = serde_json::from_slice(&pods).unwrap();
    assert!(pods["items"].as_array().unwrap().len() >= 5_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn step_written_reports_every_occurrence_as_the_api_shows_it() {
    let sim = sim().await;
    let mut s = Scenario::new(virtual_cfg(9));
    let mut written = Vec::new();
    let mut report_writes = 0;
    for _ in 0..300 {
        let (r, w) = s.step_written(&sim);
        assert_eq!(r.failed, 0, "{r:?}");
        report_writes += r.event_writes();
        written.extend(w);
    }
    assert_eq!(written.len(), report_writes);
    // every occurrence is distinct, and repeats are there (count or series bumps)
    let keys: BTreeSet<(String, i64)> = written
        .iter()
        .map(|w| (w.uid.clone(), w.occurrence))
        .collect();
    assert_eq!(keys.len(), written.len());
    assert!(written.iter().any(|w| w.occurrence > 1));
    // the last occurrence of each Event is what the API server holds now
    for w in &written {
        let ev = sim.event(&w.namespace, &w.name).expect("event stored");
        assert_eq!(ev["metadata"]["uid"], w.uid.as_str());
        let stored = ev["count"]
            .as_i64()
            .filter(|c| *c > 0)
            .or_else(|| ev["series"]["count"].as_i64())
            .unwrap_or(1);
        assert!(stored >= w.occurrence, "{w:?}: stored {stored}");
    }
    // events.k8s.io-style series are among them
    assert!(written.iter().any(|w| {
        let ev = sim.event(&w.namespace, &w.name).unwrap();
        ev["series"]["count"].as_i64().is_some() && w.occurrence > 1
    }));
    sim.shutdown().await;
}
