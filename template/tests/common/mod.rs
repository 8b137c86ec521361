//! Shared fixtures: a kubernetes-event-exporter `EnhancedEvent` built the way
//! the ruler's adapter will build it, and a generic `map[string]interface{}`.

#![allow(dead_code)]

use std::sync::Arc;

use herald_template::{ElemType, List, Map, StructType, StructValue, Time, TimeKind, Value};

pub const TS: i64 = 1_715_680_803; // 2024-05-14T10:00:03Z

fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::string_map(pairs.iter().map(|(k, v)| (*k, *v)))
}

/// A `*kube.EnhancedEvent` with the shape and JSON tags of the Go types.
pub fn event() -> Value {
    let type_meta = StructType::builder("v1.TypeMeta")
        .field_omitempty("Kind", "kind")
        .field_omitempty("APIVersion", "apiVersion")
        .build();
    let object_meta = StructType::builder("v1.ObjectMeta")
        .field_omitempty("Name", "name")
        .field_omitempty("GenerateName", "generateName")
        .field_omitempty("Namespace", "namespace")
        .field_omitempty("UID", "uid")
        .field_omitempty("ResourceVersion", "resourceVersion")
        .field_omitempty("Generation", "generation")
        .field_omitempty("CreationTimestamp", "creationTimestamp")
        .field_omitempty("DeletionTimestamp", "deletionTimestamp")
        .field_omitempty("Labels", "labels")
        .field_omitempty("Annotations", "annotations")
        .method("GetName")
        .method("GetNamespace")
        .build();
    let object_ref = StructType::builder("v1.ObjectReference")
        .field_omitempty("Kind", "kind")
        .field_omitempty("Namespace", "namespace")
        .field_omitempty("Name", "name")
        .field_omitempty("UID", "uid")
        .field_omitempty("APIVersion", "apiVersion")
        .field_omitempty("ResourceVersion", "resourceVersion")
        .field_omitempty("FieldPath", "fieldPath")
        .build();
    let source = StructType::builder("v1.EventSource")
        .field_omitempty("Component", "component")
        .field_omitempty("Host", "host")
        .build();
    let event = StructType::builder("v1.Event")
        .embedded("TypeMeta", &type_meta, None)
        .embedded("ObjectMeta", &object_meta, Some("metadata"))
        .field("InvolvedObject", "involvedObject")
        .field_omitempty("Reason", "reason")
        .field_omitempty("Message", "message")
        .field("Source", "source")
        .field_omitempty("FirstTimestamp", "firstTimestamp")
        .field_omitempty("LastTimestamp", "lastTimestamp")
        .field_omitempty("Count", "count")
        .field_omitempty("Type", "type")
        .field_omitempty("EventTime", "eventTime")
        .field_omitempty("Series", "series")
        .field_omitempty("Action", "action")
        .field_omitempty("Related", "related")
        .field("ReportingController", "reportingComponent")
        .field("ReportingInstance", "reportingInstance")
        .build();
    let owner = StructType::builder("v1.OwnerReference")
        .field("APIVersion", "apiVersion")
        .field("Kind", "kind")
        .field("Name", "name")
        .field("UID", "uid")
        .field_omitempty("Controller", "controller")
        .field_omitempty("BlockOwnerDeletion", "blockOwnerDeletion")
        .build();
    let enhanced_ref = StructType::builder("kube.EnhancedObjectReference")
        .embedded("ObjectReference", &object_ref, None)
        .field_omitempty("Labels", "labels")
        .field_omitempty("Annotations", "annotations")
        .field_omitempty("OwnerReferences", "ownerReferences")
        .field("Deleted", "deleted")
        .build();
    let enhanced = StructType::builder("kube.EnhancedEvent")
        .embedded("Event", &event, None)
        .field("ClusterName", "clusterName")
        .field("InvolvedObject", "involvedObject")
        .method("GetTimestampMs")
        .method("GetTimestampISO8601")
        .build();

    let st =
        |ty: &Arc<StructType>, v: Vec<Value>| Value::from(StructValue::new(ty.clone(), v).unwrap());
    let ts = Time::from_unix(TS, 0, TimeKind::Seconds);
    let meta = st(
        &object_meta,
        vec![
            "web-1.17cf".into(),
            "".into(),
            "shop".into(),
            "0b7c".into(),
            "918273".into(),
            Value::Int(0),
            Value::Time(ts.clone()),
            Value::Nil,
            Value::Map(Map::frozen(ElemType::String, Vec::<(&str, Value)>::new())),
            Value::Map(Map::frozen(ElemType::String, Vec::<(&str, Value)>::new())),
            "web-1.17cf".into(),
            "shop".into(),
        ],
    );
    let inner_ref = st(
        &object_ref,
        vec![
            "Pod".into(),
            "shop".into(),
            "web-1".into(),
            "5e1d".into(),
            "v1".into(),
            "918100".into(),
            "spec.containers{web}".into(),
        ],
    );
    let ev = st(
        &event,
        vec![
            st(&type_meta, vec!["".into(), "".into()]),
            meta,
            inner_ref.clone(),
            "BackOff".into(),
            "Back-off restarting failed container web in pod web-1_shop(5e1d)".into(),
            st(&source, vec!["kubelet".into(), "node-a".into()]),
            Value::Time(ts.clone()),
            Value::Time(ts.clone()),
            Value::Int(5),
            "Warning".into(),
            Value::Time(Time::zero(TimeKind::Micro)),
            Value::Nil,
            "".into(),
            Value::Nil,
            "kubelet".into(),
            "node-a".into(),
        ],
    );
    let owners = Value::List(List::new(
        ElemType::Other("v1.OwnerReference".into()),
        vec![st(
            &owner,
            vec![
                "apps/v1".into(),
                "ReplicaSet".into(),
                "web-6d4".into(),
                "9a0b".into(),
                Value::Bool(true),
                Value::Bool(true),
            ],
        )],
    ));
    let involved = st(
        &enhanced_ref,
        vec![
            inner_ref,
            labels(&[("app", "web"), ("tier", "front")]),
            Value::Map(Map::frozen(ElemType::String, Vec::<(&str, Value)>::new())),
            owners,
            Value::Bool(false),
        ],
    );
    let sv = StructValue::new(
        enhanced.clone(),
        vec![
            ev,
            "prod".into(),
            involved,
            Value::Int(TS * 1000),
            "2024-05-14T10:00:03.000Z".into(),
        ],
    )
    .unwrap()
    .into_pointer();
    Value::from(sv)
}

/// The JSON Go's `encoding/json` writes for [`event`].
pub const EVENT_JSON: &str = concat!(
    r#"{"metadata":{"name":"web-1.17cf","namespace":"shop","uid":"0b7c","resourceVersion":"918273","creationTimestamp":"2024-05-14T10:00:03Z"},"#,
    r#""reason":"BackOff","message":"Back-off restarting failed container web in pod web-1_shop(5e1d)","#,
    r#""source":{"component":"kubelet","host":"node-a"},"firstTimestamp":"2024-05-14T10:00:03Z","lastTimestamp":"2024-05-14T10:00:03Z","#,
    r#""count":5,"type":"Warning","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"node-a","clusterName":"prod","#,
    r#""involvedObject":{"kind":"Pod","namespace":"shop","name":"web-1","uid":"5e1d","apiVersion":"v1","resourceVersion":"918100","fieldPath":"spec.containers{web}","#,
    r#""labels":{"app":"web","tier":"front"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-6d4","uid":"9a0b","controller":true,"blockOwnerDeletion":true}],"deleted":false}}"#
);

/// A `map[string]interface{}` with one value of every common kind.
pub fn map() -> Value {
    Value::map([
        ("a", Value::Int(1)),
        ("s", Value::from("str")),
        ("f", Value::Float(1.5)),
        ("b", Value::Bool(true)),
        ("nil", Value::Nil),
        (
            "list",
            Value::list([Value::Int(1), Value::from("two"), Value::Float(3.5)]),
        ),
        ("m", Value::map([("x", Value::from("y"))])),
        ("empty", Value::from("")),
        ("zero", Value::Int(0)),
        ("strs", Value::List(List::from_strings(["b", "a", "c"]))),
    ])
}
