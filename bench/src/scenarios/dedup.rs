//! Scenario `dedup`: the exporter's occurrence memory over its whole retention, with
//! time compressed. A child process drives `herald_exporter::occurrences` against a
//! real durable store as ingest does (observe, remember, one commit per simulated
//! second, the commit fence), at 1,000 new Event objects per simulated second for
//! 3 h 20 min: 12 M objects, 10.8 M of them within the 3 h retention at the end. It
//! also re-observes older objects: 50/s with a new occurrence, 50/s without one (a
//! duplicate, which must be recognised whether the object is hot or in a cold run).
//!
//! It runs twice: `tiered` (the exporter's setting: a minute hot, runs cut every
//! minute; `HERALD_BENCH_DEDUP_HOT_SECS` tries another window) and `one map` (everything in the hash map, the design before the cold
//! runs). The child reports its own RSS at fixed simulated times; a wrong answer
//! (a new object taken for a duplicate, a duplicate taken for new) fails the scenario.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use herald_exporter::occurrences::{Occurrences, Tiering};
use herald_exporter::store::{AppendBatch, LoadedSeen, Store};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt as _;
use tracing::info;

use super::Ctx;
use crate::error::{BenchError, Result};
use crate::procfs::{self, mib};
use crate::report::{Row, Series, Target};

/// The retention the exporter uses by default.
const RETENTION: Duration = Duration::from_secs(3 * 3600);
/// Simulated seconds at which the child reports.
const CHECKPOINTS_MIN: &[u64] = &[5, 10, 20, 30, 60, 90, 120, 150, 180, 200];
/// Growth allowed over the second half of the first ten minutes, and over the last
/// twenty minutes (after the retention is full).
const GROWTH_MIB: f64 = 4.0;

/// How the child is asked to run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The exporter's setting.
    Tiered,
    /// Everything in one hash map.
    OneMap,
}

/// One report of the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Simulated minutes since the start.
    pub minute: u64,
    /// The child's RSS (bytes).
    pub rss: u64,
    /// Event objects remembered.
    pub remembered: u64,
    /// Entries in the hot map.
    pub hot: usize,
    /// Cold runs.
    pub runs: usize,
    /// Bytes of the runs' indexes.
    pub index_bytes: usize,
    /// Size of the database file.
    pub db_bytes: u64,
    /// Observations so far.
    pub observed: u64,
    /// CPU time so far (seconds).
    pub cpu_secs: f64,
    /// Blocks read from cold runs so far.
    pub block_reads: u64,
}

/// Runs the scenario: both modes, one child process each.
///
/// # Errors
/// A child fails or answers wrongly.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let (rate, minutes) = (ctx.sizes.dedup_rate, ctx.sizes.dedup_minutes);
    let mut rows = Vec::new();
    for mode in [Mode::Tiered, Mode::OneMap] {
        let work = ctx.dir(match mode {
            Mode::Tiered => "dedup-tiered",
            Mode::OneMap => "dedup-one-map",
        })?;
        let started = Instant::now();
        let points = run_child(mode, rate, minutes, &work).await?;
        let wall = started.elapsed();
        let last = points
            .last()
            .ok_or_else(|| BenchError::Invalid("dedup: the child reported nothing".into()))?;
        let name = match mode {
            Mode::Tiered => "tiered",
            Mode::OneMap => "one map",
        };
        ctx.series.push(Series {
            name: format!("dedup ({name}): RSS (MiB) by simulated second"),
            points: points
                .iter()
                .map(|p| (p.minute as f64 * 60.0, mib(p.rss)))
                .collect(),
        });
        let at = |m: u64| points.iter().find(|p| p.minute == m);
        let growth = |a: u64, b: u64| Some(mib(at(b)?.rss) - mib(at(a)?.rss));
        let early = growth(5, 10);
        let late = growth(180, 200);
        let peak = points.iter().map(|p| p.rss).max();
        let per_obs_us = last.cpu_secs * 1e6 / last.observed.max(1) as f64;
        let row = Row::new(
            format!("occurrence memory ({name}): {rate} new Event objects/s for {minutes} simulated min"),
            last.observed,
            wall,
            Some(Duration::from_secs_f64(last.cpu_secs)),
        )
        .peak_rss(peak)
        .target(
            Target::MaxRssGrowthMib(GROWTH_MIB),
            match (early, late) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        )
        .note(format!(
            "RSS 10 min {}, 3 h {}, end {:.1} MiB; growth 5→10 min {}, 3 h→3 h 20 {}; {} remembered ({} hot, {} runs, index {:.1} MiB); database {:.0} MiB; {per_obs_us:.2} CPU-µs per observation with its share of commits and runs; {} block reads",
            fmt_rss(at(10)),
            fmt_rss(at(180)),
            mib(last.rss),
            fmt_mib(early),
            fmt_mib(late),
            last.remembered,
            last.hot,
            last.runs,
            mib(last.index_bytes as u64),
            mib(last.db_bytes),
            last.block_reads,
        ));
        info!(mode = name, secs = wall.as_secs_f64(), "dedup: done");
        rows.push(row);
    }
    Ok(rows)
}

fn fmt_rss(p: Option<&Checkpoint>) -> String {
    p.map_or_else(|| "n/a".into(), |p| format!("{:.1}", mib(p.rss)))
}

fn fmt_mib(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:+.1} MiB"))
}

async fn run_child(mode: Mode, rate: u64, minutes: u64, work: &Path) -> Result<Vec<Checkpoint>> {
    let spawn_err = |source| BenchError::Spawn {
        program: "herald-bench dedup-soak".into(),
        source,
    };
    let exe = std::env::current_exe().map_err(spawn_err)?;
    let mode_arg = match mode {
        Mode::Tiered => "tiered",
        Mode::OneMap => "one-map",
    };
    let mut child = tokio::process::Command::new(exe)
        .args(["dedup-soak", "--mode", mode_arg])
        .args([
            "--rate",
            &rate.to_string(),
            "--minutes",
            &minutes.to_string(),
        ])
        .arg("--dir")
        .arg(work)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_err)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Invalid("dedup: no stdout".into()))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut points = Vec::new();
    while let Some(line) = lines.next_line().await.map_err(spawn_err)? {
        let p: Checkpoint = serde_json::from_str(&line)
            .map_err(|e| BenchError::Invalid(format!("dedup: child line {line:?}: {e}")))?;
        info!(
            minute = p.minute,
            rss_mib = format!("{:.1}", mib(p.rss)),
            hot = p.hot,
            runs = p.runs,
            "dedup: checkpoint"
        );
        points.push(p);
    }
    let status = child.wait().await.map_err(spawn_err)?;
    if !status.success() {
        return Err(BenchError::Invalid(format!(
            "dedup: the child failed ({status})"
        )));
    }
    Ok(points)
}

/// The child: drives the occurrence memory and prints a [`Checkpoint`] per line.
///
/// # Errors
/// The store fails, or the memory answers wrongly.
pub async fn child(mode: Mode, rate: u64, minutes: u64, dir: &Path) -> Result<()> {
    let store = Store::open(dir).map_err(|e| BenchError::Invalid(format!("dedup: {e}")))?;
    let tiering = match mode {
        Mode::Tiered => match std::env::var("HERALD_BENCH_DEDUP_HOT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            // for trying other hot windows by hand
            Some(secs) => Tiering {
                hot_for: Duration::from_secs(secs),
                demote_every: Duration::from_secs(secs),
            },
            None => Tiering::default(),
        },
        Mode::OneMap => Tiering {
            hot_for: RETENTION * 2,
            demote_every: RETENTION * 2,
        },
    };
    // a fixed origin keeps runs comparable
    let t0: u64 = 1_800_000_000_000;
    let retention_ms = RETENTION.as_millis() as u64;
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering, t0);
    let fence = mem.fence();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: u64| {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    };
    let uid = |object: u64| uuid_of(object);
    let mut observed = 0u64;
    let mut batch: Vec<(String, i32, u64)> = Vec::with_capacity(rate as usize * 11 / 10);
    let mut runs = 0;
    let mut checkpoints = CHECKPOINTS_MIN
        .iter()
        .copied()
        .filter(|m| *m <= minutes)
        .peekable();
    for second in 0..minutes * 60 {
        let base = t0 + second * 1000;
        for i in 0..rate {
            let now = mem.stamp(base + i * 1000 / rate);
            let object = second * rate + i;
            let u = uid(object);
            observed += 1;
            if !mem.is_new(&u, 1, now) {
                return Err(BenchError::Invalid(format!(
                    "dedup: new object {object} taken for a duplicate"
                )));
            }
            mem.insert(&u, 1, now);
            batch.push((u, 1, now));
            // re-observations of objects from 2 s to 60 min ago (within the retention)
            if i % 20 == 0 && second >= 2 {
                let back = 2 + next((second - 1).min(3600));
                let object = (second - back) * rate + next(rate);
                let u = uid(object);
                observed += 1;
                if mem.is_new(&u, 1, now) {
                    return Err(BenchError::Invalid(format!(
                        "dedup: object {object}, seen {back} s ago, taken for new"
                    )));
                }
                // a new occurrence: its count grows with its age
                let occurrence = i32::try_from(back * 10 + 1).unwrap_or(i32::MAX);
                observed += 1;
                if mem.is_new(&u, occurrence, now) {
                    mem.insert(&u, occurrence, now);
                    batch.push((u, occurrence, now));
                }
            }
            mem.maintain(now, retention_ms);
        }
        let n = batch.len();
        let stamp = batch.iter().map(|e| e.2).max().unwrap_or(0);
        store
            .append(AppendBatch {
                seen: std::mem::take(&mut batch),
                ..AppendBatch::default()
            })
            .map_err(|e| BenchError::Invalid(format!("dedup: {e}")))?;
        fence.committed(n, stamp);
        if mem.runs() != runs {
            // the exporter has a minute to write a run; here that is a few seconds
            mem.written().await;
            runs = mem.runs();
        }
        if second % 600 == 599 {
            // the exporter's housekeeping: records and runs past the retention
            let cutoff = (base + 1000).saturating_sub(retention_ms);
            store
                .expire_seen(cutoff)
                .map_err(|e| BenchError::Invalid(format!("dedup: {e}")))?;
        }
        if checkpoints.peek().is_some_and(|m| (second + 1) == m * 60) {
            let minute = checkpoints.next().unwrap_or_default();
            let pid = std::process::id();
            let p = Checkpoint {
                minute,
                rss: procfs::process_memory(pid).map_or(0, |m| m.rss),
                remembered: mem.len(),
                hot: mem.hot_len(),
                runs: mem.runs(),
                index_bytes: mem.cold_index_bytes(),
                db_bytes: std::fs::metadata(store.path()).map_or(0, |m| m.len()),
                observed,
                cpu_secs: procfs::process_cpu(pid).map_or(0.0, |d| d.as_secs_f64()),
                block_reads: mem.stats().block_reads,
            };
            let mut line = serde_json::to_string(&p).unwrap_or_default();
            line.push('\n');
            std::io::stdout()
                .write_all(line.as_bytes())
                .and_then(|()| std::io::stdout().flush())
                .map_err(|source| BenchError::Spawn {
                    program: "herald-bench dedup-soak (stdout)".into(),
                    source,
                })?;
        }
    }
    Ok(())
}

/// A UUID for object number `n`: random-looking, as the API server's are.
fn uuid_of(n: u64) -> String {
    let mix = |mut x: u64| {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let (a, b) = (mix(n), mix(n ^ 0xdead_beef_cafe_f00d));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
