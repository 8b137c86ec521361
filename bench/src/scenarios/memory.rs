//! Scenario 4, bounded memory: 100,000 distinct involved objects (pods with labels and
//! owners, spread over namespaces), one Event each, ingested by a `herald-exporter`
//! with lookups on and `cacheSize` large enough to keep every object's metadata.
//! RSS is sampled over the run; the promise is a peak below 64 MiB.

use std::time::{Duration, Instant};

use herald_kubesim::scenario::{Scenario, ScenarioConfig};
use herald_proto::pb;
use tracing::info;

use super::{Ctx, kubeconfig, start_sim, timeout_for};
use crate::error::{BenchError, Result};
use crate::process::{Exporter, ExporterSpec};
use crate::procfs::mib;
use crate::report::{Row, Target};
use crate::stats::RssSampler;
use crate::workload::{self, ExporterSettings};

/// The exporter's memory promise (MiB).
const TARGET_MIB: f64 = 64.0;

/// Runs the scenario.
///
/// # Errors
/// The simulator or the exporter fails, or lookups did not happen.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let bins = ctx.binaries()?;
    let work = ctx.dir("memory")?;
    let n = ctx.sizes.memory_objects;
    let sim = start_sim(None).await?;
    let kubeconfig = kubeconfig(&sim, &work)?;
    let preload = {
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = Scenario::new(ScenarioConfig {
                seed: 4,
                namespaces: 20,
                ..ScenarioConfig::default()
            });
            s.preload(&sim, n, n)
        })
        .await??
    };
    info!(
        objects = preload.objects,
        events = preload.events,
        "memory: objects and events preloaded"
    );
    let mut exporter = Exporter::start(&ExporterSpec {
        bin: &bins.exporter,
        work: &work,
        kubeconfig: &kubeconfig,
        data_dir: &work.join("data"),
        config: workload::exporter_config(ExporterSettings {
            lookups: true,
            cache_size: n,
            log_max_bytes: None,
        }),
        name: "exporter",
    })?;
    let sampler = RssSampler::start(exporter.proc.pid(), ctx.sizes.sample_every / 4);
    let (done, _) = exporter
        .wait_logged(n as u64, timeout_for(n, 500.0))
        .await?;
    let wall = done - exporter.started;
    let cpu = exporter.proc.cpu();
    // let the process settle (flushes, timers) and keep sampling
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mem = exporter.proc.memory();
    let points = sampler.finish();
    // the last event must carry its involved object's labels: lookups really happened
    let checked = Instant::now();
    let last = exporter.read_events(n as u64, 1, "").await?;
    let found = last.first().is_some_and(|e| {
        e.involved_object
            .as_ref()
            .is_some_and(|io| io.lookup == pb::Lookup::Found as i32 && !io.labels.is_empty())
    });
    if !found {
        return Err(BenchError::Invalid(format!(
            "memory scenario: the last event was not enriched ({:?})",
            last.first()
                .and_then(|e| e.involved_object.as_ref())
                .map(|io| io.lookup)
        )));
    }
    info!(
        secs = checked.elapsed().as_secs_f64(),
        "memory: enrichment verified"
    );
    exporter.proc.terminate(Duration::from_secs(30))?;
    sim.shutdown().await;
    ctx.add_rss_series("memory: exporter RSS (MiB)", &points);
    Ok(vec![
        Row::new(
            format!("exporter memory: {n} distinct involved objects, lookups on"),
            n as u64,
            wall,
            Some(cpu),
        )
        .peak_rss(Some(mem.peak))
        .target(Target::MaxPeakRssMib(TARGET_MIB), None)
        .note(format!(
            "cacheSize {n}; RSS after settling {:.1} MiB; {} lookups",
            mib(mem.rss),
            preload.objects
        )),
    ])
}
