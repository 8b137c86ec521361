//! `herald groups`: list, move and delete the exporter's consumer groups.
//!
//! Every receiver of the rulers reads the log through its own group,
//! `<ruler group>.<receiver>`, so `herald groups seek --receiver elasticsearch
//! --to 2026-12-01T08:00:00Z` replays to one receiver everything logged since then
//! (for example after its index was deleted) without touching the others.

use std::io::Write;

use herald_proto::pb;
use herald_proto::pb::start_position::Position;
use herald_ruler::lane;
use herald_ruler::upstream::{GrpcConnector, UpstreamConfig};

use crate::tail::From;

/// How to reach the exporter.
#[derive(Debug, Clone, clap::Args)]
pub struct ExporterArgs {
    /// Exporter gRPC URL.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "HERALD_EXPORTER"
    )]
    pub exporter: String,
    /// PEM CA bundle for https exporters.
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Bearer token (or set HERALD_TOKEN).
    #[arg(long, env = "HERALD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Which group.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct GroupArgs {
    /// The consumer group, by name.
    #[arg(long)]
    pub group: Option<String>,
    /// The group of this receiver of the rulers (see --ruler-group).
    #[arg(long)]
    pub receiver: Option<String>,
}

/// `herald groups` actions.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum GroupsCommand {
    /// Print every consumer group: committed offset, lag, members, idle time.
    List {
        /// The exporter.
        #[command(flatten)]
        exporter: ExporterArgs,
    },
    /// Move a group: every event from the new position on is delivered to it again.
    Seek {
        /// The exporter.
        #[command(flatten)]
        exporter: ExporterArgs,
        /// The group.
        #[command(flatten)]
        which: GroupArgs,
        /// The rulers' `ruler.group` setting (for --receiver).
        #[arg(long, default_value = "ruler")]
        ruler_group: String,
        /// earliest, latest, an offset (e.g. 1200) or an RFC 3339 time.
        #[arg(long)]
        to: From,
    },
    /// Delete a group that has no live member (e.g. a receiver removed from the config).
    Delete {
        /// The exporter.
        #[command(flatten)]
        exporter: ExporterArgs,
        /// The group.
        #[command(flatten)]
        which: GroupArgs,
        /// The rulers' `ruler.group` setting (for --receiver).
        #[arg(long, default_value = "ruler")]
        ruler_group: String,
    },
}

/// Errors of `herald groups`.
#[derive(Debug, thiserror::Error)]
pub enum GroupsError {
    /// The CA file or the URL cannot be used.
    #[error("{0}")]
    Connect(String),
    /// The exporter refused the call.
    #[error("exporter: {}", .0.message())]
    Status(#[from] tonic::Status),
    /// Writing the output failed.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs one `herald groups` action, printing to `out`.
///
/// # Errors
/// See [`GroupsError`].
pub async fn run(cmd: &GroupsCommand, out: &mut (dyn Write + Send)) -> Result<(), GroupsError> {
    match cmd {
        GroupsCommand::List { exporter } => {
            let status = connector(exporter)?.log_status().await?;
            writeln!(
                out,
                "{:<40} {:>10} {:>10} {:>9} {:>8}  MEMBERS",
                "GROUP", "COMMITTED", "LAG", "IN FLIGHT", "IDLE"
            )?;
            for g in status.groups {
                writeln!(
                    out,
                    "{:<40} {:>10} {:>10} {:>9} {:>7}s  {}",
                    g.name,
                    g.committed_offset,
                    g.lag,
                    g.in_flight,
                    g.idle_seconds,
                    g.members.join(",")
                )?;
            }
        }
        GroupsCommand::Seek {
            exporter,
            which,
            ruler_group,
            to,
        } => {
            let name = group_name(which, ruler_group);
            let position = match to {
                From::Earliest => Position::Earliest(pb::Earliest {}),
                From::Latest => Position::Latest(pb::Latest {}),
                From::Offset(o) => Position::Offset(*o),
                From::Time(t) => Position::Time(prost_types::Timestamp {
                    seconds: t.timestamp(),
                    nanos: 0,
                }),
            };
            let g = connector(exporter)?
                .seek_group(
                    &name,
                    pb::StartPosition {
                        position: Some(position),
                    },
                )
                .await?;
            writeln!(
                out,
                "group {} moved: next event {}, {} events to deliver",
                g.name,
                g.committed_offset + 1,
                g.lag
            )?;
        }
        GroupsCommand::Delete {
            exporter,
            which,
            ruler_group,
        } => {
            let name = group_name(which, ruler_group);
            let committed = connector(exporter)?.delete_group(&name).await?;
            writeln!(
                out,
                "group {name} deleted (it had committed offset {committed})"
            )?;
        }
    }
    Ok(())
}

fn group_name(which: &GroupArgs, ruler_group: &str) -> String {
    match (&which.group, &which.receiver) {
        (Some(g), _) => g.clone(),
        (None, Some(r)) => lane::group_name(ruler_group, r),
        // clap requires one of the two
        (None, None) => String::new(),
    }
}

fn connector(args: &ExporterArgs) -> Result<GrpcConnector, GroupsError> {
    let ca = match &args.ca_file {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| GroupsError::Connect(format!("cannot read {}: {e}", p.display())))?,
        ),
        None => None,
    };
    GrpcConnector::new(&UpstreamConfig {
        url: crate::tail::normalize_url(&args.exporter),
        ca,
        token: args.token.clone(),
        ..UpstreamConfig::default()
    })
    .map_err(|e| GroupsError::Connect(e.to_string()))
}
