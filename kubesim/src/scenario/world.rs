//! The simulated cluster a scenario evolves: namespaces, nodes, workloads and the
//! builders for their objects and events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::rng::Rng;
use crate::model::event::{Event, EventSource, ObjectReference};
use crate::model::fields::default_event_managed_fields;
use crate::model::meta::{ObjectMeta, OwnerReference};
use crate::time::{MicroTime, Time};

/// Namespace names, with the team owning each.
const NAMESPACES: &[(&str, &str)] = &[
    ("shop", "commerce"),
    ("payments", "fintech"),
    ("search", "discovery"),
    ("checkout", "commerce"),
    ("platform", "infra"),
    ("data", "analytics"),
    ("monitoring", "sre"),
    ("identity", "security"),
];
/// Deployment names.
const APPS: &[&str] = &[
    "web",
    "api",
    "worker",
    "cache",
    "gateway",
    "auth",
    "cart",
    "indexer",
    "notifier",
    "scheduler",
];
/// Image repositories.
const IMAGES: &[&str] = &[
    "nginx:1.25",
    "redis:7.2",
    "ghcr.io/acme/api:v2.14.1",
    "ghcr.io/acme/worker:v1.9.0",
    "envoyproxy/envoy:v1.29.1",
    "busybox:1.36",
];
/// CronJob names.
const CRONJOBS: &[&str] = &["report", "backup", "cleanup", "sync"];

/// What an event says and who reports it.
#[derive(Clone, Debug)]
pub struct Emit<'a> {
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: String,
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// `source.component`, or `reportingController` for events.k8s.io-style events.
    pub component: &'a str,
    /// `source.host`, or `reportingInstance`.
    pub host: &'a str,
    /// `action` (events.k8s.io-style events only).
    pub action: &'a str,
}

/// A reference to an involved object.
#[derive(Clone, Debug)]
pub struct Ref {
    /// Kind.
    pub kind: &'static str,
    /// API version.
    pub api_version: &'static str,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (kubelet uses the node name for its Node events).
    pub uid: String,
    /// Field path (`spec.containers{name}`).
    pub field_path: String,
}

impl Ref {
    fn object_reference(&self, with_api_version: bool) -> ObjectReference {
        ObjectReference {
            kind: self.kind.to_owned(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            api_version: if with_api_version {
                self.api_version.to_owned()
            } else {
                String::new()
            },
            resource_version: String::new(),
            field_path: self.field_path.clone(),
        }
    }

    /// Namespace the event about this object lives in.
    pub fn event_namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

/// A namespace.
#[derive(Clone, Debug)]
pub struct NamespaceInfo {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A node.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Object UID.
    pub uid: String,
    /// Whether it currently reports disk pressure.
    pub disk_pressure: bool,
}

/// A pod.
#[derive(Clone, Debug)]
pub struct Pod {
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Node it runs on (empty when unscheduled).
    pub node: String,
}

/// A deployment with its current ReplicaSet and pods.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Container image.
    pub image: String,
    /// Current ReplicaSet name.
    pub rs_name: String,
    /// Current ReplicaSet pod-template hash.
    pub rs_hash: String,
    /// Current ReplicaSet UID.
    pub rs_uid: String,
    /// Running pods.
    pub pods: Vec<Pod>,
    /// UID of its HorizontalPodAutoscaler, if it has one.
    pub hpa_uid: Option<String>,
}

impl Deployment {
    /// The container name.
    pub fn container(&self) -> &str {
        &self.name
    }
}

/// A CronJob.
#[derive(Clone, Debug)]
pub struct CronJob {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Runs so far.
    pub runs: u64,
}

/// Builds Kubernetes-shaped names, objects and events from a seeded generator.
#[derive(Debug)]
pub struct World {
    /// Namespaces.
    pub namespaces: Vec<NamespaceInfo>,
    /// Nodes.
    pub nodes: Vec<NodeInfo>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// CronJobs.
    pub cronjobs: Vec<CronJob>,
    /// Event name uniquifier.
    seq: u64,
}

impl World {
    /// Generates the initial cluster.
    pub fn generate(
        rng: &mut Rng,
        namespaces: usize,
        nodes: usize,
        apps_per_namespace: usize,
    ) -> Self {
        let mut world = Self {
            namespaces: Vec::new(),
            nodes: Vec::new(),
            deployments: Vec::new(),
            cronjobs: Vec::new(),
            seq: 0,
        };
        for i in 0..namespaces.max(1) {
            let (base, team) = NAMESPACES[i % NAMESPACES.len()];
            let name = if i < NAMESPACES.len() {
                base.to_owned()
            } else {
                format!("{base}-{}", i / NAMESPACES.len())
            };
            let mut labels = BTreeMap::new();
            labels.insert("team".to_owned(), team.to_owned());
            labels.insert(
                "env".to_owned(),
                if i % 3 == 2 { "staging" } else { "production" }.to_owned(),
            );
            labels.insert(
                "tier".to_owned(),
                if i % 2 == 0 { "frontend" } else { "backend" }.to_owned(),
            );
            world.namespaces.push(NamespaceInfo { name, labels });
        }
        for i in 0..nodes.max(1) {
            world.nodes.push(NodeInfo {
                name: format!("worker-{}", i + 1),
                uid: rng.uuid(),
                disk_pressure: false,
            });
        }
        for ns in world.namespaces.clone() {
            for a in 0..apps_per_namespace.max(1) {
                let name = APPS[a % APPS.len()].to_owned();
                let name = if a < APPS.len() {
                    name
                } else {
                    format!("{name}-{}", a / APPS.len())
                };
                let hash = rng.hex(10);
                let mut d = Deployment {
                    namespace: ns.name.clone(),
                    rs_name: format!("{name}-{hash}"),
                    rs_hash: hash,
                    name,
                    uid: rng.uuid(),
                    image: (*rng.pick(IMAGES)).to_owned(),
                    rs_uid: rng.uuid(),
                    pods: Vec::new(),
                    hpa_uid: None,
                };
                if rng.chance(0.4) {
                    d.hpa_uid = Some(rng.uuid());
                }
                for _ in 0..rng.range(1, 3) {
                    let pod = world.new_pod(rng, &d);
                    d.pods.push(pod);
                }
                world.deployments.push(d);
            }
            if rng.chance(0.5) {
                world.cronjobs.push(CronJob {
                    namespace: ns.name.clone(),
                    name: (*rng.pick(CRONJOBS)).to_owned(),
                    uid: rng.uuid(),
                    runs: 0,
                });
            }
        }
        world
    }

    /// A new pod of `d`'s current ReplicaSet, on a random node.
    pub fn new_pod(&self, rng: &mut Rng, d: &Deployment) -> Pod {
        Pod {
            name: format!("{}-{}", d.rs_name, rng.suffix(5)),
            uid: rng.uuid(),
            node: self.nodes[rng.below(self.nodes.len())].name.clone(),
        }
    }

    /// Metadata of a namespace object.
    pub fn namespace_meta(ns: &NamespaceInfo, uid: String, created: Time) -> ObjectMeta {
        ObjectMeta {
            name: ns.name.clone(),
            uid,
            creation_timestamp: Some(created),
            labels: ns.labels.clone(),
            ..ObjectMeta::default()
        }
    }

    /// Metadata of a node.
    pub fn node_meta(node: &NodeInfo, created: Time) -> ObjectMeta {
        let mut labels = BTreeMap::new();
        labels.insert("kubernetes.io/hostname".to_owned(), node.name.clone());
        labels.insert("kubernetes.io/os".to_owned(), "linux".to_owned());
        labels.insert("node-role.kubernetes.io/worker".to_owned(), String::new());
        ObjectMeta {
            name: node.name.clone(),
            uid: node.uid.clone(),
            creation_timestamp: Some(created),
            labels,
            ..ObjectMeta::default()
        }
    }

    /// Metadata of a namespaced object with labels and an optional controller owner.
    pub fn meta(
        namespace: &str,
        name: &str,
        uid: &str,
        labels: &[(&str, &str)],
        owner: Option<(&str, &str, &str, &str)>,
        created: Time,
    ) -> ObjectMeta {
        ObjectMeta {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            uid: uid.to_owned(),
            creation_timestamp: Some(created),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            owner_references: owner
                .map(|(api_version, kind, name, uid)| {
                    vec![OwnerReference {
                        api_version: api_version.to_owned(),
                        kind: kind.to_owned(),
                        name: name.to_owned(),
                        uid: uid.to_owned(),
                        controller: Some(true),
                        block_owner_deletion: Some(true),
                    }]
                })
                .unwrap_or_default(),
            ..ObjectMeta::default()
        }
    }

    /// Metadata of a pod of `d`.
    pub fn pod_meta(d: &Deployment, pod: &Pod, created: Time) -> ObjectMeta {
        Self::meta(
            &d.namespace,
            &pod.name,
            &pod.uid,
            &[("app", &d.name), ("pod-template-hash", &d.rs_hash)],
            Some(("apps/v1", "ReplicaSet", &d.rs_name, &d.rs_uid)),
            created,
        )
    }

    fn event_name(&mut self, object: &str, at: DateTime<Utc>) -> String {
        self.seq += 1;
        let nanos = at.timestamp_nanos_opt().unwrap_or_default().unsigned_abs() + self.seq;
        format!("{object}.{nanos:x}")
    }

    /// An event in the core/v1 recorder's shape (controllers and kubelet): `source`
    /// is `component`/`host`.
    pub fn core_event(
        &mut self,
        rng: &mut Rng,
        r: &Ref,
        emit: Emit<'_>,
        at: DateTime<Utc>,
    ) -> Event {
        let time = Time::from(at);
        let mut e = Event {
            involved_object: r.object_reference(r.kind != "Node" || !r.namespace.is_empty()),
            reason: emit.reason.to_owned(),
            message: emit.message,
            source: EventSource {
                component: emit.component.to_owned(),
                host: emit.host.to_owned(),
            },
            first_timestamp: Some(time),
            last_timestamp: Some(time),
            count: 1,
            type_: if emit.warning { "Warning" } else { "Normal" }.to_owned(),
            ..Event::default()
        };
        e.metadata.name = self.event_name(&r.name, at);
        e.metadata.namespace = r.event_namespace().to_owned();
        e.metadata.uid = rng.uuid();
        e.metadata.creation_timestamp = Some(time);
        default_event_managed_fields(&mut e, time);
        e
    }

    /// An event written through `events.k8s.io/v1` (the scheduler's shape):
    /// `component`/`host` become `reportingController`/`reportingInstance`.
    pub fn series_style_event(
        &mut self,
        rng: &mut Rng,
        r: &Ref,
        emit: Emit<'_>,
        at: DateTime<Utc>,
    ) -> Event {
        let mut e = Event {
            involved_object: r.object_reference(true),
            reason: emit.reason.to_owned(),
            message: emit.message,
            type_: if emit.warning { "Warning" } else { "Normal" }.to_owned(),
            event_time: Some(MicroTime::from(at)),
            action: emit.action.to_owned(),
            reporting_component: emit.component.to_owned(),
            reporting_instance: emit.host.to_owned(),
            ..Event::default()
        };
        e.metadata.name = self.event_name(&r.name, at);
        e.metadata.namespace = r.event_namespace().to_owned();
        e.metadata.uid = rng.uuid();
        e.metadata.creation_timestamp = Some(Time::from(at));
        default_event_managed_fields(&mut e, Time::from(at));
        e
    }
}

/// Reference to a pod's container.
pub fn pod_ref(d: &Deployment, pod: &Pod) -> Ref {
    Ref {
        kind: "Pod",
        api_version: "v1",
        namespace: d.namespace.clone(),
        name: pod.name.clone(),
        uid: pod.uid.clone(),
        field_path: format!("spec.containers{{{}}}", d.container()),
    }
}

/// Reference to a pod itself (scheduler events).
pub fn pod_object_ref(namespace: &str, pod: &Pod) -> Ref {
    Ref {
        kind: "Pod",
        api_version: "v1",
        namespace: namespace.to_owned(),
        name: pod.name.clone(),
        uid: pod.uid.clone(),
        field_path: String::new(),
    }
}

/// Reference to a namespaced object.
pub fn object_ref(
    kind: &'static str,
    api_version: &'static str,
    namespace: &str,
    name: &str,
    uid: &str,
) -> Ref {
    Ref {
        kind,
        api_version,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        field_path: String::new(),
    }
}

/// Reference to a node as kubelet records it (uid = node name, no apiVersion).
pub fn node_ref(node: &NodeInfo) -> Ref {
    Ref {
        kind: "Node",
        api_version: "v1",
        namespace: String::new(),
        name: node.name.clone(),
        uid: node.name.clone(),
        field_path: String::new(),
    }
}
