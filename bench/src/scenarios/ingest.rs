//! Scenario 1, exporter ingest (a `herald-exporter` process, lookups off):
//!
//! 1. the simulator holds 200,000 Events; the exporter starts with an empty log, lists
//!    them (pages of 500) and logs them: measured from process start until the last
//!    one is in the durable log;
//! 2. then 100,000 more are written to the simulator as fast as it takes them and
//!    reach the exporter as a watch stream: measured from the first write until the
//!    last one is logged;
//! 3. warm restart: SIGTERM, start again on the same log; time until a new event is
//!    logged (it resumes the watch where it stopped: nothing is listed or re-logged);
//! 4. cold restart: start on an empty log; time until everything (list + marker) is
//!    logged again.

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_kubesim::Simulator;
use herald_kubesim::scenario::{Scenario, ScenarioConfig};
use tracing::info;

use super::{Ctx, kubeconfig, start_sim, timeout_for};
use crate::error::{BenchError, Result};
use crate::process::{Exporter, ExporterSpec};
use crate::report::{Row, Target};
use crate::workload::{self, ExporterSettings};

/// The exporter's per-core promise.
const TARGET: f64 = 50_000.0;

/// Scenario name prefix of the rows compared with the baseline.
pub const ROW_PREFIX: &str = "exporter ingest";

/// Runs the scenario.
///
/// # Errors
/// The simulator or the exporter fails.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let bins = ctx.binaries()?;
    let work = ctx.dir("ingest")?;
    let (n_list, n_watch) = (ctx.sizes.ingest_list, ctx.sizes.ingest_watch);
    let sim = start_sim(None).await?;
    let kubeconfig = kubeconfig(&sim, &work)?;
    let scenario = Scenario::new(ScenarioConfig {
        seed: 1,
        namespaces: 8,
        nodes: 10,
        apps_per_namespace: 4,
        ..ScenarioConfig::default()
    });
    let (scenario, stats) = preload(&sim, scenario, n_list, (n_list / 4).max(1)).await?;
    info!(
        events = n_list,
        secs = stats.as_secs_f64(),
        "ingest: events preloaded"
    );
    let config = workload::exporter_config(ExporterSettings {
        lookups: false,
        cache_size: 1024,
        log_max_bytes: None,
    });
    let data = work.join("data");
    let spec = |name, data_dir| ExporterSpec {
        bin: &bins.exporter,
        work: &work,
        kubeconfig: &kubeconfig,
        data_dir,
        config: config.clone(),
        name,
    };
    let mut rows = Vec::new();

    // 1. cold start over the list
    let mut exporter = Exporter::start(&spec("exporter", &data))?;
    let (listed, _) = exporter
        .wait_logged(n_list as u64, timeout_for(n_list, 1_000.0))
        .await?;
    let cpu_list = exporter.proc.cpu();
    rows.push(
        Row::new(
            format!("{ROW_PREFIX}: list of {} (cold start)", thousands(n_list)),
            n_list as u64,
            listed - exporter.started,
            Some(cpu_list),
        )
        .peak_rss(Some(exporter.proc.memory().peak))
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note("from process start; pages of 500"),
    );

    // 2. watch stream
    let started = Instant::now();
    let writer = {
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            let mut scenario = scenario;
            let t = Instant::now();
            scenario.preload(&sim, n_watch, 1000).map(|_| t.elapsed())
        })
    };
    let expected = (n_list + n_watch) as u64;
    let (logged, last) = exporter
        .wait_logged(expected, timeout_for(n_watch, 1_000.0))
        .await?;
    let write_time = writer.await??;
    let cpu_watch = exporter.proc.cpu().saturating_sub(cpu_list);
    #[allow(clippy::cast_precision_loss)]
    let write_rate = n_watch as f64 / write_time.as_secs_f64().max(1e-9);
    rows.push(
        Row::new(
            format!("{ROW_PREFIX}: watch stream of {}", thousands(n_watch)),
            n_watch as u64,
            logged - started,
            Some(cpu_watch),
        )
        .peak_rss(Some(exporter.proc.memory().peak))
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note(format!(
            "simulator wrote {write_rate:.0} events/s; {} extra offsets",
            last - expected
        )),
    );

    // 3. warm restart
    let stop = exporter.proc.terminate(Duration::from_secs(30))?;
    drop(exporter);
    let mut warm = Exporter::start(&spec("exporter-warm", &data))?;
    create_marker(&sim, ctx, "marker-warm")?;
    let (ready, _) = warm.wait_logged(last + 1, Duration::from_secs(60)).await?;
    let warm_time = ready - warm.started;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = warm.status().await?.map_or(0, |s| s.last_offset);
    rows.push(
        Row::new(
            "exporter restart: warm (same log)",
            1,
            warm_time,
            Some(warm.proc.cpu()),
        )
        .peak_rss(Some(warm.proc.memory().peak))
        .note(format!(
            "process start → next event logged; SIGTERM stop took {:.2}s; {} events re-logged",
            stop.as_secs_f64(),
            after.saturating_sub(last + 1)
        )),
    );
    warm.proc.terminate(Duration::from_secs(30))?;
    drop(warm);

    // 4. cold restart
    let total = after + 1;
    let mut cold = Exporter::start(&spec("exporter-cold", &work.join("data-cold")))?;
    create_marker(&sim, ctx, "marker-cold")?;
    let (done, _) = cold
        .wait_logged(total, timeout_for(total as usize, 1_000.0))
        .await?;
    rows.push(
        Row::new(
            "exporter restart: cold (empty log, re-list all)",
            total,
            done - cold.started,
            Some(cold.proc.cpu()),
        )
        .peak_rss(Some(cold.proc.memory().peak))
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note("process start → every Event in the API logged"),
    );
    cold.proc.terminate(Duration::from_secs(30))?;
    sim.shutdown().await;
    Ok(rows)
}

async fn preload(
    sim: &Simulator,
    mut scenario: Scenario,
    events: usize,
    objects: usize,
) -> Result<(Scenario, Duration)> {
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        scenario
            .preload(&sim, events, objects)
            .map(|_| (scenario, t.elapsed()))
    })
    .await?
    .map_err(BenchError::from)
}

fn create_marker(sim: &Simulator, ctx: &Ctx, name: &str) -> Result<()> {
    sim.create_typed_event(workload::sim_event(&ctx.samples, 0, name, Utc::now())?)?;
    Ok(())
}

fn thousands(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}
