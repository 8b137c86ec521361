//! Receiver hooks end to end: a config with `hook:` blocks, the receivers
//! started from it, events delivered, and the requests the targets got
//! (the test kit's fake HTTP target records them exactly). kigeon's three
//! example hooks rewritten for herald; a hook that never ends; one that
//! raises, under each `onError`.
#![cfg(feature = "hooks")]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use herald_config::{Diagnostics, SourceFile};
use herald_proto::Event;
use herald_sinks::driver::{AckGroup, AckNotice, AckReceiver, AckSender, Delivery, SinkMetrics};
use herald_sinks::{DeliverOutcome, ReceiverConfig, SinkSet, ack_channel};
use herald_testkit::FakeHttp;
use herald_testkit::http::Recorded;
use prometheus_client::registry::Registry;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn script(source: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".star").tempfile().unwrap();
    f.write_all(source.as_bytes()).unwrap();
    f
}

fn receivers(yaml: &str) -> Vec<ReceiverConfig> {
    let source = Arc::new(SourceFile::new("config.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers
}

struct Harness {
    set: SinkSet,
    metrics: SinkMetrics,
    acks: AckSender,
    notices: AckReceiver,
    offset: u64,
}

impl Harness {
    async fn start(yaml: &str) -> Harness {
        let metrics = SinkMetrics::new();
        let set = SinkSet::build(&receivers(yaml), &metrics).await.unwrap();
        let (acks, notices) = ack_channel();
        Harness {
            set,
            metrics,
            acks,
            notices,
            offset: 0,
        }
    }

    async fn deliver(&mut self, receiver: &str, event: Event) {
        self.offset += 1;
        let ack = AckGroup::new(self.offset, 1, &self.acks).remove(0);
        let outcome = self
            .set
            .deliver_to(receiver, Delivery::from_event(event, ack))
            .await;
        assert_eq!(outcome, DeliverOutcome::Queued);
    }

    async fn acks(&mut self, n: usize) -> Vec<AckNotice> {
        let mut out = Vec::new();
        while out.len() < n {
            let notice = tokio::time::timeout(WAIT, self.notices.recv())
                .await
                .expect("acknowledged in time")
                .expect("channel open");
            out.push(notice);
        }
        out.sort_by_key(|n| n.offset);
        out
    }

    fn metrics(&self) -> String {
        let mut registry = Registry::default();
        self.metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }
}

fn event(uid: &str, namespace: &str, reason: &str, labels: &[(&str, &str)]) -> Event {
    let mut ev = Event {
        reason: reason.to_owned(),
        message: format!("{reason} of {uid}"),
        event_type: "Warning".to_owned(),
        count: 1,
        ..Event::default()
    };
    ev.metadata.uid = uid.to_owned();
    ev.metadata.name = format!("{uid}.17a");
    ev.metadata.namespace = namespace.to_owned();
    ev.involved_object.kind = "Pod".to_owned();
    ev.involved_object.namespace = namespace.to_owned();
    ev.involved_object.name = uid.to_owned();
    ev.involved_object.labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ev
}

/// The streams of a JSON push: labels → lines.
fn streams(r: &Recorded) -> BTreeMap<BTreeMap<String, String>, Vec<String>> {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let mut out = BTreeMap::new();
    for s in body["streams"].as_array().unwrap() {
        let labels: BTreeMap<String, String> = serde_json::from_value(s["stream"].clone()).unwrap();
        let lines: Vec<String> = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v[1].as_str().unwrap().to_owned())
            .collect();
        out.insert(labels, lines);
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn route_by_namespace_posts_each_namespace_to_its_own_path() {
    let fake = FakeHttp::start().await;
    let hook = script(
        r#"
def transform(config, event):
    ns = event["involvedObject"].get("namespace") or "cluster"
    config["path"] = "/events/" + ns
    team = (event["involvedObject"].get("labels") or {}).get("team")
    if team:
        config["headers"]["X-Team"] = team
    return config
"#,
    );
    let mut h = Harness::start(&format!(
        r#"
- name: hook
  webhook:
    endpoint: "{}/default?src=herald"
    headers:
      x-api-key: abc123
  hook:
    script: {}
"#,
        fake.url(),
        hook.path().display()
    ))
    .await;
    h.deliver(
        "hook",
        event("a", "shop", "BackOff", &[("team", "payments")]),
    )
    .await;
    h.deliver("hook", event("b", "", "NodeNotReady", &[])).await;
    let acks = h.acks(2).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let reqs = fake.requests();
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/events/shop?src=herald", "/events/cluster?src=herald"]
    );
    assert_eq!(reqs[0].header_exact("X-Team"), ["payments"]);
    assert!(reqs[1].header("X-Team").is_empty());
    // Configured headers stay.
    assert!(
        reqs.iter()
            .all(|r| r.header_exact("X-Api-Key") == ["abc123"])
    );
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["reason"], "BackOff", "the body is the KEE JSON");
}

#[tokio::test]
async fn pod_labels_become_stream_labels_and_oom_events_go_to_the_oncall_tenant() {
    let fake = FakeHttp::start().await;
    let hook = script(
        r#"
def loki_name(key):
    return key.replace(".", "_").replace("/", "_").replace("-", "_")

def transform(config, event):
    labels = event["involvedObject"].get("labels") or {}
    for key in ["app.kubernetes.io/name", "team"]:
        if key in labels:
            config["labels"][loki_name(key)] = labels[key]
    if event["reason"] in ("OOMKilling", "OOMKilled"):
        config["tenant"] = "oncall"
    return config
"#,
    );
    let mut h = Harness::start(&format!(
        r#"
- name: loki
  loki:
    url: "{}/loki/api/v1/push"
    format: json
    tenant: platform
  delivery:
    batch: {{ maxEvents: 10, linger: 200ms }}
  hook:
    script: {}
"#,
        fake.url(),
        hook.path().display()
    ))
    .await;
    let web = [("app.kubernetes.io/name", "web"), ("team", "payments")];
    h.deliver("loki", event("a", "shop", "BackOff", &web)).await;
    h.deliver("loki", event("b", "shop", "BackOff", &[])).await;
    h.deliver("loki", event("c", "shop", "OOMKilling", &web))
        .await;
    h.deliver("loki", event("d", "shop", "BackOff", &web)).await;
    let acks = h.acks(4).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let reqs = fake.requests();
    let tenants: Vec<Vec<&str>> = reqs.iter().map(|r| r.header("X-Scope-OrgID")).collect();
    // The OOM event needs another tenant, so it closes the batch and goes alone.
    assert_eq!(
        tenants,
        [vec!["platform"], vec!["oncall"], vec!["platform"]]
    );
    let web_labels = labels(&[
        ("job", "herald"),
        ("namespace", "shop"),
        ("reason", "BackOff"),
        ("app_kubernetes_io_name", "web"),
        ("team", "payments"),
    ]);
    let first = streams(&reqs[0]);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(first[&web_labels].len(), 1);
    assert_eq!(
        first[&labels(&[
            ("job", "herald"),
            ("namespace", "shop"),
            ("reason", "BackOff")
        ])]
            .len(),
        1
    );
    let oom = streams(&reqs[1]);
    let oom_labels = labels(&[
        ("job", "herald"),
        ("namespace", "shop"),
        ("reason", "OOMKilling"),
        ("app_kubernetes_io_name", "web"),
        ("team", "payments"),
    ]);
    assert_eq!(oom.keys().collect::<Vec<_>>(), [&oom_labels]);
    assert_eq!(streams(&reqs[2])[&web_labels].len(), 1);
}

const RAISES_ON_BOOM: &str = r#"
def transform(config, event):
    if event["reason"] == "Boom":
        fail("no route for " + event["reason"])
    config["path"] = "/ok"
    return config
"#;

async fn on_error(policy: &str, script_text: &str, timeout: &str) -> (Harness, FakeHttp) {
    let fake = FakeHttp::start().await;
    let hook = script(script_text);
    let h = Harness::start(&format!(
        r#"
- name: hook
  webhook:
    endpoint: "{}/default"
  delivery:
    retry: {{ initialBackoff: 20ms, maxBackoff: 50ms }}
  hook:
    script: {}
    timeout: {timeout}
    onError: {policy}
"#,
        fake.url(),
        hook.path().display()
    ))
    .await;
    // The script was read at load; the file may go.
    drop(hook);
    (h, fake)
}

#[tokio::test]
async fn a_hook_that_never_ends_is_stopped_and_the_event_sent_as_configured() {
    let (mut h, fake) = on_error(
        "use-default",
        r#"
def transform(config, event):
    for i in range(100000000):
        for j in range(100000000):
            pass
    return config
"#,
        "50ms",
    )
    .await;
    let started = std::time::Instant::now();
    h.deliver("hook", event("a", "shop", "BackOff", &[])).await;
    h.deliver("hook", event("b", "shop", "BackOff", &[])).await;
    let acks = h.acks(2).await;
    assert!(acks.iter().all(|a| a.delivered == 1));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let targets: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/default", "/default"]);
    let m = h.metrics();
    assert!(
        m.contains(
            r#"herald_sink_hook_errors_total{sink="hook",sink_type="webhook",error="timeout"} 2"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn a_hook_that_raises_uses_the_default_settings() {
    let (mut h, fake) = on_error("use-default", RAISES_ON_BOOM, "100ms").await;
    h.deliver("hook", event("a", "shop", "Boom", &[])).await;
    h.deliver("hook", event("b", "shop", "Fine", &[])).await;
    h.acks(2).await;
    let targets: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/default", "/ok"]);
    assert!(h.metrics().contains(r#"error="script"} 1"#));
}

#[tokio::test]
async fn a_hook_that_raises_with_skip_drops_the_event_for_this_receiver() {
    let (mut h, fake) = on_error("skip", RAISES_ON_BOOM, "100ms").await;
    h.deliver("hook", event("a", "shop", "Boom", &[])).await;
    h.deliver("hook", event("b", "shop", "Fine", &[])).await;
    let acks = h.acks(2).await;
    assert!(acks.iter().all(|a| a.delivered == 1 && a.rejected == 0));
    let targets: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/ok"]);
    assert!(h.metrics().contains(r#"result="skipped"} 1"#));
}

#[tokio::test]
async fn a_hook_that_raises_with_fail_holds_the_event_and_never_acknowledges_it() {
    let (mut h, fake) = on_error("fail", RAISES_ON_BOOM, "100ms").await;
    h.deliver("hook", event("a", "shop", "Fine", &[])).await;
    h.deliver("hook", event("b", "shop", "Boom", &[])).await;
    h.deliver("hook", event("c", "shop", "Fine", &[])).await;
    let first = h.acks(1).await;
    assert_eq!(first[0].offset, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Held and asked again, with `c` waiting behind it; nothing acknowledged.
    assert!(h.notices.try_recv().is_err());
    assert_eq!(fake.requests().len(), 1);
    let m = h.metrics();
    let held: f64 = m
        .lines()
        .find(|l| l.contains(r#"result="held""#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(held >= 3.0, "asked again after each backoff: {m}");
    // Shutdown gives the held events back unacknowledged: the exporter
    // delivers them again.
    let report = h.set.close_and_drain(Duration::from_secs(1)).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(h.notices.try_recv().is_err());
    assert_eq!(fake.requests().len(), 1);
}

/// Pods served to hooks with `enrichPod`, counting the reads.
#[derive(Default)]
struct FakePods {
    reads: std::sync::Mutex<Vec<String>>,
}

impl herald_sinks::hook::PodSource for FakePods {
    fn pod(&self, namespace: &str, name: &str) -> herald_sinks::hook::PodLookup {
        use herald_sinks::hook::PodLookup;
        self.reads
            .lock()
            .unwrap()
            .push(format!("{namespace}/{name}"));
        match name {
            "web-1" => PodLookup::Found(serde_json::json!({
                "metadata": {"name": "web-1", "namespace": namespace},
                "spec": {"nodeName": "node-7"}
            })),
            "flaky-1" => PodLookup::Failed("no answer within 2s".into()),
            _ => PodLookup::NotFound,
        }
    }
}

#[tokio::test]
async fn enrich_pod_gives_the_script_the_pod_and_skips_events_of_gone_pods() {
    let fake = FakeHttp::start().await;
    let hook = script(
        r#"
def transform(config, event):
    pod = event.get("pod")
    node = pod["spec"]["nodeName"] if pod else "none"
    config["path"] = "/nodes/" + node
    return config
"#,
    );
    let yaml = format!(
        r#"
- name: hook
  webhook:
    endpoint: "{}/default"
  hook:
    script: {}
    enrichPod: true
    skipOnPodNotFound: true
"#,
        fake.url(),
        hook.path().display()
    );
    let pods = Arc::new(FakePods::default());
    let metrics = SinkMetrics::new();
    let extras = herald_sinks::BuildExtras {
        pods: Some(pods.clone()),
    };
    let set = SinkSet::build_with(&receivers(&yaml), &metrics, &extras)
        .await
        .unwrap();
    let (acks, notices) = ack_channel();
    let mut h = Harness {
        set,
        metrics,
        acks,
        notices,
        offset: 0,
    };
    h.deliver("hook", event("web-1", "shop", "BackOff", &[]))
        .await;
    h.deliver("hook", event("gone-1", "shop", "Killing", &[]))
        .await;
    h.deliver("hook", event("flaky-1", "shop", "BackOff", &[]))
        .await;
    let mut node = event("node-a", "", "NodeNotReady", &[]);
    node.involved_object.kind = "Node".into();
    h.deliver("hook", node).await;
    let acks = h.acks(4).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let targets: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    // gone-1 is skipped; a failed read gives the script None.
    assert_eq!(targets, ["/nodes/node-7", "/nodes/none", "/nodes/none"]);
    assert_eq!(
        *pods.reads.lock().unwrap(),
        ["shop/web-1", "shop/gone-1", "shop/flaky-1"],
        "Pods are read only for Pod events"
    );
}

#[tokio::test]
async fn enrich_pod_without_api_access_refuses_to_start() {
    let hook = script("def transform(config, event):\n    return config\n");
    let yaml = format!(
        "- name: hook\n  webhook:\n    endpoint: http://127.0.0.1:1/x\n  hook:\n    script: {}\n    enrichPod: true\n",
        hook.path().display()
    );
    let e = SinkSet::build(&receivers(&yaml), &SinkMetrics::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("enrichPod"), "{e}");
}
