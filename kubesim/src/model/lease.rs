//! `coordination.k8s.io/v1` Lease.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;
use crate::time::MicroTime;

/// A Lease as sent by clients (with `kind`/`apiVersion`, which are ignored).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LeaseInput {
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Lease spec.
    #[serde(default)]
    pub spec: LeaseSpec,
}

/// `LeaseSpec` (1.24 fields), every field optional and `omitempty`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    /// Current holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    /// Lease duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<MicroTime>,
    /// Last renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<MicroTime>,
    /// Number of holder changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
}

impl LeaseSpec {
    /// Names (JSON keys) of the fields that are set, for managedFields.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.acquire_time.is_some() {
            out.push("acquireTime");
        }
        if self.holder_identity.is_some() {
            out.push("holderIdentity");
        }
        if self.lease_duration_seconds.is_some() {
            out.push("leaseDurationSeconds");
        }
        if self.lease_transitions.is_some() {
            out.push("leaseTransitions");
        }
        if self.renew_time.is_some() {
            out.push("renewTime");
        }
        out
    }
}
