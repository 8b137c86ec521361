//! A simulated cluster with herald around it: the API simulator, a scratch directory
//! (kubeconfig, configs, data, receiver output) and `herald-exporter`, `herald-ruler`
//! and `herald run` processes started against them.

use std::path::{Path, PathBuf};
use std::process::Command;

use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator};
use serde_json::{Value, json};

use super::procs::{Proc, bin, free_port};

/// Settings every test config starts with: JSON logs (tests read warnings), a long
/// event age (events are created "now" but the runs must not race the cut-off) and no
/// client-side rate limit towards the simulator.
pub const BASE_CONFIG: &str = "\
logLevel: info
logFormat: json
clusterName: e2e
metricsNamePrefix: event_exporter_
maxEventAgeSeconds: 3600
kubeQPS: 1000
kubeBurst: 1000
";

/// A config that routes every event to one file receiver `archive` writing to `path`;
/// `layout` is the receiver's YAML `layout:` block (six-space indented lines) or "".
pub fn archive_config(path: &Path, layout: &str) -> String {
    format!(
        "{BASE_CONFIG}omitLookup: true
route:
  routes:
    - match:
        - receiver: archive
receivers:
  - name: archive
    file:
      path: {}
{layout}",
        path.display()
    )
}

/// The simulator and a scratch directory.
pub struct Cluster {
    /// The simulated API server.
    pub sim: Simulator,
    /// Scratch directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// Anonymous kubeconfig pointing at the simulator.
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts a plain-HTTP, anonymous simulator.
    pub async fn start() -> Cluster {
        let sim = Simulator::start(SimConfig::default())
            .await
            .expect("start the API simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig, KubeconfigAuth::Anonymous)
            .expect("write the kubeconfig");
        Cluster {
            sim,
            dir,
            kubeconfig,
        }
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write a file");
        p
    }

    /// Creates (or updates) a namespace and a pod with `labels`, so the exporter's
    /// involved-object lookup finds them.
    pub fn put_pod(&self, namespace: &str, name: &str, labels: &[(&str, &str)]) {
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        self.sim
            .put_object("v1", "Namespace", json!({ "name": namespace }))
            .expect("put a namespace");
        self.sim
            .put_object(
                "v1",
                "Pod",
                json!({ "name": name, "namespace": namespace, "labels": labels }),
            )
            .expect("put a pod");
    }

    /// Creates an event; its uid is given so the idempotency key (`<uid>-<count>`) is
    /// known in advance.
    pub fn create_event(&self, e: &EventSpec<'_>) {
        self.sim
            .create_event(e.to_json())
            .unwrap_or_else(|err| panic!("create event {}: {err}", e.name));
    }

    /// Creates events `{prefix}-{i:03}` (uid `{prefix}-uid-{i:03}`) about pod
    /// `shop/web-0` for every `i` in `range`: a Warning BackOff, or a Normal Pulled
    /// where `warning(i)` is false. Returns their idempotency keys.
    pub fn create_numbered(
        &self,
        prefix: &str,
        range: std::ops::Range<usize>,
        warning: impl Fn(usize) -> bool,
    ) -> Vec<String> {
        range
            .map(|i| {
                let w = warning(i);
                let spec = EventSpec {
                    namespace: "shop",
                    name: format!("{prefix}-{i:03}"),
                    uid: format!("{prefix}-uid-{i:03}"),
                    pod: "web-0",
                    event_type: if w { "Warning" } else { "Normal" },
                    reason: if w { "BackOff" } else { "Pulled" },
                };
                self.create_event(&spec);
                spec.key(1)
            })
            .collect()
    }
}

/// A Warning or Normal event about a pod.
#[derive(Debug, Clone)]
pub struct EventSpec<'a> {
    /// Namespace of the event and the pod.
    pub namespace: &'a str,
    /// Event name.
    pub name: String,
    /// Event uid.
    pub uid: String,
    /// Involved pod.
    pub pod: &'a str,
    /// `Warning` or `Normal`.
    pub event_type: &'a str,
    /// Reason.
    pub reason: &'a str,
}

impl EventSpec<'_> {
    /// The idempotency key of occurrence `count`.
    pub fn key(&self, count: u32) -> String {
        format!("{}-{count}", self.uid)
    }

    /// The event as the API server would store it.
    pub fn to_json(&self) -> Value {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        json!({
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
            "involvedObject": {"kind": "Pod", "namespace": self.namespace, "name": self.pod, "apiVersion": "v1"},
            "reason": self.reason,
            "message": format!("{} of {} <{}>", self.reason, self.pod, self.name),
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": self.event_type,
            "reportingComponent": "kubelet",
            "reportingInstance": "node-a"
        })
    }
}

/// A `herald-exporter` process; restartable with the same ports and data directory.
pub struct Exporter {
    /// The process.
    pub proc: Proc,
    /// gRPC port.
    pub grpc_port: u16,
    /// Metrics and health port.
    pub metrics_port: u16,
    command: ExporterCommand,
}

/// How an exporter process is started (again, by [`Exporter::restart`]).
struct ExporterCommand {
    name: String,
    env: Vec<(String, String)>,
    config: PathBuf,
    kubeconfig: PathBuf,
    data_dir: PathBuf,
    log_dir: PathBuf,
    grpc_port: u16,
    metrics_port: u16,
}

impl ExporterCommand {
    fn spawn(&self) -> Proc {
        let mut cmd = Command::new(bin("herald-exporter"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--grpc-address")
            .arg(format!("127.0.0.1:{}", self.grpc_port))
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{}", self.metrics_port))
            .arg("--data-dir")
            .arg(&self.data_dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Proc::spawn(&self.name, cmd, &self.log_dir)
    }
}

impl Exporter {
    /// Starts an exporter with `config` and waits until it is ready.
    pub async fn start(cluster: &Cluster, config: &Path) -> Exporter {
        let mut ex = Self::launch(cluster, config, "exporter", &[]).await;
        ex.wait_ready().await;
        ex
    }

    /// Starts an exporter called `name` (data directory `<name>-data`, log
    /// `<name>.log`) with extra environment `env`, and waits until its gRPC port
    /// listens: a leader-election standby is never ready.
    pub async fn launch(
        cluster: &Cluster,
        config: &Path,
        name: &str,
        env: &[(&str, &str)],
    ) -> Exporter {
        let command = ExporterCommand {
            name: name.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            config: config.to_owned(),
            kubeconfig: cluster.kubeconfig.clone(),
            data_dir: cluster.path(&format!("{name}-data")),
            log_dir: cluster.dir.path().to_owned(),
            grpc_port: free_port(),
            metrics_port: free_port(),
        };
        let mut proc = command.spawn();
        proc.wait_listening(command.grpc_port).await;
        Exporter {
            proc,
            grpc_port: command.grpc_port,
            metrics_port: command.metrics_port,
            command,
        }
    }

    async fn wait_ready(&mut self) {
        self.proc.wait_listening(self.grpc_port).await;
        let metrics = self.metrics_url();
        self.proc.wait_ready(&metrics).await;
    }

    /// SIGTERM (asserting a clean exit), then a new process on the same ports and data
    /// directory.
    pub async fn restart(&mut self) {
        let status = self
            .proc
            .terminate(std::time::Duration::from_secs(20))
            .await;
        assert!(
            status.success(),
            "exporter exited with {status} on SIGTERM; log:\n{}",
            self.proc.log()
        );
        self.proc = self.command.spawn();
        self.wait_ready().await;
    }

    /// SIGKILL, then a new process on the same ports and data directory.
    pub async fn kill9_and_restart(&mut self) {
        self.proc.kill9();
        self.proc = self.command.spawn();
        self.wait_ready().await;
    }

    /// A new process on the same ports and data directory after the old one was
    /// killed (as a StatefulSet brings a pod back with its volume); waits until its
    /// gRPC port listens, not until it is ready (a standby never is).
    pub async fn relaunch(&mut self) {
        self.proc = self.command.spawn();
        self.proc.wait_listening(self.grpc_port).await;
    }

    /// The gRPC URL.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The metrics URL.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }
}

/// A `herald-ruler` process.
pub struct Ruler {
    /// The process.
    pub proc: Proc,
    /// Metrics and health port.
    pub metrics_port: u16,
}

impl Ruler {
    /// Starts a ruler as group member `member` (its `HOSTNAME`) with extra environment
    /// `env`, and waits until it is connected and ready.
    pub async fn start(
        cluster: &Cluster,
        config: &Path,
        exporter: &str,
        member: &str,
        env: &[(&str, &str)],
    ) -> Ruler {
        Self::start_with_exporters(cluster, config, &[exporter], member, env).await
    }

    /// [`Ruler::start`] subscribed to every exporter of `exporters` (a leader and its
    /// standby: the ruler is ready once one of them serves it).
    pub async fn start_with_exporters(
        cluster: &Cluster,
        config: &Path,
        exporters: &[&str],
        member: &str,
        env: &[(&str, &str)],
    ) -> Ruler {
        let metrics_port = free_port();
        let mut cmd = Command::new(bin("herald-ruler"));
        cmd.arg("--config").arg(config);
        for exporter in exporters {
            cmd.arg("--exporter").arg(exporter);
        }
        cmd.arg("--metrics-address")
            .arg(format!("127.0.0.1:{metrics_port}"))
            // used when the config watches `Rule` objects (ruler.ruleObjects)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .env("HOSTNAME", member);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn(member, cmd, cluster.dir.path());
        proc.wait_ready(&format!("http://127.0.0.1:{metrics_port}"))
            .await;
        Ruler { proc, metrics_port }
    }

    /// The metrics URL.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }
}

/// `herald run` (exporter and ruler in one process).
pub struct Combined {
    /// The process.
    pub proc: Proc,
    /// gRPC port (third-party consumers).
    pub grpc_port: u16,
    /// Metrics and health port.
    pub metrics_port: u16,
}

impl Combined {
    /// Starts `herald run` with `config` and waits until it is ready.
    pub async fn start(cluster: &Cluster, config: &Path) -> Combined {
        Self::start_with_env(cluster, config, &[]).await
    }

    /// [`Combined::start`] with extra environment `env`.
    pub async fn start_with_env(
        cluster: &Cluster,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Combined {
        let (grpc_port, metrics_port) = (free_port(), free_port());
        let mut cmd = Command::new(bin("herald"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.arg("run")
            .arg("--config")
            .arg(config)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .arg("--grpc-address")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--data-dir")
            .arg(cluster.path("combined-data"));
        let mut proc = Proc::spawn("combined", cmd, cluster.dir.path());
        proc.wait_listening(grpc_port).await;
        proc.wait_ready(&format!("http://127.0.0.1:{metrics_port}"))
            .await;
        Combined {
            proc,
            grpc_port,
            metrics_port,
        }
    }

    /// The gRPC URL.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The metrics URL.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }
}
