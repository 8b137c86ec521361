//! One *term*: while this exporter leads (or always, without leader election) it
//! decides where to resume, wires watch → enrichment → ingest → log, serves, and
//! supervises the term until it is cancelled, loses its Lease or the log fails; then
//! it stops the pipeline and leaves the failover checkpoint for its successor.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Exporter, ExporterError};
use crate::handoff::{Checkpoint, Handover, Publisher};
use crate::ingest::{Ingest, IngestConfig};
use crate::kube::KubeApi;
use crate::kube::enrich::{EnrichOptions, Enricher};
use crate::kube::leader::{Leadership, MIN_WRITE_INTERVAL};
use crate::kube::watcher::{EventWatcher, WatchHealth, WatcherOptions};
use crate::occurrences::{Occurrences, Tiering};
use crate::store::{LoadedSeen, Store};

/// Where a term starts.
struct TermStart {
    /// The predecessor's word on what this log has not reached (leader election).
    handover: Option<Handover>,
    /// The resourceVersion to resume the watch from (None: list).
    resume: Option<String>,
    /// A first start: old Events of the first list are remembered, not logged.
    cold: bool,
    /// The occurrence memory as stored.
    seen: LoadedSeen,
}

impl Exporter {
    /// Runs one term (see the module docs).
    pub(super) async fn term(
        &self,
        api: &KubeApi,
        leadership: Option<&Leadership>,
        cancel: &CancellationToken,
    ) -> Result<(), ExporterError> {
        let start = self.term_start(leadership).await?;
        let handover = start.handover.clone();
        let (mut ingest, watcher) = self.wire(api, start);
        let run_writer = ingest.seen.take_run_writer();
        let watch_health = watcher.health();
        let term = cancel.child_token();
        let mut ingest_task = tokio::spawn(ingest.run(watcher.into_stream(), term.clone()));
        let publisher = leadership.map(|l| {
            tokio::spawn(
                self.publisher(handover.clone())
                    .run(l.writer(), term.clone()),
            )
        });
        self.serving.serve().await;
        let outcome = self
            .supervise(&mut ingest_task, leadership, cancel, &watch_health)
            .await;
        term.cancel();
        if !ingest_task.is_finished() {
            match tokio::time::timeout(Duration::from_secs(10), &mut ingest_task).await {
                Ok(Ok(Err(e))) => warn!(error = %e, "ingest stopped with an error"),
                Ok(_) => {}
                Err(_) => {
                    warn!("ingest did not stop within 10s; aborting it");
                    ingest_task.abort();
                }
            }
        }
        if let Some(w) = run_writer {
            // the next term loads the occurrence memory from what this one wrote
            if tokio::time::timeout(Duration::from_secs(30), w.stop())
                .await
                .is_err()
            {
                warn!("the occurrence memory's run writer did not stop within 30s");
            }
        }
        if let Some(p) = publisher {
            let _ = p.await;
        }
        if let Some(l) = leadership.filter(|l| l.is_leader()) {
            // what a release writes (a lost lease takes no more writes)
            match self
                .publisher(handover)
                .checkpoint(Default::default())
                .await
            {
                Ok((cp, _)) => l.set_checkpoint(cp.to_json()),
                Err(e) => warn!(error = %e, "could not compute the failover checkpoint"),
            }
        }
        outcome
    }

    /// Decides where the term resumes: a takeover starts from the predecessor's
    /// checkpoint (with this log's groups moved to its end), otherwise from this log's
    /// own checkpoint.
    async fn term_start(
        &self,
        leadership: Option<&Leadership>,
    ) -> Result<TermStart, ExporterError> {
        let previous: Option<Checkpoint> = leadership
            .and_then(|l| l.previous_checkpoint.as_deref())
            .and_then(Checkpoint::parse);
        // the rule holds for this log too: after a predecessor's term it carries that
        // predecessor's word on what this log has not reached yet
        let handover = previous.as_ref().map(Handover::from_checkpoint);
        let takeover = previous
            .as_ref()
            .filter(|p| p.log_id != self.store.log_id());
        let cold = self.store.run(Store::is_cold).await? && previous.is_none();
        let resume = match takeover {
            Some(p) => {
                info!(
                    previous_log = %p.log_id,
                    rv = %p.rv,
                    covered = p.covered_rv.as_deref().unwrap_or(""),
                    pending = p.pending.len(),
                    "taking over from another exporter: resuming from its checkpoint"
                );
                self.hub.fast_forward_all();
                if p.rv.is_empty() {
                    None
                } else {
                    // this log's own position from now on: a checkpoint published before
                    // the watch moves must not point back to this log's older past
                    let rv = p.rv.clone();
                    self.store.run(move |s| s.set_checkpoint(&rv)).await?;
                    Some(p.rv.clone())
                }
            }
            None => self.store.run(Store::checkpoint).await?,
        };
        let cutoff_ms = self.housekeeping.dedup_cutoff_ms();
        let seen = self.store.run(move |s| s.load_seen(cutoff_ms)).await?;
        info!(
            cold,
            resume_from = resume.as_deref().unwrap_or("(list)"),
            remembered = seen.hot.len() as u64 + seen.runs.iter().map(|(_, r)| r.len).sum::<u64>(),
            "starting the event watch"
        );
        Ok(TermStart {
            handover,
            resume,
            cold,
            seen,
        })
    }

    /// Builds the pipeline: the watcher, and ingest (with the enricher) to run over it.
    fn wire(&self, api: &KubeApi, start: TermStart) -> (Ingest, EventWatcher) {
        let cfg = &self.config;
        let watcher = EventWatcher::new(
            api.clone(),
            WatcherOptions {
                namespace: cfg.namespace.clone(),
                resume_resource_version: start.resume,
                page_size: cfg.exporter.watch.list_page_size,
                watch_timeout: cfg.exporter.watch.timeout,
                progress_check: cfg.exporter.watch.progress_check,
                ..WatcherOptions::default()
            },
        );
        let enricher = (!cfg.omit_lookup).then(|| {
            Enricher::new(
                api.clone(),
                EnrichOptions {
                    omit_lookup: false,
                    cache_size: cfg.cache_size,
                    cache_ttl: cfg.exporter.lookup.ttl,
                    max_wait: cfg.exporter.lookup.max_wait,
                    timeout: cfg.exporter.lookup.timeout,
                    max_concurrent: cfg.exporter.lookup.concurrency as usize,
                    namespace_labels: cfg.exporter.lookup.namespace_labels,
                    watch_pods: cfg.exporter.lookup.watch_pods,
                    watch_namespaces: cfg.exporter.lookup.watch_namespaces,
                    watch_namespace: cfg.namespace.clone(),
                    watch_page_size: cfg.exporter.watch.list_page_size,
                    watch_timeout: cfg.exporter.watch.timeout,
                    ..EnrichOptions::default()
                },
            )
        });
        let ingest = Ingest {
            store: self.store.clone(),
            hub: self.hub.clone(),
            seen: Occurrences::new(
                self.store.clone(),
                start.seen,
                Tiering {
                    hot_for: cfg.exporter.dedup.hot_for,
                    demote_every: cfg.exporter.dedup.hot_for,
                },
                u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0),
            ),
            enricher,
            cfg: IngestConfig {
                cluster_name: cfg.cluster_name.clone(),
                cold_start_max_age: start
                    .cold
                    .then(|| chrono::Duration::seconds(cfg.max_event_age_seconds)),
                handover: start.handover,
                dedup_retention: self.housekeeping.dedup_retention(),
                linger: cfg.exporter.ingest.linger,
                commit_interval: cfg.exporter.ingest.commit_interval,
                max_batch: cfg.exporter.ingest.max_batch as usize,
                ..IngestConfig::default()
            },
            metrics: self.metrics.clone(),
            kee: self.kee.clone(),
        };
        (ingest, watcher)
    }

    /// Waits for the end of the term, reporting the watch's health every second.
    async fn supervise(
        &self,
        ingest_task: &mut tokio::task::JoinHandle<Result<(), crate::ingest::IngestError>>,
        leadership: Option<&Leadership>,
        cancel: &CancellationToken,
        watch_health: &WatchHealth,
    ) -> Result<(), ExporterError> {
        let started = Instant::now();
        let mut health_tick = tokio::time::interval(Duration::from_secs(1));
        let lost = async {
            match leadership {
                Some(l) => l.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(lost);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = &mut lost => {
                    warn!("lost leadership: stopping the watch and closing subscriptions");
                    return Ok(());
                }
                r = &mut *ingest_task => {
                    return match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => {
                            error!(error = %e, "durable log failed");
                            Err(e.into())
                        }
                        Err(source) => Err(ExporterError::Task { what: "ingest", source }),
                    };
                }
                _ = health_tick.tick() => self.report_watch_health(watch_health, started),
            }
        }
    }

    fn report_watch_health(&self, h: &WatchHealth, started: Instant) {
        let unhealthy_after = self.config.exporter.watch.unhealthy_after;
        let broken_for = match h.last_good() {
            Some(_) if h.consecutive_failures() == 0 => Duration::ZERO,
            Some(t) => t.elapsed(),
            None => started.elapsed(),
        };
        if broken_for <= unhealthy_after {
            self.metrics.watch_healthy.set(1);
            self.watch_probe.ready();
        } else if broken_for > unhealthy_after * 5 {
            self.metrics.watch_healthy.set(0);
            self.watch_probe.stuck(format!(
                "the event watch has been broken for {}s",
                broken_for.as_secs()
            ));
        } else {
            self.metrics.watch_healthy.set(0);
            self.watch_probe.not_ready(format!(
                "the event watch has been broken for {}s",
                broken_for.as_secs()
            ));
        }
    }

    /// The failover checkpoint publisher of a term that inherited `handover`.
    fn publisher(&self, handover: Option<Handover>) -> Publisher {
        Publisher {
            store: self.store.clone(),
            hub: self.hub.clone(),
            handoff: self.handoff.clone(),
            flush_lock: self.housekeeping.flush_lock.clone(),
            inherited: handover,
            period: self
                .config
                .exporter
                .leader_election
                .retry_period
                .max(MIN_WRITE_INTERVAL),
            min_interval: crate::handoff::publisher::write_interval(self.config.kube_qps),
        }
    }
}
