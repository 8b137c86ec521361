//! Scenario 3, end-to-end: simulator → `herald-exporter` (lookups on) → 1 or 2
//! `herald-ruler` processes (the 23-rule tree; `dump` writes KEE JSON to a file, the
//! other receivers render their layouts to `/dev/null`).
//!
//! * burst: events are written to the simulator as fast as it takes them; throughput
//!   from the first write to the last line in the dump files;
//! * latency: events written at 1,000/s; latency = line seen in a dump file − event
//!   created at the simulator (the file sink syncs each batch to disk).
//!
//! [`Pipeline`] is shared with the soak scenario.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_kubesim::Simulator;
use tracing::info;

use super::{Ctx, kubeconfig, start_sim, timeout_for};
use crate::error::{BenchError, Result};
use crate::probe::{Probe, watch_latencies};
use crate::process::{Exporter, ExporterSpec, Proc, RulerSpec, start_ruler};
use crate::report::{Row, Target};
use crate::stats::Latencies;
use crate::tail::{Stamps, Tailed, tail};
use crate::workload::{self, ExporterSettings, Receivers, Sample};

/// The latency promise (ms).
const TARGET_P99_MS: f64 = 50.0;

/// Runs the scenario with 1 and then 2 rulers.
///
/// # Errors
/// A process fails or events are lost.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for rulers in [1, 2] {
        let mut p = Pipeline::start(ctx, &format!("e2e-{rulers}"), rulers, None, None).await?;
        let plural = if rulers == 1 { "ruler" } else { "rulers" };
        let burst = p
            .drive(
                &ctx.samples,
                &format!("burst-{rulers}-"),
                ctx.sizes.e2e_burst,
                None,
            )
            .await?;
        rows.push(burst.row(
            format!("e2e burst: exporter + {rulers} {plural} → file"),
            &p,
        ));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (ctx.sizes.e2e_rate * ctx.sizes.e2e_latency.as_secs_f64()) as usize;
        let paced = p
            .drive(
                &ctx.samples,
                &format!("paced-{rulers}-"),
                n,
                Some(ctx.sizes.e2e_rate),
            )
            .await?;
        rows.push(
            paced
                .row(
                    format!(
                        "e2e latency @{} ev/s: exporter + {rulers} {plural} → file",
                        ctx.sizes.e2e_rate
                    ),
                    &p,
                )
                .target(Target::MaxP99Ms(TARGET_P99_MS), None),
        );
        p.stop().await?;
    }
    Ok(rows)
}

/// A running simulator → exporter → rulers pipeline.
#[derive(Debug)]
pub struct Pipeline {
    sim: Simulator,
    /// The exporter.
    pub exporter: Exporter,
    /// The rulers.
    pub rulers: Vec<Proc>,
    /// The exporter's data directory (its durable log).
    pub data_dir: PathBuf,
    dumps: Vec<PathBuf>,
}

/// One drive of events through a [`Pipeline`].
#[derive(Debug)]
pub struct Drive {
    /// Events written.
    pub written: usize,
    /// What the dump files showed.
    pub tailed: Tailed,
    /// First write → last new line.
    pub wall: Duration,
    /// How long writing took.
    pub write_time: Duration,
    /// CPU used by the exporter.
    pub exporter_cpu: Duration,
    /// CPU used by all rulers.
    pub rulers_cpu: Duration,
    /// Created at the simulator → served by the exporter (paced drives only).
    pub exporter_latency: Option<Latencies>,
    /// Created at the simulator → watch line received by a plain HTTP client (paced
    /// drives only): the simulator's and the network's share.
    pub watch_latency: Option<Latencies>,
}

impl Drive {
    /// The table row.
    pub fn row(&self, scenario: String, p: &Pipeline) -> Row {
        let t = &self.tailed;
        let exporter_peak = p.exporter.proc.memory().peak;
        let ruler_peak = p.rulers.iter().map(|r| r.memory().peak).max().unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        let write_rate = self.written as f64 / self.write_time.as_secs_f64().max(1e-9);
        let mut row = Row::new(
            scenario,
            t.delivered as u64,
            self.wall,
            Some(self.exporter_cpu + self.rulers_cpu),
        )
        .latency(t.latencies.percentile(50.0), t.latencies.percentile(99.0))
        .peak_rss(Some(exporter_peak.max(ruler_peak)))
        .note(format!(
            "CPU-s exporter {:.2} + rulers {:.2}; peak RSS exporter {:.1} / ruler {:.1} MiB; written at {write_rate:.0}/s",
            self.exporter_cpu.as_secs_f64(),
            self.rulers_cpu.as_secs_f64(),
            crate::procfs::mib(exporter_peak),
            crate::procfs::mib(ruler_peak),
        ));
        if t.delivered < self.written {
            row = row.note(format!("MISSING {} events", self.written - t.delivered));
        }
        let ms = |l: &Latencies, p: f64| l.percentile(p).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        if let Some(l) = &self.watch_latency {
            row = row.note(format!(
                "created → watch line at a plain client p50 {:.1} / p99 {:.1} ms",
                ms(l, 50.0),
                ms(l, 99.0)
            ));
        }
        if let Some(l) = &self.exporter_latency {
            row = row.note(format!(
                "created → served by the exporter p50 {:.1} / p99 {:.1} ms",
                ms(l, 50.0),
                ms(l, 99.0)
            ));
        }
        if t.duplicates > 0 {
            row = row.note(format!("{} duplicate lines", t.duplicates));
        }
        row
    }
}

impl Pipeline {
    /// Starts the simulator (with `ttl`, see [`start_sim`]), the sample objects, the
    /// exporter (its log capped at `log_max_bytes` when given) and `rulers` rulers, and
    /// checks that an event goes through.
    ///
    /// # Errors
    /// A process fails to start or nothing goes through.
    pub async fn start(
        ctx: &mut Ctx,
        name: &str,
        rulers: usize,
        ttl: Option<Duration>,
        log_max_bytes: Option<u64>,
    ) -> Result<Pipeline> {
        let bins = ctx.binaries()?;
        let work = ctx.dir(name)?;
        let sim = start_sim(ttl).await?;
        workload::install_objects(&sim, &ctx.samples)?;
        let kubeconfig = kubeconfig(&sim, &work)?;
        let mut exporter = Exporter::start(&ExporterSpec {
            bin: &bins.exporter,
            work: &work,
            kubeconfig: &kubeconfig,
            data_dir: &work.join("data"),
            config: workload::exporter_config(ExporterSettings {
                lookups: true,
                cache_size: 1024,
                log_max_bytes,
            }),
            name: "exporter",
        })?;
        // the exporter is watching once its log answers (the simulator holds no events)
        exporter.wait_logged(0, Duration::from_secs(60)).await?;
        let mut procs = Vec::new();
        let mut dumps = Vec::new();
        for i in 0..rulers {
            let dump = work.join(format!("dump-{i}.log"));
            procs.push(start_ruler(&RulerSpec {
                bin: &bins.ruler,
                work: &work,
                config: workload::ruler_config(Receivers::Files, &format!("ruler-{i}"), 1000),
                exporter: &exporter.grpc_url,
                dump: &dump,
                name: &format!("ruler-{i}"),
            })?);
            dumps.push(dump);
        }
        let mut p = Pipeline {
            sim,
            exporter,
            rulers: procs,
            data_dir: work.join("data"),
            dumps,
        };
        p.wait_members(rulers).await?;
        // one event per sample through everything: lookups cached, files open
        let warm = p
            .drive(&ctx.samples, "warmup-", ctx.samples.len(), None)
            .await?;
        if warm.tailed.delivered < warm.written {
            return Err(BenchError::Invalid(format!(
                "{name}: only {} of {} warm-up events reached the dump files",
                warm.tailed.delivered, warm.written
            )));
        }
        info!(pipeline = name, rulers, "pipeline ready");
        Ok(p)
    }

    async fn wait_members(&mut self, n: usize) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for r in &mut self.rulers {
                r.check_alive()?;
            }
            let members = self
                .exporter
                .status()
                .await?
                // every receiver has its own group `ruler.<receiver>`; each ruler joins all
                .map_or(0, |s| {
                    s.groups
                        .iter()
                        .filter(|g| g.name.starts_with("ruler."))
                        .map(|g| g.members.len())
                        .min()
                        .unwrap_or(0)
                });
            if members >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: format!("{n} rulers to join (have {members})"),
                    secs: 60,
                    log: self.rulers.first().map(Proc::log_tail),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// CPU used so far by the exporter and by all rulers.
    pub fn cpu(&self) -> (Duration, Duration) {
        (
            self.exporter.proc.cpu(),
            self.rulers.iter().map(Proc::cpu).sum(),
        )
    }

    /// Writes `n` events named `<prefix><seq>` (at `rate` per second, or as fast as
    /// possible) and follows the dump files until all arrived or a timeout.
    ///
    /// # Errors
    /// The simulator rejects a write or a process exits.
    pub async fn drive(
        &mut self,
        samples: &[Sample],
        prefix: &str,
        n: usize,
        rate: Option<f64>,
    ) -> Result<Drive> {
        let stamps = Arc::new(Stamps::new(n));
        let stop = Arc::new(AtomicBool::new(false));
        let timeout = match rate {
            Some(r) => timeout_for(n, r),
            None => timeout_for(n, 500.0),
        };
        let tailer = {
            let (files, stamps, stop, prefix) = (
                self.dumps.clone(),
                stamps.clone(),
                stop.clone(),
                prefix.to_owned(),
            );
            tokio::task::spawn_blocking(move || tail(files, &prefix, &stamps, n, &stop, timeout))
        };
        // where the latency goes: the exporter's share, for paced drives (a burst's
        // latency is queueing)
        let probe = match rate {
            Some(_) => {
                let p = Probe::start(&self.exporter.grpc_url).await?;
                Some(tokio::spawn(p.collect(
                    prefix.to_owned(),
                    stamps.clone(),
                    n,
                    timeout,
                )))
            }
            None => None,
        };
        let watch = match rate {
            Some(_) => Some(tokio::spawn(watch_latencies(
                self.sim.url(),
                self.sim.resource_version(),
                prefix.to_owned(),
                stamps.clone(),
                n,
                timeout,
            ))),
            None => None,
        };
        let (e0, r0) = self.cpu();
        let writer = {
            let (sim, stamps, samples, prefix) = (
                self.sim.clone(),
                stamps.clone(),
                samples.to_vec(),
                prefix.to_owned(),
            );
            tokio::task::spawn_blocking(move || {
                write_events(&sim, &samples, &prefix, n, rate, &stamps)
            })
        };
        let write_result = writer.await?;
        if write_result.is_err() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let write_time = write_result?;
        let tailed = tailer.await?;
        let (e1, r1) = self.cpu();
        let exporter_latency = match probe {
            Some(p) => Some(p.await?),
            None => None,
        };
        let watch_latency = match watch {
            Some(w) => Some(w.await??),
            None => None,
        };
        self.exporter.proc.check_alive()?;
        for r in &mut self.rulers {
            r.check_alive()?;
        }
        let first = stamps.created(0).unwrap_or_else(Instant::now);
        let wall = tailed
            .last_seen
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(first));
        Ok(Drive {
            written: n,
            tailed,
            wall,
            write_time,
            exporter_cpu: e1.saturating_sub(e0),
            rulers_cpu: r1.saturating_sub(r0),
            exporter_latency,
            watch_latency,
        })
    }

    /// Stops the rulers, then the exporter, then the simulator.
    ///
    /// # Errors
    /// `kill` cannot run.
    pub async fn stop(mut self) -> Result<()> {
        for r in &mut self.rulers {
            r.terminate(Duration::from_secs(15))?;
        }
        self.exporter.proc.terminate(Duration::from_secs(15))?;
        self.sim.shutdown().await;
        Ok(())
    }
}

/// Writes the events, pacing them when `rate` is set; returns how long it took.
fn write_events(
    sim: &Simulator,
    samples: &[Sample],
    prefix: &str,
    n: usize,
    rate: Option<f64>,
    stamps: &Stamps,
) -> Result<Duration> {
    let started = Instant::now();
    match rate {
        None => {
            // build first, so the simulator is written as fast as it can take it
            let events = (0..n)
                .map(|seq| workload::sim_event(samples, seq, &format!("{prefix}{seq}"), Utc::now()))
                .collect::<Result<Vec<_>>>()?;
            let started = Instant::now();
            for (seq, e) in events.into_iter().enumerate() {
                stamps.mark(seq);
                sim.create_typed_event(e)?;
            }
            Ok(started.elapsed())
        }
        Some(rate) => {
            let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
            for seq in 0..n {
                let e = workload::sim_event(samples, seq, &format!("{prefix}{seq}"), Utc::now())?;
                #[allow(clippy::cast_possible_truncation)] // n is far below u32::MAX
                let due = started + every * seq as u32;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                stamps.mark(seq);
                sim.create_typed_event(e)?;
            }
            Ok(started.elapsed())
        }
    }
}
