//! `herald`: the command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_cli::{check, combined, demo, groups, simulate, tail};
use herald_telemetry::process::{normalize_go_flags, shutdown_signal};

/// herald exports Kubernetes Events to where operators look, without losing or
/// duplicating them.
#[derive(Debug, Parser)]
#[command(name = "herald", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run exporter and ruler in one process (small clusters).
    Run(combined::RunArgs),
    /// Show herald working against a built-in simulated cluster.
    Demo(demo::DemoArgs),
    /// Print the exporter's event stream (the worked example of a gRPC consumer).
    Tail(tail::TailArgs),
    /// List, move (replay to one receiver) or delete the exporter's consumer groups.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Check a configuration file and print every problem (exit code 78 on errors).
    CheckConfig {
        /// Treat every warning as an error (for CI pipelines).
        #[arg(long)]
        strict: bool,
        /// The configuration file.
        file: PathBuf,
    },
    /// Check a kube-events `Rule` object file (exit code 78 on errors).
    CheckRule {
        /// The Rule object (YAML).
        file: PathBuf,
    },
    /// Show which receivers events reach, by which rule, and what each would be sent
    /// (offline: no lookups; exit 78 for config errors, 65 for a bad event file).
    Route {
        /// The configuration file.
        file: PathBuf,
        /// Kubernetes Events as JSON: one (`kubectl get event X -o json`), a list
        /// (`kubectl get events -o json`) or an array.
        #[arg(long)]
        event: PathBuf,
    },
    /// Run the built-in simulated Kubernetes API with a demo scenario.
    Simulate(simulate::SimulateArgs),
}

const EXIT_CONFIG: u8 = 78;
/// Exit code for an input file that is not what the command reads (EX_DATAERR).
const EXIT_DATA: u8 = 65;

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_go_flags(std::env::args()));
    match cli.command {
        Command::CheckConfig { file, strict } => {
            let mut out = std::io::stdout().lock();
            match check::check_config(&file, strict, &mut out) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(EXIT_CONFIG),
                Err(_) => ExitCode::FAILURE,
            }
        }
        Command::CheckRule { file } => {
            let mut out = std::io::stdout().lock();
            match check::check_rule(&file, &mut out) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(EXIT_CONFIG),
                Err(e) => {
                    eprintln!("herald check-rule: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Route { file, event } => {
            let mut out = std::io::stdout().lock();
            match check::route(&file, &event, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("herald route: {e}");
                    match e {
                        check::RouteError::Config(_) => ExitCode::from(EXIT_CONFIG),
                        check::RouteError::Input(_) => ExitCode::from(EXIT_DATA),
                        check::RouteError::Output(_) => ExitCode::FAILURE,
                    }
                }
            }
        }
        other => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(run_async(other)),
            Err(e) => {
                eprintln!("herald: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run_async(command: Command) -> ExitCode {
    let result = match command {
        Command::Run(args) => match check::load(&args.config) {
            Ok((loaded, plan)) => {
                let traces = match herald_telemetry::logging::init_with_traces(
                    loaded.config.log_level.as_str(),
                    loaded.config.log_format.as_str(),
                    "herald",
                ) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("herald run: {e}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                };
                loaded.diagnostics.log();
                let result = combined::run(loaded, plan, &args, shutdown_signal()).await;
                if let Some(t) = traces {
                    t.shutdown().await;
                }
                result
            }
            Err(rendered) => {
                eprintln!("herald run: invalid configuration:\n{rendered}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        Command::Demo(args) => demo::run(&args, shutdown_signal()).await,
        Command::Tail(args) => {
            let _ = herald_telemetry::logging::init("warn", "");
            let mut out = std::io::stdout();
            tail::run(&args, &mut out)
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
        Command::Groups(cmd) => {
            let _ = herald_telemetry::logging::init("warn", "");
            let mut out = std::io::stdout();
            groups::run(&cmd, &mut out).await.map_err(Into::into)
        }
        Command::Simulate(args) => {
            let _ = herald_telemetry::logging::init("info", "");
            simulate::run(&args, shutdown_signal()).await
        }
        Command::CheckConfig { .. } | Command::CheckRule { .. } | Command::Route { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}
