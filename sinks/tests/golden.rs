//! Golden files of the KEE default JSON (`kee_json`), built from real
//! API-server captures (kubesim's fixtures) and the BackOff example event whose
//! default JSON kubernetes-event-exporter users know.
//!
//! Each input event is written as one line of KEE JSON and compared with the
//! `.kee.jsonl` golden file; every line must also equal Go-style JSON of the
//! template value (`to_go_json(event_value(ev))`). Regenerate with
//! `HERALD_BLESS=1 cargo test -p herald-sinks --test golden` and review the
//! diff.

use std::path::{Path, PathBuf};

use herald_proto::kube_json::parse_kube_event_value;
use herald_proto::{Event, OwnerReference};
use herald_sinks::{event_value, kee_json};
use herald_template::to_go_json;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_items(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = match value.get("items").and_then(|i| i.as_array()) {
        Some(items) => items.clone(),
        None => vec![value],
    };
    items
        .into_iter()
        .map(|item| parse_kube_event_value(item).unwrap())
        .collect()
}

fn render(events: &[Event]) -> String {
    let mut out = Vec::new();
    for ev in events {
        let start = out.len();
        kee_json(ev, false, &mut out);
        let line = std::str::from_utf8(&out[start..]).unwrap();
        assert_eq!(
            to_go_json(&event_value(ev), true),
            line,
            "kee_json differs from the template value's JSON for {}",
            ev.metadata.name
        );
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap()
}

fn check(name: &str, events: &[Event]) {
    let golden = manifest_dir()
        .join("tests/golden")
        .join(format!("{name}.kee.jsonl"));
    let actual = render(events);
    if std::env::var_os("HERALD_BLESS").is_some() {
        std::fs::write(&golden, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with HERALD_BLESS=1 to create it)",
            golden.display()
        )
    });
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "{name} line {}", i + 1);
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{name}: line count"
    );
}

#[test]
fn captured_event_list() {
    let events = parse_items(&manifest_dir().join("../kubesim/fixtures/core-v1-eventlist.json"));
    assert!(events.len() > 50);
    check("core-v1-eventlist", &events);
}

#[test]
fn captured_event_created_through_the_events_api() {
    let events =
        parse_items(&manifest_dir().join("../kubesim/fixtures/core-v1-event-from-events-api.json"));
    check("core-v1-event-from-events-api", &events);
}

#[test]
fn compat_example_enriched() {
    let mut events = parse_items(&manifest_dir().join("tests/golden/compat-example.input.json"));
    let ev = &mut events[0];
    ev.cluster_name = "prod-eu".into();
    ev.involved_object.labels.insert("app".into(), "web".into());
    ev.involved_object
        .labels
        .insert("pod-template-hash".into(), "6d4cf56db6".into());
    ev.involved_object.owner_references.push(OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web-6d4cf56db6".into(),
        uid: "9a0b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    check("compat-example", &events);
}
