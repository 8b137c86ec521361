//! `herald run`: exporter and ruler in one process. The ruler reads the exporter's
//! log through the hub directly (same consumer-group semantics, no network hop); the
//! exporter still serves gRPC for third-party consumers. The in-process ruler's
//! credits pass the same failover credit gate as a gRPC consumer's: under leader
//! election, credits returned with acknowledgements come back only once a checkpoint
//! holding those acknowledgements is in the Lease.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use herald_config::{Config, LoadedConfig};
use herald_exporter::app::{Exporter, ExporterOptions};
use herald_exporter::handoff::{CreditGate, Handoff};
use herald_exporter::hub::{Hub, Next, Session};
use herald_proto::pb;
use herald_ruler::app::{Ruler, subscribe_lanes};
use herald_ruler::plan::Plan;
use herald_ruler::rule_objects;
use herald_ruler::subscription::{Connector, Link, LinkError};
use herald_ruler::upstream::UpstreamMetrics;
use herald_ruler::wire::ReceivedBatch;
use herald_telemetry::{Health, KeeMetrics};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Command-line overrides of `herald run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(
        long,
        short = 'c',
        env = "HERALD_CONFIG",
        default_value = "config.yaml"
    )]
    pub config: PathBuf,
    /// kubeconfig file; default: in-cluster, else $KUBECONFIG, else ~/.kube/config.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Address of /metrics, /-/healthy and /-/ready (overrides exporter.metrics.listen).
    #[arg(long)]
    pub metrics_address: Option<String>,
    /// gRPC listen address for third-party consumers (overrides exporter.grpc.listen).
    #[arg(long)]
    pub grpc_address: Option<std::net::SocketAddr>,
    /// Directory of the durable log (overrides exporter.dataDir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Where a started `herald run` listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// The exporter's gRPC address (for `herald tail` and other consumers).
    pub grpc: std::net::SocketAddr,
    /// `/metrics`, `/-/healthy` and `/-/ready`.
    pub metrics: Option<std::net::SocketAddr>,
}

/// Runs exporter and ruler together until `shutdown`.
///
/// # Errors
/// Start-up failures of either half.
pub async fn run(
    loaded: LoadedConfig,
    plan: Plan,
    args: &RunArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(loaded, plan, args, shutdown, |_| {}).await
}

/// [`run`], telling `started` where it listens once both halves are up.
///
/// # Errors
/// Start-up failures of either half.
pub async fn run_with(
    loaded: LoadedConfig,
    plan: Plan,
    args: &RunArgs,
    shutdown: impl std::future::Future<Output = ()>,
    started: impl FnOnce(Started),
) -> anyhow::Result<()> {
    let config: Config = loaded.config;
    let mut registry = Registry::default();
    let kee = KeeMetrics::new(&config.metrics_name_prefix);
    registry.register_collector(Box::new(kee.clone()));
    let health = Health::new();
    let exporter = Exporter::start(
        config.clone(),
        ExporterOptions {
            kubeconfig: args.kubeconfig.clone(),
            grpc_address: args.grpc_address,
            data_dir: args.data_dir.clone(),
            ..ExporterOptions::default()
        },
        &mut registry,
        &health,
        kee.clone(),
    )
    .await?;
    plan.register_metrics(&mut registry);
    // the receivers' lag as a standalone ruler reports it (polled from the hub here)
    let upstream_metrics = UpstreamMetrics::new();
    upstream_metrics.register(&mut registry);
    let ruler = Ruler::start(&config, plan, &mut registry, &health, kee).await?;
    // `Rule` objects (ruler.ruleObjects), watched as a standalone ruler does
    let rules_stop = CancellationToken::new();
    let mut rules_task = None;
    let ruler = match ruler.plan().rule_objects.clone() {
        None => ruler,
        Some(targets) => {
            let client = rule_objects::kube::client(args.kubeconfig.as_deref()).await?;
            let (ruler, task) = ruler
                .watch_rule_objects(
                    client,
                    config.ruler.rule_objects.namespace.clone(),
                    targets,
                    &mut registry,
                    std::time::Duration::from_secs(10),
                    rules_stop.clone(),
                )
                .await;
            rules_task = Some(task);
            ruler
        }
    };
    let metrics_addr = args
        .metrics_address
        .clone()
        .unwrap_or_else(|| config.exporter.metrics.listen.to_string());
    let admin = herald_telemetry::start_admin(&metrics_addr, Arc::new(registry), health).await?;
    started(Started {
        grpc: exporter.grpc_addr(),
        metrics: admin.local_addr(),
    });
    let connector: Arc<dyn Connector> =
        Arc::new(HubConnector::new(exporter.hub(), exporter.handoff()));
    let hello = pb::Hello {
        group: config.ruler.group.clone(),
        member_id: "combined".into(),
        ..pb::Hello::default()
    };
    let lanes = subscribe_lanes(
        ruler.plan(),
        &[connector],
        &hello,
        config.ruler.credits,
        &upstream_metrics,
    );
    let exporter_stop = CancellationToken::new();
    let exporter_task = tokio::spawn(exporter.run(exporter_stop.clone().cancelled_owned()));
    // the ruler drains first so its completions are acknowledged before the log closes
    ruler.run(lanes, shutdown).await;
    rules_stop.cancel();
    if let Some(t) = rules_task {
        let _ = t.await;
    }
    exporter_stop.cancel();
    let result = exporter_task.await;
    admin.stop().await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(anyhow::anyhow!("exporter task failed: {e}")),
    }
}

/// Opens subscriptions straight on the hub of the exporter in this process: the same
/// consumer-group semantics as over gRPC, without the network hop.
#[derive(Clone)]
pub struct HubConnector {
    hub: Hub,
    handoff: Handoff,
}

impl HubConnector {
    /// A connector over `hub`, whose members' credits pass `handoff`'s gate.
    pub fn new(hub: Hub, handoff: Handoff) -> HubConnector {
        HubConnector { hub, handoff }
    }
}

#[async_trait]
impl Connector for HubConnector {
    fn describe(&self) -> &str {
        "local"
    }

    async fn open(
        &self,
        hello: pb::Hello,
        credit: u32,
    ) -> Result<(pb::Welcome, Box<dyn Link>), LinkError> {
        let mut session = self.hub.join(hello).await.map_err(tonic::Status::from)?;
        let mut gate = CreditGate::new(&self.handoff, session.credits_gated());
        session.grant(gate.credit(credit, session.credits()));
        Ok((session.welcome(), Box::new(HubLink { session, gate })))
    }

    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError> {
        Ok(self.hub.group_status())
    }
}

/// One subscription on the local hub.
struct HubLink {
    session: Session,
    gate: CreditGate,
}

#[async_trait]
impl Link for HubLink {
    async fn next(&mut self) -> Result<Option<ReceivedBatch>, LinkError> {
        loop {
            let next = tokio::select! {
                next = self.session.next() => next,
                released = self.gate.released() => {
                    self.session.grant(released);
                    continue;
                }
            };
            return match next.map_err(tonic::Status::from)? {
                // the same records a gRPC subscriber gets, read the same way
                Next::Batch(b) => {
                    ReceivedBatch::try_from(b.into_encoded())
                        .map(Some)
                        .map_err(|e| {
                            LinkError::Status(tonic::Status::internal(format!(
                                "a logged event has no readable offset: {e}"
                            )))
                        })
                }
                Next::Closing(reason) => {
                    info!(%reason, "local exporter stopped serving");
                    Ok(None)
                }
            };
        }
    }

    async fn ack(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        let n = u32::try_from(offsets.len()).unwrap_or(u32::MAX);
        let applied = self.session.ack(&offsets);
        // offsets before a refused one were applied
        self.gate.acknowledged();
        applied.map_err(tonic::Status::from)?;
        let now = self.gate.credit(n, self.session.credits());
        self.session.grant(now);
        Ok(())
    }

    async fn hold(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        self.session.hold(&offsets);
        Ok(())
    }

    async fn grant(&mut self, events: u32) -> Result<(), LinkError> {
        let now = self.gate.credit(events, self.session.credits());
        self.session.grant(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use herald_exporter::hub::{HubConfig, Serving};
    use herald_exporter::store::{AppendBatch, Store};

    use super::*;

    fn event(i: u64) -> pb::Event {
        pb::Event {
            occurrence: 1,
            metadata: Some(pb::ObjectMeta {
                uid: format!("u{i}"),
                namespace: "shop".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn link(handoff: &Handoff) -> (tempfile::TempDir, Hub, Box<dyn Link>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hub = Hub::new(store, HubConfig::default()).unwrap();
        let a = hub
            .store()
            .append(AppendBatch {
                events: (1..=4).map(event).collect(),
                ..Default::default()
            })
            .unwrap();
        hub.appended(a.next - 1);
        hub.set_serving(Serving::Yes);
        let hello = pb::Hello {
            group: "ruler.console".into(),
            member_id: "combined".into(),
            ..pb::Hello::default()
        };
        let (_, link) = HubConnector::new(hub.clone(), handoff.clone())
            .open(hello, 2)
            .await
            .unwrap();
        (dir, hub, link)
    }

    async fn offsets(link: &mut Box<dyn Link>, wait: Duration) -> Option<Vec<u64>> {
        match tokio::time::timeout(wait, link.next()).await {
            Ok(r) => Some(
                r.unwrap()
                    .unwrap()
                    .events
                    .iter()
                    .map(herald_ruler::wire::WireEvent::offset)
                    .collect(),
            ),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn returned_credits_wait_for_the_checkpoint_under_leader_election() {
        let handoff = Handoff::new();
        handoff.activate();
        let (_d, _hub, mut link) = link(&handoff).await;
        assert_eq!(
            offsets(&mut link, Duration::from_secs(5)).await,
            Some(vec![1, 2])
        );
        link.ack(vec![1, 2]).await.unwrap();
        assert_eq!(
            offsets(&mut link, Duration::from_millis(500)).await,
            None,
            "the credits come back only with the checkpoint"
        );
        handoff.published(handoff.acknowledgements());
        assert_eq!(
            offsets(&mut link, Duration::from_secs(5)).await,
            Some(vec![3, 4])
        );
    }

    #[tokio::test]
    async fn without_leader_election_credits_come_back_with_the_ack() {
        let handoff = Handoff::new();
        let (_d, _hub, mut link) = link(&handoff).await;
        assert_eq!(
            offsets(&mut link, Duration::from_secs(5)).await,
            Some(vec![1, 2])
        );
        link.ack(vec![1, 2]).await.unwrap();
        assert_eq!(
            offsets(&mut link, Duration::from_secs(5)).await,
            Some(vec![3, 4])
        );
    }
}
