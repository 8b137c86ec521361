//! kube-events rules: `herald run` with an alert rule posts the matching events'
//! alerts to a real Alertmanager (`HERALD_ALERTMANAGER_BIN`) with kube-events' labels
//! and the rendered annotations; `herald check-config` validates a config file's
//! `rules:` (unknown receivers, conditions that do not parse, at their `file:line`
//! with a hint), and `herald check-rule FILE` validates a `Rule` object, kube-events'
//! default set included.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::cluster::{BASE_CONFIG, Cluster, Combined, EventSpec};
use crate::support::probe::{eventually, metric, scrape};
use crate::support::procs::{bin, free_port, run_to_end};

/// Alertmanager on a free port, killed on drop; None (loudly) when its binary is not
/// set outside CI.
struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn alertmanager(dir: &Path) -> Option<Alertmanager> {
    let Some(bin) = std::env::var_os("HERALD_ALERTMANAGER_BIN") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HERALD_ALERTMANAGER_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!\n!!! SKIPPED: HERALD_ALERTMANAGER_BIN is not set, the Alertmanager test did not run\n!!!!!!!!\n"
        );
        return None;
    };
    let config = dir.join("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    eventually("alertmanager ready", Duration::from_secs(20), || async {
        match reqwest::get(format!("{}/-/ready", am.url)).await {
            Ok(r) if r.status().is_success() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    Some(am)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_matching_an_alert_rule_shows_up_in_alertmanager() {
    let cluster = Cluster::start().await;
    let Some(am) = alertmanager(cluster.dir.path()).await else {
        return;
    };
    let config = cluster.write(
        "config.yaml",
        &format!(
            "{BASE_CONFIG}omitLookup: true
receivers:
  - name: am
    alertmanager:
      url: {}
      resolveTimeout: 1h
rules:
  - name: PodBackOff
    condition: type=\"Warning\" and involvedObject.kind=\"Pod\" and reason=\"BackOff\"
    type: alert
    labels:
      severity: warning
    annotations:
      message: '%message'
      summary: 'Back-off of {{{{ .InvolvedObject.Name }}}}'
    receivers: [am]
",
            am.url
        ),
    );
    let mut herald = Combined::start(&cluster, &config).await;
    for (i, (pod, ty, reason)) in [
        ("web-1", "Warning", "BackOff"),
        ("web-2", "Warning", "BackOff"),
        ("web-3", "Normal", "Pulled"),
        ("web-4", "Warning", "Failed"),
    ]
    .into_iter()
    .enumerate()
    {
        cluster.create_event(&EventSpec {
            namespace: "shop",
            name: format!("am-{i}"),
            uid: format!("am-uid-{i}"),
            pod,
            event_type: ty,
            reason,
        });
    }
    let alerts: Vec<Value> = eventually(
        "2 alerts in Alertmanager",
        Duration::from_secs(30),
        || async {
            let v: Value = reqwest::get(format!("{}/api/v2/alerts", am.url))
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let list = v.as_array().cloned().unwrap_or_default();
            (list.len() >= 2)
                .then_some(list.clone())
                .ok_or(format!("{list:?}"))
        },
    )
    .await;
    // nothing else arrives: the Normal and the Failed event match no rule
    tokio::time::sleep(Duration::from_secs(1)).await;
    let v: Value = reqwest::get(format!("{}/api/v2/alerts", am.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    let mut pods = Vec::new();
    for a in &alerts {
        let pod = a["labels"]["pod"].as_str().unwrap().to_owned();
        let i = if pod == "web-1" { 0 } else { 1 };
        assert_eq!(a["labels"]["alertname"], "PodBackOff", "{a}");
        assert_eq!(a["labels"]["alerttype"], "event", "{a}");
        assert_eq!(a["labels"]["namespace"], "shop", "{a}");
        assert_eq!(a["labels"]["severity"], "warning", "{a}");
        assert_eq!(
            a["annotations"]["message"],
            format!("BackOff of {pod} <am-{i}>"),
            "{a}"
        );
        assert_eq!(
            a["annotations"]["summary"],
            format!("Back-off of {pod}"),
            "{a}"
        );
        pods.push(pod);
    }
    pods.sort();
    assert_eq!(pods, ["web-1", "web-2"]);
    let m = scrape(&herald.metrics_url()).await;
    assert_eq!(
        metric(
            &m,
            "herald_ruler_rule_matches_total",
            &[("receiver", "am"), ("rule", "PodBackOff")]
        ),
        2.0
    );
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());
}

/// EX_CONFIG.
const EXIT_CONFIG: i32 = 78;

fn herald(args: &[&str], path: &Path) -> (i32, String) {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(args).arg(path);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exited normally"), text)
}

const RULES: &str = r#"receivers:
  - name: am
    stdout: {}
  - name: hook
    stdout: {}
rules:
  - name: ContainerBackoff
    condition: type="Warning" and involvedObject.kind="Pod" and reason="BackOff" and count>3
    type: alert
    labels:
      severity: warning
    annotations:
      message: '%message'
    receivers: [am]
  - name: Everything
    condition: type = "Warning"
    receivers: [hook]
"#;

#[test]
fn check_config_validates_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let (code, out) = herald(&["check-config"], &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (2 receiver(s): am, hook; 2 rule(s); 0 warning(s))"),
        "{out}"
    );

    let bad = RULES
        .replace("receivers: [am]", "receivers: [alertmanager]")
        .replace(
            "type = \"Warning\"",
            "type = \"Warning\" and reason ~ \"x\"",
        );
    std::fs::write(&path, bad).unwrap();
    let (code, out) = herald(&["check-config"], &path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    assert!(
        out.contains(&format!(
            "{file}:14:17: error: rules[0].receivers[0]: rule `ContainerBackoff` names receiver `alertmanager`, which is not defined"
        )),
        "{out}"
    );
    assert!(out.contains("hint: defined receivers: am, hook"), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:16:16: error: rules[1].condition: condition does not parse: unexpected character `~` (column 29 of the condition)"
        )),
        "{out}"
    );
}

#[test]
fn check_rule_validates_rule_objects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.yaml");
    std::fs::write(
        &path,
        include_str!("../../../rules/tests/fixtures/cluster-rules-default.yaml"),
    )
    .unwrap();
    let (code, out) = herald(&["check-rule"], &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (97 rule(s), 96 enabled; scope: cluster; 0 warning(s))"),
        "{out}"
    );

    let bad = "apiVersion: events.kubesphere.io/v1alpha1\nkind: Rule\nmetadata:\n  name: team\n  namespace: shop\nspec:\n  rules:\n    - name: Broken\n      condition: reason = \"BackOff\" and (count > 3\n      enable: true\n      type: alert\n";
    std::fs::write(&path, bad).unwrap();
    let (code, out) = herald(&["check-rule"], &path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    assert!(
        out.contains(&format!(
            "{}:9:18: error: spec.rules[0].condition: condition does not parse: `(` is not closed (column 24 of the condition)",
            path.display()
        )),
        "{out}"
    );
    assert!(out.contains("FAILED (1 error(s))"), "{out}");
}

#[test]
fn route_names_the_rules_that_select_an_event_and_shows_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.yaml");
    std::fs::write(&config, RULES).unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"metadata": {"name": "e1", "namespace": "shop", "uid": "u1"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "fieldPath": "spec.containers{api}"},
            "type": "Warning", "reason": "BackOff", "message": "Back-off restarting", "count": 5}"#,
    )
    .unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("route").arg(&config).arg("--event").arg(&event);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("receivers: am, hook\n"), "{text}");
    assert!(
        text.contains("  am <- rule ContainerBackoff\n  hook <- rule Everything\n"),
        "{text}"
    );
    assert!(
        text.contains("alert labels: alertname=\"ContainerBackoff\", alerttype=\"event\", container=\"api\", namespace=\"shop\", pod=\"web-1\", severity=\"warning\"\n"),
        "{text}"
    );
    assert!(
        text.contains("alert annotations: message=\"Back-off restarting\"\n"),
        "{text}"
    );
    assert!(text.contains("--- hook (stdout)\n{"), "{text}");
}
