//! Resolved per-receiver delivery settings: the `delivery:` block of a
//! receiver applied over the sink's defaults.

use std::time::Duration;

/// What to do with an event when the receiver's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFull {
    /// Wait for space: backpressure into the exporter's durable log. Once the
    /// queue is full this holds up the ruler, and with it every other
    /// receiver, until the receiver catches up.
    #[default]
    Block,
    /// Complete the event as dropped for this receiver and count it.
    Drop,
}

impl OnFull {
    /// Returns the config spelling (`block`, `drop`).
    pub fn as_str(self) -> &'static str {
        match self {
            OnFull::Block => "block",
            OnFull::Drop => "drop",
        }
    }
}

/// When a batch is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// Most events in one request (at least 1).
    pub max_events: usize,
    /// Most bytes of encoded events in one request; a single larger event is
    /// still sent, alone.
    pub max_bytes: usize,
    /// How long to wait for more events after the first one of a batch; zero
    /// sends whatever is already queued at once.
    pub linger: Duration,
}

impl BatchSettings {
    /// One event per request (webhook-style targets).
    pub const SINGLE: BatchSettings = BatchSettings {
        max_events: 1,
        max_bytes: 1024 * 1024,
        linger: Duration::ZERO,
    };

    /// Up to 500 already-queued events per write (stream-like targets: stdout,
    /// files, pipes).
    pub const STREAM: BatchSettings = BatchSettings {
        max_events: 500,
        max_bytes: 1024 * 1024,
        linger: Duration::ZERO,
    };
}

/// Retry policy for retriable failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Upper bound of the first backoff.
    pub initial_backoff: Duration,
    /// Upper bound of every backoff.
    pub max_backoff: Duration,
    /// Attempts per request including the first; 0 retries until success.
    pub max_attempts: u32,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_attempts: 0,
        }
    }
}

/// Everything the driver needs to run one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Events buffered for this receiver.
    pub queue_size: usize,
    /// Policy when the queue is full.
    pub on_full: OnFull,
    /// Batching.
    pub batch: BatchSettings,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Requests in flight.
    pub concurrency: usize,
    /// Retries.
    pub retry: RetrySettings,
    /// A receiver whose requests have been failing for longer than this is
    /// reported unhealthy.
    pub unhealthy_after: Duration,
}

impl DeliverySettings {
    /// Default queue size.
    pub const DEFAULT_QUEUE_SIZE: usize = 10_000;
    /// Default request timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default health window.
    pub const DEFAULT_UNHEALTHY_AFTER: Duration = Duration::from_secs(300);

    /// Returns the defaults with the given batch settings.
    pub fn with_batch(batch: BatchSettings) -> DeliverySettings {
        DeliverySettings {
            queue_size: Self::DEFAULT_QUEUE_SIZE,
            on_full: OnFull::Block,
            batch,
            timeout: Self::DEFAULT_TIMEOUT,
            concurrency: 1,
            retry: RetrySettings::default(),
            unhealthy_after: Self::DEFAULT_UNHEALTHY_AFTER,
        }
    }

    /// Clamps values a running driver cannot use (zero sizes) to 1.
    pub(crate) fn sanitized(mut self) -> DeliverySettings {
        self.queue_size = self.queue_size.max(1);
        self.concurrency = self.concurrency.max(1);
        self.batch.max_events = self.batch.max_events.max(1);
        self.batch.max_bytes = self.batch.max_bytes.max(1);
        self
    }
}
