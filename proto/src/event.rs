//! The domain Event: one occurrence of a Kubernetes Event, enriched by the exporter.
//!
//! Field names follow the Kubernetes JSON (in snake case); timestamps are
//! `Option<DateTime<Utc>>` where Kubernetes allows null; maps are sorted.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

/// Sorted string map, as labels and annotations are.
pub type StringMap = BTreeMap<String, String>;

/// One occurrence of a Kubernetes Event plus herald's own fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// Position in the exporter's durable log (0 until logged).
    pub offset: u64,
    /// Occurrence counter that is part of the identity (see [`OccurrenceId`]).
    pub occurrence: i32,
    /// When the exporter first observed this occurrence.
    pub observed_at: Option<DateTime<Utc>>,
    /// How the occurrence was observed.
    pub observation: Observation,
    /// The configured cluster name (`clusterName`), or empty.
    pub cluster_name: String,
    /// The Event object's metadata (without managedFields).
    pub metadata: ObjectMeta,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `source`.
    pub source: EventSource,
    /// `firstTimestamp`.
    pub first_timestamp: Option<DateTime<Utc>>,
    /// `lastTimestamp`.
    pub last_timestamp: Option<DateTime<Utc>>,
    /// `count` (0 when absent).
    pub count: i32,
    /// `type` (`Normal`, `Warning`).
    pub event_type: String,
    /// `eventTime` (microsecond precision).
    pub event_time: Option<DateTime<Utc>>,
    /// `series`.
    pub series: Option<EventSeries>,
    /// `action`.
    pub action: String,
    /// `related`.
    pub related: Option<ObjectReference>,
    /// `reportingComponent`.
    pub reporting_component: String,
    /// `reportingInstance`.
    pub reporting_instance: String,
    /// `involvedObject`, enriched.
    pub involved_object: InvolvedObject,
    /// The Event object as the API server sent it, without managedFields: UTF-8 JSON
    /// when the exporter made it. Kept as bytes: it is carried to gRPC consumers, and
    /// a ruler that decodes an event shares it with the received buffer instead of
    /// copying it.
    pub raw_json: bytes::Bytes,
}

/// How an occurrence was observed by the exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Observation {
    /// Unknown.
    #[default]
    Unspecified,
    /// Returned by a LIST.
    Listed,
    /// A watch ADDED notification.
    Added,
    /// A watch MODIFIED notification that bumped the occurrence count.
    Modified,
}

/// Subset of Kubernetes ObjectMeta carried by an Event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectMeta {
    /// `name`.
    pub name: String,
    /// `generateName`.
    pub generate_name: String,
    /// `namespace`.
    pub namespace: String,
    /// `selfLink`.
    pub self_link: String,
    /// `uid`.
    pub uid: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `generation`.
    pub generation: i64,
    /// `creationTimestamp`.
    pub creation_timestamp: Option<DateTime<Utc>>,
    /// `deletionTimestamp`.
    pub deletion_timestamp: Option<DateTime<Utc>>,
    /// `deletionGracePeriodSeconds`.
    pub deletion_grace_period_seconds: Option<i64>,
    /// `labels`.
    pub labels: StringMap,
    /// `annotations`.
    pub annotations: StringMap,
    /// `ownerReferences`.
    pub owner_references: Vec<OwnerReference>,
    /// `finalizers`.
    pub finalizers: Vec<String>,
}

/// core/v1 EventSource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventSource {
    /// `component`.
    pub component: String,
    /// `host`.
    pub host: String,
}

/// core/v1 EventSeries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventSeries {
    /// `count`.
    pub count: i32,
    /// `lastObservedTime`.
    pub last_observed_time: Option<DateTime<Utc>>,
}

/// core/v1 ObjectReference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectReference {
    /// `kind`.
    pub kind: String,
    /// `namespace`.
    pub namespace: String,
    /// `name`.
    pub name: String,
    /// `uid`.
    pub uid: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `fieldPath`.
    pub field_path: String,
}

/// The involved object: reference plus the metadata the exporter looked up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvolvedObject {
    /// `kind`.
    pub kind: String,
    /// `namespace`.
    pub namespace: String,
    /// `name`.
    pub name: String,
    /// `uid`.
    pub uid: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `fieldPath`.
    pub field_path: String,
    /// The object's labels.
    pub labels: StringMap,
    /// The object's annotations.
    pub annotations: StringMap,
    /// The object's owner references.
    pub owner_references: Vec<OwnerReference>,
    /// True when the object is gone (404) or being deleted.
    pub deleted: bool,
    /// Labels of the object's namespace.
    pub namespace_labels: StringMap,
    /// Outcome of the lookup.
    pub lookup: Lookup,
}

/// Outcome of the involved-object metadata lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lookup {
    /// Not attempted.
    #[default]
    Skipped,
    /// Metadata found.
    Found,
    /// The object is gone (404).
    NotFound,
    /// The lookup failed.
    Failed,
}

/// Kubernetes OwnerReference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerReference {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `uid`.
    pub uid: String,
    /// `controller`.
    pub controller: Option<bool>,
    /// `blockOwnerDeletion`.
    pub block_owner_deletion: Option<bool>,
}

/// Identity of one occurrence: the Event's UID and its occurrence count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OccurrenceId {
    /// `metadata.uid` of the Event object.
    pub uid: String,
    /// The occurrence counter.
    pub occurrence: i32,
}

impl fmt::Display for OccurrenceId {
    /// Formats the idempotency key `<uid>-<occurrence>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.uid, self.occurrence)
    }
}

impl Event {
    /// Returns the occurrence counter Kubernetes keeps for this event: `count` when it is
    /// positive, else `series.count` when a series is set, else 1.
    pub fn occurrence_of(count: i32, series: Option<&EventSeries>) -> i32 {
        if count > 0 {
            count
        } else {
            series.map(|s| s.count).filter(|c| *c > 0).unwrap_or(1)
        }
    }

    /// Returns the identity of this occurrence.
    pub fn occurrence_id(&self) -> OccurrenceId {
        OccurrenceId {
            uid: self.metadata.uid.clone(),
            occurrence: self.occurrence,
        }
    }

    /// Returns the idempotency key `<uid>-<occurrence>` that sinks use for deduplication.
    pub fn idempotency_key(&self) -> String {
        self.occurrence_id().to_string()
    }

    /// Returns the timestamp kubernetes-event-exporter's `GetTimestampMs` uses:
    /// `firstTimestamp`, else `eventTime`.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.first_timestamp.or(self.event_time)
    }

    /// Returns the time of the latest occurrence: `lastTimestamp`, else
    /// `series.lastObservedTime`, else `eventTime`, else `firstTimestamp`.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_timestamp
            .or_else(|| self.series.as_ref().and_then(|s| s.last_observed_time))
            .or(self.event_time)
            .or(self.first_timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_prefers_count_then_series_then_one() {
        let series = EventSeries {
            count: 5,
            last_observed_time: None,
        };
        assert_eq!(Event::occurrence_of(3, Some(&series)), 3);
        assert_eq!(Event::occurrence_of(0, Some(&series)), 5);
        assert_eq!(Event::occurrence_of(0, None), 1);
        let empty_series = EventSeries::default();
        assert_eq!(Event::occurrence_of(0, Some(&empty_series)), 1);
    }

    #[test]
    fn idempotency_key_is_uid_dash_occurrence() {
        let ev = Event {
            occurrence: 7,
            metadata: ObjectMeta {
                uid: "0b7c".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(ev.idempotency_key(), "0b7c-7");
    }
}
