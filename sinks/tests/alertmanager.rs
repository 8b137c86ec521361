//! The `alertmanager` sink in the real delivery driver: the exact requests against
//! the test kit's fake (every Alertmanager gets every batch, a failing one makes the
//! batch go again to all, a bad label rejects its alert alone), and against
//! Prometheus Alertmanager itself
//! (`HERALD_ALERTMANAGER_BIN`, set by `.ci/test`): an alert built from a kube-events
//! rule shows up in `GET /api/v2/alerts` with its labels and annotations, and alerts
//! sent while Alertmanager is down arrive once it is up (nothing lost).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use herald_config::{Diagnostics, SourceFile};
use herald_proto::Event;
use herald_rules::{RuleMatch, RuleType, alert_labels};
use herald_sinks::alertmanager::{AlertmanagerConfig, AlertmanagerSink};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_testkit::driver::DriverHarness;
use herald_testkit::{FakeHttp, Reply};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// Alertmanager on `port`, stopped (and its data removed) when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> Option<std::ffi::OsString> {
    let Some(bin) = std::env::var_os("HERALD_ALERTMANAGER_BIN") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HERALD_ALERTMANAGER_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!\n!!! SKIPPED: HERALD_ALERTMANAGER_BIN is not set, the Alertmanager test did not run \
             (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
        );
        return None;
    };
    Some(bin)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts Alertmanager on 127.0.0.1:`port` (clustering off) and waits until it is ready.
async fn start(bin: &std::ffi::OsStr, port: u16) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: none\n  group_wait: 1h\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
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
        _dir: dir,
    };
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = reqwest::get(format!("{}/-/ready", am.url)).await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    am
}

async fn alerts(url: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{url}/api/v2/alerts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().cloned().unwrap_or_default()
}

fn sink(url: &str) -> AlertmanagerSink {
    let yaml = format!("- name: am\n  alertmanager:\n    url: {url}\n    resolveTimeout: 1h\n");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    let c = receivers[0]
        .sink
        .downcast_ref::<AlertmanagerConfig>()
        .unwrap();
    AlertmanagerSink::new("am", c, Duration::from_secs(2)).unwrap()
}

fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 10,
        max_bytes: 1024 * 1024,
        linger: Duration::from_millis(50),
    });
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: 0,
    };
    s
}

/// A BackOff event of pod `pod`, seen now.
fn event(pod: &str) -> Event {
    let now = Utc::now();
    let mut ev = Event {
        reason: "BackOff".into(),
        message: format!("Back-off restarting failed container api in pod {pod}"),
        event_type: "Warning".into(),
        count: 5,
        first_timestamp: Some(now - chrono::Duration::minutes(2)),
        last_timestamp: Some(now),
        ..Event::default()
    };
    ev.metadata.uid = format!("uid-{pod}");
    ev.involved_object.kind = "Pod".into();
    ev.involved_object.name = pod.into();
    ev.involved_object.namespace = "shop".into();
    ev.involved_object.field_path = "spec.containers{api}".into();
    ev
}

/// What the kube-events rule `ContainerBackoff` produces for `ev`.
fn rule_match(ev: &Event) -> Arc<RuleMatch> {
    let extra = BTreeMap::from([("severity".to_owned(), "warning".to_owned())]);
    Arc::new(RuleMatch {
        rule: "ContainerBackoff".into(),
        rule_type: RuleType::Alert,
        labels: alert_labels(ev, "ContainerBackoff", &extra),
        annotations: BTreeMap::from([
            ("message".to_owned(), ev.message.clone()),
            ("summary".to_owned(), "Container back-off".to_owned()),
        ]),
        errors: Vec::new(),
    })
}

#[tokio::test]
async fn an_alert_rule_match_shows_up_in_alertmanager() {
    let Some(bin) = bin() else { return };
    let am = start(&bin, free_port()).await;
    let mut h = DriverHarness::start(sink(&am.url), settings());
    let ev = event("web-1");
    let m = rule_match(&ev);
    h.deliver_with(ev, |d| d.with_rule(Some(m))).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1, "{acks:?}");
    let got = alerts(&am.url).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let a = &got[0];
    let labels: BTreeMap<String, String> = serde_json::from_value(a["labels"].clone()).unwrap();
    let want: BTreeMap<String, String> = [
        ("alertname", "ContainerBackoff"),
        ("alerttype", "event"),
        ("pod", "web-1"),
        ("namespace", "shop"),
        ("container", "api"),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(labels, want);
    assert_eq!(
        a["annotations"]["message"],
        "Back-off restarting failed container api in pod web-1"
    );
    assert_eq!(a["annotations"]["summary"], "Container back-off");
    assert_eq!(a["status"]["state"], "active");
    // startsAt is the event's firstTimestamp (Alertmanager keeps millisecond precision)
    let starts = chrono::DateTime::parse_from_rfc3339(a["startsAt"].as_str().unwrap()).unwrap();
    let age = Utc::now().signed_duration_since(starts);
    assert!(
        age > chrono::Duration::seconds(100) && age < chrono::Duration::seconds(200),
        "{age:?}"
    );
}

#[tokio::test]
async fn alerts_sent_while_alertmanager_is_down_arrive_once_it_is_up() {
    let Some(bin) = bin() else { return };
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut h = DriverHarness::start(sink(&url), settings());
    let pods = ["web-1", "web-2", "web-3"];
    for pod in pods {
        let ev = event(pod);
        let m = rule_match(&ev);
        h.deliver_with(ev, |d| d.with_rule(Some(m))).await;
    }
    // down: nothing is acknowledged, the driver keeps retrying
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(h.pending_acks().is_empty(), "acknowledged while down");
    let am = start(&bin, port).await;
    let acks = h.acks(3, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    assert_eq!(delivered, 3, "{acks:?}");
    let mut names: Vec<String> = alerts(&am.url)
        .await
        .iter()
        .map(|a| a["labels"]["pod"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, pods);
}

/// Decodes an `alertmanager:` block.
fn config(block: &str) -> Result<AlertmanagerConfig, String> {
    let yaml = format!("- name: am\n  alertmanager:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    if diags.has_errors() {
        return Err(diags.to_string());
    }
    Ok(receivers[0]
        .sink
        .downcast_ref::<AlertmanagerConfig>()
        .unwrap()
        .clone())
}

/// A BackOff event with fixed timestamps.
fn fixed_event() -> Event {
    let mut ev = event("web-1");
    ev.message = "Back-off restarting failed container".into();
    ev.first_timestamp = Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap());
    ev.last_timestamp = Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 7, 0).unwrap());
    ev
}

/// `ContainerBackoff`'s alert for [`fixed_event`].
fn fixed_rule_match() -> Arc<RuleMatch> {
    let labels: BTreeMap<String, String> = [
        ("alertname", "ContainerBackoff"),
        ("alerttype", "event"),
        ("pod", "web-1"),
        ("namespace", "shop"),
        ("container", "api"),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Arc::new(RuleMatch {
        rule: "ContainerBackoff".into(),
        rule_type: RuleType::Alert,
        labels,
        annotations: BTreeMap::from([("message".into(), "Back-off restarting".into())]),
        errors: Vec::new(),
    })
}

#[tokio::test]
async fn alerts_are_posted_to_every_alertmanager_as_kube_events_builds_them() {
    let a = FakeHttp::start().await;
    let b = FakeHttp::start().await;
    let cfg = config(&format!(
        "    urls: [\"{}\", \"{}/prefix/\"]\n    resolveTimeout: 10m\n    generatorURL: 'https://console/{{{{ .InvolvedObject.Namespace }}}}'\n    bearerToken: s3cr3t\n",
        a.url(),
        b.url()
    ))
    .unwrap();
    let sink = AlertmanagerSink::new("am", &cfg, Duration::from_secs(5)).unwrap();
    let mut h = DriverHarness::start(sink, settings());
    h.deliver_with(fixed_event(), |d| d.with_rule(Some(fixed_rule_match())))
        .await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1);
    for (fake, path) in [(&a, "/api/v2/alerts"), (&b, "/prefix/api/v2/alerts")] {
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", path));
        assert_eq!(r.header("content-type"), ["application/json"]);
        assert_eq!(r.header("authorization"), ["Bearer s3cr3t"]);
        assert_eq!(
            r.json(),
            json!([{
                "labels": {
                    "alertname": "ContainerBackoff", "alerttype": "event", "pod": "web-1",
                    "namespace": "shop", "container": "api", "severity": "warning"
                },
                "annotations": {"message": "Back-off restarting"},
                "startsAt": "2026-12-01T10:00:00.000Z",
                "endsAt": "2026-12-01T10:17:00.000Z",
                "generatorURL": "https://console/shop"
            }])
        );
    }
}

#[tokio::test]
async fn an_alertmanager_that_fails_gets_the_alerts_again_and_a_bad_label_is_rejected_alone() {
    let up = FakeHttp::start().await;
    let flaky = FakeHttp::with_replies([Reply::status(503).body("not ready")]).await;
    let cfg = config(&format!(
        "    urls: [\"{}\", \"{}\"]\n",
        up.url(),
        flaky.url()
    ))
    .unwrap();
    let sink = AlertmanagerSink::new("am", &cfg, Duration::from_secs(5)).unwrap();
    let mut h = DriverHarness::start(sink, settings());
    let mut bad = (*fixed_rule_match()).clone();
    bad.labels.insert("bad-name".into(), "x".into());
    h.deliver_with(fixed_event(), |d| d.with_rule(Some(fixed_rule_match())))
        .await;
    h.deliver_with(fixed_event(), |d| d.with_rule(Some(Arc::new(bad))))
        .await;
    let acks = h.acks(2, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (1, 1));
    // the 503 made the whole request go again, to both
    assert_eq!(up.requests().len(), 2);
    assert_eq!(flaky.requests().len(), 2);
    assert_eq!(up.requests()[0].body, up.requests()[1].body);
    assert_eq!(up.requests()[0].json().as_array().unwrap().len(), 1);

    // a 400 from any Alertmanager is permanent
    let refusing = FakeHttp::with_replies([Reply::status(400).body("bad alert")]).await;
    let cfg = config(&format!("    url: {}\n", refusing.url())).unwrap();
    let sink = AlertmanagerSink::new("am", &cfg, Duration::from_secs(5)).unwrap();
    let mut h = DriverHarness::start(sink, settings());
    h.deliver(fixed_event()).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].rejected, 1);
    assert_eq!(refusing.requests().len(), 1);
}
