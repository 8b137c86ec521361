//! Lease access for leader election: the [`LeaseStore`] seam (the API server, or a fake
//! in unit tests) and the JSON handling of the holder record and annotations.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::api::KubeApi;
use super::error::ApiError;
use super::leader::{CHECKPOINT_ANNOTATION, HOLDER_ANNOTATION};

/// Reads and writes Leases (the API server, or a fake in tests).
pub(crate) trait LeaseStore: Send + Sync + std::fmt::Debug + 'static {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, ApiError>>;
    fn create<'a>(
        &'a self,
        namespace: &'a str,
        lease: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>>;
    fn replace<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        lease: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>>;
}

impl LeaseStore for KubeApi {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        self.get_lease(namespace, name).boxed()
    }

    fn create<'a>(
        &'a self,
        namespace: &'a str,
        lease: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        self.create_lease(namespace, lease).boxed()
    }

    fn replace<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        lease: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        self.replace_lease(namespace, name, lease).boxed()
    }
}

/// The holder-related fields of a Lease spec, as read; compared to detect renewals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Record {
    /// `spec.holderIdentity` (empty: free or released).
    pub(crate) holder: String,
    /// `spec.leaseDurationSeconds` as the holder declared it.
    pub(crate) lease_duration_secs: i64,
    /// `spec.acquireTime` (MicroTime text, empty when null).
    pub(crate) acquire_time: String,
    /// `spec.renewTime` (MicroTime text, empty when null).
    pub(crate) renew_time: String,
    /// `spec.leaseTransitions`.
    pub(crate) transitions: i64,
}

/// Returns the holder fields of a Lease.
pub(crate) fn record_of(lease: &Value) -> Record {
    let spec = lease.get("spec");
    let text = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let int = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Value::as_i64)
            .unwrap_or_default()
    };
    Record {
        holder: text("holderIdentity"),
        lease_duration_secs: int("leaseDurationSeconds"),
        acquire_time: text("acquireTime"),
        renew_time: text("renewTime"),
        transitions: int("leaseTransitions"),
    }
}

pub(crate) fn annotation(lease: &Value, key: &str) -> Option<String> {
    lease
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
        .map(str::to_owned)
}

/// Writes `record` into the Lease spec and, unless `checkpoint` is empty, the
/// checkpoint and holder annotations. Other fields (resourceVersion included) stay.
pub(crate) fn write_record(lease: &mut Value, record: &Record, identity: &str, checkpoint: &str) {
    let Some(object) = lease.as_object_mut() else {
        return;
    };
    let time = |t: &str| {
        if t.is_empty() {
            Value::Null
        } else {
            Value::from(t)
        }
    };
    let spec = object.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        spec.insert("holderIdentity".into(), Value::from(record.holder.as_str()));
        spec.insert(
            "leaseDurationSeconds".into(),
            Value::from(record.lease_duration_secs),
        );
        spec.insert("acquireTime".into(), time(&record.acquire_time));
        spec.insert("renewTime".into(), time(&record.renew_time));
        spec.insert("leaseTransitions".into(), Value::from(record.transitions));
    }
    let metadata = object.entry("metadata").or_insert_with(|| json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if !annotations.is_object() {
            *annotations = json!({});
        }
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(HOLDER_ANNOTATION.into(), Value::from(identity));
            if !checkpoint.is_empty() {
                annotations.insert(CHECKPOINT_ANNOTATION.into(), Value::from(checkpoint));
            }
        }
    }
}

pub(crate) fn duration_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)
}

/// Returns now as a Kubernetes MicroTime.
pub(crate) fn micro_time_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_record_keeps_other_fields() {
        let mut lease: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../kubesim/fixtures/lease.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let before = record_of(&lease);
        assert_eq!(before.holder, "event-exporter-7d9f8b6c5-abcde_3f1c2a9e");
        assert_eq!(before.lease_duration_secs, 15);
        let record = Record {
            holder: "me".into(),
            ..before.clone()
        };
        write_record(&mut lease, &record, "me", "cp");
        assert_eq!(lease["metadata"]["resourceVersion"], "285");
        assert_eq!(lease["metadata"]["labels"]["app"], "event-exporter");
        assert_eq!(
            lease["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "cp"
        );
        assert_eq!(record_of(&lease).holder, "me");
        write_record(&mut lease, &record, "me", "");
        assert_eq!(
            lease["metadata"]["annotations"][CHECKPOINT_ANNOTATION], "cp",
            "an empty checkpoint keeps the previous one"
        );
    }
}
