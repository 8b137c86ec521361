//! Scenario 2, the ruler alone.
//!
//! * in-process, one thread: the compiled 23-rule route tree over a stream of events
//!   (route only), then route + `event_value` + every selected receiver's layout
//!   rendered into a buffer (route + render) — what the ruler does per event before
//!   any sink I/O;
//! * in-process, one thread: 100 kube-events rules (kube-events' default set plus
//!   three using herald's label, regex and array paths) over the same events, as a
//!   receiver's lane evaluates them: the rules the event's reason allows
//!   ([`herald_rules::RuleIndex`]), the event's JSON view built when one is tested,
//!   every candidate evaluated (no early stop) and the alert of each matching alert
//!   rule built;
//! * the `herald-ruler` process fed by a synthetic gRPC exporter ([`Source`]): with
//!   `inMemory` receivers (route only, nothing rendered) and with file receivers
//!   writing their layouts to `/dev/null` (route + render). Throughput is measured
//!   from the first batch sent to the last acknowledgement, CPU from `/proc`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_proto::{Event, pb};
use herald_ruler::route::Selection;
use herald_sinks::file::FileConfig;
use herald_sinks::util::PayloadEncoder;
use herald_sinks::{AckRef, Delivery, event_value};
use tracing::info;

use super::{Ctx, timeout_for};
use crate::error::{BenchError, Result};
use crate::process::{RulerSpec, start_ruler};
use crate::procfs;
use crate::report::{Row, Target};
use crate::source::Source;
use crate::workload::{self, Receivers};

/// The ruler's per-core promise.
const TARGET: f64 = 100_000.0;

/// Runs the scenario.
///
/// # Errors
/// Fixtures do not compile, or a process fails.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut rows = in_process(ctx).await?;
    rows.push(process(ctx, Receivers::Discard).await?);
    if ctx.sizes.hook_row {
        rows.push(process(ctx, Receivers::DiscardHooked).await?);
    }
    rows.push(process(ctx, Receivers::Files).await?);
    Ok(rows)
}

/// Route-only and route+render rows, measured on one thread.
///
/// # Errors
/// The fixtures do not compile, or a layout fails.
pub async fn in_process(ctx: &Ctx) -> Result<Vec<Row>> {
    let plan = workload::plan()?;
    let encoders = plan
        .receivers
        .iter()
        .map(|rc| match rc.sink.downcast_ref::<FileConfig>() {
            Some(c) => Ok(PayloadEncoder::new(c.layout.clone(), c.de_dot)),
            None => Err(BenchError::Fixture {
                name: "receivers.yaml",
                message: format!("receiver `{}` is not a file receiver", rc.name),
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    let events: Vec<Arc<Event>> = workload::domain_events(&ctx.samples, ctx.sizes.ruler_inproc)
        .into_iter()
        .map(Arc::new)
        .collect();
    let n = events.len() as u64;
    tokio::task::spawn_blocking(move || {
        let tree = &plan.tree;
        let mut sel = Selection::new(tree.receivers());
        // route only
        let (wall, cpu, selected) = on_thread(|| {
            let mut selected = 0usize;
            for ev in &events {
                tree.route(ev, &mut sel);
                selected += sel.receivers().len();
            }
            Ok(selected)
        })?;
        #[allow(clippy::cast_precision_loss)]
        let fanout = selected as f64 / n.max(1) as f64;
        let route = Row::new(
            "ruler in-process: route only (1 thread)",
            n,
            wall,
            Some(cpu),
        )
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note(format!(
            "23 rules, {fanout:.2} receivers selected per event"
        ));
        // route + render
        let (wall, cpu, bytes) = on_thread(|| {
            let mut bytes = 0usize;
            let mut buf = Vec::with_capacity(16 * 1024);
            for ev in &events {
                tree.route(ev, &mut sel);
                if sel.is_empty() {
                    continue;
                }
                let value = event_value(ev);
                for &r in sel.receivers() {
                    let d = Delivery::new(ev.clone(), value.clone(), AckRef::detached());
                    buf.clear();
                    encoders[r].encode(&d, &mut buf).map_err(|e| {
                        BenchError::Invalid(format!("layout of receiver {r} failed: {e}"))
                    })?;
                    bytes += buf.len();
                }
            }
            Ok(bytes)
        })?;
        #[allow(clippy::cast_precision_loss)]
        let per_event = bytes as f64 / n.max(1) as f64;
        let render = Row::new(
            "ruler in-process: route + render (1 thread)",
            n,
            wall,
            Some(cpu),
        )
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note(format!(
            "{fanout:.2} renders per event, {per_event:.0} bytes rendered per event"
        ));
        // kube-events rules
        let rules = workload::rules()?;
        let index = herald_rules::RuleIndex::new(rules.iter().enumerate());
        let (wall, cpu, (matched, alerts)) = on_thread(|| {
            let (mut matched, mut alerts) = (0usize, 0usize);
            let mut candidates = Vec::new();
            for ev in &events {
                index.candidates(&ev.reason, &mut candidates);
                if candidates.is_empty() {
                    continue;
                }
                let view = herald_rules::event_view(ev);
                for rule in candidates.iter().filter_map(|&i| rules.get(i)) {
                    if rule.matches(&view) {
                        matched += 1;
                        if rule.rule_type == herald_rules::RuleType::Alert {
                            let m = rule.produce(ev, &view, &|| event_value(ev));
                            alerts += m.labels.len();
                        }
                    }
                }
            }
            Ok((matched, alerts))
        })?;
        #[allow(clippy::cast_precision_loss)]
        let per_event = matched as f64 / n.max(1) as f64;
        let rules_row = Row::new(
            "ruler in-process: 100 kube-events rules (1 thread)",
            n,
            wall,
            Some(cpu),
        )
        .target(Target::MinEventsPerCpuSecond(TARGET), None)
        .note(format!(
            "{} enabled rules, those the reason allows evaluated, {per_event:.2} matches per event, {alerts} alert labels built",
            rules.len()
        ));
        Ok(vec![route, render, rules_row])
    })
    .await?
}

/// Runs `f` on the calling thread; returns wall time, thread CPU time and its result.
fn on_thread<T>(f: impl FnOnce() -> Result<T>) -> Result<(Duration, Duration, T)> {
    let started = Instant::now();
    let cpu0 = procfs::thread_cpu().unwrap_or_default();
    let out = f()?;
    let wall = started.elapsed();
    let cpu = procfs::thread_cpu()
        .unwrap_or_default()
        .saturating_sub(cpu0);
    Ok((
        wall,
        if cpu.is_zero() { wall } else { cpu },
        std::hint::black_box(out),
    ))
}

/// The `herald-ruler` process against the synthetic source.
async fn process(ctx: &mut Ctx, receivers: Receivers) -> Result<Row> {
    let bins = ctx.binaries()?;
    let (label, dir) = match receivers {
        Receivers::Discard => (
            "ruler process: route only (inMemory discard)",
            "ruler-discard",
        ),
        Receivers::DiscardHooked => (
            "ruler process: route only + a trivial hook per receiver",
            "ruler-hooked",
        ),
        Receivers::Files => (
            "ruler process: route + render (file → /dev/null)",
            "ruler-files",
        ),
    };
    let ruler_bin = match receivers {
        Receivers::DiscardHooked => ctx.hooks_ruler()?,
        Receivers::Discard | Receivers::Files => bins.ruler.clone(),
    };
    let work = ctx.dir(dir)?;
    let n = ctx.sizes.ruler_process;
    let events: Vec<pb::Event> = workload::domain_events(&ctx.samples, n)
        .into_iter()
        .map(pb::Event::from)
        .collect();
    // every receiver reads through its own consumer group: each gets every event
    let source = Source::start(events, workload::RECEIVER_NAMES.len()).await?;
    let mut ruler = start_ruler(&RulerSpec {
        bin: &ruler_bin,
        work: &work,
        config: workload::ruler_config(receivers, "bench-ruler", 1000),
        exporter: &source.url,
        dump: std::path::Path::new("/dev/null"),
        name: "ruler",
    })?;
    // CPU from the first batch on: startup (config, regex compilation) is not routing
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
    let waited = source.wait_done(timeout_for(n, 2_000.0)).await;
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
    info!(scenario = label, events = n, "ruler process measured");
    let lanes = workload::RECEIVER_NAMES.len();
    let row = Row::new(label, n as u64, done - first, Some(cpu)).peak_rss(Some(mem.peak));
    Ok(match receivers {
        Receivers::DiscardHooked => row.note(format!(
            "the route-only row with `{}` run by each of the {lanes} receivers on every event it gets (Starlark, `hooks` build of herald-ruler); compare with the route-only row",
            workload::TRIVIAL_HOOK.lines().map(str::trim).collect::<Vec<_>>().join(" ")
        )),
        Receivers::Discard | Receivers::Files => row
            .target(Target::MinEventsPerCpuSecond(TARGET), None)
            .note(format!(
                "includes gRPC decode, protobuf → Event, acks; 1,000 credits; one subscription per receiver ({lanes} lanes), the lanes sharing one decode and one routing pass per event"
            )),
    })
}
