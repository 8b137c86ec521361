//! The driver's Prometheus metrics (sinks emit none of their own):
//!
//! | metric | labels |
//! |---|---|
//! | `herald_sink_sent_events_total` | `sink`, `sink_type` |
//! | `herald_sink_sent_bytes_total` | `sink`, `sink_type` |
//! | `herald_sink_errors_total` | `sink`, `sink_type`, `error_type` (`encode`, `timeout`, `retriable`, `permanent`) |
//! | `herald_sink_dropped_events_total` | `sink`, `sink_type`, `reason` (`queue_full`, `encode_error`, `permanent_error`, `retries_exhausted`) |
//! | `herald_sink_retries_total` | `sink`, `sink_type` |
//! | `herald_sink_buffer_events` | `sink`, `sink_type` (queue depth) |
//! | `herald_sink_request_duration_seconds` | `sink`, `sink_type` (histogram) |
//! | `herald_sink_hook_events_total` | `sink`, `sink_type`, `result` (`unchanged`, `changed`, `skipped`, `held`) |
//! | `herald_sink_hook_errors_total` | `sink`, `sink_type`, `error` (`timeout`, `script`, `invalid`) |
//!
//! Every event a receiver does not deliver is counted in
//! `herald_sink_dropped_events_total` with its reason; events rejected after
//! sending also count in KEE's `send_event_errors`. A request the target
//! answered item by item counts once in `herald_sink_errors_total` as
//! `permanent` when it refused some items for good and once as `retriable`
//! when it asked to retry some; the refused items count one by one as
//! `permanent_error` drops.

use std::sync::Arc;

use herald_telemetry::KeeMetrics;
use herald_telemetry::kee::KeeCounter;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-receiver series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
    sink_type: String,
}

/// Labels of `herald_sink_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    sink: String,
    sink_type: String,
    error_type: String,
}

/// Labels of `herald_sink_hook_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookResultLabels {
    sink: String,
    sink_type: String,
    result: String,
}

/// Labels of `herald_sink_hook_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookErrorLabels {
    sink: String,
    sink_type: String,
    error: String,
}

/// Labels of `herald_sink_dropped_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    sink: String,
    sink_type: String,
    reason: String,
}

type HistogramFamily = Family<SinkLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 5 ms .. ~41 s
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The metric families of every receiver; cheap to clone.
#[derive(Clone, Debug)]
pub struct SinkMetrics {
    sent_events: Family<SinkLabels, Counter>,
    sent_bytes: Family<SinkLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    dropped: Family<DropLabels, Counter>,
    retries: Family<SinkLabels, Counter>,
    buffer: Family<SinkLabels, Gauge>,
    duration: HistogramFamily,
    hook_results: Family<HookResultLabels, Counter>,
    hook_errors: Family<HookErrorLabels, Counter>,
    kee: Option<KeeMetrics>,
}

impl Default for SinkMetrics {
    fn default() -> Self {
        SinkMetrics::new()
    }
}

impl SinkMetrics {
    /// Creates unregistered families (see [`SinkMetrics::register`]).
    pub fn new() -> SinkMetrics {
        SinkMetrics {
            sent_events: Family::default(),
            sent_bytes: Family::default(),
            errors: Family::default(),
            dropped: Family::default(),
            retries: Family::default(),
            buffer: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            hook_results: Family::default(),
            hook_errors: Family::default(),
            kee: None,
        }
    }

    /// Also counts rejected events in KEE's `send_event_errors`.
    pub fn with_kee(mut self, kee: KeeMetrics) -> SinkMetrics {
        self.kee = Some(kee);
        self
    }

    /// Registers every family in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "herald_sink_sent_events",
            "Events delivered by a receiver",
            self.sent_events.clone(),
        );
        registry.register(
            "herald_sink_sent_bytes",
            "Bytes of encoded events delivered by a receiver",
            self.sent_bytes.clone(),
        );
        registry.register(
            "herald_sink_errors",
            "Failed encodes and requests of a receiver, by error type",
            self.errors.clone(),
        );
        registry.register(
            "herald_sink_dropped_events",
            "Events a receiver did not deliver, by reason",
            self.dropped.clone(),
        );
        registry.register(
            "herald_sink_retries",
            "Requests a receiver retried",
            self.retries.clone(),
        );
        registry.register(
            "herald_sink_buffer_events",
            "Events waiting in a receiver's queue",
            self.buffer.clone(),
        );
        registry.register(
            "herald_sink_request_duration_seconds",
            "Duration of a receiver's requests",
            self.duration.clone(),
        );
        registry.register(
            "herald_sink_hook_events",
            "Events a receiver's hook decided on, by result",
            self.hook_results.clone(),
        );
        registry.register(
            "herald_sink_hook_errors",
            "Hook runs that gave no usable answer (onError applied), by error",
            self.hook_errors.clone(),
        );
    }

    /// Resolves the series of one receiver.
    pub(crate) fn receiver(&self, sink: &str, sink_type: &'static str) -> Arc<ReceiverMetrics> {
        let labels = SinkLabels {
            sink: sink.to_owned(),
            sink_type: sink_type.to_owned(),
        };
        Arc::new(ReceiverMetrics {
            sent_events: self.sent_events.get_or_create_owned(&labels),
            sent_bytes: self.sent_bytes.get_or_create_owned(&labels),
            retries: self.retries.get_or_create_owned(&labels),
            buffer: self.buffer.get_or_create_owned(&labels),
            duration: self.duration.get_or_create_owned(&labels),
            errors: self.errors.clone(),
            dropped: self.dropped.clone(),
            hook_results: self.hook_results.clone(),
            hook_errors: self.hook_errors.clone(),
            kee: self.kee.clone(),
            labels,
        })
    }
}

/// Why events were not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The queue was full and the policy is `drop`.
    QueueFull,
    /// The event could not be encoded (template error).
    EncodeError,
    /// The target refused the request permanently.
    PermanentError,
    /// Retriable failures until `maxAttempts` ran out.
    RetriesExhausted,
}

impl DropReason {
    /// Returns the `reason` label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::EncodeError => "encode_error",
            DropReason::PermanentError => "permanent_error",
            DropReason::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// The series of one receiver, resolved once.
#[derive(Debug)]
pub(crate) struct ReceiverMetrics {
    labels: SinkLabels,
    sent_events: Counter,
    sent_bytes: Counter,
    retries: Counter,
    buffer: Gauge,
    duration: Histogram,
    errors: Family<ErrorLabels, Counter>,
    dropped: Family<DropLabels, Counter>,
    hook_results: Family<HookResultLabels, Counter>,
    hook_errors: Family<HookErrorLabels, Counter>,
    kee: Option<KeeMetrics>,
}

impl ReceiverMetrics {
    /// Counts one hook decision (`unchanged`, `changed`, `skipped`, `held`).
    pub(crate) fn hook_result(&self, result: &'static str) {
        self.hook_results
            .get_or_create(&HookResultLabels {
                sink: self.labels.sink.clone(),
                sink_type: self.labels.sink_type.clone(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Counts one hook run that gave no usable answer.
    pub(crate) fn hook_error(&self, kind: super::HookErrorKind) {
        self.hook_errors
            .get_or_create(&HookErrorLabels {
                sink: self.labels.sink.clone(),
                sink_type: self.labels.sink_type.clone(),
                error: kind.as_str().to_owned(),
            })
            .inc();
    }

    pub(crate) fn sent(&self, events: usize, bytes: usize) {
        self.sent_events.inc_by(as_u64(events));
        self.sent_bytes.inc_by(as_u64(bytes));
    }

    pub(crate) fn error(&self, error_type: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels {
                sink: self.labels.sink.clone(),
                sink_type: self.labels.sink_type.clone(),
                error_type: error_type.to_owned(),
            })
            .inc();
    }

    /// Counts events that will not be delivered; events the target refused
    /// (or that could not be encoded) also count as KEE send errors.
    pub(crate) fn dropped(&self, reason: DropReason, events: usize) {
        self.dropped
            .get_or_create(&DropLabels {
                sink: self.labels.sink.clone(),
                sink_type: self.labels.sink_type.clone(),
                reason: reason.as_str().to_owned(),
            })
            .inc_by(as_u64(events));
        if reason != DropReason::QueueFull
            && let Some(kee) = &self.kee
        {
            kee.add(KeeCounter::SendEventErrors, as_u64(events));
        }
    }

    pub(crate) fn retry(&self) {
        self.retries.inc();
    }

    pub(crate) fn queued(&self) {
        self.buffer.inc();
    }

    pub(crate) fn dequeued(&self) {
        self.buffer.dec();
    }

    pub(crate) fn queue_depth(&self) -> i64 {
        self.buffer.get()
    }

    pub(crate) fn observe_request(&self, seconds: f64) {
        self.duration.observe(seconds);
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(r: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, r).unwrap();
        out
    }

    #[test]
    fn exposes_the_documented_names_and_labels() {
        let kee = KeeMetrics::new("");
        let m = SinkMetrics::new().with_kee(kee.clone());
        let mut registry = Registry::default();
        m.register(&mut registry);
        let r = m.receiver("hook", "webhook");
        r.sent(3, 120);
        r.error("timeout");
        r.retry();
        r.queued();
        r.dropped(DropReason::QueueFull, 2);
        r.dropped(DropReason::PermanentError, 1);
        r.observe_request(0.02);
        let text = exposition(&registry);
        for line in [
            "herald_sink_sent_events_total{sink=\"hook\",sink_type=\"webhook\"} 3",
            "herald_sink_sent_bytes_total{sink=\"hook\",sink_type=\"webhook\"} 120",
            "herald_sink_errors_total{sink=\"hook\",sink_type=\"webhook\",error_type=\"timeout\"} 1",
            "herald_sink_dropped_events_total{sink=\"hook\",sink_type=\"webhook\",reason=\"queue_full\"} 2",
            "herald_sink_dropped_events_total{sink=\"hook\",sink_type=\"webhook\",reason=\"permanent_error\"} 1",
            "herald_sink_retries_total{sink=\"hook\",sink_type=\"webhook\"} 1",
            "herald_sink_buffer_events{sink=\"hook\",sink_type=\"webhook\"} 1",
            "herald_sink_request_duration_seconds_count{sink=\"hook\",sink_type=\"webhook\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // Queue-full drops are not send errors in KEE's sense.
        assert_eq!(kee.get(KeeCounter::SendEventErrors), 1);
    }
}
