//! Event lists against the captures: shapes, paging, resourceVersion semantics, 410s.

mod common;

use common::{fixture, fixture_json, get, sim, sim_with_fixtures};
use herald_kubesim::SimConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn list_matches_capture_byte_for_byte() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let (status, headers, body) = get(&sim, "/api/v1/events").await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("core-v1-eventlist.json"));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-cache, private");
    assert_eq!(headers["audit-id"].len(), 36);
    // Large lists are streamed like the API server's (no content-length in the capture).
    assert!(headers.get("content-length").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn paged_lists_match_captures() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let (status, headers, page1) = get(&sim, "/api/v1/events?limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(page1, fixture("core-v1-eventlist-paged-1.json"));
    assert_eq!(headers["content-length"], "2806");
    let token = fixture_json("core-v1-eventlist-paged-1.json")["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, page2) = get(&sim, &format!("/api/v1/events?limit=3&continue={token}")).await;
    assert_eq!(status, 200);
    assert_eq!(page2, fixture("core-v1-eventlist-paged-2.json"));
    sim.shutdown().await;
}

#[tokio::test]
async fn paging_walks_every_item_from_one_snapshot() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let full: Value = serde_json::from_slice(&fixture("core-v1-eventlist.json")).unwrap();
    let expected: Vec<String> = full["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let path = if token.is_empty() {
            "/api/v1/events?limit=5".to_owned()
        } else {
            format!("/api/v1/events?limit=5&continue={token}")
        };
        let (status, _, body) = get(&sim, &path).await;
        assert_eq!(status, 200);
        let page: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            page["metadata"]["resourceVersion"], "279",
            "every page is served at the first page's RV"
        );
        for item in page["items"].as_array().unwrap() {
            names.push(item["metadata"]["name"].as_str().unwrap().to_owned());
        }
        pages += 1;
        // Writes between pages must not show up in (or shift) the snapshot.
        sim.create_event(json!({
            "metadata": {"name": format!("aaa-{pages}.1"), "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "aaa"},
            "reason": "Injected", "count": 1, "type": "Normal"
        }))
        .unwrap();
        sim.delete_event("test-ns", "worker.18ea39e0ff82d24f").ok();
        match page["metadata"]["continue"].as_str() {
            Some(t) => {
                let remaining = page["metadata"]["remainingItemCount"].as_u64().unwrap();
                assert_eq!(remaining as usize, expected.len() - names.len());
                token = t.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 15);
    assert_eq!(names, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn namespaced_lists_only_hold_their_namespace() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    for (ns, n) in [("shop", 41), ("test-ns", 24), ("default", 7), ("nope", 0)] {
        let (status, _, body) = get(&sim, &format!("/api/v1/namespaces/{ns}/events")).await;
        assert_eq!(status, 200);
        let list: Value = serde_json::from_slice(&body).unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), n, "namespace {ns}");
        assert!(items.iter().all(|i| i["metadata"]["namespace"] == ns));
        assert!(
            items.iter().all(|i| i.get("kind").is_none()),
            "list items carry no kind"
        );
        assert_eq!(list["kind"], "EventList");
    }
    // Namespaced paging: the continue token's start key is relative to the namespace.
    let (_, _, body) = get(&sim, "/api/v1/namespaces/default/events?limit=6").await;
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        r#"{"v":"meta.k8s.io/v1","rv":279,"start":"worker-1.17a1b2c3d4e5f606\u0000"}"#
    );
    let (_, _, body) = get(
        &sim,
        &format!("/api/v1/namespaces/default/events?limit=6&continue={token}"),
    )
    .await;
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        page["items"][0]["metadata"]["name"],
        "worker-1.17a1b2c3d4e5f607"
    );
    assert!(page["metadata"].get("continue").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn events_api_views_match_captures() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let (status, _, body) = get(&sim, "/apis/events.k8s.io/v1/events").await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("events-k8s-io-v1-eventlist.json"));
    let (status, headers, body) = get(
        &sim,
        "/api/v1/namespaces/shop/events/nginx-55b49f585d-pjdb6.17a1b2c3d4e5f700",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("core-v1-event-from-events-api.json"));
    assert_eq!(headers["content-length"], "1205");
    let (status, _, body) = get(
        &sim,
        "/apis/events.k8s.io/v1/namespaces/shop/events/nginx-55b49f585d-pjdb6.17a1b2c3d4e5f700",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("events-k8s-io-v1-event-from-events-api.json"));
    let (status, _, body) = get(
        &sim,
        "/apis/events.k8s.io/v1/namespaces/shop/events/missing",
    )
    .await;
    assert_eq!(status, 404);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["message"], "events.events.k8s.io \"missing\" not found");
    sim.shutdown().await;
}

#[tokio::test]
async fn compacted_revisions_answer_410_like_the_captures() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let page2_token = fixture_json("core-v1-eventlist-paged-2.json")["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_owned();
    // Move past the captured revisions (the captures compacted at 333), then compact.
    for i in 0..54 {
        sim.put_object("v1", "Namespace", json!({"name": format!("ns-{i}")}))
            .unwrap();
    }
    sim.compact();

    let (status, headers, body) = get(
        &sim,
        &format!("/api/v1/events?limit=3&continue={page2_token}"),
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(body, fixture("list-continue-gone-410.json"));
    assert_eq!(headers["content-length"], "649");

    let (status, _, body) = get(
        &sim,
        "/api/v1/events?resourceVersion=292&resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(body, fixture("list-gone-410-exact.json"));

    // Legacy semantics: a resourceVersion with a limit and no match is exact.
    let (status, _, body) = get(&sim, "/api/v1/events?limit=500&resourceVersion=279").await;
    assert_eq!(status, 410);
    assert_eq!(body, fixture("watch-gone-410.json"));

    // NotOlderThan on a compacted RV still succeeds, at the current RV.
    let (status, _, body) = get(
        &sim,
        "/api/v1/events?resourceVersion=279&limit=2&resourceVersionMatch=NotOlderThan",
    )
    .await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["metadata"]["resourceVersion"], sim.resource_version());
    assert_eq!(list["metadata"]["remainingItemCount"], 70);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // The fresh token from the 410 continues at the latest revision.
    let expired: Value = serde_json::from_slice(&fixture("list-continue-gone-410.json")).unwrap();
    let fresh = expired["metadata"]["continue"].as_str().unwrap();
    let (status, _, body) = get(&sim, &format!("/api/v1/events?limit=100&continue={fresh}")).await;
    assert_eq!(status, 200);
    let rest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        rest["items"][0]["metadata"]["name"],
        "worker-1.17a1b2c3d4e5f607"
    );
    assert_eq!(rest["items"].as_array().unwrap().len(), 66);
    assert_eq!(rest["metadata"]["resourceVersion"], sim.resource_version());
    sim.shutdown().await;
}

#[tokio::test]
async fn exact_reads_of_retained_history_see_the_past() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    sim.delete_event("shop", "nginx.18ea39e47ece614c").unwrap();
    sim.bump_count("default", "worker-1.17a1b2c3d4e5f601")
        .unwrap();
    let (status, _, body) = get(
        &sim,
        "/api/v1/events?resourceVersion=279&resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("core-v1-eventlist.json"));
    let (_, _, body) = get(&sim, "/api/v1/events").await;
    let now: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(now["items"].as_array().unwrap().len(), 71);
    assert_eq!(now["items"][0]["count"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn future_revisions_are_too_large() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let (status, _, body) = get(
        &sim,
        "/api/v1/events?resourceVersion=9999&resourceVersionMatch=NotOlderThan",
    )
    .await;
    assert_eq!(status, 504);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Timeout: Too large resource version: 9999, current: 279\",\"reason\":\"Timeout\",\"details\":{\"causes\":[{\"reason\":\"ResourceVersionTooLarge\",\"message\":\"Too large resource version\"}],\"retryAfterSeconds\":1},\"code\":504}\n"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn resource_version_zero_ignores_limit_only_in_watch_cache_mode() {
    let etcd = sim_with_fixtures(SimConfig::default()).await;
    let (_, _, body) = get(&etcd, "/api/v1/events?resourceVersion=0&limit=3").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_eq!(list["metadata"]["remainingItemCount"], 69);
    etcd.shutdown().await;

    let cached = sim_with_fixtures(SimConfig {
        watch_cache: true,
        ..SimConfig::default()
    })
    .await;
    let (_, _, body) = get(&cached, "/api/v1/events?resourceVersion=0&limit=3").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 72);
    assert!(list["metadata"].get("continue").is_none());
    cached.shutdown().await;
}

#[tokio::test]
async fn bad_list_options_are_rejected() {
    let sim = sim().await;
    let (status, _, body) = get(&sim, "/api/v1/events?resourceVersionMatch=Exact").await;
    assert_eq!(status, 422);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"ListOptions.meta.k8s.io \\\"\\\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided\",\"reason\":\"Invalid\",\"details\":{\"group\":\"meta.k8s.io\",\"kind\":\"ListOptions\",\"causes\":[{\"reason\":\"FieldValueForbidden\",\"message\":\"Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided\",\"field\":\"resourceVersionMatch\"}]},\"code\":422}\n"
    );
    let (status, _, body) = get(&sim, "/api/v1/events?continue=garbage!").await;
    assert_eq!(status, 400);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid continue token: continue key is not valid")
    );
    let (status, _, _) = get(&sim, "/api/v1/events?resourceVersion=abc").await;
    assert_eq!(status, 400);
    // An empty store still answers a well-formed empty list.
    let (status, headers, body) = get(&sim, "/api/v1/events").await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"0\"},\"items\":[]}\n"
    );
    assert_eq!(headers["content-type"], "application/json");
    sim.shutdown().await;
}

#[tokio::test]
async fn curl_user_agents_get_pretty_json() {
    let sim = sim_with_fixtures(SimConfig::default()).await;
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/namespaces/default/events?limit=1",
            sim.url()
        ))
        .header("user-agent", "curl/8.5.0")
        .send()
        .await
        .unwrap();
    let body = resp.text().await.unwrap();
    assert!(body.starts_with(
        "{\n  \"kind\": \"EventList\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {\n"
    ));
    assert!(!body.ends_with('\n'));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}
