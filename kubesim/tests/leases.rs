//! Leases: create/get/renew/conflict like the captures, plus the other verbs.

mod common;

use common::{client, fixture_json, fixture_str, sim};
use serde_json::{Value, json};

const BASE: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

async fn send(
    sim: &herald_kubesim::Simulator,
    method: reqwest::Method,
    path: &str,
    body: &str,
    ctype: &str,
) -> (u16, String) {
    let resp = client()
        .request(method, format!("{}{path}", sim.url()))
        .header("content-type", ctype)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// The capture with our uid, resourceVersion and timestamps swapped in.
fn captured_as(name: &str, obj: &Value) -> String {
    let meta = &obj["metadata"];
    fixture_str(name)
        .replace(
            "7d6c2733-ef0c-4dd9-a638-9a005cc2bb1c",
            meta["uid"].as_str().unwrap(),
        )
        .replace(
            "\"resourceVersion\":\"285\"",
            &format!("\"resourceVersion\":{}", meta["resourceVersion"]),
        )
        .replace(
            "\"resourceVersion\":\"286\"",
            &format!("\"resourceVersion\":{}", meta["resourceVersion"]),
        )
        .replace(
            "\"creationTimestamp\":\"2026-11-22T01:32:05Z\"",
            &format!("\"creationTimestamp\":{}", meta["creationTimestamp"]),
        )
        .replace(
            "\"time\":\"2026-11-22T01:32:05Z\"",
            &format!("\"time\":{}", meta["managedFields"][0]["time"]),
        )
}

#[tokio::test]
async fn lease_lifecycle_matches_captures() {
    let sim = sim().await;
    let create = fixture_str("requests/lease-create.json");
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        BASE,
        &create,
        "application/json",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, captured_as("lease-create-201.json", &created));

    let (status, got) = send(
        &sim,
        reqwest::Method::GET,
        &format!("{BASE}/event-exporter"),
        "",
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, body);

    // Renew: the capture's body with the current resourceVersion and a new renewTime.
    let mut renew = fixture_json("lease.json");
    renew["metadata"] = created["metadata"].clone();
    renew["spec"]["renewTime"] = json!("2026-11-22T01:32:05.855010Z");
    let (status, renewed) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/event-exporter"),
        &renew.to_string(),
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_v: Value = serde_json::from_str(&renewed).unwrap();
    assert_eq!(renewed, captured_as("lease-renew-200.json", &renewed_v));
    assert_eq!(
        renewed_v["metadata"]["managedFields"][0]["time"],
        created["metadata"]["managedFields"][0]["time"],
        "the manager's fields did not change, so neither does its time"
    );

    // A stale PUT (still the create's resourceVersion) conflicts exactly like the capture.
    let stale = fixture_str("requests/lease-put-stale.json").replace(
        "\"resourceVersion\": \"285\"",
        &format!(
            "\"resourceVersion\": {}",
            created["metadata"]["resourceVersion"]
        ),
    );
    let (status, conflict) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/event-exporter"),
        &stale,
        "application/json",
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(conflict, fixture_str("lease-conflict-409.json"));
    sim.shutdown().await;
}

#[tokio::test]
async fn lease_errors_have_real_shapes() {
    let sim = sim().await;
    let create = fixture_str("requests/lease-create.json");
    send(
        &sim,
        reqwest::Method::POST,
        BASE,
        &create,
        "application/json",
    )
    .await;
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        BASE,
        &create,
        "application/json",
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"leases.coordination.k8s.io \\\"event-exporter\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"event-exporter\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"},\"code\":409}\n"
    );
    let (status, body) = send(
        &sim,
        reqwest::Method::GET,
        &format!("{BASE}/missing"),
        "",
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"leases.coordination.k8s.io \\\"missing\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"missing\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"},\"code\":404}\n"
    );
    let no_rv = json!({"metadata": {"name": "event-exporter"}, "spec": {"holderIdentity": "x"}})
        .to_string();
    let (status, body) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/event-exporter"),
        &no_rv,
        "application/json",
    )
    .await;
    assert_eq!(status, 422);
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        st["message"],
        "Lease.coordination.k8s.io \"event-exporter\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    let (status, _) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/other"),
        &no_rv,
        "application/json",
    )
    .await;
    assert_eq!(status, 400, "name mismatch");
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        BASE,
        "{not json",
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("cannot be handled as a Lease"));
    let (status, _) = send(
        &sim,
        reqwest::Method::POST,
        BASE,
        "{\"metadata\":{}}",
        "application/json",
    )
    .await;
    assert_eq!(status, 422);
    let put_missing = json!({"metadata": {"name": "ghost", "resourceVersion": "1"}}).to_string();
    let (status, _) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/ghost"),
        &put_missing,
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn annotations_patches_and_deletes() {
    let sim = sim().await;
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "herald", "annotations": {"herald.dev/epoch": "7"}},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    });
    let (status, body) = send(
        &sim,
        reqwest::Method::POST,
        BASE,
        &lease.to_string(),
        "application/json",
    )
    .await;
    assert_eq!(status, 201);
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["metadata"]["annotations"]["herald.dev/epoch"], "7");
    assert_eq!(created["metadata"]["namespace"], "default");

    let mut update = created.clone();
    update["metadata"]["annotations"]["herald.dev/epoch"] = json!("8");
    update["spec"]["holderIdentity"] = json!("b");
    let (status, body) = send(
        &sim,
        reqwest::Method::PUT,
        &format!("{BASE}/herald"),
        &update.to_string(),
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let updated: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(updated["metadata"]["annotations"]["herald.dev/epoch"], "8");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);

    let patch = json!({"spec": {"holderIdentity": "c"}, "metadata": {"resourceVersion": updated["metadata"]["resourceVersion"]}});
    let (status, body) = send(
        &sim,
        reqwest::Method::PATCH,
        &format!("{BASE}/herald"),
        &patch.to_string(),
        "application/merge-patch+json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let patched: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(patched["spec"]["holderIdentity"], "c");
    assert_eq!(patched["spec"]["leaseDurationSeconds"], 15);
    assert_eq!(patched["metadata"]["annotations"]["herald.dev/epoch"], "8");
    // The same precondition again is stale now.
    let (status, _) = send(
        &sim,
        reqwest::Method::PATCH,
        &format!("{BASE}/herald"),
        &patch.to_string(),
        "application/merge-patch+json",
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = send(
        &sim,
        reqwest::Method::PATCH,
        &format!("{BASE}/herald"),
        "[]",
        "application/json-patch+json",
    )
    .await;
    assert_eq!(status, 415);
    // Server-side apply creates missing leases.
    let (status, _) = send(
        &sim,
        reqwest::Method::PATCH,
        &format!("{BASE}/applied"),
        &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "z"}}).to_string(),
        "application/apply-patch+yaml",
    )
    .await;
    assert_eq!(status, 201);

    let (status, body) = send(
        &sim,
        reqwest::Method::DELETE,
        &format!("{BASE}/herald"),
        "",
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"status\":\"Success\",\"details\":{{\"name\":\"herald\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\",\"uid\":{}}}}}\n",
            created["metadata"]["uid"]
        )
    );
    let (status, _) = send(
        &sim,
        reqwest::Method::GET,
        &format!("{BASE}/herald"),
        "",
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}
