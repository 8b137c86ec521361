//! Watches: framing and objects like the captures, RV semantics, bookmarks, 410s,
//! timeouts and injected watch faults.

mod common;

use std::time::{Duration, Instant};

use common::{WatchStream, fixture, fixture_lines, sim, sim_with_fixtures};
use herald_kubesim::SimConfig;
use serde_json::{Value, json};

fn object_of(line: &str) -> Value {
    serde_json::from_str::<Value>(line).unwrap()["object"].clone()
}

fn with_rv(line: &str, from: &str, to: &str) -> String {
    line.replace(
        &format!("\"resourceVersion\":\"{from}\""),
        &format!("\"resourceVersion\":\"{to}\""),
    )
}

#[tokio::test]
async fn replayed_capture_streams_identical_lines() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let start = sim.resource_version();
    let mut w = WatchStream::open(
        &sim,
        &format!("/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion={start}&timeoutSeconds=30"),
    )
    .await;
    assert_eq!(w.status, 200);
    let lines = fixture_lines("watch-core-v1.ndjson");
    // Lines 4..=8 of the capture: ADDED 306, MODIFIED 307 (count), MODIFIED 309 (annotation), DELETED 310.
    let added = &lines[3];
    let bumped = &lines[4];
    let touched = &lines[6];
    let deleted = &lines[7];
    let rv1 = sim.create_event(object_of(added)).unwrap();
    let rv2 = sim.update_event(object_of(bumped)).unwrap();
    let rv3 = sim.update_event(object_of(touched)).unwrap();
    let rv4 = sim
        .delete_event("shop", "nginx-55b49f585d-pjdb6.17a1b2c3d4e5f800")
        .unwrap();
    for (expected, fixture_rv, ours) in [
        (added, "306", &rv1),
        (bumped, "307", &rv2),
        (touched, "309", &rv3),
        (deleted, "310", &rv4),
    ] {
        let got = w.next_line(Duration::from_secs(5)).await.unwrap().unwrap();
        assert_eq!(with_rv(&got, ours, fixture_rv), *expected);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_from_rv_yields_exactly_the_later_mutations() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    let from = sim.resource_version();
    let create = json!({
        "metadata": {"name": "api-0.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-0"},
        "reason": "BackOff", "message": "Back-off restarting failed container",
        "source": {"component": "kubelet", "host": "worker-1"},
        "firstTimestamp": "2026-11-22T01:32:48Z", "lastTimestamp": "2026-11-22T01:32:48Z",
        "count": 1, "type": "Warning"
    });
    let mut expected = vec![
        ("ADDED", sim.create_event(create).unwrap()),
        ("MODIFIED", sim.bump_count("shop", "api-0.1").unwrap()),
        ("MODIFIED", sim.touch_metadata("shop", "api-0.1").unwrap()),
    ];
    sim.put_object("v1", "Pod", json!({"name": "api-0", "namespace": "shop"}))
        .unwrap();
    expected.push(("DELETED", sim.delete_event("shop", "api-0.1").unwrap()));
    expected.push((
        "MODIFIED",
        sim.bump_count("default", "worker-1.17a1b2c3d4e5f602")
            .unwrap(),
    ));

    let mut w = WatchStream::open(
        &sim,
        &format!("/api/v1/events?watch=true&resourceVersion={from}"),
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let v = w.next_json().await;
        got.push((
            v["type"].as_str().unwrap().to_owned(),
            v["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned(),
            v["object"].clone(),
        ));
    }
    let types: Vec<(String, String)> = got
        .iter()
        .map(|(t, rv, _)| (t.clone(), rv.clone()))
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(t, rv)| ((*t).to_owned(), rv.clone()))
        .collect();
    assert_eq!(types, want);
    assert_eq!(got[0].2["count"], 1);
    assert_eq!(got[0].2["kind"], "Event");
    assert_eq!(got[0].2["apiVersion"], "v1");
    assert_eq!(got[1].2["count"], 2);
    assert_ne!(got[1].2["lastTimestamp"], got[0].2["lastTimestamp"]);
    assert_eq!(
        got[2].2["count"], 2,
        "a metadata-only change keeps the count"
    );
    assert_eq!(
        got[2].2["metadata"]["annotations"]["kubesim.herald.dev/touched"],
        "1"
    );
    assert_eq!(
        got[3].2["metadata"]["annotations"]["kubesim.herald.dev/touched"],
        "1"
    );
    assert!(
        w.next_line(Duration::from_millis(300)).await.is_err(),
        "no further lines"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_from_zero_replays_current_state_then_changes() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let mut w = WatchStream::open(&sim, "/api/v1/namespaces/default/events?watch=1").await;
    let mut names = Vec::new();
    for _ in 0..7 {
        let v = w.next_json().await;
        assert_eq!(v["type"], "ADDED");
        names.push(v["object"]["metadata"]["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(names[0], "worker-1.17a1b2c3d4e5f601");
    // Changes in other namespaces are not sent.
    sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    let rv = sim
        .bump_count("default", "worker-1.17a1b2c3d4e5f607")
        .unwrap();
    let v = w.next_json().await;
    assert_eq!(v["type"], "MODIFIED");
    assert_eq!(v["object"]["metadata"]["resourceVersion"], rv.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_timeout_closes_cleanly() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let started = Instant::now();
    let mut w = WatchStream::open(
        &sim,
        "/api/v1/events?watch=1&resourceVersion=279&timeoutSeconds=1",
    )
    .await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(2)).await);
    assert_eq!(w.next_line(Duration::from_secs(5)).await, Ok(None));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    assert!(sim.wait_for_watches(0, Duration::from_secs(2)).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn bookmarks_only_in_watch_cache_mode() {
    let cfg = SimConfig {
        bookmark_interval: Duration::from_millis(150),
        ..SimConfig::default()
    };
    let etcd = sim_with_fixtures(cfg.clone()).await;
    let mut w = WatchStream::open(
        &etcd,
        "/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion=279",
    )
    .await;
    assert!(
        w.next_line(Duration::from_millis(600)).await.is_err(),
        "etcd-served events get no bookmarks"
    );
    etcd.shutdown().await;

    let cached = sim_with_fixtures(SimConfig {
        watch_cache: true,
        ..cfg
    })
    .await;
    let mut w = WatchStream::open(
        &cached,
        "/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion=279",
    )
    .await;
    let bookmark = w.next_line(Duration::from_secs(3)).await.unwrap().unwrap();
    let captured = fixture_lines("watch-core-v1-watchcache.ndjson")[14].clone();
    assert_eq!(with_rv(&bookmark, "279", "365"), captured);
    let rv = cached.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    let modified = w.next_json().await;
    assert_eq!(modified["type"], "MODIFIED");
    let next = w.next_json().await;
    assert_eq!(next["type"], "BOOKMARK");
    assert_eq!(next["object"]["metadata"]["resourceVersion"], rv.as_str());
    // Without allowWatchBookmarks there are none.
    let mut quiet = WatchStream::open(
        &cached,
        &format!("/api/v1/events?watch=1&resourceVersion={rv}"),
    )
    .await;
    assert!(quiet.next_line(Duration::from_millis(500)).await.is_err());
    cached.shutdown().await;
}

#[tokio::test]
async fn watch_from_compacted_rv_is_one_error_line() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    sim.compact();
    let resp = common::client()
        .get(format!(
            "{}/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion=100&timeoutSeconds=10",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = resp.bytes().await.unwrap();
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        String::from_utf8(fixture("watch-gone-410.ndjson")).unwrap()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_cache_410_uses_the_cache_message() {
    let sim = sim_with_fixtures(SimConfig {
        watch_cache: true,
        ..SimConfig::default()
    })
    .await;
    // The capture compacted so that 335 was the oldest usable revision.
    while sim.resource_version() != "335" {
        sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    }
    sim.compact();
    let body = common::client()
        .get(format!(
            "{}/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion=292&timeoutSeconds=10",
            sim.url()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.to_vec(), fixture("watch-gone-410-watchcache.ndjson"));
    sim.shutdown().await;
}

#[tokio::test]
async fn events_api_watch_converts_objects() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let mut w = WatchStream::open(
        &sim,
        "/apis/events.k8s.io/v1/events?watch=1&resourceVersion=279",
    )
    .await;
    sim.bump_count("shop", "nginx.18ea39e2a4e4db20").unwrap();
    let v = w.next_json().await;
    assert_eq!(v["type"], "MODIFIED");
    assert_eq!(v["object"]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(v["object"]["deprecatedCount"], 2);
    assert_eq!(
        v["object"]["note"],
        "Scaled up replica set nginx-55b49f585d to 2"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_watch_faults() {
    let sim = sim_with_fixtures(SimConfig::default()).await;

    // close_watches ends every stream cleanly.
    let mut a = WatchStream::open(&sim, "/api/v1/events?watch=1&resourceVersion=279").await;
    let mut b = WatchStream::open(
        &sim,
        "/api/v1/namespaces/shop/events?watch=1&resourceVersion=279",
    )
    .await;
    assert!(sim.wait_for_watches(2, Duration::from_secs(2)).await);
    sim.faults().close_watches();
    assert_eq!(a.next_line(Duration::from_secs(2)).await, Ok(None));
    assert_eq!(b.next_line(Duration::from_secs(2)).await, Ok(None));
    assert!(sim.wait_for_watches(0, Duration::from_secs(2)).await);

    // drop after K lines breaks the connection instead of ending the stream.
    sim.faults().drop_next_watch_after("/api/v1/events", 2);
    let mut d = WatchStream::open(&sim, "/api/v1/events?watch=1").await;
    assert!(d.next_line(Duration::from_secs(2)).await.unwrap().is_some());
    assert!(d.next_line(Duration::from_secs(2)).await.unwrap().is_some());
    let end = d.next_line(Duration::from_secs(2)).await;
    assert!(end.is_err() && end.unwrap_err().starts_with("stream error"));

    // A malformed first line, then the normal stream.
    sim.faults().malformed_line_on_next_watch("/api/v1/events");
    let mut m = WatchStream::open(&sim, "/api/v1/events?watch=1&resourceVersion=279").await;
    let bad = m.next_line(Duration::from_secs(2)).await.unwrap().unwrap();
    assert!(serde_json::from_str::<Value>(&bad).is_err());
    sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    assert_eq!(m.next_json().await["type"], "MODIFIED");
    sim.shutdown().await;
}

#[tokio::test]
async fn watches_of_other_resources_and_metadata() {
    let sim = sim().await;
    let mut w =
        WatchStream::open(&sim, "/api/v1/namespaces?watch=1&allowWatchBookmarks=true").await;
    let mut m = common::client()
        .get(format!("{}/api/v1/namespaces?watch=1", sim.url()))
        .header(
            "accept",
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
        .send()
        .await
        .unwrap();
    assert!(sim.wait_for_watches(2, Duration::from_secs(2)).await);
    sim.put_object(
        "v1",
        "Namespace",
        json!({"name": "shop", "labels": {"team": "commerce"}}),
    )
    .unwrap();
    let v = w.next_json().await;
    assert_eq!(v["type"], "ADDED");
    assert_eq!(v["object"]["kind"], "Namespace");
    assert_eq!(v["object"]["status"]["phase"], "Active");
    let chunk = m.chunk().await.unwrap().unwrap();
    let v: Value = serde_json::from_slice(&chunk).unwrap();
    assert_eq!(v["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(v["object"]["metadata"]["labels"]["team"], "commerce");
    assert_eq!(
        v["object"]["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "shop"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_events_are_deleted_like_etcd_ttl() {
    let sim = common::sim_with_fixtures(SimConfig {
        event_ttl: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    })
    .await;
    let mut w = WatchStream::open(
        &sim,
        "/api/v1/namespaces/default/events?watch=1&resourceVersion=279",
    )
    .await;
    let mut deleted = 0;
    while deleted < 7 {
        let v = w.next_json().await;
        assert_eq!(v["type"], "DELETED");
        deleted += 1;
    }
    assert_eq!(sim.event_count(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_without_resource_version_bypasses_the_cache() {
    let sim = sim_with_fixtures(SimConfig {
        watch_cache: true,
        bookmark_interval: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let mut w = WatchStream::open(
        &sim,
        "/api/v1/namespaces/default/events?watch=1&allowWatchBookmarks=true",
    )
    .await;
    for _ in 0..7 {
        assert_eq!(w.next_json().await["type"], "ADDED");
    }
    assert!(
        w.next_line(Duration::from_millis(400)).await.is_err(),
        "no bookmarks from the etcd path"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cached_watch_from_a_future_rv_is_a_too_large_error_line() {
    let sim = sim_with_fixtures(SimConfig {
        watch_cache: true,
        ..SimConfig::default()
    })
    .await;
    let current = sim.resource_version();
    let started = Instant::now();
    let resp = common::client()
        .get(format!(
            "{}/api/v1/events?watch=1&allowWatchBookmarks=true&resourceVersion=5000&timeoutSeconds=30",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap();
    // the watch cache waits for the revision before it gives up
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(
        body,
        format!(
            "{{\"type\":\"ERROR\",\"object\":{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Failure\",\"message\":\"Timeout: Too large resource version: 5000, current: {current}\",\"reason\":\"Timeout\",\"details\":{{\"causes\":[{{\"reason\":\"ResourceVersionTooLarge\",\"message\":\"Too large resource version\"}}],\"retryAfterSeconds\":1}},\"code\":504}}}}\n"
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cached_watch_from_a_future_rv_that_arrives_in_time_streams() {
    let sim = sim_with_fixtures(SimConfig {
        watch_cache: true,
        ..SimConfig::default()
    })
    .await;
    let next: u64 = sim.resource_version().parse::<u64>().unwrap() + 1;
    let mut w = WatchStream::open(
        &sim,
        &format!("/api/v1/events?watch=1&resourceVersion={next}&timeoutSeconds=30"),
    )
    .await;
    sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    let rv = sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    let line = w.next_json().await;
    assert_eq!(line["type"], "MODIFIED");
    assert_eq!(line["object"]["metadata"]["resourceVersion"], rv.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn after_an_etcd_restore_an_uncached_watch_from_before_waits_silently() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let before = sim.resource_version();
    for _ in 0..5 {
        sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    }
    let seen = sim.resource_version();
    assert_eq!(sim.restore_etcd(&before).unwrap(), before);
    assert_eq!(sim.resource_version(), before);
    // etcd serves a watch from a revision it has not reached by waiting for it
    let mut w = WatchStream::open(
        &sim,
        &format!("/api/v1/events?watch=1&resourceVersion={seen}&timeoutSeconds=30"),
    )
    .await;
    assert_eq!(w.status, 200);
    let rv = sim.bump_count("shop", "nginx.18ea39e47ece614c").unwrap();
    assert!(rv.parse::<u64>().unwrap() <= seen.parse::<u64>().unwrap());
    assert!(
        w.next_line(Duration::from_millis(800)).await.is_err(),
        "the write after the restore reuses an old revision: the watch does not see it"
    );
    // a consistent list shows the restored (lower) revision
    let list: Value = common::client()
        .get(format!("{}/api/v1/events?limit=1", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["metadata"]["resourceVersion"], rv.as_str());
    sim.shutdown().await;
}
