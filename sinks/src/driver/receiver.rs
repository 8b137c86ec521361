//! [`Receiver`]: one running receiver — its queue, its worker task, its
//! metrics and health — behind a sink-independent handle.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, info_span, warn};

use super::ack::AckStatus;
use super::health::HealthState;
use super::hook::DeliveryHook;
use super::hook_stage::{HANDOFF, HookStage, SinkTarget};
use super::metrics::{DropReason, ReceiverMetrics, SinkMetrics};
use super::settings::{DeliverySettings, OnFull};
use super::worker::{self, Shared};
use super::{Delivery, Sink};

/// What happened to a delivery handed to a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverOutcome {
    /// Queued; its handle completes when the receiver is done with it.
    Queued,
    /// The queue was full and the policy is `drop`: completed as dropped.
    Dropped,
    /// The receiver is shutting down: the handle was dropped without
    /// completion, so the exporter redelivers the event.
    Closed,
    /// There is no such receiver: the delivery was completed as rejected
    /// (logged).
    Rejected,
}

/// How a receiver's drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every queued event was completed.
    Drained,
    /// The grace period ran out; `pending` events were not completed and will
    /// be redelivered.
    TimedOut {
        /// Events accepted but not completed.
        pending: usize,
    },
}

/// Sink operations the handle needs without knowing the sink's types.
#[async_trait]
trait Control: Send + Sync {
    async fn reopen(&self);
}

#[async_trait]
impl<S: Sink> Control for S {
    async fn reopen(&self) {
        Sink::reopen(self).await;
    }
}

/// Logs queue-full drops at most once per interval, with a count.
#[derive(Debug)]
struct DropLog {
    since_last: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl DropLog {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn record(&self, name: &str, kind: &str) {
        self.since_last.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| t.elapsed() < Self::INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let dropped = self.since_last.swap(0, Ordering::Relaxed);
        warn!(
            sink = %name,
            sink_type = kind,
            dropped,
            "receiver queue is full, dropping events (onFull: drop)"
        );
    }
}

/// A running receiver.
pub struct Receiver {
    name: Arc<str>,
    kind: &'static str,
    settings: DeliverySettings,
    tx: mpsc::Sender<Delivery>,
    on_full: OnFull,
    metrics: Arc<ReceiverMetrics>,
    health: Arc<HealthState>,
    pending: Arc<AtomicUsize>,
    control: Arc<dyn Control>,
    closing: CancellationToken,
    worker: Mutex<Option<JoinHandle<()>>>,
    drop_log: DropLog,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("on_full", &self.on_full)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts the worker of a receiver named `name` on the current Tokio
    /// runtime.
    ///
    /// # Panics
    /// Panics when called outside a Tokio runtime.
    pub fn spawn<S: Sink>(
        name: &str,
        sink: S,
        settings: DeliverySettings,
        metrics: &SinkMetrics,
    ) -> Receiver {
        Receiver::spawn_with_hook(name, sink, settings, metrics, None)
    }

    /// [`Receiver::spawn`] with a hook asked about every event before the
    /// worker encodes it ([`hook_stage`](super::hook_stage)).
    ///
    /// # Panics
    /// Panics when called outside a Tokio runtime.
    pub fn spawn_with_hook<S: Sink>(
        name: &str,
        sink: S,
        settings: DeliverySettings,
        metrics: &SinkMetrics,
        hook: Option<Arc<dyn DeliveryHook>>,
    ) -> Receiver {
        let settings = settings.sanitized();
        let sink = Arc::new(sink);
        let kind = sink.kind();
        let name: Arc<str> = Arc::from(name);
        let receiver_metrics = metrics.receiver(&name, kind);
        let health = Arc::new(HealthState::new(settings.unhealthy_after));
        let pending = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(settings.queue_size);
        let closing = CancellationToken::new();
        let shared = Arc::new(Shared {
            name: name.clone(),
            sink: sink.clone(),
            settings,
            metrics: receiver_metrics.clone(),
            health: health.clone(),
            pending: pending.clone(),
        });
        let span = info_span!("receiver", sink = %name, sink_type = kind);
        let worker = match hook {
            None => tokio::spawn(worker::run(shared, rx, closing.clone()).instrument(span)),
            Some(hook) => {
                let stage = HookStage {
                    name: name.clone(),
                    kind,
                    hook,
                    target: Arc::new(SinkTarget(sink.clone())),
                    metrics: receiver_metrics.clone(),
                    pending: pending.clone(),
                    retry: settings.retry,
                };
                let (handoff_tx, handoff_rx) = mpsc::channel(HANDOFF);
                // The stage sees shutdown and closes the queue; the worker
                // drains what the stage hands it and ends when the stage
                // drops its side, so it gets a token that is never cancelled.
                let stage = stage.run(rx, handoff_tx, closing.clone());
                let worker = worker::run(shared, handoff_rx, CancellationToken::new());
                tokio::spawn(
                    async move {
                        tokio::join!(stage, worker);
                    }
                    .instrument(span),
                )
            }
        };
        Receiver {
            name,
            kind,
            settings,
            tx,
            on_full: settings.on_full,
            metrics: receiver_metrics,
            health,
            pending,
            control: sink,
            closing,
            worker: Mutex::new(Some(worker)),
            drop_log: DropLog {
                since_last: AtomicU64::new(0),
                last: Mutex::new(None),
            },
        }
    }

    /// Returns the receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the receiver's type (`webhook`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Returns the delivery settings the receiver runs with.
    pub fn settings(&self) -> &DeliverySettings {
        &self.settings
    }

    /// Queues a delivery, applying the `onFull` policy: `block` waits for
    /// space (this is the backpressure that reaches the exporter), `drop`
    /// completes the delivery as dropped and counts it.
    pub async fn deliver(&self, d: Delivery) -> DeliverOutcome {
        // Reserve a slot first: waiting is cancel-safe, and nothing is
        // counted for a delivery that never enters the queue.
        let permit = match self.on_full {
            OnFull::Block => self
                .tx
                .reserve()
                .await
                .map_err(|_| TrySendError::Closed(())),
            OnFull::Drop => self.tx.try_reserve(),
        };
        match permit {
            Ok(permit) => {
                self.metrics.queued();
                self.pending.fetch_add(1, Ordering::AcqRel);
                permit.send(d);
                DeliverOutcome::Queued
            }
            Err(TrySendError::Full(())) => {
                self.metrics.dropped(DropReason::QueueFull, 1);
                self.drop_log.record(&self.name, self.kind);
                d.ack.complete(AckStatus::Dropped);
                DeliverOutcome::Dropped
            }
            Err(TrySendError::Closed(())) => {
                drop(d);
                DeliverOutcome::Closed
            }
        }
    }

    /// Reopens the sink's files (SIGHUP).
    pub async fn reopen(&self) {
        self.control.reopen().await;
    }

    /// Returns how long the receiver has been failing, when that is longer
    /// than its `unhealthyAfter` window.
    pub fn unhealthy_for(&self) -> Option<Duration> {
        self.health.unhealthy_for()
    }

    /// Returns the number of events accepted but not completed yet.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Returns the number of events waiting in the queue.
    pub fn queued(&self) -> usize {
        usize::try_from(self.metrics.queue_depth()).unwrap_or(0)
    }

    /// Stops intake without waiting: further deliveries return
    /// [`DeliverOutcome::Closed`] once the worker notices.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Stops intake, then waits until every queued event is completed or
    /// `deadline` passes; at the deadline the remaining work is abandoned
    /// (its events are not acknowledged and will be redelivered).
    pub async fn close_and_drain(&self, deadline: Instant) -> DrainOutcome {
        self.close();
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut handle) = handle else {
            return DrainOutcome::Drained;
        };
        if tokio::time::timeout_at(deadline, &mut handle).await.is_ok() {
            return DrainOutcome::Drained;
        }
        handle.abort();
        let pending = self.pending();
        warn!(
            sink = %self.name,
            sink_type = self.kind,
            pending,
            "receiver did not drain before the grace period ended, its events will be redelivered"
        );
        DrainOutcome::TimedOut { pending }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.closing.cancel();
    }
}
