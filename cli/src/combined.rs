//! `herald run`: exporter and ruler in one process. The ruler reads the exporter's
//! log through the hub directly (same consumer-group semantics, no network hop); the
//! exporter still serves gRPC for third-party consumers.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use herald_config::{Config, LoadedConfig};
use herald_exporter::app::{Exporter, ExporterOptions};
use herald_exporter::hub::{Hub, Next, Session};
use herald_proto::pb;
use herald_ruler::app::{Ruler, subscribe_lanes};
use herald_ruler::plan::Plan;
use herald_ruler::subscription::{Connector, Link, LinkError};
use herald_ruler::upstream::UpstreamMetrics;
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
    let ruler = Ruler::start(&config, plan, &mut registry, &health, kee).await?;
    let metrics_addr = args
        .metrics_address
        .clone()
        .unwrap_or_else(|| config.exporter.metrics.listen.to_string());
    let admin = herald_telemetry::start_admin(&metrics_addr, Arc::new(registry), health).await?;
    started(Started {
        grpc: exporter.grpc_addr(),
        metrics: admin.local_addr(),
    });
    let connector: Arc<dyn Connector> = Arc::new(HubConnector::new(exporter.hub()));
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
        &UpstreamMetrics::new(),
    );
    let exporter_stop = CancellationToken::new();
    let exporter_task = tokio::spawn(exporter.run(exporter_stop.clone().cancelled_owned()));
    // the ruler drains first so its completions are acknowledged before the log closes
    ruler.run(lanes, shutdown).await;
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
}

impl HubConnector {
    /// A connector over `hub`.
    pub fn new(hub: Hub) -> HubConnector {
        HubConnector { hub }
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
        session.grant(credit);
        Ok((session.welcome(), Box::new(HubLink { session })))
    }

    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError> {
        Ok(self.hub.group_status())
    }
}

/// One subscription on the local hub.
struct HubLink {
    session: Session,
}

#[async_trait]
impl Link for HubLink {
    async fn next(&mut self) -> Result<Option<pb::EventBatch>, LinkError> {
        match self.session.next().await.map_err(tonic::Status::from)? {
            Next::Batch(b) => Ok(Some(b)),
            Next::Closing(reason) => {
                info!(%reason, "local exporter stopped serving");
                Ok(None)
            }
        }
    }

    async fn ack(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        let n = u32::try_from(offsets.len()).unwrap_or(u32::MAX);
        self.session.ack(&offsets).map_err(tonic::Status::from)?;
        self.session.grant(n);
        Ok(())
    }

    async fn hold(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        self.session.hold(&offsets);
        Ok(())
    }

    async fn grant(&mut self, events: u32) -> Result<(), LinkError> {
        self.session.grant(events);
        Ok(())
    }
}
