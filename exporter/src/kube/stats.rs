//! Counters of the Kubernetes side, as plain atomics.
//!
//! The kube module does not register Prometheus metrics itself: it bumps the atomics in
//! [`KubeStats`] and the exporter's metrics module reads them (for example from a
//! collector callback) through [`KubeStats::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why the watcher restarted its watch (or list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartReason {
    /// The resourceVersion was too old (HTTP 410 or a watch `ERROR` line with code 410).
    Gone,
    /// A transport error, a 5xx, a cut stream or another unexpected answer.
    Error,
    /// The API server answered 429 Too Many Requests.
    Throttled,
    /// The server closed the watch normally (its `timeoutSeconds` elapsed).
    Timeout,
    /// The API server is behind the watch's resourceVersion ("Too large resource
    /// version", or a consistent list reports a lower revision: etcd was restored from
    /// a snapshot); the watcher lists again from the API's present.
    Rewound,
}

impl RestartReason {
    /// Returns the metric label value (`gone`, `error`, `throttled`, `timeout`,
    /// `rewound`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Error => "error",
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Rewound => "rewound",
        }
    }
}

/// Which kind of API request was made, for the request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A page of an Event list.
    List,
    /// The start of an Event watch.
    Watch,
    /// An involved-object, namespace or discovery read.
    Lookup,
    /// A Lease read or write.
    Lease,
    /// Anything else (the connectivity probe).
    Other,
}

/// Counters and gauges of the Kubernetes client, watcher, enricher and elector.
///
/// Shared as `Arc<KubeStats>`; every field only ever increases.
#[derive(Debug, Default)]
pub struct KubeStats {
    restarts_gone: AtomicU64,
    restarts_error: AtomicU64,
    restarts_throttled: AtomicU64,
    restarts_timeout: AtomicU64,
    restarts_rewound: AtomicU64,
    malformed_events: AtomicU64,
    lookup_cache_hits: AtomicU64,
    lookup_cache_misses: AtomicU64,
    lookup_failures: AtomicU64,
    throttled_wait_micros: AtomicU64,
    server_throttled: AtomicU64,
    list_requests: AtomicU64,
    watch_requests: AtomicU64,
    lookup_requests: AtomicU64,
    lease_requests: AtomicU64,
    other_requests: AtomicU64,
}

/// A point-in-time copy of [`KubeStats`], for exporting.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KubeStatsSnapshot {
    /// Re-lists caused by 410 Gone.
    pub watch_restarts_gone: u64,
    /// Watch restarts after errors.
    pub watch_restarts_error: u64,
    /// Watch or list retries after a 429.
    pub watch_restarts_throttled: u64,
    /// Re-watches after the server closed a watch normally.
    pub watch_restarts_timeout: u64,
    /// Re-lists because the API server's resourceVersions are behind the watch's.
    pub watch_restarts_rewound: u64,
    /// Events that could not be decoded and were skipped.
    pub malformed_events: u64,
    /// Involved-object lookups served from the cache (KEE `kube_api_read_cache_hits`).
    pub lookup_cache_hits: u64,
    /// Involved-object lookups that went to the API (KEE `kube_api_read_cache_misses`).
    pub lookup_cache_misses: u64,
    /// Involved-object lookups that failed or timed out.
    pub lookup_failures: u64,
    /// Seconds spent waiting in the client-side rate limiter (`kubeQPS`/`kubeBurst`).
    pub throttled_wait_seconds: f64,
    /// 429 answers received from the API server.
    pub server_throttled: u64,
    /// Event list pages requested.
    pub list_requests: u64,
    /// Event watches started.
    pub watch_requests: u64,
    /// Metadata, namespace and discovery reads.
    pub lookup_requests: u64,
    /// Lease reads and writes.
    pub lease_requests: u64,
    /// Other requests (the connectivity probe).
    pub other_requests: u64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl KubeStats {
    /// Counts one watch restart.
    pub fn record_restart(&self, reason: RestartReason) {
        bump(match reason {
            RestartReason::Gone => &self.restarts_gone,
            RestartReason::Error => &self.restarts_error,
            RestartReason::Throttled => &self.restarts_throttled,
            RestartReason::Timeout => &self.restarts_timeout,
            RestartReason::Rewound => &self.restarts_rewound,
        });
    }

    /// Returns the number of restarts for `reason`.
    pub fn restarts(&self, reason: RestartReason) -> u64 {
        read(match reason {
            RestartReason::Gone => &self.restarts_gone,
            RestartReason::Error => &self.restarts_error,
            RestartReason::Throttled => &self.restarts_throttled,
            RestartReason::Timeout => &self.restarts_timeout,
            RestartReason::Rewound => &self.restarts_rewound,
        })
    }

    /// Counts one malformed (skipped) event.
    pub fn record_malformed_event(&self) {
        bump(&self.malformed_events);
    }

    /// Counts one lookup served from the cache.
    pub fn record_cache_hit(&self) {
        bump(&self.lookup_cache_hits);
    }

    /// Counts one lookup that was not served from the cache.
    pub fn record_cache_miss(&self) {
        bump(&self.lookup_cache_misses);
    }

    /// Counts one failed or timed-out lookup.
    pub fn record_lookup_failure(&self) {
        bump(&self.lookup_failures);
    }

    /// Adds time spent waiting in the client-side rate limiter.
    pub fn record_throttled_wait(&self, waited: Duration) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.throttled_wait_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one 429 answer from the API server.
    pub fn record_server_throttled(&self) {
        bump(&self.server_throttled);
    }

    /// Counts one request of `kind`.
    pub fn record_request(&self, kind: RequestKind) {
        bump(match kind {
            RequestKind::List => &self.list_requests,
            RequestKind::Watch => &self.watch_requests,
            RequestKind::Lookup => &self.lookup_requests,
            RequestKind::Lease => &self.lease_requests,
            RequestKind::Other => &self.other_requests,
        });
    }

    /// Returns a copy of every counter.
    pub fn snapshot(&self) -> KubeStatsSnapshot {
        KubeStatsSnapshot {
            watch_restarts_gone: read(&self.restarts_gone),
            watch_restarts_error: read(&self.restarts_error),
            watch_restarts_throttled: read(&self.restarts_throttled),
            watch_restarts_timeout: read(&self.restarts_timeout),
            watch_restarts_rewound: read(&self.restarts_rewound),
            malformed_events: read(&self.malformed_events),
            lookup_cache_hits: read(&self.lookup_cache_hits),
            lookup_cache_misses: read(&self.lookup_cache_misses),
            lookup_failures: read(&self.lookup_failures),
            // Precision loss only above 2^53 µs (285 years of waiting).
            throttled_wait_seconds: read(&self.throttled_wait_micros) as f64 / 1e6,
            server_throttled: read(&self.server_throttled),
            list_requests: read(&self.list_requests),
            watch_requests: read(&self.watch_requests),
            lookup_requests: read(&self.lookup_requests),
            lease_requests: read(&self.lease_requests),
            other_requests: read(&self.other_requests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_every_counter() {
        let s = KubeStats::default();
        s.record_restart(RestartReason::Gone);
        s.record_restart(RestartReason::Timeout);
        s.record_restart(RestartReason::Timeout);
        s.record_malformed_event();
        s.record_cache_hit();
        s.record_cache_miss();
        s.record_lookup_failure();
        s.record_throttled_wait(Duration::from_millis(1500));
        s.record_server_throttled();
        s.record_request(RequestKind::List);
        s.record_request(RequestKind::Watch);
        s.record_request(RequestKind::Lookup);
        s.record_request(RequestKind::Lease);
        s.record_request(RequestKind::Other);
        let snap = s.snapshot();
        assert_eq!(snap.watch_restarts_gone, 1);
        assert_eq!(snap.watch_restarts_timeout, 2);
        assert_eq!(snap.watch_restarts_error, 0);
        assert_eq!(snap.malformed_events, 1);
        assert_eq!(snap.lookup_cache_hits, 1);
        assert_eq!(snap.lookup_cache_misses, 1);
        assert_eq!(snap.lookup_failures, 1);
        assert!((snap.throttled_wait_seconds - 1.5).abs() < 1e-9);
        assert_eq!(snap.server_throttled, 1);
        assert_eq!(
            (
                snap.list_requests,
                snap.watch_requests,
                snap.lookup_requests,
                snap.lease_requests,
                snap.other_requests
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(s.restarts(RestartReason::Timeout), 2);
        assert_eq!(RestartReason::Throttled.as_str(), "throttled");
    }
}
