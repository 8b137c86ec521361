//! `herald route FILE --event EVENT.json`: which receivers a captured Event reaches and
//! what each would be sent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::procs::{bin, run_to_end};

const CONFIG: &str = r#"clusterName: prod-eu
metricsNamePrefix: event_exporter_
route:
  drop:
    - namespace: "^test-"
  routes:
    - match:
        - receiver: archive
    - drop:
        - type: Normal
      match:
        - receiver: alerts
    - match:
        - labels:
            team: ".*"
          receiver: team-owners
receivers:
  - name: archive
    file:
      path: /tmp/herald-route-test.log
      layout:
        key: "{{ .IdempotencyKey }}"
        what: "{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Name }}"
        reason: "{{ .Reason | upper }}"
        count: "{{ .Count }}"
        cluster: "{{ .ClusterName }}"
        priority: 3
        page: false
  - name: alerts
    webhook:
      endpoint: https://bot:hunter2@hooks.example.com/alerts?token=s3cr3t-query&team=a
      headers:
        Authorization: "Bearer s3cr3t-route-token"
        X-Event-Key: "{{ .IdempotencyKey }}"
  - name: team-owners
    stdout: {}
"#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kubesim/fixtures")
        .join(name)
}

fn route(config: &Path, event: &Path) -> String {
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("route").arg(config).arg("--event").arg(event);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "herald route failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The lines of the `--- name (kind)` section.
fn section<'a>(out: &'a str, header: &str) -> Vec<&'a str> {
    let start = out
        .find(header)
        .unwrap_or_else(|| panic!("no `{header}` section in:\n{out}"));
    out[start + header.len()..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("--- "))
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn route_shows_receivers_and_rendered_payloads_of_captured_events() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();

    // a Warning created through events.k8s.io (series count 5, no `count`)
    let out = route(&config, &fixture("core-v1-event-from-events-api.json"));
    assert!(out.contains("receivers: archive, alerts\n"), "{out}");
    let archive = section(&out, "--- archive (file)");
    assert_eq!(archive.len(), 1, "{out}");
    let doc: Value = serde_json::from_str(archive[0]).expect("the file payload is JSON");
    assert_eq!(
        doc,
        json!({
            "key": "b1d0d906-f1aa-420b-a295-c03058ec90eb-5",
            "what": "Pod/nginx-55b49f585d-pjdb6",
            "reason": "BACKOFF",
            "count": "0",
            "cluster": "prod-eu",
            "priority": 3,
            "page": false
        })
    );
    let alerts = section(&out, "--- alerts (webhook)");
    // the receiver's own request, credentials masked in the URL and headers
    assert_eq!(
        alerts[0], "POST https://***@hooks.example.com/alerts?token=***&team=a",
        "{out}"
    );
    assert!(
        !out.contains("hunter2") && !out.contains("s3cr3t-query"),
        "{out}"
    );
    assert_eq!(alerts[1], "Host: hooks.example.com", "{out}");
    let content_types = alerts
        .iter()
        .copied()
        .filter(|l| l.starts_with("Content-Type:"));
    assert_eq!(
        content_types.collect::<Vec<_>>(),
        ["Content-Type: application/json"]
    );
    assert!(
        alerts.contains(&concat!("User-Agent: herald/", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(
        alerts.contains(&"X-Event-Key: b1d0d906-f1aa-420b-a295-c03058ec90eb-5"),
        "{out}"
    );
    assert!(alerts.contains(&"Authorization: ***"), "{out}");
    assert!(!out.contains("s3cr3t-route-token"), "{out}");
    let body: Value = serde_json::from_str(alerts.last().unwrap()).expect("webhook body is JSON");
    assert_eq!(body["reason"], "BackOff");
    assert_eq!(body["series"]["count"], 5);
    assert_eq!(body["clusterName"], "prod-eu");
    assert_eq!(body["involvedObject"]["deleted"], false);

    // one Normal event of a captured list: only the archive
    let list: Value =
        serde_json::from_slice(&std::fs::read(fixture("core-v1-eventlist.json")).unwrap()).unwrap();
    let items = list["items"].as_array().unwrap();
    let pick = |ns: &str, reason: &str| {
        let item = items
            .iter()
            .find(|i| i["metadata"]["namespace"] == ns && i["reason"] == reason)
            .unwrap_or_else(|| panic!("no {reason} event in {ns} in the fixture"));
        let path = dir.path().join(format!("{reason}.json"));
        std::fs::write(&path, serde_json::to_vec(item).unwrap()).unwrap();
        (path, item.clone())
    };
    let (scheduled, item) = pick("shop", "Scheduled");
    let out = route(&config, &scheduled);
    assert!(out.contains("receivers: archive\n"), "{out}");
    let doc: Value = serde_json::from_str(section(&out, "--- archive (file)")[0]).unwrap();
    // created through events.k8s.io without a series: the first occurrence
    assert!(item.get("count").is_none() && item.get("series").is_none());
    assert_eq!(
        doc["key"],
        format!("{}-1", item["metadata"]["uid"].as_str().unwrap())
    );
    assert_eq!(doc["reason"], "SCHEDULED");
    assert!(!out.contains("--- alerts"), "{out}");

    // an event of a dropped namespace reaches nothing
    let (dropped, _) = pick("test-ns", "DeadlineExceeded");
    let out = route(&config, &dropped);
    assert!(
        out.contains("no receiver: the event is dropped by the route tree"),
        "{out}"
    );
}

#[test]
fn route_rejects_a_file_that_is_not_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, "{\"kind\": \"Event\", \"metadata\": ").unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("route").arg(&config).arg("--event").arg(&event);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&event.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Slack, Teams and Opsgenie previews show the request each would make, but
/// never the token, the webhook URL's secret path or the API key, whether
/// written in the file or taken from the environment.
#[test]
fn route_previews_of_alerting_receivers_mask_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        r##"route:
  routes:
    - match:
        - receiver: slack
        - receiver: slack-hook
        - receiver: teams
        - receiver: pager
receivers:
  - name: slack
    slack:
      token: "${HERALD_TEST_SLACK_TOKEN}"
      channel: "#ops"
      message: "{{ .Reason }}: {{ .Message }}"
  - name: slack-hook
    slack:
      webhookURL: https://hooks.slack.com/services/T0/B0/s3cr3t-hook-path
      message: "{{ .Reason }}"
  - name: teams
    teams:
      endpoint: https://example.webhook.office.com/webhookb2/s3cr3t-teams-path
      format: adaptiveCard
  - name: pager
    opsgenie:
      apiKey: "${HERALD_TEST_OPSGENIE_KEY}"
      URL: api.eu.opsgenie.com
      message: "{{ .Reason }} on {{ .InvolvedObject.Name }}"
      alias: "{{ .InvolvedObject.UID }}"
"##,
    )
    .unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("route")
        .arg(&config)
        .arg("--event")
        .arg(fixture("core-v1-event-from-events-api.json"))
        .env("HERALD_TEST_SLACK_TOKEN", "xoxb-s3cr3t-env-token")
        .env("HERALD_TEST_OPSGENIE_KEY", "og-s3cr3t-env-key");
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for secret in [
        "s3cr3t-env-token",
        "s3cr3t-hook-path",
        "s3cr3t-teams-path",
        "s3cr3t-env-key",
    ] {
        assert!(!text.contains(secret), "`{secret}` shown:\n{text}");
    }
    let slack = section(&text, "--- slack (slack)");
    assert_eq!(
        slack[0], "POST https://slack.com/api/chat.postMessage",
        "{text}"
    );
    assert!(slack.contains(&"Authorization: ***"), "{text}");
    let body: Value = serde_json::from_str(slack.last().unwrap()).unwrap();
    assert_eq!(body["channel"], "#ops");
    let hook = section(&text, "--- slack-hook (slack)");
    assert_eq!(
        hook[0], "POST https://hooks.slack.com/services/***",
        "{text}"
    );
    let teams = section(&text, "--- teams (teams)");
    assert_eq!(
        teams[0], "POST https://example.webhook.office.com/webhookb2/***",
        "{text}"
    );
    let pager = section(&text, "--- pager (opsgenie)");
    assert_eq!(
        pager[0], "POST https://api.eu.opsgenie.com/v2/alerts",
        "{text}"
    );
    assert!(pager.contains(&"Authorization: ***"), "{text}");
    let body: Value = serde_json::from_str(pager.last().unwrap()).unwrap();
    assert_eq!(body["priority"], "P3");
    assert_eq!(body["message"], "BackOff on nginx-55b49f585d-pjdb6");
}

fn route_status(config: &Path, event: &Path) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("route").arg(config).arg("--event").arg(event);
    let out = run_to_end(cmd, Duration::from_secs(30));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn route_reads_kubectl_lists_and_names_the_rule_of_each_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    // `kubectl get events -o json`: an EventList of 72 captured events
    let out = route(&config, &fixture("core-v1-eventlist.json"));
    assert!(out.contains("=== event 1 of 72: "), "{out}");
    assert!(out.contains("=== event 72 of 72: "), "{out}");
    let reached = out.matches("\nreceivers: ").count();
    let dropped = out.matches("no receiver: the event is dropped").count();
    assert_eq!(reached + dropped, 72, "{out}");
    assert_eq!(dropped, 24, "the 24 events of test-ns are dropped: {out}");
    let at = |line: usize| format!("({}:{line})", config.display());
    assert!(
        out.contains(&format!("  archive <- route.routes[0].match[0] {}", at(8))),
        "{out}"
    );
    assert!(
        out.contains(&format!("  alerts <- route.routes[1].match[0] {}", at(12))),
        "{out}"
    );
    assert!(
        out.contains("offline: involved objects are not looked up"),
        "{out}"
    );

    // a JSON array, with the involved object's labels given in the file
    let mut ev: Value = serde_json::from_slice(
        &std::fs::read(fixture("core-v1-event-from-events-api.json")).unwrap(),
    )
    .unwrap();
    ev["involvedObject"]["labels"] = json!({"team": "payments"});
    let array = dir.path().join("array.json");
    std::fs::write(&array, serde_json::to_vec(&json!([ev])).unwrap()).unwrap();
    let out = route(&config, &array);
    assert!(
        out.contains("receivers: archive, alerts, team-owners\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  team-owners <- route.routes[2].match[0] {}",
            at(16)
        )),
        "{out}"
    );
    assert!(
        !out.contains("=== event"),
        "one event needs no header: {out}"
    );

    // an empty list is no error
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "[]").unwrap();
    let (code, out, _) = route_status(&config, &empty);
    assert_eq!(code, Some(0));
    assert!(out.contains("no events in"), "{out}");
}

#[test]
fn route_exit_codes_tell_a_bad_config_from_a_bad_event_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let bad_event = dir.path().join("bad.json");
    std::fs::write(&bad_event, "[{\"metadata\": {\"name\": 5}}]").unwrap();
    let (code, _, err) = route_status(&config, &bad_event);
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("item 0"), "{err}");
    let missing = dir.path().join("missing.json");
    let (code, _, err) = route_status(&config, &missing);
    assert_eq!(code, Some(65), "{err}");
    let bad_config = dir.path().join("bad.yaml");
    std::fs::write(&bad_config, "route:\n  match:\n    - receiver: nowhere\n").unwrap();
    let (code, _, err) = route_status(&bad_config, &fixture("core-v1-eventlist.json"));
    assert_eq!(code, Some(78), "{err}");
}

#[test]
fn route_applies_namespace_selectors_to_the_namespace_labels_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "route:\n  routes:\n    - match:\n        - receiver: archive\n        - receiver: payments\n          namespaceSelector: {matchLabels: {team: payments}}\n        - receiver: team\nreceivers:\n  - name: archive\n    stdout: {}\n  - name: payments\n    stdout: {}\n  - name: team\n    stdout: {}\n    namespaceSelector:\n      matchExpressions: [{key: team, operator: In, values: [payments]}]\n",
    )
    .unwrap();
    let event = |labels: Value| {
        let path = dir.path().join("event.json");
        let ev = json!({
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "u-1"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web", "apiVersion": "v1",
                               "namespaceLabels": labels},
            "reason": "BackOff", "message": "m", "type": "Warning", "count": 1,
            "source": {"component": "kubelet"},
            "firstTimestamp": "2026-11-22T01:40:00Z", "lastTimestamp": "2026-11-22T01:40:00Z"
        });
        std::fs::write(&path, ev.to_string()).unwrap();
        route(&config, &path)
    };
    let out = event(json!({"team": "payments"}));
    assert!(
        out.contains("receivers: archive, payments, team\n"),
        "{out}"
    );
    assert!(!out.contains("not sent to"), "{out}");
    let out = event(json!({"team": "search"}));
    assert!(out.contains("receivers: archive\n"), "{out}");
    assert!(
        out.contains("not sent to team: its namespaceSelector (team=payments) does not match namespace `shop`"),
        "{out}"
    );
}
