//! Tests of loading and running hook scripts: kigeon's three example hooks
//! rewritten for herald, a script that never ends, one that raises, and the
//! load errors.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

fn compile(source: &str) -> Script {
    Script::compile("hook.star", source.to_owned()).expect("script loads")
}

fn run(script: &Script, config: Value, event: Value) -> Result<Option<Value>, RunError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    script
        .transform(&config, &event, deadline, &|_| {})
        .map(|r| r.map(Value::Object))
}

fn event(namespace: &str, reason: &str, labels: Value) -> Value {
    json!({
        "metadata": {"name": "web-1.17a", "namespace": namespace},
        "reason": reason,
        "message": "something happened",
        "type": "Warning",
        "involvedObject": {
            "kind": "Pod", "namespace": namespace, "name": "web-1", "labels": labels
        }
    })
}

/// kigeon's "route by namespace", for a webhook: one path per namespace.
const ROUTE_BY_NAMESPACE: &str = r#"
def transform(config, event):
    ns = event["involvedObject"].get("namespace") or "cluster"
    config["path"] = "/events/" + ns
    return config
"#;

/// kigeon's "pod labels as stream labels", for Loki: Kubernetes label names
/// made valid for Loki.
const POD_LABELS_AS_STREAM_LABELS: &str = r#"
def loki_name(key):
    return key.replace(".", "_").replace("/", "_").replace("-", "_")

def transform(config, event):
    labels = event["involvedObject"].get("labels") or {}
    for key in ["app", "app.kubernetes.io/name", "team"]:
        if key in labels:
            config["labels"][loki_name(key)] = labels[key]
    return config
"#;

/// kigeon's "OOM events to another tenant"; everything Normal is skipped.
const OOM_TO_ONCALL: &str = r#"
def transform(config, event):
    if event["type"] == "Normal":
        return None
    if event["reason"] in ("OOMKilling", "OOMKilled"):
        config["tenant"] = "oncall"
    return config
"#;

#[test]
fn route_by_namespace_sets_the_path() {
    let script = compile(ROUTE_BY_NAMESPACE);
    let out = run(
        &script,
        json!({"path": "/hook", "headers": {}}),
        event("shop", "BackOff", json!({})),
    )
    .unwrap();
    assert_eq!(out, Some(json!({"path": "/events/shop", "headers": {}})));
}

#[test]
fn pod_labels_become_stream_labels() {
    let script = compile(POD_LABELS_AS_STREAM_LABELS);
    let out = run(
        &script,
        json!({"tenant": "", "labels": {"namespace": "shop"}}),
        event(
            "shop",
            "BackOff",
            json!({"app.kubernetes.io/name": "web", "team": "payments", "tier": "x"}),
        ),
    )
    .unwrap();
    assert_eq!(
        out,
        Some(json!({"tenant": "", "labels": {
            "namespace": "shop", "app_kubernetes_io_name": "web", "team": "payments"
        }}))
    );
}

#[test]
fn oom_events_go_to_another_tenant_and_normal_ones_are_skipped() {
    let script = compile(OOM_TO_ONCALL);
    let config = json!({"tenant": "platform", "labels": {"namespace": "shop"}});
    let oom = run(
        &script,
        config.clone(),
        event("shop", "OOMKilling", json!({})),
    )
    .unwrap();
    assert_eq!(oom.unwrap()["tenant"], "oncall");
    let other = run(&script, config.clone(), event("shop", "BackOff", json!({}))).unwrap();
    assert_eq!(other.unwrap()["tenant"], "platform");
    let mut normal = event("shop", "Pulled", json!({}));
    normal["type"] = json!("Normal");
    assert_eq!(run(&script, config, normal).unwrap(), None);
}

#[test]
fn a_script_that_never_ends_is_stopped_at_its_deadline() {
    let script = compile(
        r#"
def transform(config, event):
    for i in range(100000000):
        for j in range(100000000):
            pass
    return config
"#,
    );
    let started = Instant::now();
    let deadline = started + Duration::from_millis(100);
    let result = script.transform(&json!({}), &json!({}), deadline, &|_| {});
    let took = started.elapsed();
    assert_eq!(result, Err(RunError::Timeout));
    assert!(
        took < Duration::from_millis(600),
        "stopped after {took:?}, deadline was 100ms"
    );
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let script = compile(
        r#"
def down(n):
    return down(n + 1)

def transform(config, event):
    return down(0)
"#,
    );
    match run(&script, json!({}), json!({})) {
        Err(RunError::Failed(message)) => assert!(message.contains("hook.star:"), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_script_that_raises_fails_with_its_line() {
    let script = compile(
        r#"
def transform(config, event):
    if event["reason"] == "Boom":
        fail("cannot route " + event["reason"])
    return config
"#,
    );
    match run(&script, json!({}), event("a", "Boom", json!({}))) {
        Err(RunError::Failed(message)) => {
            assert!(message.contains("cannot route Boom"), "{message}");
            assert!(message.starts_with("hook.star:4:"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(run(&script, json!({}), event("a", "Fine", json!({}))).is_ok());
}

#[test]
fn a_missing_key_is_a_failure() {
    let script = compile("def transform(config, event):\n    return event[\"nope\"]\n");
    assert!(matches!(
        run(&script, json!({}), json!({})),
        Err(RunError::Failed(_))
    ));
}

#[test]
fn only_a_dict_or_none_may_come_back() {
    let script = compile("def transform(config, event):\n    return [config]\n");
    assert_eq!(
        run(&script, json!({}), json!({})),
        Err(RunError::BadReturn("a list".into()))
    );
}

#[test]
fn runs_share_no_state() {
    // A script's top level is frozen: a run cannot change it for the next.
    let script = compile(
        r#"
seen = []

def transform(config, event):
    seen.append(1)
    return config
"#,
    );
    assert!(matches!(
        run(&script, json!({}), json!({})),
        Err(RunError::Failed(_))
    ));
}

#[test]
fn prints_reach_the_callback() {
    let script = compile(
        "def transform(config, event):\n    print(\"saw\", event[\"reason\"])\n    return config\n",
    );
    let lines = RefCell::new(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(5);
    script
        .transform(&json!({}), &json!({"reason": "BackOff"}), deadline, &|l| {
            lines.borrow_mut().push(l.to_owned());
        })
        .unwrap();
    assert_eq!(lines.into_inner(), vec!["saw BackOff".to_owned()]);
}

#[test]
fn the_json_module_is_there() {
    let script = compile(
        "def transform(config, event):\n    config[\"path\"] = \"/\" + json.encode(event[\"n\"])\n    return config\n",
    );
    let out = run(&script, json!({"path": "/"}), json!({"n": 3})).unwrap();
    assert_eq!(out, Some(json!({"path": "/3"})));
}

#[test]
fn a_syntax_error_names_the_line() {
    let e = Script::compile(
        "hooks/route.star",
        "def transform(config, event):\n    return config +\n".to_owned(),
    )
    .unwrap_err();
    assert_eq!(
        e.place
            .as_deref()
            .map(|p| p.starts_with("hooks/route.star:2:")),
        Some(true),
        "{e}"
    );
}

#[test]
fn a_script_without_transform_is_refused() {
    let e = Script::compile(
        "h.star",
        "def transfrom(config, event):\n    return config\n".to_owned(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not define `transform`"), "{e}");
    assert!(e.hint().contains("def transform(config, event)"));
    let e = Script::compile("h.star", "transform = 3\n".to_owned()).unwrap_err();
    assert!(e.to_string().contains("is a int, not a function"), "{e}");
}

#[test]
fn a_top_level_that_fails_is_refused_with_its_line() {
    let e = Script::compile("h.star", "x = 1\ny = x + \"a\"\n".to_owned()).unwrap_err();
    assert_eq!(
        e.place.as_deref().map(|p| p.starts_with("h.star:2:")),
        Some(true),
        "{e}"
    );
}
