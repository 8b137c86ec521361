//! `metav1.ObjectMeta` and its parts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{is_zero_i64, nullable};
use crate::time::Time;

/// `metav1.ObjectMeta`, in Go field order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Prefix for server-generated names.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub generate_name: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Deprecated self link (never set by 1.24 servers).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub self_link: String,
    /// Unique id.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
    /// Opaque resource version (a decimal etcd revision here).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub resource_version: String,
    /// Generation of the desired state.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub generation: i64,
    /// Creation time; serialised as `null` when unset, like Go.
    #[serde(default)]
    pub creation_timestamp: Option<Time>,
    /// Set when the object is being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Time>,
    /// Grace period of a pending deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// Labels (sorted, like Go maps).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Annotations (sorted, like Go maps).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Owners of the object.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub owner_references: Vec<OwnerReference>,
    /// Finalizers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finalizers: Vec<String>,
    /// Server-side-apply field ownership.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// `metav1.OwnerReference`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// API version of the owner.
    #[serde(default, deserialize_with = "nullable")]
    pub api_version: String,
    /// Kind of the owner.
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    /// Name of the owner.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// UID of the owner.
    #[serde(default, deserialize_with = "nullable")]
    pub uid: String,
    /// Whether the owner is the managing controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    /// Whether the owner blocks foreground deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// `metav1.ManagedFieldsEntry`; `fieldsV1` is kept as raw JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    /// Field manager (the client's user-agent prefix).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub manager: String,
    /// `Update` or `Apply`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub operation: String,
    /// API version the fields were written through.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// When the manager last changed its fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// Always `FieldsV1`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub fields_type: String,
    /// The owned field set.
    #[serde(default, rename = "fieldsV1", skip_serializing_if = "Option::is_none")]
    pub fields_v1: Option<Box<RawValue>>,
    /// Subresource the fields were written through (for example `status`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub subresource: String,
}

impl ManagedFieldsEntry {
    /// Builds an `Update` entry for `manager` owning `fields` (a JSON object).
    pub fn update(manager: &str, api_version: &str, time: Time, fields: Box<RawValue>) -> Self {
        Self {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: api_version.to_owned(),
            time: Some(time),
            fields_type: "FieldsV1".to_owned(),
            fields_v1: Some(fields),
            subresource: String::new(),
        }
    }
}

/// Only the `metadata` of an object, borrowed without parsing the rest.
#[derive(Deserialize)]
pub(crate) struct MetadataOnly<'a> {
    #[serde(borrow)]
    pub metadata: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_fixture_bytes() {
        let raw = r#"{"name":"nginx-55b49f585d-pjdb6","generateName":"nginx-55b49f585d-","namespace":"shop","uid":"8bfb2d83-b9ab-4c40-841b-5dbac8946fc7","resourceVersion":"261","creationTimestamp":"2026-11-22T01:30:47Z","labels":{"app":"nginx","pod-template-hash":"55b49f585d"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"nginx-55b49f585d","uid":"a7e5e744-4bf0-40fd-a4f6-22c97f9c10b0","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"kube-scheduler","operation":"Update","apiVersion":"v1","time":"2026-11-22T01:30:47Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{}},"subresource":"status"}]}"#;
        let m: ObjectMeta = serde_json::from_str(raw).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), raw);
    }

    #[test]
    fn empty_metadata_has_null_creation_timestamp() {
        let m = ObjectMeta {
            resource_version: "7".into(),
            ..ObjectMeta::default()
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"resourceVersion":"7","creationTimestamp":null}"#
        );
    }

    #[test]
    fn null_maps_are_accepted() {
        let m: ObjectMeta = serde_json::from_str(r#"{"name":"a","labels":null}"#).unwrap();
        assert!(m.labels.is_empty());
    }
}
