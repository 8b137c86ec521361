//! `herald run`: exporter and ruler in one process. The ruler reads the exporter's
//! log through the hub directly (same consumer-group semantics, no network hop); the
//! exporter still serves gRPC for third-party consumers.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use herald_config::{Config, LoadedConfig};
use herald_exporter::app::{Exporter, ExporterOptions};
use herald_exporter::hub::{Hub, Next};
use herald_proto::pb;
use herald_ruler::app::{Inputs, Ruler};
use herald_ruler::plan::Plan;
use herald_ruler::upstream::{Incoming, Source};
use herald_telemetry::{Health, KeeMetrics};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

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
    let ruler = Ruler::start(&config, plan, &mut registry, &health, kee).await?;
    let metrics_addr = args
        .metrics_address
        .clone()
        .unwrap_or_else(|| config.exporter.metrics.listen.to_string());
    let admin = herald_telemetry::start_admin(&metrics_addr, Arc::new(registry), health).await?;
    let inputs = local_inputs(
        exporter.hub(),
        config.ruler.group.clone(),
        config.ruler.credits,
    );
    let exporter_stop = CancellationToken::new();
    let exporter_task = tokio::spawn(exporter.run(exporter_stop.clone().cancelled_owned()));
    // the ruler drains first so its completions are acknowledged before the log closes
    ruler.run(inputs, shutdown).await;
    exporter_stop.cancel();
    let result = exporter_task.await;
    admin.stop().await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(anyhow::anyhow!("exporter task failed: {e}")),
    }
}

/// Feeds the ruler from the in-process hub as a member of `group`.
pub fn local_inputs(hub: Hub, group: String, window: u32) -> Inputs {
    let (tx, rx) = mpsc::channel(16);
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let connected = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(feed(
        hub,
        group,
        window,
        tx,
        ack_rx,
        connected.clone(),
        cancel.clone(),
    ));
    Inputs {
        rx,
        outs: vec![ack_tx],
        connected: vec![connected],
        tasks: vec![task],
        cancel,
    }
}

async fn feed(
    hub: Hub,
    group: String,
    window: u32,
    tx: mpsc::Sender<Incoming>,
    mut acks: mpsc::UnboundedReceiver<(Arc<str>, u64)>,
    connected: Arc<AtomicBool>,
    cancel: CancellationToken,
) {
    let log_id: Arc<str> = Arc::from(hub.store().log_id());
    let source = Source {
        upstream: 0,
        log_id: log_id.clone(),
    };
    loop {
        let hello = pb::Hello {
            group: group.clone(),
            member_id: "combined".into(),
            ..pb::Hello::default()
        };
        let mut session = match hub.join(hello).await {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "waiting for the exporter to serve");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                }
            }
        };
        session.grant(window);
        connected.store(true, Ordering::Relaxed);
        info!(group = %group, "ruler reading the local exporter");
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    apply_acks(&mut session, &mut acks, &log_id);
                    return;
                }
                ack = acks.recv() => match ack {
                    Some((log, offset)) => {
                        if *log == *log_id {
                            let mut batch = vec![offset];
                            while let Ok((l, o)) = acks.try_recv() {
                                if *l == *log_id { batch.push(o); }
                            }
                            if let Err(e) = session.ack(&batch) {
                                warn!(error = %e, "local ack refused");
                            }
                            session.grant(u32::try_from(batch.len()).unwrap_or(u32::MAX));
                        }
                    }
                    None => return,
                },
                next = session.next() => match next {
                    Ok(Next::Batch(b)) => {
                        let events = b.events.into_iter().map(herald_proto::Event::from).collect();
                        if tx.send(Incoming { source: source.clone(), events }).await.is_err() {
                            return;
                        }
                    }
                    Ok(Next::Closing(reason)) => {
                        info!(%reason, "local exporter stopped serving");
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "reading the local log failed");
                        break;
                    }
                },
            }
        }
        connected.store(false, Ordering::Relaxed);
    }
}

fn apply_acks(
    session: &mut herald_exporter::hub::Session,
    acks: &mut mpsc::UnboundedReceiver<(Arc<str>, u64)>,
    log_id: &Arc<str>,
) {
    let mut batch = Vec::new();
    while let Ok((l, o)) = acks.try_recv() {
        if *l == **log_id {
            batch.push(o);
        }
    }
    if !batch.is_empty() {
        let _ = session.ack(&batch);
    }
}
