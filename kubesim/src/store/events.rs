//! Event writes: create, count bumps, metadata touches and deletes, with the field
//! handling the API server and the event recorders apply.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::event::{Event, EventSeries};
use crate::model::fields::{FieldSet, default_event_managed_fields};
use crate::model::meta::ManagedFieldsEntry;
use crate::status::{FieldError, FieldErrorKind, Status, go_quote};
use crate::time::{MicroTime, Time};

/// Collection prefix of Events (shared by `core/v1` and `events.k8s.io/v1`).
pub const EVENTS: &str = "events/";

/// Annotation written by [`touch`].
pub const TOUCH_ANNOTATION: &str = "kubesim.herald.dev/touched";

/// Store key of an event.
pub fn key(namespace: &str, name: &str) -> String {
    format!("{EVENTS}{namespace}/{name}")
}

/// Serialises an event in its list-item form.
pub fn encode(e: &Event) -> Result<Bytes, String> {
    serde_json::to_vec(e)
        .map(Bytes::from)
        .map_err(|err| err.to_string())
}

/// Parses a stored event.
pub fn decode(bytes: &[u8]) -> Result<Event, String> {
    serde_json::from_slice(bytes).map_err(|err| format!("stored event is not decodable: {err}"))
}

/// Checks that a name can be a key segment (non-empty, no `/`, at most 253 bytes).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.contains('/')
        && !name.contains('\0')
        && name != "."
        && name != ".."
}

/// Validates and completes a new event the way the API server does on create: fills
/// `uid`, `creationTimestamp` and `managedFields` when missing, generates a name from
/// `generateName`, and enforces the 1.24 namespace rule for `involvedObject`.
pub fn prepare(mut e: Event) -> Result<Event, Box<Status>> {
    if e.metadata.namespace.is_empty() {
        e.metadata.namespace = "default".to_owned();
    }
    if e.metadata.name.is_empty() && !e.metadata.generate_name.is_empty() {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        e.metadata.name = format!("{}{}", e.metadata.generate_name, &suffix[..5]);
    }
    let name = e.metadata.name.clone();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError {
            field: "metadata.name".into(),
            kind: FieldErrorKind::Required,
            detail: "name or generateName is required".into(),
        });
    } else if !valid_name(&name) {
        errors.push(FieldError {
            field: "metadata.name".into(),
            kind: FieldErrorKind::Invalid(go_quote(&name)),
            detail: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'".into(),
        });
    }
    if !valid_name(&e.metadata.namespace) {
        errors.push(FieldError {
            field: "metadata.namespace".into(),
            kind: FieldErrorKind::Invalid(go_quote(&e.metadata.namespace)),
            detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'".into(),
        });
    }
    let involved_ns = &e.involved_object.namespace;
    let mismatch = if involved_ns.is_empty() {
        e.metadata.namespace != "default"
    } else {
        *involved_ns != e.metadata.namespace
    };
    if mismatch {
        errors.push(FieldError {
            field: "involvedObject.namespace".into(),
            kind: FieldErrorKind::Invalid(go_quote(involved_ns)),
            detail: "does not match event.namespace".into(),
        });
    }
    if !errors.is_empty() {
        return Err(Box::new(Status::invalid("", "Event", &name, &errors)));
    }
    let now = Time::now();
    if e.metadata.uid.is_empty() {
        e.metadata.uid = uuid::Uuid::new_v4().to_string();
    }
    if e.metadata.creation_timestamp.is_none() {
        e.metadata.creation_timestamp = Some(now);
    }
    e.metadata.resource_version.clear();
    default_event_managed_fields(&mut e, now);
    Ok(e)
}

/// Stores a prepared event.
pub fn create(store: &mut Store, mut e: Event) -> Result<u64, StoreError> {
    let key = key(&e.metadata.namespace, &e.metadata.name);
    store.create(&key, move |rv| {
        e.metadata.resource_version = rv.to_string();
        encode(&e)
    })
}

/// Rewrites a stored event with `f`, bumping its resourceVersion.
pub fn modify(
    store: &mut Store,
    namespace: &str,
    name: &str,
    f: impl FnOnce(&mut Event),
) -> Result<u64, StoreError> {
    store.update(&key(namespace, name), move |bytes, rv| {
        let mut e = decode(bytes)?;
        f(&mut e);
        e.metadata.resource_version = rv.to_string();
        encode(&e)
    })
}

/// Records one more occurrence, as the event recorders do: `count + 1` and
/// `lastTimestamp = now` for core events, `series.count + 1` and
/// `series.lastObservedTime = now` for `events.k8s.io` events (starting a series at 2).
pub fn bump(e: &mut Event) {
    bump_at(e, Utc::now());
}

/// [`bump`] with an explicit occurrence time.
pub fn bump_at(e: &mut Event, now: DateTime<Utc>) {
    if let Some(series) = e.series.as_mut() {
        series.count = series.count.max(1) + 1;
        series.last_observed_time = Some(MicroTime::from(now));
    } else if e.is_events_api_style() {
        e.series = Some(EventSeries {
            count: 2,
            last_observed_time: Some(MicroTime::from(now)),
        });
    } else {
        e.count = e.count.max(1) + 1;
        e.last_timestamp = Some(Time::from(now));
    }
}

/// Changes only metadata (an annotation), like `kubectl annotate`: the occurrence count
/// is unchanged and a `kubectl-annotate` managedFields entry records the write.
pub fn touch(e: &mut Event) {
    let next = e
        .metadata
        .annotations
        .get(TOUCH_ANNOTATION)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    e.metadata
        .annotations
        .insert(TOUCH_ANNOTATION.to_owned(), next.to_string());
    let mut set = FieldSet::default();
    let annotations = set.child("metadata").child("annotations");
    annotations.dot();
    for k in e.metadata.annotations.keys() {
        annotations.leaf(k);
    }
    e.metadata
        .managed_fields
        .retain(|m| m.manager != "kubectl-annotate");
    e.metadata.managed_fields.push(ManagedFieldsEntry::update(
        "kubectl-annotate",
        "v1",
        Time::now(),
        set.to_raw(),
    ));
}

/// Deletes a stored event; the DELETED object carries the deletion revision.
pub fn delete(store: &mut Store, namespace: &str, name: &str) -> Result<u64, StoreError> {
    store.delete(&key(namespace, name), |bytes, rv| {
        let mut e = decode(bytes)?;
        e.metadata.resource_version = rv.to_string();
        encode(&e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn prepare_fills_server_fields() {
        let e = prepare(event(r#"{"metadata":{"name":"a.1","namespace":"shop"},"involvedObject":{"kind":"Pod","namespace":"shop","name":"a"},"reason":"Pulling","source":{"component":"kubelet"},"count":1,"type":"Normal"}"#)).unwrap();
        assert_eq!(e.metadata.uid.len(), 36);
        assert!(e.metadata.creation_timestamp.is_some());
        assert_eq!(e.metadata.managed_fields.len(), 1);
        assert_eq!(e.metadata.managed_fields[0].manager, "kubelet");
    }

    #[test]
    fn prepare_rejects_namespace_mismatch_like_the_api_server() {
        let err = prepare(event(r#"{"metadata":{"name":"burst-test.1","namespace":"test-ns"},"involvedObject":{"kind":"Namespace","name":"test-ns"}}"#)).unwrap_err();
        assert_eq!(
            err.message,
            "Event \"burst-test.1\" is invalid: involvedObject.namespace: Invalid value: \"\": does not match event.namespace"
        );
        // Cluster-scoped objects' events may live in "default".
        assert!(prepare(event(r#"{"metadata":{"name":"n.1","namespace":"default"},"involvedObject":{"kind":"Node","name":"n"}}"#)).is_ok());
        assert!(prepare(event(r#"{"metadata":{"namespace":"default"},"involvedObject":{"kind":"Node","name":"n"}}"#)).is_err());
    }

    #[test]
    fn bump_counts_and_series() {
        let mut core = event(
            r#"{"metadata":{"name":"a"},"count":3,"source":{"component":"kubelet"},"firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z"}"#,
        );
        bump(&mut core);
        assert_eq!(core.count, 4);
        assert!(core.last_timestamp.unwrap() > core.first_timestamp.unwrap());
        let mut series = event(
            r#"{"metadata":{"name":"a"},"eventTime":"2026-01-01T00:00:00.000000Z","series":{"count":5,"lastObservedTime":"2026-01-01T00:00:00.000000Z"}}"#,
        );
        bump(&mut series);
        assert_eq!(series.series.as_ref().unwrap().count, 6);
        assert_eq!(series.count, 0);
        let mut single = event(
            r#"{"metadata":{"name":"a"},"eventTime":"2026-01-01T00:00:00.000000Z","reportingComponent":"default-scheduler"}"#,
        );
        bump(&mut single);
        assert_eq!(single.series.as_ref().unwrap().count, 2);
    }

    #[test]
    fn touch_changes_metadata_only() {
        let mut e = event(r#"{"metadata":{"name":"a"},"count":2}"#);
        touch(&mut e);
        touch(&mut e);
        assert_eq!(e.count, 2);
        assert_eq!(e.metadata.annotations[TOUCH_ANNOTATION], "2");
        assert_eq!(e.metadata.managed_fields.len(), 1);
        assert_eq!(
            e.metadata.managed_fields[0]
                .fields_v1
                .as_ref()
                .unwrap()
                .get(),
            r#"{"f:metadata":{"f:annotations":{".":{},"f:kubesim.herald.dev/touched":{}}}}"#
        );
    }
}
