//! `herald-bench chaos`: runs every component of herald for a while, attacks it at
//! seeded random moments, and prints its reliability figures.
//!
//! * Topology: the API simulator writing a realistic mix (kubesim's incident
//!   scenario: new objects, repeats, both Event APIs); two exporters with leader
//!   election; two rulers, a third joining later; every receiver of [`targets`] whose
//!   peer runs on this machine, each reading back what it received by idempotency key.
//! * Faults: [`plan`] (the story, printed first: same seed, same story).
//! * Verdict: [`verdict`], printed as a table and written as JSON. Exit code 1 on any
//!   loss, an unexpected key, or a process that died by itself; bounds (duplicates,
//!   receivers holding each other back) are reported, and fail the run with
//!   `--strict`.

pub mod cluster;
pub mod logtail;
pub mod plan;
pub mod report;
pub mod targets;
pub mod verdict;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use herald_kubesim::scenario::{Scenario, ScenarioConfig};
use herald_kubesim::{HttpFault, SimConfig, Simulator};
use tracing::{info, warn};

use self::cluster::{BACKLOG, CREDITS, Cluster, Findings};
use self::plan::{ApiFault, Fault, Lane, Role, Step, TargetFault};
use self::report::{Executed, Receiver, Report};
use self::targets::{Target, TargetEnv};
use self::verdict::WrittenAt;
use crate::binaries;
use crate::error::{BenchError, Result};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the story and of the workload.
    pub seed: u64,
    /// How long the workload writes (faults happen in this time).
    pub duration: Duration,
    /// Event writes per second.
    pub rate: f64,
    /// Longest wait, after the workload and the faults, for every receiver to catch up.
    pub settle: Duration,
    /// Binaries to use instead of building them.
    pub bin_dir: Option<PathBuf>,
}

/// Shared between the lanes: what happened, when.
#[derive(Debug, Default)]
struct Journal {
    executed: Vec<Executed>,
    findings: Findings,
    /// Target fault windows: receiver, start, end.
    windows: Vec<(String, Instant, Instant)>,
    /// When history was compacted.
    compactions: Vec<Instant>,
    /// Process faults, from their start to a while after their end.
    process_windows: Vec<(Instant, Instant)>,
    /// Duplicates the README allows so far, for every receiver.
    dup_bound: usize,
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the harness; returns the report (whose `ok` says whether the run passed).
///
/// # Errors
/// The run could not be carried out (a process does not start, a port cannot be bound).
pub async fn run(opts: &Options) -> Result<Report> {
    let bins = binaries::prepare(opts.bin_dir.as_deref())?;
    let work = tempfile::Builder::new()
        .prefix("herald-chaos-")
        .tempdir()
        .map_err(crate::error::io_err("cannot create", "a scratch directory"))?;
    // HERALD_CHAOS_KEEP=1 keeps configs, logs and durable logs for a post-mortem
    let (work, _scratch) = if std::env::var_os("HERALD_CHAOS_KEEP").is_some() {
        let kept = work.keep();
        info!(dir = %kept.display(), "keeping the scratch directory");
        (kept, None)
    } else {
        (work.path().to_path_buf(), Some(work))
    };
    let sim = Simulator::start(SimConfig {
        request_log_limit: 100,
        ..SimConfig::default()
    })
    .await?;
    let kubeconfig = crate::scenarios::kubeconfig(&sim, &work)?;

    let mut started: Vec<Box<dyn Target>> = Vec::new();
    for (i, start) in targets::TARGETS.iter().enumerate() {
        let env = TargetEnv {
            dir: work.join(format!("target-{i}")),
        };
        if let Some(t) = start(&env).await? {
            info!(receiver = t.name(), "target started");
            started.push(t);
        }
    }
    let files = work.join("target-0");
    let names: Vec<&'static str> = started.iter().map(|t| t.name()).collect();
    let faults: Vec<(&str, &[TargetFault])> =
        started.iter().map(|t| (t.name(), t.faults())).collect();
    let story = plan::plan(opts.seed, opts.duration, &faults);
    for s in &story {
        info!(
            at = format!("{:.1}s", s.at.as_secs_f64()),
            "story: {}", s.fault
        );
    }
    let receivers_yaml: String = started.iter().map(|t| t.receiver_yaml()).collect();
    let config = |member: &str| cluster::config(member, &receivers_yaml, &names);
    let ruler_env: Vec<(&'static str, String)> =
        started.iter().flat_map(|t| t.environment()).collect();
    let cluster = Cluster::start(&bins, &work, &kubeconfig, &config, &files, &ruler_env).await?;
    info!(work = %work.display(), "exporters and rulers started");

    let targets: Shared<Vec<Box<dyn Target>>> = Arc::new(Mutex::new(started));
    let journal: Shared<Journal> = Arc::new(Mutex::new(Journal::default()));
    let written: Shared<Vec<WrittenAt>> = Arc::new(Mutex::new(Vec::new()));
    let served: logtail::Served = Arc::default();
    let tail = tokio::spawn(logtail::follow(
        cluster
            .exporters
            .iter()
            .map(|e| e.grpc_url.clone())
            .collect(),
        served.clone(),
    ));
    let t0 = Instant::now();

    let writer = tokio::spawn(write(
        sim.clone(),
        opts.seed,
        opts.rate,
        t0 + opts.duration,
        written.clone(),
    ));
    let lane = |l: Lane| {
        story
            .iter()
            .filter(|s| s.fault.lane() == l)
            .cloned()
            .collect::<Vec<_>>()
    };
    let api = tokio::spawn(api_lane(sim.clone(), lane(Lane::Api), t0, journal.clone()));
    let target = tokio::spawn(target_lane(
        targets.clone(),
        lane(Lane::Target),
        t0,
        journal.clone(),
    ));
    let mut cluster = process_lane(
        cluster,
        lane(Lane::Process),
        t0,
        opts.duration,
        journal.clone(),
    )
    .await?;
    let (created, repeated) = writer.await??;
    api.await?;
    target.await??;

    // heal: every target up, every ruler running, then wait for the receivers
    for t in lock(&targets).iter_mut() {
        t.set_fault(None)?;
    }
    for i in 0..cluster.rulers.len() {
        if cluster.rulers[i].proc.is_some() {
            cluster.start_ruler(i)?;
        }
    }
    let written = std::mem::take(&mut *lock(&written));
    let settled = settle(&targets, &written, opts.settle, &mut cluster, &journal).await?;
    let end = Instant::now();
    tail.abort();
    let served = std::mem::take(&mut *lock(&served));
    info!(
        secs = format!("{:.1}", settled.as_secs_f64()),
        "receivers settled"
    );

    let mut logged = Vec::new();
    let mut log_keys = Vec::new();
    // a log that answers its status but cannot be read whole leaves the audit blind:
    // an occurrence it logged but no receiver got would pass as superseded
    let mut audit_findings = Vec::new();
    for (i, e) in cluster.exporters.iter_mut().enumerate() {
        let status = e.status().await.ok().flatten();
        logged.push((
            format!("exporter-{i}"),
            status.as_ref().map(|s| s.last_offset),
        ));
        let keys = match status {
            Some(s) => match logged_keys(e, &s).await {
                Ok(keys) => Some(keys),
                Err(why) => {
                    audit_findings.push(format!(
                        "exporter-{i}'s log could not be audited ({why}): losses cannot be told from superseded occurrences"
                    ));
                    None
                }
            },
            None => None,
        };
        log_keys.push((format!("exporter-{i}"), keys));
    }
    let mut memory: Vec<(String, f64)> = cluster
        .processes()
        .into_iter()
        .map(|(n, p)| (n, crate::procfs::mib(p.memory().rss)))
        .collect();
    let mut j = std::mem::take(&mut *lock(&journal));
    j.findings.extend(audit_findings);
    let targets = lock(&targets);
    for t in targets.iter() {
        if let Some(pid) = t.pid() {
            let rss = crate::procfs::process_memory(pid).unwrap_or_default().rss;
            memory.push((format!("{} (peer)", t.name()), crate::procfs::mib(rss)));
        }
    }
    // an occurrence some exporter logged or some receiver got was not collapsed
    let mut seen_anywhere: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (_, keys) in &log_keys {
        seen_anywhere.extend(keys.iter().flatten().cloned());
    }
    for t in targets.iter() {
        seen_anywhere.extend(t.deliveries().snapshot().into_iter().map(|(k, _)| k));
    }
    let receivers: Vec<Receiver> = targets
        .iter()
        .map(|t| {
            // a target that comes back catches up for a while (the sender's retry
            // backoff is up to 30 s): that belongs to its outage
            let windows = |own: bool| -> Vec<(Instant, Instant)> {
                j.windows
                    .iter()
                    .filter(|(r, _, _)| (r == t.name()) == own)
                    .map(|(_, a, b)| (*a, *b + CATCH_UP))
                    .collect()
            };
            let others = windows(false);
            // stalls are judged without this receiver's own outages and without the
            // process faults, which stall every receiver alike
            let mut own = windows(true);
            own.extend(j.process_windows.iter().copied());
            let mut counts = verdict::judge(
                &written,
                &t.deliveries().snapshot(),
                t.dedupes(),
                &verdict::Timeline {
                    other_windows: &others,
                    own_windows: &own,
                    served: &served,
                    compactions: &j.compactions,
                    logged: &seen_anywhere,
                    end,
                },
            );
            counts.lost_found_in_log = log_keys
                .iter()
                .map(|(name, keys)| {
                    let n = keys.as_ref().map(|keys| {
                        counts
                            .lost_keys
                            .iter()
                            .filter(|k| keys.contains(*k))
                            .count()
                    });
                    (name.clone(), n)
                })
                .collect();
            Receiver::new(t.name(), counts, j.dup_bound, !others.is_empty())
        })
        .collect();
    Ok(Report::new(
        opts,
        &bins.profile,
        &story,
        j.executed,
        j.findings,
        written.len(),
        (created, repeated),
        logged,
        receivers,
        memory,
        settled,
    ))
}

/// The idempotency keys in `e`'s durable log, or why it cannot be read whole.
/// Each chunk is read as a new consumer group, which a standby serves too (it refuses
/// tails).
async fn logged_keys(
    e: &crate::process::Exporter,
    s: &herald_proto::pb::LogStatus,
) -> std::result::Result<std::collections::HashSet<String>, String> {
    let mut keys = std::collections::HashSet::new();
    let mut from = s.first_offset.max(1);
    while from <= s.last_offset {
        let n = u32::try_from((s.last_offset - from + 1).min(5000)).unwrap_or(5000);
        match e
            .read_events(from, n, &format!("herald-chaos-audit-{from}"))
            .await
        {
            Ok(events) => {
                for ev in events {
                    let uid = ev.metadata.as_ref().map_or("", |m| m.uid.as_str());
                    keys.insert(format!("{uid}-{}", ev.occurrence));
                }
            }
            Err(err) => {
                warn!(error = %err, from, "cannot read the exporter's log");
                return Err(format!("reading from offset {from}: {err}"));
            }
        }
        from += u64::from(n);
    }
    Ok(keys)
}

/// Writes kubesim's incident mix at `rate` until `until`; records every occurrence.
/// Returns the Events created and the repeats.
async fn write(
    sim: Simulator,
    seed: u64,
    rate: f64,
    until: Instant,
    out: Shared<Vec<WrittenAt>>,
) -> Result<(usize, usize)> {
    let mut scenario = Scenario::new(ScenarioConfig {
        seed,
        ..ScenarioConfig::default()
    });
    let per_write = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut next = tokio::time::Instant::now();
    let (mut created, mut repeated) = (0, 0);
    while Instant::now() < until {
        let at = Instant::now();
        let (report, written) = scenario.step_written(&sim);
        created += report.events_created;
        repeated += report.events_repeated;
        let n = written.len();
        lock(&out).extend(written.into_iter().map(|w| WrittenAt {
            uid: w.uid,
            occurrence: w.occurrence,
            at,
        }));
        next += per_write.saturating_mul(u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        tokio::time::sleep_until(next).await;
    }
    Ok((created, repeated))
}

fn since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

fn note(journal: &Shared<Journal>, at_s: f64, fault: &Fault, what: String) {
    info!(at = format!("{at_s:.1}s"), fault = %fault, "{what}");
    lock(journal).executed.push(Executed {
        at_s,
        fault: fault.to_string(),
        what,
    });
}

/// Process faults, one after the other; between them, processes that died by
/// themselves are noted and started again.
async fn process_lane(
    mut cluster: Cluster,
    steps: Vec<Step>,
    t0: Instant,
    duration: Duration,
    journal: Shared<Journal>,
) -> Result<Cluster> {
    let mut findings = Findings::new();
    for step in steps {
        while Instant::now() < t0 + step.at {
            cluster.revive_crashed(&mut findings)?;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let at_s = since(t0);
        let began = Instant::now();
        let rulers = cluster.running_rulers().len();
        let behind = lock(&journal).windows.iter().any(|(_, a, b)| {
            *a <= Instant::now() && Instant::now() <= *b + Duration::from_secs(60)
        });
        let failover_bound = rulers * CREDITS + if behind { BACKLOG } else { 0 };
        let (what, bound) = match &step.fault {
            Fault::KillExporter { role, down } | Fault::TermExporter { role, down } => {
                let term = matches!(step.fault, Fault::TermExporter { .. });
                let i = cluster
                    .bounce_exporter(*role, term, *down, &mut findings)
                    .await?;
                let bound = if *role == Role::Leader {
                    failover_bound
                } else {
                    0
                };
                (format!("exporter-{i} stopped and started again"), bound)
            }
            Fault::KillRuler { pick, down } | Fault::TermRuler { pick, down } => {
                let term = matches!(step.fault, Fault::TermRuler { .. });
                match cluster
                    .bounce_ruler(*pick, term, *down, &mut findings)
                    .await?
                {
                    Some(i) => (format!("ruler-{i} stopped and started again"), CREDITS),
                    None => ("no ruler running".to_owned(), 0),
                }
            }
            Fault::RulersToZero { down } => {
                let n = cluster.rulers_to_zero(*down, &mut findings).await?;
                (format!("{n} rulers stopped and started again"), n * CREDITS)
            }
            Fault::ThirdRulerJoins => {
                cluster.start_ruler(2)?;
                ("ruler-2 started".to_owned(), 0)
            }
            Fault::Api(_) | Fault::Target { .. } => continue,
        };
        {
            let mut j = lock(&journal);
            j.dup_bound += bound;
            j.process_windows.push((began, Instant::now() + RECOVERY));
        }
        note(&journal, at_s, &step.fault, what);
    }
    while Instant::now() < t0 + duration {
        cluster.revive_crashed(&mut findings)?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    lock(&journal).findings.extend(findings);
    Ok(cluster)
}

/// How long after a process fault its effects (redeliveries, a ruler's reconnect)
/// are put down to it.
const RECOVERY: Duration = Duration::from_secs(15);

/// How long after its fault window a target counts as catching up.
const CATCH_UP: Duration = Duration::from_secs(45);

/// Rulers running at most (two, and the third that joins).
const MAX_RULERS: usize = 3;

/// The Event paths the exporter lists and watches.
const EVENTS: &str = "/api/v1/events";

/// API faults, at their moments.
async fn api_lane(sim: Simulator, steps: Vec<Step>, t0: Instant, journal: Shared<Journal>) {
    for step in steps {
        tokio::time::sleep_until((t0 + step.at).into()).await;
        let Fault::Api(a) = &step.fault else { continue };
        let f = sim.faults();
        let what = match a {
            ApiFault::Gone => {
                let rv = sim.compact();
                lock(&journal).compactions.push(Instant::now());
                f.close_watches();
                format!("history compacted at {rv}, watches closed")
            }
            ApiFault::TooManyRequests => {
                f.fail_next(
                    EVENTS,
                    3,
                    HttpFault::TooManyRequests {
                        retry_after_secs: 1,
                    },
                );
                f.close_watches();
                "watches closed, next 3 Event requests answer 429".to_owned()
            }
            ApiFault::InternalError => {
                f.fail_next(EVENTS, 3, HttpFault::InternalError);
                f.close_watches();
                "watches closed, next 3 Event requests answer 500".to_owned()
            }
            ApiFault::StalledWatch => {
                f.stall_next(EVENTS, 1, Duration::from_secs(20));
                f.close_watches();
                "watches closed, the next Event request hangs 20 s".to_owned()
            }
            ApiFault::LeaseErrors => {
                f.fail_next("/apis/coordination.k8s.io", 6, HttpFault::InternalError);
                // the leader may step down: a failover with every ruler's window and
                // a backlog
                lock(&journal).dup_bound += MAX_RULERS * CREDITS + BACKLOG;
                "next 6 Lease requests answer 500".to_owned()
            }
        };
        note(&journal, since(t0), &step.fault, what);
    }
}

/// Target faults: each window from its moment for its length.
async fn target_lane(
    targets: Shared<Vec<Box<dyn Target>>>,
    steps: Vec<Step>,
    t0: Instant,
    journal: Shared<Journal>,
) -> Result<()> {
    for step in steps {
        tokio::time::sleep_until((t0 + step.at).into()).await;
        let Fault::Target {
            receiver,
            fault,
            window,
        } = &step.fault
        else {
            continue;
        };
        let set = |f: Option<TargetFault>| -> Result<()> {
            let mut ts = lock(&targets);
            match ts.iter_mut().find(|t| t.name() == receiver) {
                Some(t) => t.set_fault(f),
                None => Err(BenchError::Invalid(format!("no target `{receiver}`"))),
            }
        };
        let start = Instant::now();
        set(Some(*fault))?;
        // known while it lasts (the process lane's duplicate bound asks), ended below
        let slot = {
            let mut j = lock(&journal);
            j.windows.push((receiver.clone(), start, start + *window));
            j.windows.len() - 1
        };
        note(&journal, since(t0), &step.fault, "started".into());
        tokio::time::sleep(*window).await;
        set(None)?;
        lock(&journal).windows[slot].2 = Instant::now();
        note(&journal, since(t0), &step.fault, "ended".into());
    }
    Ok(())
}

/// Waits until every receiver has every occurrence written (a superseded one counts
/// as there), at most `max`, while still reviving crashed processes. Returns how long
/// it took.
async fn settle(
    targets: &Shared<Vec<Box<dyn Target>>>,
    written: &[WrittenAt],
    max: Duration,
    cluster: &mut Cluster,
    journal: &Shared<Journal>,
) -> Result<Duration> {
    let started = Instant::now();
    let mut findings = Findings::new();
    // the last occurrence of each Event is the one that must arrive
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for w in written {
        let e = last.entry(w.uid.as_str()).or_insert(0);
        *e = (*e).max(w.occurrence);
    }
    let keys: Vec<String> = last.iter().map(|(u, o)| format!("{u}-{o}")).collect();
    loop {
        cluster.revive_crashed(&mut findings)?;
        let missing: Vec<(&'static str, usize)> = lock(targets)
            .iter()
            .map(|t| {
                let d = t.deliveries();
                (t.name(), keys.iter().filter(|k| !d.contains(k)).count())
            })
            .collect();
        if missing.iter().all(|(_, n)| *n == 0) {
            break;
        }
        if started.elapsed() > max {
            warn!(?missing, "receivers did not catch up");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // a little longer, so that late duplicates are counted too
    tokio::time::sleep(Duration::from_secs(3)).await;
    lock(journal).findings.extend(findings);
    Ok(started.elapsed())
}
