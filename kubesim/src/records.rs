//! A log of the requests the simulator served, for test assertions.

use std::collections::VecDeque;
use std::sync::Mutex;

use http::HeaderMap;

/// Request headers worth asserting on; others are not recorded.
const HEADERS: &[&str] = &["accept", "authorization", "content-type", "user-agent"];

/// One served request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Path only.
    pub path: String,
    /// Headers of interest (`authorization` is redacted to its scheme).
    pub headers: Vec<(String, String)>,
    /// Response status.
    pub status: u16,
    /// Whether it was a watch.
    pub watch: bool,
}

impl RequestRecord {
    /// Builds a record from request parts.
    pub fn new(method: &str, uri: &http::Uri, headers: &HeaderMap) -> Self {
        let recorded = HEADERS
            .iter()
            .filter_map(|name| {
                let value = headers.get(*name)?.to_str().unwrap_or("<binary>");
                let value = if *name == "authorization" {
                    redact(value)
                } else {
                    value.to_owned()
                };
                Some(((*name).to_owned(), value))
            })
            .collect();
        let watch = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=1" || p == "watch=true"))
            || uri.path().contains("/watch/");
        Self {
            method: method.to_owned(),
            uri: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            path: uri.path().to_owned(),
            headers: recorded,
            status: 0,
            watch,
        }
    }

    /// The value of a recorded header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `Bearer abc` → `Bearer <redacted>`.
fn redact(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".to_owned(),
    }
}

/// Bounded request log.
#[derive(Debug)]
pub struct Recorder {
    limit: usize,
    records: Mutex<VecDeque<RequestRecord>>,
}

impl Recorder {
    /// A log keeping the last `limit` requests.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            records: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends a record.
    pub fn push(&self, record: RequestRecord) {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if records.len() >= self.limit {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// A copy of the log.
    pub fn snapshot(&self) -> Vec<RequestRecord> {
        let records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        records.iter().cloned().collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_is_redacted_and_watch_detected() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        headers.insert("x-other", "ignored".parse().unwrap());
        let uri: http::Uri = "/api/v1/events?watch=1&resourceVersion=5".parse().unwrap();
        let r = RequestRecord::new("GET", &uri, &headers);
        assert_eq!(r.header("Authorization"), Some("Bearer <redacted>"));
        assert!(r.header("x-other").is_none());
        assert!(r.watch);
        assert_eq!(r.path, "/api/v1/events");
        assert!(!format!("{r:?}").contains("s3cret"));
    }

    #[test]
    fn log_is_bounded() {
        let rec = Recorder::new(2);
        let uri: http::Uri = "/version".parse().unwrap();
        for _ in 0..3 {
            rec.push(RequestRecord::new("GET", &uri, &HeaderMap::new()));
        }
        assert_eq!(rec.snapshot().len(), 2);
        rec.clear();
        assert!(rec.snapshot().is_empty());
    }
}
