//! The per-receiver task: takes deliveries from the queue, encodes them,
//! closes batches by count, bytes or linger, and sends each batch in its own
//! task (at most `concurrency` at a time; see [`send`](super::send) for
//! timeouts, retries and acknowledgements).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, error, warn};

use super::ack::{AckRef, AckStatus};
use super::health::HealthState;
use super::metrics::{DropReason, ReceiverMetrics};
use super::send::{Batch, send_batch};
use super::settings::DeliverySettings;
use super::{Delivery, Item, RequestBuilder as _, Sink};

/// What the worker and its send tasks share.
pub(crate) struct Shared<S: Sink> {
    /// Receiver name (`name:` in the config).
    pub(crate) name: Arc<str>,
    /// The sink.
    pub(crate) sink: Arc<S>,
    /// Resolved delivery settings.
    pub(crate) settings: DeliverySettings,
    /// The receiver's metric series.
    pub(crate) metrics: Arc<ReceiverMetrics>,
    /// Failure tracking for health.
    pub(crate) health: Arc<HealthState>,
    /// Events accepted into the queue whose handle is not completed yet.
    pub(crate) pending: Arc<AtomicUsize>,
}

impl<S: Sink> Shared<S> {
    pub(super) fn complete(&self, acks: Vec<AckRef>, status: AckStatus) {
        let n = acks.len();
        for ack in acks {
            ack.complete(status);
        }
        self.pending.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Runs one receiver until its queue is closed and drained and every request
/// in flight has finished.
pub(crate) async fn run<S: Sink>(
    shared: Arc<Shared<S>>,
    rx: mpsc::Receiver<Delivery>,
    closing: CancellationToken,
) {
    let semaphore = Arc::new(Semaphore::new(shared.settings.concurrency));
    let mut worker = Worker {
        shared,
        semaphore,
        in_flight: JoinSet::new(),
        batch: Batch::default(),
        rx,
        closing,
        closed: false,
    };
    worker.run().await;
}

struct Worker<S: Sink> {
    shared: Arc<Shared<S>>,
    semaphore: Arc<Semaphore>,
    in_flight: JoinSet<()>,
    batch: Batch<Item<S>>,
    rx: mpsc::Receiver<Delivery>,
    closing: CancellationToken,
    /// The queue takes no more deliveries (shutdown); what it holds is drained.
    closed: bool,
}

impl<S: Sink> Worker<S> {
    async fn run(&mut self) {
        let linger = self.shared.settings.batch.linger;
        loop {
            self.observe_closing();
            let Some(first) = self.recv().await else {
                break;
            };
            self.add(first).await;
            let deadline = Instant::now() + linger;
            while !self.batch.is_empty() && !self.batch_full() {
                self.observe_closing();
                match self.rx.try_recv() {
                    Ok(d) => {
                        self.add(d).await;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {}
                }
                if linger.is_zero() || self.closed {
                    break;
                }
                tokio::select! {
                    biased;
                    () = self.closing.cancelled(), if !self.closed => self.observe_closing(),
                    d = self.rx.recv() => match d {
                        Some(d) => self.add(d).await,
                        None => break,
                    },
                    () = sleep_until(deadline) => break,
                }
            }
            if !self.batch.is_empty() {
                self.flush().await;
            }
        }
        while let Some(result) = self.in_flight.join_next().await {
            self.log_join(result);
        }
    }

    /// Stops intake once shutdown has begun: senders fail from now on, queued
    /// deliveries are still drained.
    fn observe_closing(&mut self) {
        if !self.closed && self.closing.is_cancelled() {
            self.rx.close();
            self.closed = true;
        }
    }

    async fn recv(&mut self) -> Option<Delivery> {
        if self.closed {
            return self.rx.recv().await;
        }
        tokio::select! {
            d = self.rx.recv() => d,
            () = self.closing.cancelled() => {
                self.observe_closing();
                self.rx.recv().await
            }
        }
    }

    fn batch_full(&self) -> bool {
        let limits = &self.shared.settings.batch;
        self.batch.len() >= limits.max_events || self.batch.bytes() >= limits.max_bytes
    }

    async fn add(&mut self, d: Delivery) {
        let shared = self.shared.clone();
        shared.metrics.dequeued();
        match shared.sink.builder().encode(&d) {
            Ok(item) => {
                let builder = shared.sink.builder();
                let size = builder.item_size(&item);
                let too_big =
                    self.batch.bytes().saturating_add(size) > shared.settings.batch.max_bytes;
                let apart = self
                    .batch
                    .first()
                    .is_some_and(|first| !builder.same_request(first, &item));
                if !self.batch.is_empty() && (too_big || apart) {
                    self.flush().await;
                }
                self.batch.push(item, size, d);
            }
            Err(e) => {
                warn!(
                    sink = %shared.name,
                    sink_type = shared.sink.kind(),
                    event = %d.event.idempotency_key(),
                    error = %e,
                    "cannot encode event for this receiver, skipping it"
                );
                shared.metrics.error("encode");
                shared.metrics.dropped(DropReason::EncodeError, 1);
                shared.complete(vec![d.ack], AckStatus::Rejected);
            }
        }
    }

    /// Hands the current batch to a send task, waiting for a concurrency slot.
    async fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        // The semaphore is owned here and never closed, so acquiring cannot
        // fail; without a permit the request would merely exceed the limit.
        let permit = self.semaphore.clone().acquire_owned().await.ok();
        let shared = self.shared.clone();
        self.in_flight.spawn(
            async move {
                let _permit = permit;
                send_batch(&shared, batch).await;
            }
            .in_current_span(),
        );
        while let Some(result) = self.in_flight.try_join_next() {
            self.log_join(result);
        }
    }

    fn log_join(&self, result: Result<(), JoinError>) {
        if let Err(e) = result
            && e.is_panic()
        {
            error!(
                sink = %self.shared.name,
                sink_type = self.shared.sink.kind(),
                "send task panicked, its events will be redelivered"
            );
        }
    }
}
