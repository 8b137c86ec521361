//! `managedFields` (`FieldsV1`) sets, built the way structured-merge-diff records them for
//! the objects the simulator writes: sorted keys, `{}` leaves, `"."` for maps and optional
//! structs, atomic object references as a single leaf.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::event::Event;
use super::meta::{ManagedFieldsEntry, ObjectMeta};
use crate::time::Time;

/// A field set: `f:<name>` (or `.`) to child set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeMap<String, FieldSet>);

impl FieldSet {
    /// Adds the leaf `f:<name>`.
    pub fn leaf(&mut self, name: &str) -> &mut Self {
        self.0.entry(format!("f:{name}")).or_default();
        self
    }

    /// Returns (creating) the child `f:<name>`.
    pub fn child(&mut self, name: &str) -> &mut FieldSet {
        self.0.entry(format!("f:{name}")).or_default()
    }

    /// Marks the set itself as owned (`"."`).
    pub fn dot(&mut self) -> &mut Self {
        self.0.entry(".".to_owned()).or_default();
        self
    }

    /// Returns true when nothing is owned.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Keys are `f:<json key>`, `.` or `k:{…}`; escaping them as JSON strings is exact.
            out.push_str(&serde_json::Value::String(k.clone()).to_string());
            out.push(':');
            v.write(out);
        }
        out.push('}');
    }

    /// Serialises the set as compact JSON.
    pub fn to_raw(&self) -> Box<RawValue> {
        let mut s = String::new();
        self.write(&mut s);
        // The writer above only emits valid JSON objects, so this cannot fail; fall back to
        // an empty set rather than panicking if it ever did.
        RawValue::from_string(s).unwrap_or_else(|_| empty_raw())
    }
}

fn empty_raw() -> Box<RawValue> {
    // `{}` is valid JSON.
    RawValue::from_string("{}".to_owned()).unwrap_or_default()
}

/// Adds `f:metadata` with labels and annotations (as maps, with `"."`) when present.
pub fn add_metadata(set: &mut FieldSet, meta: &ObjectMeta) {
    if meta.labels.is_empty() && meta.annotations.is_empty() {
        return;
    }
    let m = set.child("metadata");
    if !meta.labels.is_empty() {
        let l = m.child("labels");
        l.dot();
        for k in meta.labels.keys() {
            l.leaf(k);
        }
    }
    if !meta.annotations.is_empty() {
        let a = m.child("annotations");
        a.dot();
        for k in meta.annotations.keys() {
            a.leaf(k);
        }
    }
}

/// Field set of an Event written through `core/v1`.
pub fn core_event_fields(e: &Event) -> FieldSet {
    let mut s = FieldSet::default();
    add_metadata(&mut s, &e.metadata);
    if e.count != 0 {
        s.leaf("count");
    }
    if e.first_timestamp.is_some() {
        s.leaf("firstTimestamp");
    }
    if e.involved_object != Default::default() {
        s.leaf("involvedObject");
    }
    if e.last_timestamp.is_some() {
        s.leaf("lastTimestamp");
    }
    if !e.message.is_empty() {
        s.leaf("message");
    }
    if !e.reason.is_empty() {
        s.leaf("reason");
    }
    if !e.source.is_empty() {
        let src = s.child("source");
        if !e.source.component.is_empty() {
            src.leaf("component");
        }
        if !e.source.host.is_empty() {
            src.leaf("host");
        }
    }
    if !e.type_.is_empty() {
        s.leaf("type");
    }
    if e.event_time.is_some() {
        s.leaf("eventTime");
    }
    if let Some(series) = &e.series {
        let se = s.child("series");
        se.dot();
        if series.count != 0 {
            se.leaf("count");
        }
        if series.last_observed_time.is_some() {
            se.leaf("lastObservedTime");
        }
    }
    if !e.action.is_empty() {
        s.leaf("action");
    }
    if e.related.is_some() {
        s.leaf("related");
    }
    if !e.reporting_component.is_empty() {
        s.leaf("reportingComponent");
    }
    if !e.reporting_instance.is_empty() {
        s.leaf("reportingInstance");
    }
    s
}

/// Field set of an Event written through `events.k8s.io/v1`.
pub fn events_api_fields(e: &Event) -> FieldSet {
    let mut s = FieldSet::default();
    add_metadata(&mut s, &e.metadata);
    if !e.action.is_empty() {
        s.leaf("action");
    }
    if e.event_time.is_some() {
        s.leaf("eventTime");
    }
    if !e.message.is_empty() {
        s.leaf("note");
    }
    if !e.reason.is_empty() {
        s.leaf("reason");
    }
    if e.involved_object != Default::default() {
        s.leaf("regarding");
    }
    if e.related.is_some() {
        s.leaf("related");
    }
    if !e.reporting_component.is_empty() {
        s.leaf("reportingController");
    }
    if !e.reporting_instance.is_empty() {
        s.leaf("reportingInstance");
    }
    if let Some(series) = &e.series {
        let se = s.child("series");
        se.dot();
        if series.count != 0 {
            se.leaf("count");
        }
        if series.last_observed_time.is_some() {
            se.leaf("lastObservedTime");
        }
    }
    if !e.type_.is_empty() {
        s.leaf("type");
    }
    if e.count != 0 {
        s.leaf("deprecatedCount");
    }
    if e.first_timestamp.is_some() {
        s.leaf("deprecatedFirstTimestamp");
    }
    if e.last_timestamp.is_some() {
        s.leaf("deprecatedLastTimestamp");
    }
    if !e.source.is_empty() {
        s.leaf("deprecatedSource");
    }
    s
}

/// The field manager Kubernetes derives from a user agent (`kubectl/v1.24 …` → `kubectl`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    user_agent.split('/').next().unwrap_or_default().to_owned()
}

/// The conventional field manager for an event's reporting component.
pub fn manager_for_event(e: &Event) -> &'static str {
    let component = if e.source.component.is_empty() {
        e.reporting_component.as_str()
    } else {
        e.source.component.as_str()
    };
    match component {
        "kubelet" => "kubelet",
        "default-scheduler" => "kube-scheduler",
        "" => "kubesim",
        _ => "kube-controller-manager",
    }
}

/// Fills `managedFields` of a freshly created event when the caller gave none.
pub fn default_event_managed_fields(e: &mut Event, time: Time) {
    if !e.metadata.managed_fields.is_empty() {
        return;
    }
    let manager = manager_for_event(e);
    let (api_version, set) = if e.is_events_api_style() {
        ("events.k8s.io/v1", events_api_fields(e))
    } else {
        ("v1", core_event_fields(e))
    };
    e.metadata.managed_fields = vec![ManagedFieldsEntry::update(
        manager,
        api_version,
        time,
        set.to_raw(),
    )];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_event_fields_match_fixture() {
        let e: Event = serde_json::from_str(
            r#"{"metadata":{"name":"a","namespace":"default"},"involvedObject":{"kind":"Node","name":"worker-1","uid":"worker-1"},"reason":"Starting","message":"Starting kubelet.","source":{"component":"kubelet","host":"worker-1"},"firstTimestamp":"2026-11-22T01:31:29Z","lastTimestamp":"2026-11-22T01:31:29Z","count":1,"type":"Normal","eventTime":null,"reportingComponent":"","reportingInstance":""}"#,
        )
        .unwrap();
        assert_eq!(
            core_event_fields(&e).to_raw().get(),
            r#"{"f:count":{},"f:firstTimestamp":{},"f:involvedObject":{},"f:lastTimestamp":{},"f:message":{},"f:reason":{},"f:source":{"f:component":{},"f:host":{}},"f:type":{}}"#
        );
        assert_eq!(manager_for_event(&e), "kubelet");
    }

    #[test]
    fn events_api_fields_match_fixture() {
        let e: Event = serde_json::from_str(
            r#"{"metadata":{"name":"a","namespace":"shop","labels":{"fixture":"events-api"}},"involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff","message":"m","source":{},"firstTimestamp":null,"lastTimestamp":null,"type":"Warning","eventTime":"2026-11-22T01:30:06.268228Z","series":{"count":5,"lastObservedTime":"2026-11-22T01:31:36.271765Z"},"action":"Pulling","reportingComponent":"kubelet","reportingInstance":"worker-1"}"#,
        )
        .unwrap();
        assert_eq!(
            events_api_fields(&e).to_raw().get(),
            r#"{"f:action":{},"f:eventTime":{},"f:metadata":{"f:labels":{".":{},"f:fixture":{}}},"f:note":{},"f:reason":{},"f:regarding":{},"f:reportingController":{},"f:reportingInstance":{},"f:series":{".":{},"f:count":{},"f:lastObservedTime":{}},"f:type":{}}"#
        );
    }

    #[test]
    fn manager_is_user_agent_prefix() {
        assert_eq!(
            manager_from_user_agent("event-exporter-fixture-capture/1.0"),
            "event-exporter-fixture-capture"
        );
        assert_eq!(manager_from_user_agent(""), "");
    }
}
