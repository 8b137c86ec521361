//! `herald demo`: a simulated cluster with a realistic stream of events, herald in
//! combined mode, and a stdout receiver — herald working in one command, no cluster.

use std::path::PathBuf;

use crate::combined::{self, RunArgs};
use crate::simulate::{SimulatedCluster, write_kubeconfig};

/// `herald demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Use this configuration instead of the built-in demo one (its receivers and
    /// routes get the simulated cluster's events).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Event writes per second of the simulated cluster.
    #[arg(long, default_value_t = 3.0)]
    pub rate: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Scenario seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The built-in demo configuration: every event to stdout as one readable JSON line.
pub const DEMO_CONFIG: &str = r#"# herald demo: a kubernetes-event-exporter style config
logLevel: warn
clusterName: demo
metricsNamePrefix: event_exporter_
maxEventAgeSeconds: 60
route:
  routes:
    - match:
        - receiver: console
receivers:
  - name: console
    stdout:
      layout:
        time: "{{ .GetTimestampISO8601 }}"
        type: "{{ .Type }}"
        reason: "{{ .Reason }}"
        object: "{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}"
        count: "{{ .Count }}"
        app: "{{ index .InvolvedObject.Labels \"app\" }}"
        message: "{{ .Message }}"
exporter:
  grpc:
    listen: 127.0.0.1:0
  metrics:
    listen: 127.0.0.1:0
ruler:
  # a demo ends at once: whatever stdout could not take is not worth waiting for
  shutdownGrace: 2s
"#;

/// Runs the demo until Ctrl-C or `--duration`.
///
/// # Errors
/// The simulator, the config or herald cannot start.
pub async fn run(
    args: &DemoArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let cluster = SimulatedCluster::start("127.0.0.1:0".parse()?, args.rate, args.seed).await?;
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &cluster.sim.url())?;
    let config_path = match &args.config {
        Some(p) => p.clone(),
        None => {
            let p = dir.join("demo.yaml");
            std::fs::write(&p, DEMO_CONFIG)?;
            p
        }
    };
    let (loaded, plan) = crate::check::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    herald_telemetry::logging::init(
        loaded.config.log_level.as_str(),
        loaded.config.log_format.as_str(),
    )?;
    eprintln!(
        "herald demo: simulated cluster at {} ({} events/s); printing events, Ctrl-C to stop",
        cluster.sim.url(),
        args.rate
    );
    let run_args = RunArgs {
        config: config_path,
        kubeconfig: Some(kubeconfig),
        metrics_address: Some("127.0.0.1:0".into()),
        grpc_address: Some("127.0.0.1:0".parse()?),
        data_dir: Some(dir.join("data")),
    };
    let duration = args.duration;
    let stop = async move {
        match duration {
            Some(s) => {
                tokio::select! {
                    () = shutdown => {}
                    () = tokio::time::sleep(std::time::Duration::from_secs(s)) => {}
                }
            }
            None => shutdown.await,
        }
    };
    let result = combined::run(loaded, plan, &run_args, stop).await;
    cluster.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
