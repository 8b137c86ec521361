//! `herald-bench`: runs herald's benchmark scenarios and prints a table.
//!
//! ```text
//! cargo run --release -p herald-bench -- [--smoke] [--only NAME[,NAME…]] [--json PATH]
//! cargo run --release -p herald-bench -- chaos [--seed N] [--secs N | --long] [--rate N]
//! ```
//!
//! Scenarios (see `scenarios`): `baseline`, `ruler`, `receivers`, `ingest`, `memory`,
//! `lookups`, `e2e`, `soak`, `dedup`.
//! The exporter and ruler binaries of the same cargo profile are built first (or taken
//! from `--bin-dir`). The table is printed as markdown on stdout and written as JSON
//! (default `<target dir>/bench/results.json`); progress goes to stderr.
//!
//! `chaos` (see [`chaos`]) runs every component under seeded faults and prints
//! herald's reliability figures; it exits 1 when an occurrence was lost.

mod binaries;
mod chaos;
mod error;
mod probe;
mod process;
mod procfs;
mod report;
mod scenarios;
mod source;
mod stats;
mod tail;
mod workload;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing::{error, info};

use crate::report::{Machine, Report, Row};
use crate::scenarios::{Ctx, NAMES, Sizes};

/// Runs herald's benchmark scenarios and prints the results as a markdown table.
#[derive(Debug, Parser)]
#[command(name = "herald-bench")]
struct Args {
    /// Tiny sizes: checks that every scenario works, in well under a minute.
    #[arg(long)]
    smoke: bool,
    /// Run only these scenarios (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where to write the JSON results (default: <target dir>/bench/results.json, or
    /// chaos.json next to it).
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Take herald-exporter and herald-ruler from this directory instead of building
    /// them next to this binary.
    #[arg(long, global = true)]
    bin_dir: Option<PathBuf>,
    /// Duration of the soak in seconds (default 600; 4 with --smoke).
    #[arg(long)]
    soak_secs: Option<u64>,
    /// Cap the soak's durable log at this many MiB (`retention.maxBytes`), so that it
    /// prunes all along (default: herald's 1 GiB, not reached in 10 minutes).
    #[arg(long)]
    soak_log_max_mib: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Runs exporters, rulers and receivers under seeded faults and prints the
    /// reliability verdict (exit code 1 on any loss).
    Chaos(ChaosArgs),
    /// The child process of scenario `dedup` (not for direct use).
    #[command(hide = true)]
    DedupSoak(DedupSoakArgs),
}

/// Options of the `dedup` scenario's child.
#[derive(Debug, clap::Args)]
struct DedupSoakArgs {
    #[arg(long, value_enum)]
    mode: scenarios::dedup::Mode,
    #[arg(long)]
    rate: u64,
    #[arg(long)]
    minutes: u64,
    #[arg(long)]
    dir: PathBuf,
}

/// Options of `chaos`.
#[derive(Debug, clap::Args)]
struct ChaosArgs {
    /// Seed of the story (faults and their moments) and of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds the workload writes while faults happen (default 120).
    #[arg(long, conflicts_with = "long")]
    secs: Option<u64>,
    /// The long mode: 1,800 seconds.
    #[arg(long)]
    long: bool,
    /// Event writes per second.
    #[arg(long, default_value_t = 40.0)]
    rate: f64,
    /// Longest wait for the receivers to catch up afterwards, in seconds.
    #[arg(long, default_value_t = 180)]
    settle_secs: u64,
    /// Also fail (exit 1) when a bound of the README does not hold (duplicates, a
    /// receiver held back by another).
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_BENCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut args = Args::parse();
    if matches!(args.command, Some(Command::DedupSoak(_))) {
        // measured as the exporter runs: one malloc arena, set before any thread starts
        let _ = herald_telemetry::malloc::limit_arenas();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let command = args.command.take();
        tokio::select! {
            code = async {
                match command {
                    Some(Command::Chaos(c)) => run_chaos(c, args.bin_dir, args.json).await,
                    Some(Command::DedupSoak(d)) => {
                        match scenarios::dedup::child(d.mode, d.rate, d.minutes, &d.dir).await {
                            Ok(()) => ExitCode::SUCCESS,
                            Err(e) => {
                                error!(error = %e, "dedup child failed");
                                ExitCode::FAILURE
                            }
                        }
                    }
                    None => run(args).await,
                }
            } => code,
            () = interrupted() => {
                // dropping the scenario stops (kills) the processes it started
                error!("interrupted: stopping the processes under test");
                ExitCode::from(130)
            }
        }
    });
    // generator and tailer threads of an interrupted scenario are not waited for
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "cannot watch SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r {
                error!(error = %e, "cannot watch SIGINT");
                std::future::pending::<()>().await;
            }
        }
        _ = term.recv() => {}
    }
}

async fn run(args: Args) -> ExitCode {
    let names: Vec<String> = if args.only.is_empty() {
        NAMES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.only.clone()
    };
    if let Some(bad) = names.iter().find(|n| !NAMES.contains(&n.as_str())) {
        error!(scenario = %bad, known = %NAMES.join(", "), "unknown scenario");
        return ExitCode::from(2);
    }
    let mut sizes = if args.smoke {
        Sizes::SMOKE
    } else {
        Sizes::FULL
    };
    if let Some(s) = args.soak_secs {
        sizes.soak = Duration::from_secs(s);
    }
    sizes.soak_log_max_mib = args.soak_log_max_mib;
    let samples = match workload::samples() {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "cannot load the benchmark fixtures");
            return ExitCode::FAILURE;
        }
    };
    let work = match tempfile::Builder::new().prefix("herald-bench-").tempdir() {
        Ok(w) => w,
        Err(e) => {
            error!(error = %e, "cannot create a scratch directory");
            return ExitCode::FAILURE;
        }
    };
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut ctx = Ctx::new(sizes, work.path(), samples, args.bin_dir.clone());
    let mut rows: Vec<Row> = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        info!(scenario = %name, "running");
        match scenarios::run(name, &mut ctx).await {
            Ok(r) => {
                for row in &r {
                    info!(scenario = %row.scenario, events = row.events, secs = format!("{:.2}", row.seconds), "measured");
                }
                rows.extend(r);
            }
            Err(e) => {
                error!(scenario = %name, error = %e, "scenario failed");
                failed.push(name.clone());
            }
        }
    }
    annotate_ratios(&mut rows);
    let report = Report {
        started_at,
        smoke: args.smoke,
        machine: Machine {
            cores: procfs::cores(),
            cpu_model: procfs::cpu_model(),
            profile: ctx
                .profile()
                .map_or_else(|| default_profile().to_owned(), str::to_owned),
        },
        rows,
        series: std::mem::take(&mut ctx.series),
    };
    let table = report.markdown();
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(table.as_bytes())
        .and_then(|()| stdout.flush())
    {
        error!(error = %e, "cannot print the table");
    }
    let json = args.json.unwrap_or_else(default_json_path);
    match report.write_json(&json) {
        Ok(()) => info!(path = %json.display(), "results written"),
        Err(e) => error!(error = %e, "cannot write the results"),
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        error!(scenarios = %failed.join(", "), "some scenarios failed");
        ExitCode::FAILURE
    }
}

async fn run_chaos(c: ChaosArgs, bin_dir: Option<PathBuf>, json: Option<PathBuf>) -> ExitCode {
    let opts = chaos::Options {
        seed: c.seed,
        duration: Duration::from_secs(c.secs.unwrap_or(if c.long { 1800 } else { 120 })),
        rate: c.rate,
        settle: Duration::from_secs(c.settle_secs),
        bin_dir,
    };
    let report = match chaos::run(&opts).await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "the chaos run could not be carried out");
            return ExitCode::from(2);
        }
    };
    let table = report.markdown();
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(table.as_bytes())
        .and_then(|()| stdout.flush())
    {
        error!(error = %e, "cannot print the verdict");
    }
    let json = json.unwrap_or_else(|| default_json_path().with_file_name("chaos.json"));
    match report.write_json(&json) {
        Ok(()) => info!(path = %json.display(), "verdict written"),
        Err(e) => error!(error = %e, "cannot write the verdict"),
    }
    if report.ok && (report.within_bounds || !c.strict) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The profile this harness was compiled with (used when no binary was built).
fn default_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// `<target dir>/bench/results.json`, next to the profile directory of this binary.
fn default_json_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let mut dir = exe.parent()?.to_path_buf();
            if dir.file_name().is_some_and(|n| n == "deps") {
                dir.pop();
            }
            Some(dir.parent()?.join("bench").join("results.json"))
        })
        .unwrap_or_else(|| PathBuf::from("target/bench/results.json"))
}

/// Adds the exporter's distance to the serde_json floor to the ingest rows.
fn annotate_ratios(rows: &mut [Row]) {
    let Some(floor) = rows
        .iter()
        .find(|r| r.scenario == scenarios::baseline::SERDE_ROW)
        .and_then(|r| r.events_per_cpu_sec)
    else {
        return;
    };
    for r in rows
        .iter_mut()
        .filter(|r| r.scenario.starts_with(scenarios::ingest::ROW_PREFIX))
    {
        if let Some(v) = r.events_per_cpu_sec {
            let pct = 100.0 * v / floor;
            r.notes
                .push_str(&format!("; {pct:.0}% of the serde_json floor"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ingest_rows_get_their_ratio_to_the_baseline() {
        let mut rows = vec![
            Row::new(
                scenarios::baseline::SERDE_ROW,
                100,
                Duration::from_secs(1),
                Some(Duration::from_secs(1)),
            ),
            Row::new(
                format!("{}: list", scenarios::ingest::ROW_PREFIX),
                25,
                Duration::from_secs(1),
                Some(Duration::from_secs(1)),
            ),
        ];
        annotate_ratios(&mut rows);
        assert!(
            rows[1].notes.ends_with("25% of the serde_json floor"),
            "{}",
            rows[1].notes
        );
        assert!(rows[0].notes.is_empty());
    }

    #[test]
    fn arguments_parse() {
        let a = Args::try_parse_from([
            "herald-bench",
            "--smoke",
            "--only",
            "ruler,e2e",
            "--json",
            "x.json",
        ])
        .unwrap();
        assert!(a.smoke);
        assert_eq!(a.only, ["ruler", "e2e"]);
        assert_eq!(a.json, Some(PathBuf::from("x.json")));
    }

    #[test]
    fn chaos_arguments_parse() {
        let a = Args::try_parse_from([
            "herald-bench",
            "chaos",
            "--seed",
            "7",
            "--long",
            "--bin-dir",
            "target/debug",
            "--json",
            "c.json",
        ])
        .unwrap();
        let Some(Command::Chaos(c)) = a.command else {
            panic!("no chaos command: {a:?}");
        };
        assert_eq!((c.seed, c.long, c.secs, c.rate), (7, true, None, 40.0));
        assert_eq!(a.bin_dir, Some(PathBuf::from("target/debug")));
        assert_eq!(a.json, Some(PathBuf::from("c.json")));
        assert!(
            Args::try_parse_from(["herald-bench", "chaos", "--long", "--secs", "5"]).is_err(),
            "--long and --secs conflict"
        );
    }
}
