//! The end-to-end test (issue 3 item 8): simulator → one `herald-exporter` process →
//! two `herald-ruler` processes → a `file` and a `webhook` receiver, driven by a
//! kubernetes-event-exporter style config (layouts with typed scalars, templated
//! headers, a drop rule, sub-routes, a match rule on involved-object labels).
//!
//! While events are created steadily, one ruler is killed with SIGKILL, the exporter
//! is restarted (SIGTERM, then a new process on the same data directory), the webhook
//! answers 503 for a few seconds, and a replacement ruler joins. At the end every event
//! the routes send to a receiver has arrived there (counted by idempotency key),
//! duplicates are bounded by what can be in flight and are exact copies, and events
//! the drop rule removes never arrive anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herald_kubesim::Simulator;
use serde_json::{Value, json};

use crate::support::cluster::{BASE_CONFIG, Cluster, EventSpec, Exporter, Ruler};
use crate::support::probe::{
    counts, eventually, fully_acknowledged, json_lines, lines, log_records, metric, scrape,
};
use crate::support::target::{Mode, Target};

/// Event creations (repeats come on top).
const EVENTS: usize = 240;
/// Pause between creations.
const PACE: Duration = Duration::from_millis(50);
/// `ruler.credits`: most unacknowledged events per ruler connection.
const CREDITS: usize = 20;
/// The webhook's bearer token (from the environment; must never be logged).
const TOKEN: &str = "e2e-t0ken-never-logged";

const ROUTES_AND_RECEIVERS: &str = r#"omitLookup: false
exporter:
  subscribers:
    ackTimeout: 30s
ruler:
  credits: 20
  shutdownGrace: 5s
route:
  drop:
    - namespace: "^noise-"
  routes:
    - match:
        - receiver: archive
    - drop:
        - type: "Normal"
      match:
        - labels:
            team: "^payments$"
      routes:
        - match:
            - reason: "^(BackOff|Failed)$"
              receiver: pager
receivers:
  - name: archive
    file:
      path: "${HERALD_E2E_ARCHIVE}"
      layout:
        key: "{{ .IdempotencyKey }}"
        namespace: "{{ .Namespace }}"
        pod: "{{ .InvolvedObject.Name }}"
        team: "{{ index .InvolvedObject.Labels \"team\" }}"
        type: "{{ .Type }}"
        reason: "{{ .Reason }}"
        count: "{{ .Count }}"
        cluster: "{{ .ClusterName }}"
        schema: 2
        replayable: true
        ratio: 0.25
        tags: ["herald", "{{ .Type | lower }}"]
  - name: pager
    webhook:
      endpoint: "@TARGET@"
      headers:
        Authorization: "Bearer ${HERALD_E2E_TOKEN}"
        X-Idempotency-Key: "{{ .IdempotencyKey }}"
        X-Cluster: "{{ .ClusterName | upper }}"
      layout:
        key: "{{ .IdempotencyKey }}"
        summary: "{{ .Reason }} on {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}"
        team: "{{ .InvolvedObject.Labels.team }}"
        severity: 2
        page: true
    delivery:
      timeout: 2s
      retry:
        initialBackoff: 100ms
        maxBackoff: 400ms
"#;

/// One occurrence the test created and where the routes must send it.
#[derive(Debug, Clone)]
struct Occurrence {
    namespace: &'static str,
    pod: &'static str,
    team: &'static str,
    event_type: &'static str,
    reason: &'static str,
    count: u32,
}

impl Occurrence {
    /// The root drop rule.
    fn dropped(&self) -> bool {
        self.namespace.starts_with("noise-")
    }

    fn to_archive(&self) -> bool {
        !self.dropped()
    }

    fn to_pager(&self) -> bool {
        !self.dropped()
            && self.event_type == "Warning"
            && self.team == "payments"
            && matches!(self.reason, "BackOff" | "Failed")
    }
}

/// Pods (namespace, name, `team` label).
const PODS: [(&str, &str, &str); 5] = [
    ("noise-batch", "job-0", "payments"),
    ("payments", "api-0", "payments"),
    ("payments", "api-1", "payments"),
    ("shop", "web-0", "web"),
    ("shop", "web-1", "web"),
];

/// The `i`-th event: an eighth in a dropped namespace, three eighths about payments
/// pods, the rest about shop pods; two thirds Warnings with varying reasons.
fn event_spec(i: usize) -> (EventSpec<'static>, Occurrence) {
    let (namespace, pod, team) = match i % 8 {
        0 => PODS[0],
        1..=3 => PODS[1 + i % 2],
        _ => PODS[3 + i % 2],
    };
    let warning = !i.is_multiple_of(3);
    let reason = if warning {
        ["BackOff", "Failed", "Unhealthy"][(i / 3) % 3]
    } else {
        "Pulled"
    };
    let event_type = if warning { "Warning" } else { "Normal" };
    let spec = EventSpec {
        namespace,
        name: format!("{pod}.e2e{i:04}"),
        uid: format!("e2e-{i:04}"),
        pod,
        event_type,
        reason,
    };
    let occurrence = Occurrence {
        namespace,
        pod,
        team,
        event_type,
        reason,
        count: 1,
    };
    (spec, occurrence)
}

/// Creates the events at a steady pace, with a repeat (count bump) of an earlier event
/// every tenth one; returns every occurrence by idempotency key.
async fn create_steadily(
    sim: Simulator,
    created: Arc<AtomicUsize>,
) -> BTreeMap<String, Occurrence> {
    let mut made = BTreeMap::new();
    for i in 0..EVENTS {
        let (spec, occurrence) = event_spec(i);
        sim.create_event(spec.to_json())
            .unwrap_or_else(|e| panic!("create {}: {e}", spec.name));
        made.insert(spec.key(1), occurrence);
        if i % 10 == 9 {
            let (earlier, mut again) = event_spec(i - 4);
            sim.bump_count(earlier.namespace, &earlier.name)
                .unwrap_or_else(|e| panic!("bump {}: {e}", earlier.name));
            again.count = 2;
            made.insert(earlier.key(2), again);
        }
        created.store(i + 1, Ordering::SeqCst);
        tokio::time::sleep(PACE).await;
    }
    made
}

/// Waits until `ruler` is retrying a webhook request: it then holds that event, and
/// everything queued behind it, unacknowledged.
async fn holding(ruler: &Ruler) {
    let url = ruler.metrics_url();
    eventually(
        "a ruler retrying the webhook",
        Duration::from_secs(20),
        || async {
            let m = scrape(&url).await;
            let retries = metric(&m, "herald_sink_retries_total", &[("sink", "pager")]);
            (retries >= 1.0)
                .then_some(())
                .ok_or(format!("{retries} retries"))
        },
    )
    .await;
}

async fn wait_created(created: &AtomicUsize, n: usize) {
    eventually(
        &format!("{n} events created"),
        Duration::from_secs(60),
        || async {
            let c = created.load(Ordering::SeqCst);
            (c >= n).then_some(()).ok_or(format!("{c} created"))
        },
    )
    .await;
}

/// Every file line and accepted webhook request, by idempotency key.
struct Received {
    archive: Vec<Value>,
    archive_raw: Vec<String>,
    pager: Vec<crate::support::target::Hit>,
}

impl Received {
    fn collect(files: &[PathBuf], target: &Target) -> Received {
        Received {
            archive: files.iter().flat_map(|f| json_lines(f)).collect(),
            archive_raw: files.iter().flat_map(|f| lines(f)).collect(),
            pager: target.accepted(),
        }
    }

    fn archive_keys(&self) -> BTreeMap<String, usize> {
        counts(
            self.archive
                .iter()
                .map(|l| l["key"].as_str().expect("key in the layout").to_owned()),
        )
    }

    fn pager_keys(&self) -> BTreeMap<String, usize> {
        counts(self.pager.iter().map(|h| h.header("x-idempotency-key")))
    }
}

fn missing(want: &BTreeSet<String>, got: &BTreeMap<String, usize>) -> Vec<String> {
    want.iter()
        .filter(|k| !got.contains_key(*k))
        .cloned()
        .collect()
}

fn duplicates(got: &BTreeMap<String, usize>) -> usize {
    got.values().map(|n| n - 1).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_survive_a_killed_ruler_an_exporter_restart_and_a_failing_webhook() {
    let cluster = Cluster::start().await;
    for (ns, pod, team) in PODS {
        cluster.put_pod(ns, pod, &[("team", team), ("app", pod)]);
    }
    let target = Target::start(Mode::Accept).await;
    let config = cluster.write(
        "config.yaml",
        &format!(
            "{BASE_CONFIG}{}",
            ROUTES_AND_RECEIVERS.replace("@TARGET@", &target.url)
        ),
    );
    let mut exporter = Exporter::start(&cluster, &config).await;
    let grpc = exporter.grpc_url();
    let archive = |member: &str| cluster.path(&format!("archive-{member}.log"));
    let ruler = |member: &'static str| {
        let file = archive(member);
        let config = config.clone();
        let grpc = grpc.clone();
        let cluster = &cluster;
        async move {
            let file = file.display().to_string();
            let env = [
                ("HERALD_E2E_ARCHIVE", file.as_str()),
                ("HERALD_E2E_TOKEN", TOKEN),
            ];
            Ruler::start(cluster, &config, &grpc, member, &env).await
        }
    };
    let mut ruler_a = ruler("ruler-a").await;
    let mut ruler_b = ruler("ruler-b").await;

    let created = Arc::new(AtomicUsize::new(0));
    let creator = tokio::spawn(create_steadily(cluster.sim.clone(), created.clone()));

    // the webhook starts failing: the rulers hold the events routed to it, unacknowledged
    wait_created(&created, 40).await;
    target.set_mode(Mode::Unavailable);
    holding(&ruler_a).await;
    // a ruler dies holding them
    ruler_a.proc.kill9();
    // the survivor holds events too, while it acknowledges the events that do not go
    // to the webhook around them; then the exporter restarts
    holding(&ruler_b).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    exporter.restart().await;
    // the webhook recovers
    tokio::time::sleep(Duration::from_secs(1)).await;
    target.set_mode(Mode::Accept);
    // a replacement ruler joins
    wait_created(&created, 150).await;
    let mut ruler_a2 = ruler("ruler-a2").await;
    let made = creator.await.expect("the event creator panicked");

    let want_archive: BTreeSet<String> = made
        .iter()
        .filter(|(_, o)| o.to_archive())
        .map(|(k, _)| k.clone())
        .collect();
    let want_pager: BTreeSet<String> = made
        .iter()
        .filter(|(_, o)| o.to_pager())
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        made.values().any(Occurrence::dropped) && want_pager.len() < want_archive.len(),
        "the routes must drop and filter some events for this test to mean anything"
    );
    let files = [archive("ruler-a"), archive("ruler-b"), archive("ruler-a2")];
    eventually(
        "every routed event delivered",
        Duration::from_secs(60),
        || async {
            let r = Received::collect(&files, &target);
            let (a, p) = (
                missing(&want_archive, &r.archive_keys()),
                missing(&want_pager, &r.pager_keys()),
            );
            if a.is_empty() && p.is_empty() {
                Ok(())
            } else {
                Err(format!("archive misses {a:?}, pager misses {p:?}"))
            }
        },
    )
    .await;
    eventually(
        "the log fully acknowledged",
        Duration::from_secs(30),
        || fully_acknowledged(&grpc, "ruler", made.len() as u64),
    )
    .await;
    for r in [&mut ruler_b, &mut ruler_a2] {
        let status = r.proc.terminate(Duration::from_secs(20)).await;
        assert!(status.success(), "{status}; log:\n{}", r.proc.log());
    }

    let got = Received::collect(&files, &target);
    // what the exporter took back from members that went away (the killed ruler, and
    // every member at the restart) is what may arrive twice
    let exporter_log = exporter.proc.log();
    let taken_back: Vec<u64> = log_records(&exporter_log, "INFO")
        .iter()
        .filter(|r| r["message"] == "member left, its unacknowledged events will be redelivered")
        .filter_map(|r| r["events"].as_u64())
        .collect();
    assert!(
        log_records(&exporter_log, "INFO")
            .iter()
            .any(|r| r["member"] == "ruler-a" && r["events"].as_u64().is_some_and(|n| n > 0)),
        "ruler-a was killed holding nothing; exporter log:\n{exporter_log}"
    );
    let in_flight = usize::try_from(taken_back.iter().sum::<u64>()).expect("small");
    assert!(
        in_flight <= MAX_IN_FLIGHT,
        "{in_flight} events in flight at the disruptions"
    );
    eprintln!(
        "pipeline: {} occurrences; archive {} lines for {} keys ({} duplicates; per ruler {:?}); \
         pager {} requests for {} keys ({} duplicates), {} refused with 503; {} in flight at the disruptions",
        made.len(),
        got.archive.len(),
        want_archive.len(),
        duplicates(&got.archive_keys()),
        files.iter().map(|f| lines(f).len()).collect::<Vec<_>>(),
        got.pager.len(),
        want_pager.len(),
        duplicates(&got.pager_keys()),
        target
            .hits()
            .iter()
            .filter(|h| h.status == Some(503))
            .count(),
        in_flight,
    );
    check_archive(&got, &made, &want_archive, in_flight);
    check_pager(&got, &made, &want_pager, &target, in_flight);
    assert!(
        !lines(&archive("ruler-b")).is_empty(),
        "ruler-b never delivered anything"
    );
    for log in [
        exporter.proc.log(),
        ruler_a.proc.log(),
        ruler_b.proc.log(),
        ruler_a2.proc.log(),
    ] {
        assert!(!log.contains(TOKEN), "the webhook token was logged");
    }
}

/// Most events that can be unacknowledged when a ruler dies or the exporter restarts:
/// the windows of the two rulers connected at each of those moments.
const MAX_IN_FLIGHT: usize = 2 * CREDITS;

/// Duplicates are allowed only for events that were in flight when a ruler died or the
/// exporter restarted (at-least-once), and a duplicate is an exact copy.
fn check_archive(
    got: &Received,
    made: &BTreeMap<String, Occurrence>,
    want: &BTreeSet<String>,
    in_flight: usize,
) {
    let keys = got.archive_keys();
    let extra: Vec<&String> = keys.keys().filter(|k| !want.contains(*k)).collect();
    assert!(
        extra.is_empty(),
        "archive got events it must not: {extra:?}"
    );
    assert!(
        duplicates(&keys) <= in_flight,
        "archive: {} duplicates, {in_flight} events were in flight",
        duplicates(&keys)
    );
    // a duplicate is an exact copy of the line
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for (doc, raw) in got.archive.iter().zip(&got.archive_raw) {
        let key = doc["key"].as_str().expect("key");
        let seen = first.entry(key).or_insert(raw);
        assert_eq!(*seen, raw.as_str(), "two different lines for {key}");
    }
    for doc in &got.archive {
        let key = doc["key"].as_str().expect("key");
        let o = &made[key];
        let expected = json!({
            "key": key,
            "namespace": o.namespace,
            "pod": o.pod,
            "team": o.team,
            "type": o.event_type,
            "reason": o.reason,
            "count": o.count.to_string(),
            "cluster": "e2e",
            "schema": 2,
            "replayable": true,
            "ratio": 0.25,
            "tags": ["herald", o.event_type.to_lowercase()],
        });
        assert_eq!(doc, &expected, "archive line of {key}");
    }
}

fn check_pager(
    got: &Received,
    made: &BTreeMap<String, Occurrence>,
    want: &BTreeSet<String>,
    target: &Target,
    in_flight: usize,
) {
    let keys = got.pager_keys();
    let extra: Vec<&String> = keys.keys().filter(|k| !want.contains(*k)).collect();
    assert!(extra.is_empty(), "pager got events it must not: {extra:?}");
    assert!(
        duplicates(&keys) <= in_flight,
        "pager: {} duplicates, {in_flight} events were in flight",
        duplicates(&keys)
    );
    let mut first: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for hit in &got.pager {
        let key = hit.header("x-idempotency-key");
        let body = hit.json();
        let o = &made[&key];
        assert_eq!(
            body,
            json!({
                "key": key,
                "summary": format!("{} on {}/{}", o.reason, o.namespace, o.pod),
                "team": "payments",
                "severity": 2,
                "page": true,
            }),
            "webhook body of {key}"
        );
        assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(hit.header("x-cluster"), "E2E");
        assert_eq!(hit.header("content-type"), "application/json");
        let seen = first
            .entry(key.clone())
            .or_insert_with(|| hit.body.to_vec());
        assert_eq!(seen, &hit.body.to_vec(), "two different bodies for {key}");
    }
    // the outage happened: requests were refused and their events delivered later
    let refused: BTreeSet<String> = target
        .hits()
        .iter()
        .filter(|h| h.status == Some(503))
        .map(|h| h.header("x-idempotency-key"))
        .collect();
    assert!(!refused.is_empty(), "the webhook never answered 503");
    assert!(refused.iter().all(|k| keys.contains_key(k)));
}
