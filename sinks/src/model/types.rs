//! The Go struct types of kubernetes-event-exporter's `*kube.EnhancedEvent`, as
//! `text/template` and `encoding/json` see them, built once per process.
//!
//! Field order, Go names, JSON names and `omitempty` follow `k8s.io/api/core/v1`,
//! `k8s.io/apimachinery/pkg/apis/meta/v1` (v0.26) and KEE's `pkg/kube/event.go`.
//! Struct-typed fields (`source`, `metav1.Time`) are declared without `omitempty`
//! because `encoding/json` never omits a struct; the output is the same.
//! Zero-argument methods and herald's extras are declared as methods so they
//! are reachable from templates but never printed or serialised.

use std::sync::{Arc, LazyLock};

use herald_template::StructType;

/// Every struct type of the model.
pub(crate) struct Types {
    /// `v1.TypeMeta` (embedded inline in `v1.Event`; always empty for informer objects).
    pub(crate) type_meta: Arc<StructType>,
    /// `v1.ObjectMeta` plus its getter methods.
    pub(crate) object_meta: Arc<StructType>,
    /// `v1.OwnerReference`.
    pub(crate) owner_reference: Arc<StructType>,
    /// `v1.EventSource`.
    pub(crate) event_source: Arc<StructType>,
    /// `v1.EventSeries`.
    pub(crate) event_series: Arc<StructType>,
    /// `v1.ObjectReference`.
    pub(crate) object_reference: Arc<StructType>,
    /// `kube.EnhancedObjectReference`.
    pub(crate) enhanced_object_reference: Arc<StructType>,
    /// `v1.Event`.
    pub(crate) event: Arc<StructType>,
    /// `kube.EnhancedEvent`.
    pub(crate) enhanced_event: Arc<StructType>,
}

/// The types, built on first use.
pub(crate) static TYPES: LazyLock<Types> = LazyLock::new(Types::build);

impl Types {
    fn build() -> Types {
        let type_meta = StructType::builder("v1.TypeMeta")
            .field_omitempty("Kind", "kind")
            .field_omitempty("APIVersion", "apiVersion")
            .build();
        let owner_reference = StructType::builder("v1.OwnerReference")
            .field("APIVersion", "apiVersion")
            .field("Kind", "kind")
            .field("Name", "name")
            .field("UID", "uid")
            .field_omitempty("Controller", "controller")
            .field_omitempty("BlockOwnerDeletion", "blockOwnerDeletion")
            .build();
        let object_meta = StructType::builder("v1.ObjectMeta")
            .field_omitempty("Name", "name")
            .field_omitempty("GenerateName", "generateName")
            .field_omitempty("Namespace", "namespace")
            .field_omitempty("SelfLink", "selfLink")
            .field_omitempty("UID", "uid")
            .field_omitempty("ResourceVersion", "resourceVersion")
            .field_omitempty("Generation", "generation")
            .field("CreationTimestamp", "creationTimestamp")
            .field_omitempty("DeletionTimestamp", "deletionTimestamp")
            .field_omitempty("DeletionGracePeriodSeconds", "deletionGracePeriodSeconds")
            .field_omitempty("Labels", "labels")
            .field_omitempty("Annotations", "annotations")
            .field_omitempty("OwnerReferences", "ownerReferences")
            .field_omitempty("Finalizers", "finalizers")
            .field_omitempty("ManagedFields", "managedFields")
            .method("GetName")
            .method("GetNamespace")
            .method("GetUID")
            .method("GetLabels")
            .method("GetAnnotations")
            .method("GetResourceVersion")
            .build();
        let event_source = StructType::builder("v1.EventSource")
            .field_omitempty("Component", "component")
            .field_omitempty("Host", "host")
            .build();
        let event_series = StructType::builder("v1.EventSeries")
            .field_omitempty("Count", "count")
            .field("LastObservedTime", "lastObservedTime")
            .build();
        let object_reference = StructType::builder("v1.ObjectReference")
            .field_omitempty("Kind", "kind")
            .field_omitempty("Namespace", "namespace")
            .field_omitempty("Name", "name")
            .field_omitempty("UID", "uid")
            .field_omitempty("APIVersion", "apiVersion")
            .field_omitempty("ResourceVersion", "resourceVersion")
            .field_omitempty("FieldPath", "fieldPath")
            .build();
        let enhanced_object_reference = StructType::builder("kube.EnhancedObjectReference")
            .embedded("ObjectReference", &object_reference, None)
            .field_omitempty("Labels", "labels")
            .field_omitempty("Annotations", "annotations")
            .field_omitempty("OwnerReferences", "ownerReferences")
            .field("Deleted", "deleted")
            .method("NamespaceLabels")
            .build();
        let event = StructType::builder("v1.Event")
            .embedded("TypeMeta", &type_meta, None)
            .embedded("ObjectMeta", &object_meta, Some("metadata"))
            .field("InvolvedObject", "involvedObject")
            .field_omitempty("Reason", "reason")
            .field_omitempty("Message", "message")
            .field("Source", "source")
            .field("FirstTimestamp", "firstTimestamp")
            .field("LastTimestamp", "lastTimestamp")
            .field_omitempty("Count", "count")
            .field_omitempty("Type", "type")
            .field("EventTime", "eventTime")
            .field_omitempty("Series", "series")
            .field_omitempty("Action", "action")
            .field_omitempty("Related", "related")
            .field("ReportingController", "reportingComponent")
            .field("ReportingInstance", "reportingInstance")
            .build();
        let enhanced_event = StructType::builder("kube.EnhancedEvent")
            .embedded("Event", &event, None)
            .field("ClusterName", "clusterName")
            .field("InvolvedObject", "involvedObject")
            .method("GetTimestampMs")
            .method("GetTimestampISO8601")
            .method("IdempotencyKey")
            .method("Offset")
            .method("Occurrence")
            .method("ObservedAt")
            .build();
        Types {
            type_meta,
            object_meta,
            owner_reference,
            event_source,
            event_series,
            object_reference,
            enhanced_object_reference,
            event,
            enhanced_event,
        }
    }
}
