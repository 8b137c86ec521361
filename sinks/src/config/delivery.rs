//! herald's optional per-receiver `delivery:` block.
//!
//! ```yaml
//! delivery:
//!   queueSize: 10000        # events buffered for this receiver
//!   onFull: block           # block (backpressure into the exporter's log) | drop (counted)
//!   batch: { maxEvents: 1, maxBytes: 1MiB, linger: 0s }
//!   timeout: 10s            # per request
//!   concurrency: 1          # requests in flight
//!   retry: { initialBackoff: 500ms, maxBackoff: 30s, maxAttempts: 0 }
//!   unhealthyAfter: 5m      # failing this long makes /-/ready fail
//! ```
//!
//! Every key is optional; absent keys take the sink's defaults
//! ([`SinkType::BATCH_DEFAULTS`](crate::registry::SinkType::BATCH_DEFAULTS)) and the driver's
//! ([`DeliverySettings::with_batch`]).

use herald_config::{DecodeOptions, Diagnostics, Located, Node, decode_with};
use serde::Deserialize;

use super::units::{ByteSize, GoDuration};
use crate::driver::{BatchSettings, DeliverySettings, OnFull, RetrySettings};

/// The `delivery:` block as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryConfig {
    /// Events buffered for this receiver (default 10000). Memory use is
    /// bounded by this times the event size.
    #[serde(default)]
    pub queue_size: Option<Located<usize>>,
    /// What happens when the queue is full: `block` (default) waits, which
    /// stops the ruler from taking more events from the exporter — once full,
    /// a blocked receiver holds up every other receiver of this ruler; `drop`
    /// completes the event as dropped for this receiver and counts it in
    /// `herald_sink_dropped_events_total{reason="queue_full"}`. Use `drop` for
    /// best-effort receivers.
    #[serde(default)]
    pub on_full: Option<OnFullConfig>,
    /// Batching; defaults depend on the sink (webhook: one event per request).
    #[serde(default)]
    pub batch: BatchConfig,
    /// Timeout of one request (default 10s); a request that takes longer is
    /// a retriable failure.
    #[serde(default)]
    pub timeout: Option<Located<GoDuration>>,
    /// Requests in flight at once (default 1, which keeps events in order).
    #[serde(default)]
    pub concurrency: Option<Located<usize>>,
    /// Retries of retriable failures.
    #[serde(default)]
    pub retry: RetryConfig,
    /// A receiver whose requests have failed for longer than this without a
    /// success is reported unhealthy on `/-/ready` (default 5m).
    #[serde(default)]
    pub unhealthy_after: Option<GoDuration>,
}

/// `delivery.onFull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFullConfig {
    /// Wait for space (backpressure).
    Block,
    /// Drop the event for this receiver (counted).
    Drop,
}

/// `delivery.batch`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchConfig {
    /// Most events per request.
    #[serde(default)]
    pub max_events: Option<Located<usize>>,
    /// Most bytes of encoded events per request (`1MiB`); a single larger
    /// event is sent alone.
    #[serde(default)]
    pub max_bytes: Option<Located<ByteSize>>,
    /// How long to wait for more events once a batch has its first one (`0s`
    /// sends what is already queued at once).
    #[serde(default)]
    pub linger: Option<GoDuration>,
}

/// `delivery.retry`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryConfig {
    /// Upper bound of the first backoff (default 500ms); each retry doubles
    /// it, and the actual wait is a random point below it (full jitter).
    #[serde(default)]
    pub initial_backoff: Option<GoDuration>,
    /// Upper bound of every backoff (default 30s). A `Retry-After` from the
    /// target is honoured even when longer (up to 10 minutes).
    #[serde(default)]
    pub max_backoff: Option<Located<GoDuration>>,
    /// Attempts per request including the first (default 0: retry retriable
    /// errors until they succeed). Exhausted requests are rejected, logged
    /// and counted.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl DeliveryConfig {
    /// Decodes and checks a `delivery:` node at `path`.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let config: DeliveryConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        for (value, what) in [
            (&config.queue_size, "queueSize"),
            (&config.concurrency, "concurrency"),
            (&config.batch.max_events, "batch.maxEvents"),
        ] {
            if let Some(v) = value
                && v.value == 0
            {
                v.error(diags, format!("{what} must be at least 1"));
            }
        }
        if let Some(b) = &config.batch.max_bytes
            && b.value.0 == 0
        {
            b.error(diags, "batch.maxBytes must be at least 1 byte");
        }
        if let Some(t) = &config.timeout
            && t.value.0.is_zero()
        {
            t.error(diags, "timeout must be greater than 0")
                .with_hint("every request needs a timeout; the default is 10s");
        }
        if let (Some(initial), Some(max)) =
            (&config.retry.initial_backoff, &config.retry.max_backoff)
            && initial.0 > max.value.0
        {
            max.error(
                diags,
                "retry.maxBackoff is shorter than retry.initialBackoff",
            );
        }
        (diags.error_count() == before).then_some(config)
    }

    /// Applies the block over the driver defaults and the sink's batch
    /// defaults.
    pub fn resolve(&self, batch_defaults: BatchSettings) -> DeliverySettings {
        self.apply(DeliverySettings::with_batch(batch_defaults))
    }

    /// Applies the keys that are set over `base` (a receiver type's own
    /// defaults, [`SinkType::delivery_defaults`](crate::registry::SinkType::delivery_defaults)).
    pub fn apply(&self, base: DeliverySettings) -> DeliverySettings {
        let mut s = base;
        if let Some(v) = &self.queue_size {
            s.queue_size = v.value;
        }
        if let Some(v) = self.on_full {
            s.on_full = match v {
                OnFullConfig::Block => OnFull::Block,
                OnFullConfig::Drop => OnFull::Drop,
            };
        }
        if let Some(v) = &self.batch.max_events {
            s.batch.max_events = v.value;
        }
        if let Some(v) = &self.batch.max_bytes {
            s.batch.max_bytes = usize::try_from(v.value.0).unwrap_or(usize::MAX);
        }
        if let Some(v) = self.batch.linger {
            s.batch.linger = v.0;
        }
        if let Some(v) = &self.timeout {
            s.timeout = v.value.0;
        }
        if let Some(v) = &self.concurrency {
            s.concurrency = v.value;
        }
        let retry: &mut RetrySettings = &mut s.retry;
        if let Some(v) = self.retry.initial_backoff {
            retry.initial_backoff = v.0;
        }
        if let Some(v) = &self.retry.max_backoff {
            retry.max_backoff = v.value.0;
        }
        if let Some(v) = self.retry.max_attempts {
            retry.max_attempts = v;
        }
        if let Some(v) = self.unhealthy_after {
            s.unhealthy_after = v.0;
        }
        s
    }
}
