//! The processes of a chaos run: two `herald-exporter`s with leader election and the
//! rulers (two, a third joining later), all subscribed to both exporters. Started,
//! killed and started again through the benchmark's [`Launch`]es, so a restarted
//! process has the same config, ports and data directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::plan::Role;
use crate::binaries::Binaries;
use crate::error::Result;
use crate::process::{Exporter, ExporterSpec, Launch, Proc, RulerSpec, ruler_launch};

/// `ruler.credits`: events in flight per receiver and exporter, per ruler.
pub const CREDITS: usize = 1000;
/// The exporter's backlog limit beyond which a failover may re-emit to every group
/// (README, Guarantees 2).
pub const BACKLOG: usize = 4096;
/// How long a SIGTERM'd ruler drains (`ruler.shutdownGrace`) before it gives up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The config every process reads, `member` being the ruler's member id.
pub fn config(member: &str, receivers: &str, route_to: &[&str]) -> String {
    let mut route = String::from("route:\n  routes:\n    - match:\n");
    for r in route_to {
        route.push_str(&format!("        - receiver: {r}\n"));
    }
    format!(
        "logLevel: warn\nclusterName: chaos\nmaxEventAgeSeconds: 3600\n\
         leaderElection:\n  enabled: true\n  leaderElectionID: herald-chaos\n\
         exporter:\n  leaderElection: {{leaseDuration: 5s, renewDeadline: 4s, retryPeriod: 1s}}\n  \
         retention: {{maxAge: 24h, maxBytes: 1GiB}}\n\
         ruler:\n  memberId: {member}\n  credits: {CREDITS}\n  shutdownGrace: {}s\n\
         {route}receivers:\n{receivers}",
        SHUTDOWN_GRACE.as_secs()
    )
}

/// The processes' log filter: `HERALD_CHAOS_LOG` (e.g. `info`), else `warn`.
fn log_level() -> String {
    std::env::var("HERALD_CHAOS_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// A ruler that may be running.
#[derive(Debug)]
pub struct RulerSlot {
    launch: Launch,
    /// The process, while it runs.
    pub proc: Option<Proc>,
    started: Instant,
}

/// A process gets SIGTERM no sooner than this after its start: before its signal
/// handler is installed, SIGTERM ends it like a kill (which the kill faults cover).
const SETTLE_BEFORE_TERM: Duration = Duration::from_secs(3);

/// The exporters and rulers.
#[derive(Debug)]
pub struct Cluster {
    /// The two exporters.
    pub exporters: Vec<Exporter>,
    /// Ruler slots (the third one empty until it joins).
    pub rulers: Vec<RulerSlot>,
}

/// What a process fault found wrong (an unclean exit, a process that did not come back).
pub type Findings = Vec<String>;

impl Cluster {
    /// Starts the exporters (the first one leading) and two of three rulers (with
    /// `ruler_env` added to their environment).
    ///
    /// # Errors
    /// A process cannot start, or no exporter leads within a minute.
    pub async fn start(
        bins: &Binaries,
        work: &Path,
        kubeconfig: &Path,
        config: &dyn Fn(&str) -> String,
        files: &Path,
        ruler_env: &[(&'static str, String)],
    ) -> Result<Cluster> {
        let mut exporters = Vec::new();
        for i in 0..2 {
            let name = format!("exporter-{i}");
            let mut e = Exporter::start_with_env(
                &ExporterSpec {
                    bin: &bins.exporter,
                    work,
                    kubeconfig,
                    data_dir: &work.join(format!("{name}-data")),
                    config: config(&name),
                    name: &name,
                },
                &[
                    ("POD_NAME", &name),
                    ("HERALD_BENCH_DUMP", "/dev/null"),
                    ("HERALD_LOG", &log_level()),
                ],
            )?;
            if i == 0 {
                wait_leading(&mut e, Duration::from_secs(60)).await?;
            }
            exporters.push(e);
        }
        let urls: Vec<String> = exporters.iter().map(|e| e.grpc_url.clone()).collect();
        let mut rulers = Vec::new();
        for i in 0..3 {
            let name = format!("ruler-{i}");
            let dump: PathBuf = super::targets::file::ruler_file(files, &name);
            let launch = ruler_launch(
                &RulerSpec {
                    bin: &bins.ruler,
                    work,
                    config: config(&name),
                    exporter: &urls[0],
                    dump: &dump,
                    name: &name,
                },
                &[&urls[1]],
            )?;
            let mut launch = launch;
            launch.env("HERALD_LOG", log_level());
            for (k, v) in ruler_env {
                launch.env(k, v);
            }
            let proc = if i < 2 { Some(launch.spawn()?) } else { None };
            rulers.push(RulerSlot {
                launch,
                proc,
                started: Instant::now(),
            });
        }
        Ok(Cluster { exporters, rulers })
    }

    /// The index of the exporter leading now, if one does.
    pub async fn leader(&mut self) -> Option<usize> {
        for (i, e) in self.exporters.iter_mut().enumerate() {
            if let Ok(Some(s)) = e.status().await
                && s.leader
            {
                return Some(i);
            }
        }
        None
    }

    /// Rulers running now.
    pub fn running_rulers(&mut self) -> Vec<usize> {
        self.rulers
            .iter_mut()
            .enumerate()
            .filter_map(|(i, r)| r.proc.as_mut().is_some_and(Proc::running).then_some(i))
            .collect()
    }

    /// Stops an exporter (kill -9, or SIGTERM when `term`), waits `down`, starts it
    /// again and waits until it answers. Returns which one it was.
    ///
    /// # Errors
    /// It cannot be started again.
    pub async fn bounce_exporter(
        &mut self,
        role: Role,
        term: bool,
        down: Duration,
        findings: &mut Findings,
    ) -> Result<usize> {
        let leader = self.leader().await;
        let i = match (role, leader) {
            (Role::Leader, Some(l)) => l,
            (Role::Standby, Some(l)) => 1 - l,
            (_, None) => 0,
        };
        let e = &mut self.exporters[i];
        if term {
            let age = e.started.elapsed();
            if age < SETTLE_BEFORE_TERM {
                tokio::time::sleep(SETTLE_BEFORE_TERM - age).await;
            }
            let (clean, status) = e.proc.terminate_async(Duration::from_secs(30)).await?;
            if !clean || status != "exit status: 0" {
                findings.push(format!(
                    "exporter-{i} did not exit cleanly on SIGTERM ({status}, by itself: {clean}); log:\n{}",
                    e.proc.log_tail()
                ));
            }
        } else {
            e.proc.kill9();
        }
        tokio::time::sleep(down).await;
        e.respawn()?;
        wait_answering(e, Duration::from_secs(60), findings).await;
        Ok(i)
    }

    /// Stops ruler number `pick` among those running (kill -9, or SIGTERM), waits
    /// `down`, starts it again. Returns which one it was.
    ///
    /// # Errors
    /// It cannot be started again.
    pub async fn bounce_ruler(
        &mut self,
        pick: usize,
        term: bool,
        down: Duration,
        findings: &mut Findings,
    ) -> Result<Option<usize>> {
        let running = self.running_rulers();
        if running.is_empty() {
            return Ok(None);
        }
        let i = running[pick % running.len()];
        self.stop_ruler(i, term, findings).await?;
        tokio::time::sleep(down).await;
        self.start_ruler(i)?;
        Ok(Some(i))
    }

    async fn stop_ruler(&mut self, i: usize, term: bool, findings: &mut Findings) -> Result<()> {
        if term {
            self.settle_before_term(i).await;
        }
        let Some(mut p) = self.rulers[i].proc.take() else {
            return Ok(());
        };
        if term {
            p.signal("TERM")?;
            wait_exit(&mut p, findings).await;
        } else {
            p.kill9();
        }
        Ok(())
    }

    async fn settle_before_term(&self, i: usize) {
        let age = self.rulers[i].started.elapsed();
        if age < SETTLE_BEFORE_TERM {
            tokio::time::sleep(SETTLE_BEFORE_TERM - age).await;
        }
    }

    /// Starts ruler `i` (when it is not running).
    ///
    /// # Errors
    /// It cannot start.
    pub fn start_ruler(&mut self, i: usize) -> Result<()> {
        let slot = &mut self.rulers[i];
        if slot.proc.as_mut().is_some_and(Proc::running) {
            return Ok(());
        }
        slot.proc = Some(slot.launch.spawn()?);
        slot.started = Instant::now();
        Ok(())
    }

    /// SIGTERM to every ruler at once, `down` without any, then all started again.
    /// Returns how many there were.
    ///
    /// # Errors
    /// One cannot be started again.
    pub async fn rulers_to_zero(
        &mut self,
        down: Duration,
        findings: &mut Findings,
    ) -> Result<usize> {
        let running = self.running_rulers();
        for i in &running {
            self.settle_before_term(*i).await;
        }
        let mut stopping = Vec::new();
        for i in &running {
            if let Some(p) = self.rulers[*i].proc.take() {
                p.signal("TERM")?;
                stopping.push(p);
            }
        }
        for p in &mut stopping {
            wait_exit(p, findings).await;
        }
        tokio::time::sleep(down).await;
        for i in &running {
            self.start_ruler(*i)?;
        }
        Ok(running.len())
    }

    /// Finds processes that exited although nothing stopped them, records them and
    /// starts them again.
    ///
    /// # Errors
    /// One cannot be started again.
    pub fn revive_crashed(&mut self, findings: &mut Findings) -> Result<()> {
        for (i, e) in self.exporters.iter_mut().enumerate() {
            if !e.proc.running() {
                findings.push(format!(
                    "exporter-{i} exited by itself; log:\n{}",
                    e.proc.log_tail()
                ));
                warn!(exporter = i, "exited by itself: started again");
                e.respawn()?;
            }
        }
        for (i, r) in self.rulers.iter_mut().enumerate() {
            if let Some(p) = r.proc.as_mut()
                && !p.running()
            {
                findings.push(format!(
                    "ruler-{i} exited by itself; log:\n{}",
                    p.log_tail()
                ));
                warn!(ruler = i, "exited by itself: started again");
                r.proc = Some(r.launch.spawn()?);
                r.started = Instant::now();
            }
        }
        Ok(())
    }

    /// Name and process of every process running now.
    pub fn processes(&self) -> Vec<(String, &Proc)> {
        let mut out: Vec<(String, &Proc)> = self
            .exporters
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("exporter-{i}"), &e.proc))
            .collect();
        for (i, r) in self.rulers.iter().enumerate() {
            if let Some(p) = &r.proc {
                out.push((format!("ruler-{i}"), p));
            }
        }
        out
    }
}

/// Waits for a SIGTERM'd ruler to exit (killing it after its grace); notes an exit
/// that was not clean.
async fn wait_exit(p: &mut Proc, findings: &mut Findings) {
    let (clean, status) = p.wait_exit(SHUTDOWN_GRACE + Duration::from_secs(15)).await;
    if !clean || status != "exit status: 0" {
        findings.push(format!(
            "{} did not exit cleanly on SIGTERM ({status}, by itself: {clean}); log:\n{}",
            p.name(),
            p.log_tail()
        ));
    }
}

/// Waits until `e` holds the Lease.
async fn wait_leading(e: &mut Exporter, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = e.status().await?
            && s.leader
        {
            info!(url = %e.grpc_url, "exporter leads");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(crate::error::BenchError::Timeout {
                what: "the first exporter to lead".into(),
                secs: timeout.as_secs(),
                log: Some(e.proc.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `e` answers on gRPC (a standby answers too); notes it when it does not.
async fn wait_answering(e: &mut Exporter, timeout: Duration, findings: &mut Findings) {
    let deadline = Instant::now() + timeout;
    loop {
        match e.status().await {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(err) => {
                findings.push(format!("{}: {err}", e.proc.name()));
                return;
            }
        }
        if Instant::now() > deadline {
            findings.push(format!(
                "{} did not answer within {}s after a restart",
                e.proc.name(),
                timeout.as_secs()
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
