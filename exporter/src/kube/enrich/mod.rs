//! Involved-object enrichment (KEE's `objects.go`, without its bugs).
//!
//! For each Event the involved object's labels, annotations, ownerReferences and
//! deletion state (and optionally its namespace's labels) are read with a metadata-only
//! GET and kept in a bounded TTL cache keyed by object UID. A slow API server delays
//! enrichment, never ingestion: every [`Enricher::enrich`] call has a deadline covering
//! queueing and the request; when it passes the event goes on unenriched
//! (`lookup: Failed`) while the fetch finishes in the background and warms the cache.
//! Concurrent lookups of one object share one request, and a semaphore bounds the
//! requests in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};

use herald_proto::kube_json::has_involved_object;
use herald_proto::{Event, InvolvedObject, Lookup};

use super::api::{KubeApi, ObjectMetadata, object_path};
use super::cache::GenCache;
use super::discovery::Discovery;
use super::error::ApiError;
use super::packed::{Interner, PackedMetadata};
use crate::store::uid_key;

/// Lookups waiting or running at most; beyond that new lookups fail at once.
const MAX_PENDING: usize = 4096;
/// At most one failure warning per kind in this period.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Kinds remembered for warning rate limiting.
const MAX_WARN_KINDS: usize = 256;

/// Enrichment settings.
#[derive(Debug, Clone)]
pub struct EnrichOptions {
    /// KEE `omitLookup`: fetch nothing, mark every event `lookup: Skipped`.
    pub omit_lookup: bool,
    /// KEE `cacheSize`: objects (and namespaces) kept in the cache.
    pub cache_size: usize,
    /// How long found metadata stays cached.
    pub cache_ttl: Duration,
    /// How long "not found" (and forbidden / unknown kind) answers stay cached.
    pub negative_ttl: Duration,
    /// Deadline of one `enrich` call, queueing included.
    pub timeout: Duration,
    /// Lookup requests in flight at most.
    pub max_concurrent: usize,
    /// Also attach the labels of the object's namespace.
    pub namespace_labels: bool,
    /// A group-version is re-discovered at most this often on an unknown kind.
    pub discovery_refresh: Duration,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            omit_lookup: false,
            cache_size: 1024,
            cache_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_concurrent: 8,
            namespace_labels: true,
            discovery_refresh: Duration::from_secs(60),
        }
    }
}

/// Adds involved-object metadata to Events; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    api: KubeApi,
    opts: EnrichOptions,
    discovery: Discovery,
    permits: Semaphore,
    state: Mutex<State>,
    /// Last failure warning per kind.
    warned: Mutex<HashMap<String, Instant>>,
}

#[derive(Debug)]
struct State {
    cache: GenCache<Key, Cached>,
    inflight: HashMap<Key, SharedLookup>,
    /// Shares the metadata of objects that carry identical labels and owners.
    interner: Interner,
}

type SharedLookup = Shared<BoxFuture<'static, Outcome>>;

/// Cache key: the object's UID (as its 128-bit [`uid_key`]), or its reference when it
/// has none; or a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uid(u128),
    Reference(String),
    Namespace(String),
}

/// What a lookup found.
#[derive(Debug, Clone)]
enum Outcome {
    Found(PackedMetadata),
    NotFound,
    Failed,
}

#[derive(Debug)]
struct Cached {
    outcome: Outcome,
    expires: Instant,
}

/// What to fetch for a key.
#[derive(Debug, Clone)]
enum Target {
    Object {
        api_version: String,
        kind: String,
        namespace: String,
        name: String,
    },
    Namespace(String),
}

/// Why a fetch failed, and whether that answer may be cached.
struct Failure {
    error: String,
    cacheable: bool,
}

impl Enricher {
    /// Creates an enricher reading through `api`.
    pub fn new(api: KubeApi, opts: EnrichOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                discovery: Discovery::new(api.clone(), opts.discovery_refresh),
                permits: Semaphore::new(opts.max_concurrent.max(1)),
                state: Mutex::new(State {
                    cache: GenCache::new(opts.cache_size.max(2)),
                    inflight: HashMap::new(),
                    interner: Interner::default(),
                }),
                warned: Mutex::new(HashMap::new()),
                api,
                opts,
            }),
        }
    }

    /// Fills `ev.involved_object` with the object's metadata, within the deadline.
    ///
    /// Never fails: the outcome is recorded in `involved_object.lookup` (`Found`,
    /// `NotFound` with `deleted: true`, `Failed`, or `Skipped` when lookups are off or
    /// the event names no object).
    pub async fn enrich(&self, ev: &mut Event) {
        let opts = &self.inner.opts;
        if opts.omit_lookup || !has_involved_object(ev) || ev.involved_object.name.is_empty() {
            ev.involved_object.lookup = Lookup::Skipped;
            return;
        }
        let deadline = Instant::now() + opts.timeout;
        let object = &ev.involved_object;
        let object_lookup = self.lookup(object_key(object), object_target(object));
        let namespace_lookup = (opts.namespace_labels && !object.namespace.is_empty()).then(|| {
            self.lookup(
                Key::Namespace(object.namespace.clone()),
                Target::Namespace(object.namespace.clone()),
            )
        });
        let namespace_result = async {
            match namespace_lookup {
                Some(lookup) => tokio::time::timeout_at(deadline, lookup).await.ok(),
                None => None,
            }
        };
        let (object_result, namespace_result) = tokio::join!(
            tokio::time::timeout_at(deadline, object_lookup),
            namespace_result
        );
        let io = &mut ev.involved_object;
        match object_result {
            Ok(Outcome::Found(meta)) => {
                let meta = meta.unpack();
                io.labels = meta.labels;
                io.annotations = meta.annotations;
                io.owner_references = meta.owner_references;
                io.deleted = meta.deleting;
                io.lookup = Lookup::Found;
            }
            Ok(Outcome::NotFound) => {
                io.deleted = true;
                io.lookup = Lookup::NotFound;
            }
            Ok(Outcome::Failed) => {
                self.inner.api.stats().record_lookup_failure();
                io.lookup = Lookup::Failed;
            }
            Err(_) => {
                self.inner.api.stats().record_lookup_failure();
                debug!(kind = %io.kind, name = %io.name, "involved object lookup timed out");
                io.lookup = Lookup::Failed;
            }
        }
        if let Some(Outcome::Found(ns)) = namespace_result {
            io.namespace_labels = ns.unpack().labels;
        }
    }

    /// Returns the cached outcome for `key`, or joins / starts the fetch of `target`.
    fn lookup(&self, key: Key, target: Target) -> BoxFuture<'static, Outcome> {
        let inner = &self.inner;
        let stats = inner.api.stats();
        let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match state.cache.get(&key) {
            Some(cached) if cached.expires > now => {
                stats.record_cache_hit();
                let outcome = cached.outcome.clone();
                return futures::future::ready(outcome).boxed();
            }
            Some(_) => state.cache.remove(&key),
            None => {}
        }
        stats.record_cache_miss();
        if let Some(running) = state.inflight.get(&key) {
            return running.clone().boxed();
        }
        if state.inflight.len() >= MAX_PENDING {
            debug!("too many involved object lookups pending, skipping one");
            return futures::future::ready(Outcome::Failed).boxed();
        }
        let task = tokio::spawn(fetch(inner.clone(), key.clone(), target));
        let shared = async move { task.await.unwrap_or(Outcome::Failed) }
            .boxed()
            .shared();
        state.inflight.insert(key, shared.clone());
        shared.boxed()
    }
}

/// Removes the in-flight entry when the fetch task ends, even by panic.
struct InflightGuard {
    inner: Arc<Inner>,
    key: Key,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.inflight.remove(&self.key);
    }
}

/// Fetches `target`, caches the answer and returns it. Runs as its own task so that it
/// completes (and warms the cache) even when every waiter has given up.
async fn fetch(inner: Arc<Inner>, key: Key, target: Target) -> Outcome {
    let _guard = InflightGuard {
        inner: inner.clone(),
        key: key.clone(),
    };
    let result = match inner.permits.acquire().await {
        Ok(_permit) => fetch_target(&inner, &target).await,
        // The semaphore is never closed; treat it as a failure anyway.
        Err(_) => Err(Failure {
            error: "lookup semaphore closed".to_owned(),
            cacheable: false,
        }),
    };
    let (mut outcome, ttl) = match result {
        Ok(Some(meta)) => (
            Outcome::Found(PackedMetadata::pack(meta)),
            Some(inner.opts.cache_ttl),
        ),
        Ok(None) => (Outcome::NotFound, Some(inner.opts.negative_ttl)),
        Err(failure) => {
            warn_failure(&inner, &target, &failure.error);
            (
                Outcome::Failed,
                failure.cacheable.then_some(inner.opts.negative_ttl),
            )
        }
    };
    if let Some(ttl) = ttl {
        let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Outcome::Found(meta) = outcome {
            outcome = Outcome::Found(state.interner.intern(meta));
        }
        state.cache.insert(
            key,
            Cached {
                outcome: outcome.clone(),
                expires: Instant::now() + ttl,
            },
        );
    }
    outcome
}

/// Reads the metadata; `Ok(None)` means 404.
async fn fetch_target(inner: &Inner, target: &Target) -> Result<Option<ObjectMetadata>, Failure> {
    let path = match target {
        Target::Namespace(name) => {
            return match inner.api.get_namespace(name).await {
                Ok(meta) => Ok(Some(meta)),
                Err(ApiError::NotFound { .. }) => Ok(None),
                Err(e) => Err(api_failure(&e)),
            };
        }
        Target::Object {
            api_version,
            kind,
            namespace,
            name,
        } => {
            let resource = inner
                .discovery
                .resolve(api_version, kind)
                .await
                .map_err(|e| api_failure(&e))?
                .ok_or_else(|| Failure {
                    error: format!("kind {kind} is not served in {api_version:?}"),
                    cacheable: true,
                })?;
            let group_version = if api_version.is_empty() {
                "v1"
            } else {
                api_version
            };
            let namespace = match (resource.namespaced, namespace.is_empty()) {
                (true, true) => {
                    return Err(Failure {
                        error: format!("{kind} is namespaced but the reference has no namespace"),
                        cacheable: true,
                    });
                }
                (true, false) => Some(namespace.as_str()),
                (false, _) => None,
            };
            object_path(group_version, &resource.name, namespace, name)
        }
    };
    match inner.api.get_metadata(&path).await {
        Ok(meta) => Ok(Some(meta)),
        Err(ApiError::NotFound { .. }) => {
            debug!(%path, "involved object not found, likely deleted");
            Ok(None)
        }
        Err(e) => Err(api_failure(&e)),
    }
}

fn api_failure(e: &ApiError) -> Failure {
    Failure {
        error: e.to_string(),
        // RBAC does not change by itself within seconds; transient errors may.
        cacheable: matches!(e, ApiError::Forbidden { .. }),
    }
}

/// Logs a lookup failure at most once per kind per [`WARN_EVERY`].
fn warn_failure(inner: &Inner, target: &Target, error: &str) {
    let kind = match target {
        Target::Object { kind, .. } => kind.as_str(),
        Target::Namespace(_) => "Namespace",
    };
    let now = Instant::now();
    let mut warned = inner.warned.lock().unwrap_or_else(|p| p.into_inner());
    if warned
        .get(kind)
        .is_some_and(|last| now.saturating_duration_since(*last) < WARN_EVERY)
    {
        debug!(%kind, %error, "involved object lookup failed");
        return;
    }
    if warned.len() >= MAX_WARN_KINDS {
        warned.clear();
    }
    warned.insert(kind.to_owned(), now);
    warn!(%kind, %error, "involved object lookup failed, exporting events of this kind unenriched");
}

fn object_key(object: &InvolvedObject) -> Key {
    if object.uid.is_empty() {
        Key::Reference(format!(
            "{}/{}/{}/{}",
            object.api_version, object.kind, object.namespace, object.name
        ))
    } else {
        Key::Uid(uid_key(&object.uid))
    }
}

fn object_target(object: &InvolvedObject) -> Target {
    Target::Object {
        api_version: object.api_version.clone(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_uid_or_reference() {
        let mut o = InvolvedObject {
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "web".into(),
            api_version: "v1".into(),
            uid: "u-1".into(),
            ..Default::default()
        };
        assert_eq!(object_key(&o), Key::Uid(uid_key("u-1")));
        o.uid.clear();
        assert_eq!(object_key(&o), Key::Reference("v1/Pod/shop/web".into()));
    }
}
