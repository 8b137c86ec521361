//! Scenario `lookups`: involved-object lookups within KEE's API budget.
//!
//! `herald-exporter` with lookups on and `kubeQPS`/`kubeBurst` left at their defaults
//! (5 and 10, what most KEE installs run with) while the simulator replaces pods at
//! 40 events/s (`Mix::PodChurn`: seven events per replaced pod, four of them about a
//! pod that did not exist a moment before; 8 namespaces, 24 deployments).
//!
//! * steady: the churn runs for a minute against a warm exporter;
//! * restart: the exporter is killed with SIGKILL, the churn goes on for 10 s, the
//!   exporter restarts on the same log and the churn runs 30 s more.
//!
//! Lag is measured outside the exporter: when the harness's own watch of the simulator
//! saw an event's ADDED line → when the exporter served that event to a tail of its log.
//! The rows also count the API requests the exporter made (the simulator's request log)
//! and how many events carry their involved object's metadata.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use herald_kubesim::scenario::{Mix, Scenario, ScenarioConfig};
use herald_kubesim::{RequestRecord, SimConfig, Simulator};
use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::info;

use super::{Ctx, kubeconfig};
use crate::error::{BenchError, Result};
use crate::process::{Exporter, ExporterSpec};
use crate::report::{Row, Target};
use crate::stats::Latencies;

/// Event writes per second.
const RATE: f64 = 40.0;
/// The lag promise of the issue (ms): p99 ≤ 1 s.
const TARGET_P99_MS: f64 = 1000.0;
/// How long the exporter may take to log everything written before a row is given up.
const DRAIN: Duration = Duration::from_secs(240);

/// KEE's defaults for everything that matters here: lookups on, `cacheSize` 1024,
/// `kubeQPS`/`kubeBurst` unset.
const CONFIG: &str = "logLevel: warn\nclusterName: bench\nmaxEventAgeSeconds: 3600\n";

/// Runs the scenario.
///
/// # Errors
/// The simulator or the exporter fails, or events are not logged within [`DRAIN`].
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let bins = ctx.binaries()?;
    let work = ctx.dir("lookups")?;
    let sim = Simulator::start(SimConfig {
        request_log_limit: 1_000_000,
        ..SimConfig::default()
    })
    .await?;
    let kubeconfig = kubeconfig(&sim, &work)?;
    let mut scenario = Scenario::new(ScenarioConfig {
        seed: 18,
        namespaces: 8,
        mix: Mix::PodChurn,
        ..ScenarioConfig::default()
    });
    // the cluster (namespaces, nodes, workloads and their pods) and a first replacement
    let setup = scenario.step(&sim);
    let data_dir = work.join("data");
    let spec = ExporterSpec {
        bin: &bins.exporter,
        work: &work,
        kubeconfig: &kubeconfig,
        data_dir: &data_dir,
        config: CONFIG.to_owned(),
        name: "exporter",
    };
    let mut exporter = Exporter::start(&spec)?;
    exporter
        .wait_logged(setup.events_created as u64, Duration::from_secs(60))
        .await?;
    let mut rows = Vec::new();

    // steady churn against a warm exporter
    let published = SimWatch::start(&sim).await?;
    let from = last_offset(&mut exporter).await? + 1;
    let served = LogTail::start(exporter.grpc_url.clone(), from);
    sim.clear_requests();
    let throttled_before = exporter
        .metric("herald_exporter_kube_client_throttled_seconds")
        .await;
    let started = Instant::now();
    scenario
        .run(&sim, RATE, tokio::time::sleep(ctx.sizes.lookups_churn))
        .await;
    let written = published.names_after(started);
    served.wait_for(&written, DRAIN, &mut exporter).await?;
    let elapsed = started.elapsed();
    let throttled = exporter
        .metric("herald_exporter_kube_client_throttled_seconds")
        .await
        .zip(throttled_before)
        .map(|(after, before)| after - before);
    let phase = Phase::measure(&published, &served, &written, &sim.requests(), elapsed);
    info!(events = written.len(), "lookups: steady churn measured");
    rows.push(
        phase
            .row(
                format!("exporter lookups: pod churn @{RATE:.0} ev/s, kubeQPS 5 / burst 10"),
                ctx.sizes.lookups_churn,
            )
            .note(throttled.map_or_else(
                || "client-side throttling not read".to_owned(),
                |t| {
                    format!(
                        "client-side throttled wait {:.2} s per s",
                        t / elapsed.as_secs_f64()
                    )
                },
            )),
    );

    // SIGKILL, churn while down, restart on the same log, churn on
    let from = last_offset(&mut exporter).await? + 1;
    drop(served);
    drop(exporter);
    let down_from = Instant::now();
    scenario
        .run(&sim, RATE, tokio::time::sleep(ctx.sizes.lookups_down))
        .await;
    let written_down = published.names_after(down_from);
    sim.clear_requests();
    let mut exporter = Exporter::start(&spec)?;
    let restarted = Instant::now();
    let served = LogTail::start(exporter.grpc_url.clone(), from);
    scenario
        .run(&sim, RATE, tokio::time::sleep(ctx.sizes.lookups_after))
        .await;
    let written_after = published.names_after(restarted);
    let mut all = written_down.clone();
    all.extend(written_after.iter().cloned());
    served.wait_for(&all, DRAIN, &mut exporter).await?;
    let elapsed = restarted.elapsed();
    let caught_up = served
        .last_served(&written_down)
        .map(|t| t.saturating_duration_since(restarted));
    let phase = Phase::measure(
        &published,
        &served,
        &written_after,
        &sim.requests(),
        elapsed,
    );
    let enriched_down = Phase::measure(&published, &served, &written_down, &[], elapsed);
    rows.push(
        phase
            .row(
                format!(
                    "exporter lookups: after SIGKILL and {} s down, pod churn @{RATE:.0} ev/s",
                    ctx.sizes.lookups_down.as_secs()
                ),
                ctx.sizes.lookups_after,
            )
            .note(format!(
                "{} events written while down logged {} after the restart ({:.0}% enriched); latency of events written after the restart",
                written_down.len(),
                caught_up.map_or_else(|| "–".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
                enriched_down.enriched_pct(),
            )),
    );
    drop(exporter);
    sim.shutdown().await;
    Ok(rows)
}

/// The exporter's last offset (0 for an empty log).
async fn last_offset(exporter: &mut Exporter) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = exporter.status().await? {
            return Ok(s.last_offset);
        }
        if Instant::now() > deadline {
            return Err(BenchError::Grpc("the exporter does not answer".into()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one phase measured.
struct Phase {
    events: usize,
    lags: Latencies,
    /// Events whose involved object's metadata was found, of all events / of Pod events.
    found: usize,
    pods: usize,
    pods_found: usize,
    requests: Requests,
    elapsed: Duration,
}

impl Phase {
    fn measure(
        published: &SimWatch,
        served: &LogTail,
        names: &[String],
        requests: &[RequestRecord],
        elapsed: Duration,
    ) -> Phase {
        let seen = published.snapshot();
        let logged = served.snapshot();
        let mut lags = Latencies::default();
        let (mut found, mut pods, mut pods_found) = (0, 0, 0);
        for name in names {
            let Some(entry) = logged.get(name) else {
                continue;
            };
            if let Some(at) = seen.get(name) {
                lags.push(entry.at.saturating_duration_since(*at));
            }
            let ok = entry.lookup == pb::Lookup::Found as i32;
            found += usize::from(ok);
            if entry.kind == "Pod" {
                pods += 1;
                pods_found += usize::from(ok);
            }
        }
        Phase {
            events: names.len(),
            lags,
            found,
            pods,
            pods_found,
            requests: Requests::count(requests),
            elapsed,
        }
    }

    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    fn enriched_pct(&self) -> f64 {
        100.0 * self.found as f64 / self.events.max(1) as f64
    }

    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    fn row(&self, name: String, wall: Duration) -> Row {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let r = &self.requests;
        Row::new(name, self.events as u64, wall, None)
            .latency(self.lags.percentile(50.0), self.lags.percentile(99.0))
            .target(Target::MaxP99Ms(TARGET_P99_MS), None)
            .note(format!(
                "max lag {:.1} s; {:.0}% of events enriched (Pod events {:.0}%)",
                self.lags
                    .percentile(100.0)
                    .unwrap_or_default()
                    .as_secs_f64(),
                self.enriched_pct(),
                100.0 * self.pods_found as f64 / self.pods.max(1) as f64,
            ))
            .note(format!(
                "API requests {:.2}/s over {:.0} s: {} Event list/watch, {} metadata GETs, {} metadata lists, {} metadata watches, {} other",
                r.total as f64 / secs,
                secs,
                r.events,
                r.gets,
                r.lists,
                r.watches,
                r.other
            ))
    }
}

/// The exporter's requests by purpose.
#[derive(Debug, Default)]
struct Requests {
    total: usize,
    /// Event lists and watches.
    events: usize,
    /// Metadata reads of one object or namespace.
    gets: usize,
    /// Metadata lists of a collection.
    lists: usize,
    /// Metadata watches of a collection.
    watches: usize,
    /// Discovery and anything else.
    other: usize,
}

impl Requests {
    fn count(records: &[RequestRecord]) -> Requests {
        let mut r = Requests {
            total: records.len(),
            ..Requests::default()
        };
        for rec in records {
            let metadata = rec
                .header("accept")
                .is_some_and(|a| a.contains("as=PartialObjectMetadata"));
            if rec.path.ends_with("/events") {
                r.events += 1;
            } else if !metadata {
                r.other += 1;
            } else if rec.watch {
                r.watches += 1;
            } else if rec
                .header("accept")
                .is_some_and(|a| a.contains("as=PartialObjectMetadataList"))
            {
                r.lists += 1;
            } else {
                r.gets += 1;
            }
        }
        r
    }
}

/// The harness's own watch of the simulator's Events: when each event's ADDED line was
/// published (the moment any client could have seen it).
struct SimWatch {
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    object: WatchObject,
}

#[derive(Deserialize)]
struct WatchObject {
    metadata: WatchMeta,
}

#[derive(Deserialize)]
struct WatchMeta {
    #[serde(default)]
    name: String,
}

impl SimWatch {
    async fn start(sim: &Simulator) -> Result<SimWatch> {
        let url = format!(
            "{}/api/v1/events?watch=true&resourceVersion={}&timeoutSeconds=3600",
            sim.url(),
            sim.resource_version()
        );
        let resp = reqwest::get(&url).await?.error_for_status()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut partial: Vec<u8> = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                let now = Instant::now();
                partial.extend_from_slice(&chunk);
                let mut start = 0;
                while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
                    let line = &partial[start..start + i];
                    start += i + 1;
                    if let Ok(l) = serde_json::from_slice::<WatchLine>(line)
                        && l.kind == "ADDED"
                    {
                        sink.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((l.object.metadata.name, now));
                    }
                }
                partial.drain(..start);
            }
        });
        Ok(SimWatch { seen, task })
    }

    /// Names of the events published since `since`, in order.
    fn names_after(&self, since: Instant) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, at)| *at >= since)
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn snapshot(&self) -> HashMap<String, Instant> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for SimWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One event as the exporter served it.
#[derive(Debug, Clone)]
struct Served {
    at: Instant,
    lookup: i32,
    kind: String,
}

/// A tail of the exporter's log from an offset: when each event was served, and its
/// lookup outcome. Reconnects until the exporter answers.
struct LogTail {
    served: Arc<Mutex<HashMap<String, Served>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Credits granted at a time.
const WINDOW: u32 = 10_000;

impl LogTail {
    fn start(url: String, from: u64) -> LogTail {
        let served = Arc::new(Mutex::new(HashMap::new()));
        let sink = served.clone();
        let task = tokio::spawn(async move {
            let mut next = from;
            loop {
                if let Err(e) = Self::follow(&url, &mut next, &sink).await {
                    tracing::debug!(error = %e, "log tail interrupted, reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        LogTail { served, task }
    }

    async fn follow(
        url: &str,
        next: &mut u64,
        sink: &Mutex<HashMap<String, Served>>,
    ) -> std::result::Result<(), String> {
        use pb::subscribe_request::Request as Msg;
        let mut client = EventLogClient::connect(url.to_owned())
            .await
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(16);
        let hello = pb::SubscribeRequest {
            request: Some(Msg::Hello(pb::Hello {
                member_id: "herald-bench-lookups".into(),
                start: Some(pb::StartPosition {
                    position: Some(pb::start_position::Position::Offset(*next)),
                }),
                ..pb::Hello::default()
            })),
        };
        let credit = pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: WINDOW })),
        };
        for m in [hello, credit] {
            tx.send(m).await.map_err(|e| e.to_string())?;
        }
        let mut stream = client
            .subscribe(ReceiverStream::new(rx))
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        while let Some(msg) = stream.message().await.map_err(|e| e.to_string())? {
            let Some(pb::subscribe_response::Response::Batch(b)) = msg.response else {
                continue;
            };
            let now = Instant::now();
            let granted = u32::try_from(b.events.len()).unwrap_or(WINDOW);
            {
                let mut served = sink.lock().unwrap_or_else(PoisonError::into_inner);
                for e in b.events {
                    *next = (*next).max(e.offset + 1);
                    let Some(name) = e.metadata.as_ref().map(|m| m.name.clone()) else {
                        continue;
                    };
                    let (lookup, kind) = e
                        .involved_object
                        .as_ref()
                        .map(|io| (io.lookup, io.kind.clone()))
                        .unwrap_or_default();
                    served.entry(name).or_insert(Served {
                        at: now,
                        lookup,
                        kind,
                    });
                }
            }
            let credit = pb::SubscribeRequest {
                request: Some(Msg::Credit(pb::Credit { events: granted })),
            };
            tx.send(credit).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Waits until every one of `names` was served.
    async fn wait_for(
        &self,
        names: &[String],
        timeout: Duration,
        exporter: &mut Exporter,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let missing = {
                let served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
                names.iter().filter(|n| !served.contains_key(*n)).count()
            };
            if missing == 0 {
                return Ok(());
            }
            exporter.proc.check_alive()?;
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: format!("{missing} of {} events served by the exporter", names.len()),
                    secs: timeout.as_secs(),
                    log: Some(exporter.proc.log_tail()),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// When the last of `names` was served.
    fn last_served(&self, names: &[String]) -> Option<Instant> {
        let served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        names
            .iter()
            .filter_map(|n| served.get(n).map(|s| s.at))
            .max()
    }

    fn snapshot(&self) -> HashMap<String, Served> {
        self.served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for LogTail {
    fn drop(&mut self) {
        self.task.abort();
    }
}
