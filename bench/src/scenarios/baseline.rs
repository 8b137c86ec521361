//! Scenario 5, the physical baseline: the watch stream the exporter decodes (synthetic
//! `ADDED` lines for every stored Event, as a real API server sends them), decoded on
//! one thread by serde_json alone, and then along herald's whole per-event decode path
//! (Value → domain Event → protobuf bytes). The exporter's ingest rate divided by the
//! first figure is its distance to the limit of this machine.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use herald_kubesim::scenario::{Scenario, ScenarioConfig};
use prost::Message as _;
use serde::Deserialize;
use tracing::info;

use super::{Ctx, start_sim};
use crate::error::{BenchError, Result};
use crate::procfs;
use crate::report::Row;

/// Scenario name of the serde_json row (used to compute ratios).
pub const SERDE_ROW: &str = "baseline: watch lines → serde_json::Value (1 thread)";

#[derive(Deserialize)]
struct RawLine {
    #[serde(rename = "type")]
    kind: String,
    object: serde_json::Value,
}

/// Runs the scenario.
///
/// # Errors
/// The simulator or the HTTP fetch fails.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let n = ctx.sizes.baseline_events;
    let sim = start_sim(None).await?;
    let preload = {
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = Scenario::new(ScenarioConfig {
                seed: 5,
                namespaces: 8,
                ..ScenarioConfig::default()
            });
            s.preload(&sim, n, (n / 4).max(1))
        })
        .await??
    };
    info!(
        events = n,
        secs = preload.elapsed.as_secs_f64(),
        "baseline: events preloaded"
    );
    let lines = fetch_watch(&sim.url(), n).await?;
    sim.shutdown().await;
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let lines = std::sync::Arc::new(lines);
    let serde_row = {
        let lines = lines.clone();
        tokio::task::spawn_blocking(move || measure(&lines, decode_value)).await??
    };
    let herald_row = {
        let lines = lines.clone();
        tokio::task::spawn_blocking(move || measure(&lines, decode_herald)).await??
    };
    #[allow(clippy::cast_precision_loss)] // display only
    let mb = bytes as f64 / 1e6;
    let (wall, cpu) = serde_row;
    let serde = Row::new(SERDE_ROW, n as u64, wall, Some(cpu)).note(format!(
        "{mb:.0} MB of watch lines, {:.0} MB/s",
        mb / wall.as_secs_f64().max(1e-9)
    ));
    let (wall, cpu) = herald_row;
    let herald = Row::new(
        "baseline: watch line → Event → protobuf (1 thread)",
        n as u64,
        wall,
        Some(cpu),
    )
    .note("the exporter's per-event decode and encode work, without I/O, dedup or the log");
    Ok(vec![serde, herald])
}

/// Reads `n` lines of a `resourceVersion=0` watch (the current state as ADDED lines).
async fn fetch_watch(base: &str, n: usize) -> Result<Vec<Vec<u8>>> {
    let url = format!("{base}/api/v1/events?watch=true&resourceVersion=0&timeoutSeconds=600");
    let resp = reqwest::get(&url).await?.error_for_status()?;
    let mut body = resp.bytes_stream();
    let mut lines = Vec::with_capacity(n);
    let mut partial: Vec<u8> = Vec::new();
    while lines.len() < n {
        let Some(chunk) = body.next().await else {
            return Err(BenchError::Invalid(format!(
                "the watch ended after {} of {n} lines",
                lines.len()
            )));
        };
        partial.extend_from_slice(&chunk?);
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
            lines.push(partial[start..start + i].to_vec());
            start += i + 1;
        }
        partial.drain(..start);
    }
    lines.truncate(n);
    Ok(lines)
}

fn decode_value(line: &[u8]) -> Result<usize> {
    let l: RawLine = serde_json::from_slice(line)?;
    Ok(l.kind.len() + usize::from(l.object.is_object()))
}

/// A watch line as the exporter reads it: the object stays raw for the Event parser.
#[derive(Deserialize)]
struct RawObjectLine {
    #[serde(rename = "type")]
    _kind: String,
    object: Box<serde_json::value::RawValue>,
}

fn decode_herald(line: &[u8]) -> Result<usize> {
    let l: RawObjectLine = serde_json::from_slice(line)?;
    let ev = herald_proto::kube_json::parse_kube_event(l.object.get().as_bytes())
        .map_err(|e| BenchError::Invalid(format!("watch line does not parse as an Event: {e}")))?;
    let pb = herald_proto::pb::Event::from(ev);
    Ok(pb.encode_to_vec().len())
}

/// Runs `f` over every line on the calling thread; returns wall and thread CPU time.
fn measure(lines: &[Vec<u8>], f: fn(&[u8]) -> Result<usize>) -> Result<(Duration, Duration)> {
    let started = Instant::now();
    let cpu0 = procfs::thread_cpu().unwrap_or_default();
    let mut sink = 0usize;
    for l in lines {
        sink = sink.wrapping_add(f(l)?);
    }
    let wall = started.elapsed();
    let cpu = procfs::thread_cpu()
        .unwrap_or_default()
        .saturating_sub(cpu0);
    std::hint::black_box(sink);
    // thread CPU has a 10 ms resolution; a CPU-bound loop's wall time is as good
    Ok((wall, if cpu.is_zero() { wall } else { cpu }))
}
