//! Namespace selectors follow live namespace labels.
//!
//! simulator → exporter (Namespace watch on) → ruler with two `file` receivers: `team`
//! with `namespaceSelector: {matchLabels: {team: payments}}` and `archive` without one.
//! Events flow into namespace `shop` at a steady pace. Labelling `shop`
//! `team=payments` makes its events reach `team` within seconds; removing the label
//! stops them; no process restarts; `archive` gets every event.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::cluster::{BASE_CONFIG, Cluster, EventSpec, Exporter, Ruler};
use crate::support::probe::{eventually, fully_acknowledged, json_lines, metric, scrape};

/// Time between two events.
const PACE: Duration = Duration::from_millis(100);
/// How soon a label change must show in where events go.
const WITHIN: Duration = Duration::from_secs(10);

fn config(cluster: &Cluster) -> std::path::PathBuf {
    let (team, archive) = (cluster.path("team.log"), cluster.path("archive.log"));
    cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}exporter:
  lookup: {{ttl: 1h}}
route:
  routes:
    - match:
        - receiver: team
        - receiver: archive
receivers:
  - name: team
    file:
      path: {team}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
    namespaceSelector:
      matchLabels: {{team: payments}}
  - name: archive
    file:
      path: {archive}
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
"#,
            team = team.display(),
            archive = archive.display(),
        ),
    )
}

/// Idempotency keys written to a receiver's file.
fn keys(path: &Path) -> BTreeSet<String> {
    json_lines(path)
        .into_iter()
        .map(|l| l["key"].as_str().expect("key").to_owned())
        .collect()
}

/// Creates events `ns-NNN` in `shop`, one every [`PACE`].
struct Pump<'a> {
    cluster: &'a Cluster,
    next: usize,
}

impl Pump<'_> {
    /// Creates one event; returns its key.
    async fn one(&mut self) -> String {
        let spec = EventSpec {
            namespace: "shop",
            name: format!("ns-{:03}", self.next),
            uid: format!("ns-uid-{:03}", self.next),
            pod: "web-0",
            event_type: "Warning",
            reason: "BackOff",
        };
        self.next += 1;
        self.cluster.create_event(&spec);
        tokio::time::sleep(PACE).await;
        spec.key(1)
    }

    /// Creates `n` events; returns their keys.
    async fn many(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.one().await);
        }
        out
    }

    /// Keeps creating events until `done` holds for the files; returns every key
    /// created and how long it took.
    async fn until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&[String]) -> bool,
    ) -> (Vec<String>, Duration) {
        let started = Instant::now();
        let mut created = Vec::new();
        while !done(&created) {
            assert!(
                started.elapsed() < WITHIN,
                "{what}: not within {WITHIN:?} ({} events created)",
                created.len()
            );
            created.push(self.one().await);
        }
        (created, started.elapsed())
    }
}

async fn archived(archive: &Path, wanted: &BTreeSet<String>) {
    eventually(
        "archive has every event",
        Duration::from_secs(15),
        || async {
            let missing = wanted.difference(&keys(archive)).count();
            (missing == 0)
                .then_some(())
                .ok_or(format!("{missing} of {} events not archived", wanted.len()))
        },
    )
    .await;
}

fn label_shop(cluster: &Cluster, labels: serde_json::Value) {
    cluster
        .sim
        .put_object("v1", "Namespace", json!({"name": "shop", "labels": labels}))
        .expect("update namespace shop");
}

#[tokio::test(flavor = "multi_thread")]
async fn labelling_a_namespace_routes_its_events_live() {
    let cluster = Cluster::start().await;
    cluster.put_pod("shop", "web-0", &[("app", "web")]);
    let config = config(&cluster);
    let mut exporter = Exporter::start(&cluster, &config).await;
    let mut ruler = Ruler::start(&cluster, &config, &exporter.grpc_url(), "r", &[]).await;
    let (team, archive) = (cluster.path("team.log"), cluster.path("archive.log"));
    let mut pump = Pump {
        cluster: &cluster,
        next: 0,
    };
    let mut all = BTreeSet::new();

    // 1. `shop` has no team label: only the archive gets its events
    let before = pump.many(20).await;
    all.extend(before.iter().cloned());
    archived(&archive, &all).await;
    assert!(keys(&team).is_empty(), "{:?}", keys(&team));

    // 2. label it while events flow: they start reaching `team`
    label_shop(&cluster, json!({"team": "payments"}));
    let (during, took) = pump
        .until("events of shop reach team", |_| !keys(&team).is_empty())
        .await;
    all.extend(during.iter().cloned());
    let steady = pump.many(20).await;
    all.extend(steady.iter().cloned());
    archived(&archive, &all).await;
    let got = keys(&team);
    let missing: Vec<_> = steady.iter().filter(|k| !got.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "labelled events not in team: {missing:?}"
    );
    assert!(
        before.iter().all(|k| !got.contains(k)),
        "events from before the label reached team: {got:?}"
    );
    eprintln!("namespace selector: the label took effect after {took:?}");

    // 3. remove the label while events flow: they stop reaching `team`
    label_shop(&cluster, json!({}));
    let team_before = keys(&team);
    let grpc = exporter.grpc_url();
    // every lane acknowledged every event: nothing still in flight can land in team later
    let settled = |n: usize| {
        let grpc = grpc.clone();
        async move {
            eventually(
                "the ruler acknowledged everything",
                Duration::from_secs(15),
                || fully_acknowledged(&grpc, "ruler", n as u64),
            )
            .await;
        }
    };
    let removed = Instant::now();
    loop {
        // the newest event, once settled, did not reach team: the exporter saw the
        // removal before enriching it, so every later event lacks the label too
        let last = pump.one().await;
        all.insert(last.clone());
        settled(all.len()).await;
        if !keys(&team).contains(&last) {
            break;
        }
        assert!(
            removed.elapsed() < WITHIN,
            "events of shop still reach team {WITHIN:?} after the label was removed"
        );
    }
    let took = removed.elapsed();
    let after = pump.many(20).await;
    all.extend(after.iter().cloned());
    archived(&archive, &all).await;
    settled(all.len()).await;
    let text = scrape(&ruler.metrics_url()).await;
    let team_label = [("receiver", "team")];
    assert!(
        metric(
            &text,
            "herald_ruler_events_outside_namespace_selector_total",
            &team_label
        ) >= 20.0,
        "{text}"
    );
    // both lanes read every event; each is decoded once and routed once for both
    let received: f64 = ["team", "archive"]
        .iter()
        .map(|r| {
            metric(
                &text,
                "herald_ruler_events_received_total",
                &[("receiver", r)],
            )
        })
        .sum();
    let decodes = |result| {
        metric(
            &text,
            "herald_ruler_event_decodes_total",
            &[("result", result)],
        )
    };
    let (decoded, shared) = (decodes("decoded"), decodes("shared"));
    assert_eq!(decoded + shared, received, "{text}");
    assert!(
        received >= 2.0 * all.len() as f64 && decoded <= received / 2.0 + 2.0,
        "{decoded} decodes for {received} events received by two lanes in step"
    );
    let got = keys(&team);
    let leaked: Vec<_> = after.iter().filter(|k| got.contains(*k)).collect();
    assert!(
        leaked.is_empty(),
        "unlabelled events reached team: {leaked:?}"
    );
    assert!(got.len() >= team_before.len() && got.len() >= steady.len());
    eprintln!("namespace selector: the label removal took effect after {took:?}");

    // 4. no restart, nothing lost for the receiver that did not change
    exporter.proc.assert_running();
    ruler.proc.assert_running();
    assert_eq!(keys(&archive), all, "archive got every event exactly");
    assert_eq!(json_lines(&archive).len(), all.len(), "each once");
}
