//! The exporter process: opens the durable log, serves gRPC, and — while it is the
//! leader (or always, without leader election) — runs one *term* after another:
//! watch → ingest → log ([`term`]). Housekeeping (offset commits, ack timeouts,
//! retention) runs for the life of the process ([`housekeeping`]); whether the log is
//! served is switched in one place ([`serving`]).
//!
//! Without leader election the log is served from the start, also while the API
//! server cannot be reached: the exporter keeps retrying it with back-off (and reports
//! unready meanwhile) instead of exiting, so rulers and other consumers keep reading
//! what is already logged.
//!
//! Failover: the leader keeps in its Lease (`herald.dev/checkpoint`) what it handled
//! and which of the occurrences it logged its consumer groups have not acknowledged
//! (see [`crate::handoff`]), and holds back the credits consumers return until that
//! is published. A new leader whose own log was not the last one in charge adopts the
//! acknowledged position, moves its stale consumer groups to the end of its log,
//! resumes the watch from there and logs again only what was not acknowledged: a
//! consumer gets back at most what it held unacknowledged (its credit window), with
//! the same idempotency keys.

mod error;
mod housekeeping;
mod serving;
mod term;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use herald_config::Config;
use herald_telemetry::{Health, KeeMetrics, Probe};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use error::{ExporterError, FilesError};

use crate::grpc::{self, EventLogService, GrpcSettings};
use crate::handoff::Handoff;
use crate::hub::{Hub, HubConfig};
use crate::kube::KubeStats;
use crate::kube::backoff::{Backoff, BackoffOptions};
use crate::kube::client::{ClientOptions, KubeConnection, connect};
use crate::kube::leader::{LeaderElector, Leadership, LeaseOptions};
use crate::metrics::{IngestMetrics, StateCollector};
use crate::store::Store;
use housekeeping::Housekeeping;
use serving::ServingState;

/// Why a standby refuses a subscriber (it has nothing for that subscriber's group).
const STANDBY: &str = "this exporter is a standby; connect to the leader";

/// Lease annotation carrying the failover checkpoint.
pub const CHECKPOINT_ANNOTATION: &str = "herald.dev/checkpoint";

/// Retry delays while the API server cannot be reached at start.
const CONNECT_BACKOFF: BackoffOptions = BackoffOptions {
    initial: Duration::from_millis(500),
    max: Duration::from_secs(15),
    reset_after: Duration::from_secs(120),
};

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
    config: Arc<Config>,
    opts: ExporterOptions,
    store: Store,
    hub: Hub,
    handoff: Handoff,
    serving: ServingState,
    housekeeping: Housekeeping,
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
        let config = Arc::new(config);
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| config.exporter.data_dir.clone());
        let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
            .await
            .map_err(|source| ExporterError::Task {
                what: "log open",
                source,
            })??;
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
        .await?;
        let grpc_addr = server.local_addr().map_err(grpc::GrpcError::LocalAddr)?;
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
        let serving = ServingState::new(hub.clone(), leader_flag, metrics.leader.clone());
        let housekeeping = Housekeeping {
            config: config.clone(),
            store: store.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        Ok(Exporter {
            config,
            opts,
            store,
            hub,
            handoff,
            serving,
            housekeeping,
            grpc: Some(server),
            grpc_addr,
            metrics,
            kee,
            kube_stats,
            watch_probe: health.probe("watch"),
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
        let mut grpc_task = None;
        if let Some(server) = self.grpc.take() {
            self.serving.attach_health(server.health.clone()).await;
            let c = cancel.clone();
            grpc_task = Some(tokio::spawn(async move {
                if let Err(e) = server.run(c.cancelled_owned()).await {
                    error!(error = %e, "gRPC server failed");
                }
            }));
        }
        let housekeeping = tokio::spawn(self.housekeeping.clone().run(cancel.clone()));
        let result = {
            let run = self.run_terms(&cancel);
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
        let _ = housekeeping.await;
        self.serving.stop("shutting down").await;
        if let Err(e) = self.housekeeping.flush_groups().await {
            warn!(error = %e, "could not persist committed offsets at shutdown");
        }
        if let Some(t) = grpc_task {
            // subscribers were told to go; give the server a moment to finish streams
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
            // keep the acks they sent while leaving, or a restart redelivers those events
            if let Err(e) = self.housekeeping.flush_groups().await {
                warn!(error = %e, "could not persist committed offsets at shutdown");
            }
        }
        info!("exporter stopped");
        result
    }

    /// Connects to the API server, then runs terms: one for the life of the process
    /// without leader election, one per leadership with it.
    async fn run_terms(&self, cancel: &CancellationToken) -> Result<(), ExporterError> {
        if !self.config.leader_election.enabled {
            // the only exporter: its log is served whether or not the API answers
            self.serving.serve().await;
        }
        let Some(conn) = self.connect_kube(cancel).await? else {
            return Ok(());
        };
        let elector = self.elector(&conn)?;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let leadership = match &elector {
                Some(e) => match self.acquire(e, cancel).await {
                    Some(l) => Some(l),
                    None if cancel.is_cancelled() => return Ok(()),
                    None => continue,
                },
                None => None,
            };
            let term_result = self.term(&conn.api, leadership.as_ref(), cancel).await;
            if cancel.is_cancelled() {
                self.serving.stop("shutting down").await;
            } else if elector.is_some() {
                self.serving.drain(STANDBY).await;
            } else {
                self.serving.stop("the event watch ended").await;
            }
            if let Err(e) = self.housekeeping.flush_groups().await {
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

    /// The leader elector, when leader election is enabled.
    fn elector(&self, conn: &KubeConnection) -> Result<Option<LeaderElector>, ExporterError> {
        if !self.config.leader_election.enabled {
            return Ok(None);
        }
        let le = &self.config.exporter.leader_election;
        let mut opts = LeaseOptions::new(
            self.config.leader_election.leader_election_id.clone(),
            conn.namespace.clone(),
        );
        opts.lease_duration = le.lease_duration;
        opts.renew_deadline = le.renew_deadline;
        opts.retry_period = le.retry_period;
        opts.min_write_interval = crate::handoff::publisher::write_interval(self.config.kube_qps);
        if let Some(id) = &self.opts.identity {
            opts.identity.clone_from(id);
        }
        info!(lease = %opts.name, namespace = %opts.namespace, identity = %opts.identity, "leader election enabled");
        Ok(Some(LeaderElector::new(conn.api.clone(), opts)?))
    }

    /// Stands by until the Lease is acquired. `None`: cancelled, or the attempt failed
    /// (after a pause; the caller tries again).
    async fn acquire(
        &self,
        elector: &LeaderElector,
        cancel: &CancellationToken,
    ) -> Option<Leadership> {
        self.watch_probe.not_ready("standby: waiting for the lease");
        self.serving.drain(STANDBY).await;
        let acquired = tokio::select! {
            () = cancel.cancelled() => return None,
            r = elector.acquire() => r,
        };
        match acquired {
            Ok(l) => Some(l),
            Err(err) => {
                warn!(error = %err, "leader election failed, retrying");
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
                None
            }
        }
    }

    /// Connects to the API server. An unreachable server is retried with back-off
    /// (unready meanwhile) until it answers or `cancel`; an unusable kubeconfig or
    /// service account is an error. `None`: cancelled.
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
        let mut backoff = Backoff::new(CONNECT_BACKOFF);
        let mut attempt = 0u32;
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => return Ok(None),
                r = connect(opts.clone()) => r,
            };
            match result {
                Ok(c) => {
                    info!(source = %c.source, server = %c.cluster_url, "connected to the Kubernetes API");
                    return Ok(Some(c));
                }
                Err(e) if e.is_unreachable() => {
                    attempt += 1;
                    let delay = backoff.next_delay();
                    warn!(
                        error = %e,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        serving = self.serving.is_serving(),
                        "cannot reach the Kubernetes API, retrying"
                    );
                    self.metrics.watch_healthy.set(0);
                    self.watch_probe
                        .not_ready(format!("cannot reach the Kubernetes API: {e}"));
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(None),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                // a wrong kubeconfig or service account does not fix itself: report it
                // and end, visibly
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn grpc_settings(config: &Config) -> Result<GrpcSettings, FilesError> {
    let g = &config.exporter.grpc;
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|source| FilesError::Read {
            path: p.to_owned(),
            source,
        })
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
        .map_err(FilesError::Tokens)?
        .into_iter()
        .map(|t| t.expose().clone())
        .collect();
    Ok(GrpcSettings {
        tls,
        client_ca,
        tokens,
    })
}
