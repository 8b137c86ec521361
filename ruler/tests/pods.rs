//! The Pods of hooks with `enrichPod`, read from the API simulator: the whole
//! Pod as served, 404 as gone, one read per Pod within the cache's lifetime, and
//! a failure (the API server down) not remembered.

use std::sync::Arc;

use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator};
use herald_ruler::pods::KubePods;
use herald_ruler::rule_objects::kube::client;
use herald_sinks::hook::{PodLookup, PodSource};
use serde_json::json;

async fn pods(sim: &Simulator) -> (Arc<KubePods>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig, KubeconfigAuth::Anonymous)
        .unwrap();
    let client = client(Some(&kubeconfig)).await.unwrap();
    let pods = Arc::new(KubePods::new(client, tokio::runtime::Handle::current()));
    (pods, dir)
}

/// Reads on a blocking thread, as the hook stage calls it.
async fn read(pods: &Arc<KubePods>, namespace: &str, name: &str) -> PodLookup {
    let (pods, namespace, name) = (pods.clone(), namespace.to_owned(), name.to_owned());
    tokio::task::spawn_blocking(move || pods.pod(&namespace, &name))
        .await
        .unwrap()
}

fn pod_reads(sim: &Simulator, name: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/pods/{name}")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_is_read_whole_once_and_a_missing_one_is_gone() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.put_object_full(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-7", "containers": [{"name": "web", "image": "nginx"}]}
    }))
    .unwrap();
    let (pods, _dir) = pods(&sim).await;
    let PodLookup::Found(pod) = read(&pods, "shop", "web-1").await else {
        panic!("the pod exists");
    };
    assert_eq!(pod["spec"]["nodeName"], "node-7");
    assert_eq!(pod["metadata"]["labels"]["app"], "web");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx");
    // The next Events of the Pod are answered from the cache.
    assert!(matches!(
        read(&pods, "shop", "web-1").await,
        PodLookup::Found(_)
    ));
    assert_eq!(pod_reads(&sim, "web-1"), 1);

    assert_eq!(read(&pods, "shop", "gone-1").await, PodLookup::NotFound);
    assert_eq!(read(&pods, "shop", "gone-1").await, PodLookup::NotFound);
    assert_eq!(pod_reads(&sim, "gone-1"), 1, "absence is remembered too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_is_not_remembered() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (pods, _dir) = pods(&sim).await;
    let url = sim.url();
    drop(sim);
    match read(&pods, "shop", "web-1").await {
        PodLookup::Failed(e) => assert!(!e.is_empty()),
        other => panic!("the API server is gone, got {other:?} from {url}"),
    }
    match read(&pods, "shop", "web-1").await {
        PodLookup::Failed(_) => {}
        other => panic!("tried again, got {other:?}"),
    }
}
