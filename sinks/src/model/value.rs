//! [`event_value`]: a herald [`Event`] as kubernetes-event-exporter's templates
//! see it (`*kube.EnhancedEvent`).

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use herald_proto::event::StringMap;
use herald_proto::{Event, EventSeries, InvolvedObject, ObjectMeta, OwnerReference};
use herald_template::{ElemType, List, StructType, StructValue, Time, TimeKind, Value};

use super::time::format_utc;
use super::types::{TYPES, Types};

/// Unix seconds of Go's zero time, `0001-01-01T00:00:00Z`.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// The empty string, shared by every empty field.
static EMPTY: LazyLock<Value> = LazyLock::new(|| Value::from(""));
/// An empty `map[string]string`, shared by every event without labels.
static EMPTY_STRING_MAP: LazyLock<Value> =
    LazyLock::new(|| Value::string_map(std::iter::empty::<(&str, &str)>()));
/// Empty `[]v1.OwnerReference`, `[]string` and `[]v1.ManagedFieldsEntry`.
static EMPTY_OWNERS: LazyLock<Value> =
    LazyLock::new(|| typed_list("v1.OwnerReference", Vec::new()));
static EMPTY_STRINGS: LazyLock<Value> =
    LazyLock::new(|| Value::List(List::from_strings(std::iter::empty::<&str>())));
static EMPTY_MANAGED_FIELDS: LazyLock<Value> =
    LazyLock::new(|| typed_list("v1.ManagedFieldsEntry", Vec::new()));

/// Builds the template data for one event: kubernetes-event-exporter's
/// `*kube.EnhancedEvent`, plus herald's extras `.IdempotencyKey`, `.Offset`,
/// `.Occurrence`, `.ObservedAt` and `.InvolvedObject.NamespaceLabels`, which
/// are not serialised.
///
/// The result is cheap to clone (an `Arc` inside); build it once per event and
/// share it between receivers.
pub fn event_value(ev: &Event) -> Value {
    let t = &*TYPES;
    let meta = object_meta(t, &ev.metadata);
    let io = &ev.involved_object;
    let object_ref = Arc::new(object_reference(
        t,
        [
            &io.kind,
            &io.namespace,
            &io.name,
            &io.uid,
            &io.api_version,
            &io.resource_version,
            &io.field_path,
        ],
    ));
    let enhanced_ref = enhanced_object_reference(t, &ev.involved_object, object_ref.clone());
    let event = instantiate(
        &t.event,
        vec![
            Value::Struct(type_meta(t)),
            Value::Struct(Arc::new(meta)),
            Value::Struct(object_ref),
            string(&ev.reason),
            string(&ev.message),
            Value::from(instantiate(
                &t.event_source,
                vec![string(&ev.source.component), string(&ev.source.host)],
            )),
            time(ev.first_timestamp, TimeKind::Seconds),
            time(ev.last_timestamp, TimeKind::Seconds),
            Value::from(ev.count),
            string(&ev.event_type),
            time(ev.event_time, TimeKind::Micro),
            ev.series.as_ref().map_or(Value::Nil, |s| series(t, s)),
            string(&ev.action),
            ev.related.as_ref().map_or(Value::Nil, |r| {
                let fields: [&str; 7] = [
                    &r.kind,
                    &r.namespace,
                    &r.name,
                    &r.uid,
                    &r.api_version,
                    &r.resource_version,
                    &r.field_path,
                ];
                Value::from(object_reference(t, fields).into_pointer())
            }),
            string(&ev.reporting_component),
            string(&ev.reporting_instance),
        ],
    );
    let timestamp = ev.first_timestamp.or(ev.event_time);
    let enhanced = instantiate(
        &t.enhanced_event,
        vec![
            Value::from(event),
            string(&ev.cluster_name),
            Value::from(enhanced_ref),
            Value::Int(timestamp_ms(timestamp)),
            Value::from(timestamp_iso8601(timestamp)),
            Value::from(ev.idempotency_key()),
            Value::Uint(ev.offset),
            Value::from(ev.occurrence),
            time(ev.observed_at, TimeKind::Go),
        ],
    );
    Value::from(enhanced.into_pointer())
}

/// KEE's `GetTimestampMs`: `UnixNano() / 1e6` of the timestamp, with Go's
/// wrapping arithmetic, so the zero time gives the same huge negative number Go
/// prints (`-6795364578871`).
pub(crate) fn timestamp_ms(ts: Option<DateTime<Utc>>) -> i64 {
    let (secs, nanos) = ts.map_or((GO_ZERO_UNIX, 0), |t| {
        (t.timestamp(), i64::from(t.timestamp_subsec_nanos()))
    });
    secs.wrapping_mul(1_000_000_000).wrapping_add(nanos) / 1_000_000
}

/// KEE's `GetTimestampISO8601` (`2006-01-02T15:04:05.000Z`), in UTC: KEE
/// formatted local time with a literal `Z`.
pub(crate) fn timestamp_iso8601(ts: Option<DateTime<Utc>>) -> String {
    match ts {
        Some(t) => format_utc(&t, 3),
        None => "0001-01-01T00:00:00.000Z".to_owned(),
    }
}

/// Creates a struct value of one of the model's own types.
fn instantiate(ty: &Arc<StructType>, values: Vec<Value>) -> StructValue {
    // Every call site passes exactly the members declared in `types.rs`, and
    // embedded members always get a struct of their type; the unit tests build
    // every type, so a mismatch cannot reach production.
    StructValue::new(ty.clone(), values).expect("model value matches its declared struct type")
}

fn string(s: &str) -> Value {
    if s.is_empty() {
        EMPTY.clone()
    } else {
        Value::from(s)
    }
}

fn time(t: Option<DateTime<Utc>>, kind: TimeKind) -> Value {
    Value::Time(Time::from_chrono(t, kind))
}

fn string_map(m: &StringMap) -> Value {
    if m.is_empty() {
        return EMPTY_STRING_MAP.clone();
    }
    Value::string_map(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn typed_list(elem: &str, items: Vec<Value>) -> Value {
    Value::List(List::new(ElemType::Other(Arc::from(elem)), items))
}

fn type_meta(t: &Types) -> Arc<StructValue> {
    static VALUE: LazyLock<Arc<StructValue>> = LazyLock::new(|| {
        Arc::new(instantiate(
            &TYPES.type_meta,
            vec![EMPTY.clone(), EMPTY.clone()],
        ))
    });
    debug_assert!(Arc::ptr_eq(VALUE.struct_type(), &t.type_meta));
    VALUE.clone()
}

fn object_meta(t: &Types, m: &ObjectMeta) -> StructValue {
    let name = string(&m.name);
    let namespace = string(&m.namespace);
    let uid = string(&m.uid);
    let resource_version = string(&m.resource_version);
    let labels = string_map(&m.labels);
    let annotations = string_map(&m.annotations);
    instantiate(
        &t.object_meta,
        vec![
            name.clone(),
            string(&m.generate_name),
            namespace.clone(),
            string(&m.self_link),
            uid.clone(),
            resource_version.clone(),
            Value::Int(m.generation),
            time(m.creation_timestamp, TimeKind::Seconds),
            m.deletion_timestamp
                .map_or(Value::Nil, |d| time(Some(d), TimeKind::Seconds)),
            m.deletion_grace_period_seconds
                .map_or(Value::Nil, Value::Int),
            labels.clone(),
            annotations.clone(),
            owner_references(t, &m.owner_references),
            if m.finalizers.is_empty() {
                EMPTY_STRINGS.clone()
            } else {
                Value::List(List::from_strings(m.finalizers.iter().map(String::as_str)))
            },
            EMPTY_MANAGED_FIELDS.clone(),
            name,
            namespace,
            uid,
            labels,
            annotations,
            resource_version,
        ],
    )
}

fn owner_references(t: &Types, refs: &[OwnerReference]) -> Value {
    if refs.is_empty() {
        return EMPTY_OWNERS.clone();
    }
    let items = refs
        .iter()
        .map(|r| {
            Value::from(instantiate(
                &t.owner_reference,
                vec![
                    string(&r.api_version),
                    string(&r.kind),
                    string(&r.name),
                    string(&r.uid),
                    r.controller.map_or(Value::Nil, Value::Bool),
                    r.block_owner_deletion.map_or(Value::Nil, Value::Bool),
                ],
            ))
        })
        .collect();
    typed_list("v1.OwnerReference", items)
}

/// `v1.ObjectReference` from kind, namespace, name, uid, apiVersion,
/// resourceVersion and fieldPath.
fn object_reference(t: &Types, fields: [&str; 7]) -> StructValue {
    instantiate(
        &t.object_reference,
        fields.iter().map(|f| string(f)).collect(),
    )
}

fn enhanced_object_reference(
    t: &Types,
    o: &InvolvedObject,
    reference: Arc<StructValue>,
) -> StructValue {
    instantiate(
        &t.enhanced_object_reference,
        vec![
            Value::Struct(reference),
            string_map(&o.labels),
            string_map(&o.annotations),
            owner_references(t, &o.owner_references),
            Value::Bool(o.deleted),
            string_map(&o.namespace_labels),
        ],
    )
}

fn series(t: &Types, s: &EventSeries) -> Value {
    Value::from(
        instantiate(
            &t.event_series,
            vec![
                Value::from(s.count),
                time(s.last_observed_time, TimeKind::Micro),
            ],
        )
        .into_pointer(),
    )
}
