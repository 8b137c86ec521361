//! Raw calls to the Kubernetes API through [`kube::Client::send`].
//!
//! Going below kube's typed `Api` lets herald see status codes and headers (410,
//! `Retry-After`), stream watch lines itself and send a metadata-only `Accept`. Every
//! call first takes a token from the shared [`RateLimiter`] and is counted in
//! [`KubeStats`]; unary calls are bounded by the request timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use kube::client::Body;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use herald_proto::OwnerReference;
use herald_proto::kube_json::KubeOwnerReference;

use super::error::ApiError;
use super::limiter::RateLimiter;
use super::stats::{KubeStats, RequestKind};
use super::watch_stream::EventWatch;

/// `Accept` header asking for PartialObjectMetadata (metadata only, any resource type).
pub const ACCEPT_METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// Default bound on one unary request (list page, lookup, lease call).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Handle for raw API calls; cheap to clone, clones share the rate limiter.
#[derive(Clone)]
pub struct KubeApi {
    client: kube::Client,
    limiter: RateLimiter,
    request_timeout: Duration,
}

impl std::fmt::Debug for KubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApi")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Parameters of one Event list page.
#[derive(Debug, Clone, Default)]
pub struct ListParams<'a> {
    /// Only Events of this namespace; all namespaces when `None`.
    pub namespace: Option<&'a str>,
    /// Page size (`limit`); 0 means unpaged.
    pub limit: u32,
    /// `continue` token of the previous page.
    pub continue_token: Option<&'a str>,
    /// `resourceVersion` (unset: a consistent, most recent read).
    pub resource_version: Option<&'a str>,
}

/// One page of an Event list. Items are kept as JSON so that one bad item does not
/// spoil the page.
#[derive(Debug, Clone)]
pub struct EventListPage {
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
    /// `metadata.continue`, when more pages follow.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`, when the server sent it.
    pub remaining_item_count: Option<i64>,
    /// The Events of this page, as raw JSON (parsed one by one, typed).
    pub items: Vec<Box<RawValue>>,
}

/// The metadata of an object, as read with [`ACCEPT_METADATA`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectMetadata {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.ownerReferences`.
    pub owner_references: Vec<OwnerReference>,
    /// True when `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

/// One resource of an APIResourceList (discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    /// Plural resource name (`pods`).
    pub name: String,
    /// `kind` (`Pod`).
    pub kind: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

// === wire shapes ===

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireListMeta {
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
    #[serde(default)]
    remaining_item_count: Option<i64>,
}

#[derive(Deserialize)]
struct WireList {
    #[serde(default)]
    metadata: WireListMeta,
    #[serde(default)]
    items: Option<Vec<Box<RawValue>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireMeta {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    owner_references: Option<Vec<KubeOwnerReference>>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct WireObject {
    #[serde(default)]
    metadata: WireMeta,
}

#[derive(Deserialize)]
struct WireResourceList {
    #[serde(default)]
    resources: Vec<WireResource>,
}

#[derive(Deserialize)]
struct WireResource {
    name: String,
    kind: String,
    #[serde(default)]
    namespaced: bool,
}

#[derive(Deserialize)]
struct WireApiVersions {
    #[serde(default)]
    versions: Vec<String>,
}

impl KubeApi {
    /// Wraps `client`; every request takes a token from `limiter` and is bounded by
    /// `request_timeout` (watches: until the response headers arrive).
    ///
    /// The client should have kube's own retry layer off (`Config::default_retry =
    /// false`, as [`super::client::connect`] does): herald handles 429 and 5xx itself.
    pub fn new(client: kube::Client, limiter: RateLimiter, request_timeout: Duration) -> Self {
        Self {
            client,
            limiter,
            request_timeout,
        }
    }

    /// Returns the statistics the calls report into.
    pub fn stats(&self) -> &Arc<KubeStats> {
        self.limiter.stats()
    }

    /// Returns the underlying client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Lists one page of core/v1 Events.
    ///
    /// # Errors
    /// [`ApiError::Gone`] when the resourceVersion or continue token expired; any other
    /// classified failure.
    pub async fn list_events(&self, params: &ListParams<'_>) -> Result<EventListPage, ApiError> {
        let mut query = Query::default();
        if params.limit > 0 {
            query.push("limit", &params.limit.to_string());
        }
        if let Some(token) = params.continue_token {
            query.push("continue", token);
        }
        if let Some(rv) = params.resource_version {
            query.push("resourceVersion", rv);
        }
        let uri = format!("{}{}", events_path(params.namespace), query.finish());
        let body = self
            .get(RequestKind::List, &uri, "application/json")
            .await?;
        let list: WireList =
            serde_json::from_slice(&body).map_err(|e| ApiError::decode("event list", e, &body))?;
        Ok(EventListPage {
            resource_version: list.metadata.resource_version.unwrap_or_default(),
            continue_token: list.metadata.continue_token.filter(|t| !t.is_empty()),
            remaining_item_count: list.metadata.remaining_item_count,
            items: list.items.unwrap_or_default(),
        })
    }

    /// Starts a watch of core/v1 Events from `resource_version`, with bookmarks and a
    /// server-side timeout drawn from `[timeout, 2 × timeout)` like client-go.
    ///
    /// # Errors
    /// Any classified failure of the initial response; errors after that arrive through
    /// the returned [`EventWatch`].
    pub async fn watch_events(
        &self,
        namespace: Option<&str>,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<EventWatch, ApiError> {
        let secs = randomised_timeout_secs(timeout);
        let mut query = Query::default();
        query.push("watch", "1");
        query.push("allowWatchBookmarks", "true");
        query.push("resourceVersion", resource_version);
        query.push("timeoutSeconds", &secs.to_string());
        let uri = format!("{}{}", events_path(namespace), query.finish());
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            // Watch bodies are newline-framed JSON; keep them uncompressed.
            .header(header::ACCEPT_ENCODING, "identity")
            .body(Body::empty())
            .map_err(|e| ApiError::decode("watch request", e, b""))?;
        self.limiter.acquire().await;
        self.stats().record_request(RequestKind::Watch);
        let response = tokio::time::timeout(self.request_timeout, self.client.send(request))
            .await
            .map_err(|_| ApiError::Timeout(self.request_timeout))??;
        if !response.status().is_success() {
            let (parts, body) = response.into_parts();
            let bytes = tokio::time::timeout(self.request_timeout, body.collect_bytes())
                .await
                .map_err(|_| ApiError::Timeout(self.request_timeout))??;
            return Err(self.failure(parts.status, &parts.headers, &bytes));
        }
        Ok(EventWatch::new(response.into_body()))
    }

    /// Reads the metadata of the object at `path` (for example
    /// `/api/v1/namespaces/shop/pods/web-1`) as PartialObjectMetadata.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when the object does not exist; any other classified
    /// failure.
    pub async fn get_metadata(&self, path: &str) -> Result<ObjectMetadata, ApiError> {
        let body = self.get(RequestKind::Lookup, path, ACCEPT_METADATA).await?;
        let object: WireObject = serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode("object metadata", e, &body))?;
        let m = object.metadata;
        Ok(ObjectMetadata {
            uid: m.uid.unwrap_or_default(),
            labels: m.labels.unwrap_or_default(),
            annotations: m.annotations.unwrap_or_default(),
            owner_references: m
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .map(KubeOwnerReference::into_domain)
                .collect(),
            deleting: m.deletion_timestamp.is_some_and(|t| !t.is_empty()),
        })
    }

    /// Reads the metadata of namespace `name`.
    ///
    /// # Errors
    /// As [`KubeApi::get_metadata`].
    pub async fn get_namespace(&self, name: &str) -> Result<ObjectMetadata, ApiError> {
        self.get_metadata(&format!("/api/v1/namespaces/{}", segment(name)))
            .await
    }

    /// Returns the versions of the core group (`GET /api`).
    ///
    /// # Errors
    /// Any classified failure.
    pub async fn core_api_versions(&self) -> Result<Vec<String>, ApiError> {
        self.core_api_versions_as(RequestKind::Lookup).await
    }

    async fn core_api_versions_as(&self, kind: RequestKind) -> Result<Vec<String>, ApiError> {
        let body = self.get(kind, "/api", "application/json").await?;
        let versions: WireApiVersions = serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode("api versions", e, &body))?;
        Ok(versions.versions)
    }

    /// Checks that the API server answers and accepts the credentials (`GET /api`).
    ///
    /// # Errors
    /// Any classified failure.
    pub async fn probe(&self) -> Result<(), ApiError> {
        self.core_api_versions_as(RequestKind::Other)
            .await
            .map(drop)
    }

    /// Returns the resources of one group-version (`GET /api/v1` or
    /// `GET /apis/<group>/<version>`), without subresources.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when the group-version is not served; any other classified
    /// failure.
    pub async fn api_resources(&self, group_version: &str) -> Result<Vec<ApiResource>, ApiError> {
        let path = group_version_path(group_version);
        let body = self
            .get(RequestKind::Lookup, &path, "application/json")
            .await?;
        let list: WireResourceList = serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode("api resource list", e, &body))?;
        Ok(list
            .resources
            .into_iter()
            .filter(|r| !r.name.contains('/'))
            .map(|r| ApiResource {
                name: r.name,
                kind: r.kind,
                namespaced: r.namespaced,
            })
            .collect())
    }

    /// Reads Lease `name` in `namespace` as JSON.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when it does not exist; any other classified failure.
    pub async fn get_lease(&self, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let path = format!("{}/{}", leases_path(namespace), segment(name));
        let body = self
            .get(RequestKind::Lease, &path, "application/json")
            .await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::decode("lease", e, &body))
    }

    /// Creates a Lease in `namespace`.
    ///
    /// # Errors
    /// [`ApiError::Conflict`] when it already exists; any other classified failure.
    pub async fn create_lease(&self, namespace: &str, lease: &Value) -> Result<Value, ApiError> {
        let path = leases_path(namespace);
        self.write_json(Method::POST, &path, lease).await
    }

    /// Replaces Lease `name`; `lease` must carry the resourceVersion it was read at.
    ///
    /// # Errors
    /// [`ApiError::Conflict`] when the Lease changed since; any other classified failure.
    pub async fn replace_lease(
        &self,
        namespace: &str,
        name: &str,
        lease: &Value,
    ) -> Result<Value, ApiError> {
        let path = format!("{}/{}", leases_path(namespace), segment(name));
        self.write_json(Method::PUT, &path, lease).await
    }

    // === request plumbing ===

    async fn get(&self, kind: RequestKind, uri: &str, accept: &str) -> Result<Bytes, ApiError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| ApiError::decode("request", e, uri.as_bytes()))?;
        self.unary(kind, request).await
    }

    async fn write_json(
        &self,
        method: Method,
        uri: &str,
        object: &Value,
    ) -> Result<Value, ApiError> {
        let body = serde_json::to_vec(object).map_err(|e| ApiError::decode("lease", e, b""))?;
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| ApiError::decode("request", e, uri.as_bytes()))?;
        let body = self.unary(RequestKind::Lease, request).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::decode("lease", e, &body))
    }

    async fn unary(&self, kind: RequestKind, request: Request<Vec<u8>>) -> Result<Bytes, ApiError> {
        self.limiter.acquire().await;
        self.stats().record_request(kind);
        let exchange = async {
            let response = self.client.send(request.map(Body::from)).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect_bytes().await?;
            if parts.status.is_success() {
                Ok(bytes)
            } else {
                Err(self.failure(parts.status, &parts.headers, &bytes))
            }
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| ApiError::Timeout(self.request_timeout))?
    }

    fn failure(
        &self,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> ApiError {
        let err = ApiError::from_response(status, headers, body);
        if matches!(err, ApiError::TooManyRequests { .. }) {
            self.stats().record_server_throttled();
        }
        err
    }
}

/// Draws the watch `timeoutSeconds` from `[timeout, 2 × timeout)` (at least 1 s).
fn randomised_timeout_secs(timeout: Duration) -> u64 {
    let base = timeout.as_secs().max(1);
    rand::random_range(base..base * 2)
}

/// Path of the Event collection, all namespaces or one.
fn events_path(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("/api/v1/namespaces/{}/events", segment(ns)),
        None => "/api/v1/events".to_owned(),
    }
}

fn leases_path(namespace: &str) -> String {
    format!(
        "/apis/coordination.k8s.io/v1/namespaces/{}/leases",
        segment(namespace)
    )
}

/// Path of a group-version: `/api/v1` for the core group, `/apis/<g>/<v>` otherwise.
pub(crate) fn group_version_path(group_version: &str) -> String {
    match group_version.split_once('/') {
        None => format!("/api/{}", segment(group_version)),
        Some((group, version)) => format!("/apis/{}/{}", segment(group), segment(version)),
    }
}

/// Path of one object of `resource` in `group_version`, in `namespace` when given.
pub(crate) fn object_path(
    group_version: &str,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) -> String {
    let base = group_version_path(group_version);
    match namespace {
        Some(ns) => format!(
            "{base}/namespaces/{}/{}/{}",
            segment(ns),
            segment(resource),
            segment(name)
        ),
        None => format!("{base}/{}/{}", segment(resource), segment(name)),
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved kept).
pub(crate) fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string under construction.
#[derive(Default)]
struct Query(String);

impl Query {
    fn push(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&segment(value));
    }

    fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_and_escaped() {
        assert_eq!(events_path(None), "/api/v1/events");
        assert_eq!(events_path(Some("shop")), "/api/v1/namespaces/shop/events");
        assert_eq!(group_version_path("v1"), "/api/v1");
        assert_eq!(group_version_path("apps/v1"), "/apis/apps/v1");
        assert_eq!(
            object_path("v1", "pods", Some("shop"), "web-1"),
            "/api/v1/namespaces/shop/pods/web-1"
        );
        assert_eq!(
            object_path("v1", "nodes", None, "worker-1"),
            "/api/v1/nodes/worker-1"
        );
        assert_eq!(
            object_path("apps/v1", "replicasets", Some("shop"), "a/../b?c"),
            "/apis/apps/v1/namespaces/shop/replicasets/a%2F..%2Fb%3Fc"
        );
        assert_eq!(
            leases_path("default"),
            "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        );
    }

    #[test]
    fn continue_tokens_are_query_escaped() {
        let mut q = Query::default();
        q.push("limit", "10");
        q.push("continue", "eyJ2Ijoi+/=");
        assert_eq!(q.finish(), "?limit=10&continue=eyJ2Ijoi%2B%2F%3D");
    }

    #[test]
    fn watch_timeout_is_in_t_to_2t() {
        for _ in 0..200 {
            let s = randomised_timeout_secs(Duration::from_secs(300));
            assert!((300..600).contains(&s), "{s}");
        }
        assert_eq!(randomised_timeout_secs(Duration::ZERO), 1);
    }

    #[test]
    fn list_page_shape_is_read_from_the_capture() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kubesim/fixtures/core-v1-eventlist-paged-1.json"
        ))
        .unwrap();
        let list: WireList = serde_json::from_slice(&body).unwrap();
        assert_eq!(list.metadata.resource_version.as_deref(), Some("279"));
        assert!(list.metadata.continue_token.is_some());
        assert_eq!(list.metadata.remaining_item_count, Some(69));
        assert_eq!(list.items.unwrap().len(), 3);
    }

    #[test]
    fn metadata_shape_is_read_from_the_capture() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kubesim/fixtures/involved-pod-metadata.json"
        ))
        .unwrap();
        let object: WireObject = serde_json::from_slice(&body).unwrap();
        assert_eq!(object.metadata.labels.unwrap()["app"], "nginx");
        let owners = object.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        let owner = owners[0].clone().into_domain();
        assert_eq!(owner.kind, "ReplicaSet");
        assert_eq!(owner.controller, Some(true));
        assert!(object.metadata.deletion_timestamp.is_none());
    }
}
