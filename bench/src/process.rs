//! The processes under test: `herald-exporter` and `herald-ruler` started with a
//! generated config, stopped (killed) when dropped, with their CPU time and memory
//! readable from `/proc`. A [`Launch`] keeps how a process was started, so that it can
//! be started again the same way (same config, ports, data directory) after a kill.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;

use crate::error::{BenchError, Result, io_err};
use crate::procfs::{self, Memory};

/// A free localhost port (bound, then released for the child to take).
///
/// # Errors
/// No port can be bound.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("cannot bind", "127.0.0.1:0"))?;
    let port = l
        .local_addr()
        .map_err(io_err("cannot bind", "127.0.0.1:0"))?
        .port();
    Ok(port)
}

/// A child process killed on drop, whose stderr goes to a log file.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: std::process::Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd`, sending its stdout nowhere and its stderr to `log` (appended to,
    /// so a restarted process keeps its predecessor's lines).
    ///
    /// # Errors
    /// The log cannot be created or the program cannot be started.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io_err("cannot create", log))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: name.to_owned(),
                source,
            })?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time used so far (zero once it is gone).
    pub fn cpu(&self) -> Duration {
        procfs::process_cpu(self.pid()).unwrap_or_default()
    }

    /// Current and peak RSS.
    pub fn memory(&self) -> Memory {
        procfs::process_memory(self.pid()).unwrap_or_default()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Fails when the process has exited.
    ///
    /// # Errors
    /// [`BenchError::Exited`] with its log.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Exited {
                name: self.name.clone(),
                status: status.to_string(),
                log: Some(self.log_tail()),
            }),
            Err(e) => Err(BenchError::Spawn {
                program: self.name.clone(),
                source: e,
            }),
        }
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`, …) without waiting.
    ///
    /// # Errors
    /// `kill` cannot be run.
    pub fn signal(&self, signal: &str) -> Result<()> {
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .map_err(|source| BenchError::Spawn {
                program: "kill".into(),
                source,
            })?;
        Ok(())
    }

    /// [`Proc::terminate`] without blocking the async runtime: SIGTERM, then up to
    /// `grace` for the process to exit (then SIGKILL). Returns whether it exited by
    /// itself, and its exit status.
    ///
    /// # Errors
    /// `kill` cannot be run.
    pub async fn terminate_async(&mut self, grace: Duration) -> Result<(bool, String)> {
        self.signal("TERM")?;
        Ok(self.wait_exit(grace).await)
    }

    /// Waits up to `grace` for the process to exit (then SIGKILL). Returns whether it
    /// exited by itself, and its exit status.
    pub async fn wait_exit(&mut self, grace: Duration) -> (bool, String) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (true, status.to_string());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string());
        (false, status)
    }

    /// Sends SIGTERM and waits up to `grace` for the process to exit (then kills it).
    /// Returns how long it took to stop.
    ///
    /// # Errors
    /// `kill` cannot be run.
    pub fn terminate(&mut self, grace: Duration) -> Result<Duration> {
        let started = Instant::now();
        Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .map_err(|source| BenchError::Spawn {
                program: "kill".into(),
                source,
            })?;
        while started.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(started.elapsed())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment variables that would point a child at a real cluster.
const CLEARED_ENV: &[&str] = &["KUBERNETES_SERVICE_HOST", "KUBECONFIG", "HERALD_CONFIG"];

/// How a process is started: program, arguments, environment and log file. Started
/// again after a kill, it is the same process (same config, ports, data directory).
#[derive(Debug, Clone)]
pub struct Launch {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    log: PathBuf,
}

impl Launch {
    /// A launch of `program` called `name`, logging to `log`.
    pub fn new(name: &str, program: &Path, log: PathBuf) -> Launch {
        Launch {
            name: name.to_owned(),
            program: program.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            log,
        }
    }

    fn arg(&mut self, a: impl Into<OsString>) -> &mut Launch {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn with_args<S: Into<OsString>>(mut self, args: impl IntoIterator<Item = S>) -> Launch {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(&mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> &mut Launch {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Starts the process (again).
    ///
    /// # Errors
    /// The log cannot be opened or the program cannot be started.
    pub fn spawn(&self) -> Result<Proc> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        Proc::spawn(&self.name, cmd, &self.log)
    }
}

/// How to start an exporter.
#[derive(Debug, Clone)]
pub struct ExporterSpec<'a> {
    /// The binary.
    pub bin: &'a Path,
    /// Where config and log files go.
    pub work: &'a Path,
    /// Written by the simulator.
    pub kubeconfig: &'a Path,
    /// The durable log directory.
    pub data_dir: &'a Path,
    /// Config file text.
    pub config: String,
    /// Used in file names and errors.
    pub name: &'a str,
}

/// A running exporter.
#[derive(Debug)]
pub struct Exporter {
    /// The process.
    pub proc: Proc,
    /// gRPC URL.
    pub grpc_url: String,
    /// Admin (metrics) URL.
    pub metrics_url: String,
    /// When it was (last) started.
    pub started: Instant,
    client: Option<EventLogClient<Channel>>,
    launch: Launch,
}

impl Exporter {
    /// Writes the config and starts the process (it is not ready yet).
    ///
    /// # Errors
    /// Files cannot be written or the process cannot start.
    pub fn start(spec: &ExporterSpec<'_>) -> Result<Exporter> {
        Exporter::start_with_env(spec, &[])
    }

    /// [`Exporter::start`] with extra environment variables.
    ///
    /// # Errors
    /// Files cannot be written or the process cannot start.
    pub fn start_with_env(spec: &ExporterSpec<'_>, env: &[(&str, &str)]) -> Result<Exporter> {
        let config = spec.work.join(format!("{}.yaml", spec.name));
        std::fs::write(&config, &spec.config).map_err(io_err("cannot write", &config))?;
        let grpc_port = free_port()?;
        let metrics_port = free_port()?;
        let log = spec.work.join(format!("{}.log", spec.name));
        let mut launch = Launch::new(spec.name, spec.bin, log);
        launch
            .arg(format!("-conf={}", config.display()))
            .arg(format!("-kubeconfig={}", spec.kubeconfig.display()))
            .arg("--grpc-address")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("-metrics-address")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--data-dir")
            .arg(spec.data_dir)
            .env("HERALD_LOG", "warn");
        for (k, v) in env {
            launch.env(k, v);
        }
        let started = Instant::now();
        let proc = launch.spawn()?;
        Ok(Exporter {
            proc,
            grpc_url: format!("http://127.0.0.1:{grpc_port}"),
            metrics_url: format!("http://127.0.0.1:{metrics_port}"),
            started,
            client: None,
            launch,
        })
    }

    /// Starts the exporter again (after it was killed or stopped): same config, ports
    /// and data directory.
    ///
    /// # Errors
    /// The process cannot start.
    pub fn respawn(&mut self) -> Result<()> {
        self.proc.kill9();
        self.client = None;
        self.started = Instant::now();
        self.proc = self.launch.spawn()?;
        Ok(())
    }

    /// The log status, connecting first if needed; None while the exporter does not
    /// answer yet.
    ///
    /// # Errors
    /// The process exited.
    pub async fn status(&mut self) -> Result<Option<pb::LogStatus>> {
        self.proc.check_alive()?;
        if self.client.is_none() {
            match EventLogClient::connect(self.grpc_url.clone()).await {
                Ok(c) => self.client = Some(c),
                Err(_) => return Ok(None),
            }
        }
        let Some(client) = self.client.as_mut() else {
            return Ok(None);
        };
        match client.get_log_status(pb::GetLogStatusRequest {}).await {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(_) => {
                self.client = None;
                Ok(None)
            }
        }
    }

    /// The value of the unlabelled metric `name` on `/metrics`; None when it cannot be
    /// read.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.metrics_url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
    }

    /// Reads the events at offsets `from..from + n`: through an ephemeral tail when
    /// `group` is empty (only a leading exporter serves those), else as a new consumer
    /// group of that name, which a standby serves too (use a name not used before:
    /// an existing group continues from its own position).
    ///
    /// # Errors
    /// The subscription fails or ends early.
    pub async fn read_events(&self, from: u64, n: u32, group: &str) -> Result<Vec<pb::Event>> {
        use pb::subscribe_request::Request as Msg;
        use pb::subscribe_response::Response as In;
        let grpc = |e: &dyn std::fmt::Display| BenchError::Grpc(e.to_string());
        let mut client = EventLogClient::connect(self.grpc_url.clone())
            .await
            .map_err(|e| grpc(&e))?;
        let hello = pb::SubscribeRequest {
            request: Some(Msg::Hello(pb::Hello {
                start: Some(pb::StartPosition {
                    position: Some(pb::start_position::Position::Offset(from)),
                }),
                max_batch_size: n,
                group: group.to_owned(),
                member_id: "herald-bench-reader".to_owned(),
                ..pb::Hello::default()
            })),
        };
        let credit = pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: n })),
        };
        let requests = tokio_stream::iter([hello, credit]).chain(tokio_stream::pending());
        let mut stream = client
            .subscribe(requests)
            .await
            .map_err(|e| grpc(&e))?
            .into_inner();
        let mut out = Vec::new();
        while out.len() < n as usize {
            let msg = tokio::time::timeout(Duration::from_secs(10), stream.message())
                .await
                .map_err(|e| grpc(&e))?
                .map_err(|e| grpc(&e))?;
            match msg.and_then(|m| m.response) {
                Some(In::Batch(b)) => out.extend(b.events),
                Some(_) => {}
                None => return Err(BenchError::Grpc("the tail ended early".into())),
            }
        }
        Ok(out)
    }

    /// Waits until the log's last offset reaches `n`; returns when it did and the last
    /// offset seen.
    ///
    /// # Errors
    /// Timeout, or the process exited.
    pub async fn wait_logged(&mut self, n: u64, timeout: Duration) -> Result<(Instant, u64)> {
        let deadline = Instant::now() + timeout;
        let mut last = 0;
        loop {
            if let Some(s) = self.status().await? {
                last = s.last_offset;
                if last >= n {
                    return Ok((Instant::now(), last));
                }
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: format!("{n} events in the exporter's log (last offset {last})"),
                    secs: timeout.as_secs(),
                    log: Some(self.proc.log_tail()),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// How to start a ruler.
#[derive(Debug, Clone)]
pub struct RulerSpec<'a> {
    /// The binary.
    pub bin: &'a Path,
    /// Where config and log files go.
    pub work: &'a Path,
    /// Config file text.
    pub config: String,
    /// Exporter URL.
    pub exporter: &'a str,
    /// Path of the `dump` receiver's file (`HERALD_BENCH_DUMP`).
    pub dump: &'a Path,
    /// Used in file names, as member id and in errors.
    pub name: &'a str,
}

/// Starts a ruler.
///
/// # Errors
/// Files cannot be written or the process cannot start.
pub fn start_ruler(spec: &RulerSpec<'_>) -> Result<Proc> {
    ruler_launch(spec, &[])?.spawn()
}

/// How to start a ruler of `spec` that also subscribes to `more_exporters` (a leader
/// election standby): writes its config, picks its metrics port.
///
/// # Errors
/// The config cannot be written or no port is free.
pub fn ruler_launch(spec: &RulerSpec<'_>, more_exporters: &[&str]) -> Result<Launch> {
    let config = spec.work.join(format!("{}.yaml", spec.name));
    std::fs::write(&config, &spec.config).map_err(io_err("cannot write", &config))?;
    let metrics_port = free_port()?;
    let log = spec.work.join(format!("{}.log", spec.name));
    let mut launch = Launch::new(spec.name, spec.bin, log);
    launch.arg("--config").arg(&config);
    for exporter in std::iter::once(&spec.exporter).chain(more_exporters) {
        launch.arg("--exporter").arg(*exporter);
    }
    launch
        .arg("--metrics-address")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .env("HERALD_LOG", "warn")
        .env("HERALD_BENCH_DUMP", spec.dump)
        .env("HERALD_BENCH_DISCARD", "/dev/null");
    Ok(launch)
}
