//! Pods for receiver hooks with `enrichPod`: read from the API server with the
//! ruler's client and kept for [`TTL`], so the Events of one Pod (often several
//! in a burst) cost one read.
//!
//! Reads are plain GETs of `/api/v1/namespaces/<ns>/pods/<name>`, the answer kept
//! as JSON: the script gets the Pod as the API server serves it. A Pod that does
//! not exist is remembered as gone for the same time; a failed read is not
//! remembered, so the next Event of the Pod tries again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{Method, Request, header};
use kube::client::Body;
use serde_json::Value;

use herald_sinks::hook::{PodLookup, PodSource};

use crate::rule_objects::kube::{segment, unary};

/// How long a read Pod (or its absence) is kept.
pub const TTL: Duration = Duration::from_secs(30);
/// Bound on one read: the hook's event waits for it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Pods kept at most; the oldest half goes when it is reached.
const MAX_ENTRIES: usize = 10_000;

/// Reads Pods through a Kubernetes client, with a short-lived cache.
pub struct KubePods {
    client: kube::Client,
    runtime: tokio::runtime::Handle,
    cache: Mutex<HashMap<(String, String), (Instant, PodLookup)>>,
}

impl std::fmt::Debug for KubePods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubePods").finish_non_exhaustive()
    }
}

impl KubePods {
    /// Reads through `client`; `runtime` runs the reads (hooks call from
    /// blocking threads).
    pub fn new(client: kube::Client, runtime: tokio::runtime::Handle) -> KubePods {
        KubePods {
            client,
            runtime,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn read(&self, namespace: &str, name: &str) -> PodLookup {
        let uri = format!(
            "/api/v1/namespaces/{}/pods/{}",
            segment(namespace),
            segment(name)
        );
        let request = match Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
        {
            Ok(r) => r,
            Err(e) => return PodLookup::Failed(e.to_string()),
        };
        match unary(&self.client, request, READ_TIMEOUT).await {
            Ok(body) => match serde_json::from_slice::<Value>(&body) {
                Ok(pod) => PodLookup::Found(pod),
                Err(e) => PodLookup::Failed(format!("cannot read the Pod: {e}")),
            },
            Err(e) if e.is_not_found() => PodLookup::NotFound,
            Err(e) => PodLookup::Failed(e.to_string()),
        }
    }
}

impl PodSource for KubePods {
    fn pod(&self, namespace: &str, name: &str) -> PodLookup {
        let key = (namespace.to_owned(), name.to_owned());
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, lookup)) = cache.get(&key)
                && at.elapsed() < TTL
            {
                return lookup.clone();
            }
        }
        let lookup = self.runtime.block_on(self.read(namespace, name));
        if !matches!(lookup, PodLookup::Failed(_)) {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= MAX_ENTRIES {
                cache.retain(|_, (at, _)| at.elapsed() < TTL / 2);
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now(), lookup.clone()));
        }
        lookup
    }
}
