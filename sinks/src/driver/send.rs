//! Sending one batch: timeout, retries with backoff, item-by-item outcomes
//! and the acknowledgement of every event exactly once.
//!
//! A batch is sent until nothing is left to send:
//! * the whole request delivered: every event is acknowledged as delivered;
//! * the whole request failed: retriable failures (and timeouts) send the same
//!   request again after the backoff, until `maxAttempts`; a permanent failure
//!   rejects every event;
//! * an item-by-item answer ([`SendOutcome::Partial`]): delivered items are
//!   acknowledged at once, refused ones rejected (each logged with the
//!   target's reason and counted), and the ones to retry go out again, in a
//!   request built from just them, under the same backoff, `Retry-After`,
//!   timeout and attempt rules.
//!
//! Attempts count requests: the first request is attempt 1, each retry (of
//! the whole request or of the remaining items) one more.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use herald_proto::Event;
use herald_telemetry::traces::TraceContext;
use tokio::time::Instant;
use tracing::{Instrument as _, error, info_span, warn};

use super::ack::{AckRef, AckStatus};
use super::metrics::DropReason;
use super::worker::Shared;
use super::{Delivery, Item, ItemOutcome, RequestBuilder as _, SendError, SendOutcome, Sink};

/// Encoded events waiting to be sent together, in queue order.
pub(super) struct Batch<I> {
    items: Vec<I>,
    /// The size of each item.
    sizes: Vec<usize>,
    acks: Vec<AckRef>,
    /// The events, for log lines about single items.
    events: Vec<Arc<Event>>,
    bytes: usize,
    /// The trace the request joins: the first delivery's.
    trace: Option<TraceContext>,
}

impl<I> Default for Batch<I> {
    fn default() -> Self {
        Batch {
            items: Vec::new(),
            sizes: Vec::new(),
            acks: Vec::new(),
            events: Vec::new(),
            bytes: 0,
            trace: None,
        }
    }
}

impl<I> Batch<I> {
    pub(super) fn push(&mut self, item: I, size: usize, delivery: Delivery) {
        self.items.push(item);
        self.sizes.push(size);
        if self.trace.is_none() {
            self.trace = delivery.trace;
        }
        self.acks.push(delivery.ack);
        self.events.push(delivery.event);
        self.bytes = self.bytes.saturating_add(size);
    }

    pub(super) fn len(&self) -> usize {
        self.acks.len()
    }

    /// The batch's first item.
    pub(super) fn first(&self) -> Option<&I> {
        self.items.first()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.acks.is_empty()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Splits the batch by `outcomes` (one per item, in order; a missing one
    /// means retry) into (delivered, rejected with reasons, to retry).
    fn split(self, outcomes: Vec<ItemOutcome>) -> Split<I> {
        let mut split = Split {
            delivered: Batch {
                trace: self.trace.clone(),
                ..Batch::default()
            },
            rejected: Vec::new(),
            retry: Batch {
                trace: self.trace,
                ..Batch::default()
            },
            retry_reason: None,
        };
        let mut outcomes = outcomes.into_iter();
        let entries = self
            .items
            .into_iter()
            .zip(self.sizes)
            .zip(self.acks)
            .zip(self.events);
        for (((item, size), ack), event) in entries {
            let outcome = outcomes.next().unwrap_or_else(|| {
                ItemOutcome::retry("the sink reported no outcome for this item")
            });
            let target = match outcome {
                ItemOutcome::Delivered => &mut split.delivered,
                ItemOutcome::Retry { reason } => {
                    split.retry_reason.get_or_insert(reason);
                    &mut split.retry
                }
                ItemOutcome::Rejected { reason } => {
                    split.rejected.push((Rejected { ack, event }, reason));
                    continue;
                }
            };
            target.items.push(item);
            target.sizes.push(size);
            target.acks.push(ack);
            target.events.push(event);
            target.bytes = target.bytes.saturating_add(size);
        }
        split
    }
}

/// One event the target refused for good.
struct Rejected {
    ack: AckRef,
    event: Arc<Event>,
}

/// A batch split by an item-by-item answer.
struct Split<I> {
    delivered: Batch<I>,
    rejected: Vec<(Rejected, String)>,
    retry: Batch<I>,
    /// The target's reason for the first item to retry.
    retry_reason: Option<String>,
}

/// Why one attempt failed as a whole.
enum Failure {
    /// The sink classified the failure.
    Send(SendError),
    /// The request did not finish within the timeout.
    Timeout(Duration),
    /// The target answered item by item and some items are to be retried.
    Items {
        /// How many.
        count: usize,
        /// The target's reason for the first of them.
        reason: String,
        /// The target's `Retry-After`.
        retry_after: Option<Duration>,
    },
}

impl Failure {
    fn error_type(&self) -> &'static str {
        match self {
            Failure::Send(SendError::Retriable { .. }) | Failure::Items { .. } => "retriable",
            Failure::Send(SendError::Permanent { .. }) => "permanent",
            Failure::Timeout(_) => "timeout",
        }
    }

    fn is_retriable(&self) -> bool {
        match self {
            Failure::Send(e) => e.is_retriable(),
            Failure::Timeout(_) | Failure::Items { .. } => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Send(e) => e.retry_after(),
            Failure::Timeout(_) => None,
            Failure::Items { retry_after, .. } => *retry_after,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Send(e) => e.fmt(f),
            Failure::Timeout(t) => write!(f, "request timed out after {t:?}"),
            Failure::Items { count, reason, .. } => {
                write!(f, "the target asked to retry {count} item(s): {reason}")
            }
        }
    }
}

/// How a batch ended, for the trace span.
#[derive(Default)]
struct Tally {
    delivered: usize,
    rejected: usize,
}

impl Tally {
    fn outcome(&self, reason: Option<DropReason>) -> &'static str {
        match (self.delivered, self.rejected, reason) {
            (_, 0, None) => "delivered",
            (0, _, Some(reason)) => reason.as_str(),
            (0, _, None) => DropReason::PermanentError.as_str(),
            _ => "partial",
        }
    }
}

/// Sends one batch until every event is delivered or rejected, completing
/// each event's handle exactly once.
pub(super) async fn send_batch<S: Sink>(shared: &Shared<S>, batch: Batch<Item<S>>) {
    let span = info_span!(
        target: "herald_trace",
        parent: None,
        "herald.sink.send",
        sink = %shared.name,
        sink_type = shared.sink.kind(),
        events = batch.len(),
        attempts = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    if let Some(trace) = &batch.trace {
        trace.adopt(&span);
    }
    send_batch_attempts(shared, batch, &span)
        .instrument(span.clone())
        .await;
}

async fn send_batch_attempts<S: Sink>(
    shared: &Shared<S>,
    mut batch: Batch<Item<S>>,
    span: &tracing::Span,
) {
    let settings = &shared.settings;
    let mut request = shared.sink.builder().build_request(&batch.items);
    let mut tally = Tally::default();
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let started = Instant::now();
        let result = match tokio::time::timeout(settings.timeout, shared.sink.send(&request)).await
        {
            Ok(r) => r.map_err(Failure::Send),
            Err(_) => Err(Failure::Timeout(settings.timeout)),
        };
        shared
            .metrics
            .observe_request(started.elapsed().as_secs_f64());
        let failure = match result {
            Ok(SendOutcome::Delivered) => {
                tally.delivered += batch.len();
                deliver(shared, batch);
                shared.health.success();
                finish(span, attempt, &tally, None);
                return;
            }
            Ok(SendOutcome::Partial(partial)) => {
                let split = batch.split(partial.items);
                tally.delivered += split.delivered.len();
                tally.rejected += split.rejected.len();
                let any_delivered = !split.delivered.is_empty();
                deliver(shared, split.delivered);
                reject_items(shared, split.rejected);
                if split.retry.is_empty() {
                    if any_delivered {
                        shared.health.success();
                    } else {
                        shared.health.failure();
                    }
                    finish(span, attempt, &tally, None);
                    return;
                }
                batch = split.retry;
                request = shared.sink.builder().build_request(&batch.items);
                Failure::Items {
                    count: batch.len(),
                    reason: split.retry_reason.unwrap_or_default(),
                    retry_after: partial.retry_after,
                }
            }
            Err(f) => f,
        };
        shared.health.failure();
        shared.metrics.error(failure.error_type());
        if failure.is_retriable() && settings.retry.may_retry(attempt) {
            let delay = settings.retry.random_delay(attempt, failure.retry_after());
            shared.metrics.retry();
            warn!(
                sink = %shared.name,
                sink_type = shared.sink.kind(),
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                events = batch.len(),
                error = %failure,
                "send failed, retrying"
            );
            tokio::time::sleep(delay).await;
            continue;
        }
        let reason = if failure.is_retriable() {
            DropReason::RetriesExhausted
        } else {
            DropReason::PermanentError
        };
        error!(
            sink = %shared.name,
            sink_type = shared.sink.kind(),
            attempts = attempt,
            events = batch.len(),
            reason = reason.as_str(),
            error = %failure,
            "send failed, events rejected"
        );
        tally.rejected += batch.len();
        shared.metrics.dropped(reason, batch.len());
        shared.complete(batch.acks, AckStatus::Rejected);
        finish(span, attempt, &tally, Some(reason));
        return;
    }
}

/// Acknowledges a batch as delivered and counts it.
fn deliver<S: Sink, I>(shared: &Shared<S>, batch: Batch<I>) {
    if batch.is_empty() {
        return;
    }
    shared.metrics.sent(batch.len(), batch.bytes);
    shared.complete(batch.acks, AckStatus::Delivered);
}

/// Rejects the items a target refused for good: each is logged with the
/// target's reason and counted as a permanent error.
fn reject_items<S: Sink>(shared: &Shared<S>, rejected: Vec<(Rejected, String)>) {
    if rejected.is_empty() {
        return;
    }
    shared.metrics.error("permanent");
    shared
        .metrics
        .dropped(DropReason::PermanentError, rejected.len());
    let mut acks = Vec::with_capacity(rejected.len());
    for (item, reason) in rejected {
        warn!(
            sink = %shared.name,
            sink_type = shared.sink.kind(),
            event = %item.event.occurrence_id(),
            offset = item.ack.offset(),
            reason = %reason,
            "the target rejected this event, it will not be delivered to this receiver"
        );
        acks.push(item.ack);
    }
    shared.complete(acks, AckStatus::Rejected);
}

fn finish(span: &tracing::Span, attempts: u32, tally: &Tally, reason: Option<DropReason>) {
    span.record("attempts", attempts);
    span.record("outcome", tally.outcome(reason));
}
