//! Request negotiation (pretty printing, metadata-only `Accept`) and response builders
//! with the API server's headers.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::status::Status;

/// Responses smaller than this get a `content-length`; larger ones are streamed in
/// chunks, as Go's HTTP/2 server does once its write buffer fills.
const STREAM_THRESHOLD: usize = 4096;
const CHUNK: usize = 64 * 1024;

/// What the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptAs {
    /// Full objects.
    Full,
    /// `as=PartialObjectMetadata` or `as=PartialObjectMetadataList`.
    Metadata,
}

/// Which metadata kind the client named in `Accept` (`as=`): the API server negotiates
/// both for any endpoint, then answers 406 when the kind does not fit the response (a
/// list asked for as `PartialObjectMetadata`, an object as `PartialObjectMetadataList`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataAs {
    /// `as=PartialObjectMetadata`.
    Object,
    /// `as=PartialObjectMetadataList`.
    List,
}

/// Per-request negotiation results.
#[derive(Clone, Debug)]
pub struct Negotiated {
    /// Pretty-print JSON (`?pretty=true`, or a curl/Wget/browser user agent).
    pub pretty: bool,
    /// Requested object form.
    pub accept: AcceptAs,
    /// The metadata kind asked for, when `accept` is [`AcceptAs::Metadata`].
    pub metadata_as: Option<MetadataAs>,
    /// Client user agent.
    pub user_agent: String,
    /// Decoded query parameters.
    pub query: HashMap<String, String>,
}

impl Negotiated {
    /// Reads the negotiation inputs from a request.
    pub fn from_request(uri: &http::Uri, headers: &HeaderMap) -> Self {
        let query: HashMap<String, String> =
            axum::extract::Query::<HashMap<String, String>>::try_from_uri(uri)
                .map(|q| q.0)
                .unwrap_or_default();
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let pretty = match query.get("pretty").map(String::as_str) {
            Some(p) if !p.is_empty() => matches!(p, "1" | "t" | "T" | "true" | "TRUE" | "True"),
            _ => {
                user_agent.starts_with("curl")
                    || user_agent.starts_with("Wget")
                    || user_agent.starts_with("Mozilla/")
            }
        };
        let metadata_as = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|range| {
                let mut as_ = None;
                let mut group = None;
                for param in range.split(';').skip(1) {
                    match param.trim().split_once('=') {
                        Some(("as", v)) => as_ = Some(v.trim()),
                        Some(("g", v)) => group = Some(v.trim()),
                        _ => {}
                    }
                }
                match (as_, group) {
                    (Some("PartialObjectMetadata"), Some("meta.k8s.io")) => {
                        Some(MetadataAs::Object)
                    }
                    (Some("PartialObjectMetadataList"), Some("meta.k8s.io")) => {
                        Some(MetadataAs::List)
                    }
                    _ => None,
                }
            });
        let accept = if metadata_as.is_some() {
            AcceptAs::Metadata
        } else {
            AcceptAs::Full
        };
        Self {
            pretty,
            accept,
            metadata_as,
            user_agent,
            query,
        }
    }

    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Appends the trailing newline of compact bodies, or pretty-prints without one.
pub fn finish(compact: Vec<u8>, pretty: bool) -> Vec<u8> {
    if pretty {
        crate::json::indent(&compact)
    } else {
        let mut v = compact;
        v.push(b'\n');
        v
    }
}

/// A JSON response with a complete body (and so a `content-length`).
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut resp = Response::new(Body::from(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A Status error response.
pub fn status(st: &Status, pretty: bool) -> Response {
    let code = match st.code {
        // Success Statuses (deletes) carry no code and are sent as 200.
        0 => StatusCode::OK,
        c => StatusCode::from_u16(c).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    };
    json(code, st.to_body(pretty))
}

/// The max-in-flight filter's 429, byte for byte.
pub fn too_many_requests(retry_after_secs: u32) -> Response {
    let mut resp = Response::new(Body::from(Bytes::from_static(
        crate::fixtures::TOO_MANY_REQUESTS,
    )));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Go's mux 404 for paths outside the API.
pub fn plain_not_found() -> Response {
    let mut resp = Response::new(Body::from("404 page not found\n"));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A JSON array document made of `head`, comma-separated `items` and `tail`. Small
/// documents get a complete body; large ones are streamed in 64 KiB chunks, building each
/// chunk only when the client is ready for it.
pub fn json_list(
    status: StatusCode,
    head: Vec<u8>,
    items: Vec<Bytes>,
    tail: &'static [u8],
    pretty: bool,
) -> Response {
    let size: usize = head.len() + tail.len() + items.iter().map(|i| i.len() + 1).sum::<usize>();
    if pretty || size < STREAM_THRESHOLD {
        let mut body = Vec::with_capacity(size);
        body.extend_from_slice(&head);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item);
        }
        body.extend_from_slice(tail);
        let body = if pretty {
            let trimmed = body.strip_suffix(b"\n").unwrap_or(&body);
            crate::json::indent(trimmed)
        } else {
            body
        };
        return json(status, body);
    }
    struct State {
        head: Option<Vec<u8>>,
        items: std::vec::IntoIter<Bytes>,
        first: bool,
        tail: Option<&'static [u8]>,
    }
    let state = State {
        head: Some(head),
        items: items.into_iter(),
        first: true,
        tail: Some(tail),
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        let mut buf = BytesMut::with_capacity(CHUNK + 1024);
        if let Some(h) = st.head.take() {
            buf.extend_from_slice(&h);
        }
        while buf.len() < CHUNK {
            match st.items.next() {
                Some(item) => {
                    if !st.first {
                        buf.extend_from_slice(b",");
                    }
                    st.first = false;
                    buf.extend_from_slice(&item);
                }
                None => {
                    if let Some(t) = st.tail.take() {
                        buf.extend_from_slice(t);
                    }
                    break;
                }
            }
        }
        if buf.is_empty() {
            None
        } else {
            Some((Ok::<Bytes, Infallible>(buf.freeze()), st))
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(uri: &str, headers: &[(&'static str, &'static str)]) -> Negotiated {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(*k, HeaderValue::from_static(v));
        }
        Negotiated::from_request(&uri.parse().unwrap(), &h)
    }

    #[test]
    fn pretty_follows_query_then_user_agent() {
        assert!(neg("/x", &[("user-agent", "curl/8.0")]).pretty);
        assert!(!neg("/x?pretty=false", &[("user-agent", "curl/8.0")]).pretty);
        assert!(neg("/x?pretty=true", &[]).pretty);
        assert!(!neg("/x", &[("user-agent", "kube-rs/5")]).pretty);
    }

    #[test]
    fn metadata_accept_is_detected_in_any_range() {
        let n = neg(
            "/x?limit=5",
            &[(
                "accept",
                "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
            )],
        );
        assert_eq!(n.accept, AcceptAs::Metadata);
        assert_eq!(n.param("limit"), Some("5"));
        assert_eq!(
            neg("/x", &[("accept", "application/json")]).accept,
            AcceptAs::Full
        );
    }
}
