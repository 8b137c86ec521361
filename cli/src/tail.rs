//! `herald tail`: prints the exporter's event stream — and the worked example of a
//! third-party `herald.v1.EventLog` consumer.
//!
//! The whole protocol fits in [`run`] (through the ruler's subscribe client): open
//! `Subscribe`, send a `Hello` (group, start position, filter) and an initial `Credit`,
//! then for every `EventBatch` print the events and — for a durable group — send an
//! `Ack` plus one new `Credit` per event.
//! An ephemeral tail (no `--group`) needs no acks: the server forgets it on
//! disconnect. A `Closing` message means the exporter is going away.

use std::io::Write;

use chrono::{DateTime, Utc};
use herald_proto::pb;
use herald_proto::pb::start_position::Position;
use herald_ruler::subscription::{Connector, LinkError};
use herald_ruler::upstream::{GrpcConnector, UpstreamConfig};

/// How to print events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// One JSON document per line: `{"offset":…,"idempotencyKey":…,"observedAt":…,"event":{kubernetes-event-exporter JSON}}`.
    Json,
    /// A readable table.
    Table,
}

/// Where a new subscription starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// Oldest retained event.
    Earliest,
    /// Only new events.
    Latest,
    /// This offset.
    Offset(u64),
    /// First event observed at or after this time.
    Time(DateTime<Utc>),
}

impl std::str::FromStr for From {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "earliest" => Ok(From::Earliest),
            "latest" => Ok(From::Latest),
            _ => {
                let v = s
                    .strip_prefix("offset=")
                    .or_else(|| s.strip_prefix("offset:"))
                    .unwrap_or(s);
                if let Ok(o) = v.parse::<u64>() {
                    return Ok(From::Offset(o));
                }
                let v = s
                    .strip_prefix("time=")
                    .or_else(|| s.strip_prefix("time:"))
                    .unwrap_or(s);
                DateTime::parse_from_rfc3339(v)
                    .map(|t| From::Time(t.with_timezone(&Utc)))
                    .map_err(|_| format!("`{s}`: use earliest, latest, an offset (e.g. 1200) or an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"))
            }
        }
    }
}

/// `herald tail` options.
#[derive(Debug, Clone, clap::Args)]
pub struct TailArgs {
    /// Exporter gRPC URL.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "HERALD_EXPORTER"
    )]
    pub exporter: String,
    /// Only these namespaces (repeatable).
    #[arg(long = "namespace", short = 'n')]
    pub namespaces: Vec<String>,
    /// Only these types, e.g. Warning (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Only these reasons, e.g. BackOff (repeatable).
    #[arg(long = "reason")]
    pub reasons: Vec<String>,
    /// Only these involved-object kinds, e.g. Pod (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Where to start: earliest, latest, an offset or an RFC 3339 time. For a group,
    /// only used the first time (later runs continue from its committed offset).
    #[arg(long, default_value = "latest")]
    pub from: From,
    /// Durable consumer group: acknowledged events are not shown again.
    #[arg(long)]
    pub group: Option<String>,
    /// Member id within the group (default: tail-<pid>).
    #[arg(long)]
    pub member: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: Output,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<u64>,
    /// PEM CA bundle for https exporters.
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Bearer token (or set HERALD_TOKEN).
    #[arg(long, env = "HERALD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Accepts `host:port` as well as a URL: without a scheme, `http://` is meant.
pub fn normalize_url(exporter: &str) -> String {
    if exporter.contains("://") {
        exporter.to_owned()
    } else {
        format!("http://{exporter}")
    }
}

/// Errors of `herald tail`.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// Connecting failed.
    #[error("{0}")]
    Connect(String),
    /// The exporter refused or ended the stream.
    #[error("exporter: {0}")]
    Status(#[from] tonic::Status),
    /// Writing to stdout failed (e.g. a closed pipe).
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the tail, writing to `out`, until `limit` events, a `Closing` or the end of
/// the stream.
///
/// # Errors
/// See [`TailError`].
pub async fn run(args: &TailArgs, out: &mut (dyn Write + Send)) -> Result<u64, TailError> {
    // 1. connect (TLS and token handled like the ruler does)
    let ca = match &args.ca_file {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| TailError::Connect(format!("cannot read {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let cfg = UpstreamConfig {
        url: normalize_url(&args.exporter),
        ca,
        token: args.token.clone(),
        ..UpstreamConfig::default()
    };
    let connector = GrpcConnector::new(&cfg).map_err(|e| TailError::Connect(e.to_string()))?;

    // 2. hello + initial credit
    let start = match &args.from {
        From::Earliest => Position::Earliest(pb::Earliest {}),
        From::Latest => Position::Latest(pb::Latest {}),
        From::Offset(o) => Position::Offset(*o),
        From::Time(t) => Position::Time(prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: 0,
        }),
    };
    let window: u32 = 500;
    let hello = pb::Hello {
        group: args.group.clone().unwrap_or_default(),
        member_id: args
            .member
            .clone()
            .unwrap_or_else(|| format!("tail-{}", std::process::id())),
        start: Some(pb::StartPosition {
            position: Some(start),
        }),
        filter: Some(pb::Filter {
            namespaces: args.namespaces.clone(),
            types: args.types.clone(),
            reasons: args.reasons.clone(),
            kinds: args.kinds.clone(),
        }),
        max_batch_size: window,
        ..pb::Hello::default()
    };
    let (welcome, mut link) = connector.open(hello, window).await.map_err(|e| match e {
        LinkError::Status(s) => TailError::Status(s),
        other => TailError::Connect(format!("cannot connect to {}: {other}", args.exporter)),
    })?;
    tracing::debug!(group = %welcome.group, member = %welcome.member_id, start = welcome.start_offset, "subscribed");

    // 3. batches → print → ack + credit
    if args.output == Output::Table {
        writeln!(
            out,
            "{:<8} {:<20} {:<8} {:<22} {:<16} {:<40} {:>5}  MESSAGE",
            "OFFSET", "LAST SEEN", "TYPE", "REASON", "NAMESPACE", "OBJECT", "COUNT"
        )?;
    }
    let mut printed = 0u64;
    while let Some(batch) = link.next().await.map_err(|e| match e {
        LinkError::Status(s) => TailError::Status(s),
        other => TailError::Connect(other.to_string()),
    })? {
        let events = batch.decode_all().map_err(|e| {
            TailError::Status(tonic::Status::internal(format!(
                "an event of the batch does not decode: {e}"
            )))
        })?;
        let mut offsets = Vec::with_capacity(events.len());
        for ev in events {
            offsets.push(ev.offset);
            print_event(out, args.output, ev)?;
            printed += 1;
            if args.limit.is_some_and(|l| printed >= l) {
                break;
            }
        }
        out.flush()?;
        // a failed send means the stream is gone; the next message says why
        if args.group.is_some() {
            let _ = link.ack(offsets).await;
        } else {
            let _ = link
                .grant(u32::try_from(offsets.len()).unwrap_or(u32::MAX))
                .await;
        }
        if args.limit.is_some_and(|l| printed >= l) {
            // give the acks a moment to leave before the stream is dropped
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            break;
        }
    }
    Ok(printed)
}

fn print_event(out: &mut (dyn Write + Send), format: Output, ev: pb::Event) -> std::io::Result<()> {
    let offset = ev.offset;
    let key = ev.idempotency_key.clone();
    let ev = herald_proto::Event::from(ev);
    match format {
        Output::Json => {
            let mut body = Vec::with_capacity(1024);
            herald_sinks::kee_json(&ev, false, &mut body);
            let observed = ev
                .observed_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default();
            write!(
                out,
                "{{\"offset\":{offset},\"idempotencyKey\":{},\"observedAt\":{},\"event\":",
                serde_json::Value::from(key),
                serde_json::Value::from(observed)
            )?;
            out.write_all(&body)?;
            writeln!(out, "}}")
        }
        Output::Table => {
            let seen = ev
                .last_seen()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into());
            let object = format!("{}/{}", ev.involved_object.kind, ev.involved_object.name);
            let message: String = ev.message.replace('\n', " ").chars().take(100).collect();
            writeln!(
                out,
                "{:<8} {:<20} {:<8} {:<22} {:<16} {:<40} {:>5}  {}",
                offset,
                seen,
                ev.event_type,
                truncate(&ev.reason, 22),
                truncate(&ev.metadata.namespace, 16),
                truncate(&object, 40),
                ev.occurrence,
                message
            )
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parses_every_form() {
        assert_eq!("earliest".parse::<From>().unwrap(), From::Earliest);
        assert_eq!("latest".parse::<From>().unwrap(), From::Latest);
        assert_eq!("1200".parse::<From>().unwrap(), From::Offset(1200));
        assert_eq!("offset=7".parse::<From>().unwrap(), From::Offset(7));
        assert!(matches!(
            "2026-11-22T10:00:00Z".parse::<From>().unwrap(),
            From::Time(_)
        ));
        assert!(matches!(
            "time=2026-11-22T10:00:00+01:00".parse::<From>().unwrap(),
            From::Time(_)
        ));
        let err = "yesterday".parse::<From>().unwrap_err();
        assert!(err.contains("earliest"), "{err}");
    }

    #[test]
    fn truncation_marks_cut_text() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
