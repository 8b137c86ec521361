//! kube-events `Rule` objects watched live by `herald-ruler` (`ruler.ruleObjects`):
//! while events flow, a Rule object created in the simulator starts sending the
//! events it matches to the notification receiver, an edit changes what it matches,
//! a rule that does not parse leaves the ruler running and is named on the object's
//! status, and deleting the object stops its rules.

use std::path::Path;
use std::time::Duration;

use herald_kubesim::ResourceDef;
use serde_json::{Value, json};

use crate::support::cluster::{BASE_CONFIG, Cluster, Combined, EventSpec, Exporter, Ruler};
use crate::support::probe::{eventually, json_lines, log_records, metric, scrape};

const API_VERSION: &str = "events.kubesphere.io/v1alpha1";

fn register_crd(cluster: &Cluster) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/herald/crds/events.kubesphere.io_rules.yaml"
    ))
    .expect("the chart's CRD");
    let crd: Value = serde_saphyr::from_str(&text).expect("CRD YAML");
    cluster
        .sim
        .register_resource(ResourceDef::from_crd(&crd).expect("CRD"));
}

fn rule_object(rules: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Rule",
        "metadata": {"name": "team-rules", "namespace": "shop", "labels": {"kubesphere.io/rule-scope": "namespace"}},
        "spec": {"rules": rules}
    })
}

fn notification(name: &str, reason: &str) -> Value {
    json!({"name": name, "condition": format!("type = \"Warning\" and reason = \"{reason}\""), "enable": true, "type": "notification"})
}

/// Event names the notification receiver got.
fn received(path: &Path) -> Vec<String> {
    json_lines(path)
        .iter()
        .map(|l| l["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

struct Flow<'a> {
    cluster: &'a Cluster,
    out: &'a Path,
    n: usize,
}

impl Flow<'_> {
    /// Creates a Warning event with `reason` in `shop`; returns its name.
    fn event(&mut self, reason: &str) -> String {
        self.n += 1;
        let name = format!("ev-{:04}-{}", self.n, reason.to_lowercase());
        self.cluster.create_event(&EventSpec {
            namespace: "shop",
            name: name.clone(),
            uid: format!("uid-{}", self.n),
            pod: "web-0",
            event_type: "Warning",
            reason,
        });
        name
    }

    /// Keeps events flowing (one with `reason`, then a `Sentinel` the config
    /// file's rule always sends) until a sentinel arrives with the `reason` event
    /// before it delivered (`delivered`) or not: the receiver's lane handles events
    /// in order, so the sentinel settles the fate of the event created before it.
    async fn until(&mut self, reason: &str, delivered: bool) {
        let what = format!("events with reason {reason} delivered: {delivered}");
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(
                tries < 40,
                "gave up waiting for {what}; got {:?}",
                received(self.out)
            );
            let probe = self.event(reason);
            let sentinel = self.event("Sentinel");
            let out = self.out.to_owned();
            let got = eventually(
                &format!("sentinel {sentinel}"),
                Duration::from_secs(15),
                || {
                    let out = out.clone();
                    let sentinel = sentinel.clone();
                    async move {
                        let got = received(&out);
                        got.contains(&sentinel)
                            .then_some(got)
                            .ok_or_else(|| "not yet".to_owned())
                    }
                },
            )
            .await;
            if got.contains(&probe) == delivered {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A config sending what `Rule` objects' notification rules select, and events
/// with reason `Sentinel` (a config-file rule), to a file receiver writing `out`.
fn config(cluster: &Cluster, out: &Path) -> std::path::PathBuf {
    cluster.write(
        "config.yaml",
        &format!(
            "{BASE_CONFIG}omitLookup: true
ruler:
  ruleObjects:
    enabled: true
    notificationReceivers: [notify]
rules:
  - name: Sentinel
    condition: reason = \"Sentinel\"
    receivers: [notify]
receivers:
  - name: notify
    file:
      path: {}
      layout:
        name: \"{{{{ .Name }}}}\"
        reason: \"{{{{ .Reason }}}}\"
",
            out.display()
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_objects_take_effect_live_and_report_their_errors() {
    let cluster = Cluster::start().await;
    register_crd(&cluster);
    let out = cluster.path("notify.log");
    let config = config(&cluster, &out);
    let exporter = Exporter::start(&cluster, &config).await;
    let mut ruler = Ruler::start(&cluster, &config, &exporter.grpc_url(), "ruler-a", &[]).await;
    let mut flow = Flow {
        cluster: &cluster,
        out: &out,
        n: 0,
    };
    // no Rule object yet: BackOff events are not sent
    flow.until("BackOff", false).await;

    // created: BackOff events reach the receiver
    cluster
        .sim
        .put_object_full(rule_object(json!([notification("Backoffs", "BackOff")])))
        .unwrap();
    flow.until("BackOff", true).await;

    // edited: Failed instead of BackOff
    cluster
        .sim
        .put_object_full(rule_object(json!([notification("Backoffs", "Failed")])))
        .unwrap();
    flow.until("Failed", true).await;
    flow.until("BackOff", false).await;

    // a rule that does not parse: the ruler keeps running and the status names it
    cluster
        .sim
        .put_object_full(rule_object(json!([
            notification("Backoffs", "Failed"),
            {"name": "Broken", "condition": "reason = \"x\" and (count > 3", "enable": true}
        ])))
        .unwrap();
    let status = eventually(
        "the status names the error",
        Duration::from_secs(15),
        || async {
            let obj = cluster
                .sim
                .object(API_VERSION, "Rule", "shop", "team-rules")
                .ok_or("no object")?;
            let status = obj["status"].clone();
            (status["observedGeneration"] == 3)
                .then_some(status.clone())
                .ok_or(format!("{status}"))
        },
    )
    .await;
    assert_eq!(status["loadedRules"], 1, "{status}");
    assert_eq!(status["errors"][0]["rule"], "Broken", "{status}");
    assert_eq!(status["errors"][0]["index"], 1, "{status}");
    assert_eq!(
        status["errors"][0]["message"],
        "condition does not parse: `(` is not closed (column 18 of the condition)"
    );
    ruler.proc.assert_running();
    let m = scrape(&ruler.metrics_url()).await;
    assert_eq!(metric(&m, "herald_ruler_rule_objects", &[]), 1.0, "{m}");
    assert_eq!(
        metric(&m, "herald_ruler_rule_object_failed_rules", &[]),
        1.0,
        "{m}"
    );
    flow.until("Failed", true).await;
    let warnings = log_records(&ruler.proc.log(), "WARN");
    assert!(
        warnings.iter().any(|w| w["rule"] == "Broken"
            && w["rule_object"] == "shop/team-rules"
            && w["error"].as_str().is_some_and(|e| e.contains("column 18"))),
        "{warnings:?}"
    );

    // deleted: its rules stop
    cluster
        .sim
        .delete_object(API_VERSION, "Rule", "shop", "team-rules")
        .unwrap();
    flow.until("Failed", false).await;
    ruler.proc.assert_running();
    let status = ruler.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", ruler.proc.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn herald_run_watches_rule_objects_too() {
    let cluster = Cluster::start().await;
    register_crd(&cluster);
    let out = cluster.path("notify.log");
    let config = config(&cluster, &out);
    let mut herald = Combined::start(&cluster, &config).await;
    let mut flow = Flow {
        cluster: &cluster,
        out: &out,
        n: 0,
    };
    flow.until("BackOff", false).await;
    cluster
        .sim
        .put_object_full(rule_object(json!([notification("Backoffs", "BackOff")])))
        .unwrap();
    flow.until("BackOff", true).await;
    cluster
        .sim
        .delete_object(API_VERSION, "Rule", "shop", "team-rules")
        .unwrap();
    flow.until("BackOff", false).await;
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());
}
