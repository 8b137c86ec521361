//! The [`Simulator`] handle: start/stop, client configuration files, and the Rust API
//! that drives the store (every write bumps the global revision and reaches watches).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{KubeconfigAuth, SimConfig, TlsMode};
use crate::error::SimError;
use crate::faults::Faults;
use crate::fixtures;
use crate::kubeconfig::{self, ServiceAccountDir, UserCreds};
use crate::model::event::Event;
use crate::model::meta::ObjectMeta;
use crate::records::RequestRecord;
use crate::resources::ResourceDef;
use crate::server;
use crate::shared::Shared;
use crate::store::{Store, StoreError, events, objects};
use crate::time::Time;
use crate::tls::Pki;

/// Background tasks of a running simulator.
#[derive(Debug)]
struct Tasks {
    shutdown: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
    janitor: Option<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(j) = &self.janitor {
            j.abort();
        }
    }
}

/// A running API server simulator. Cheap to clone; every clone drives the same server.
#[derive(Clone, Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

fn to_sim_error(resource: &str, namespace: &str, name: &str, e: StoreError) -> SimError {
    match e {
        StoreError::NotFound => SimError::NotFound {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        StoreError::AlreadyExists => SimError::AlreadyExists {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        StoreError::TooOld { compacted } => {
            SimError::InvalidObject(format!("revision compacted at {compacted}"))
        }
        StoreError::Rejected(msg) => SimError::InvalidObject(msg),
    }
}

fn parse_event(ev: &Value) -> Result<Event, SimError> {
    let bytes = serde_json::to_vec(ev).map_err(|e| SimError::InvalidObject(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SimError::InvalidObject(format!("not a core/v1 Event: {e}")))
}

fn parse_meta(meta: &Value) -> Result<ObjectMeta, SimError> {
    let bytes = serde_json::to_vec(meta).map_err(|e| SimError::InvalidObject(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SimError::InvalidObject(format!("invalid metadata: {e}")))
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

impl Simulator {
    /// Binds the listener (`127.0.0.1:0` by default), generates certificates when TLS is
    /// configured, and starts serving.
    ///
    /// # Errors
    /// [`SimError::Bind`] when the address is taken, TLS errors when certificate
    /// generation fails.
    pub async fn start(cfg: SimConfig) -> Result<Simulator, SimError> {
        let listener = TcpListener::bind(cfg.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: cfg.bind,
            source,
        })?;
        let (pki, acceptor) = match cfg.tls {
            Some(mode) => {
                let pki = Pki::generate()?;
                let acceptor = TlsAcceptor::from(pki.server_config(mode)?);
                (Some(pki), Some(acceptor))
            }
            None => (None, None),
        };
        let ttl = cfg.event_ttl;
        let shared = Arc::new(Shared::new(cfg, addr, pki));
        let (shutdown, rx) = watch::channel(false);
        let server_task = tokio::spawn(
            server::serve(listener, shared.clone(), acceptor, rx)
                .instrument(info_span!("kubesim", %addr)),
        );
        let janitor = ttl.map(|ttl| tokio::spawn(expire_events(Arc::downgrade(&shared), ttl)));
        info!(url = %shared.url(), "kubesim listening");
        Ok(Simulator {
            shared,
            tasks: Arc::new(Tasks {
                shutdown,
                server: Mutex::new(Some(server_task)),
                janitor,
            }),
        })
    }

    /// Base URL (`http://127.0.0.1:PORT` or `https://…`).
    pub fn url(&self) -> String {
        self.shared.url()
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The CA certificate (PEM) when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.pki.as_ref().map(|p| p.ca_pem.as_str())
    }

    /// The generated client certificate and key (PEM) when serving TLS.
    pub fn client_identity_pem(&self) -> Option<(&str, &str)> {
        self.shared
            .pki
            .as_ref()
            .map(|p| (p.client_cert_pem.as_str(), p.client_key_pem.as_str()))
    }

    /// The configured bearer token.
    pub fn token(&self) -> Option<&str> {
        self.shared.cfg.token.as_deref()
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }

    /// Writes a kubeconfig with one context (`kubesim`) pointing at this simulator.
    ///
    /// # Errors
    /// [`SimError::AuthUnavailable`] when the credentials do not exist in this
    /// configuration (no token, or no client-certificate TLS mode); [`SimError::Write`].
    pub fn write_kubeconfig(&self, path: &Path, auth: KubeconfigAuth) -> Result<(), SimError> {
        let creds = match &auth {
            KubeconfigAuth::Token => {
                UserCreds::Token(self.token().ok_or(SimError::AuthUnavailable("token"))?)
            }
            KubeconfigAuth::CustomToken(t) => UserCreds::Token(t),
            KubeconfigAuth::ClientCert => {
                let client_certs = matches!(
                    self.shared.cfg.tls,
                    Some(TlsMode::ClientCertOptional | TlsMode::ClientCertRequired)
                );
                match self.client_identity_pem() {
                    Some((cert_pem, key_pem)) if client_certs => {
                        UserCreds::ClientCert { cert_pem, key_pem }
                    }
                    _ => return Err(SimError::AuthUnavailable("client certificate")),
                }
            }
            KubeconfigAuth::Anonymous => UserCreds::None,
        };
        let yaml = kubeconfig::render(&self.url(), self.ca_pem(), creds, "default");
        kubeconfig::write(path, yaml.as_bytes())
    }

    /// Writes `token`, `ca.crt` and `namespace` into `dir`, as mounted into pods at
    /// `/var/run/secrets/kubernetes.io/serviceaccount`.
    ///
    /// # Errors
    /// [`SimError::AuthUnavailable`] without TLS (in-cluster clients always use HTTPS);
    /// [`SimError::Write`].
    pub fn write_service_account_dir(&self, dir: &Path) -> Result<ServiceAccountDir, SimError> {
        let ca = self.ca_pem().ok_or(SimError::AuthUnavailable(
            "in-cluster service account (needs tls)",
        ))?;
        std::fs::create_dir_all(dir).map_err(|source| SimError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let token = self.token().unwrap_or("kubesim-anonymous");
        let sa = ServiceAccountDir {
            dir: dir.to_owned(),
            token_path: dir.join("token"),
            ca_path: dir.join("ca.crt"),
            namespace_path: dir.join("namespace"),
            host: self.shared.addr.ip().to_string(),
            port: self.shared.addr.port(),
        };
        kubeconfig::write(&sa.token_path, token.as_bytes())?;
        kubeconfig::write(&sa.ca_path, ca.as_bytes())?;
        kubeconfig::write(
            &sa.namespace_path,
            self.shared.cfg.service_account_namespace.as_bytes(),
        )?;
        Ok(sa)
    }

    /// Loads the 72 captured events (`fixtures/core-v1-eventlist.json`). On an empty
    /// store they keep their captured resourceVersions (so lists match the capture byte
    /// for byte, at RV 279); otherwise they get new ones. Events that already exist are
    /// skipped. Returns how many were added.
    ///
    /// # Errors
    /// [`SimError::Fixture`] if the embedded capture cannot be decoded.
    pub fn load_fixture_events(&self) -> Result<usize, SimError> {
        #[derive(serde::Deserialize)]
        struct List {
            items: Vec<Event>,
        }
        let list: List = serde_json::from_slice(fixtures::CORE_EVENT_LIST).map_err(|source| {
            SimError::Fixture {
                name: "core-v1-eventlist.json",
                source,
            }
        })?;
        let mut items: Vec<(u64, Event)> = list
            .items
            .into_iter()
            .map(|e| (e.metadata.resource_version.parse().unwrap_or(0), e))
            .collect();
        items.sort_by_key(|(rv, _)| *rv);
        let min_rv = items.first().map(|(rv, _)| *rv).unwrap_or(0);
        Ok(self.shared.write(|store| {
            let replay = store.rv() < min_rv;
            let mut added = 0;
            for (rv, mut e) in items {
                let key = events::key(&e.metadata.namespace, &e.metadata.name);
                if store.get(&key).is_some() {
                    continue;
                }
                if replay {
                    match events::encode(&e) {
                        Ok(bytes) => store.load(&key, bytes, rv),
                        Err(error) => {
                            warn!(error = %error, "skipping fixture event");
                            continue;
                        }
                    }
                } else if store
                    .create(&key, |rv| {
                        e.metadata.resource_version = rv.to_string();
                        events::encode(&e)
                    })
                    .is_err()
                {
                    continue;
                }
                added += 1;
            }
            added
        }))
    }

    /// Loads the captured namespaces (6, with their labels) and the captured pod
    /// `shop/nginx-55b49f585d-pjdb6` with its ownerReferences, keeping their
    /// resourceVersions. Returns how many objects were stored.
    ///
    /// # Errors
    /// [`SimError::Fixture`] if an embedded capture cannot be decoded.
    pub fn load_fixture_objects(&self) -> Result<usize, SimError> {
        #[derive(serde::Deserialize)]
        struct Item {
            metadata: ObjectMeta,
        }
        #[derive(serde::Deserialize)]
        struct List {
            items: Vec<Item>,
        }
        let namespaces: List =
            serde_json::from_slice(fixtures::NAMESPACE_LIST_METADATA).map_err(|source| {
                SimError::Fixture {
                    name: "namespace-list-metadata.json",
                    source,
                }
            })?;
        let pod: Item =
            serde_json::from_slice(fixtures::POD_METADATA).map_err(|source| SimError::Fixture {
                name: "involved-pod-metadata.json",
                source,
            })?;
        let registry = self.shared.registry();
        let ns_def = registry.by_kind("", "Namespace").cloned();
        let pod_def = registry.by_kind("", "Pod").cloned();
        drop(registry);
        let (Some(ns_def), Some(pod_def)) = (ns_def, pod_def) else {
            return Ok(0);
        };
        let mut objs: Vec<(u64, String, Bytes)> = Vec::new();
        for item in namespaces.items {
            let m = item.metadata;
            let key = objects::key(&ns_def, "", &m.name);
            let rv = m.resource_version.parse().unwrap_or(0);
            if let Ok(bytes) = objects::encode(&m, objects::default_rest("Namespace")) {
                objs.push((rv, key, bytes));
            }
        }
        let m = pod.metadata;
        let key = objects::key(&pod_def, &m.namespace, &m.name);
        if let Ok(bytes) = objects::encode(&m, "") {
            objs.push((m.resource_version.parse().unwrap_or(0), key, bytes));
        }
        objs.sort_by_key(|(rv, _, _)| *rv);
        let n = objs.len();
        self.shared.write(|store| {
            for (rv, key, bytes) in objs {
                store.load(&key, bytes, rv);
            }
        });
        Ok(n)
    }

    /// Creates an event like the API server does on `POST`: fills `uid`,
    /// `creationTimestamp` and `managedFields` when missing, assigns the next revision,
    /// and validates it. Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`SimError::InvalidObject`] for JSON that is not an Event, [`SimError::Invalid`]
    /// for API validation failures, [`SimError::AlreadyExists`].
    pub fn create_event(&self, ev: Value) -> Result<String, SimError> {
        let e = events::prepare(parse_event(&ev)?).map_err(|st| SimError::Invalid(st.message))?;
        let (ns, name) = (e.metadata.namespace.clone(), e.metadata.name.clone());
        self.shared
            .write(|store| events::create(store, e))
            .map(|rv| rv.to_string())
            .map_err(|err| to_sim_error("events", &ns, &name, err))
    }

    /// [`Simulator::create_event`] for an already typed event (no JSON round trip).
    ///
    /// # Errors
    /// As [`Simulator::create_event`].
    pub fn create_typed_event(&self, ev: Event) -> Result<String, SimError> {
        let e = events::prepare(ev).map_err(|st| SimError::Invalid(st.message))?;
        let (ns, name) = (e.metadata.namespace.clone(), e.metadata.name.clone());
        self.shared
            .write(|store| events::create(store, e))
            .map(|rv| rv.to_string())
            .map_err(|err| to_sim_error("events", &ns, &name, err))
    }

    /// Replaces a stored event with `ev` (like `PUT`), keeping its uid and creation time.
    /// Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`SimError::InvalidObject`], [`SimError::NotFound`].
    pub fn update_event(&self, ev: Value) -> Result<String, SimError> {
        let new = parse_event(&ev)?;
        let ns = if new.metadata.namespace.is_empty() {
            "default".to_owned()
        } else {
            new.metadata.namespace.clone()
        };
        let name = new.metadata.name.clone();
        let namespace = ns.clone();
        self.modify_event(&ns, &name, move |e| {
            let uid = std::mem::take(&mut e.metadata.uid);
            let created = e.metadata.creation_timestamp;
            *e = new;
            e.metadata.namespace = namespace;
            e.metadata.uid = uid;
            e.metadata.creation_timestamp = created;
        })
    }

    fn modify_event(
        &self,
        namespace: &str,
        name: &str,
        f: impl FnOnce(&mut Event),
    ) -> Result<String, SimError> {
        self.shared
            .write(|store| events::modify(store, namespace, name, f))
            .map(|rv| rv.to_string())
            .map_err(|err| to_sim_error("events", namespace, name, err))
    }

    /// Records a repeat occurrence: `count + 1` and `lastTimestamp = now`, or
    /// `series.count + 1` and `series.lastObservedTime = now` for `events.k8s.io`-style
    /// events. Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`SimError::NotFound`].
    pub fn bump_count(&self, namespace: &str, name: &str) -> Result<String, SimError> {
        self.modify_event(namespace, name, events::bump)
    }

    /// [`Simulator::bump_count`] with an explicit occurrence time (for deterministic runs).
    ///
    /// # Errors
    /// [`SimError::NotFound`].
    pub fn bump_count_at(
        &self,
        namespace: &str,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<String, SimError> {
        self.modify_event(namespace, name, |e| events::bump_at(e, at))
    }

    /// Changes only the event's metadata (an annotation), leaving the occurrence count
    /// alone. Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`SimError::NotFound`].
    pub fn touch_metadata(&self, namespace: &str, name: &str) -> Result<String, SimError> {
        self.modify_event(namespace, name, events::touch)
    }

    /// Deletes an event (watches get DELETED at the new revision). Returns that revision.
    ///
    /// # Errors
    /// [`SimError::NotFound`].
    pub fn delete_event(&self, namespace: &str, name: &str) -> Result<String, SimError> {
        self.shared
            .write(|store| events::delete(store, namespace, name))
            .map(|rv| rv.to_string())
            .map_err(|err| to_sim_error("events", namespace, name, err))
    }

    /// Reads a stored event back as JSON.
    pub fn event(&self, namespace: &str, name: &str) -> Option<Value> {
        let bytes = self
            .shared
            .store()
            .get(&events::key(namespace, name))?
            .bytes
            .clone();
        serde_json::from_slice(&bytes).ok()
    }

    /// Number of stored events.
    pub fn event_count(&self) -> usize {
        self.shared.store().count(events::EVENTS)
    }

    /// The current (global) resourceVersion.
    pub fn resource_version(&self) -> String {
        self.shared.store().rv().to_string()
    }

    /// Compacts history: every resourceVersion before the current one becomes too old
    /// for watches, exact lists and continue tokens. Returns the compaction revision.
    pub fn compact(&self) -> String {
        self.shared.write(Store::compact).to_string()
    }

    /// Restores "etcd" to its state at `resource_version`, as an operator restoring an
    /// etcd snapshot does: everything written later is gone and the next write gets
    /// `resource_version + 1` again, so a client that saw later revisions now holds a
    /// resourceVersion from the future. Open watches end (the API servers restart
    /// after a restore). Returns the current resourceVersion.
    ///
    /// # Errors
    /// [`SimError::InvalidObject`] when `resource_version` is not a number or was
    /// compacted.
    pub fn restore_etcd(&self, resource_version: &str) -> Result<String, SimError> {
        let at: u64 = resource_version.parse().map_err(|_| {
            SimError::InvalidObject(format!("invalid resourceVersion {resource_version:?}"))
        })?;
        let rv = self
            .shared
            .write(|s| s.rewind(at))
            .map_err(|e| to_sim_error("events", "", "", e))?;
        self.shared.faults.close_watches();
        Ok(rv.to_string())
    }

    /// Creates or updates an object with only metadata (labels, annotations,
    /// ownerReferences…) given, such as an involved object or a namespace. Updates keep
    /// the stored uid, creation time and other fields. Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`SimError::UnknownKind`] for kinds not in the registry,
    /// [`SimError::InvalidObject`] for bad metadata.
    pub fn put_object(
        &self,
        api_version: &str,
        kind: &str,
        metadata: Value,
    ) -> Result<String, SimError> {
        let meta = parse_meta(&metadata)?;
        self.put(api_version, kind, meta, None)
    }

    /// [`Simulator::put_object`] with typed metadata (no JSON round trip).
    ///
    /// # Errors
    /// As [`Simulator::put_object`].
    pub fn put_object_meta(
        &self,
        api_version: &str,
        kind: &str,
        metadata: ObjectMeta,
    ) -> Result<String, SimError> {
        self.put(api_version, kind, metadata, None)
    }

    /// Like [`Simulator::put_object`] for a whole object: top-level fields other than
    /// `kind`, `apiVersion` and `metadata` (such as `spec` and `status`) are stored too.
    ///
    /// # Errors
    /// As [`Simulator::put_object`].
    pub fn put_object_full(&self, object: Value) -> Result<String, SimError> {
        let map = object
            .as_object()
            .ok_or_else(|| SimError::InvalidObject("object must be a JSON object".to_owned()))?;
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        let meta = parse_meta(map.get("metadata").unwrap_or(&Value::Null))?;
        let rest = objects::rest_from_value(map).map_err(SimError::InvalidObject)?;
        self.put(api_version, kind, meta, Some(rest))
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Result<ResourceDef, SimError> {
        let (group, version) = split_api_version(api_version);
        self.shared
            .registry()
            .by_kind(group, kind)
            .filter(|d| d.versions.iter().any(|v| v == version))
            .cloned()
            .ok_or_else(|| SimError::UnknownKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            })
    }

    fn put(
        &self,
        api_version: &str,
        kind: &str,
        mut meta: ObjectMeta,
        rest: Option<String>,
    ) -> Result<String, SimError> {
        let def = self.resolve(api_version, kind)?;
        if def.namespaced {
            if meta.namespace.is_empty() {
                meta.namespace = "default".to_owned();
            }
        } else {
            meta.namespace.clear();
        }
        if !events::valid_name(&meta.name)
            || (def.namespaced && !events::valid_name(&meta.namespace))
        {
            return Err(SimError::InvalidObject(format!(
                "invalid name {:?} or namespace {:?}",
                meta.name, meta.namespace
            )));
        }
        if def.kind == "Namespace" && def.group.is_empty() {
            meta.labels
                .entry("kubernetes.io/metadata.name".to_owned())
                .or_insert_with(|| meta.name.clone());
        }
        if meta.uid.is_empty() {
            meta.uid = uuid::Uuid::new_v4().to_string();
        }
        let key = objects::key(&def, &meta.namespace, &meta.name);
        let (ns, name) = (meta.namespace.clone(), meta.name.clone());
        let default_rest = objects::default_rest(&def.kind).to_owned();
        let rv = self.shared.write(|store| {
            if store.get(&key).is_some() {
                store.update(&key, |cur, rv| {
                    let old = objects::metadata(cur)?;
                    let mut kept_rest = match &rest {
                        Some(r) => r.clone(),
                        None => String::from_utf8_lossy(objects::rest(cur)?).into_owned(),
                    };
                    let mut meta = meta;
                    if def.generation {
                        let (r, generation) = objects::custom_write(
                            &kept_rest,
                            Some((old.generation, objects::rest(cur)?)),
                            def.has_status(),
                        )?;
                        kept_rest = r;
                        meta.generation = generation;
                    }
                    if meta.uid.is_empty() || meta.uid != old.uid {
                        meta.uid = old.uid;
                    }
                    meta.creation_timestamp = meta.creation_timestamp.or(old.creation_timestamp);
                    meta.resource_version = rv.to_string();
                    objects::encode(&meta, &kept_rest)
                })
            } else {
                store.create(&key, |rv| {
                    let mut meta = meta;
                    meta.creation_timestamp = meta.creation_timestamp.or_else(|| Some(Time::now()));
                    meta.resource_version = rv.to_string();
                    let mut rest = rest.filter(|r| !r.is_empty()).unwrap_or(default_rest);
                    if def.generation {
                        let (r, generation) = objects::custom_write(&rest, None, def.has_status())?;
                        rest = r;
                        meta.generation = generation;
                    }
                    objects::encode(&meta, &rest)
                })
            }
        });
        rv.map(|rv| rv.to_string())
            .map_err(|e| to_sim_error(&def.plural, &ns, &name, e))
    }

    /// Deletes an object. Returns the deletion revision.
    ///
    /// # Errors
    /// [`SimError::UnknownKind`], [`SimError::NotFound`].
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<String, SimError> {
        let def = self.resolve(api_version, kind)?;
        let namespace = if def.namespaced { namespace } else { "" };
        let key = objects::key(&def, namespace, name);
        self.shared
            .write(|store| {
                store.delete(&key, |bytes, rv| {
                    objects::replace_metadata(bytes, |m| m.resource_version = rv.to_string())
                })
            })
            .map(|rv| rv.to_string())
            .map_err(|e| to_sim_error(&def.plural, namespace, name, e))
    }

    /// Reads a stored object back as JSON (with `kind` and `apiVersion`).
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let def = self.resolve(api_version, kind).ok()?;
        let namespace = if def.namespaced { namespace } else { "" };
        let bytes = self
            .shared
            .store()
            .get(&objects::key(&def, namespace, name))?
            .bytes
            .clone();
        serde_json::from_slice(&crate::json::with_type_meta(kind, api_version, &bytes)).ok()
    }

    /// Serves another resource type (for example a custom resource); new groups are
    /// added to `/apis`.
    pub fn register_resource(&self, def: ResourceDef) {
        self.shared.registry_mut().register(def);
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Requests served so far (oldest first, bounded by [`SimConfig::request_log_limit`]).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.records.snapshot()
    }

    /// Forgets recorded requests.
    pub fn clear_requests(&self) {
        self.shared.records.clear();
    }

    /// Number of watch streams currently open.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches()
    }

    /// Waits until `n` watches are open, or `timeout` passes. Returns whether it happened.
    pub async fn wait_for_watches(&self, n: usize, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.open_watches() >= n {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Ends open watches, stops accepting connections and waits for the server to stop.
    pub async fn shutdown(self) {
        self.shared.faults.close_watches();
        let _ = self.tasks.shutdown.send(true);
        let task = self
            .tasks
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
            && error.is_panic()
        {
            warn!(error = %error, "kubesim server task panicked");
        }
        info!("kubesim stopped");
    }
}

/// Deletes events older than the TTL, like etcd lease expiry.
async fn expire_events(shared: std::sync::Weak<Shared>, ttl: Duration) {
    let period = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(cutoff) = Instant::now().checked_sub(ttl) else {
            continue;
        };
        let expired = shared.store().written_before(events::EVENTS, cutoff);
        for key in expired {
            shared.write(|store| {
                let _ = store.delete(&key, |bytes, rv| {
                    let mut e = events::decode(bytes)?;
                    e.metadata.resource_version = rv.to_string();
                    events::encode(&e)
                });
            });
        }
    }
}
