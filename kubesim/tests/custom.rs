//! Custom resources registered from their CustomResourceDefinition: kube-events'
//! `Rule` (served, listed and watched like any resource), `metadata.generation`,
//! and merge patches of the `status` subresource.

mod common;

use std::time::Duration;

use common::{WatchStream, client, get, sim};
use herald_kubesim::{ResourceDef, Simulator};
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn crd(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// herald's CRD (kube-events' with the status subresource).
fn herald_crd() -> ResourceDef {
    ResourceDef::from_crd(&crd("charts/herald/crds/events.kubesphere.io_rules.yaml")).unwrap()
}

fn rule(name: &str, condition: &str) -> Value {
    json!({
        "apiVersion": "events.kubesphere.io/v1alpha1",
        "kind": "Rule",
        "metadata": {"name": name, "namespace": "shop", "labels": {"kubesphere.io/rule-scope": "namespace"}},
        "spec": {"rules": [{"name": "R", "condition": condition, "enable": true, "type": "notification"}]}
    })
}

async fn patch_status(
    sim: &Simulator,
    name: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    let resp = client()
        .patch(format!(
            "{}/apis/events.kubesphere.io/v1alpha1/namespaces/shop/rules/{name}/status",
            sim.url()
        ))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_crd_registers_its_resource_with_discovery() {
    let def = herald_crd();
    assert_eq!(
        (def.group.as_str(), def.plural.as_str(), def.kind.as_str()),
        ("events.kubesphere.io", "rules", "Rule")
    );
    assert_eq!(def.versions, ["v1alpha1"]);
    assert!(def.namespaced && def.generation && def.has_status());
    assert_eq!(def.short_names, ["er"]);
    let kube_events =
        ResourceDef::from_crd(&crd("rules/tests/fixtures/events.kubesphere.io_rules.yaml"))
            .unwrap();
    assert!(
        !kube_events.has_status(),
        "kube-events' CRD has no status subresource"
    );
    assert!(ResourceDef::from_crd(&json!({"spec": {}})).is_err());

    let sim = sim().await;
    sim.register_resource(def);
    let (status, _, body) = get(&sim, "/apis/events.kubesphere.io/v1alpha1").await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["rules", "rules/status"]);
}

#[tokio::test]
async fn rule_objects_are_created_edited_and_deleted_through_a_watch() {
    let sim = sim().await;
    sim.register_resource(herald_crd());
    let mut w = WatchStream::open(
        &sim,
        "/apis/events.kubesphere.io/v1alpha1/rules?watch=1&resourceVersion=0",
    )
    .await;
    assert_eq!(w.status, 200);
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);

    sim.put_object_full(rule("team", "reason = \"X\"")).unwrap();
    let added = w.next_json().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["kind"], "Rule");
    assert_eq!(added["object"]["metadata"]["generation"], 1);

    sim.put_object_full(rule("team", "reason = \"Y\"")).unwrap();
    let modified = w.next_json().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(
        modified["object"]["metadata"]["generation"], 2,
        "a spec change"
    );
    assert_eq!(
        modified["object"]["spec"]["rules"][0]["condition"],
        "reason = \"Y\""
    );

    sim.delete_object("events.kubesphere.io/v1alpha1", "Rule", "shop", "team")
        .unwrap();
    let deleted = w.next_json().await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "team");
}

#[tokio::test]
async fn status_merge_patches_change_only_the_status() {
    let sim = sim().await;
    sim.register_resource(herald_crd());
    let created = sim.put_object_full(rule("team", "reason = \"X\"")).unwrap();
    let mut w = WatchStream::open(
        &sim,
        &format!("/apis/events.kubesphere.io/v1alpha1/namespaces/shop/rules?watch=1&resourceVersion={created}"),
    )
    .await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);

    // spec and metadata in a status patch are ignored; the status is merged
    let patch = json!({
        "metadata": {"labels": {"x": "y"}},
        "spec": {"rules": []},
        "status": {"observedGeneration": 1, "errors": [{"rule": "R", "message": "bad"}]}
    });
    let (code, obj) = patch_status(&sim, "team", "application/merge-patch+json", &patch).await;
    assert_eq!(code, 200, "{obj}");
    assert_eq!(obj["kind"], "Rule");
    assert_eq!(obj["status"]["errors"][0]["message"], "bad");
    assert_eq!(obj["spec"]["rules"][0]["condition"], "reason = \"X\"");
    assert!(
        obj["metadata"]
            .get("labels")
            .and_then(|l| l.get("x"))
            .is_none()
    );
    assert_eq!(
        obj["metadata"]["generation"], 1,
        "status writes keep the generation"
    );
    let rv: u64 = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        rv > created.parse::<u64>().unwrap(),
        "a status write bumps the resourceVersion"
    );
    let modified = w.next_json().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["status"]["observedGeneration"], 1);

    // the same status again writes nothing
    let (code, again) = patch_status(&sim, "team", "application/merge-patch+json", &patch).await;
    assert_eq!(code, 200);
    assert_eq!(
        again["metadata"]["resourceVersion"],
        obj["metadata"]["resourceVersion"]
    );

    // null removes a key; arrays are replaced
    let (_, cleared) = patch_status(
        &sim,
        "team",
        "application/merge-patch+json",
        &json!({"status": {"errors": [], "observedGeneration": null}}),
    )
    .await;
    assert_eq!(cleared["status"], json!({"errors": []}));

    // an update of the object keeps the status written through the subresource
    sim.put_object_full(rule("team", "reason = \"Z\"")).unwrap();
    let stored = sim
        .object("events.kubesphere.io/v1alpha1", "Rule", "shop", "team")
        .unwrap();
    assert_eq!(stored["status"], json!({"errors": []}));
    assert_eq!(stored["metadata"]["generation"], 2);

    let (code, missing) = patch_status(&sim, "nope", "application/merge-patch+json", &patch).await;
    assert_eq!(code, 404);
    assert_eq!(missing["reason"], "NotFound");
    let (code, _) = patch_status(
        &sim,
        "team",
        "application/strategic-merge-patch+json",
        &patch,
    )
    .await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn without_a_status_subresource_the_status_path_is_not_found() {
    let sim = sim().await;
    sim.register_resource(
        ResourceDef::from_crd(&crd("rules/tests/fixtures/events.kubesphere.io_rules.yaml"))
            .unwrap(),
    );
    sim.put_object_full(rule("team", "reason = \"X\"")).unwrap();
    let (code, body) = patch_status(
        &sim,
        "team",
        "application/merge-patch+json",
        &json!({"status": {"observedGeneration": 1}}),
    )
    .await;
    assert_eq!(code, 404, "{body}");
    // without the subresource, a status written with the object moves the generation
    let mut with_status = rule("team", "reason = \"X\"");
    with_status["status"] = json!({"x": 1});
    sim.put_object_full(with_status).unwrap();
    let stored = sim
        .object("events.kubesphere.io/v1alpha1", "Rule", "shop", "team")
        .unwrap();
    assert_eq!(stored["status"], json!({"x": 1}));
    assert_eq!(stored["metadata"]["generation"], 2);
}
