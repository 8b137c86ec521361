//! `core/v1` Event and its `events.k8s.io/v1` view.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use super::{is_zero_i32, nullable};
use crate::time::{MicroTime, Time};

/// `core/v1` Event without `kind`/`apiVersion` (its form inside a list), in Go field order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The object the event is about; always serialised.
    #[serde(default)]
    pub involved_object: ObjectReference,
    /// Short machine-readable reason.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub reason: String,
    /// Human-readable message.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub message: String,
    /// Reporting component; always serialised (`{}` when empty).
    #[serde(default)]
    pub source: EventSource,
    /// First occurrence; `null` when unset.
    #[serde(default)]
    pub first_timestamp: Option<Time>,
    /// Last occurrence; `null` when unset.
    #[serde(default)]
    pub last_timestamp: Option<Time>,
    /// Number of occurrences (omitted when zero).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i32"
    )]
    pub count: i32,
    /// `Normal` or `Warning`.
    #[serde(
        default,
        rename = "type",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub type_: String,
    /// First observation (events.k8s.io style); `null` when unset.
    #[serde(default)]
    pub event_time: Option<MicroTime>,
    /// Series data for repeating events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<EventSeries>,
    /// What action was taken or failed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub action: String,
    /// Optional secondary object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<ObjectReference>,
    /// Reporting controller; always serialised.
    #[serde(default, deserialize_with = "nullable")]
    pub reporting_component: String,
    /// Reporting instance; always serialised.
    #[serde(default, deserialize_with = "nullable")]
    pub reporting_instance: String,
}

/// `core/v1` ObjectReference; every field is `omitempty`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind of the referent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    /// Namespace of the referent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Name of the referent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// UID of the referent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
    /// API version of the referent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// Resource version of the referent when the event was recorded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub resource_version: String,
    /// Field within the referent, such as `spec.containers{nginx}`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub field_path: String,
}

/// `core/v1` EventSource.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventSource {
    /// Component that emitted the event.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub component: String,
    /// Node name of the emitter.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub host: String,
}

impl EventSource {
    /// Returns true when neither field is set.
    pub fn is_empty(&self) -> bool {
        self.component.is_empty() && self.host.is_empty()
    }
}

/// `EventSeries` (identical in both Event APIs).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    /// Occurrences in the series.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i32"
    )]
    pub count: i32,
    /// Last observation; `null` when unset.
    #[serde(default)]
    pub last_observed_time: Option<MicroTime>,
}

/// `events.k8s.io/v1` Event without `kind`/`apiVersion`, in Go field order.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventV1<'a> {
    /// Standard metadata.
    pub metadata: &'a ObjectMeta,
    /// `eventTime`; always serialised.
    pub event_time: Option<MicroTime>,
    /// Series data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<&'a EventSeries>,
    /// `reportingController` (core `reportingComponent`).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reporting_controller: &'a str,
    /// `reportingInstance`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reporting_instance: &'a str,
    /// `action`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub action: &'a str,
    /// `reason`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'a str,
    /// `regarding` (core `involvedObject`); always serialised.
    pub regarding: &'a ObjectReference,
    /// `related`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<&'a ObjectReference>,
    /// `note` (core `message`).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub note: &'a str,
    /// `type`.
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    pub type_: &'a str,
    /// `deprecatedSource`; always serialised.
    pub deprecated_source: &'a EventSource,
    /// `deprecatedFirstTimestamp`; always serialised.
    pub deprecated_first_timestamp: Option<Time>,
    /// `deprecatedLastTimestamp`; always serialised.
    pub deprecated_last_timestamp: Option<Time>,
    /// `deprecatedCount`.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub deprecated_count: i32,
}

impl<'a> From<&'a Event> for EventV1<'a> {
    fn from(e: &'a Event) -> Self {
        Self {
            metadata: &e.metadata,
            event_time: e.event_time,
            series: e.series.as_ref(),
            reporting_controller: &e.reporting_component,
            reporting_instance: &e.reporting_instance,
            action: &e.action,
            reason: &e.reason,
            regarding: &e.involved_object,
            related: e.related.as_ref(),
            note: &e.message,
            type_: &e.type_,
            deprecated_source: &e.source,
            deprecated_first_timestamp: e.first_timestamp,
            deprecated_last_timestamp: e.last_timestamp,
            deprecated_count: e.count,
        }
    }
}

impl Event {
    /// Returns true for events written through `events.k8s.io` (an `eventTime`, no `source`).
    pub fn is_events_api_style(&self) -> bool {
        self.event_time.is_some() && self.source.is_empty() && self.first_timestamp.is_none()
    }

    /// The occurrence count: `series.count` for series events, `count` otherwise.
    pub fn occurrences(&self) -> i32 {
        match &self.series {
            Some(s) => s.count,
            None => self.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES_EVENT: &str = r#"{"metadata":{"name":"nginx-55b49f585d-pjdb6.17a1b2c3d4e5f700","namespace":"shop","uid":"b1d0d906-f1aa-420b-a295-c03058ec90eb","resourceVersion":"278","creationTimestamp":"2026-11-22T01:31:36Z","labels":{"fixture":"events-api"}},"involvedObject":{"kind":"Pod","namespace":"shop","name":"nginx-55b49f585d-pjdb6","uid":"8bfb2d83-b9ab-4c40-841b-5dbac8946fc7","apiVersion":"v1","resourceVersion":"261","fieldPath":"spec.containers{nginx}"},"reason":"BackOff","message":"Back-off pulling image \"nginx:1.26\"","source":{},"firstTimestamp":null,"lastTimestamp":null,"type":"Warning","eventTime":"2026-11-22T01:30:06.268228Z","series":{"count":5,"lastObservedTime":"2026-11-22T01:31:36.271765Z"},"action":"Pulling","reportingComponent":"kubelet","reportingInstance":"worker-1"}"#;

    #[test]
    fn series_event_round_trips() {
        let e: Event = serde_json::from_str(SERIES_EVENT).unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), SERIES_EVENT);
        assert!(e.is_events_api_style());
        assert_eq!(e.occurrences(), 5);
    }

    #[test]
    fn zero_event_matches_bookmark_shape() {
        let mut e = Event::default();
        e.metadata.resource_version = "365".into();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"metadata":{"resourceVersion":"365","creationTimestamp":null},"involvedObject":{},"source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}"#
        );
    }

    #[test]
    fn events_v1_view_uses_new_field_names() {
        let e: Event = serde_json::from_str(SERIES_EVENT).unwrap();
        let v = serde_json::to_string(&EventV1::from(&e)).unwrap();
        assert!(v.contains(r#""reportingController":"kubelet""#));
        assert!(v.ends_with(r#""type":"Warning","deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}"#));
    }
}
