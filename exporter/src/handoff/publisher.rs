//! Computes the leader's [`Checkpoint`] from the log and the consumer groups, and
//! keeps it in the Lease: every retry period (the write is then the renew itself, so
//! that costs no extra request), and at once (spaced by [`Publisher::min_interval`])
//! when a member runs short of credits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::checkpoint::{Checkpoint, Handover};
use super::gate::Handoff;
use crate::hub::Hub;
use crate::kube::leader::{CheckpointWriter, MIN_WRITE_INTERVAL};
use crate::store::{GroupRecord, LogBounds, Store, StoreError};

/// Most pending changes one checkpoint names (a few KiB in the Lease). When more are
/// pending, the checkpoint covers the log only up to its newest mark before the first
/// one left out, and a successor logs again everything after that.
pub const MAX_PENDING: usize = 4096;

/// Shortest time between two Lease writes made to publish the checkpoint at once:
/// at most ten a second, and at most half of the Kubernetes client's request budget
/// (`kubeQPS`, which every request shares), so that lookups keep the other half.
pub fn write_interval(kube_qps: f32) -> Duration {
    let qps = f64::from(kube_qps);
    if qps.is_finite() && qps > 0.0 {
        MIN_WRITE_INTERVAL.max(Duration::from_secs_f64((2.0 / qps).min(60.0)))
    } else {
        MIN_WRITE_INTERVAL
    }
}

/// What [`build`] needs from the log.
pub(crate) trait LogView {
    /// The newest checkpoint mark at or below `offset`: (offset, resourceVersion).
    fn mark_at_or_below(&mut self, offset: u64) -> Result<Option<(u64, String)>, StoreError>;
    /// The resourceVersion of the events at `offsets` (None: not a number, or gone).
    fn resource_versions(&mut self, offsets: &[u64]) -> Result<Vec<Option<u64>>, StoreError>;
}

/// The checkpoint of a log with consumer `groups` (as persisted), given the
/// predecessor's rule `inherited` (changes this leader has not reached yet that its
/// predecessor covered).
pub(crate) fn build(
    log_id: &str,
    bounds: LogBounds,
    groups: &[GroupRecord],
    view: &mut dyn LogView,
    inherited: Option<&Handover>,
) -> Result<Checkpoint, StoreError> {
    let only_prefix = |rv: Option<String>| Checkpoint {
        rv: rv.unwrap_or_default(),
        log_id: log_id.to_owned(),
        covered_rv: None,
        pending: Vec::new(),
    };
    let Some(committed) = groups.iter().map(|g| g.committed).min() else {
        // no durable consumer: nothing is acknowledged beyond what retention removed
        let consumed = if bounds.first == 0 {
            bounds.last
        } else {
            bounds.first - 1
        };
        return Ok(only_prefix(view.mark_at_or_below(consumed)?.map(|m| m.1)));
    };
    let Some((prefix_offset, prefix_rv)) = view.mark_at_or_below(committed)? else {
        return Ok(only_prefix(None));
    };
    let Some((newest_offset, newest_rv)) = view.mark_at_or_below(u64::MAX)? else {
        return Ok(only_prefix(Some(prefix_rv)));
    };
    let mut unacked = unacknowledged(groups, prefix_offset, newest_offset);
    let (covered_offset, covered_rv, cut) = if unacked.len() > MAX_PENDING {
        let first_left_out = unacked[MAX_PENDING];
        unacked.truncate(MAX_PENDING);
        match view.mark_at_or_below(first_left_out - 1)? {
            Some((offset, rv)) if offset > prefix_offset => (offset, rv, true),
            _ => return Ok(only_prefix(Some(prefix_rv))),
        }
    } else {
        (newest_offset, newest_rv, false)
    };
    unacked.retain(|o| *o <= covered_offset);
    let rvs = view.resource_versions(&unacked)?;
    let (Some(pending), Ok(mut covered)) = (
        rvs.into_iter().collect::<Option<BTreeSet<u64>>>(),
        covered_rv.parse::<u64>(),
    ) else {
        // an event whose resourceVersion is not a number cannot be named
        return Ok(only_prefix(Some(prefix_rv)));
    };
    let mut pending = pending;
    if let Some(h) = inherited.filter(|_| !cut)
        && let Some(theirs) = h.covered().filter(|c| *c > covered)
    {
        // the predecessor's word on the changes this leader has not reached yet
        pending.extend(h.pending_after(covered));
        covered = theirs;
    }
    Ok(Checkpoint {
        rv: prefix_rv,
        log_id: log_id.to_owned(),
        covered_rv: Some(covered.to_string()),
        pending: pending.into_iter().collect(),
    })
}

/// Offsets in `(after, upto]` that some group has not acknowledged, ascending, at
/// most [`MAX_PENDING`] + 1.
fn unacknowledged(groups: &[GroupRecord], after: u64, upto: u64) -> Vec<u64> {
    let mut out = BTreeSet::new();
    for g in groups {
        let mut ranges = g
            .acked_ranges
            .chunks_exact(2)
            .map(|r| (r[0], r[1]))
            .collect::<Vec<_>>();
        ranges.sort_unstable();
        let mut ranges = ranges.into_iter().peekable();
        let mut o = g.committed.max(after) + 1;
        let mut taken = 0;
        while o <= upto && taken <= MAX_PENDING {
            while ranges.peek().is_some_and(|(_, last)| *last < o) {
                ranges.next();
            }
            if let Some(&(first, last)) = ranges.peek()
                && first <= o
            {
                o = last + 1;
                continue;
            }
            out.insert(o);
            taken += 1;
            o += 1;
        }
    }
    out.into_iter().take(MAX_PENDING + 1).collect()
}

/// [`LogView`] over the store, remembering resourceVersions it read (an event's never
/// changes) for the next computation.
struct StoreView<'a> {
    store: &'a Store,
    known: &'a mut BTreeMap<u64, Option<u64>>,
}

impl LogView for StoreView<'_> {
    fn mark_at_or_below(&mut self, offset: u64) -> Result<Option<(u64, String)>, StoreError> {
        self.store.mark_at_or_below(offset)
    }

    fn resource_versions(&mut self, offsets: &[u64]) -> Result<Vec<Option<u64>>, StoreError> {
        let missing: Vec<u64> = offsets
            .iter()
            .copied()
            .filter(|o| !self.known.contains_key(o))
            .collect();
        if !missing.is_empty() {
            for e in self.store.read_offsets(&missing)? {
                let rv = e
                    .metadata
                    .as_ref()
                    .and_then(|m| m.resource_version.parse().ok());
                self.known.insert(e.offset, rv);
            }
        }
        Ok(offsets
            .iter()
            .map(|o| self.known.get(o).copied().flatten())
            .collect())
    }
}

/// Keeps the leader's checkpoint in the Lease during one leadership term.
pub struct Publisher {
    /// The durable log.
    pub store: Store,
    /// The consumer groups.
    pub hub: Hub,
    /// The credit gate it releases.
    pub handoff: Handoff,
    /// Serialises group flushes with the exporter's other flushes: a flush that found
    /// nothing to write must not return before a concurrent one has written.
    pub flush_lock: Arc<tokio::sync::Mutex<()>>,
    /// The predecessor's rule, carried on until this leader has reached its end.
    pub inherited: Option<Handover>,
    /// How often to publish without being asked (the Lease retry period).
    pub period: Duration,
    /// Shortest time between two publications asked for (the Lease's
    /// [`min_write_interval`](crate::kube::LeaseOptions::min_write_interval)).
    pub min_interval: Duration,
}

impl Publisher {
    /// Computes the checkpoint now. `known` holds the resourceVersions of events read
    /// by earlier computations (by offset; they never change); the updated cache is
    /// returned with the checkpoint.
    ///
    /// # Errors
    /// The log or the groups cannot be read or written.
    pub async fn checkpoint(
        &self,
        known: BTreeMap<u64, Option<u64>>,
    ) -> Result<(Checkpoint, BTreeMap<u64, Option<u64>>), StoreError> {
        {
            let _flushing = self.flush_lock.lock().await;
            self.hub.flush().await?;
        }
        let inherited = self.inherited.clone();
        self.store
            .run(move |s| {
                let mut known = known;
                let groups: Vec<GroupRecord> = s.load_groups()?.into_values().collect();
                let checkpoint = {
                    let mut view = StoreView {
                        store: s,
                        known: &mut known,
                    };
                    build(
                        s.log_id(),
                        s.bounds(),
                        &groups,
                        &mut view,
                        inherited.as_ref(),
                    )?
                };
                // forget what is acknowledged by now (offsets at or below the prefix)
                let below = groups.iter().map(|g| g.committed).min().unwrap_or(0);
                known.retain(|o, _| *o > below);
                Ok((checkpoint, known))
            })
            .await
    }

    /// Publishes until `cancel` or until the leadership behind `writer` ends.
    pub async fn run(self, writer: CheckpointWriter, cancel: CancellationToken) {
        // credits are released as soon as a write lands, whatever the publisher is
        // doing meanwhile (waiting for its spacing, or computing the next checkpoint)
        let ended = CancellationToken::new();
        let forward = {
            let mut written = writer.written();
            let handoff = self.handoff.clone();
            let ended = ended.clone();
            tokio::spawn(async move {
                while written.changed().await.is_ok() {
                    handoff.published(*written.borrow_and_update());
                }
                ended.cancel(); // leadership ended
            })
        };
        let _stop_forwarding = AbortOnDrop(forward);
        let mut tick = tokio::time::interval(self.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut known = BTreeMap::new();
        let mut last: Option<tokio::time::Instant> = None;
        loop {
            let urgent = tokio::select! {
                () = cancel.cancelled() => return,
                () = ended.cancelled() => return,
                _ = tick.tick() => false,
                () = self.handoff.wanted() => true,
            };
            if urgent && let Some(t) = last {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep_until(t + self.min_interval) => {}
                }
            }
            // spacing counts from the start of a computation: it overlaps the wait for
            // the Lease's own write spacing
            last = Some(tokio::time::Instant::now());
            let number = self.handoff.acknowledgements();
            let started = std::time::Instant::now();
            match self.checkpoint(std::mem::take(&mut known)).await {
                Ok((checkpoint, k)) => {
                    known = k;
                    debug!(
                        rv = %checkpoint.rv,
                        covered = checkpoint.covered_rv.as_deref().unwrap_or(""),
                        pending = checkpoint.pending.len(),
                        urgent,
                        took_ms = started.elapsed().as_millis() as u64,
                        "failover checkpoint"
                    );
                    writer.publish(checkpoint.to_json(), number);
                }
                Err(e) => warn!(error = %e, "could not compute the failover checkpoint"),
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
