//! The ingest pipeline: watch items → deduplication → enrichment → durable log.
//!
//! ```text
//!  WatchItem stream ──dedup (Occurrences)──▶ enrich (ordered, bounded concurrency)
//!                                        ──▶ batch (group commit: idle / count / linger) ──▶ Store::append ──▶ Hub
//! ```
//! * Deduplication decides on arrival, so two observations of the same occurrence in
//!   flight together are never both logged.
//! * Enrichment keeps arrival order (`buffered`), so a checkpoint is only persisted after
//!   every event before it; a slow lookup delays events by at most `lookup.maxWait`.
//! * One transaction per batch appends the events, records their occurrences and moves
//!   the checkpoint: a crash can lose an uncommitted batch, never split it.
//! * A change seen by the watch is itself a checkpoint (the stream is in
//!   resourceVersion order), so every batch that ends with one is marked with it: the
//!   failover checkpoint then always covers what consumers were handed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt as _, Stream, StreamExt};
use herald_proto::kube_json::has_involved_object;
use herald_proto::{Event, Observation, pb};
use herald_telemetry::kee::{KeeCounter, KeeMetrics};
use herald_telemetry::traces::TraceContext;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

use crate::handoff::{Decision, Handover};
use crate::hub::Hub;
use crate::kube::enrich::Enricher;
use crate::kube::watcher::{RelistReason, WatchItem};
use crate::metrics::IngestMetrics;
use crate::occurrences::{CommitFence, Occurrences};
use crate::store::{AppendBatch, Store, StoreError};

/// Ingest settings.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// KEE `clusterName`, stamped on every event.
    pub cluster_name: String,
    /// KEE `maxEventAgeSeconds`: applies only to the first list of a cold start (no
    /// saved state anywhere): older occurrences are remembered but not logged.
    pub cold_start_max_age: Option<chrono::Duration>,
    /// At a failover: the previous leader's word on the changes it handled; those it
    /// handled and every consumer group acknowledged are remembered but not logged.
    pub handover: Option<Handover>,
    /// How long occurrences are remembered (must exceed the Event TTL).
    pub dedup_retention: chrono::Duration,
    /// Largest append batch.
    pub max_batch: usize,
    /// Longest time an event waits for its batch to fill while more events keep
    /// being ready. A batch is committed as soon as nothing more is ready and no
    /// commit is in flight; what arrives during a commit fills the next one.
    pub linger: Duration,
    /// Shortest time between the starts of two commits (zero: none); see
    /// `exporter.ingest.commitInterval`.
    pub commit_interval: Duration,
    /// Enrichment calls in flight (ordering is kept). A backlog (a re-list, the
    /// Events written while the exporter was down) whose lookups wait for the API
    /// budget moves on by this many Events per `lookup.maxWait` at least.
    pub enrich_parallelism: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            cluster_name: String::new(),
            cold_start_max_age: None,
            handover: None,
            dedup_retention: chrono::Duration::hours(3),
            max_batch: 1000,
            linger: Duration::from_millis(10),
            commit_interval: Duration::ZERO,
            // 25 s of Events at 40/s: a restart's backlog waits for its lookups once,
            // not once per 256 Events (measured in bench `lookups`); 4096 cost 9 MiB
            // more RSS in bench `memory` for no further gain there
            enrich_parallelism: 1024,
        }
    }
}

/// The pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The durable log failed; the process must restart from its last commit.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything the pipeline needs.
pub struct Ingest {
    /// The durable log.
    pub store: Store,
    /// Woken after each append.
    pub hub: Hub,
    /// The occurrence memory (loaded from the store).
    pub seen: Occurrences,
    /// Involved-object enrichment (None: `omitLookup`, nothing is fetched).
    pub enricher: Option<Enricher>,
    /// Settings.
    pub cfg: IngestConfig,
    /// Pipeline metrics.
    pub metrics: IngestMetrics,
    /// KEE-compatible counters.
    pub kee: KeeMetrics,
}

enum Step {
    /// An occurrence to log (and remember), with its stamp (see
    /// [`Occurrences::stamp`]).
    Event(Box<Event>, u64),
    /// An occurrence to remember without logging it (older than the cold-start
    /// window, or handled by the previous leader): it is persisted with the next
    /// batch, so a later re-list never mistakes it for a new one.
    Remember {
        uid: String,
        occurrence: i32,
        /// The change's resourceVersion when the watch delivered it (a checkpoint).
        watched: Option<String>,
        /// See [`Occurrences::stamp`].
        stamp: u64,
    },
    Checkpoint(String),
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

fn seconds_since(t: Option<DateTime<Utc>>) -> Option<f64> {
    let t = t?;
    let d = Utc::now().signed_duration_since(t);
    // precision loss is irrelevant for a lag histogram
    #[allow(clippy::cast_precision_loss)]
    Some(d.num_milliseconds().max(0) as f64 / 1000.0)
}

impl Ingest {
    /// Runs until the watch stream ends or `cancel` fires; pending events are flushed
    /// before returning.
    ///
    /// # Errors
    /// A durable log write failed.
    pub async fn run(
        self,
        watch: impl Stream<Item = WatchItem> + Send + 'static,
        cancel: CancellationToken,
    ) -> Result<(), IngestError> {
        let Ingest {
            store,
            hub,
            mut seen,
            enricher,
            cfg,
            metrics,
            kee,
        } = self;
        let cfg = Arc::new(cfg);
        let fence = seen.fence();
        let retention_ms = u64::try_from(cfg.dedup_retention.num_milliseconds()).unwrap_or(0);
        let mut cold_list = cfg.cold_start_max_age.is_some();
        // cold-run blocks read so far (for the counter)
        let mut block_reads = 0;
        // stage 1: decide on arrival
        let decided = {
            let cfg = cfg.clone();
            let metrics = metrics.clone();
            let kee = kee.clone();
            watch.filter_map(move |item| {
                let out = match item {
                    WatchItem::ListStarted { reason } => {
                        if reason != RelistReason::ColdStart || cfg.cold_start_max_age.is_none() {
                            cold_list = false;
                        }
                        info!(reason = ?reason, "listing events");
                        None
                    }
                    WatchItem::Checkpoint { resource_version } => {
                        // the first list of a cold start ends at its first checkpoint
                        cold_list = false;
                        Some(Step::Checkpoint(resource_version))
                    }
                    WatchItem::Event { mut event, observation } => {
                        let uid = event.metadata.uid.clone();
                        let now = seen.stamp(now_ms());
                        let handover = cfg
                            .handover
                            .as_ref()
                            .map_or(Decision::New, |h| h.decide(&event.metadata.resource_version));
                        let watched = (observation != Observation::Listed)
                            .then(|| event.metadata.resource_version.clone());
                        if !seen.is_new(&uid, event.occurrence, now) {
                            metrics.duplicates.inc();
                            None
                        } else if cold_list
                            && observation == Observation::Listed
                            && cfg.cold_start_max_age.is_some_and(|max| {
                                event.last_seen().is_none_or(|t| Utc::now() - t > max)
                            })
                        {
                            seen.insert(&uid, event.occurrence, now);
                            metrics.discarded.inc();
                            kee.add(KeeCounter::EventsDiscarded, 1);
                            Some(Step::Remember { uid, occurrence: event.occurrence, watched, stamp: now })
                        } else if handover == Decision::Handled {
                            seen.insert(&uid, event.occurrence, now);
                            metrics.handled_by_previous_leader.inc();
                            Some(Step::Remember { uid, occurrence: event.occurrence, watched, stamp: now })
                        } else {
                            if handover == Decision::Pending {
                                metrics.relogged_after_failover.inc();
                            }
                            seen.insert(&uid, event.occurrence, now);
                            if !has_involved_object(&event) {
                                warn!(namespace = %event.metadata.namespace, name = %event.metadata.name, "event has no involvedObject; exported without enrichment");
                            }
                            event.observation = observation;
                            if event.observed_at.is_none() {
                                event.observed_at = Some(Utc::now());
                            }
                            event.cluster_name.clone_from(&cfg.cluster_name);
                            kee.add(KeeCounter::EventsSent, 1);
                            Some(Step::Event(Box::new(event), now))
                        }
                    }
                };
                if seen.maintain(now_ms(), retention_ms) {
                    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
                    metrics.seen_runs.set(gauge(seen.runs()));
                    metrics.seen_index_bytes.set(gauge(seen.cold_index_bytes()));
                }
                metrics
                    .seen_entries
                    .set(i64::try_from(seen.len()).unwrap_or(i64::MAX));
                metrics
                    .seen_hot_entries
                    .set(i64::try_from(seen.hot_len()).unwrap_or(i64::MAX));
                let reads = seen.stats().block_reads;
                metrics.seen_block_reads.inc_by(reads - block_reads);
                block_reads = reads;
                futures::future::ready(out)
            })
        };
        // stage 2: enrich, keeping order
        let enriched = decided
            .map(move |step| {
                let enricher = enricher.clone();
                async move {
                    match step {
                        Step::Event(mut ev, stamp) => {
                            if let Some(e) = &enricher {
                                e.enrich(&mut ev).await;
                            }
                            Step::Event(ev, stamp)
                        }
                        other => other,
                    }
                }
            })
            .buffered(cfg.enrich_parallelism.max(1));
        // stage 3: batch and append, one commit in flight at a time (group commit).
        // What is ready joins the batch. Once nothing more is ready and no commit is
        // in flight, the batch is committed at once (a lone event waits for nothing),
        // and what arrives during the commit fills the next batch. When Events have
        // been arriving faster than `BUSY_EVENTS_PER_LINGER` per `linger` (a burst, a
        // list), a batch lingers and is committed before more is taken, as before, so
        // bursts keep their large batches (ready steps always join, up to `max_batch`).
        // With a `commit_interval`, a commit also waits until that long after the start
        // of the previous one, so the Events of a moderate rate share commits.
        let mut enriched = std::pin::pin!(enriched.take_until(cancel.cancelled_owned()));
        let mut batch = AppendBatch::default();
        let mut lags: Vec<f64> = Vec::new();
        // when the batch's first step arrived
        let mut opened: Option<std::time::Instant> = None;
        let mut committing: Option<tokio::task::JoinHandle<Result<(), IngestError>>> = None;
        let mut input_done = false;
        // the arrival rate seen at the last dispatch was a burst's
        let mut busy = false;
        let mut last_dispatch: Option<std::time::Instant> = None;
        loop {
            // 1. take what is ready, without waiting (in a burst, not while a commit is
            // in flight: decoding beside a commit made both slower, the allocator's
            // single arena being their meeting point, see bench/README.md)
            let overlap = !(busy && committing.is_some());
            while overlap && !input_done && batch.seen.len() < cfg.max_batch {
                match enriched.next().now_or_never() {
                    Some(Some(step)) => add(&mut batch, &mut lags, &mut opened, step),
                    Some(None) => input_done = true,
                    None => break,
                }
            }
            // 2. nothing in flight: commit the batch when it is due
            let lingered = opened.is_some_and(|t| t.elapsed() >= cfg.linger);
            let full = batch.seen.len() >= cfg.max_batch;
            // `commitInterval` after the previous commit started (a full batch and the
            // end of the input do not wait)
            let spaced_until = last_dispatch
                .map(|t| t + cfg.commit_interval)
                .filter(|t| *t > std::time::Instant::now());
            let due = (!busy || lingered || input_done || full)
                && (spaced_until.is_none() || input_done || full);
            if committing.is_none() && due && !is_empty(&batch) {
                let now = std::time::Instant::now();
                // Events per `linger` since the last dispatch
                #[allow(clippy::cast_precision_loss)]
                let n = batch.seen.len().max(batch.events.len()) as f64;
                busy = last_dispatch.is_some_and(|t| {
                    n * cfg.linger.as_secs_f64()
                        >= BUSY_EVENTS_PER_LINGER * now.duration_since(t).as_secs_f64()
                });
                last_dispatch = Some(now);
                let b = std::mem::take(&mut batch);
                let l = std::mem::take(&mut lags);
                opened = None;
                committing = Some(tokio::spawn(flush(
                    store.clone(),
                    hub.clone(),
                    metrics.clone(),
                    fence.clone(),
                    b,
                    l,
                )));
                continue;
            }
            if input_done && committing.is_none() {
                break;
            }
            // 3. wait for the commit in flight, the next step or the linger
            let take = overlap && !input_done && batch.seen.len() < cfg.max_batch;
            let linger_until = match (&committing, opened) {
                // the batch waits for its linger (a burst) or for the commit interval
                (None, Some(t)) => {
                    let at = if busy { t + cfg.linger } else { t };
                    Some(tokio::time::Instant::from_std(
                        spaced_until.map_or(at, |s| s.max(at)),
                    ))
                }
                _ => None,
            };
            tokio::select! {
                biased;
                r = async {
                    match committing.as_mut() {
                        Some(c) => c.await,
                        None => std::future::pending().await,
                    }
                }, if committing.is_some() => {
                    committing = None;
                    r.map_err(|e| StoreError::Join(e.to_string()))??;
                }
                n = enriched.next(), if take => match n {
                    Some(step) => add(&mut batch, &mut lags, &mut opened, step),
                    None => input_done = true,
                },
                () = async {
                    match linger_until {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                }, if linger_until.is_some() => {}
                else => {}
            }
        }
        debug!("ingest pipeline stopped");
        Ok(())
    }
}

/// Arrival rate (Events per `linger`) above which a batch lingers instead of being
/// committed as soon as the input is idle: at the default 10 ms, 6,400 Events/s. Below
/// it, commits follow the Events one by one (or a few at a time) and each waits only
/// for the commit before it; above it, a commit per few Events would cost more CPU than
/// decoding them (measured in bench `ingest`, see bench/README.md).
const BUSY_EVENTS_PER_LINGER: f64 = 64.0;

fn is_empty(batch: &AppendBatch) -> bool {
    batch.events.is_empty() && batch.seen.is_empty() && batch.checkpoint.is_none()
}

fn add(
    batch: &mut AppendBatch,
    lags: &mut Vec<f64>,
    opened: &mut Option<std::time::Instant>,
    step: Step,
) {
    if opened.is_none() {
        *opened = Some(std::time::Instant::now());
    }
    match step {
        Step::Event(ev, stamp) => {
            lags.extend(seconds_since(ev.last_seen()));
            batch
                .seen
                .push((ev.metadata.uid.clone(), ev.occurrence, stamp));
            if ev.observation != Observation::Listed {
                batch.checkpoint = Some(ev.metadata.resource_version.clone());
            }
            batch.events.push(pb::Event::from(*ev));
        }
        Step::Remember {
            uid,
            occurrence,
            watched,
            stamp,
        } => {
            batch.seen.push((uid, occurrence, stamp));
            if let Some(rv) = watched {
                batch.checkpoint = Some(rv);
            }
        }
        Step::Checkpoint(rv) => batch.checkpoint = Some(rv),
    }
}

async fn flush(
    store: Store,
    hub: Hub,
    metrics: IngestMetrics,
    fence: Arc<CommitFence>,
    b: AppendBatch,
    lags: Vec<f64>,
) -> Result<(), IngestError> {
    let n = b.events.len() as u64;
    let remembered = (b.seen.len(), b.seen.iter().map(|e| e.2).max());
    let span = tracing::info_span!(
        target: "herald_trace",
        parent: None,
        "herald.ingest.append",
        events = n,
        last_offset = tracing::field::Empty
    );
    let appended = store
        .run(move |s| s.append(b))
        .instrument(span.clone())
        .await;
    if let Ok(a) = &appended {
        span.record("last_offset", a.next.saturating_sub(1));
    }
    match appended {
        Ok(appended) => {
            metrics
                .appends
                .get_or_create(&vec![("outcome", "ok")])
                .inc();
            metrics.logged.inc_by(n);
            if let (n, Some(stamp)) = remembered {
                // the occurrence memory may now move what this batch remembered
                fence.committed(n, stamp);
            }
            for l in lags {
                metrics.lag.observe(l);
            }
            let last = appended.next - 1;
            if n > 0
                && let Some(context) = TraceContext::of(&span)
            {
                hub.traced(appended.next - n, last, context);
            }
            hub.appended(last);
            Ok(())
        }
        Err(e) => {
            metrics
                .appends
                .get_or_create(&vec![("outcome", "error")])
                .inc();
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests;
