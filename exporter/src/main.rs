//! `herald-exporter`: watches Kubernetes Events and serves them over gRPC.
//!
//! Accepts kubernetes-event-exporter's flags (`-conf`, `-kubeconfig`,
//! `-metrics-address`) as well as GNU-style ones.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use herald_config::LoadedConfig;
use herald_exporter::app::{Exporter, ExporterOptions};
use herald_telemetry::process::{normalize_go_flags, shutdown_signal};
use herald_telemetry::{Health, KeeMetrics};
use prometheus_client::registry::Registry;

/// Watches Kubernetes Events, logs every occurrence once in a durable log and serves
/// it to rulers and other consumers over gRPC.
#[derive(Debug, Parser)]
#[command(name = "herald-exporter", version)]
struct Args {
    /// Configuration file (kubernetes-event-exporter's format plus herald's sections).
    #[arg(
        long,
        short = 'c',
        env = "HERALD_CONFIG",
        default_value = "config.yaml"
    )]
    config: PathBuf,
    /// kubeconfig file; default: in-cluster service account, else $KUBECONFIG, else ~/.kube/config.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Address of /metrics, /-/healthy and /-/ready (overrides exporter.metrics.listen; `:2112` works).
    #[arg(long)]
    metrics_address: Option<String>,
    /// gRPC listen address (overrides exporter.grpc.listen).
    #[arg(long)]
    grpc_address: Option<SocketAddr>,
    /// Directory of the durable log (overrides exporter.dataDir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// kubernetes-event-exporter's Prometheus web-config for the metrics server (not supported).
    #[arg(long, hide = true)]
    metrics_tls_config: Option<PathBuf>,
}

/// Exit code for configuration errors (EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    // before any thread exists (see the module docs)
    let _ = herald_telemetry::malloc::limit_arenas();
    let args = Args::parse_from(normalize_go_flags(std::env::args()));
    if args.metrics_tls_config.is_some() {
        eprintln!(
            "herald-exporter: -metrics-tls-config is not supported; terminate TLS for /metrics in front of the pod (e.g. a service mesh) or leave it plain"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    // The whole file, route and receivers included, is checked as the rulers and
    // `herald check-config` check it: a file they refuse never runs half-way. It
    // is read before the runtime starts: it sets the runtime's threads.
    let loaded = match herald_ruler::plan::load(&args.config, herald_config::Role::Exporter) {
        Ok((loaded, _plan)) => loaded,
        Err(e) => {
            eprintln!("herald-exporter: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match herald_telemetry::process::runtime(loaded.config.exporter.worker_threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herald-exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, loaded))
}

async fn run(args: Args, loaded: LoadedConfig) -> ExitCode {
    let mut config = loaded.config;
    // The command line wins over the file: apply it first, so the startup summary
    // (and everything after it) shows the settings in effect.
    if let Some(dir) = &args.data_dir {
        config.exporter.data_dir.clone_from(dir);
    }
    if let Some(addr) = args.grpc_address {
        config.exporter.grpc.listen = addr;
    }
    let metrics_addr = args
        .metrics_address
        .clone()
        .unwrap_or_else(|| config.exporter.metrics.listen.to_string());
    if let Ok(addr) = herald_config::units::parse_listen(&metrics_addr) {
        config.exporter.metrics.listen = addr;
    }
    let traces = match herald_telemetry::logging::init_with_traces(
        config.log_level.as_str(),
        config.log_format.as_str(),
        "herald-exporter",
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("herald-exporter: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    loaded.diagnostics.log();
    tracing::info!(config = %herald_config::redacted_summary(&config), metrics = %metrics_addr, "starting herald-exporter {}", env!("CARGO_PKG_VERSION"));
    let mut registry = Registry::default();
    let kee = KeeMetrics::new(&config.metrics_name_prefix);
    registry.register_collector(Box::new(kee.clone()));
    let health = Health::new();
    let opts = ExporterOptions {
        kubeconfig: args.kubeconfig,
        grpc_address: args.grpc_address,
        data_dir: args.data_dir,
        ..ExporterOptions::default()
    };
    let exporter = match Exporter::start(config, opts, &mut registry, &health, kee).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
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
    let result = exporter.run(shutdown_signal()).await;
    admin.stop().await;
    if let Some(t) = traces {
        t.shutdown().await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exporter failed");
            ExitCode::FAILURE
        }
    }
}
