use std::time::Duration;

use herald_proto::{Event, ObjectMeta};
use herald_sinks::SinkMetrics;

use super::*;

/// A plan with an `inMemory` receiver `all` (every event) and a webhook `warnings`
/// (Warning events) pointing at `hook`.
fn plan(hook: &str) -> Plan {
    let text = format!(
        "route:\n  routes:\n    - match:\n        - receiver: all\n    - match:\n        - type: Warning\n          receiver: warnings\nreceivers:\n  - name: all\n    inMemory: {{}}\n  - name: warnings\n    webhook:\n      endpoint: {hook}\n    delivery:\n      timeout: 60s\n"
    );
    let mut loaded = herald_config::load_str("c.yaml", &text, |_| None).unwrap();
    crate::plan::plan(&loaded.config, &mut loaded.diagnostics).expect("the plan compiles")
}

fn ev(offset: u64, ty: &str) -> Event {
    Event {
        offset,
        occurrence: 1,
        event_type: ty.into(),
        metadata: ObjectMeta {
            uid: format!("u{offset}"),
            namespace: "shop".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn batch(log: &str, events: Vec<Event>) -> Incoming {
    Incoming {
        source: Source {
            upstream: 0,
            log_id: Arc::from(log),
        },
        events: events
            .into_iter()
            .map(crate::decoded::Decoded::new)
            .collect(),
        trace: None,
    }
}

async fn acks(rx: &mut mpsc::UnboundedReceiver<(Arc<str>, u64)>, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < n {
        let (_, o) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an ack in time")
            .expect("the ack channel is open");
        out.push(o);
    }
    out.sort_unstable();
    out
}

/// A TCP endpoint that accepts connections and never answers: a webhook request to
/// it stays in flight.
async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_lane_delivers_only_its_receivers_events_and_acks_the_rest_at_once() {
    let (url, _silent) = silent_endpoint().await;
    let plan = plan(&url);
    let sinks = Arc::new(
        SinkSet::build(&plan.receivers, &SinkMetrics::new())
            .await
            .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let metrics = RouterMetrics::default();
    let mut all = Router::new(
        &plan,
        sinks.clone(),
        vec![tx.clone()],
        metrics.clone(),
        0,
        Held::default(),
    );
    let mut warnings = Router::new(
        &plan,
        sinks.clone(),
        vec![tx],
        metrics.clone(),
        1,
        Held::default(),
    );
    let events = || vec![ev(1, "Normal"), ev(2, "Warning"), ev(3, "Normal")];
    all.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 3).await, vec![1, 2, 3]);
    assert_eq!(sinks.in_memory("all").unwrap().len(), 3);
    // the webhook lane acknowledges the Normal events at once and holds the Warning
    warnings.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 2).await, vec![1, 3]);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "the held Warning is not acknowledged"
    );
    let label = vec![("receiver".to_owned(), "warnings".to_owned())];
    assert_eq!(metrics.received.get_or_create(&label).get(), 3);
    assert_eq!(metrics.unrouted.get_or_create(&label).get(), 2);
    assert_eq!(metrics.matches.get_or_create(&label).get(), 1);
}

#[tokio::test]
async fn a_redelivery_of_an_event_still_held_is_not_delivered_twice() {
    let (url, _silent) = silent_endpoint().await;
    let plan = plan(&url);
    let sinks = Arc::new(
        SinkSet::build(&plan.receivers, &SinkMetrics::new())
            .await
            .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let metrics = RouterMetrics::default();
    let mut all = Router::new(
        &plan,
        sinks.clone(),
        vec![tx.clone()],
        metrics.clone(),
        0,
        Held::default(),
    );
    let mut warnings = Router::new(
        &plan,
        sinks.clone(),
        vec![tx],
        metrics.clone(),
        1,
        Held::default(),
    );
    warnings
        .route_batch(batch("log", vec![ev(5, "Warning")]))
        .await;
    // the exporter restarted and hands the same offset out again: still held, skipped
    warnings
        .route_batch(batch("log", vec![ev(5, "Warning")]))
        .await;
    let label = vec![("receiver".to_owned(), "warnings".to_owned())];
    assert_eq!(metrics.held.get_or_create(&label).get(), 1);
    assert_eq!(metrics.matches.get_or_create(&label).get(), 1);
    // the same offset of another log is a different event
    warnings
        .route_batch(batch("other-log", vec![ev(5, "Warning")]))
        .await;
    assert_eq!(metrics.matches.get_or_create(&label).get(), 2);
    // the in-memory receiver completes at once: a later redelivery is delivered again
    all.route_batch(batch("log", vec![ev(9, "Normal")])).await;
    assert_eq!(acks(&mut rx, 1).await, vec![9]);
    all.route_batch(batch("log", vec![ev(9, "Normal")])).await;
    assert_eq!(acks(&mut rx, 1).await, vec![9]);
    assert_eq!(sinks.in_memory("all").unwrap().len(), 2);
}

/// Receivers `all` and `alerts` (both `inMemory`), no route, and rules.
fn rules_plan() -> Plan {
    let text = "receivers:\n  - name: all\n    inMemory: {}\n  - name: alerts\n    inMemory: {}\nrules:\n  - name: BackOff\n    condition: type = \"Warning\" and reason = \"BackOff\"\n    type: alert\n    labels: {severity: warning}\n    annotations: {message: '%message'}\n    receivers: [alerts]\n  - name: AnyWarning\n    condition: type = \"Warning\"\n    receivers: [alerts]\n  - name: Disabled\n    condition: reason exists\n    enable: false\n    receivers: [all]\n";
    let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
    crate::plan::plan(&loaded.config, &mut loaded.diagnostics).expect("the plan compiles")
}

fn reason(mut e: Event, reason: &str) -> Event {
    e.reason = reason.into();
    e
}

#[tokio::test]
async fn rules_select_events_for_the_receivers_they_name() {
    let plan = rules_plan();
    let sinks = Arc::new(
        SinkSet::build(&plan.receivers, &SinkMetrics::new())
            .await
            .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let metrics = RouterMetrics::default();
    let events = || {
        vec![
            reason(ev(1, "Normal"), "Started"),
            reason(ev(2, "Warning"), "BackOff"),
            reason(ev(3, "Warning"), "Failed"),
        ]
    };
    let mut alerts = Router::new(
        &plan,
        sinks.clone(),
        vec![tx.clone()],
        metrics.clone(),
        1,
        Held::default(),
    );
    alerts.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 3).await, vec![1, 2, 3]);
    let store = sinks.in_memory("alerts").unwrap();
    let got: Vec<u64> = store.events().iter().map(|e| e.offset).collect();
    assert_eq!(got, vec![2, 3]);
    let matched = |rule: &str| {
        metrics
            .rule_matches
            .get_or_create(&vec![
                ("receiver".to_owned(), "alerts".to_owned()),
                ("rule".to_owned(), rule.to_owned()),
            ])
            .get()
    };
    // the first matching rule decides: BackOff for event 2, AnyWarning for event 3
    assert_eq!((matched("BackOff"), matched("AnyWarning")), (1, 1));
    // a disabled rule feeds nothing
    let mut all = Router::new(
        &plan,
        sinks.clone(),
        vec![tx],
        metrics.clone(),
        0,
        Held::default(),
    );
    all.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 3).await, vec![1, 2, 3]);
    assert!(sinks.in_memory("all").unwrap().is_empty());
}

#[tokio::test]
async fn a_live_rule_feed_replaces_the_rules_between_batches() {
    let plan = rules_plan();
    let sinks = Arc::new(
        SinkSet::build(&plan.receivers, &SinkMetrics::new())
            .await
            .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (feed, live) = watch::channel(plan.rules.clone());
    let mut all = Router::new(
        &plan,
        sinks.clone(),
        vec![tx],
        RouterMetrics::default(),
        0,
        Held::default(),
    )
    .with_rules(live, Arc::new(|_: &str| None));
    all.route_batch(batch("log", vec![reason(ev(1, "Normal"), "Started")]))
        .await;
    assert_eq!(acks(&mut rx, 1).await, vec![1]);
    assert!(sinks.in_memory("all").unwrap().is_empty());
    // a new rule for `all` takes effect with the next batch
    let spec = herald_rules::RuleSpec {
        name: "Started".into(),
        condition: "reason = \"Started\"".into(),
        enable: true,
        ..Default::default()
    };
    let rule = crate::rules::ActiveRule {
        rule: herald_rules::CompiledRule::compile(&spec).unwrap(),
        receivers: vec![0],
        scope: crate::rules::Scope::Namespace("shop".into()),
        origin: "test".into(),
    };
    feed.send(Arc::new(RuleSet::new(vec![rule], 2))).unwrap();
    let mut started = reason(ev(2, "Normal"), "Started");
    started.involved_object.namespace = "shop".into();
    let mut elsewhere = reason(ev(3, "Normal"), "Started");
    elsewhere.involved_object.namespace = "other".into();
    all.route_batch(batch("log", vec![started, elsewhere]))
        .await;
    assert!(
        sinks
            .in_memory("all")
            .unwrap()
            .wait_for_total(1, Duration::from_secs(5))
            .await
    );
    assert_eq!(acks(&mut rx, 2).await, vec![2, 3]);
    // the namespace-scoped rule left the other namespace's event out
    assert_eq!(sinks.in_memory("all").unwrap().total(), 1);
}

#[tokio::test]
async fn a_receiver_selector_acks_events_of_other_namespaces_at_once() {
    let text = "route:\n  routes:\n    - match:\n        - receiver: team\n        - receiver: archive\nreceivers:\n  - name: team\n    inMemory: {}\n    namespaceSelector: {matchLabels: {team: payments}}\n  - name: archive\n    inMemory: {}\n";
    let mut loaded = herald_config::load_str("c.yaml", text, |_| None).unwrap();
    let plan = crate::plan::plan(&loaded.config, &mut loaded.diagnostics).expect("compiles");
    let sinks = Arc::new(
        SinkSet::build(&plan.receivers, &SinkMetrics::new())
            .await
            .unwrap(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let metrics = RouterMetrics::default();
    let mut team = Router::new(
        &plan,
        sinks.clone(),
        vec![tx.clone()],
        metrics.clone(),
        0,
        Held::default(),
    );
    let mut archive = Router::new(
        &plan,
        sinks.clone(),
        vec![tx],
        metrics.clone(),
        1,
        Held::default(),
    );
    let labelled = |offset: u64, labels: &[(&str, &str)]| {
        let mut e = ev(offset, "Normal");
        e.involved_object.namespace = "shop".into();
        e.involved_object.namespace_labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        e
    };
    let events = || {
        vec![
            labelled(1, &[("team", "payments")]),
            labelled(2, &[("team", "search")]),
            labelled(3, &[]),
            labelled(4, &[("team", "payments"), ("env", "prod")]),
        ]
    };
    team.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 4).await, vec![1, 2, 3, 4]);
    let delivered: Vec<u64> = sinks
        .in_memory("team")
        .unwrap()
        .events()
        .iter()
        .map(|e| e.offset)
        .collect();
    assert_eq!(delivered, [1, 4]);
    let label = vec![("receiver".to_owned(), "team".to_owned())];
    assert_eq!(metrics.outside_selector.get_or_create(&label).get(), 2);
    assert_eq!(metrics.matches.get_or_create(&label).get(), 2);
    // the other lane is unaffected
    archive.route_batch(batch("log", events())).await;
    assert_eq!(acks(&mut rx, 4).await, vec![1, 2, 3, 4]);
    assert_eq!(sinks.in_memory("archive").unwrap().len(), 4);
}
