//! Test harness: a simulated cluster, `herald-exporter` processes and gRPC consumers.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator};
use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// A free localhost port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a simulator (plain HTTP, anonymous).
pub async fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).await.unwrap()
}

/// An event body for the simulator.
pub fn event(
    ns: &str,
    name: &str,
    reason: &str,
    last_seen: chrono::DateTime<chrono::Utc>,
) -> Value {
    let ts = last_seen.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": format!("pod-{name}"), "apiVersion": "v1", "uid": format!("pod-uid-{name}")},
        "reason": reason,
        "message": format!("{reason} for {name}"),
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
        "type": "Warning",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-a"
    })
}

/// Creates `n` fresh events named `<prefix>-<i>` in namespace `ns`.
pub fn create_events(sim: &Simulator, ns: &str, prefix: &str, n: usize) {
    for i in 0..n {
        sim.create_event(event(
            ns,
            &format!("{prefix}-{i}"),
            "BackOff",
            chrono::Utc::now(),
        ))
        .unwrap();
    }
}

/// A running exporter process.
pub struct ExporterProc {
    pub child: Child,
    pub grpc: String,
    pub metrics: String,
    pub log: PathBuf,
}

/// Everything an exporter needs on disk.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Setup {
    pub fn new(sim: &Simulator) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig, KubeconfigAuth::Anonymous)
            .unwrap();
        Setup { dir, kubeconfig }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a config file with `extra` YAML appended to the test defaults.
    pub fn config(&self, name: &str, extra: &str) -> PathBuf {
        let p = self.path(name);
        let text = format!(
            "logLevel: debug\nkubeQPS: 1000\nkubeBurst: 1000\nmaxEventAgeSeconds: 3600\nomitLookup: true\nexporter:\n  subscribers:\n    ackTimeout: 3s\n  watch:\n    timeout: 5s\n{extra}"
        );
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Path of the exporter binary built by cargo for this package's tests.
pub fn exporter_bin() -> &'static str {
    env!("CARGO_BIN_EXE_herald-exporter")
}

impl ExporterProc {
    /// Starts `herald-exporter` with `config` and `data_dir`; waits until gRPC accepts
    /// connections (readiness is checked separately).
    pub async fn start(
        setup: &Setup,
        config: &Path,
        data_dir: &str,
        extra_env: &[(&str, &str)],
    ) -> ExporterProc {
        let grpc_port = free_port();
        let metrics_port = free_port();
        let log = setup.path(&format!("{data_dir}-{grpc_port}.log"));
        let logfile = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(exporter_bin());
        cmd.arg(format!("-conf={}", config.display()))
            .arg(format!("-kubeconfig={}", setup.kubeconfig.display()))
            .arg("--grpc-address")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("-metrics-address")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--data-dir")
            .arg(setup.path(data_dir))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBECONFIG")
            .env(
                "HERALD_LOG",
                "debug,h2=warn,hyper=warn,tower=warn,kube=warn,kube_client=off,rustls=warn",
            )
            .stdout(Stdio::null())
            .stderr(logfile);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let p = ExporterProc {
            child,
            grpc: format!("http://127.0.0.1:{grpc_port}"),
            metrics: format!("http://127.0.0.1:{metrics_port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", grpc_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "exporter did not listen; log:\n{}",
                p.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        p
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/-/ready` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/-/ready", self.metrics)).await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "exporter never became ready; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code.
    pub fn terminate(self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.wait_exit()
    }

    /// Waits (at most 20 s) for the process to exit after a signal sent elsewhere;
    /// returns its exit code.
    pub fn wait_exit(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                if st.code() != Some(0) {
                    eprintln!("exporter exited with {st}; log:\n{}", self.log_text());
                }
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "exporter did not stop on SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The metrics endpoint's text.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// SIGKILL.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn status(&self) -> pb::LogStatus {
        let mut c = EventLogClient::connect(self.grpc.clone()).await.unwrap();
        c.get_log_status(pb::GetLogStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until the log's last offset reaches `n`.
    pub async fn wait_logged(&self, n: u64) {
        // generous: after several injected failures the watch backs off up to 30 s
        let deadline = Instant::now() + Duration::from_secs(75);
        loop {
            let s = self.status().await;
            if s.last_offset >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} events logged; log:\n{}",
                s.last_offset,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ExporterProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads every event from `url` as an ephemeral tail from the beginning, until no new
/// event arrives for `idle`.
pub async fn tail_all(url: &str, idle: Duration) -> Vec<pb::Event> {
    let mut member = Member::join(url, "", "tail", 10_000).await;
    let mut out = Vec::new();
    while let Some(batch) = member.next(idle).await {
        out.extend(batch.events);
    }
    out
}

/// Idempotency key → how many times it was seen.
pub fn key_counts(events: &[pb::Event]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in events {
        *m.entry(e.idempotency_key.clone()).or_insert(0) += 1;
    }
    m
}

/// A subscriber connection.
pub struct Member {
    tx: mpsc::Sender<pb::SubscribeRequest>,
    rx: tonic::Streaming<pb::SubscribeResponse>,
    pub welcome: pb::Welcome,
}

impl Member {
    pub async fn join(url: &str, group: &str, member: &str, credits: u32) -> Member {
        use pb::subscribe_request::Request as Msg;
        let mut c = EventLogClient::connect(url.to_owned()).await.unwrap();
        let (tx, rx) = mpsc::channel(16);
        tx.send(pb::SubscribeRequest {
            request: Some(Msg::Hello(pb::Hello {
                group: group.into(),
                member_id: member.into(),
                ..Default::default()
            })),
        })
        .await
        .unwrap();
        tx.send(pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: credits })),
        })
        .await
        .unwrap();
        let mut rx = c
            .subscribe(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let welcome = match rx.message().await.unwrap() {
            Some(pb::SubscribeResponse {
                response: Some(pb::subscribe_response::Response::Welcome(w)),
            }) => w,
            other => panic!("expected welcome, got {other:?}"),
        };
        Member { tx, rx, welcome }
    }

    /// Next batch, or None after `idle` without one (or when the stream ends).
    pub async fn next(&mut self, idle: Duration) -> Option<pb::EventBatch> {
        loop {
            match tokio::time::timeout(idle, self.rx.message()).await {
                Ok(Ok(Some(pb::SubscribeResponse {
                    response: Some(pb::subscribe_response::Response::Batch(b)),
                }))) => return Some(b),
                Ok(Ok(Some(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Acknowledges offsets and grants as many new credits.
    pub async fn ack(&self, offsets: Vec<u64>) {
        use pb::subscribe_request::Request as Msg;
        let n = offsets.len() as u32;
        self.tx
            .send(pb::SubscribeRequest {
                request: Some(Msg::Ack(pb::Ack { offsets })),
            })
            .await
            .unwrap();
        self.tx
            .send(pb::SubscribeRequest {
                request: Some(Msg::Credit(pb::Credit { events: n })),
            })
            .await
            .unwrap();
    }
}

impl Member {
    /// Tries to subscribe; returns the gRPC status on refusal.
    pub async fn try_join(url: &str) -> Result<(), tonic::Status> {
        use pb::subscribe_request::Request as Msg;
        let mut c = EventLogClient::connect(url.to_owned()).await.unwrap();
        let (tx, rx) = mpsc::channel(4);
        tx.send(pb::SubscribeRequest {
            request: Some(Msg::Hello(pb::Hello::default())),
        })
        .await
        .unwrap();
        let mut rx = c.subscribe(ReceiverStream::new(rx)).await?.into_inner();
        rx.message().await?;
        Ok(())
    }
}

impl Member {
    /// Sends a `Sync` with `token`.
    pub async fn sync(&self, token: u64) {
        use pb::subscribe_request::Request as Msg;
        self.tx
            .send(pb::SubscribeRequest {
                request: Some(Msg::Sync(pb::Sync { token })),
            })
            .await
            .unwrap();
    }

    /// The next server message of any kind (None when the stream ends).
    pub async fn next_message(&mut self) -> Option<pb::subscribe_response::Response> {
        self.rx
            .message()
            .await
            .ok()
            .flatten()
            .and_then(|m| m.response)
    }
}
