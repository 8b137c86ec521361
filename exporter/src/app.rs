//! The exporter process: opens the durable log, serves gRPC, and — while it is the
//! leader (or always, without leader election) — runs one *term*: watch → ingest →
//! log, plus the housekeeping tasks (offset commits, ack timeouts, retention, health,
//! checkpoint publication in the Lease).
//!
//! Failover: the leader keeps in its Lease (`herald.dev/checkpoint`) what it handled
//! and which of the occurrences it logged its consumer groups have not acknowledged
//! (see [`crate::handoff`]), and holds back the credits consumers return until that
//! is published. A new leader whose own log was not the last one in charge adopts the
//! acknowledged position, moves its stale consumer groups to the end of its log,
//! resumes the watch from there and logs again only what was not acknowledged: a
//! consumer gets back at most what it held unacknowledged (its credit window), with
//! the same idempotency keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use herald_config::Config;
use herald_telemetry::{Health, KeeMetrics, Probe};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::grpc::{self, EventLogService, GrpcSettings};
use crate::handoff::{Checkpoint, Handoff, Handover, Publisher};
use crate::hub::{Hub, HubConfig, Serving};
use crate::ingest::{Ingest, IngestConfig};
use crate::kube::client::{ClientOptions, KubeConnection, connect};
use crate::kube::enrich::{EnrichOptions, Enricher};
use crate::kube::leader::{LeaderElector, Leadership, LeaseOptions, MIN_WRITE_INTERVAL};
use crate::kube::watcher::{EventWatcher, WatcherOptions};
use crate::kube::{KubeApi, KubeStats};
use crate::metrics::{IngestMetrics, StateCollector};
use crate::store::{Store, StoreError};

/// Lease annotation carrying the failover checkpoint.
pub const CHECKPOINT_ANNOTATION: &str = "herald.dev/checkpoint";

/// Why the exporter stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The durable log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Kubernetes client could not be built.
    #[error("kubernetes client: {0}")]
    Kube(String),
    /// The gRPC server could not start.
    #[error("gRPC server: {0}")]
    Grpc(String),
    /// TLS or token files could not be read.
    #[error("{0}")]
    Files(String),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Leader(String),
}

/// Command-line overrides and test hooks.
#[derive(Debug, Clone, Default)]
pub struct ExporterOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--grpc-address` (overrides `exporter.grpc.listen`).
    pub grpc_address: Option<SocketAddr>,
    /// `--data-dir` (overrides `exporter.dataDir`).
    pub data_dir: Option<PathBuf>,
    /// Service-account directory (tests point it elsewhere).
    pub service_account_dir: Option<PathBuf>,
    /// Lease identity override (tests); default `<POD_NAME or hostname>_<uuid>`.
    pub identity: Option<String>,
}

/// A started exporter (log open, gRPC bound), not yet watching.
pub struct Exporter {
    config: Config,
    opts: ExporterOptions,
    store: Store,
    hub: Hub,
    handoff: Handoff,
    /// Held while the consumer groups are flushed (see [`Publisher::flush_lock`]).
    flush_lock: Arc<tokio::sync::Mutex<()>>,
    leader_flag: Arc<AtomicBool>,
    grpc: Option<grpc::GrpcServer>,
    grpc_addr: SocketAddr,
    metrics: IngestMetrics,
    kee: KeeMetrics,
    kube_stats: Arc<KubeStats>,
    watch_probe: Probe,
}

impl Exporter {
    /// Opens the durable log, registers metrics and binds the gRPC server.
    ///
    /// # Errors
    /// The log cannot be opened, TLS/token files cannot be read, or the gRPC address
    /// cannot be bound.
    pub async fn start(
        config: Config,
        opts: ExporterOptions,
        registry: &mut Registry,
        health: &Health,
        kee: KeeMetrics,
    ) -> Result<Exporter, ExporterError> {
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| config.exporter.data_dir.clone());
        let store = {
            let dir = data_dir.clone();
            tokio::task::spawn_blocking(move || Store::open(&dir))
                .await
                .map_err(|e| ExporterError::Store(StoreError::Join(e.to_string())))??
        };
        info!(path = %store.path().display(), log_id = %store.log_id(), first = store.bounds().first, last = store.bounds().last, "durable log open");
        let hub = Hub::new(
            store.clone(),
            HubConfig {
                default_ack_timeout: config.exporter.subscribers.ack_timeout,
                max_batch: config.exporter.subscribers.max_batch_size as usize,
                ..HubConfig::default()
            },
        )?;
        let leader_flag = Arc::new(AtomicBool::new(false));
        let handoff = Handoff::new();
        if config.leader_election.enabled {
            handoff.activate();
        }
        let settings = grpc_settings(&config)?;
        let addr = opts.grpc_address.unwrap_or(config.exporter.grpc.listen);
        let server = grpc::bind(
            &addr.to_string(),
            &settings,
            EventLogService::new(hub.clone(), leader_flag.clone(), handoff.clone()),
        )
        .await
        .map_err(|e| ExporterError::Grpc(e.to_string()))?;
        let grpc_addr = server
            .local_addr()
            .map_err(|e| ExporterError::Grpc(e.to_string()))?;
        let metrics = IngestMetrics::register(registry);
        let kube_stats = Arc::new(KubeStats::default());
        // KEE's kube_api_read_cache_hits/_misses are the enricher's own counts
        let lookups = kube_stats.clone();
        kee.read_lookups_from(move || {
            let s = lookups.snapshot();
            (s.lookup_cache_hits, s.lookup_cache_misses)
        });
        registry.register_collector(Box::new(StateCollector {
            store: store.clone(),
            hub: hub.clone(),
            kube: kube_stats.clone(),
            retention_max_bytes: config.exporter.retention.max_bytes,
        }));
        let watch_probe = health.probe("watch");
        Ok(Exporter {
            config,
            opts,
            store,
            hub,
            handoff,
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
            leader_flag,
            grpc: Some(server),
            grpc_addr,
            metrics,
            kee,
            kube_stats,
            watch_probe,
        })
    }

    /// The subscription hub (combined mode feeds the ruler from it directly).
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// The failover credit gate: an in-process consumer (combined mode) passes its
    /// acknowledgements and credits through a [`crate::handoff::CreditGate`] to get the
    /// same failover bound as gRPC consumers.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Runs until `shutdown` resolves: serves gRPC, elects a leader (when enabled) and
    /// watches while leading. On shutdown: stops serving subscribers (they get a
    /// `Closing`), flushes the log and committed offsets, and releases the Lease.
    ///
    /// # Errors
    /// The Kubernetes client cannot be built, the log fails, or leader election
    /// cannot be configured.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ExporterError> {
        let cancel = CancellationToken::new();
        let server = self.grpc.take();
        let mut grpc_task = None;
        let mut health_reporter = None;
        if let Some(server) = server {
            health_reporter = Some(server.health.clone());
            let c = cancel.clone();
            grpc_task = Some(tokio::spawn(async move {
                if let Err(e) = server.run(c.cancelled_owned()).await {
                    error!(error = %e, "gRPC server failed");
                }
            }));
        }
        let result = {
            let run = self.run_terms(cancel.clone(), health_reporter.clone());
            tokio::pin!(run);
            tokio::select! {
                r = &mut run => r,
                () = shutdown => {
                    info!("shutting down");
                    cancel.cancel();
                    run.await
                }
            }
        };
        cancel.cancel();
        self.hub.set_serving(Serving::No("shutting down".into()));
        if let Some(h) = &health_reporter {
            h.set_service_status(
                herald_proto::pb::EVENT_LOG_SERVICE,
                tonic_health::ServingStatus::NotServing,
            )
            .await;
        }
        if let Err(e) = self.flush_groups().await {
            warn!(error = %e, "could not persist committed offsets at shutdown");
        }
        if let Some(t) = grpc_task {
            // subscribers were told to go; give the server a moment to finish streams
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
            // keep the acks they sent while leaving, or a restart redelivers those events
            if let Err(e) = self.flush_groups().await {
                warn!(error = %e, "could not persist committed offsets at shutdown");
            }
        }
        info!("exporter stopped");
        result
    }

    async fn run_terms(
        &self,
        cancel: CancellationToken,
        health: Option<tonic_health::server::HealthReporter>,
    ) -> Result<(), ExporterError> {
        let conn = self.connect_kube(&cancel).await?;
        let Some(conn) = conn else { return Ok(()) };
        let elector = if self.config.leader_election.enabled {
            let le = &self.config.exporter.leader_election;
            let mut opts = LeaseOptions::new(
                self.config.leader_election.leader_election_id.clone(),
                conn.namespace.clone(),
            );
            opts.lease_duration = le.lease_duration;
            opts.renew_deadline = le.renew_deadline;
            opts.retry_period = le.retry_period;
            opts.min_write_interval =
                crate::handoff::publisher::write_interval(self.config.kube_qps);
            if let Some(id) = &self.opts.identity {
                opts.identity.clone_from(id);
            }
            info!(lease = %opts.name, namespace = %opts.namespace, identity = %opts.identity, "leader election enabled");
            Some(
                LeaderElector::new(conn.api.clone(), opts)
                    .map_err(|e| ExporterError::Leader(e.to_string()))?,
            )
        } else {
            None
        };
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let leadership = match &elector {
                Some(e) => {
                    self.watch_probe.not_ready("standby: waiting for the lease");
                    self.hub.set_serving(Serving::No(
                        "this exporter is a standby; connect to the leader".into(),
                    ));
                    let acquired = tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        r = e.acquire() => r,
                    };
                    match acquired {
                        Ok(l) => Some(l),
                        Err(err) => {
                            warn!(error = %err, "leader election failed, retrying");
                            tokio::select! {
                                () = cancel.cancelled() => return Ok(()),
                                () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                            }
                        }
                    }
                }
                None => None,
            };
            let term_result = self
                .term(&conn.api, leadership.as_ref(), &cancel, health.as_ref())
                .await;
            self.leader_flag.store(false, Ordering::Relaxed);
            self.metrics.leader.set(0);
            self.hub.set_serving(Serving::No(if cancel.is_cancelled() {
                "shutting down".into()
            } else {
                "lost leadership".into()
            }));
            if let Some(h) = &health {
                h.set_service_status(
                    herald_proto::pb::EVENT_LOG_SERVICE,
                    tonic_health::ServingStatus::NotServing,
                )
                .await;
            }
            if let Err(e) = self.flush_groups().await {
                warn!(error = %e, "could not persist committed offsets");
            }
            if let Some(l) = leadership
                && cancel.is_cancelled()
            {
                l.release().await;
                info!("lease released");
            }
            term_result?;
            if elector.is_none() {
                return Ok(());
            }
        }
    }

    async fn connect_kube(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Option<KubeConnection>, ExporterError> {
        let mut opts = ClientOptions {
            kubeconfig: self.opts.kubeconfig.clone(),
            qps: self.config.kube_qps,
            burst: self.config.kube_burst,
            stats: self.kube_stats.clone(),
            ..ClientOptions::default()
        };
        if let Some(dir) = &self.opts.service_account_dir {
            opts.service_account_dir.clone_from(dir);
        }
        // any failure here is reported and ends the process: Kubernetes restarts the
        // pod with backoff, and a wrong kubeconfig is visible at once (KEE did the same)
        tokio::select! {
            () = cancel.cancelled() => Ok(None),
            r = connect(opts) => match r {
                Ok(c) => {
                    info!(source = %c.source, server = %c.cluster_url, "connected to the Kubernetes API");
                    Ok(Some(c))
                }
                Err(e) => Err(ExporterError::Kube(e.to_string())),
            },
        }
    }

    /// Persists the consumer groups' state (serialised with the checkpoint publisher).
    async fn flush_groups(&self) -> Result<(), StoreError> {
        let _flushing = self.flush_lock.lock().await;
        self.hub.flush().await
    }

    /// The failover checkpoint publisher of a term that inherited `handover`.
    fn publisher(&self, handover: Option<Handover>) -> Publisher {
        Publisher {
            store: self.store.clone(),
            hub: self.hub.clone(),
            handoff: self.handoff.clone(),
            flush_lock: self.flush_lock.clone(),
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

    async fn term(
        &self,
        api: &KubeApi,
        leadership: Option<&Leadership>,
        cancel: &CancellationToken,
        health: Option<&tonic_health::server::HealthReporter>,
    ) -> Result<(), ExporterError> {
        let cfg = &self.config;
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
        let retention = cfg.exporter.dedup.retention;
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(3));
        let cutoff_ms = u64::try_from(cutoff.timestamp_millis()).unwrap_or(0);
        let seen = self.store.run(move |s| s.load_seen(cutoff_ms)).await?;
        info!(
            cold,
            resume_from = resume.as_deref().unwrap_or("(list)"),
            remembered = seen.len(),
            "starting the event watch"
        );
        let watcher = EventWatcher::new(
            api.clone(),
            WatcherOptions {
                namespace: cfg.namespace.clone(),
                resume_resource_version: resume,
                page_size: cfg.exporter.watch.list_page_size,
                watch_timeout: cfg.exporter.watch.timeout,
                progress_check: cfg.exporter.watch.progress_check,
                ..WatcherOptions::default()
            },
        );
        let watch_health = watcher.health();
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
            seen,
            enricher,
            cfg: IngestConfig {
                cluster_name: cfg.cluster_name.clone(),
                cold_start_max_age: cold
                    .then(|| chrono::Duration::seconds(cfg.max_event_age_seconds)),
                handover: handover.clone(),
                dedup_retention: chrono::Duration::from_std(retention)
                    .unwrap_or(chrono::Duration::hours(3)),
                linger: cfg.exporter.ingest.linger,
                max_batch: cfg.exporter.ingest.max_batch as usize,
                ..IngestConfig::default()
            },
            metrics: self.metrics.clone(),
            kee: self.kee.clone(),
        };
        let term = cancel.child_token();
        let ingest_task = tokio::spawn(ingest.run(watcher.into_stream(), term.clone()));
        let publisher = leadership.map(|l| {
            tokio::spawn(
                self.publisher(handover.clone())
                    .run(l.writer(), term.clone()),
            )
        });
        self.leader_flag.store(true, Ordering::Relaxed);
        self.metrics.leader.set(1);
        self.hub.set_serving(Serving::Yes);
        if let Some(h) = health {
            h.set_service_status(
                herald_proto::pb::EVENT_LOG_SERVICE,
                tonic_health::ServingStatus::Serving,
            )
            .await;
        }
        let started = Instant::now();
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        let mut leases = tokio::time::interval(Duration::from_millis(500));
        let mut prune = tokio::time::interval(Duration::from_secs(30));
        let mut forget = tokio::time::interval(Duration::from_secs(300));
        let mut health_tick = tokio::time::interval(Duration::from_secs(1));
        tokio::pin!(ingest_task);
        let lost = async {
            match leadership {
                Some(l) => l.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(lost);
        let mut ingest_finished = false;
        let outcome = loop {
            tokio::select! {
                () = cancel.cancelled() => break Ok(()),
                () = &mut lost => {
                    warn!("lost leadership: stopping the watch and closing subscriptions");
                    break Ok(());
                }
                r = &mut ingest_task => {
                    ingest_finished = true;
                    break match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => { error!(error = %e, "durable log failed"); Err(ExporterError::Store(match e { crate::ingest::IngestError::Store(s) => s })) }
                        Err(e) => Err(ExporterError::Store(StoreError::Join(e.to_string()))),
                    };
                }
                _ = flush.tick() => {
                    if let Err(e) = self.flush_groups().await {
                        warn!(error = %e, "could not persist committed offsets");
                    }
                }
                _ = leases.tick() => self.hub.expire_leases(),
                _ = prune.tick() => self.apply_retention().await,
                _ = forget.tick() => {
                    let c = chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(3));
                    let ms = u64::try_from(c.timestamp_millis()).unwrap_or(0);
                    if let Err(e) = self.store.run(move |s| s.expire_seen(ms)).await {
                        warn!(error = %e, "could not expire the occurrence memory");
                    }
                }
                _ = health_tick.tick() => self.report_watch_health(&watch_health, started),
            }
        };
        term.cancel();
        if !ingest_finished {
            match tokio::time::timeout(Duration::from_secs(10), &mut ingest_task).await {
                Ok(Ok(Err(e))) => warn!(error = %e, "ingest stopped with an error"),
                Ok(_) => {}
                Err(_) => {
                    warn!("ingest did not stop within 10s; aborting it");
                    ingest_task.abort();
                }
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

    fn report_watch_health(&self, h: &crate::kube::watcher::WatchHealth, started: Instant) {
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

fn grpc_settings(config: &Config) -> Result<GrpcSettings, ExporterError> {
    let g = &config.exporter.grpc;
    let read = |p: &std::path::Path| {
        std::fs::read(p)
            .map_err(|e| ExporterError::Files(format!("cannot read {}: {e}", p.display())))
    };
    let tls = match (&g.tls.cert_file, &g.tls.key_file) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        _ => None,
    };
    let client_ca = match &g.tls.client_ca_file {
        Some(p) => Some(read(p)?),
        None => None,
    };
    let tokens = g
        .tokens()
        .map_err(|e| ExporterError::Files(format!("exporter.grpc auth tokens: {e}")))?
        .into_iter()
        .map(|t| t.expose().clone())
        .collect();
    Ok(GrpcSettings {
        tls,
        client_ca,
        tokens,
    })
}
