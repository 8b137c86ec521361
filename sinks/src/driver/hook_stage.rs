//! The hook stage: runs a receiver's hook on every event before the worker
//! encodes it.
//!
//! ```text
//! Receiver::deliver ──▶ queue ──▶ hook stage ──▶ small queue ──▶ worker
//!                                   │ skip: acknowledged here
//!                                   │ fail: held, asked again after a backoff
//! ```
//!
//! The stage takes what is queued in chunks and runs the hook on a blocking
//! thread (a script may take up to its timeout), one event after the other, so
//! the receiver's order is kept. An event held by `onError: fail` holds every
//! later event of this receiver too; the queue then fills and the receiver's
//! lane stops taking events, as with a receiver that is down. Nothing held is
//! ever acknowledged: on shutdown it is left to the exporter to deliver again.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::ack::AckStatus;
use super::hook::{DeliveryHook, HookDecision, HookErrorKind, HookOutcome, HookTarget};
use super::metrics::ReceiverMetrics;
use super::settings::RetrySettings;
use super::{Delivery, RequestBuilder as _, Sink};

/// Events the stage takes from the queue at once (one blocking call).
const CHUNK: usize = 64;

/// Room between the stage and the worker: the worker's own batching reads
/// from here.
pub(crate) const HANDOFF: usize = 256;

/// Everything the stage needs.
pub(crate) struct HookStage {
    pub(crate) name: Arc<str>,
    pub(crate) kind: &'static str,
    pub(crate) hook: Arc<dyn DeliveryHook>,
    pub(crate) target: Arc<dyn HookTarget>,
    pub(crate) metrics: Arc<ReceiverMetrics>,
    pub(crate) pending: Arc<AtomicUsize>,
    pub(crate) retry: RetrySettings,
}

/// A sink's request builder as a [`HookTarget`].
pub(crate) struct SinkTarget<S: Sink>(pub(crate) Arc<S>);

impl<S: Sink> HookTarget for SinkTarget<S> {
    fn offer(&self, delivery: &Delivery) -> serde_json::Map<String, serde_json::Value> {
        self.0.builder().hook_offer(delivery)
    }

    fn check(&self, changed: &super::HookSettings) -> Result<(), String> {
        self.0.builder().hook_check(changed)
    }
}

impl HookStage {
    /// Runs until `input` is closed and empty (shutdown closes it when
    /// `closing` is cancelled), then drops `output`, which ends the worker.
    pub(crate) async fn run(
        self,
        mut input: mpsc::Receiver<Delivery>,
        output: mpsc::Sender<Delivery>,
        closing: CancellationToken,
    ) {
        let mut closed = false;
        let mut held: VecDeque<Delivery> = VecDeque::new();
        let mut failures: u32 = 0;
        loop {
            if held.is_empty() {
                let mut chunk = Vec::with_capacity(CHUNK);
                let n = tokio::select! {
                    n = input.recv_many(&mut chunk, CHUNK) => n,
                    () = closing.cancelled(), if !closed => {
                        input.close();
                        closed = true;
                        continue;
                    }
                };
                if n == 0 {
                    break;
                }
                held.extend(chunk);
            }
            let chunk: Vec<Delivery> = held.drain(..).collect();
            let results = self.decide_all(chunk).await;
            let mut results = results.into_iter();
            let mut stalled = false;
            for (delivery, outcome) in results.by_ref() {
                if let Some(kind) = outcome.error {
                    self.metrics.hook_error(kind);
                }
                match outcome.decision {
                    HookDecision::Send(settings) => {
                        failures = 0;
                        self.metrics.hook_result(if settings.is_some() {
                            "changed"
                        } else {
                            "unchanged"
                        });
                        let delivery = delivery.with_hook_settings(settings);
                        if output.send(delivery).await.is_err() {
                            // The worker is gone (aborted at the end of a
                            // drain): what is left is delivered again by the
                            // exporter.
                            return;
                        }
                    }
                    HookDecision::Skip => {
                        failures = 0;
                        self.metrics.hook_result("skipped");
                        self.metrics.dequeued();
                        delivery.ack.complete(AckStatus::Delivered);
                        self.pending.fetch_sub(1, Ordering::AcqRel);
                    }
                    HookDecision::Retry => {
                        self.metrics.hook_result("held");
                        held.push_back(delivery);
                        stalled = true;
                        break;
                    }
                }
            }
            if stalled {
                // Later events wait behind the held one: order is kept.
                held.extend(results.map(|(d, _)| d));
                failures = failures.saturating_add(1);
                let delay = self.retry.random_delay(failures, None);
                warn!(
                    sink = %self.name,
                    sink_type = self.kind,
                    held = held.len(),
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "hook failed with onError: fail; holding this receiver's events and trying again"
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = closing.cancelled() => {
                        // Shutdown: the held events are not acknowledged,
                        // so the exporter delivers them again.
                        return;
                    }
                }
            }
        }
    }

    /// Runs the hook on each delivery, in order, on a blocking thread.
    async fn decide_all(&self, chunk: Vec<Delivery>) -> Vec<(Delivery, HookOutcome)> {
        let hook = self.hook.clone();
        let target = self.target.clone();
        let name = self.name.clone();
        let kind = self.kind;
        let task = tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|d| {
                    let outcome =
                        std::panic::catch_unwind(AssertUnwindSafe(|| hook.decide(&*target, &d)))
                            .unwrap_or_else(|_| {
                                error!(
                                    sink = %name,
                                    sink_type = kind,
                                    event = %d.event.idempotency_key(),
                                    "hook panicked; holding the event"
                                );
                                HookOutcome {
                                    decision: HookDecision::Retry,
                                    error: Some(HookErrorKind::Script),
                                }
                            });
                    (d, outcome)
                })
                .collect()
        });
        // The closure catches panics, so the task can only fail when the
        // runtime shuts down, and then the deliveries are gone with it.
        task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
