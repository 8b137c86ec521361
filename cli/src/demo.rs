//! `herald demo`: a simulated cluster with a realistic stream of events, herald in
//! combined mode and a receiver — herald working in one command, no cluster.
//!
//! The default view is a table for the terminal: a `herald tail` of the exporter's
//! log (the receiver writes JSON lines to a file in the demo's directory meanwhile).
//! `-o json` prints what a stdout receiver sends instead: one JSON document per line.
//! The gRPC and metrics addresses are printed at start, so `herald tail` and `curl`
//! can be pointed at the running demo.

use std::path::PathBuf;

use crate::combined::{self, RunArgs};
use crate::simulate::{SimulatedCluster, write_kubeconfig};
pub use crate::tail::Output;
use crate::tail::{self, From, TailArgs};

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
    /// What to print: a table of the events (`table`), or the stdout receiver's JSON
    /// lines (`json`).
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: Output,
}

/// The built-in demo configuration: every event to stdout as one readable JSON line.
/// `count` is the occurrence count: `series.count` for Events written through
/// events.k8s.io, whose `count` stays 0, so their repeats do not look alike; `key`
/// tells every occurrence apart.
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
        count: "{{ .Occurrence }}"
        key: "{{ .IdempotencyKey }}"
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

/// The built-in configuration of the table view: the same route, to a file receiver
/// (`{path}` is replaced), so stdout is left to the table.
fn table_config(path: &std::path::Path) -> String {
    DEMO_CONFIG.replace(
        "    stdout:\n",
        &format!(
            "    file:\n      path: {}\n",
            serde_json::Value::from(path.display().to_string())
        ),
    )
}

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
    let delivered = dir.join("delivered.jsonl");
    let config_path = match &args.config {
        Some(p) => p.clone(),
        None => {
            let p = dir.join("demo.yaml");
            let text = match args.output {
                Output::Json => DEMO_CONFIG.to_owned(),
                Output::Table => table_config(&delivered),
            };
            std::fs::write(&p, text)?;
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
    if args.config.is_none() && args.output == Output::Table {
        eprintln!(
            "herald demo: the receiver `console` writes JSON lines to {}",
            delivered.display()
        );
    }
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
    let table = args.output == Output::Table;
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let viewer = tokio::spawn(async move {
        let Ok(grpc) = addr_rx.await else { return };
        if table {
            view_table(grpc).await;
        }
    });
    let result = combined::run_with(loaded, plan, &run_args, stop, move |started| {
        eprintln!(
            "herald demo: gRPC at {grpc} (try `herald tail --exporter {grpc} --from earliest`); metrics at {}",
            started
                .metrics
                .map_or_else(|| "-".to_owned(), |m| format!("http://{m}/metrics")),
            grpc = started.grpc,
        );
        let _ = addr_tx.send(started.grpc);
    })
    .await;
    // the exporter told the table's tail it is closing; let it print what it has
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), viewer).await;
    cluster.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Prints the exporter's log as `herald tail -o table --from earliest` does, until the
/// exporter closes.
async fn view_table(grpc: std::net::SocketAddr) {
    let args = TailArgs {
        exporter: grpc.to_string(),
        namespaces: Vec::new(),
        types: Vec::new(),
        reasons: Vec::new(),
        kinds: Vec::new(),
        from: From::Earliest,
        group: None,
        member: Some("demo-view".into()),
        output: Output::Table,
        limit: None,
        ca_file: None,
        token: None,
    };
    let mut out = std::io::stdout();
    if let Err(e) = tail::run(&args, &mut out).await {
        tracing::debug!(error = %e, "demo table view ended");
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
