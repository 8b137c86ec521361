//! The JSON view of an event that conditions and `%field` substitutions read.
//!
//! Field names are core/v1 Event's (`reason`, `involvedObject.kind`,
//! `source.component`, `count`…), as in kube-events, which flattened the Go struct:
//! every string field is present (empty when unset), numbers are numbers. herald
//! adds what kube-events could not address: `involvedObject.labels`,
//! `involvedObject.annotations` and `involvedObject.ownerReferences` (the metadata
//! the exporter looked up), one key of any map (`metadata.labels.app`), the
//! timestamps as RFC 3339 text, and `clusterName`.

use chrono::{DateTime, SecondsFormat, Utc};
use herald_proto::Event;
use herald_proto::event::{OwnerReference, StringMap};
use serde_json::{Map, Value, json};

/// Builds the view of `ev`.
pub fn event_view(ev: &Event) -> Value {
    let m = &ev.metadata;
    let io = &ev.involved_object;
    let mut metadata = json!({
        "name": m.name,
        "generateName": m.generate_name,
        "namespace": m.namespace,
        "selfLink": m.self_link,
        "uid": m.uid,
        "resourceVersion": m.resource_version,
        "generation": m.generation,
        "labels": map(&m.labels),
        "annotations": map(&m.annotations),
        "ownerReferences": owners(&m.owner_references),
        "finalizers": m.finalizers,
    });
    if let Some(obj) = metadata.as_object_mut() {
        put_time(obj, "creationTimestamp", m.creation_timestamp);
        put_time(obj, "deletionTimestamp", m.deletion_timestamp);
    }
    let mut out = json!({
        "metadata": metadata,
        "involvedObject": {
            "kind": io.kind,
            "namespace": io.namespace,
            "name": io.name,
            "uid": io.uid,
            "apiVersion": io.api_version,
            "resourceVersion": io.resource_version,
            "fieldPath": io.field_path,
            "labels": map(&io.labels),
            "annotations": map(&io.annotations),
            "ownerReferences": owners(&io.owner_references),
        },
        "reason": ev.reason,
        "message": ev.message,
        "source": {"component": ev.source.component, "host": ev.source.host},
        "count": ev.count,
        "type": ev.event_type,
        "action": ev.action,
        "reportingComponent": ev.reporting_component,
        "reportingInstance": ev.reporting_instance,
        "clusterName": ev.cluster_name,
    });
    if let Some(obj) = out.as_object_mut() {
        put_time(obj, "firstTimestamp", ev.first_timestamp);
        put_time(obj, "lastTimestamp", ev.last_timestamp);
        put_time(obj, "eventTime", ev.event_time);
        if let Some(s) = &ev.series {
            let mut series = Map::new();
            series.insert("count".into(), s.count.into());
            put_time(&mut series, "lastObservedTime", s.last_observed_time);
            obj.insert("series".into(), Value::Object(series));
        }
        if let Some(r) = &ev.related {
            obj.insert(
                "related".into(),
                json!({
                    "kind": r.kind,
                    "namespace": r.namespace,
                    "name": r.name,
                    "uid": r.uid,
                    "apiVersion": r.api_version,
                    "resourceVersion": r.resource_version,
                    "fieldPath": r.field_path,
                }),
            );
        }
    }
    out
}

fn map(m: &StringMap) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn owners(refs: &[OwnerReference]) -> Value {
    Value::Array(
        refs.iter()
            .map(|o| {
                let mut v = json!({
                    "apiVersion": o.api_version,
                    "kind": o.kind,
                    "name": o.name,
                    "uid": o.uid,
                });
                if let Some(obj) = v.as_object_mut() {
                    if let Some(c) = o.controller {
                        obj.insert("controller".into(), c.into());
                    }
                    if let Some(b) = o.block_owner_deletion {
                        obj.insert("blockOwnerDeletion".into(), b.into());
                    }
                }
                v
            })
            .collect(),
    )
}

fn put_time(obj: &mut Map<String, Value>, key: &str, t: Option<DateTime<Utc>>) {
    if let Some(t) = t {
        obj.insert(
            key.into(),
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
    }
}
