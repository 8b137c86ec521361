//! Reads a watch response body incrementally as newline-delimited JSON.
//!
//! The body is consumed frame by frame; only the current, incomplete line is buffered.
//! Each complete line becomes a [`WatchEvent`], an [`ApiError`] for an `ERROR` line
//! (after which the watch is over), or an [`ApiError::Decode`] for a line that is not a
//! watch event (the stream continues after it).

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use kube::client::Body;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::error::ApiError;

/// Longest watch line accepted; a longer one ends the watch with a decode error.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One decoded watch notification. Objects stay raw JSON: the Event parser reads
/// them once, typed, without building a JSON tree first.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// `ADDED` with the object.
    Added(Box<RawValue>),
    /// `MODIFIED` with the object.
    Modified(Box<RawValue>),
    /// `DELETED` with the object's last state.
    Deleted(Box<RawValue>),
    /// `BOOKMARK`: only the resourceVersion is meaningful.
    Bookmark {
        /// `object.metadata.resourceVersion`.
        resource_version: String,
    },
}

impl WatchEvent {
    /// Returns `metadata.resourceVersion` of the carried object, when present.
    pub fn resource_version(&self) -> Option<String> {
        match self {
            Self::Added(v) | Self::Modified(v) | Self::Deleted(v) => object_resource_version(v),
            Self::Bookmark { resource_version } => Some(resource_version.clone()),
        }
    }
}

/// Returns the non-empty `metadata.resourceVersion` of a Kubernetes object.
pub(crate) fn object_resource_version(object: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Object {
        #[serde(default)]
        metadata: Option<Meta>,
    }
    #[derive(Deserialize)]
    struct Meta {
        #[serde(default, rename = "resourceVersion")]
        resource_version: Option<Value>,
    }
    let object: Object = serde_json::from_str(object.get()).ok()?;
    match object.metadata?.resource_version? {
        Value::String(rv) if !rv.is_empty() => Some(rv),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawLine {
    #[serde(rename = "type")]
    kind: String,
    object: Box<RawValue>,
}

/// An open watch: yields notifications as their lines arrive.
pub struct EventWatch {
    chunks: BoxStream<'static, Result<Bytes, ApiError>>,
    buf: BytesMut,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    finished: bool,
}

impl std::fmt::Debug for EventWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWatch")
            .field("buffered", &self.buf.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl EventWatch {
    /// Wraps the body of a successful watch response.
    pub fn new(body: Body) -> Self {
        Self::from_chunks(body.into_data_stream().map_err(ApiError::from).boxed())
    }

    /// Wraps a stream of body chunks.
    pub(crate) fn from_chunks(chunks: BoxStream<'static, Result<Bytes, ApiError>>) -> Self {
        Self {
            chunks,
            buf: BytesMut::new(),
            scanned: 0,
            finished: false,
        }
    }

    /// Returns the next notification, a per-line decode error, a stream-ending error, or
    /// `None` once the server has closed the stream cleanly (or after an ending error).
    pub async fn next(&mut self) -> Option<Result<WatchEvent, ApiError>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(line) = self.take_line() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(self.decode(&line));
            }
            if self.buf.len() > MAX_LINE_BYTES {
                self.finished = true;
                return Some(Err(ApiError::decode(
                    "watch line",
                    format!("line longer than {MAX_LINE_BYTES} bytes"),
                    &self.buf,
                )));
            }
            match self.chunks.next().await {
                Some(Ok(data)) => self.buf.extend_from_slice(&data),
                Some(Err(e)) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                None => {
                    self.finished = true;
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    return Some(Err(ApiError::StreamCut));
                }
            }
        }
    }

    /// Splits off the next complete line (without its newline), if one is buffered.
    fn take_line(&mut self) -> Option<BytesMut> {
        let offset = self.buf[self.scanned..].iter().position(|b| *b == b'\n');
        match offset {
            Some(i) => {
                let end = self.scanned + i;
                let mut line = self.buf.split_to(end + 1);
                line.truncate(end);
                self.scanned = 0;
                Some(line)
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    fn decode(&mut self, line: &[u8]) -> Result<WatchEvent, ApiError> {
        let raw: RawLine =
            serde_json::from_slice(line).map_err(|e| ApiError::decode("watch line", e, line))?;
        match raw.kind.as_str() {
            "ADDED" => Ok(WatchEvent::Added(raw.object)),
            "MODIFIED" => Ok(WatchEvent::Modified(raw.object)),
            "DELETED" => Ok(WatchEvent::Deleted(raw.object)),
            "BOOKMARK" => match object_resource_version(&raw.object) {
                Some(resource_version) => Ok(WatchEvent::Bookmark { resource_version }),
                None => Err(ApiError::decode(
                    "watch line",
                    "bookmark without metadata.resourceVersion",
                    line,
                )),
            },
            "ERROR" => {
                // The server ends the watch after an ERROR notification.
                self.finished = true;
                let status: Value = serde_json::from_str(raw.object.get()).unwrap_or(Value::Null);
                Err(ApiError::from_status_value(&status))
            }
            other => Err(ApiError::decode(
                "watch line",
                format!("unknown watch event type {other:?}"),
                line,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../kubesim/fixtures/");

    /// A watch delivering `chunks` one at a time.
    fn watch_of(chunks: Vec<&'static [u8]>) -> EventWatch {
        let stream = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))));
        EventWatch::from_chunks(stream.boxed())
    }

    async fn collect(mut watch: EventWatch) -> Vec<Result<WatchEvent, ApiError>> {
        let mut out = Vec::new();
        while let Some(item) = watch.next().await {
            out.push(item);
        }
        out
    }

    #[tokio::test]
    async fn captured_watch_yields_every_line_in_order() {
        let data = std::fs::read(format!("{FIXTURES}watch-core-v1-watchcache.ndjson")).unwrap();
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        // Deliver in awkward 7-byte frames to exercise line reassembly.
        let chunks: Vec<&'static [u8]> = data.chunks(7).collect();
        let items = collect(watch_of(chunks)).await;
        assert_eq!(items.len(), 19);
        let bookmarks: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                Ok(WatchEvent::Bookmark { resource_version }) => Some(resource_version.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(bookmarks, ["365", "367", "367"]);
        assert!(items.iter().all(Result::is_ok));
        let deleted = items
            .iter()
            .filter(|i| matches!(i, Ok(WatchEvent::Deleted(_))))
            .count();
        assert_eq!(deleted, 1);
    }

    #[tokio::test]
    async fn error_line_410_ends_the_watch() {
        let items = collect(watch_of(vec![
            br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 292 (335)","reason":"Expired","code":410}}"#,
            b"\n",
            b"{\"type\":\"ADDED\",\"object\":{}}\n",
        ]))
        .await;
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Err(e) if e.is_gone()));
    }

    #[tokio::test]
    async fn malformed_line_is_reported_and_the_stream_continues() {
        let items = collect(watch_of(vec![
            b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}\n",
            b"{not json at all\n",
            b"{\"type\":\"SURPRISE\",\"object\":{}}\n",
            b"\n",
            b"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}\n",
        ]))
        .await;
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0].as_ref().unwrap().resource_version().as_deref(),
            Some("5")
        );
        assert!(
            matches!(&items[1], Err(ApiError::Decode { line, .. }) if line == "{not json at all")
        );
        assert!(matches!(&items[2], Err(ApiError::Decode { .. })));
        assert!(matches!(&items[3], Ok(WatchEvent::Modified(_))));
    }

    #[tokio::test]
    async fn stream_cut_mid_line_is_an_error() {
        let items = collect(watch_of(vec![
            b"{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADD",
        ]))
        .await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(matches!(items[1], Err(ApiError::StreamCut)));
    }

    #[tokio::test]
    async fn body_error_is_transport() {
        let stream = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"{\"type\":\"ADDED\",\"object\":{}}\n")),
            Err(ApiError::from(kube::Error::Service(Box::new(
                std::io::Error::other("connection reset"),
            )))),
        ]);
        let items = collect(EventWatch::from_chunks(stream.boxed())).await;
        assert_eq!(items.len(), 2);
        assert!(matches!(items[1], Err(ApiError::Transport(_))));
    }

    #[tokio::test]
    async fn bookmark_without_rv_is_a_decode_error() {
        let items = collect(watch_of(vec![
            b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}\n",
        ]))
        .await;
        assert!(matches!(&items[..], [Err(ApiError::Decode { .. })]));
    }
}
