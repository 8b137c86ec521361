//! Incident templates: each turns the simulated cluster into the objects and events a
//! real cluster shows for that situation (messages as the controllers and kubelet word
//! them).

use super::world::{Emit, Pod, Ref, World, node_ref, object_ref, pod_object_ref, pod_ref};
use super::{Op, Scenario, deployment_ref, replicaset_ref};
use crate::model::event::Event;
use crate::time::Time;

/// Relative frequency of each incident, in `incident()` order.
const WEIGHTS: [u32; 8] = [18, 8, 16, 8, 4, 8, 10, 12];
/// Pods per deployment before a scale step scales down.
const MAX_PODS: usize = 8;
const SCHEDULER_INSTANCE: &str = "default-scheduler-control-plane";

fn kubelet<'a>(reason: &'a str, message: String, warning: bool, host: &'a str) -> Emit<'a> {
    Emit {
        reason,
        message,
        warning,
        component: "kubelet",
        host,
        action: "",
    }
}

fn controller<'a>(reason: &'a str, message: String, warning: bool, component: &'a str) -> Emit<'a> {
    Emit {
        reason,
        message,
        warning,
        component,
        host: "",
        action: "",
    }
}

fn scheduler<'a>(reason: &'a str, message: String, warning: bool, action: &'a str) -> Emit<'a> {
    Emit {
        reason,
        message,
        warning,
        component: "default-scheduler",
        host: SCHEDULER_INSTANCE,
        action,
    }
}

fn event(e: Event) -> Op {
    Op::Event(Box::new(e))
}

impl Scenario {
    fn core(&mut self, r: &Ref, emit: Emit<'_>) -> Event {
        let at = self.tick();
        self.world.core_event(&mut self.rng, r, emit, at)
    }

    fn sched(&mut self, r: &Ref, emit: Emit<'_>) -> Event {
        let at = self.tick();
        self.world.series_style_event(&mut self.rng, r, emit, at)
    }

    /// Events of a pod starting on its node: Scheduled, Pulled, Created, Started.
    fn pod_start(&mut self, namespace: &str, pod: &Pod, container: &str, image: &str) -> Vec<Op> {
        let obj = pod_object_ref(namespace, pod);
        let mut r = obj.clone();
        r.field_path = format!("spec.containers{{{container}}}");
        vec![
            event(self.sched(
                &obj,
                scheduler(
                    "Scheduled",
                    format!(
                        "Successfully assigned {namespace}/{} to {}",
                        pod.name, pod.node
                    ),
                    false,
                    "Binding",
                ),
            )),
            event(self.core(
                &r,
                kubelet(
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                    false,
                    &pod.node,
                ),
            )),
            event(self.core(
                &r,
                kubelet(
                    "Created",
                    format!("Created container {container}"),
                    false,
                    &pod.node,
                ),
            )),
            event(self.core(
                &r,
                kubelet(
                    "Started",
                    format!("Started container {container}"),
                    false,
                    &pod.node,
                ),
            )),
        ]
    }

    /// Picks the next incident.
    pub(super) fn incident(&mut self) -> Vec<Op> {
        match self.rng.weighted(&WEIGHTS) {
            0 => self.crash_loop(),
            1 => self.image_pull_failure(),
            2 => self.scale(),
            3 => self.failed_scheduling(),
            4 => self.node_pressure(),
            5 => self.autoscale(),
            6 => self.cron_run(),
            _ => self.probe_failure(),
        }
    }

    fn deployment_with_pods(&mut self) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.world.deployments.len())
            .filter(|i| !self.world.deployments[*i].pods.is_empty())
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.below(candidates.len())])
    }

    /// A container restarting over and over: BackOff, repeated later.
    fn crash_loop(&mut self) -> Vec<Op> {
        let Some(di) = self.deployment_with_pods() else {
            return self.scale();
        };
        let d = self.world.deployments[di].clone();
        let pod = d.pods[self.rng.below(d.pods.len())].clone();
        let message = format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            d.container(),
            pod.name,
            d.namespace,
            pod.uid
        );
        let e = self.core(
            &pod_ref(&d, &pod),
            kubelet("BackOff", message, true, &pod.node),
        );
        self.remember(&e);
        vec![event(e)]
    }

    /// A rollout to an image tag that does not exist.
    fn image_pull_failure(&mut self) -> Vec<Op> {
        let di = self.rng.below(self.world.deployments.len());
        let mut d = self.world.deployments[di].clone();
        let repo = d.image.split(':').next().unwrap_or("nginx").to_owned();
        let image = format!(
            "{repo}:v{}.{}.{}-rc{}",
            self.rng.range(1, 3),
            self.rng.range(0, 20),
            self.rng.range(0, 9),
            self.rng.range(1, 4)
        );
        d.rs_hash = self.rng.hex(10);
        d.rs_name = format!("{}-{}", d.name, d.rs_hash);
        d.rs_uid = self.rng.uuid();
        let pod = self.world.new_pod(&mut self.rng, &d);
        let created = Time::from(self.tick());
        let mut ops = vec![
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
            Op::Put {
                api_version: "v1",
                kind: "Pod",
                meta: Box::new(World::pod_meta(&d, &pod, created)),
            },
            event(self.core(
                &deployment_ref(&d),
                controller(
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {} to 1", d.rs_name),
                    false,
                    "deployment-controller",
                ),
            )),
            event(self.core(
                &replicaset_ref(&d),
                controller(
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name),
                    false,
                    "replicaset-controller",
                ),
            )),
        ];
        let obj = pod_object_ref(&d.namespace, &pod);
        ops.push(event(self.sched(
            &obj,
            scheduler(
                "Scheduled",
                format!(
                    "Successfully assigned {}/{} to {}",
                    d.namespace, pod.name, pod.node
                ),
                false,
                "Binding",
            ),
        )));
        let r = pod_ref(&d, &pod);
        let host = pod.node.clone();
        ops.push(event(self.core(
            &r,
            kubelet(
                "Pulling",
                format!("Pulling image \"{image}\""),
                false,
                &host,
            ),
        )));
        ops.push(event(self.core(
            &r,
            kubelet(
                "Failed",
                format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
                ),
                true,
                &host,
            ),
        )));
        ops.push(event(self.core(
            &r,
            kubelet("Failed", "Error: ErrImagePull".to_owned(), true, &host),
        )));
        let backoff = self.core(
            &r,
            kubelet(
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
                false,
                &host,
            ),
        );
        self.remember(&backoff);
        ops.push(event(backoff));
        let failed = self.core(
            &r,
            kubelet("Failed", "Error: ImagePullBackOff".to_owned(), true, &host),
        );
        self.remember(&failed);
        ops.push(event(failed));
        ops
    }

    /// A deployment scaled up (new pods start) or down (pods are killed and deleted).
    fn scale(&mut self) -> Vec<Op> {
        let di = self.rng.below(self.world.deployments.len());
        let d = self.world.deployments[di].clone();
        let mut ops = Vec::new();
        if d.pods.len() >= MAX_PODS || (d.pods.len() > 1 && self.rng.chance(0.4)) {
            let victim = d.pods[self.rng.below(d.pods.len())].clone();
            ops.push(event(self.core(
                &deployment_ref(&d),
                controller(
                    "ScalingReplicaSet",
                    format!(
                        "Scaled down replica set {} to {}",
                        d.rs_name,
                        d.pods.len() - 1
                    ),
                    false,
                    "deployment-controller",
                ),
            )));
            ops.push(event(self.core(
                &replicaset_ref(&d),
                controller(
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", victim.name),
                    false,
                    "replicaset-controller",
                ),
            )));
            ops.push(event(self.core(
                &pod_ref(&d, &victim),
                kubelet(
                    "Killing",
                    format!("Stopping container {}", d.container()),
                    false,
                    &victim.node,
                ),
            )));
            ops.push(Op::Delete {
                api_version: "v1",
                kind: "Pod",
                namespace: d.namespace.clone(),
                name: victim.name.clone(),
            });
            self.world.deployments[di]
                .pods
                .retain(|p| p.name != victim.name);
            return ops;
        }
        let k = self.rng.range(1, 3).min(MAX_PODS - d.pods.len());
        ops.push(event(self.core(
            &deployment_ref(&d),
            controller(
                "ScalingReplicaSet",
                format!(
                    "Scaled up replica set {} to {}",
                    d.rs_name,
                    d.pods.len() + k
                ),
                false,
                "deployment-controller",
            ),
        )));
        for _ in 0..k {
            let pod = self.world.new_pod(&mut self.rng, &d);
            let created = Time::from(self.tick());
            ops.push(Op::Put {
                api_version: "v1",
                kind: "Pod",
                meta: Box::new(World::pod_meta(&d, &pod, created)),
            });
            ops.push(event(self.core(
                &replicaset_ref(&d),
                controller(
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name),
                    false,
                    "replicaset-controller",
                ),
            )));
            ops.extend(self.pod_start(&d.namespace, &pod, d.container(), &d.image));
            self.world.deployments[di].pods.push(pod);
        }
        ops
    }

    /// One step of pod churn: the oldest pod of the next deployment (round robin) is
    /// killed and deleted, and a new one is created and started.
    pub(super) fn churn(&mut self) -> Vec<Op> {
        let di = self.churn_next % self.world.deployments.len();
        self.churn_next = self.churn_next.wrapping_add(1);
        let d = self.world.deployments[di].clone();
        let mut ops = Vec::new();
        if let Some(victim) = d.pods.first().cloned() {
            ops.push(event(self.core(
                &replicaset_ref(&d),
                controller(
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", victim.name),
                    false,
                    "replicaset-controller",
                ),
            )));
            ops.push(event(self.core(
                &pod_ref(&d, &victim),
                kubelet(
                    "Killing",
                    format!("Stopping container {}", d.container()),
                    false,
                    &victim.node,
                ),
            )));
            ops.push(Op::Delete {
                api_version: "v1",
                kind: "Pod",
                namespace: d.namespace.clone(),
                name: victim.name.clone(),
            });
            self.world.deployments[di].pods.remove(0);
        }
        let pod = self.world.new_pod(&mut self.rng, &d);
        let created = Time::from(self.tick());
        ops.push(Op::Put {
            api_version: "v1",
            kind: "Pod",
            meta: Box::new(World::pod_meta(&d, &pod, created)),
        });
        ops.push(event(self.core(
            &replicaset_ref(&d),
            controller(
                "SuccessfulCreate",
                format!("Created pod: {}", pod.name),
                false,
                "replicaset-controller",
            ),
        )));
        ops.extend(self.pod_start(&d.namespace, &pod, d.container(), &d.image));
        self.world.deployments[di].pods.push(pod);
        ops
    }

    /// A pod no node can take: a FailedScheduling series.
    fn failed_scheduling(&mut self) -> Vec<Op> {
        let di = self.rng.below(self.world.deployments.len());
        let d = self.world.deployments[di].clone();
        let mut pod = self.world.new_pod(&mut self.rng, &d);
        pod.node.clear();
        let n = self.world.nodes.len();
        let created = Time::from(self.tick());
        let mut ops = vec![
            Op::Put {
                api_version: "v1",
                kind: "Pod",
                meta: Box::new(World::pod_meta(&d, &pod, created)),
            },
            event(self.core(
                &replicaset_ref(&d),
                controller(
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name),
                    false,
                    "replicaset-controller",
                ),
            )),
        ];
        let e = self.sched(
            &pod_object_ref(&d.namespace, &pod),
            scheduler(
                "FailedScheduling",
                format!(
                    "0/{n} nodes are available: {n} Insufficient cpu. preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod."
                ),
                true,
                "Scheduling",
            ),
        );
        self.remember(&e);
        ops.push(event(e));
        ops
    }

    /// A node under disk pressure evicting pods, or recovering.
    fn node_pressure(&mut self) -> Vec<Op> {
        let ni = self.rng.below(self.world.nodes.len());
        let node = self.world.nodes[ni].clone();
        let r = node_ref(&node);
        if node.disk_pressure {
            self.world.nodes[ni].disk_pressure = false;
            return vec![event(self.core(
                &r,
                kubelet(
                    "NodeHasNoDiskPressure",
                    format!("Node {} status is now: NodeHasNoDiskPressure", node.name),
                    false,
                    &node.name,
                ),
            ))];
        }
        self.world.nodes[ni].disk_pressure = true;
        let mut ops = vec![
            event(self.core(
                &r,
                kubelet(
                    "NodeHasDiskPressure",
                    format!("Node {} status is now: NodeHasDiskPressure", node.name),
                    false,
                    &node.name,
                ),
            )),
            event(self.core(
                &r,
                kubelet(
                    "EvictionThresholdMet",
                    "Attempting to reclaim ephemeral-storage".to_owned(),
                    true,
                    &node.name,
                ),
            )),
        ];
        let mut evicted = 0;
        for di in 0..self.world.deployments.len() {
            if evicted >= 2 {
                break;
            }
            let d = self.world.deployments[di].clone();
            let Some(pod) = d.pods.iter().find(|p| p.node == node.name).cloned() else {
                continue;
            };
            evicted += 1;
            let obj = pod_object_ref(&d.namespace, &pod);
            ops.push(event(self.core(
                &obj,
                kubelet(
                    "Evicted",
                    format!(
                        "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8476Ki. Container {} was using 2Gi, request is 0, has larger consumption of ephemeral-storage.",
                        d.container()
                    ),
                    true,
                    &node.name,
                ),
            )));
            ops.push(event(self.core(
                &pod_ref(&d, &pod),
                kubelet(
                    "Killing",
                    format!("Stopping container {}", d.container()),
                    false,
                    &node.name,
                ),
            )));
            ops.push(Op::Delete {
                api_version: "v1",
                kind: "Pod",
                namespace: d.namespace.clone(),
                name: pod.name.clone(),
            });
            self.world.deployments[di]
                .pods
                .retain(|p| p.name != pod.name);
        }
        ops
    }

    /// An HPA rescaling, or failing to read metrics (recurring).
    fn autoscale(&mut self) -> Vec<Op> {
        let with_hpa: Vec<usize> = (0..self.world.deployments.len())
            .filter(|i| self.world.deployments[*i].hpa_uid.is_some())
            .collect();
        if with_hpa.is_empty() {
            return self.crash_loop();
        }
        let d = self.world.deployments[with_hpa[self.rng.below(with_hpa.len())]].clone();
        let r = object_ref(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            &d.namespace,
            &d.name,
            d.hpa_uid.as_deref().unwrap_or_default(),
        );
        if self.rng.chance(0.6) {
            let size = self.rng.range(2, 10);
            return vec![event(self.core(
                &r,
                controller(
                    "SuccessfulRescale",
                    format!("New size: {size}; reason: cpu resource utilization (percentage of request) above target"),
                    false,
                    "horizontal-pod-autoscaler",
                ),
            ))];
        }
        let e = self.core(
            &r,
            controller(
                "FailedGetResourceMetric",
                "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API".to_owned(),
                true,
                "horizontal-pod-autoscaler",
            ),
        );
        self.remember(&e);
        vec![event(e)]
    }

    /// A CronJob run: Job and pod created, pod started, Job completed or failed.
    fn cron_run(&mut self) -> Vec<Op> {
        if self.world.cronjobs.is_empty() {
            return self.scale();
        }
        let ci = self.rng.below(self.world.cronjobs.len());
        self.world.cronjobs[ci].runs += 1;
        let c = self.world.cronjobs[ci].clone();
        let job = format!("{}-{}", c.name, 29_921_850 + c.runs);
        let job_uid = self.rng.uuid();
        let node = self.world.nodes[self.rng.below(self.world.nodes.len())]
            .name
            .clone();
        let pod = Pod {
            name: format!("{job}-{}", self.rng.suffix(5)),
            uid: self.rng.uuid(),
            node,
        };
        let created = Time::from(self.tick());
        let cron_ref = object_ref("CronJob", "batch/v1", &c.namespace, &c.name, &c.uid);
        let job_ref = object_ref("Job", "batch/v1", &c.namespace, &job, &job_uid);
        let mut ops = vec![
            Op::Put {
                api_version: "batch/v1",
                kind: "Job",
                meta: Box::new(World::meta(
                    &c.namespace,
                    &job,
                    &job_uid,
                    &[("job-name", &job)],
                    Some(("batch/v1", "CronJob", &c.name, &c.uid)),
                    created,
                )),
            },
            Op::Put {
                api_version: "v1",
                kind: "Pod",
                meta: Box::new(World::meta(
                    &c.namespace,
                    &pod.name,
                    &pod.uid,
                    &[("job-name", &job), ("controller-uid", &job_uid)],
                    Some(("batch/v1", "Job", &job, &job_uid)),
                    created,
                )),
            },
            event(self.core(
                &cron_ref,
                controller(
                    "SuccessfulCreate",
                    format!("Created job {job}"),
                    false,
                    "cronjob-controller",
                ),
            )),
            event(self.core(
                &job_ref,
                controller(
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name),
                    false,
                    "job-controller",
                ),
            )),
        ];
        ops.extend(self.pod_start(&c.namespace, &pod, &c.name, "busybox:1.36"));
        if self.rng.chance(0.75) {
            ops.push(event(self.core(
                &job_ref,
                controller(
                    "Completed",
                    "Job completed".to_owned(),
                    false,
                    "job-controller",
                ),
            )));
            ops.push(event(self.core(
                &cron_ref,
                controller(
                    "SawCompletedJob",
                    format!("Saw completed job: {job}, status: Complete"),
                    false,
                    "cronjob-controller",
                ),
            )));
        } else {
            ops.push(event(self.core(
                &job_ref,
                controller(
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit".to_owned(),
                    true,
                    "job-controller",
                ),
            )));
            ops.push(event(self.core(
                &cron_ref,
                controller(
                    "SawCompletedJob",
                    format!("Saw completed job: {job}, status: Failed"),
                    false,
                    "cronjob-controller",
                ),
            )));
        }
        ops
    }

    /// Failing readiness or liveness probes (recurring).
    fn probe_failure(&mut self) -> Vec<Op> {
        let Some(di) = self.deployment_with_pods() else {
            return self.scale();
        };
        let d = self.world.deployments[di].clone();
        let pod = d.pods[self.rng.below(d.pods.len())].clone();
        let message = if self.rng.chance(0.5) {
            "Readiness probe failed: HTTP probe failed with statuscode: 503".to_owned()
        } else {
            let (a, b) = (self.rng.range(1, 9), self.rng.range(2, 250));
            format!(
                "Liveness probe failed: Get \"http://10.244.{a}.{b}:8080/healthz\": dial tcp 10.244.{a}.{b}:8080: connect: connection refused"
            )
        };
        let e = self.core(
            &pod_ref(&d, &pod),
            kubelet("Unhealthy", message, true, &pod.node),
        );
        self.remember(&e);
        vec![event(e)]
    }
}
