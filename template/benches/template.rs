//! Micro-benchmarks of the template engine: parsing, and rendering the templates
//! kubernetes-event-exporter configs use over an event-shaped value (Go field names),
//! plus a whole layout rendered to JSON.
//!
//! `cargo bench -p herald-template --bench template` (divan; `-- --help` for options).

#![allow(missing_docs)]

use divan::{Bencher, black_box};
use herald_template::{Layout, Template, Value};
use serde_json::json;

fn main() {
    divan::main();
}

/// Templates as found in real KEE configs, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("field", "{{ .InvolvedObject.Name }}"),
    ("pipeline", "{{ .Reason | upper }}"),
    (
        "text",
        "*{{ .Reason }}* {{ .InvolvedObject.Kind }} `{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}`: {{ .Message }}",
    ),
    (
        "printf",
        r#"{{ printf "%s/%s: %s" .InvolvedObject.Namespace .InvolvedObject.Name .Reason }}"#,
    ),
    (
        "if_eq",
        r#"{{ if eq .Type "Warning" }}critical{{ else }}info{{ end }}"#,
    ),
    (
        "default",
        r#"{{ .InvolvedObject.Labels.team | default "unowned" }}"#,
    ),
    (
        "range_labels",
        "{{ range $k, $v := .InvolvedObject.Labels }}{{ $k }}={{ $v }},{{ end }}",
    ),
    ("to_json_labels", "{{ toJson .InvolvedObject.Labels }}"),
    ("to_json_object", "{{ toJson .InvolvedObject }}"),
    ("trunc", "{{ .Message | trunc 64 }}"),
];

/// An event as templates see it (field names as in Go's structs).
fn data() -> Value {
    Value::from_json(&json!({
        "Reason": "BackOff",
        "Message": "Back-off restarting failed container api in pod checkout-api-7d9c6b5f4-x2kqp_prod-payments(0b7c2d1e-1f2e-4d3c-8b7a-695847361234)",
        "Type": "Warning",
        "Count": 7,
        "ClusterName": "prod-eu-1",
        "Namespace": "prod-payments",
        "Name": "checkout-api-7d9c6b5f4-x2kqp.17a1b2c3d4e5f601",
        "Source": {"Component": "kubelet", "Host": "node-12"},
        "InvolvedObject": {
            "Kind": "Pod",
            "Namespace": "prod-payments",
            "Name": "checkout-api-7d9c6b5f4-x2kqp",
            "UID": "0b7c2d1e-1f2e-4d3c-8b7a-695847361234",
            "APIVersion": "v1",
            "FieldPath": "spec.containers{api}",
            "Labels": {
                "app": "checkout-api", "team": "payments", "version": "v1.14.2",
                "tier": "web", "pod-template-hash": "7d9c6b5f4"
            },
            "Annotations": {"owner": "payments-oncall"},
            "OwnerReferences": [{
                "APIVersion": "apps/v1", "Kind": "ReplicaSet",
                "Name": "checkout-api-7d9c6b5f4", "UID": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
            }],
            "Deleted": false
        }
    }))
}

fn source(name: &str) -> &'static str {
    TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("no template {name}"))
}

const NAMES: &[&str] = &[
    "field",
    "pipeline",
    "text",
    "printf",
    "if_eq",
    "default",
    "range_labels",
    "to_json_labels",
    "to_json_object",
    "trunc",
];

#[divan::bench(args = NAMES)]
fn parse(name: &str) -> Template {
    Template::parse(name, black_box(source(name))).unwrap()
}

#[divan::bench(args = NAMES)]
fn render(bencher: Bencher, name: &str) {
    let t = Template::parse(name, source(name)).unwrap();
    let data = data();
    let mut out = String::with_capacity(1024);
    bencher.bench_local(|| {
        out.clear();
        t.render_into(black_box(&data), &mut out).unwrap();
        out.len()
    });
}

/// A receiver layout (Opsgenie-style) rendered straight to JSON.
#[divan::bench]
fn layout_render_json(bencher: Bencher) {
    let layout = Layout::compile(
        &json!({
            "message": source("printf"),
            "alias": "{{ .InvolvedObject.UID }}-{{ .Reason }}",
            "description": "{{ .Message }}",
            "tags": source("range_labels"),
            "priority": "{{ if gt .Count 3 }}P1{{ else }}P3{{ end }}",
            "details": {
                "cluster": "{{ .ClusterName }}",
                "owner": r#"{{ .InvolvedObject.Annotations.owner | default "platform" }}"#,
                "count": 7,
            }
        }),
        "layout",
    )
    .unwrap();
    let data = data();
    let mut out: Vec<u8> = Vec::with_capacity(2048);
    bencher.bench_local(|| {
        out.clear();
        layout
            .render_json(black_box(&data), &mut out, true)
            .unwrap();
        out.len()
    });
}

/// Building the data value from JSON (what a host does once per event when it has no
/// typed model).
#[divan::bench]
fn value_from_json(bencher: Bencher) {
    let v = json!({"a": {"b": [1, 2, 3], "c": "text"}, "labels": {"app": "x", "team": "y"}});
    bencher.bench(|| Value::from_json(black_box(&v)));
}
