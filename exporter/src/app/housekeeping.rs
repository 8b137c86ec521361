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
use crate::store::{Store, StoreError};

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

    async fn apply_retention(&self) {
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
        let b = self.store.bounds();
        let protected = self.hub.min_committed().unwrap_or(b.last);
        match self
            .store
            .run(move |s| s.prune(chrono::Utc::now(), max_age, max_bytes, protected))
            .await
        {
            Ok(p) if p.removed > 0 => {
                self.hub.skip_pruned(self.store.bounds().first);
                if p.lost > 0 {
                    self.metrics.lost.inc_by(p.lost);
                    error!(
                        lost = p.lost,
                        removed = p.removed,
                        "retention removed events that a consumer group had not acknowledged yet; raise exporter.retention or fix the slow consumer"
                    );
                } else {
                    info!(removed = p.removed, "retention removed old events");
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "retention pass failed"),
        }
    }
}
