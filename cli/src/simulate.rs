//! `herald simulate`: the built-in simulated Kubernetes API (the test simulator) with a
//! live demo scenario, for docker-compose and for trying herald without a cluster.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_kubesim::scenario::{Scenario, ScenarioConfig};
use herald_kubesim::{SimConfig, Simulator};
use tracing::info;

/// `herald simulate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Listen address of the simulated API server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Write a kubeconfig pointing at the simulator here.
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// Server URL written into the kubeconfig (default: http://<listen>), e.g.
    /// http://simulator:8080 inside docker-compose.
    #[arg(long)]
    pub server_url: Option<String>,
    /// Event writes per second of the demo scenario.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seed of the scenario (same seed, same story).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A running simulated cluster with its scenario.
pub struct SimulatedCluster {
    /// The simulator.
    pub sim: Simulator,
    task: tokio::task::JoinHandle<()>,
    stop: tokio_util::sync::CancellationToken,
}

impl SimulatedCluster {
    /// Starts the simulator on `listen` and the scenario at `rate` event writes/s.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        rate: f64,
        seed: u64,
    ) -> anyhow::Result<SimulatedCluster> {
        let sim = Simulator::start(SimConfig {
            bind: listen,
            watch_cache: true,
            event_ttl: Some(Duration::from_secs(3600)),
            ..SimConfig::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulated cluster on {listen}: {e}"))?;
        let stop = tokio_util::sync::CancellationToken::new();
        let mut scenario = Scenario::new(ScenarioConfig {
            seed,
            ..ScenarioConfig::default()
        });
        let (s, st) = (sim.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let report = scenario.run(&s, rate, st.cancelled_owned()).await;
            info!(events = report.event_writes(), "scenario stopped");
        });
        info!(url = %sim.url(), rate, seed, "simulated cluster running (pods crash-looping, image pulls failing, scaling, node pressure)");
        Ok(SimulatedCluster { sim, task, stop })
    }

    /// Stops the scenario and the simulator.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
        self.sim.shutdown().await;
    }
}

/// Writes an anonymous, plain-HTTP kubeconfig for `server`.
///
/// # Errors
/// The file cannot be written.
pub fn write_kubeconfig(path: &Path, server: &str) -> std::io::Result<()> {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: herald-simulated\n  cluster:\n    server: {server}\ncontexts:\n- name: herald-simulated\n  context:\n    cluster: herald-simulated\n    user: anonymous\n    namespace: default\ncurrent-context: herald-simulated\nusers:\n- name: anonymous\n  user: {{}}\n"
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, yaml)
}

/// Runs `herald simulate` until `shutdown`.
///
/// # Errors
/// The simulator cannot start or the kubeconfig cannot be written.
pub async fn run(
    args: &SimulateArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let cluster = SimulatedCluster::start(args.listen, args.rate, args.seed).await?;
    if let Some(path) = &args.kubeconfig_out {
        let server = args.server_url.clone().unwrap_or_else(|| cluster.sim.url());
        write_kubeconfig(path, &server)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        info!(path = %path.display(), server = %server, "kubeconfig written");
    }
    shutdown.await;
    cluster.stop().await;
    Ok(())
}
