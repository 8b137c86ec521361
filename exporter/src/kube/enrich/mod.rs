//! Involved-object enrichment (KEE's `objects.go`, without its bugs).
//!
//! Each Event gets its involved object's labels, annotations, ownerReferences and
//! deletion state (and optionally its namespace's labels). Where they come from:
//!
//! * **Pods**, the kind most Events are about, when `watch_pods` is on: a
//!   metadata-only list+watch of every Pod (`metadata_watch`) keeps their metadata in
//!   memory, so a Pod that appears and goes costs no request at all; a deleted Pod's
//!   last metadata is kept (marked deleted) for `cache_ttl`.
//! * **namespace labels**, when `watch_namespaces` is on: a metadata-only list+watch
//!   of every Namespace (`namespaces`) keeps their labels current, so a label change
//!   reaches the next Events within seconds; a namespace it has not seen is looked up
//!   with a GET like any other object.
//! * **everything else** (and Pods the watch has not seen): a metadata-only GET, kept
//!   in a bounded TTL cache keyed by object UID; concurrent lookups of one object share
//!   one request.
//!
//! The API budget (`kubeQPS`/`kubeBurst`) is shared with the Event watch, which must
//! never wait for lookups. Lookup requests are sent by one dispatcher (`fetch`) and
//! paid only with tokens the rate limiter has to spare, never reserved ahead, the most
//! useful first. An Event waits for its metadata at most `max_wait`, then goes on
//! unenriched (`lookup: Failed`); its lookup carries on (bounded by `timeout` once
//! sent) and the answer serves the object's next Events. What is known and what is
//! waiting, and the order in which lookups are sent, live in `state`.

mod fetch;
mod namespaces;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared as SharedFuture};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::debug;

use herald_proto::kube_json::has_involved_object;
use herald_proto::{Event, InvolvedObject, Lookup};

use self::namespaces::NamespaceView;
use self::state::{Answer, State};
use super::api::{KubeApi, ObjectMetadata, collection_path};
use super::backoff::BackoffOptions;
use super::discovery::Discovery;
use super::error::ApiError;
use super::metadata_watch::{
    Change, MetadataSink, MetadataWatch, MetadataWatchOptions, UNAVAILABLE_RETRY,
};
use super::packed::PackedMetadata;
use crate::store::uid_key;

/// Enrichment settings.
#[derive(Debug, Clone)]
pub struct EnrichOptions {
    /// KEE `omitLookup`: fetch nothing, mark every event `lookup: Skipped`.
    pub omit_lookup: bool,
    /// KEE `cacheSize`: objects (and namespaces) kept in the cache.
    pub cache_size: usize,
    /// How long found metadata stays cached (and a deleted Pod's last metadata).
    pub cache_ttl: Duration,
    /// How long "not found" (and forbidden / unknown kind) answers stay cached.
    pub negative_ttl: Duration,
    /// Longest time an Event waits for its metadata before it goes on without it.
    pub max_wait: Duration,
    /// Bound on one lookup request once sent (it goes on after `max_wait` and fills
    /// the cache for the object's next Events).
    pub timeout: Duration,
    /// Lookup requests in flight at most.
    pub max_concurrent: usize,
    /// Also attach the labels of the object's namespace.
    pub namespace_labels: bool,
    /// A group-version is re-discovered at most this often on an unknown kind.
    pub discovery_refresh: Duration,
    /// Keep every Pod's metadata from a metadata-only list+watch instead of reading
    /// Pods one by one.
    pub watch_pods: bool,
    /// Watch the Pods of this namespace only (`None`: all namespaces).
    pub watch_namespace: Option<String>,
    /// Page size of the Pod list.
    pub watch_page_size: u32,
    /// Minimum server-side timeout of the Pod watch.
    pub watch_timeout: Duration,
    /// Keep every namespace's labels from a metadata-only list+watch of Namespaces
    /// (with `namespace_labels`; not with `watch_namespace`, where RBAC grants only
    /// that one namespace); namespaces it has not seen are read one by one.
    pub watch_namespaces: bool,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            omit_lookup: false,
            cache_size: 1024,
            cache_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
            max_concurrent: 8,
            namespace_labels: true,
            discovery_refresh: Duration::from_secs(60),
            watch_pods: false,
            watch_namespace: None,
            watch_page_size: 500,
            watch_timeout: Duration::from_secs(300),
            watch_namespaces: false,
        }
    }
}

/// Adds involved-object metadata to Events; cheap to clone and share. Must be created
/// inside a Tokio runtime: it starts the dispatcher (and the Pod watch) there, and
/// stops them when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    _tasks: Vec<AbortOnDrop>,
}

/// What the enricher, its dispatcher and its Pod watch share.
#[derive(Debug)]
struct Shared {
    api: KubeApi,
    opts: EnrichOptions,
    discovery: Discovery,
    state: Mutex<State>,
    /// Wakes the dispatcher when a lookup may have become due.
    wake: Notify,
    /// Last failure warning per kind.
    warned: Mutex<HashMap<String, Instant>>,
    /// Namespace labels from the Namespace watch (`None` without it).
    namespaces: Option<Arc<NamespaceView>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Aborts a background task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type SharedLookup = SharedFuture<BoxFuture<'static, Outcome>>;

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

impl Enricher {
    /// Creates an enricher reading through `api`, and starts its background tasks.
    pub fn new(api: KubeApi, opts: EnrichOptions) -> Self {
        let watch_pods = opts.watch_pods && !opts.omit_lookup;
        let watch_namespaces = opts.watch_namespaces
            && opts.namespace_labels
            && !opts.omit_lookup
            && opts.watch_namespace.is_none();
        let namespaces = watch_namespaces.then(|| Arc::new(NamespaceView::default()));
        let shared = Arc::new(Shared {
            discovery: Discovery::new(api.clone(), opts.discovery_refresh),
            state: Mutex::new(State::new(
                opts.cache_size,
                opts.cache_ttl,
                opts.negative_ttl,
                opts.max_wait,
                watch_pods,
                opts.watch_namespace.clone(),
            )),
            wake: Notify::new(),
            warned: Mutex::new(HashMap::new()),
            namespaces: namespaces.clone(),
            api,
            opts,
        });
        let mut tasks = Vec::new();
        if !shared.opts.omit_lookup {
            tasks.push(AbortOnDrop(tokio::spawn(fetch::dispatch(shared.clone()))));
        }
        if watch_pods {
            let watch = MetadataWatch::new(
                shared.api.clone(),
                MetadataWatchOptions {
                    path: collection_path("v1", "pods", shared.opts.watch_namespace.as_deref()),
                    what: "pods",
                    page_size: shared.opts.watch_page_size,
                    watch_timeout: shared.opts.watch_timeout,
                    backoff: BackoffOptions::default(),
                    unavailable_retry: UNAVAILABLE_RETRY,
                },
            );
            let sink: Arc<dyn MetadataSink> = Arc::new(PodSink(shared.clone()));
            tasks.push(AbortOnDrop(tokio::spawn(watch.run(sink))));
        }
        if let Some(view) = namespaces {
            // paid with spare tokens like the Pod watch: the Event watch never waits
            let watch = MetadataWatch::new(
                shared.api.clone(),
                MetadataWatchOptions {
                    path: collection_path("v1", "namespaces", None),
                    what: "namespaces",
                    page_size: shared.opts.watch_page_size,
                    watch_timeout: shared.opts.watch_timeout,
                    backoff: BackoffOptions::default(),
                    unavailable_retry: UNAVAILABLE_RETRY,
                },
            );
            let sink: Arc<dyn MetadataSink> = view;
            tasks.push(AbortOnDrop(tokio::spawn(watch.run(sink))));
        }
        Self {
            inner: Arc::new(Inner {
                shared,
                _tasks: tasks,
            }),
        }
    }

    /// Fills `ev.involved_object` with the object's metadata, waiting at most
    /// `max_wait`.
    ///
    /// Never fails: the outcome is recorded in `involved_object.lookup` (`Found`,
    /// `NotFound` with `deleted: true`, `Failed`, or `Skipped` when lookups are off or
    /// the event names no object).
    pub async fn enrich(&self, ev: &mut Event) {
        let shared = &self.inner.shared;
        let opts = &shared.opts;
        if opts.omit_lookup || !has_involved_object(ev) || ev.involved_object.name.is_empty() {
            ev.involved_object.lookup = Lookup::Skipped;
            return;
        }
        let deadline = Instant::now() + opts.max_wait;
        let seen = ev.last_seen();
        let object = &ev.involved_object;
        let object_lookup = self.lookup(object_key(object), object_target(object), seen);
        let wants_namespace = opts.namespace_labels && !object.namespace.is_empty();
        let watched_labels = shared
            .namespaces
            .as_ref()
            .filter(|_| wants_namespace)
            .and_then(|view| view.labels(&object.namespace));
        let namespace_lookup = (wants_namespace && watched_labels.is_none()).then(|| {
            self.lookup(
                Key::Namespace(object.namespace.clone()),
                Target::Namespace(object.namespace.clone()),
                None,
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
                shared.api.stats().record_lookup_failure();
                io.lookup = Lookup::Failed;
            }
            Err(_) => {
                shared.api.stats().record_lookup_failure();
                debug!(kind = %io.kind, name = %io.name, "involved object metadata not there in time, logging the event without it");
                io.lookup = Lookup::Failed;
            }
        }
        if let Some(labels) = watched_labels {
            io.namespace_labels = labels;
        } else if let Some(Outcome::Found(ns)) = namespace_result {
            io.namespace_labels = ns.unpack().labels;
        }
    }

    /// Returns the known outcome for `key`, or joins / registers its lookup.
    fn lookup(
        &self,
        key: Key,
        target: Target,
        seen: Option<chrono::DateTime<chrono::Utc>>,
    ) -> BoxFuture<'static, Outcome> {
        let shared = &self.inner.shared;
        let stats = shared.api.stats();
        let (answer, from_memory) = shared.lock().lookup(key, target, seen);
        match from_memory {
            Some(true) => stats.record_cache_hit(),
            Some(false) => stats.record_cache_miss(),
            None => debug!("too many involved object lookups pending, skipping one"),
        }
        match answer {
            Answer::Ready(outcome) => futures::future::ready(outcome).boxed(),
            Answer::Wait { rx, wake } => {
                if wake {
                    shared.wake.notify_one();
                }
                rx.boxed()
            }
        }
    }

    /// Lookups waiting for an answer or on their way.
    pub fn pending_lookups(&self) -> usize {
        self.inner.shared.lock().pending_len()
    }

    /// Pods in the Pod watch's view (0 without the watch).
    pub fn watched_pods(&self) -> usize {
        self.inner.shared.lock().watched_pods()
    }

    /// Namespaces in the Namespace watch's view (0 without the watch).
    pub fn watched_namespaces(&self) -> usize {
        self.inner.shared.namespaces.as_ref().map_or(0, |v| v.len())
    }
}

/// Feeds the Pod watch into the shared state.
struct PodSink(Arc<Shared>);

impl MetadataSink for PodSink {
    fn list_started(&self) {
        self.0.lock().list_started();
    }

    fn list_page(&self, items: Vec<ObjectMetadata>) {
        self.0.lock().list_page(items);
    }

    fn list_complete(&self) {
        if self.0.lock().list_complete() {
            self.0.wake.notify_one();
        }
    }

    fn change(&self, change: Change) {
        self.0.lock().change(change);
    }

    fn unavailable(&self, error: &ApiError) {
        debug!(%error, "pod metadata watch unavailable");
        if self.0.lock().unavailable() {
            self.0.wake.notify_one();
        }
    }
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
