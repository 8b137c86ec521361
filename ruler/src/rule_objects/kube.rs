//! The ruler's Kubernetes calls for `Rule` objects: build a client, list, watch
//! (newline-delimited JSON, read as it arrives), and merge-patch the `status`
//! subresource.
//!
//! The client is found like kubectl finds its configuration: `--kubeconfig` when
//! given, else `KUBECONFIG` or `~/.kube/config`, else the pod's service account
//! (kube-rs' inference; the token is re-read when it rotates). The exporter's client
//! (`herald_exporter::kube`) cannot be used here: the exporter depends on this crate.

use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kube::client::Body;
use serde::Deserialize;
use serde_json::Value;

/// `rules.events.kubesphere.io`, version `v1alpha1`.
const GROUP_VERSION: &str = "events.kubesphere.io/v1alpha1";
/// The plural resource name.
const RESOURCE: &str = "rules";
/// Bound on one unary request (and on a watch's response headers).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest watch line accepted.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No configuration could be loaded.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// The request could not be sent or its body read.
    #[error("request failed: {0}")]
    Http(#[from] kube::Error),
    /// The API server answered with an error status.
    #[error("the API server answered {code}: {message}")]
    Status {
        /// HTTP status code (or the watch `ERROR` line's code).
        code: u16,
        /// The Status message.
        message: String,
    },
    /// The answer is not what was asked for.
    #[error("cannot read the answer: {0}")]
    Decode(String),
    /// The request took longer than its bound.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The watch ended in the middle of a line.
    #[error("the watch stream was cut")]
    StreamCut,
}

impl KubeError {
    /// 410 Gone: the resourceVersion is too old; list again.
    pub fn is_gone(&self) -> bool {
        matches!(self, KubeError::Status { code: 410, .. })
    }

    /// 404: the resource (or the `status` subresource) is not served.
    pub fn is_not_found(&self) -> bool {
        matches!(self, KubeError::Status { code: 404, .. })
    }

    fn from_status(code: u16, body: &[u8]) -> KubeError {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        KubeError::Status { code, message }
    }
}

/// Builds a client from `kubeconfig`, or by inference when None (see the module
/// docs).
///
/// # Errors
/// [`KubeError::Config`] naming what could not be loaded.
pub async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client, KubeError> {
    // kube-rs builds its rustls configuration from the process-wide provider; an
    // error only means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| KubeError::Config(format!("kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Config(format!("kubeconfig {}: {e}", path.display())))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| KubeError::Config(e.to_string()))?,
    };
    // failures are retried by the watcher, with its own backoff
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
}

/// A list of `Rule` objects.
#[derive(Debug, Clone, Default)]
pub struct RuleList {
    /// The list's resourceVersion (where a watch resumes).
    pub resource_version: String,
    /// The objects, as JSON.
    pub items: Vec<Value>,
}

/// One watch notification.
#[derive(Debug, Clone)]
pub enum Notification {
    /// `ADDED` or `MODIFIED`: the object's new state.
    Applied(Value),
    /// `DELETED`: the object's last state.
    Deleted(Value),
    /// `BOOKMARK`: where to resume.
    Bookmark(String),
}

impl Notification {
    /// The resourceVersion carried.
    pub fn resource_version(&self) -> Option<String> {
        match self {
            Notification::Applied(o) | Notification::Deleted(o) => o
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            Notification::Bookmark(rv) => Some(rv.clone()),
        }
    }
}

/// Calls on `rules.events.kubesphere.io`, in one namespace or all.
#[derive(Clone)]
pub struct RuleApi {
    client: kube::Client,
    namespace: Option<String>,
}

impl std::fmt::Debug for RuleApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleApi")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WireList {
    #[serde(default)]
    metadata: WireListMeta,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireListMeta {
    #[serde(default)]
    resource_version: Option<String>,
}

#[derive(Deserialize)]
struct WireLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Value,
}

impl RuleApi {
    /// Calls through `client`, on `namespace` (all namespaces when None).
    pub fn new(client: kube::Client, namespace: Option<String>) -> RuleApi {
        RuleApi { client, namespace }
    }

    fn collection(&self) -> String {
        match &self.namespace {
            Some(ns) => format!(
                "/apis/{GROUP_VERSION}/namespaces/{}/{RESOURCE}",
                segment(ns)
            ),
            None => format!("/apis/{GROUP_VERSION}/{RESOURCE}"),
        }
    }

    /// Lists every `Rule` object (one consistent read).
    ///
    /// # Errors
    /// [`KubeError`] for any failure.
    pub async fn list(&self) -> Result<RuleList, KubeError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.collection())
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .map_err(|e| KubeError::Decode(e.to_string()))?;
        let body = self.unary(request).await?;
        let list: WireList = serde_json::from_slice(&body)
            .map_err(|e| KubeError::Decode(format!("Rule list: {e}")))?;
        Ok(RuleList {
            resource_version: list.metadata.resource_version.unwrap_or_default(),
            items: list.items.unwrap_or_default(),
        })
    }

    /// Watches from `resource_version`, with bookmarks, for at most `timeout` (the
    /// server closes the stream then).
    ///
    /// # Errors
    /// [`KubeError`] when the watch cannot start; later failures come through the
    /// stream.
    pub async fn watch(
        &self,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<BoxStream<'static, Result<Notification, KubeError>>, KubeError> {
        let uri = format!(
            "{}?watch=1&allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds={}",
            self.collection(),
            segment(resource_version),
            timeout.as_secs().max(1)
        );
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(header::ACCEPT_ENCODING, "identity")
            .body(Body::empty())
            .map_err(|e| KubeError::Decode(e.to_string()))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.send(request))
            .await
            .map_err(|_| KubeError::Timeout(REQUEST_TIMEOUT))??;
        let status = response.status();
        if !status.is_success() {
            let bytes = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect_bytes())
                .await
                .map_err(|_| KubeError::Timeout(REQUEST_TIMEOUT))??;
            return Err(KubeError::from_status(status.as_u16(), &bytes));
        }
        let chunks = response.into_body().into_data_stream();
        Ok(lines(chunks.map(|c| c.map_err(KubeError::from)).boxed()))
    }

    /// Merge-patches the `status` subresource of `namespace/name` with `patch`.
    ///
    /// # Errors
    /// [`KubeError`] for any failure; 404 when the object is gone or the CRD has no
    /// `status` subresource.
    pub async fn patch_status(
        &self,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<(), KubeError> {
        let uri = format!(
            "/apis/{GROUP_VERSION}/namespaces/{}/{RESOURCE}/{}/status",
            segment(namespace),
            segment(name)
        );
        let body = serde_json::to_vec(patch).map_err(|e| KubeError::Decode(e.to_string()))?;
        let request = Request::builder()
            .method(Method::PATCH)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/merge-patch+json")
            .body(Body::from(body))
            .map_err(|e| KubeError::Decode(e.to_string()))?;
        self.unary(request).await.map(drop)
    }

    async fn unary(&self, request: Request<Body>) -> Result<Bytes, KubeError> {
        unary(&self.client, request, REQUEST_TIMEOUT).await
    }
}

/// Sends `request` and reads the whole answer within `timeout`; a status other
/// than 2xx is [`KubeError::Status`] with the API server's message.
///
/// # Errors
/// [`KubeError`] for any failure.
pub(crate) async fn unary(
    client: &kube::Client,
    request: Request<Body>,
    timeout: Duration,
) -> Result<Bytes, KubeError> {
    let exchange = async {
        let response = client.send(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect_bytes().await?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(KubeError::from_status(status.as_u16(), &bytes))
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| KubeError::Timeout(timeout))?
}

/// Splits a watch body into notifications; an `ERROR` line ends the stream with
/// its Status (code 410: list again).
fn lines(
    chunks: BoxStream<'static, Result<Bytes, KubeError>>,
) -> BoxStream<'static, Result<Notification, KubeError>> {
    struct State {
        chunks: BoxStream<'static, Result<Bytes, KubeError>>,
        buf: BytesMut,
        done: bool,
    }
    let state = State {
        chunks,
        buf: BytesMut::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(i) = st.buf.iter().position(|b| *b == b'\n') {
                let line = st.buf.split_to(i + 1);
                let line = &line[..i];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let item = decode_line(line);
                if item.is_err() {
                    st.done = true;
                }
                return Some((item, st));
            }
            if st.buf.len() > MAX_LINE_BYTES {
                st.done = true;
                return Some((Err(KubeError::Decode("watch line too long".to_owned())), st));
            }
            match st.chunks.next().await {
                Some(Ok(data)) => st.buf.extend_from_slice(&data),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    if st.buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    return Some((Err(KubeError::StreamCut), st));
                }
            }
        }
    })
    .boxed()
}

fn decode_line(line: &[u8]) -> Result<Notification, KubeError> {
    let raw: WireLine =
        serde_json::from_slice(line).map_err(|e| KubeError::Decode(format!("watch line: {e}")))?;
    match raw.kind.as_str() {
        "ADDED" | "MODIFIED" => Ok(Notification::Applied(raw.object)),
        "DELETED" => Ok(Notification::Deleted(raw.object)),
        "BOOKMARK" => raw
            .object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(|rv| Notification::Bookmark(rv.to_owned()))
            .ok_or_else(|| KubeError::Decode("bookmark without a resourceVersion".to_owned())),
        "ERROR" => {
            let code = raw
                .object
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
            Err(KubeError::from_status(
                code,
                raw.object.to_string().as_bytes(),
            ))
        }
        other => Err(KubeError::Decode(format!(
            "unknown watch event type {other:?}"
        ))),
    }
}

/// Percent-encodes one path segment or query value.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&str]) -> BoxStream<'static, Result<Bytes, KubeError>> {
        let owned: Vec<Result<Bytes, KubeError>> = parts
            .iter()
            .map(|p| Ok(Bytes::from(p.as_bytes().to_vec())))
            .collect();
        futures::stream::iter(owned).boxed()
    }

    #[tokio::test]
    async fn watch_lines_split_across_chunks_and_errors_end_the_stream() {
        let mut s = lines(chunks(&[
            "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n{\"type\":\"BOOK",
            "MARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\n\n",
            "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"message\":\"too old resource version: 1 (7)\"}}\n",
            "{\"type\":\"ADDED\",\"object\":{}}\n",
        ]));
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(first.resource_version().as_deref(), Some("5"));
        assert!(matches!(first, Notification::Applied(_)));
        assert!(
            matches!(s.next().await.unwrap().unwrap(), Notification::Bookmark(rv) if rv == "7")
        );
        let err = s.next().await.unwrap().unwrap_err();
        assert!(err.is_gone(), "{err}");
        assert!(
            err.to_string().contains("too old resource version"),
            "{err}"
        );
        assert!(s.next().await.is_none(), "an ERROR line ends the watch");
        let mut cut = lines(chunks(&["{\"type\":\"ADDED\""]));
        assert!(matches!(cut.next().await, Some(Err(KubeError::StreamCut))));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("team-a.x_y~"), "team-a.x_y~");
    }
}
