//! `herald-ruler`: routes events from one or more exporters to the configured receivers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use herald_config::LoadedConfig;
use herald_ruler::app::{Ruler, grpc_connectors, lane_hello, subscribe_lanes, upstream_configs};
use herald_ruler::plan::Plan;
use herald_ruler::pods::KubePods;
use herald_ruler::rule_objects;
use herald_ruler::upstream::UpstreamMetrics;
use herald_sinks::BuildExtras;
use herald_telemetry::process::{normalize_go_flags, shutdown_signal};
use herald_telemetry::{Health, KeeMetrics};
use prometheus_client::registry::Registry;

/// Consumes the exporters' event logs as members of the `ruler` consumer group,
/// evaluates the route tree and delivers events to the receivers.
#[derive(Debug, Parser)]
#[command(name = "herald-ruler", version)]
struct Args {
    /// Configuration file (the same file as the exporter's).
    #[arg(
        long,
        short = 'c',
        env = "HERALD_CONFIG",
        default_value = "config.yaml"
    )]
    config: PathBuf,
    /// Exporter gRPC URL (repeatable; overrides ruler.exporters).
    #[arg(long = "exporter")]
    exporters: Vec<String>,
    /// Address of /metrics, /-/healthy and /-/ready (overrides ruler.metrics.listen).
    #[arg(long)]
    metrics_address: Option<String>,
    /// Kubeconfig for watching `Rule` objects (`ruler.ruleObjects`); by default
    /// KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

const EXIT_CONFIG: u8 = 78;

/// How long startup waits for the first list of `Rule` objects.
const FIRST_RULE_SYNC: std::time::Duration = std::time::Duration::from_secs(10);

fn main() -> ExitCode {
    let args = Args::parse_from(normalize_go_flags(std::env::args()));
    // The file is read before the runtime starts: it sets the runtime's threads.
    let (loaded, plan) = match herald_ruler::plan::load(&args.config, herald_config::Role::Ruler) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("herald-ruler: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match herald_telemetry::process::runtime(loaded.config.ruler.worker_threads) {
        Ok(rt) => rt.block_on(run(args, loaded, plan)),
        Err(e) => {
            eprintln!("herald-ruler: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, loaded: LoadedConfig, plan: Plan) -> ExitCode {
    let mut config = loaded.config;
    // The command line wins over the file: apply it first, so the startup summary
    // shows the settings in effect.
    if !args.exporters.is_empty() {
        config.ruler.exporters.clone_from(&args.exporters);
    }
    let metrics_addr = args
        .metrics_address
        .clone()
        .unwrap_or_else(|| config.ruler.metrics.listen.to_string());
    if let Ok(addr) = herald_config::units::parse_listen(&metrics_addr) {
        config.ruler.metrics.listen = addr;
    }
    let traces = match herald_telemetry::logging::init_with_traces(
        config.log_level.as_str(),
        config.log_format.as_str(),
        "herald-ruler",
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("herald-ruler: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    loaded.diagnostics.log();
    let upstreams = match upstream_configs(&config, &args.exporters) {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => {
            eprintln!(
                "herald-ruler: no exporter to connect to: pass --exporter URL or set ruler.exporters"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            eprintln!("herald-ruler: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tracing::info!(config = %herald_config::redacted_summary(&config), exporters = upstreams.len(), metrics = %metrics_addr, "starting herald-ruler {}", env!("CARGO_PKG_VERSION"));
    let mut registry = Registry::default();
    let kee = KeeMetrics::new(&config.metrics_name_prefix);
    registry.register_collector(Box::new(kee.clone()));
    let upstream_metrics = UpstreamMetrics::new();
    upstream_metrics.register(&mut registry);
    plan.register_metrics(&mut registry);
    let health = Health::new();
    let mut extras = BuildExtras::default();
    if plan.needs_pods() {
        // A receiver's hook has `enrichPod`: Pods are read with the same client
        // configuration as Rule objects.
        match rule_objects::kube::client(args.kubeconfig.as_deref()).await {
            Ok(client) => {
                let pods = KubePods::new(client, tokio::runtime::Handle::current());
                extras.pods = Some(Arc::new(pods));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read Pods for hooks with enrichPod");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    let ruler = match Ruler::start_with(&config, plan, &mut registry, &health, kee, &extras).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the receivers");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let rules_cancel = tokio_util::sync::CancellationToken::new();
    let mut rules_task = None;
    let ruler = match ruler.plan().rule_objects.clone() {
        None => ruler,
        Some(targets) => {
            let client = match rule_objects::kube::client(args.kubeconfig.as_deref()).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot watch Rule objects (ruler.ruleObjects)");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let (ruler, task) = ruler
                .watch_rule_objects(
                    client,
                    config.ruler.rule_objects.namespace.clone(),
                    targets,
                    &mut registry,
                    FIRST_RULE_SYNC,
                    rules_cancel.clone(),
                )
                .await;
            rules_task = Some(task);
            ruler
        }
    };
    let admin = match herald_telemetry::start_admin(&metrics_addr, Arc::new(registry), health).await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the metrics server");
            return ExitCode::FAILURE;
        }
    };
    let connectors = match grpc_connectors(&upstreams) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect to the exporters");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let lanes = subscribe_lanes(
        ruler.plan(),
        &connectors,
        &lane_hello(&upstreams[0]),
        config.ruler.credits,
        &upstream_metrics,
    );
    ruler.run(lanes, shutdown_signal()).await;
    rules_cancel.cancel();
    if let Some(t) = rules_task {
        let _ = t.await;
    }
    admin.stop().await;
    if let Some(t) = traces {
        t.shutdown().await;
    }
    ExitCode::SUCCESS
}
