//! A deterministic, seeded generator of realistic cluster activity for demos, tests and
//! benchmarks.
//!
//! A [`Scenario`] owns a small simulated cluster (namespaces with labels, nodes,
//! deployments with ReplicaSets and pods, HPAs, CronJobs) and turns it into *incidents*:
//! crash-looping pods (BackOff, repeated with count bumps), image pull failures
//! (Failed / ErrImagePull / BackOff), deployment scaling (ScalingReplicaSet,
//! SuccessfulCreate, Scheduled, Pulled…), scheduling failures (FailedScheduling series),
//! node disk pressure (NodeHasDiskPressure, Evicted), HPA rescales and metric failures,
//! and CronJob/Job runs. Involved objects are written to the simulator first, with labels
//! and ownerReferences, so lookups find them — except the ones an incident deletes.
//! [`Mix::PodChurn`] replaces the incidents with pods coming and going, so that most
//! events are about objects that did not exist a moment before.
//!
//! The same seed gives the same sequence. With [`Clock::Virtual`] even names, UIDs and
//! timestamps are identical between runs; [`Clock::Wall`] stamps events with the real
//! time (what a live exporter with an age filter needs).
//!
//! ```no_run
//! # async fn demo(sim: herald_kubesim::Simulator) -> Result<(), herald_kubesim::SimError> {
//! use herald_kubesim::scenario::{Scenario, ScenarioConfig};
//! let mut scenario = Scenario::new(ScenarioConfig { seed: 7, ..ScenarioConfig::default() });
//! scenario.preload(&sim, 200_000, 100_000)?;              // bulk mode for benchmarks
//! scenario.run(&sim, 50.0, tokio::time::sleep(std::time::Duration::from_secs(60))).await; // 50 events/s
//! # Ok(()) }
//! ```

mod incidents;
mod rng;
mod world;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tracing::{debug, warn};

pub use self::rng::Rng;
use self::world::{Deployment, Emit, Pod, World, object_ref, pod_ref};
use crate::error::SimError;
use crate::model::event::Event;
use crate::model::meta::ObjectMeta;
use crate::sim::Simulator;
use crate::time::Time;

/// Where event timestamps come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The real time at generation.
    Wall,
    /// A simulated clock starting at `start` and advancing `tick` per generated write,
    /// which makes runs reproducible byte for byte.
    Virtual {
        /// First timestamp.
        start: DateTime<Utc>,
        /// Advance per write.
        tick: Duration,
    },
}

impl Clock {
    /// A virtual clock starting when the fixtures were captured, ticking 250 ms.
    pub fn virtual_default() -> Self {
        Self::Virtual {
            start: Utc
                .with_ymd_and_hms(2026, 11, 22, 2, 0, 0)
                .single()
                .unwrap_or_else(Utc::now),
            tick: Duration::from_millis(250),
        }
    }
}

/// What the steps after the setup do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mix {
    /// Incidents of every kind, with repeats of recurring events (the default).
    #[default]
    Incidents,
    /// Pod churn, as in a rollout or an autoscaler that never settles: every step
    /// replaces the oldest pod of the next deployment (round robin over all
    /// namespaces). The old pod's Killing event and deletion, the ReplicaSet's
    /// SuccessfulDelete and SuccessfulCreate, then the new pod and its Scheduled,
    /// Pulled, Created and Started: seven events, four of them about an object that did
    /// not exist a moment before. No repeats.
    PodChurn,
}

/// Scenario settings.
#[derive(Clone, Debug)]
pub struct ScenarioConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Number of namespaces.
    pub namespaces: usize,
    /// Number of nodes.
    pub nodes: usize,
    /// Deployments per namespace.
    pub apps_per_namespace: usize,
    /// Chance that a step repeats an earlier recurring event (a count bump) instead of
    /// starting a new incident.
    pub repeat_probability: f64,
    /// Timestamp source.
    pub clock: Clock,
    /// What the steps after the setup do.
    pub mix: Mix,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            namespaces: 4,
            nodes: 3,
            apps_per_namespace: 3,
            repeat_probability: 0.35,
            clock: Clock::Wall,
            mix: Mix::Incidents,
        }
    }
}

/// One write a scenario performs.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Create or update an object's metadata.
    Put {
        api_version: &'static str,
        kind: &'static str,
        meta: Box<ObjectMeta>,
    },
    /// Delete an object.
    Delete {
        api_version: &'static str,
        kind: &'static str,
        namespace: String,
        name: String,
    },
    /// Create an event.
    Event(Box<Event>),
    /// Record a repeat of an event.
    Bump {
        namespace: String,
        name: String,
        at: DateTime<Utc>,
    },
}

/// What a step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Events created.
    pub events_created: usize,
    /// Events repeated (count or series bumps).
    pub events_repeated: usize,
    /// Objects created, updated or deleted.
    pub objects_written: usize,
    /// Writes the simulator rejected (for example a bump of an event that expired).
    pub failed: usize,
}

impl StepReport {
    /// Event writes (creates and repeats).
    pub fn event_writes(&self) -> usize {
        self.events_created + self.events_repeated
    }

    fn add(&mut self, other: StepReport) {
        self.events_created += other.events_created;
        self.events_repeated += other.events_repeated;
        self.objects_written += other.objects_written;
        self.failed += other.failed;
    }
}

/// An Event write a step made: the Event and its occurrence count right after the
/// write (`count`, else `series.count`, else 1: the count an exporter sees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The Event's namespace.
    pub namespace: String,
    /// The Event's name.
    pub name: String,
    /// The Event's UID.
    pub uid: String,
    /// Its occurrence count after the write.
    pub occurrence: i64,
}

impl Written {
    /// Reads the stored Event back from `sim`; None when it is gone.
    fn read(sim: &Simulator, namespace: &str, name: &str) -> Option<Written> {
        let ev = sim.event(namespace, name)?;
        let positive = |v: &serde_json::Value| v.as_i64().filter(|c| *c > 0);
        let occurrence = positive(&ev["count"])
            .or_else(|| positive(&ev["series"]["count"]))
            .unwrap_or(1);
        Some(Written {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: ev["metadata"]["uid"].as_str()?.to_owned(),
            occurrence,
        })
    }
}

/// Totals of a bulk preload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreloadStats {
    /// Events created.
    pub events: usize,
    /// Distinct involved objects created.
    pub objects: usize,
    /// Wall time taken.
    pub elapsed: Duration,
}

/// Recurring events kept as repeat candidates.
const MAX_RECURRING: usize = 512;

/// A seeded activity generator (see the module docs).
#[derive(Debug)]
pub struct Scenario {
    cfg: ScenarioConfig,
    rng: Rng,
    world: World,
    now: DateTime<Utc>,
    started: bool,
    /// Events that repeat: (namespace, name).
    recurring: Vec<(String, String)>,
    /// The deployment whose pod the next churn step replaces.
    churn_next: usize,
}

impl Scenario {
    /// A scenario for `cfg`; nothing is written until the first step.
    pub fn new(cfg: ScenarioConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let world = World::generate(&mut rng, cfg.namespaces, cfg.nodes, cfg.apps_per_namespace);
        let now = match cfg.clock {
            Clock::Wall => Utc::now(),
            Clock::Virtual { start, .. } => start,
        };
        Self {
            cfg,
            rng,
            world,
            now,
            started: false,
            recurring: Vec::new(),
            churn_next: 0,
        }
    }

    /// The next timestamp.
    fn tick(&mut self) -> DateTime<Utc> {
        match self.cfg.clock {
            Clock::Wall => Utc::now(),
            Clock::Virtual { tick, .. } => {
                self.now += chrono::Duration::from_std(tick).unwrap_or_default();
                self.now
            }
        }
    }

    /// Names of the simulated namespaces.
    pub fn namespaces(&self) -> Vec<String> {
        self.world
            .namespaces
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// The initial objects: namespaces, nodes, workloads with owners, HPAs, CronJobs.
    fn setup_ops(&mut self) -> Vec<Op> {
        let created = Time::from(self.tick());
        let mut ops = Vec::new();
        for ns in self.world.namespaces.clone() {
            let uid = self.rng.uuid();
            ops.push(Op::Put {
                api_version: "v1",
                kind: "Namespace",
                meta: Box::new(World::namespace_meta(&ns, uid, created)),
            });
        }
        for node in &self.world.nodes {
            ops.push(Op::Put {
                api_version: "v1",
                kind: "Node",
                meta: Box::new(World::node_meta(node, created)),
            });
        }
        for d in &self.world.deployments {
            ops.extend(workload_ops(d, created));
            for pod in &d.pods {
                ops.push(Op::Put {
                    api_version: "v1",
                    kind: "Pod",
                    meta: Box::new(World::pod_meta(d, pod, created)),
                });
            }
        }
        for c in &self.world.cronjobs {
            ops.push(Op::Put {
                api_version: "batch/v1",
                kind: "CronJob",
                meta: Box::new(World::meta(
                    &c.namespace,
                    &c.name,
                    &c.uid,
                    &[("app", &c.name)],
                    None,
                    created,
                )),
            });
        }
        ops
    }

    /// Applies writes to the simulator; with `written`, every accepted Event write is
    /// read back and recorded there.
    fn apply(
        &mut self,
        sim: &Simulator,
        ops: Vec<Op>,
        mut written: Option<&mut Vec<Written>>,
    ) -> StepReport {
        let mut report = StepReport::default();
        for op in ops {
            let result = match op {
                Op::Put {
                    api_version,
                    kind,
                    meta,
                } => {
                    report.objects_written += 1;
                    sim.put_object_meta(api_version, kind, *meta).map(drop)
                }
                Op::Delete {
                    api_version,
                    kind,
                    namespace,
                    name,
                } => {
                    report.objects_written += 1;
                    sim.delete_object(api_version, kind, &namespace, &name)
                        .map(drop)
                }
                Op::Event(e) => {
                    report.events_created += 1;
                    let (ns, name) = (e.metadata.namespace.clone(), e.metadata.name.clone());
                    let r = sim.create_typed_event(*e).map(drop);
                    if let (Ok(()), Some(out)) = (&r, written.as_deref_mut()) {
                        out.extend(Written::read(sim, &ns, &name));
                    }
                    r
                }
                Op::Bump {
                    namespace,
                    name,
                    at,
                } => {
                    report.events_repeated += 1;
                    let r = sim.bump_count_at(&namespace, &name, at).map(drop);
                    if let (Ok(()), Some(out)) = (&r, written.as_deref_mut()) {
                        out.extend(Written::read(sim, &namespace, &name));
                    }
                    if matches!(r, Err(SimError::NotFound { .. })) {
                        self.recurring
                            .retain(|(ns, n)| !(ns == &namespace && n == &name));
                    }
                    r
                }
            };
            if let Err(error) = result {
                report.failed += 1;
                debug!(error = %error, "scenario write rejected");
            }
        }
        report
    }

    fn remember(&mut self, e: &Event) {
        if self.recurring.len() >= MAX_RECURRING {
            self.recurring.remove(0);
        }
        self.recurring
            .push((e.metadata.namespace.clone(), e.metadata.name.clone()));
    }

    /// Plans the next step without writing: the setup on the first call, then either a
    /// repeat of a recurring event or a new incident (or, with [`Mix::PodChurn`], one
    /// pod replaced).
    pub(crate) fn plan(&mut self) -> Vec<Op> {
        if self.cfg.mix == Mix::PodChurn {
            let mut ops = Vec::new();
            if !self.started {
                self.started = true;
                ops = self.setup_ops();
            }
            ops.extend(self.churn());
            return ops;
        }
        if !self.started {
            self.started = true;
            let mut ops = self.setup_ops();
            ops.extend(self.incident());
            return ops;
        }
        if !self.recurring.is_empty() && self.rng.chance(self.cfg.repeat_probability) {
            let i = self.rng.below(self.recurring.len());
            let (namespace, name) = self.recurring[i].clone();
            let at = self.tick();
            return vec![Op::Bump {
                namespace,
                name,
                at,
            }];
        }
        self.incident()
    }

    /// Performs one step against `sim`.
    pub fn step(&mut self, sim: &Simulator) -> StepReport {
        let ops = self.plan();
        self.apply(sim, ops, None)
    }

    /// [`Scenario::step`], also returning every Event write it made (for harnesses
    /// that check each occurrence arrives).
    pub fn step_written(&mut self, sim: &Simulator) -> (StepReport, Vec<Written>) {
        let ops = self.plan();
        let mut written = Vec::new();
        let report = self.apply(sim, ops, Some(&mut written));
        (report, written)
    }

    /// Runs steps at about `events_per_sec` event writes per second until `stop`
    /// completes. Returns the totals.
    pub async fn run(
        &mut self,
        sim: &Simulator,
        events_per_sec: f64,
        stop: impl Future<Output = ()>,
    ) -> StepReport {
        let per_event = Duration::from_secs_f64(1.0 / events_per_sec.clamp(0.001, 1_000_000.0));
        let mut total = StepReport::default();
        let mut next = tokio::time::Instant::now();
        tokio::pin!(stop);
        loop {
            let report = self.step(sim);
            total.add(report);
            let writes = u32::try_from(report.event_writes().max(1)).unwrap_or(u32::MAX);
            next += per_event.saturating_mul(writes);
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep_until(next) => {}
            }
        }
        total
    }

    /// Bulk mode: writes `objects` distinct pods (spread over the scenario's namespaces,
    /// owned by generated Deployments/ReplicaSets) and `events` events about them, as
    /// fast as the store takes them.
    ///
    /// # Errors
    /// The first write the simulator rejects.
    pub fn preload(
        &mut self,
        sim: &Simulator,
        events: usize,
        objects: usize,
    ) -> Result<PreloadStats, SimError> {
        let started = Instant::now();
        if !self.started {
            self.started = true;
            let ops = self.setup_ops();
            self.apply(sim, ops, None);
        }
        let objects = objects.max(1);
        let per_app = 100;
        let mut pods: Vec<(Deployment, Pod)> = Vec::with_capacity(objects);
        let mut app: Option<Deployment> = None;
        for i in 0..objects {
            if i % per_app == 0 {
                let ns = self.world.namespaces[(i / per_app) % self.world.namespaces.len()]
                    .name
                    .clone();
                let hash = self.rng.hex(10);
                let name = format!("load-{}", i / per_app);
                let d = Deployment {
                    namespace: ns,
                    rs_name: format!("{name}-{hash}"),
                    rs_hash: hash,
                    name,
                    uid: self.rng.uuid(),
                    image: "ghcr.io/acme/load:v1".to_owned(),
                    rs_uid: self.rng.uuid(),
                    pods: Vec::new(),
                    hpa_uid: None,
                };
                let created = Time::from(self.tick());
                for op in workload_ops(&d, created) {
                    if let Op::Put {
                        api_version,
                        kind,
                        meta,
                    } = op
                    {
                        sim.put_object_meta(api_version, kind, *meta)?;
                    }
                }
                app = Some(d);
            }
            let Some(d) = app.as_ref() else { continue };
            let pod = self.world.new_pod(&mut self.rng, d);
            sim.put_object_meta(
                "v1",
                "Pod",
                World::pod_meta(d, &pod, Time::from(self.tick())),
            )?;
            pods.push((d.clone(), pod));
        }
        const REASONS: &[(&str, bool)] = &[
            ("BackOff", true),
            ("Unhealthy", true),
            ("Pulled", false),
            ("Created", false),
            ("Started", false),
            ("Killing", false),
            ("FailedMount", true),
        ];
        for i in 0..events {
            let (d, pod) = &pods[i % pods.len()];
            let (reason, warning) = REASONS[self.rng.below(REASONS.len())];
            let message = match reason {
                "BackOff" => format!(
                    "Back-off restarting failed container {} in pod {}_{}({})",
                    d.container(),
                    pod.name,
                    d.namespace,
                    pod.uid
                ),
                "Unhealthy" => {
                    "Readiness probe failed: HTTP probe failed with statuscode: 503".to_owned()
                }
                "Pulled" => format!("Container image \"{}\" already present on machine", d.image),
                "Created" => format!("Created container {}", d.container()),
                "Started" => format!("Started container {}", d.container()),
                "Killing" => format!("Stopping container {}", d.container()),
                _ => format!(
                    "MountVolume.SetUp failed for volume \"config\" : configmap \"{}-config\" not found",
                    d.name
                ),
            };
            let at = self.tick();
            let r = pod_ref(d, pod);
            let e = self.world.core_event(
                &mut self.rng,
                &r,
                Emit {
                    reason,
                    message,
                    warning,
                    component: "kubelet",
                    host: &pod.node,
                    action: "",
                },
                at,
            );
            sim.create_typed_event(e)?;
        }
        let stats = PreloadStats {
            events,
            objects: pods.len(),
            elapsed: started.elapsed(),
        };
        if stats.elapsed > Duration::from_secs(60) {
            warn!(
                elapsed_ms = stats.elapsed.as_millis() as u64,
                "scenario preload was slow"
            );
        }
        Ok(stats)
    }
}

/// Deployment, ReplicaSet and (when present) HPA objects of a workload.
fn workload_ops(d: &Deployment, created: Time) -> Vec<Op> {
    let mut ops = vec![
        Op::Put {
            api_version: "apps/v1",
            kind: "Deployment",
            meta: Box::new(World::meta(
                &d.namespace,
                &d.name,
                &d.uid,
                &[("app", &d.name)],
                None,
                created,
            )),
        },
        Op::Put {
            api_version: "apps/v1",
            kind: "ReplicaSet",
            meta: Box::new(World::meta(
                &d.namespace,
                &d.rs_name,
                &d.rs_uid,
                &[("app", &d.name), ("pod-template-hash", &d.rs_hash)],
                Some(("apps/v1", "Deployment", &d.name, &d.uid)),
                created,
            )),
        },
    ];
    if let Some(uid) = &d.hpa_uid {
        ops.push(Op::Put {
            api_version: "autoscaling/v2",
            kind: "HorizontalPodAutoscaler",
            meta: Box::new(World::meta(
                &d.namespace,
                &d.name,
                uid,
                &[("app", &d.name)],
                None,
                created,
            )),
        });
    }
    ops
}

/// Reference to a deployment.
fn deployment_ref(d: &Deployment) -> world::Ref {
    object_ref("Deployment", "apps/v1", &d.namespace, &d.name, &d.uid)
}

/// Reference to a deployment's current ReplicaSet.
fn replicaset_ref(d: &Deployment) -> world::Ref {
    object_ref("ReplicaSet", "apps/v1", &d.namespace, &d.rs_name, &d.rs_uid)
}
