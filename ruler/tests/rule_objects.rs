//! `Rule` objects watched from the API simulator: the published rule set follows
//! creations, edits and deletions, bad rules are reported on the object's status,
//! and a 410 after a lost watch lists again.

use std::sync::Arc;
use std::time::Duration;

use herald_kubesim::{HttpFault, KubeconfigAuth, ResourceDef, SimConfig, Simulator};
use herald_proto::Event;
use herald_ruler::rule_objects::kube::{RuleApi, client};
use herald_ruler::rule_objects::{RuleObjectMetrics, WatcherOptions, spawn};
use herald_ruler::rules::RuleSet;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const API_VERSION: &str = "events.kubesphere.io/v1alpha1";

async fn sim() -> (Simulator, tempfile::TempDir, RuleApi) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/herald/crds/events.kubesphere.io_rules.yaml"
    ))
    .unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    sim.register_resource(ResourceDef::from_crd(&crd).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig, KubeconfigAuth::Anonymous)
        .unwrap();
    let api = RuleApi::new(client(Some(&kubeconfig)).await.unwrap(), None);
    (sim, dir, api)
}

fn plan() -> herald_ruler::plan::Plan {
    let text = "receivers:\n  - name: hook\n    inMemory: {}\n  - name: am\n    inMemory: {}\nrules:\n  - name: FromConfig\n    condition: reason = \"Config\"\n    receivers: [hook]\nruler:\n  ruleObjects:\n    enabled: true\n    notificationReceivers: [hook]\n    alertReceivers: [am]\n";
    let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
    herald_ruler::plan::plan(&loaded.config, &mut loaded.diagnostics).unwrap()
}

fn rule_object(name: &str, rules: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Rule",
        "metadata": {"name": name, "namespace": "shop", "labels": {"kubesphere.io/rule-scope": "cluster"}},
        "spec": {"rules": rules}
    })
}

fn options() -> WatcherOptions {
    WatcherOptions {
        backoff_min: Duration::from_millis(300),
        backoff_max: Duration::from_secs(1),
        watch_timeout: Duration::from_secs(60),
        status_jitter: Duration::from_millis(50),
        watch_grace: Duration::from_secs(30),
    }
}

/// The name of the first rule that selects a Warning event with `reason` for receiver `r`.
fn selects(set: &RuleSet, r: usize, reason: &str) -> Option<String> {
    let mut e = Event {
        reason: reason.into(),
        event_type: "Warning".into(),
        ..Event::default()
    };
    e.involved_object.namespace = "shop".into();
    let mut view = None;
    let mut scratch = Vec::new();
    set.first_match(r, &e, &mut view, &|_: &str| None, &mut scratch)
        .map(|a| a.rule.name.clone())
}

async fn until(what: &str, rx: &mut watch::Receiver<Arc<RuleSet>>, ok: impl Fn(&RuleSet) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let current: Arc<RuleSet> = rx.borrow_and_update().clone();
        if ok(&current) {
            return;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            let names: Vec<String> = rx
                .borrow()
                .rules()
                .iter()
                .map(|r| format!("{} ({})", r.rule.name, r.origin))
                .collect();
            panic!("timed out waiting for {what}; rules: {names:?}");
        }
    }
}

async fn status_of(sim: &Simulator, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = sim
            .object(API_VERSION, "Rule", "shop", name)
            .map(|o| o["status"].clone())
            .unwrap_or(Value::Null);
        if ok(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the status of {name}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_objects_are_followed_live_and_reported_on() {
    let (sim, _dir, api) = sim().await;
    let plan = plan();
    sim.put_object_full(rule_object(
        "existing",
        json!([{"name": "Existing", "condition": "reason = \"E\"", "enable": true}]),
    ))
    .unwrap();
    let cancel = CancellationToken::new();
    let targets = plan.rule_objects.clone().unwrap();
    let metrics = RuleObjectMetrics::default();
    let (mut rx, task) = spawn(
        api,
        targets,
        &plan,
        options(),
        metrics.clone(),
        Duration::from_secs(10),
        cancel.clone(),
    )
    .await;
    // the first list is in before spawn returns
    {
        let set = rx.borrow();
        assert_eq!(selects(&set, 0, "E").as_deref(), Some("Existing"));
        assert_eq!(selects(&set, 0, "Config").as_deref(), Some("FromConfig"));
        assert_eq!(set.rules()[0].rule.name, "FromConfig", "config rules first");
    }
    let status = status_of(&sim, "existing", |s| s["observedGeneration"] == 1).await;
    assert_eq!(
        status,
        json!({"observedGeneration": 1, "loadedRules": 1, "errors": []})
    );

    // created
    sim.put_object_full(rule_object(
        "team",
        json!([
            {"name": "OnX", "condition": "reason = \"X\"", "enable": true, "type": "notification"},
            {"name": "AlertX", "condition": "reason = \"X\"", "enable": true, "type": "alert"}
        ]),
    ))
    .unwrap();
    until("rule OnX", &mut rx, |s| {
        selects(s, 0, "X").as_deref() == Some("OnX")
    })
    .await;
    assert_eq!(selects(&rx.borrow(), 1, "X").as_deref(), Some("AlertX"));
    // edited: X no longer, Y now; plus a rule that does not parse
    sim.put_object_full(rule_object(
        "team",
        json!([
            {"name": "OnX", "condition": "reason = \"Y\"", "enable": true},
            {"name": "Broken", "condition": "reason = \"Y\" and (count > 3", "enable": true}
        ]),
    ))
    .unwrap();
    until("rule OnX on Y", &mut rx, |s| {
        selects(s, 0, "Y").as_deref() == Some("OnX") && selects(s, 0, "X").is_none()
    })
    .await;
    assert!(
        selects(&rx.borrow(), 1, "X").is_none(),
        "the alert rule is gone"
    );
    assert_eq!((metrics.objects.get(), metrics.failed_rules.get()), (2, 1));
    let status = status_of(&sim, "team", |s| s["observedGeneration"] == 2).await;
    assert_eq!(
        status,
        json!({"observedGeneration": 2, "loadedRules": 1, "errors": [{
            "index": 1,
            "rule": "Broken",
            "message": "condition does not parse: `(` is not closed (column 18 of the condition)"
        }]})
    );
    // the status write is seen in the watch and not written again
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rv =
        sim.object(API_VERSION, "Rule", "shop", "team").unwrap()["metadata"]["resourceVersion"]
            .clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.object(API_VERSION, "Rule", "shop", "team").unwrap()["metadata"]["resourceVersion"],
        rv
    );

    // deleted
    sim.delete_object(API_VERSION, "Rule", "shop", "team")
        .unwrap();
    until("no rule on Y", &mut rx, |s| selects(s, 0, "Y").is_none()).await;
    assert_eq!(selects(&rx.borrow(), 0, "E").as_deref(), Some("Existing"));

    // the watch is lost, history compacted meanwhile: 410, list again
    sim.faults()
        .fail_next("/apis/events.kubesphere.io", 2, HttpFault::InternalError);
    sim.faults().close_watches();
    sim.delete_object(API_VERSION, "Rule", "shop", "existing")
        .unwrap();
    sim.put_object_full(rule_object(
        "later",
        json!([{"name": "Later", "condition": "reason = \"L\"", "enable": true}]),
    ))
    .unwrap();
    sim.compact();
    until("the state after a re-list", &mut rx, |s| {
        selects(s, 0, "L").as_deref() == Some("Later") && selects(s, 0, "E").is_none()
    })
    .await;
    assert_eq!((metrics.objects.get(), metrics.failed_rules.get()), (1, 0));
    assert!(metrics.failures.get() >= 2, "{}", metrics.failures.get());
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the watcher stops when cancelled")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_rulers_write_a_status_about_once() {
    let (sim, dir, api) = sim().await;
    let plan = plan();
    let kubeconfig = dir.path().join("kubeconfig");
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut feeds = Vec::new(); // the live rule sets, kept open
    for i in 0..3 {
        let api = if i == 0 {
            api.clone()
        } else {
            RuleApi::new(client(Some(&kubeconfig)).await.unwrap(), None)
        };
        let (rx, task) = spawn(
            api,
            plan.rule_objects.clone().unwrap(),
            &plan,
            WatcherOptions {
                status_jitter: Duration::from_secs(1),
                ..options()
            },
            RuleObjectMetrics::default(),
            Duration::from_secs(10),
            cancel.clone(),
        )
        .await;
        feeds.push(rx);
        tasks.push(task);
    }
    sim.clear_requests();
    sim.put_object_full(rule_object(
        "team",
        json!([{"name": "Broken", "condition": "reason ~ \"x\"", "enable": true}]),
    ))
    .unwrap();
    let status = status_of(&sim, "team", |s| s["observedGeneration"] == 1).await;
    assert_eq!(status["errors"][0]["rule"], "Broken");
    // every ruler has seen the object and had its chance to write (jitter < 1 s)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let patches = sim
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/rules/team/status"))
        .count();
    assert!(
        (1..3).contains(&patches),
        "{patches} status writes by 3 rulers: a ruler writes only when the status differs"
    );
    cancel.cancel();
    for t in tasks {
        t.await.unwrap();
    }
}

/// An API server that lists no Rule objects and accepts watches that never send a
/// byte (a connection gone silent); counts the lists.
async fn silent_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lists = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = lists.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let lists = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if head.contains("watch=1") {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await;
                        // keep the connection open, silent
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = r#"{"kind":"RuleList","apiVersion":"events.kubesphere.io/v1alpha1","metadata":{"resourceVersion":"7"},"items":[]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, lists)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_gone_silent_is_replaced() {
    let (url, lists) = silent_server().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: {url}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let api = RuleApi::new(client(Some(&kubeconfig)).await.unwrap(), None);
    let plan = plan();
    let cancel = CancellationToken::new();
    let (_rx, task) = spawn(
        api,
        plan.rule_objects.clone().unwrap(),
        &plan,
        WatcherOptions {
            watch_timeout: Duration::from_secs(1),
            watch_grace: Duration::from_millis(200),
            backoff_min: Duration::from_millis(100),
            ..options()
        },
        RuleObjectMetrics::default(),
        Duration::from_secs(10),
        cancel.clone(),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lists.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent watch was never replaced ({} lists)",
            lists.load(std::sync::atomic::Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    task.await.unwrap();
}
