//! Lazy, cached API discovery: (apiVersion, kind) → (resource plural, namespaced).
//!
//! KEE runs a full discovery (`/api`, `/apis`, every group-version) on every cache miss;
//! here only the one group-version an involved object names is fetched, once, and kept.
//! A kind that the cached list does not know triggers a refresh of that group-version at
//! most once per `refresh_after` (CRDs installed later become resolvable). Group-versions
//! are independent: a slow discovery of one does not hold up lookups in another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::api::{ApiResource, KubeApi};
use super::error::ApiError;

/// Group-versions remembered at most (the strings come from Events, so bound them).
const MAX_GROUP_VERSIONS: usize = 512;

/// The cached resource list of one group-version.
#[derive(Debug)]
struct GroupVersion {
    /// When the list was fetched.
    fetched: Instant,
    /// Resources by kind (empty when the group-version is not served).
    by_kind: HashMap<String, ApiResource>,
}

type Slot = Arc<tokio::sync::Mutex<Option<GroupVersion>>>;

/// Discovery cache shared by all lookups.
#[derive(Debug)]
pub(crate) struct Discovery {
    api: KubeApi,
    refresh_after: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Discovery {
    pub(crate) fn new(api: KubeApi, refresh_after: Duration) -> Self {
        Self {
            api,
            refresh_after,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Resolves `kind` in `api_version` (empty means the core group, `v1`).
    ///
    /// Returns `Ok(None)` when the group-version does not serve that kind.
    ///
    /// # Errors
    /// A failed discovery request (other than 404, which means "unknown").
    pub(crate) async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<ApiResource>, ApiError> {
        let group_version = if api_version.is_empty() {
            "v1"
        } else {
            api_version
        };
        let slot = self.slot(group_version);
        let mut cached = slot.lock().await;
        if let Some(gv) = cached.as_ref() {
            if let Some(resource) = gv.by_kind.get(kind) {
                return Ok(Some(resource.clone()));
            }
            if gv.fetched.elapsed() < self.refresh_after {
                return Ok(None);
            }
        }
        let by_kind = match self.api.api_resources(group_version).await {
            Ok(resources) => {
                let mut by_kind = HashMap::with_capacity(resources.len());
                for r in resources {
                    by_kind.entry(r.kind.clone()).or_insert(r);
                }
                by_kind
            }
            Err(ApiError::NotFound { .. }) => HashMap::new(),
            Err(e) => return Err(e),
        };
        let resource = by_kind.get(kind).cloned();
        *cached = Some(GroupVersion {
            fetched: Instant::now(),
            by_kind,
        });
        Ok(resource)
    }

    fn slot(&self, group_version: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(group_version) {
            return slot.clone();
        }
        if slots.len() >= MAX_GROUP_VERSIONS {
            slots.clear();
        }
        slots.entry(group_version.to_owned()).or_default().clone()
    }
}
