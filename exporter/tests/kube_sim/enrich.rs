//! Involved-object enrichment against the simulator.

use std::time::Duration;

use herald_exporter::kube::api::ACCEPT_METADATA;
use herald_exporter::kube::{EnrichOptions, Enricher};
use herald_kubesim::Simulator;
use herald_proto::{Event, InvolvedObject, Lookup};
use serde_json::json;
use tokio::time::Instant;

use crate::common::{api, sim};

const FIXTURE_POD: &str = "nginx-55b49f585d-pjdb6";
const FIXTURE_POD_UID: &str = "8bfb2d83-b9ab-4c40-841b-5dbac8946fc7";
const FIXTURE_POD_PATH: &str = "/api/v1/namespaces/shop/pods/nginx-55b49f585d-pjdb6";

fn event_about(api_version: &str, kind: &str, ns: &str, name: &str, uid: &str) -> Event {
    Event {
        involved_object: InvolvedObject {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            uid: uid.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn gets(sim: &Simulator, path: &str) -> usize {
    sim.requests().iter().filter(|r| r.path == path).count()
}

async fn enricher(sim: &Simulator, opts: EnrichOptions) -> Enricher {
    let (api, _) = api(sim).await;
    Enricher::new(api, opts)
}

#[tokio::test]
async fn metadata_get_fills_labels_owners_and_namespace_labels() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let enricher = enricher(&sim, EnrichOptions::default()).await;
    let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    enricher.enrich(&mut ev).await;
    let io = &ev.involved_object;
    assert_eq!(io.lookup, Lookup::Found);
    assert_eq!(io.labels.get("app").map(String::as_str), Some("nginx"));
    assert_eq!(io.owner_references.len(), 1);
    assert_eq!(io.owner_references[0].kind, "ReplicaSet");
    assert_eq!(io.owner_references[0].name, "nginx-55b49f585d");
    assert!(!io.deleted);
    assert_eq!(
        io.namespace_labels.get("team").map(String::as_str),
        Some("commerce")
    );
    let get = sim
        .requests()
        .into_iter()
        .find(|r| r.path == FIXTURE_POD_PATH)
        .expect("the pod was read");
    assert_eq!(get.method, "GET");
    assert_eq!(get.header("accept"), Some(ACCEPT_METADATA));
    assert_eq!(get.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn second_lookup_is_a_cache_hit() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let (api, stats) = api(&sim).await;
    let enricher = Enricher::new(api, EnrichOptions::default());
    for _ in 0..3 {
        let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
        enricher.enrich(&mut ev).await;
        assert_eq!(ev.involved_object.lookup, Lookup::Found);
    }
    assert_eq!(gets(&sim, FIXTURE_POD_PATH), 1);
    assert_eq!(gets(&sim, "/api/v1/namespaces/shop"), 1);
    let snap = stats.snapshot();
    assert_eq!(snap.lookup_cache_misses, 2, "pod and namespace once each");
    assert_eq!(snap.lookup_cache_hits, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn discovery_is_fetched_once_per_group_version() {
    let sim = sim().await;
    for i in 0..20 {
        sim.put_object(
            "v1",
            "Pod",
            json!({"name": format!("p{i}"), "namespace": "default", "labels": {"i": i.to_string()}}),
        )
        .unwrap();
        sim.put_object(
            "apps/v1",
            "ReplicaSet",
            json!({"name": format!("rs{i}"), "namespace": "default"}),
        )
        .unwrap();
    }
    let opts = EnrichOptions {
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = enricher(&sim, opts).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        for (api_version, kind, name) in [
            ("v1", "Pod", format!("p{i}")),
            ("apps/v1", "ReplicaSet", format!("rs{i}")),
        ] {
            let enricher = enricher.clone();
            tasks.push(tokio::spawn(async move {
                let mut ev = event_about(api_version, kind, "default", &name, "");
                enricher.enrich(&mut ev).await;
                ev
            }));
        }
    }
    for task in tasks {
        let ev = task.await.unwrap();
        assert_eq!(
            ev.involved_object.lookup,
            Lookup::Found,
            "{}",
            ev.involved_object.name
        );
    }
    assert_eq!(gets(&sim, "/api/v1"), 1);
    assert_eq!(gets(&sim, "/apis/apps/v1"), 1);
    assert_eq!(
        gets(&sim, "/apis/apps/v1/namespaces/default/replicasets/rs7"),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_object_is_marked_deleted_and_cached_briefly() {
    let sim = sim().await;
    let (api, stats) = api(&sim).await;
    let opts = EnrichOptions {
        negative_ttl: Duration::from_millis(300),
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = Enricher::new(api, opts);
    let path = "/api/v1/namespaces/shop/pods/gone";
    let mut ev = event_about("v1", "Pod", "shop", "gone", "uid-gone");
    enricher.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::NotFound);
    assert!(ev.involved_object.deleted);
    let mut again = event_about("v1", "Pod", "shop", "gone", "uid-gone");
    enricher.enrich(&mut again).await;
    assert_eq!(again.involved_object.lookup, Lookup::NotFound);
    assert_eq!(gets(&sim, path), 1, "the 404 is cached");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut later = event_about("v1", "Pod", "shop", "gone", "uid-gone");
    enricher.enrich(&mut later).await;
    assert_eq!(gets(&sim, path), 2, "only briefly");
    assert_eq!(stats.snapshot().lookup_failures, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn stalled_api_delays_enrichment_not_the_event() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let (api, stats) = api(&sim).await;
    let opts = EnrichOptions {
        timeout: Duration::from_millis(300),
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = Enricher::new(api, opts);
    // Discovery first, so that the stall hits the object read itself.
    let mut warm = event_about("v1", "Pod", "shop", "other", "uid-other");
    enricher.enrich(&mut warm).await;
    sim.faults()
        .stall_next(FIXTURE_POD_PATH, 1, Duration::from_millis(1500));
    let started = Instant::now();
    let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    enricher.enrich(&mut ev).await;
    let took = started.elapsed();
    assert_eq!(ev.involved_object.lookup, Lookup::Failed);
    assert!(took < Duration::from_millis(800), "enrich took {took:?}");
    assert_eq!(stats.snapshot().lookup_failures, 1);
    // The fetch finishes in the background and warms the cache.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let mut later = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    enricher.enrich(&mut later).await;
    assert_eq!(later.involved_object.lookup, Lookup::Found);
    assert_eq!(gets(&sim, FIXTURE_POD_PATH), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_lookups_of_one_object_share_one_request() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let opts = EnrichOptions {
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = enricher(&sim, opts).await;
    sim.faults()
        .stall_next(FIXTURE_POD_PATH, 1, Duration::from_millis(300));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let enricher = enricher.clone();
        tasks.push(tokio::spawn(async move {
            let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
            enricher.enrich(&mut ev).await;
            ev.involved_object.lookup
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Lookup::Found);
    }
    assert_eq!(gets(&sim, FIXTURE_POD_PATH), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn omit_lookup_and_unknown_kinds_fetch_nothing_or_fail_cleanly() {
    let sim = sim().await;
    let (api, stats) = api(&sim).await;
    let skip = Enricher::new(
        api.clone(),
        EnrichOptions {
            omit_lookup: true,
            ..EnrichOptions::default()
        },
    );
    sim.clear_requests();
    let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    skip.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::Skipped);
    assert!(sim.requests().is_empty());

    let enricher = Enricher::new(api, EnrichOptions::default());
    let mut odd = event_about("example.com/v1", "Widget", "shop", "w", "uid-w");
    enricher.enrich(&mut odd).await;
    assert_eq!(odd.involved_object.lookup, Lookup::Failed);
    let mut odd2 = event_about("v1", "Widget", "shop", "w2", "uid-w2");
    enricher.enrich(&mut odd2).await;
    assert_eq!(odd2.involved_object.lookup, Lookup::Failed);
    assert_eq!(stats.snapshot().lookup_failures, 2);
    assert!(
        sim.requests().iter().all(|r| !r.path.contains("/widgets")),
        "no object read for an unknown kind"
    );
    // The unknown group-version is not asked again within the refresh period.
    let mut odd3 = event_about("example.com/v1", "Widget", "shop", "w3", "uid-w3");
    enricher.enrich(&mut odd3).await;
    assert_eq!(gets(&sim, "/apis/example.com/v1"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_kind_rediscovers_its_group_version_after_the_refresh_period() {
    let sim = sim().await;
    let opts = EnrichOptions {
        discovery_refresh: Duration::from_millis(300),
        negative_ttl: Duration::from_millis(1),
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = enricher(&sim, opts).await;
    let mut ev = event_about("example.com/v1", "Widget", "shop", "w", "uid-w");
    enricher.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::Failed);
    // A CRD appears.
    sim.register_resource(herald_kubesim::ResourceDef::new(
        "example.com",
        &["v1"],
        "widgets",
        "Widget",
        true,
    ));
    sim.put_object(
        "example.com/v1",
        "Widget",
        json!({"name": "w", "namespace": "shop", "labels": {"crd": "yes"}}),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut soon = event_about("example.com/v1", "Widget", "shop", "w", "uid-w");
    enricher.enrich(&mut soon).await;
    assert_eq!(
        soon.involved_object.lookup,
        Lookup::Failed,
        "not re-discovered yet"
    );
    assert_eq!(gets(&sim, "/apis/example.com/v1"), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut later = event_about("example.com/v1", "Widget", "shop", "w", "uid-w");
    enricher.enrich(&mut later).await;
    assert_eq!(later.involved_object.lookup, Lookup::Found);
    assert_eq!(
        later.involved_object.labels.get("crd").map(String::as_str),
        Some("yes")
    );
    assert_eq!(gets(&sim, "/apis/example.com/v1"), 2);
    sim.shutdown().await;
}
