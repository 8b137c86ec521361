//! Involved-object enrichment against the simulator.

use std::time::Duration;

use std::sync::Arc;

use herald_exporter::kube::api::{ACCEPT_METADATA, ACCEPT_METADATA_LIST};
use herald_exporter::kube::client::connect;
use herald_exporter::kube::{EnrichOptions, Enricher, KubeStats};
use herald_kubesim::{HttpFault, KubeconfigAuth, RequestRecord, Simulator};
use herald_proto::{Event, InvolvedObject, Lookup};
use serde_json::json;
use tokio::time::Instant;

use crate::common::{api, eventually, options, sim};

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

/// Default options, but an Event waits as long as a slow test machine may need.
fn patient() -> EnrichOptions {
    EnrichOptions {
        max_wait: Duration::from_secs(10),
        ..EnrichOptions::default()
    }
}

/// [`patient`] with the Pod watch on and no namespace labels.
fn watching() -> EnrichOptions {
    EnrichOptions {
        watch_pods: true,
        namespace_labels: false,
        ..patient()
    }
}

/// Reads of single Pods (not lists or watches of them).
fn pod_reads(sim: &Simulator) -> Vec<RequestRecord> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.contains("/pods/"))
        .collect()
}

/// Waits (up to 10 s) for a request matching `pred` and returns it.
async fn request_seen(sim: &Simulator, pred: impl Fn(&RequestRecord) -> bool) -> RequestRecord {
    let mut found = None;
    eventually(10, || {
        found = sim.requests().into_iter().find(|r| pred(r));
        found.is_some()
    })
    .await;
    found.expect("the request was made")
}

async fn enricher(sim: &Simulator, opts: EnrichOptions) -> Enricher {
    let (api, _) = api(sim).await;
    Enricher::new(api, opts)
}

#[tokio::test]
async fn metadata_get_fills_labels_owners_and_namespace_labels() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let enricher = enricher(&sim, patient()).await;
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
    let enricher = Enricher::new(api, patient());
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
        ..patient()
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
        ..patient()
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
    // The Event waits 300 ms; the read itself may take up to `timeout` (5 s).
    let opts = EnrichOptions {
        max_wait: Duration::from_millis(300),
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
        ..patient()
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

    let enricher = Enricher::new(api, patient());
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
        ..patient()
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

#[tokio::test]
async fn pods_come_from_one_metadata_watch_not_a_read_each() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let (api, stats) = api(&sim).await;
    let enricher = Enricher::new(api, watching());
    // One list, then one watch, of every Pod's metadata.
    let list = request_seen(&sim, |r| r.path == "/api/v1/pods" && !r.watch).await;
    assert_eq!(list.header("accept"), Some(ACCEPT_METADATA_LIST));
    assert_eq!(list.uri, "/api/v1/pods?limit=500");
    assert_eq!(list.status, 200);
    let watch = request_seen(&sim, |r| r.path == "/api/v1/pods" && r.watch).await;
    assert_eq!(watch.header("accept"), Some(ACCEPT_METADATA));
    assert!(
        watch.uri.contains("allowWatchBookmarks=true"),
        "{}",
        watch.uri
    );
    assert_eq!(watch.status, 200);
    assert_eq!(enricher.watched_pods(), 1);

    // The listed Pod.
    let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    enricher.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::Found);
    assert_eq!(ev.involved_object.labels["app"], "nginx");
    assert_eq!(ev.involved_object.owner_references[0].kind, "ReplicaSet");

    // Pods created later arrive through the watch.
    for i in 0..20 {
        sim.put_object(
            "v1",
            "Pod",
            json!({"name": format!("web-{i}"), "namespace": "shop", "uid": format!("uid-web-{i}"),
                   "labels": {"app": "web", "i": i.to_string()}}),
        )
        .unwrap();
    }
    assert!(eventually(10, || enricher.watched_pods() == 21).await);
    for i in 0..20 {
        let mut ev = event_about(
            "v1",
            "Pod",
            "shop",
            &format!("web-{i}"),
            &format!("uid-web-{i}"),
        );
        enricher.enrich(&mut ev).await;
        assert_eq!(ev.involved_object.lookup, Lookup::Found, "web-{i}");
        assert_eq!(ev.involved_object.labels["i"], i.to_string());
        assert!(!ev.involved_object.deleted);
    }

    // A deleted Pod keeps its last metadata, marked deleted.
    sim.delete_object("v1", "Pod", "shop", "web-3").unwrap();
    assert!(eventually(10, || enricher.watched_pods() == 20).await);
    let mut ev = event_about("v1", "Pod", "shop", "web-3", "uid-web-3");
    enricher.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::Found);
    assert!(ev.involved_object.deleted);
    assert_eq!(ev.involved_object.labels["i"], "3");

    // An old Event about a Pod that was gone before the list: gone, without a read.
    let mut old = event_about("v1", "Pod", "shop", "gone-long-ago", "uid-gone-long-ago");
    old.last_timestamp = Some(chrono::Utc::now() - chrono::Duration::hours(1));
    enricher.enrich(&mut old).await;
    assert_eq!(old.involved_object.lookup, Lookup::NotFound);
    assert!(old.involved_object.deleted);

    assert!(pod_reads(&sim).is_empty(), "{:?}", pod_reads(&sim));
    let snap = stats.snapshot();
    assert_eq!(snap.lookup_failures, 0);
    assert_eq!(snap.lookup_requests, 2, "the list and the watch: {snap:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pod_event_that_beats_the_watch_waits_for_it() {
    let sim = sim().await;
    let (api, _) = api(&sim).await;
    let enricher = Enricher::new(api, watching());
    request_seen(&sim, |r| r.path == "/api/v1/pods" && r.watch).await;
    // The Event is looked up while the Pod's ADDED may still be on its way: the lookup
    // waits for the watch instead of reading the Pod.
    for i in 0..10 {
        sim.put_object(
            "v1",
            "Pod",
            json!({"name": format!("new-{i}"), "namespace": "shop", "uid": format!("uid-new-{i}"),
                   "labels": {"i": i.to_string()}}),
        )
        .unwrap();
        let mut ev = event_about(
            "v1",
            "Pod",
            "shop",
            &format!("new-{i}"),
            &format!("uid-new-{i}"),
        );
        ev.last_timestamp = Some(chrono::Utc::now());
        enricher.enrich(&mut ev).await;
        assert_eq!(ev.involved_object.lookup, Lookup::Found, "new-{i}");
        assert_eq!(ev.involved_object.labels["i"], i.to_string());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_forbidden_pod_watch_falls_back_to_reading_pods() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    sim.faults()
        .fail_next("/api/v1/pods", 1, HttpFault::Forbidden);
    let (api, _) = api(&sim).await;
    let enricher = Enricher::new(api, watching());
    let refused = request_seen(&sim, |r| r.path == "/api/v1/pods").await;
    assert_eq!(refused.status, 403);
    let mut ev = event_about("v1", "Pod", "shop", FIXTURE_POD, FIXTURE_POD_UID);
    enricher.enrich(&mut ev).await;
    assert_eq!(ev.involved_object.lookup, Lookup::Found);
    assert_eq!(ev.involved_object.labels["app"], "nginx");
    assert_eq!(gets(&sim, FIXTURE_POD_PATH), 1);
    assert_eq!(enricher.watched_pods(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn lookups_spend_only_spare_tokens_and_never_hold_up_other_requests() {
    let sim = sim().await;
    for i in 0..60 {
        sim.put_object(
            "apps/v1",
            "ReplicaSet",
            json!({"name": format!("rs-{i}"), "namespace": "shop", "uid": format!("uid-rs-{i}")}),
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path, KubeconfigAuth::Anonymous)
        .unwrap();
    let stats = Arc::new(KubeStats::default());
    // KEE's defaults: 5 requests per second, bursts of 10.
    let conn = connect(herald_exporter::kube::ClientOptions {
        qps: 5.0,
        burst: 10,
        ..options(&path, stats.clone())
    })
    .await
    .unwrap();
    let opts = EnrichOptions {
        max_wait: Duration::from_millis(200),
        namespace_labels: false,
        ..EnrichOptions::default()
    };
    let enricher = Enricher::new(conn.api.clone(), opts);
    sim.clear_requests();
    let started = Instant::now();
    // 60 Events about 60 objects nobody has read yet: far more than the budget.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let enricher = enricher.clone();
        tasks.push(tokio::spawn(async move {
            let mut ev = event_about(
                "apps/v1",
                "ReplicaSet",
                "shop",
                &format!("rs-{i}"),
                &format!("uid-rs-{i}"),
            );
            enricher.enrich(&mut ev).await;
            ev.involved_object.lookup
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let found = outcomes.iter().filter(|l| **l == Lookup::Found).count();
    let failed = outcomes.iter().filter(|l| **l == Lookup::Failed).count();
    assert_eq!(found + failed, 60, "{outcomes:?}");
    assert!(found >= 1, "the burst went to lookups: {outcomes:?}");
    assert!(
        failed >= 1,
        "60 reads do not fit 10 + 5/s within 200 ms: {outcomes:?}"
    );
    // A request of the Event-watch class meanwhile: it does not queue behind them.
    conn.api.core_api_versions().await.unwrap();
    let waited = stats.snapshot().throttled_wait_seconds;
    assert!(
        waited < 0.5,
        "the request waited for one token at most, not behind the lookups: {waited} s"
    );
    // The unanswered lookups carry on within the budget and fill the cache.
    assert!(eventually(30, || enricher.pending_lookups() == 0).await);
    let elapsed = started.elapsed().as_secs_f64();
    let sent = sim.requests().len();
    assert!(
        (sent as f64) <= 10.0 + 5.0 * elapsed + 1.0,
        "{sent} requests in {elapsed:.1} s exceed 5/s with bursts of 10"
    );
    let mut later = event_about("apps/v1", "ReplicaSet", "shop", "rs-59", "uid-rs-59");
    enricher.enrich(&mut later).await;
    assert_eq!(later.involved_object.lookup, Lookup::Found);
    sim.shutdown().await;
}

/// [`patient`] with the Namespace watch on and a lookup cache that outlives the test.
fn watching_namespaces() -> EnrichOptions {
    EnrichOptions {
        watch_namespaces: true,
        cache_ttl: Duration::from_secs(3600),
        ..patient()
    }
}

/// The `team` label the enricher attaches to an Event about pod `shop/web`.
async fn team_of_shop(enricher: &Enricher) -> Option<String> {
    let mut ev = event_about("v1", "Pod", "shop", "web", "uid-web");
    enricher.enrich(&mut ev).await;
    ev.involved_object.namespace_labels.get("team").cloned()
}

#[tokio::test]
async fn namespace_labels_follow_the_namespace_watch_within_seconds() {
    let sim = sim().await;
    sim.put_object(
        "v1",
        "Namespace",
        json!({"name": "shop", "labels": {"team": "a"}}),
    )
    .unwrap();
    sim.put_object(
        "v1",
        "Pod",
        json!({"name": "web", "namespace": "shop", "uid": "uid-web"}),
    )
    .unwrap();
    let enricher = enricher(&sim, watching_namespaces()).await;
    assert!(eventually(10, || enricher.watched_namespaces() >= 1).await);
    let list = request_seen(&sim, |r| r.path == "/api/v1/namespaces" && !r.watch).await;
    assert_eq!(list.header("accept"), Some(ACCEPT_METADATA_LIST));
    assert_eq!(team_of_shop(&enricher).await.as_deref(), Some("a"));
    let watch = request_seen(&sim, |r| r.path == "/api/v1/namespaces" && r.watch).await;
    assert_eq!(watch.header("accept"), Some(ACCEPT_METADATA));
    // a MODIFIED notification: the next Events carry the new labels, although the
    // lookup cache (1 h) would have kept the old ones
    let changed = Instant::now();
    sim.put_object(
        "v1",
        "Namespace",
        json!({"name": "shop", "labels": {"team": "b"}}),
    )
    .unwrap();
    let mut team = None;
    while changed.elapsed() < Duration::from_secs(10) {
        team = team_of_shop(&enricher).await;
        if team.as_deref() == Some("b") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(team.as_deref(), Some("b"));
    assert!(
        changed.elapsed() < Duration::from_secs(5),
        "{:?}",
        changed.elapsed()
    );
    // the label removed
    sim.put_object("v1", "Namespace", json!({"name": "shop", "labels": {}}))
        .unwrap();
    let mut gone = false;
    for _ in 0..500 {
        if team_of_shop(&enricher).await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the removed label is gone from the next Events");
    assert_eq!(
        gets(&sim, "/api/v1/namespaces/shop"),
        0,
        "the watch had the namespace: no GET"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_namespace_watch_falls_back_to_gets() {
    let sim = sim().await;
    sim.put_object(
        "v1",
        "Namespace",
        json!({"name": "shop", "labels": {"team": "a"}}),
    )
    .unwrap();
    sim.put_object(
        "v1",
        "Pod",
        json!({"name": "web", "namespace": "shop", "uid": "uid-web"}),
    )
    .unwrap();
    sim.faults()
        .fail_next("/api/v1/namespaces", 1, HttpFault::Forbidden);
    let enricher = enricher(&sim, watching_namespaces()).await;
    let refused = request_seen(&sim, |r| r.path == "/api/v1/namespaces").await;
    assert_eq!(refused.status, 403);
    assert_eq!(team_of_shop(&enricher).await.as_deref(), Some("a"));
    assert_eq!(gets(&sim, "/api/v1/namespaces/shop"), 1);
    assert_eq!(enricher.watched_namespaces(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn no_namespace_watch_when_namespace_labels_are_off() {
    let sim = sim().await;
    sim.put_object(
        "v1",
        "Pod",
        json!({"name": "web", "namespace": "shop", "uid": "uid-web"}),
    )
    .unwrap();
    let enricher = enricher(
        &sim,
        EnrichOptions {
            namespace_labels: false,
            ..watching_namespaces()
        },
    )
    .await;
    assert_eq!(team_of_shop(&enricher).await, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.path.starts_with("/api/v1/namespaces") && !r.path.contains("/pods")),
        "{:?}",
        sim.requests()
    );
    sim.shutdown().await;
}
