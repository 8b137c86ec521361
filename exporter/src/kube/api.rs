//! Raw calls to the Kubernetes API through [`kube::Client::send`].
//!
//! Going below kube's typed `Api` lets herald see status codes and headers (410,
//! `Retry-After`), stream watch lines itself and send a metadata-only `Accept`. Every
//! call takes a token from the shared [`RateLimiter`] and is counted in [`KubeStats`]:
//! the Event list and watch, discovery and Lease calls wait for theirs; metadata reads,
//! lists and watches are paid with a [`Token`] the caller took beforehand from what the
//! bucket has to spare ([`KubeApi::spare_token`]). Unary calls are bounded by the
//! request timeout.

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
use super::limiter::{RateLimiter, Token};
use super::stats::{KubeStats, RequestKind};
use super::watch_stream::EventWatch;

/// `Accept` header asking for PartialObjectMetadata (metadata only, any resource type):
/// for one object, and for each object of a watch.
pub const ACCEPT_METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// `Accept` header asking for a PartialObjectMetadataList (a list of a collection's
/// metadata; the API server answers 406 to a list asked for as `PartialObjectMetadata`).
pub const ACCEPT_METADATA_LIST: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

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
    /// `metadata.name`.
    pub name: String,
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

/// One page of a metadata list ([`KubeApi::list_metadata`]).
#[derive(Debug, Clone, Default)]
pub struct MetadataListPage {
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
    /// `metadata.continue`, when more pages follow.
    pub continue_token: Option<String>,
    /// The objects of this page (items that cannot be read are left out).
    pub items: Vec<ObjectMetadata>,
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
    name: Option<String>,
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

impl WireMeta {
    fn into_domain(self) -> ObjectMetadata {
        ObjectMetadata {
            name: self.name.unwrap_or_default(),
            uid: self.uid.unwrap_or_default(),
            labels: self.labels.unwrap_or_default(),
            annotations: self.annotations.unwrap_or_default(),
            owner_references: self
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .map(KubeOwnerReference::into_domain)
                .collect(),
            deleting: self.deletion_timestamp.is_some_and(|t| !t.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct WireObject {
    #[serde(default)]
    metadata: WireMeta,
}

/// Reads the metadata of one object (a list item, a watch notification's object).
///
/// # Errors
/// [`ApiError::Decode`] when it is not an object with readable metadata.
pub fn parse_metadata(object: &RawValue) -> Result<ObjectMetadata, ApiError> {
    let object: WireObject = serde_json::from_str(object.get())
        .map_err(|e| ApiError::decode("object metadata", e, object.get().as_bytes()))?;
    Ok(object.metadata.into_domain())
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

/// How a request gets its rate-limiter token.
enum Admission {
    /// Waits for (reserves) the next token.
    Wait,
    /// Already paid with a token from [`KubeApi::spare_token`].
    Paid(Token),
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

    /// Waits for a token the bucket has to spare (see [`RateLimiter::acquire_spare`]);
    /// it pays for one metadata request.
    pub async fn spare_token(&self) -> Token {
        self.limiter.acquire_spare().await
    }

    /// Gives back a token that paid for nothing.
    pub fn refund(&self, token: Token) {
        self.limiter.refund(token);
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
            .get(RequestKind::List, &uri, "application/json", Admission::Wait)
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
        self.watch(
            RequestKind::Watch,
            &events_path(namespace),
            resource_version,
            timeout,
            "application/json",
            Admission::Wait,
        )
        .await
    }

    /// Starts a metadata-only watch of the collection at `path` (for example
    /// `/api/v1/pods`) from `resource_version`, paid with `token`; otherwise as
    /// [`KubeApi::watch_events`]. Each notification carries a PartialObjectMetadata.
    ///
    /// # Errors
    /// As [`KubeApi::watch_events`].
    pub async fn watch_metadata(
        &self,
        token: Token,
        path: &str,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<EventWatch, ApiError> {
        self.watch(
            RequestKind::Lookup,
            path,
            resource_version,
            timeout,
            ACCEPT_METADATA,
            Admission::Paid(token),
        )
        .await
    }

    async fn watch(
        &self,
        kind: RequestKind,
        path: &str,
        resource_version: &str,
        timeout: Duration,
        accept: &str,
        admission: Admission,
    ) -> Result<EventWatch, ApiError> {
        let secs = randomised_timeout_secs(timeout);
        let mut query = Query::default();
        query.push("watch", "1");
        query.push("allowWatchBookmarks", "true");
        query.push("resourceVersion", resource_version);
        query.push("timeoutSeconds", &secs.to_string());
        let uri = format!("{path}{}", query.finish());
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, accept)
            // Watch bodies are newline-framed JSON; keep them uncompressed.
            .header(header::ACCEPT_ENCODING, "identity")
            .body(Body::empty())
            .map_err(|e| ApiError::decode("watch request", e, b""))?;
        self.admit(admission).await;
        self.stats().record_request(kind);
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

    /// Lists one page of the metadata of the collection at `path` (for example
    /// `/api/v1/pods`) as a PartialObjectMetadataList, paid with `token`. Without a
    /// continue token the list is a consistent read of the current state.
    ///
    /// # Errors
    /// [`ApiError::Gone`] when the continue token expired; any other classified failure.
    pub async fn list_metadata(
        &self,
        token: Token,
        path: &str,
        limit: u32,
        continue_token: Option<&str>,
    ) -> Result<MetadataListPage, ApiError> {
        let mut query = Query::default();
        if limit > 0 {
            query.push("limit", &limit.to_string());
        }
        if let Some(t) = continue_token {
            query.push("continue", t);
        }
        let uri = format!("{path}{}", query.finish());
        let body = self
            .get(
                RequestKind::Lookup,
                &uri,
                ACCEPT_METADATA_LIST,
                Admission::Paid(token),
            )
            .await?;
        let list: WireList = serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode("metadata list", e, &body))?;
        Ok(MetadataListPage {
            resource_version: list.metadata.resource_version.unwrap_or_default(),
            continue_token: list.metadata.continue_token.filter(|t| !t.is_empty()),
            items: list
                .items
                .unwrap_or_default()
                .iter()
                .filter_map(|item| parse_metadata(item).ok())
                .collect(),
        })
    }

    /// Reads the metadata of the object at `path` (for example
    /// `/api/v1/namespaces/shop/pods/web-1`) as PartialObjectMetadata.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when the object does not exist; any other classified
    /// failure.
    pub async fn get_metadata(&self, token: Token, path: &str) -> Result<ObjectMetadata, ApiError> {
        let body = self
            .get(
                RequestKind::Lookup,
                path,
                ACCEPT_METADATA,
                Admission::Paid(token),
            )
            .await?;
        let object: WireObject = serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode("object metadata", e, &body))?;
        Ok(object.metadata.into_domain())
    }

    /// Reads the metadata of namespace `name`.
    ///
    /// # Errors
    /// As [`KubeApi::get_metadata`].
    pub async fn get_namespace(
        &self,
        token: Token,
        name: &str,
    ) -> Result<ObjectMetadata, ApiError> {
        self.get_metadata(token, &format!("/api/v1/namespaces/{}", segment(name)))
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
        let body = self
            .get(kind, "/api", "application/json", Admission::Wait)
            .await?;
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
            .get(
                RequestKind::Lookup,
                &path,
                "application/json",
                Admission::Wait,
            )
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
            .get(
                RequestKind::Lease,
                &path,
                "application/json",
                Admission::Wait,
            )
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

    async fn get(
        &self,
        kind: RequestKind,
        uri: &str,
        accept: &str,
        admission: Admission,
    ) -> Result<Bytes, ApiError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| ApiError::decode("request", e, uri.as_bytes()))?;
        self.unary(kind, request, admission).await
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
        let body = self
            .unary(RequestKind::Lease, request, Admission::Wait)
            .await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::decode("lease", e, &body))
    }

    async fn unary(
        &self,
        kind: RequestKind,
        request: Request<Vec<u8>>,
        admission: Admission,
    ) -> Result<Bytes, ApiError> {
        self.admit(admission).await;
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

    /// Takes the request's token: waits for it, or accepts the one already paid.
    async fn admit(&self, admission: Admission) {
        match admission {
            Admission::Wait => self.limiter.acquire().await,
            Admission::Paid(_paid) => {}
        }
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

/// Path of the collection of `resource` in `group_version`: in `namespace` when given,
/// across all namespaces (or cluster-scoped) otherwise.
pub(crate) fn collection_path(
    group_version: &str,
    resource: &str,
    namespace: Option<&str>,
) -> String {
    let base = group_version_path(group_version);
    match namespace {
        Some(ns) => format!("{base}/namespaces/{}/{}", segment(ns), segment(resource)),
        None => format!("{base}/{}", segment(resource)),
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
        assert_eq!(collection_path("v1", "pods", None), "/api/v1/pods");
        assert_eq!(
            collection_path("v1", "pods", Some("shop")),
            "/api/v1/namespaces/shop/pods"
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
    fn metadata_list_items_are_read_from_the_capture() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kubesim/fixtures/namespace-list-metadata.json"
        ))
        .unwrap();
        let list: WireList = serde_json::from_slice(&body).unwrap();
        assert_eq!(list.metadata.resource_version.as_deref(), Some("280"));
        let items: Vec<ObjectMetadata> = list
            .items
            .unwrap()
            .iter()
            .map(|i| parse_metadata(i).unwrap())
            .collect();
        assert_eq!(items.len(), 6);
        let shop = items
            .iter()
            .find(|m| {
                m.labels
                    .get("kubernetes.io/metadata.name")
                    .map(String::as_str)
                    == Some("shop")
            })
            .unwrap();
        assert_eq!(shop.labels["team"], "commerce");
        assert!(!shop.uid.is_empty());
        let bad = RawValue::from_string(r#"{"metadata": {"labels": ["not", "a", "map"]}}"#.into())
            .unwrap();
        assert!(matches!(parse_metadata(&bad), Err(ApiError::Decode { .. })));
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
