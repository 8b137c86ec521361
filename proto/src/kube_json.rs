//! Turns a core/v1 Event, as the Kubernetes API server serialises it, into an [`Event`].
//!
//! This is the only place that knows the Kubernetes JSON shape of an Event. It accepts
//! both old-style events (`count`, `firstTimestamp`, `lastTimestamp`, `source`) and
//! events written through events.k8s.io/v1 (`series`, `eventTime`,
//! `reportingComponent`, null timestamps, no `count`). `metadata.managedFields` is
//! removed from the kept raw JSON.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::event::{
    Event, EventSeries, EventSource, InvolvedObject, ObjectMeta, ObjectReference, OwnerReference,
    StringMap,
};

/// Why a JSON document could not be read as a Kubernetes Event.
#[derive(Debug, thiserror::Error)]
pub enum EventJsonError {
    /// The bytes are not JSON.
    #[error("event is not valid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The JSON is not an object.
    #[error("event is not a JSON object")]
    NotAnObject,
    /// A field has the wrong type.
    #[error("event {name} has an unexpected shape: {source}")]
    Shape {
        /// `namespace/name` of the event, when readable.
        name: String,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// `metadata.uid` is missing: the occurrence cannot be identified.
    #[error("event {name} has no metadata.uid")]
    MissingUid {
        /// `namespace/name` of the event, when readable.
        name: String,
    },
    /// A timestamp is not RFC 3339.
    #[error("event {name}: field {field} is not an RFC 3339 timestamp: {value:?}")]
    Timestamp {
        /// `namespace/name` of the event.
        name: String,
        /// The JSON field.
        field: &'static str,
        /// The offending text.
        value: String,
    },
}

/// Parses the JSON bytes of one core/v1 Event.
///
/// The bytes are decoded once into the typed fields herald reads; the kept raw JSON is
/// the input itself (key order and all), with `metadata.managedFields` cut out when
/// present. No intermediate JSON tree is built: this is the exporter's hottest path.
///
/// # Errors
/// See [`EventJsonError`]; an Event without `involvedObject` is *not* an error (it is
/// returned with an empty involved object, the caller decides whether to warn).
pub fn parse_kube_event(bytes: &[u8]) -> Result<Event, EventJsonError> {
    let k: KubeEvent = match serde_json::from_slice(bytes) {
        Ok(k) => k,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(EventJsonError::Syntax(e)),
        Err(e) => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            if first != Some(&b'{') {
                return Err(EventJsonError::NotAnObject);
            }
            return Err(EventJsonError::Shape {
                name: display_name(bytes),
                source: e,
            });
        }
    };
    let raw_json = if k.metadata.managed_fields.is_some() {
        raw_without_managed_fields(bytes).map_err(EventJsonError::Syntax)?
    } else {
        String::from_utf8_lossy(bytes.trim_ascii()).into_owned()
    };
    from_kube(k, bytes::Bytes::from(raw_json.into_bytes()))
}

/// Parses one core/v1 Event that is already a [`serde_json::Value`] (tests, tools).
///
/// # Errors
/// See [`parse_kube_event`].
pub fn parse_kube_event_value(value: Value) -> Result<Event, EventJsonError> {
    if !value.is_object() {
        return Err(EventJsonError::NotAnObject);
    }
    parse_kube_event(value.to_string().as_bytes())
}

fn from_kube(k: KubeEvent, raw_json: bytes::Bytes) -> Result<Event, EventJsonError> {
    let name = format!(
        "{}/{}",
        k.metadata.namespace.as_deref().unwrap_or("?"),
        k.metadata.name.as_deref().unwrap_or("?")
    );
    let uid = k.metadata.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        return Err(EventJsonError::MissingUid { name });
    }
    let ts = |field: &'static str, v: Option<String>| parse_time(&name, field, v);
    let series = match k.series {
        Some(s) => Some(EventSeries {
            count: s.count.unwrap_or(0),
            last_observed_time: ts("series.lastObservedTime", s.last_observed_time)?,
        }),
        None => None,
    };
    let count = k.count.unwrap_or(0);
    let occurrence = Event::occurrence_of(count, series.as_ref());
    let involved = k.involved_object.unwrap_or_default();
    Ok(Event {
        offset: 0,
        occurrence,
        observed_at: None,
        observation: Default::default(),
        cluster_name: String::new(),
        metadata: ObjectMeta {
            name: k.metadata.name.unwrap_or_default(),
            generate_name: k.metadata.generate_name.unwrap_or_default(),
            namespace: k.metadata.namespace.unwrap_or_default(),
            self_link: k.metadata.self_link.unwrap_or_default(),
            uid,
            resource_version: k.metadata.resource_version.unwrap_or_default(),
            generation: k.metadata.generation.unwrap_or(0),
            creation_timestamp: ts("metadata.creationTimestamp", k.metadata.creation_timestamp)?,
            deletion_timestamp: ts("metadata.deletionTimestamp", k.metadata.deletion_timestamp)?,
            deletion_grace_period_seconds: k.metadata.deletion_grace_period_seconds,
            labels: k.metadata.labels.unwrap_or_default(),
            annotations: k.metadata.annotations.unwrap_or_default(),
            owner_references: k
                .metadata
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .map(KubeOwnerReference::into_domain)
                .collect(),
            finalizers: k.metadata.finalizers.unwrap_or_default(),
        },
        reason: k.reason.unwrap_or_default(),
        message: k.message.unwrap_or_default(),
        source: k
            .source
            .map(|s| EventSource {
                component: s.component.unwrap_or_default(),
                host: s.host.unwrap_or_default(),
            })
            .unwrap_or_default(),
        first_timestamp: ts("firstTimestamp", k.first_timestamp)?,
        last_timestamp: ts("lastTimestamp", k.last_timestamp)?,
        count,
        event_type: k.type_.unwrap_or_default(),
        event_time: ts("eventTime", k.event_time)?,
        series,
        action: k.action.unwrap_or_default(),
        related: k.related.map(KubeObjectReference::into_domain),
        reporting_component: k.reporting_component.unwrap_or_default(),
        reporting_instance: k.reporting_instance.unwrap_or_default(),
        involved_object: {
            let r = involved.into_domain();
            InvolvedObject {
                kind: r.kind,
                namespace: r.namespace,
                name: r.name,
                uid: r.uid,
                api_version: r.api_version,
                resource_version: r.resource_version,
                field_path: r.field_path,
                ..Default::default()
            }
        },
        raw_json,
    })
}

/// Returns true when the raw Event JSON carries an `involvedObject`.
pub fn has_involved_object(event: &Event) -> bool {
    !(event.involved_object.kind.is_empty()
        && event.involved_object.name.is_empty()
        && event.involved_object.uid.is_empty())
}

/// `namespace/name` of an Event whose full decode failed (best effort).
fn display_name(bytes: &[u8]) -> String {
    #[derive(Deserialize, Default)]
    struct Named {
        #[serde(default)]
        metadata: Option<NameOnly>,
    }
    #[derive(Deserialize, Default)]
    struct NameOnly {
        #[serde(default)]
        namespace: Option<Value>,
        #[serde(default)]
        name: Option<Value>,
    }
    let meta = serde_json::from_slice::<Named>(bytes)
        .ok()
        .and_then(|n| n.metadata)
        .unwrap_or_default();
    let field = |v: Option<Value>| match v {
        Some(Value::String(s)) => s,
        _ => "?".to_owned(),
    };
    format!("{}/{}", field(meta.namespace), field(meta.name))
}

/// Object keys of one JSON object level, in order, with their raw values.
struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>);

/// An object key: borrowed from the input when it has no escapes.
enum Key<'a> {
    Plain(&'a str),
    Unescaped(String),
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Plain(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Unescaped(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Plain(s) => s,
            Key::Unescaped(s) => s,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            // borrowed keys had no escapes: their raw text is the key itself
            Key::Plain(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Key::Unescaped(s) => out.push_str(&Value::from(s.as_str()).to_string()),
        }
    }
}

/// Writes `members` as a JSON object, leaving out the keys `skip` rejects and
/// replacing the value of `metadata` through `metadata` when given.
fn write_object(
    out: &mut String,
    members: &Members<'_>,
    skip: &dyn Fn(&str) -> bool,
    metadata: Option<&str>,
) {
    out.push('{');
    let mut first = true;
    for (k, v) in &members.0 {
        if skip(k.as_str()) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        k.write(out);
        out.push(':');
        match metadata {
            Some(m) if k.as_str() == "metadata" => out.push_str(m),
            _ => out.push_str(v.get()),
        }
    }
    out.push('}');
}

/// The Event JSON without `metadata.managedFields`, everything else as sent.
fn raw_without_managed_fields(bytes: &[u8]) -> Result<String, serde_json::Error> {
    let top: Members<'_> = serde_json::from_slice(bytes)?;
    let mut metadata = String::new();
    if let Some((_, raw)) = top.0.iter().find(|(k, _)| k.as_str() == "metadata") {
        let meta: Members<'_> = serde_json::from_str(raw.get())?;
        write_object(&mut metadata, &meta, &|k| k == "managedFields", None);
    }
    let mut out = String::with_capacity(bytes.len());
    write_object(&mut out, &top, &|_| false, Some(&metadata));
    Ok(out)
}

fn parse_time(
    name: &str,
    field: &'static str,
    value: Option<String>,
) -> Result<Option<DateTime<Utc>>, EventJsonError> {
    match value {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| EventJsonError::Timestamp {
                name: name.to_owned(),
                field,
                value: s,
            }),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KubeEvent {
    #[serde(default)]
    metadata: KubeMeta,
    #[serde(default)]
    involved_object: Option<KubeObjectReference>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    source: Option<KubeSource>,
    #[serde(default)]
    first_timestamp: Option<String>,
    #[serde(default)]
    last_timestamp: Option<String>,
    #[serde(default)]
    count: Option<i32>,
    #[serde(default, rename = "type")]
    type_: Option<String>,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(default)]
    series: Option<KubeSeries>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    related: Option<KubeObjectReference>,
    #[serde(default)]
    reporting_component: Option<String>,
    #[serde(default)]
    reporting_instance: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KubeMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    generate_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    self_link: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    creation_timestamp: Option<String>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
    #[serde(default)]
    deletion_grace_period_seconds: Option<i64>,
    #[serde(default)]
    labels: Option<StringMap>,
    #[serde(default)]
    annotations: Option<StringMap>,
    #[serde(default)]
    owner_references: Option<Vec<KubeOwnerReference>>,
    #[serde(default)]
    finalizers: Option<Vec<String>>,
    /// Only whether it is there: it is cut from the kept raw JSON.
    #[serde(default)]
    managed_fields: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KubeSource {
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    host: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KubeSeries {
    #[serde(default)]
    count: Option<i32>,
    #[serde(default)]
    last_observed_time: Option<String>,
}

/// core/v1 ObjectReference as JSON.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KubeObjectReference {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    field_path: Option<String>,
}

impl KubeObjectReference {
    fn into_domain(self) -> ObjectReference {
        ObjectReference {
            kind: self.kind.unwrap_or_default(),
            namespace: self.namespace.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            uid: self.uid.unwrap_or_default(),
            api_version: self.api_version.unwrap_or_default(),
            resource_version: self.resource_version.unwrap_or_default(),
            field_path: self.field_path.unwrap_or_default(),
        }
    }
}

/// Kubernetes OwnerReference as JSON (shared with metadata lookups).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct KubeOwnerReference {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    controller: Option<bool>,
    #[serde(default)]
    block_owner_deletion: Option<bool>,
}

impl KubeOwnerReference {
    /// Converts to the domain type.
    pub fn into_domain(self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.unwrap_or_default(),
            kind: self.kind.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            uid: self.uid.unwrap_or_default(),
            controller: self.controller,
            block_owner_deletion: self.block_owner_deletion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ev: &Event) -> &str {
        std::str::from_utf8(&ev.raw_json).expect("raw JSON is UTF-8")
    }

    const CORE_STYLE: &str = r#"{"metadata":{"name":"web.17cf","namespace":"shop","uid":"u-1","resourceVersion":"918273","creationTimestamp":"2024-05-14T10:00:03Z","managedFields":[{"manager":"kubelet"}]},"involvedObject":{"kind":"Pod","namespace":"shop","name":"web","uid":"p-1","apiVersion":"v1","resourceVersion":"918100","fieldPath":"spec.containers{web}"},"reason":"BackOff","message":"Back-off","source":{"component":"kubelet","host":"node-a"},"firstTimestamp":"2024-05-14T10:00:03Z","lastTimestamp":"2024-05-14T10:05:03Z","count":4,"type":"Warning","eventTime":null,"reportingComponent":"","reportingInstance":""}"#;

    #[test]
    fn parses_core_style_event_and_strips_managed_fields() {
        let ev = parse_kube_event(CORE_STYLE.as_bytes()).unwrap();
        assert_eq!(ev.metadata.uid, "u-1");
        assert_eq!(ev.count, 4);
        assert_eq!(ev.occurrence, 4);
        assert_eq!(ev.event_type, "Warning");
        assert_eq!(ev.involved_object.field_path, "spec.containers{web}");
        assert_eq!(ev.source.host, "node-a");
        assert!(ev.event_time.is_none());
        assert_eq!(
            ev.last_timestamp.unwrap().to_rfc3339(),
            "2024-05-14T10:05:03+00:00"
        );
        assert!(!raw(&ev).contains("managedFields"));
        assert!(raw(&ev).contains("\"reason\":\"BackOff\""));
    }

    #[test]
    fn raw_json_is_the_input_minus_managed_fields() {
        let ev = parse_kube_event(CORE_STYLE.as_bytes()).unwrap();
        let want = CORE_STYLE.replace(r#","managedFields":[{"manager":"kubelet"}]"#, "");
        assert_eq!(ev.raw_json, want);
        // first key, escaped keys and nested managedFields elsewhere are handled
        let raw = r#"{"metadata":{"managedFields":[{"a":1}],"uid":"u","na\u006de":"x"},"reason":"R","x\"y":{"managedFields":1}}"#;
        let ev = parse_kube_event(raw.as_bytes()).unwrap();
        assert_eq!(
            ev.raw_json,
            r#"{"metadata":{"uid":"u","name":"x"},"reason":"R","x\"y":{"managedFields":1}}"#
        );
        assert_eq!(ev.metadata.name, "x");
        // without managedFields the input is kept byte for byte (outer whitespace trimmed)
        let raw = r#"{"reason":"R","metadata":{"uid":"u"},"count":2}"#;
        let ev = parse_kube_event(format!(" {raw}\n").as_bytes()).unwrap();
        assert_eq!(ev.raw_json, raw);
    }

    #[test]
    fn parses_series_event_written_through_events_api() {
        let raw = r#"{"metadata":{"name":"n","namespace":"shop","uid":"u-2"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff","source":{},"firstTimestamp":null,"lastTimestamp":null,"type":"Warning","eventTime":"2026-11-22T10:00:00.123456Z","series":{"count":5,"lastObservedTime":"2026-11-22T10:04:00.000001Z"},"action":"Pulling","reportingComponent":"kubelet","reportingInstance":"w1"}"#;
        let ev = parse_kube_event(raw.as_bytes()).unwrap();
        assert_eq!(ev.count, 0);
        assert_eq!(ev.occurrence, 5);
        assert_eq!(ev.idempotency_key(), "u-2-5");
        assert_eq!(ev.event_time.unwrap().timestamp_subsec_micros(), 123_456);
        assert_eq!(ev.reporting_component, "kubelet");
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        assert!(matches!(
            parse_kube_event(b"{not json"),
            Err(EventJsonError::Syntax(_))
        ));
        assert!(matches!(
            parse_kube_event(b"[1,2]"),
            Err(EventJsonError::NotAnObject)
        ));
        let wrong = r#"{"metadata":{"uid":"u","name":"x","namespace":"y"},"count":"many"}"#;
        let err = parse_kube_event(wrong.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("y/x"), "{err}");
        let no_uid = r#"{"metadata":{"name":"x","namespace":"y"}}"#;
        assert!(matches!(
            parse_kube_event(no_uid.as_bytes()),
            Err(EventJsonError::MissingUid { .. })
        ));
        let bad_ts = r#"{"metadata":{"uid":"u"},"lastTimestamp":"yesterday"}"#;
        assert!(matches!(
            parse_kube_event(bad_ts.as_bytes()),
            Err(EventJsonError::Timestamp {
                field: "lastTimestamp",
                ..
            })
        ));
    }

    #[test]
    fn event_without_involved_object_is_kept() {
        let raw = r#"{"metadata":{"uid":"u","name":"x","namespace":"y"},"reason":"R"}"#;
        let ev = parse_kube_event(raw.as_bytes()).unwrap();
        assert!(!has_involved_object(&ev));
        assert_eq!(ev.occurrence, 1);
    }

    #[test]
    fn every_captured_event_parses() {
        let list = include_str!("../../kubesim/fixtures/core-v1-eventlist.json");
        let v: Value = serde_json::from_str(list).unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 72);
        for item in items {
            let ev = parse_kube_event_value(item.clone()).unwrap();
            assert!(!ev.metadata.uid.is_empty());
            assert!(ev.occurrence >= 1);
        }
    }
}
