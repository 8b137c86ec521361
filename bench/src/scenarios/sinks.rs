//! `sinks`: the `herald-ruler` process delivering to real peers, fed by the
//! synthetic source (every event routed to one receiver, the KEE event JSON):
//!
//! * `kafka` to tansu (a Kafka-compatible broker, in memory, one topic of 3
//!   partitions), `acks=all`: an event counts when its delivery report came;
//! * `syslog` to rsyslogd over TCP (RFC 5424, octet counting), written to a
//!   file by rsyslog.
//!
//! Rows: events/s from the first batch sent to the last acknowledgement, and
//! the ruler's CPU per event. The peers come from `HERALD_TANSU_BIN` and
//! `HERALD_RSYSLOGD_BIN` (`.ci/test` sets them); a missing one skips its row
//! with a warning.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use herald_proto::pb;
use tracing::{info, warn};

use super::{Ctx, timeout_for};
use crate::error::{BenchError, Result, io_err};
use crate::process::{Proc, RulerSpec, free_port, start_ruler};
use crate::report::Row;
use crate::source::Source;
use crate::workload;

/// Runs the rows whose peer is installed.
///
/// # Errors
/// A peer or the ruler fails.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    match std::env::var_os("HERALD_TANSU_BIN") {
        Some(bin) => rows.push(kafka(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_TANSU_BIN is not set: the kafka row is skipped"),
    }
    match std::env::var_os("HERALD_RSYSLOGD_BIN") {
        Some(bin) => rows.push(syslog(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_RSYSLOGD_BIN is not set: the syslog row is skipped"),
    }
    Ok(rows)
}

/// Waits until `port` on 127.0.0.1 accepts connections.
async fn wait_port(port: u16, what: &str, peer: &mut Proc) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        peer.check_alive()?;
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: what.to_owned(),
                secs: 30,
                log: Some(peer.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn config(receiver: &str) -> String {
    format!(
        "logLevel: warn\nclusterName: bench\nroute:\n  routes:\n    - match:\n        - receiver: sink\nreceivers:\n  - name: sink\n{receiver}ruler:\n  memberId: bench-sinks\n  credits: 1000\n  shutdownGrace: 5s\n"
    )
}

async fn kafka(ctx: &mut Ctx, tansu: &Path) -> Result<Row> {
    let work = ctx.dir("sinks-kafka")?;
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(tansu);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
        "--storage-engine",
        "memory://tansu/",
    ]);
    let mut broker = Proc::spawn("tansu", cmd, &work.join("tansu.log"))?;
    wait_port(port, "tansu to listen", &mut broker).await?;
    let created = Command::new(tansu)
        .args([
            "topic",
            "create",
            "events",
            "--partitions",
            "3",
            "--broker",
            &url,
        ])
        .output()
        .map_err(io_err("cannot run", tansu))?;
    if !created.status.success() {
        return Err(BenchError::Invalid(format!(
            "tansu topic create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        )));
    }
    let receiver = format!(
        "    kafka:\n      brokers: [\"127.0.0.1:{port}\"]\n      topic: events\n      clientId: bench\n"
    );
    let row = measure(
        ctx,
        &work,
        &config(&receiver),
        "ruler process → kafka (tansu, acks=all)",
    )
    .await;
    broker.terminate(Duration::from_secs(5))?;
    row
}

async fn syslog(ctx: &mut Ctx, rsyslogd: &Path) -> Result<Row> {
    let work = ctx.dir("sinks-syslog")?;
    let port = free_port()?;
    let d = work.display();
    let conf = format!(
        "global(workDirectory=\"{d}\")\nmodule(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"out\")\nruleset(name=\"out\") {{\n  action(type=\"omfile\" file=\"{d}/out.log\")\n}}\n"
    );
    let conf_path = work.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).map_err(io_err("cannot write", &conf_path))?;
    let mut cmd = Command::new(rsyslogd);
    cmd.arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(work.join("rsyslogd.pid"));
    let mut server = Proc::spawn("rsyslogd", cmd, &work.join("rsyslogd.log"))?;
    wait_port(port, "rsyslogd to listen", &mut server).await?;
    let receiver = format!(
        "    syslog:\n      network: tcp\n      address: \"127.0.0.1:{port}\"\n      tag: bench\n      format: rfc5424\n      framing: octet-counting\n"
    );
    let row = measure(
        ctx,
        &work,
        &config(&receiver),
        "ruler process → syslog (rsyslogd, TCP)",
    )
    .await;
    server.terminate(Duration::from_secs(5))?;
    row
}

/// Feeds the ruler until every event is acknowledged.
async fn measure(ctx: &mut Ctx, work: &Path, config: &str, label: &str) -> Result<Row> {
    let bins = ctx.binaries()?;
    let n = ctx.sizes.sinks;
    let events: Vec<pb::Event> = workload::domain_events(&ctx.samples, n)
        .into_iter()
        .map(pb::Event::from)
        .collect();
    let source = Source::start(events).await?;
    let mut ruler = start_ruler(&RulerSpec {
        bin: &bins.ruler,
        work,
        config: config.to_owned(),
        exporter: &source.url,
        dump: Path::new("/dev/null"),
        name: "ruler",
    })?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while source.first_sent().is_none() {
        ruler.check_alive()?;
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: "the ruler to subscribe".into(),
                secs: 60,
                log: Some(ruler.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cpu0 = ruler.cpu();
    let waited = source.wait_done(timeout_for(n, 500.0)).await;
    let cpu = ruler.cpu().saturating_sub(cpu0);
    let (first, done) = match waited {
        Ok(t) => t,
        Err(e) => {
            ruler.check_alive()?;
            return Err(e);
        }
    };
    let mem = ruler.memory();
    ruler.terminate(Duration::from_secs(10))?;
    info!(scenario = label, events = n, "sink measured");
    #[allow(clippy::cast_precision_loss)]
    let per_event_us = cpu.as_secs_f64() * 1e6 / n as f64;
    Ok(Row::new(label, n as u64, done - first, Some(cpu))
        .peak_rss(Some(mem.peak))
        .note(format!(
            "ruler CPU {per_event_us:.1} µs per event; acknowledged = delivered to the peer; 1,000 credits"
        )))
}
