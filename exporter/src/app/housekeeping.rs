//! The exporter's periodic work, for as long as the process runs (leading, standing
//! by, or waiting for the API server): committed offsets persisted every second,
//! expired ack leases redelivered, idle consumer groups and old events removed by
//! retention, and the occurrence memory trimmed.

use std::sync::Arc;
use std::time::Duration;

use herald_config::Config;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::hub::Hub;
use crate::metrics::IngestMetrics;
use crate::store::{Pruned, Store, StoreError};

/// Most retention passes in one tick (of 30 s): 2 M events, far more than any
/// cluster logs in that time, yet a bound should the log grow faster than passes
/// remove (the next tick goes on).
const MAX_PASSES_PER_TICK: u32 = 1_000;

/// Everything the periodic tasks touch.
#[derive(Clone)]
pub(crate) struct Housekeeping {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) hub: Hub,
    pub(crate) metrics: IngestMetrics,
    /// Held while the consumer groups are flushed (see
    /// [`crate::handoff::Publisher::flush_lock`]).
    pub(crate) flush_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Housekeeping {
    /// Runs the timers until `cancel`.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        let mut leases = tokio::time::interval(Duration::from_millis(500));
        let mut prune = tokio::time::interval(Duration::from_secs(30));
        let mut forget = tokio::time::interval(Duration::from_secs(300));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = flush.tick() => {
                    if let Err(e) = self.flush_groups().await {
                        warn!(error = %e, "could not persist committed offsets");
                    }
                }
                _ = leases.tick() => self.hub.expire_leases(),
                _ = prune.tick() => self.apply_retention().await,
                _ = forget.tick() => self.forget_old_occurrences().await,
            }
        }
    }

    /// Persists the consumer groups' state (serialised with the checkpoint publisher).
    pub(crate) async fn flush_groups(&self) -> Result<(), StoreError> {
        let _flushing = self.flush_lock.lock().await;
        self.hub.flush().await
    }

    /// The oldest occurrence time still remembered, in Unix milliseconds.
    pub(crate) fn dedup_cutoff_ms(&self) -> u64 {
        let cutoff = chrono::Utc::now() - self.dedup_retention();
        u64::try_from(cutoff.timestamp_millis()).unwrap_or(0)
    }

    /// How long occurrences are remembered.
    pub(crate) fn dedup_retention(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.exporter.dedup.retention)
            .unwrap_or(chrono::Duration::hours(3))
    }

    async fn forget_old_occurrences(&self) {
        let ms = self.dedup_cutoff_ms();
        if let Err(e) = self.store.run(move |s| s.expire_seen(ms)).await {
            warn!(error = %e, "could not expire the occurrence memory");
        }
    }

    /// Removes idle consumer groups, then old events until the log is within
    /// `exporter.retention` again, in passes of at most [`crate::store::PRUNE_PASS_MAX`] events so
    /// that ingest commits interleave with them. A single pass per tick would remove
    /// fewer events than a busy cluster logs in that time, and the log would outgrow
    /// `maxBytes`.
    pub(crate) async fn apply_retention(&self) {
        let idle = self
            .config
            .exporter
            .subscribers
            .effective_group_idle_expiry(self.config.exporter.retention.max_age);
        if !idle.is_zero() {
            self.hub.expire_idle_groups(idle).await;
        }
        let r = &self.config.exporter.retention;
        let max_age = chrono::Duration::from_std(r.max_age).unwrap_or(chrono::Duration::days(1));
        let max_bytes = r.max_bytes;
        let mut total = Pruned::default();
        for _ in 0..MAX_PASSES_PER_TICK {
            let b = self.store.bounds();
            let protected = self.hub.min_committed().unwrap_or(b.last);
            let pass = self
                .store
                .run(move |s| s.prune(chrono::Utc::now(), max_age, max_bytes, protected))
                .await;
            match pass {
                Ok(p) => {
                    if p.removed > 0 {
                        self.hub.skip_pruned(self.store.bounds().first);
                    }
                    total.removed += p.removed;
                    total.lost += p.lost;
                    if !p.more {
                        break;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "retention pass failed");
                    break;
                }
            }
        }
        if total.lost > 0 {
            self.metrics.lost.inc_by(total.lost);
            error!(
                lost = total.lost,
                removed = total.removed,
                "retention removed events that a consumer group had not acknowledged yet; raise exporter.retention or fix the slow consumer"
            );
        } else if total.removed > 0 {
            info!(removed = total.removed, "retention removed old events");
        }
    }
}

#[cfg(test)]
mod tests {
    use herald_proto::pb;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::hub::HubConfig;
    use crate::store::{AppendBatch, PRUNE_PASS_MAX};

    fn event(i: u64, observed_s: i64) -> pb::Event {
        pb::Event {
            idempotency_key: format!("u{i:06}-1"),
            occurrence: 1,
            observed_at: Some(prost_types::Timestamp {
                seconds: observed_s,
                nanos: 0,
            }),
            metadata: Some(pb::ObjectMeta {
                uid: format!("u{i:06}"),
                ..Default::default()
            }),
            raw_json: vec![b'x'; 200].into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn one_tick_brings_a_log_many_passes_over_max_bytes_back_within_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // more than three passes' worth above the bound, as a busy cluster logs
        // between two ticks
        let n = PRUNE_PASS_MAX * 3 + 700;
        let now = chrono::Utc::now().timestamp();
        for start in (0..n).step_by(1_000) {
            let events: Vec<_> = (start..n.min(start + 1_000))
                .map(|i| event(i, now))
                .collect();
            store
                .append(AppendBatch {
                    events,
                    seen: Vec::new(),
                    checkpoint: None,
                })
                .unwrap();
        }
        let per_event = store.bounds().bytes / n;
        let keep = 300;
        let mut config = Config::default();
        config.exporter.retention.max_bytes = per_event * keep;
        let metrics = IngestMetrics::register(&mut Registry::default());
        let housekeeping = Housekeeping {
            config: Arc::new(config),
            store: store.clone(),
            hub: Hub::new(store.clone(), HubConfig::default()).unwrap(),
            metrics: metrics.clone(),
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        housekeeping.apply_retention().await;
        let b = store.bounds();
        assert!(
            b.bytes <= per_event * keep,
            "{} > {}",
            b.bytes,
            per_event * keep
        );
        // records grow by a byte where their offset's encoding does, so `per_event`
        // (an average) keeps a few fewer than `keep`
        assert!(
            (keep - 5..=keep).contains(&b.events()),
            "only what exceeded maxBytes is removed: {} kept",
            b.events()
        );
        assert_eq!(b.last, n, "the newest are kept (offsets start at 1)");
        assert_eq!(
            metrics.lost.get(),
            0,
            "no durable group: nothing counts as lost"
        );
    }
}
