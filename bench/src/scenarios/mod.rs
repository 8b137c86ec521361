//! The scenarios. Each one returns its table rows; process scenarios start their own
//! simulator and processes and stop them before returning.
//!
//! | name | measures |
//! |---|---|
//! | `ingest` | exporter process: 200k-event list, then a fast watch stream, into the durable log; warm and cold restart |
//! | `ruler` | route tree and layouts in-process (one thread), and the ruler process fed by a synthetic gRPC source |
//! | `e2e` | simulator → exporter → 1 and 2 rulers → file sink: burst throughput and latency at 1,000 events/s |
//! | `memory` | exporter RSS with 100k distinct involved objects looked up and cached |
//! | `lookups` | exporter with lookups on at KEE's default API budget (5 QPS) while pods come and go: lag, requests, enrichment |
//! | `baseline` | decoding the same watch stream with serde_json alone (the physical floor) |
//! | `receivers` | the ruler process delivering to Elasticsearch (`_bulk` into osmem-server), Loki (push to a fake), Kafka (tansu), syslog (rsyslogd) |
//! | `soak` | end-to-end at 1,000 events/s for 10 minutes: ruler RSS over time |
//! | `dedup` | the exporter's occurrence memory over its whole 3 h retention at 1,000 new Event objects/s, time compressed: RSS over time |

pub mod baseline;
pub mod dedup;
pub mod e2e;
pub mod ingest;
pub mod lookups;
pub mod memory;
pub mod receivers;
pub mod ruler;
pub mod soak;

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator};

use crate::binaries::{self, Binaries};
use crate::error::Result;
use crate::report::{Row, Series};
use crate::stats::RssPoint;
use crate::workload::Sample;

/// Scenario names, in the order a full run executes them.
pub const NAMES: &[&str] = &[
    "baseline",
    "ruler",
    "receivers",
    "ingest",
    "memory",
    "lookups",
    "e2e",
    "soak",
    "dedup",
];

/// Problem sizes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Events in the API before the exporter starts.
    pub ingest_list: usize,
    /// Events created while the exporter watches.
    pub ingest_watch: usize,
    /// Events routed in-process.
    pub ruler_inproc: usize,
    /// Events fed to the ruler process.
    pub ruler_process: usize,
    /// Events delivered per network receiver row.
    pub receivers_events: usize,
    /// Events of the end-to-end burst.
    pub e2e_burst: usize,
    /// Events per second of the end-to-end latency runs and the soak.
    pub e2e_rate: f64,
    /// Duration of each end-to-end latency run.
    pub e2e_latency: Duration,
    /// Distinct involved objects of the memory scenario.
    pub memory_objects: usize,
    /// Pod churn of the lookups scenario: steady phase, downtime, after the restart.
    pub lookups_churn: Duration,
    /// See `lookups_churn`.
    pub lookups_down: Duration,
    /// See `lookups_churn`.
    pub lookups_after: Duration,
    /// Events decoded by the baseline.
    pub baseline_events: usize,
    /// Duration of the soak.
    pub soak: Duration,
    /// The soak's `exporter.retention.maxBytes` in MiB (`None`: herald's default,
    /// 1 GiB, which 10 minutes at 1,000 events/s do not reach). A small cap keeps the
    /// log pruning all along, as a receiver down for a day does.
    pub soak_log_max_mib: Option<u64>,
    /// New Event objects per simulated second of the `dedup` scenario.
    pub dedup_rate: u64,
    /// Simulated minutes of the `dedup` scenario.
    pub dedup_minutes: u64,
    /// RSS sampling interval.
    pub sample_every: Duration,
    /// Whether the ruler row with a hook per receiver runs (it needs a build of
    /// `herald-ruler` with the `hooks` feature, a few minutes; the smoke run skips
    /// it).
    pub hook_row: bool,
}

impl Sizes {
    /// The sizes of the issue.
    pub const FULL: Sizes = Sizes {
        ingest_list: 200_000,
        ingest_watch: 100_000,
        ruler_inproc: 200_000,
        ruler_process: 300_000,
        receivers_events: 100_000,
        e2e_burst: 50_000,
        e2e_rate: 1000.0,
        e2e_latency: Duration::from_secs(60),
        memory_objects: 100_000,
        lookups_churn: Duration::from_secs(60),
        lookups_down: Duration::from_secs(10),
        lookups_after: Duration::from_secs(30),
        baseline_events: 200_000,
        soak: Duration::from_secs(600),
        soak_log_max_mib: None,
        dedup_rate: 1_000,
        dedup_minutes: 200,
        sample_every: Duration::from_secs(1),
        hook_row: true,
    };

    /// Tiny sizes that exercise every code path in seconds.
    pub const SMOKE: Sizes = Sizes {
        ingest_list: 2_000,
        ingest_watch: 1_000,
        ruler_inproc: 5_000,
        ruler_process: 5_000,
        receivers_events: 2_000,
        e2e_burst: 1_000,
        e2e_rate: 500.0,
        e2e_latency: Duration::from_secs(2),
        memory_objects: 1_000,
        lookups_churn: Duration::from_secs(3),
        lookups_down: Duration::from_secs(1),
        lookups_after: Duration::from_secs(3),
        baseline_events: 2_000,
        soak: Duration::from_secs(4),
        soak_log_max_mib: None,
        dedup_rate: 50,
        dedup_minutes: 12,
        sample_every: Duration::from_millis(100),
        hook_row: false,
    };
}

/// Everything scenarios share.
#[derive(Debug)]
pub struct Ctx {
    /// Problem sizes.
    pub sizes: Sizes,
    /// Scratch directory (configs, logs, durable logs, sink files).
    pub work: PathBuf,
    /// Sample events.
    pub samples: Vec<Sample>,
    /// Where binaries are (None: build next to the harness).
    pub bin_dir: Option<PathBuf>,
    binaries: Option<Binaries>,
    /// Time series collected along the way.
    pub series: Vec<Series>,
}

impl Ctx {
    /// A context writing under `work`.
    pub fn new(sizes: Sizes, work: &Path, samples: Vec<Sample>, bin_dir: Option<PathBuf>) -> Ctx {
        Ctx {
            sizes,
            work: work.to_path_buf(),
            samples,
            bin_dir,
            binaries: None,
            series: Vec::new(),
        }
    }

    /// The binaries under test (built on first use).
    ///
    /// # Errors
    /// They cannot be built or found.
    pub fn binaries(&mut self) -> Result<Binaries> {
        if let Some(b) = &self.binaries {
            return Ok(b.clone());
        }
        let dir = self.bin_dir.clone();
        let b = binaries::prepare(dir.as_deref())?;
        self.binaries = Some(b.clone());
        Ok(b)
    }

    /// `herald-ruler` built with the `hooks` feature (built on first use, into a
    /// target directory of its own, or `hooks/herald-ruler` under `--bin-dir`).
    ///
    /// # Errors
    /// Cargo fails, or the binary is missing.
    pub fn hooks_ruler(&mut self) -> Result<PathBuf> {
        let profile = self.binaries()?.profile;
        binaries::prepare_hooks_ruler(self.bin_dir.as_deref(), &profile)
    }

    /// The profile of the binaries, once known.
    pub fn profile(&self) -> Option<&str> {
        self.binaries.as_ref().map(|b| b.profile.as_str())
    }

    /// A fresh subdirectory of the scratch directory.
    ///
    /// # Errors
    /// It cannot be created.
    pub fn dir(&self, name: &str) -> Result<PathBuf> {
        let d = self.work.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(crate::error::io_err("cannot clear", &d))?;
        }
        std::fs::create_dir_all(&d).map_err(crate::error::io_err("cannot create", &d))?;
        Ok(d)
    }

    /// Records RSS samples as a series (at most 200 points).
    pub fn add_rss_series(&mut self, name: &str, points: &[RssPoint]) {
        let step = points.len().div_ceil(200).max(1);
        self.series.push(Series {
            name: name.to_owned(),
            points: points
                .iter()
                .step_by(step)
                .map(|p| (p.at.as_secs_f64(), crate::procfs::mib(p.rss)))
                .collect(),
        });
    }
}

/// Runs scenario `name`.
///
/// # Errors
/// The scenario could not run (not: it missed its target).
pub async fn run(name: &str, ctx: &mut Ctx) -> Result<Vec<Row>> {
    match name {
        "ingest" => ingest::run(ctx).await,
        "ruler" => ruler::run(ctx).await,
        "receivers" => receivers::run(ctx).await,
        "e2e" => e2e::run(ctx).await,
        "memory" => memory::run(ctx).await,
        "lookups" => lookups::run(ctx).await,
        "baseline" => baseline::run(ctx).await,
        "soak" => soak::run(ctx).await,
        "dedup" => dedup::run(ctx).await,
        other => Err(crate::error::BenchError::Invalid(format!(
            "unknown scenario `{other}`; known: {}",
            NAMES.join(", ")
        ))),
    }
}

/// Starts a simulator; `ttl` deletes events not written for that long (the API
/// server's event TTL), keeping long runs bounded.
///
/// # Errors
/// It cannot bind.
pub async fn start_sim(ttl: Option<Duration>) -> Result<Simulator> {
    Ok(Simulator::start(SimConfig {
        event_ttl: ttl,
        request_log_limit: 100,
        ..SimConfig::default()
    })
    .await?)
}

/// Writes an anonymous kubeconfig for `sim` into `dir`.
///
/// # Errors
/// It cannot be written.
pub fn kubeconfig(sim: &Simulator, dir: &Path) -> Result<PathBuf> {
    let p = dir.join("kubeconfig");
    sim.write_kubeconfig(&p, KubeconfigAuth::Anonymous)?;
    Ok(p)
}

/// A generous timeout for processing `n` events at no less than `min_rate` per second.
pub fn timeout_for(n: usize, min_rate: f64) -> Duration {
    #[allow(clippy::cast_precision_loss)] // n is far below 2^52
    let secs = n as f64 / min_rate;
    Duration::from_secs_f64(secs.max(0.0) + 60.0)
}
