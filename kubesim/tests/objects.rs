//! Involved objects, namespaces, discovery, HTTP faults and the request log.

mod common;

use std::time::{Duration, Instant};

use common::{client, fixture, fixture_str, get, get_accept, sim};
use herald_kubesim::{HttpFault, ResourceDef, SimError};
use serde_json::{Value, json};

const META: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
const META_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

#[tokio::test]
async fn pod_metadata_and_404s_match_captures() {
    let sim = sim().await;
    assert_eq!(sim.load_fixture_objects().unwrap(), 7);
    let (status, body) = get_accept(
        &sim,
        "/api/v1/namespaces/shop/pods/nginx-55b49f585d-pjdb6",
        META,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("involved-pod-metadata.json"));

    let (status, body) = get_accept(
        &sim,
        "/api/v1/namespaces/shop/pods/nginx-74447cbdd9-r9zqj",
        META,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, fixture("involved-pod-metadata-404.json"));

    let (status, headers, body) =
        get(&sim, "/api/v1/namespaces/shop/pods/nginx-74447cbdd9-r9zqj").await;
    assert_eq!(status, 404);
    assert_eq!(body, fixture("involved-pod-404-plain.json"));
    assert_eq!(headers["content-length"], "212");
    assert_eq!(headers["content-type"], "application/json");

    // The full object carries kind/apiVersion of the request.
    let (status, _, body) = get(&sim, "/api/v1/namespaces/shop/pods/nginx-55b49f585d-pjdb6").await;
    assert_eq!(status, 200);
    let pod: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["apiVersion"], "v1");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    sim.shutdown().await;
}

#[tokio::test]
async fn namespace_list_metadata_matches_capture() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    let (status, body) = get_accept(&sim, "/api/v1/namespaces", META_LIST).await;
    assert_eq!(status, 200);
    // The capture was taken at RV 280; everything else is identical.
    let expected = fixture_str("namespace-list-metadata.json").replacen(
        "\"resourceVersion\":\"280\"",
        &format!("\"resourceVersion\":\"{}\"", sim.resource_version()),
        1,
    );
    assert_eq!(String::from_utf8(body).unwrap(), expected);

    let (status, _, body) = get(&sim, "/api/v1/namespaces/shop").await;
    assert_eq!(status, 200);
    let ns: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["metadata"]["labels"]["tier"], "frontend");
    assert_eq!(ns["spec"]["finalizers"][0], "kubernetes");

    let (_, _, body) = get(&sim, "/api/v1/namespaces").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["kind"], "NamespaceList");
    assert_eq!(list["items"].as_array().unwrap().len(), 6);
    assert!(list["items"][0].get("kind").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn metadata_kind_must_fit_object_or_list() {
    let sim = sim().await;
    sim.load_fixture_objects().unwrap();
    // A list asked for item by item, and an object asked for as a list: the API server
    // negotiates both, then refuses the transformation with 406 (pretty-printed, like
    // every error of a metadata request).
    let (status, body) = get_accept(&sim, "/api/v1/namespaces/shop/pods", META).await;
    assert_eq!(status, 406);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["reason"], "NotAcceptable");
    assert_eq!(st["code"], 406);
    assert_eq!(
        st["message"],
        "you requested PartialObjectMetadata, but the requested object is a list (*core.PodList)"
    );
    assert!(body.starts_with(b"{\n"), "pretty-printed");
    let (status, body) = get_accept(
        &sim,
        "/api/v1/namespaces/shop/pods/nginx-55b49f585d-pjdb6",
        META_LIST,
    )
    .await;
    assert_eq!(status, 406);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        st["message"],
        "you requested PartialObjectMetadataList, but the requested object is not a list (*core.Pod)"
    );
    // The fitting kinds work.
    let (status, body) = get_accept(&sim, "/api/v1/namespaces/shop/pods", META_LIST).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(
        list["items"][0]["metadata"]["name"],
        "nginx-55b49f585d-pjdb6"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn involved_objects_across_groups_and_scopes() {
    let sim = sim().await;
    sim.put_object(
        "v1",
        "Node",
        json!({"name": "worker-1", "labels": {"kubernetes.io/os": "linux"}}),
    )
    .unwrap();
    let rs_rv = sim
        .put_object(
            "apps/v1",
            "ReplicaSet",
            json!({"name": "web-5d4f8", "namespace": "shop", "labels": {"app": "web"},
                   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-1", "controller": true, "blockOwnerDeletion": true}]}),
        )
        .unwrap();
    sim.put_object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        json!({"name": "web", "namespace": "shop"}),
    )
    .unwrap();
    sim.put_object_full(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "jobs"},
                               "spec": {"backoffLimit": 2}, "status": {"failed": 3}}))
        .unwrap();

    let (status, _, body) = get(&sim, "/api/v1/nodes/worker-1").await;
    assert_eq!(status, 200);
    let node: Value = serde_json::from_slice(&body).unwrap();
    assert!(node["metadata"].get("namespace").is_none());

    let (status, body) = get_accept(
        &sim,
        "/apis/apps/v1/namespaces/shop/replicasets/web-5d4f8",
        META,
    )
    .await;
    assert_eq!(status, 200);
    let rs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(rs["kind"], "PartialObjectMetadata");
    assert_eq!(rs["metadata"]["resourceVersion"], rs_rv.as_str());
    assert_eq!(rs["metadata"]["ownerReferences"][0]["name"], "web");

    // The same HPA through both served versions.
    for v in ["v1", "v2"] {
        let (status, _, body) = get(
            &sim,
            &format!("/apis/autoscaling/{v}/namespaces/shop/horizontalpodautoscalers/web"),
        )
        .await;
        assert_eq!(status, 200);
        let hpa: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(hpa["apiVersion"], format!("autoscaling/{v}"));
    }
    let (_, _, body) = get(&sim, "/apis/batch/v1/namespaces/jobs/jobs/migrate").await;
    let job: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(job["status"]["failed"], 3);

    // Updates keep uid and stored spec; deletes give 404 afterwards.
    let before = sim.object("batch/v1", "Job", "jobs", "migrate").unwrap();
    sim.put_object(
        "batch/v1",
        "Job",
        json!({"name": "migrate", "namespace": "jobs", "labels": {"x": "y"}}),
    )
    .unwrap();
    let after = sim.object("batch/v1", "Job", "jobs", "migrate").unwrap();
    assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
    assert_eq!(after["spec"]["backoffLimit"], 2);
    sim.delete_object("apps/v1", "ReplicaSet", "shop", "web-5d4f8")
        .unwrap();
    let (status, _, body) = get(&sim, "/apis/apps/v1/namespaces/shop/replicasets/web-5d4f8").await;
    assert_eq!(status, 404);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"replicasets.apps \\\"web-5d4f8\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"web-5d4f8\",\"group\":\"apps\",\"kind\":\"replicasets\"},\"code\":404}\n"
    );

    assert!(matches!(
        sim.put_object("example.com/v1", "Widget", json!({"name": "w"})),
        Err(SimError::UnknownKind { .. })
    ));
    sim.register_resource(ResourceDef::new(
        "example.com",
        &["v1"],
        "widgets",
        "Widget",
        true,
    ));
    sim.put_object(
        "example.com/v1",
        "Widget",
        json!({"name": "w", "namespace": "shop"}),
    )
    .unwrap();
    let (status, _, _) = get(&sim, "/apis/example.com/v1/namespaces/shop/widgets/w").await;
    assert_eq!(status, 200);
    let (_, _, body) = get(&sim, "/apis").await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("\"name\":\"example.com\"")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn discovery_documents() {
    let sim = sim().await;
    let (status, headers, body) = get(&sim, "/version").await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("version.json"));
    assert_eq!(headers["content-length"], "289");

    let (_, _, body) = get(&sim, "/apis").await;
    assert_eq!(body, fixture("discovery-apis.json"));

    let (_, _, body) = get(&sim, "/api").await;
    let expected =
        fixture_str("discovery-api.json").replace("127.0.0.1:6443", &sim.addr().to_string());
    assert_eq!(String::from_utf8(body).unwrap(), expected);

    let (_, _, body) = get(&sim, "/api/v1").await;
    let core: Value = serde_json::from_slice(&body).unwrap();
    assert!(core.get("apiVersion").is_none());
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "pods",
        "nodes",
        "namespaces",
        "events",
        "services",
        "configmaps",
        "persistentvolumeclaims",
    ] {
        assert!(names.contains(&want), "{want}");
    }
    for (gv, want) in [
        (
            "apps/v1",
            vec!["deployments", "replicasets", "statefulsets", "daemonsets"],
        ),
        ("batch/v1", vec!["jobs", "cronjobs"]),
        ("autoscaling/v2", vec!["horizontalpodautoscalers"]),
        ("autoscaling/v1", vec!["horizontalpodautoscalers"]),
        ("coordination.k8s.io/v1", vec!["leases"]),
        ("events.k8s.io/v1", vec!["events"]),
    ] {
        let (status, _, body) = get(&sim, &format!("/apis/{gv}")).await;
        assert_eq!(status, 200, "{gv}");
        let list: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(list["kind"], "APIResourceList");
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["groupVersion"], gv);
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for w in want {
            assert!(names.contains(&w), "{gv} {w}");
        }
    }
    let (_, _, body) = get(&sim, "/apis/apps").await;
    let group: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["preferredVersion"]["groupVersion"], "apps/v1");

    let (status, _, body) = get(&sim, "/api/v1/widgets").await;
    assert_eq!(status, 404);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        st["message"],
        "the server could not find the requested resource"
    );
    let (status, headers, body) = get(&sim, "/metrics-nope").await;
    assert_eq!(status, 404);
    assert_eq!(body, b"404 page not found\n");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let (status, _, _) = get(&sim, "/healthz").await;
    assert_eq!(status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_429_is_the_captured_plain_text_answer() {
    let sim = sim().await;
    sim.faults().fail_next(
        "/api/v1/events",
        2,
        HttpFault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    for _ in 0..2 {
        let (status, headers, body) = get(&sim, "/api/v1/events").await;
        assert_eq!(status, 429);
        assert_eq!(body, fixture("event-create-429.txt"));
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-length"], "43");
        assert_eq!(headers["cache-control"], "no-cache, private");
    }
    let (status, _, _) = get(&sim, "/api/v1/events").await;
    assert_eq!(status, 200);
    // Other paths are not affected.
    sim.faults()
        .fail_next("/api/v1/events", 1, HttpFault::InternalError);
    let (status, _, _) = get(&sim, "/version").await;
    assert_eq!(status, 200);
    let (status, _, body) = get(&sim, "/api/v1/events?watch=1").await;
    assert_eq!(status, 500);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["reason"], "InternalError");
    assert_eq!(st["code"], 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_403_is_worded_like_the_rbac_authorizer() {
    let sim = sim().await;
    sim.faults()
        .fail_next("/api/v1/pods", 2, HttpFault::Forbidden);
    let (status, _, body) = get(&sim, "/api/v1/pods?limit=500").await;
    assert_eq!(status, 403);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(st["code"], 403);
    assert_eq!(
        st["message"],
        "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    assert_eq!(st["details"]["kind"], "pods");
    let (status, _, body) = get(&sim, "/api/v1/pods?watch=1").await;
    assert_eq!(status, 403);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("cannot watch resource"),
        "{st}"
    );
    sim.faults().fail_next(
        "/apis/apps/v1/namespaces/shop/replicasets/web",
        1,
        HttpFault::Forbidden,
    );
    let (status, _, body) = get(&sim, "/apis/apps/v1/namespaces/shop/replicasets/web").await;
    assert_eq!(status, 403);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        st["message"],
        "replicasets.apps \"web\" is forbidden: User \"system:anonymous\" cannot get resource \"replicasets\" in API group \"apps\" in the namespace \"shop\""
    );
    assert_eq!(st["details"]["name"], "web");
    sim.shutdown().await;
}

#[tokio::test]
async fn stalls_delay_matching_requests() {
    let sim = sim().await;
    sim.faults()
        .stall_next("/api/v1/events", 1, Duration::from_millis(400));
    let started = Instant::now();
    let (status, _, _) = get(&sim, "/api/v1/events").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    get(&sim, "/api/v1/events").await;
    assert!(started.elapsed() < Duration::from_millis(400));
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_list_items_can_be_injected() {
    let sim = common::sim_with_fixtures(herald_kubesim::SimConfig::default()).await;
    sim.faults()
        .bad_item_in_next_list("/api/v1/events", herald_kubesim::BadListItem::WrongTypes);
    let (_, _, body) = get(&sim, "/api/v1/events").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 73);
    assert_eq!(list["items"][0]["count"], "many");
    sim.faults()
        .bad_item_in_next_list("/api/v1/events", herald_kubesim::BadListItem::InvalidJson);
    let (status, _, body) = get(&sim, "/api/v1/events").await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    let (_, _, body) = get(&sim, "/api/v1/events").await;
    assert!(serde_json::from_slice::<Value>(&body).is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_are_recorded_with_redacted_credentials() {
    let sim = sim().await;
    client()
        .get(format!("{}/api/v1/events?limit=5", sim.url()))
        .header("authorization", "Bearer top-secret")
        .header("accept", META_LIST)
        .send()
        .await
        .unwrap();
    let recs = sim.requests();
    let r = recs.last().unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, "/api/v1/events?limit=5");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("authorization"), Some("Bearer <redacted>"));
    assert_eq!(r.header("accept"), Some(META_LIST));
    assert_eq!(
        r.header("user-agent"),
        Some("event-exporter-fixture-capture/1.0")
    );
    assert!(!r.watch);
    sim.clear_requests();
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}
