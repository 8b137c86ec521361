//! Conversions between the domain [`Event`] and the wire [`pb::Event`].

use chrono::{DateTime, Utc};

use crate::event::{
    Event, EventSeries, EventSource, InvolvedObject, Lookup, ObjectMeta, ObjectReference,
    Observation, OwnerReference,
};
use crate::pb;

/// Converts an optional UTC time to a protobuf timestamp.
pub fn to_timestamp(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(|t| prost_types::Timestamp {
        seconds: t.timestamp(),
        // subsec_nanos is < 2e9 so it always fits in i32
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

/// Converts a protobuf timestamp to UTC time; out-of-range values become `None`.
pub fn from_timestamp(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    let nanos = u32::try_from(t.nanos).ok()?;
    DateTime::from_timestamp(t.seconds, nanos)
}

impl From<Event> for pb::Event {
    fn from(e: Event) -> Self {
        let idempotency_key = e.idempotency_key();
        pb::Event {
            offset: e.offset,
            idempotency_key,
            occurrence: e.occurrence,
            observed_at: to_timestamp(e.observed_at),
            observation: pb::Observation::from(e.observation) as i32,
            cluster_name: e.cluster_name,
            metadata: Some(e.metadata.into()),
            reason: e.reason,
            message: e.message,
            source: Some(pb::EventSource {
                component: e.source.component,
                host: e.source.host,
            }),
            first_timestamp: to_timestamp(e.first_timestamp),
            last_timestamp: to_timestamp(e.last_timestamp),
            count: e.count,
            r#type: e.event_type,
            event_time: to_timestamp(e.event_time),
            series: e.series.map(|s| pb::EventSeries {
                count: s.count,
                last_observed_time: to_timestamp(s.last_observed_time),
            }),
            action: e.action,
            related: e.related.map(Into::into),
            reporting_component: e.reporting_component,
            reporting_instance: e.reporting_instance,
            involved_object: Some(e.involved_object.into()),
            raw_json: e.raw_json,
        }
    }
}

impl From<pb::Event> for Event {
    fn from(e: pb::Event) -> Self {
        let observation = e.observation().into();
        Event {
            offset: e.offset,
            occurrence: e.occurrence,
            observed_at: from_timestamp(e.observed_at),
            observation,
            cluster_name: e.cluster_name,
            metadata: e.metadata.map(Into::into).unwrap_or_default(),
            reason: e.reason,
            message: e.message,
            source: e
                .source
                .map(|s| EventSource {
                    component: s.component,
                    host: s.host,
                })
                .unwrap_or_default(),
            first_timestamp: from_timestamp(e.first_timestamp),
            last_timestamp: from_timestamp(e.last_timestamp),
            count: e.count,
            event_type: e.r#type,
            event_time: from_timestamp(e.event_time),
            series: e.series.map(|s| EventSeries {
                count: s.count,
                last_observed_time: from_timestamp(s.last_observed_time),
            }),
            action: e.action,
            related: e.related.map(Into::into),
            reporting_component: e.reporting_component,
            reporting_instance: e.reporting_instance,
            involved_object: e.involved_object.map(Into::into).unwrap_or_default(),
            raw_json: e.raw_json,
        }
    }
}

impl From<ObjectMeta> for pb::ObjectMeta {
    fn from(m: ObjectMeta) -> Self {
        pb::ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            self_link: m.self_link,
            uid: m.uid,
            resource_version: m.resource_version,
            generation: m.generation,
            creation_timestamp: to_timestamp(m.creation_timestamp),
            deletion_timestamp: to_timestamp(m.deletion_timestamp),
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references.into_iter().map(Into::into).collect(),
            finalizers: m.finalizers,
        }
    }
}

impl From<pb::ObjectMeta> for ObjectMeta {
    fn from(m: pb::ObjectMeta) -> Self {
        ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            self_link: m.self_link,
            uid: m.uid,
            resource_version: m.resource_version,
            generation: m.generation,
            creation_timestamp: from_timestamp(m.creation_timestamp),
            deletion_timestamp: from_timestamp(m.deletion_timestamp),
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references.into_iter().map(Into::into).collect(),
            finalizers: m.finalizers,
        }
    }
}

impl From<ObjectReference> for pb::ObjectReference {
    fn from(r: ObjectReference) -> Self {
        pb::ObjectReference {
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
            uid: r.uid,
            api_version: r.api_version,
            resource_version: r.resource_version,
            field_path: r.field_path,
        }
    }
}

impl From<pb::ObjectReference> for ObjectReference {
    fn from(r: pb::ObjectReference) -> Self {
        ObjectReference {
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
            uid: r.uid,
            api_version: r.api_version,
            resource_version: r.resource_version,
            field_path: r.field_path,
        }
    }
}

impl From<InvolvedObject> for pb::InvolvedObject {
    fn from(o: InvolvedObject) -> Self {
        pb::InvolvedObject {
            kind: o.kind,
            namespace: o.namespace,
            name: o.name,
            uid: o.uid,
            api_version: o.api_version,
            resource_version: o.resource_version,
            field_path: o.field_path,
            labels: o.labels,
            annotations: o.annotations,
            owner_references: o.owner_references.into_iter().map(Into::into).collect(),
            deleted: o.deleted,
            namespace_labels: o.namespace_labels,
            lookup: pb::Lookup::from(o.lookup) as i32,
        }
    }
}

impl From<pb::InvolvedObject> for InvolvedObject {
    fn from(o: pb::InvolvedObject) -> Self {
        let lookup = o.lookup().into();
        InvolvedObject {
            kind: o.kind,
            namespace: o.namespace,
            name: o.name,
            uid: o.uid,
            api_version: o.api_version,
            resource_version: o.resource_version,
            field_path: o.field_path,
            labels: o.labels,
            annotations: o.annotations,
            owner_references: o.owner_references.into_iter().map(Into::into).collect(),
            deleted: o.deleted,
            namespace_labels: o.namespace_labels,
            lookup,
        }
    }
}

impl From<OwnerReference> for pb::OwnerReference {
    fn from(o: OwnerReference) -> Self {
        pb::OwnerReference {
            api_version: o.api_version,
            kind: o.kind,
            name: o.name,
            uid: o.uid,
            controller: o.controller,
            block_owner_deletion: o.block_owner_deletion,
        }
    }
}

impl From<pb::OwnerReference> for OwnerReference {
    fn from(o: pb::OwnerReference) -> Self {
        OwnerReference {
            api_version: o.api_version,
            kind: o.kind,
            name: o.name,
            uid: o.uid,
            controller: o.controller,
            block_owner_deletion: o.block_owner_deletion,
        }
    }
}

impl From<Observation> for pb::Observation {
    fn from(o: Observation) -> Self {
        match o {
            Observation::Unspecified => pb::Observation::Unspecified,
            Observation::Listed => pb::Observation::Listed,
            Observation::Added => pb::Observation::Added,
            Observation::Modified => pb::Observation::Modified,
        }
    }
}

impl From<pb::Observation> for Observation {
    fn from(o: pb::Observation) -> Self {
        match o {
            pb::Observation::Unspecified => Observation::Unspecified,
            pb::Observation::Listed => Observation::Listed,
            pb::Observation::Added => Observation::Added,
            pb::Observation::Modified => Observation::Modified,
        }
    }
}

impl From<Lookup> for pb::Lookup {
    fn from(l: Lookup) -> Self {
        match l {
            Lookup::Skipped => pb::Lookup::Skipped,
            Lookup::Found => pb::Lookup::Found,
            Lookup::NotFound => pb::Lookup::NotFound,
            Lookup::Failed => pb::Lookup::Failed,
        }
    }
}

impl From<pb::Lookup> for Lookup {
    fn from(l: pb::Lookup) -> Self {
        match l {
            pb::Lookup::Skipped => Lookup::Skipped,
            pb::Lookup::Found => Lookup::Found,
            pb::Lookup::NotFound => Lookup::NotFound,
            pb::Lookup::Failed => Lookup::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube_json::parse_kube_event;
    use prost::Message;

    #[test]
    fn domain_pb_round_trip_is_lossless() {
        let raw = include_str!("../../kubesim/fixtures/core-v1-eventlist.json");
        let v: serde_json::Value = serde_json::from_str(raw).unwrap();
        for (i, item) in v["items"].as_array().unwrap().iter().enumerate() {
            let mut ev = crate::kube_json::parse_kube_event_value(item.clone()).unwrap();
            ev.offset = i as u64 + 1;
            ev.observed_at = Some(Utc::now());
            ev.observation = Observation::Listed;
            ev.involved_object.labels.insert("app".into(), "web".into());
            ev.involved_object.lookup = Lookup::Found;
            let wire = pb::Event::from(ev.clone());
            assert_eq!(wire.idempotency_key, ev.idempotency_key());
            let bytes = wire.encode_to_vec();
            let back = Event::from(pb::Event::decode(bytes.as_slice()).unwrap());
            assert_eq!(back, ev);
        }
    }

    #[test]
    fn micro_time_survives() {
        let raw = r#"{"metadata":{"uid":"u"},"eventTime":"2026-11-22T10:00:00.123456Z"}"#;
        let ev = parse_kube_event(raw.as_bytes()).unwrap();
        let back = Event::from(pb::Event::from(ev.clone()));
        assert_eq!(back.event_time, ev.event_time);
    }
}
