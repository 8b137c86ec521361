//! herald's binaries as child processes: located next to the `herald` binary cargo
//! built for these tests, logs captured to files, killed when dropped (also when a
//! test fails).

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The log filter given to every process (quiet HTTP/2 and kube internals).
pub const LOG_FILTER: &str =
    "info,h2=warn,hyper=warn,tower=warn,kube=warn,kube_client=off,rustls=warn";

/// Path of one of herald's binaries (`herald`, `herald-exporter`, `herald-ruler`).
///
/// Binaries of other packages are not in `CARGO_BIN_EXE_*` for this package's tests;
/// cargo puts every binary of the workspace in the same directory.
pub fn bin(name: &str) -> PathBuf {
    let herald = PathBuf::from(env!("CARGO_BIN_EXE_herald"));
    if name == "herald" {
        return herald;
    }
    let path = herald.with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: these tests run every herald binary; build them first \
         (`cargo build --workspace --bins`; `bash .ci/test` does)",
        path.display()
    );
    path
}

/// A free localhost port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// A running child process with its log (stderr) in a file.
pub struct Proc {
    name: String,
    child: Child,
    stderr: PathBuf,
}

impl Proc {
    /// Starts `cmd`; stderr goes to `<dir>/<name>.log` (appended, so a restarted
    /// process keeps its history), stdout is discarded.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Proc {
        let stderr = dir.join(format!("{name}.log"));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", stderr.display()));
        cmd.stdout(Stdio::null())
            .stderr(log)
            .stdin(Stdio::null())
            .env("HERALD_LOG", LOG_FILTER)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBECONFIG")
            .env_remove("HERALD_CONFIG");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_owned(),
            child,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Panics with the process log when it has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early with {status}; log:\n{}",
                self.name,
                self.log()
            );
        }
    }

    /// Waits until `port` on 127.0.0.1 accepts connections.
    pub async fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} never listened on {port}; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `GET <metrics>/-/ready` answers 200.
    pub async fn wait_ready(&mut self, metrics: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.assert_running();
            if let Ok(r) = reqwest::get(format!("{metrics}/-/ready")).await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never became ready; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit (at most `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "cannot send SIGTERM to {}",
            self.name
        );
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for a child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?} of SIGTERM; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `cmd` to completion with `stdin` closed, killing it after `timeout`.
pub fn run_to_end(mut cmd: Command, timeout: Duration) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let create = |p: &Path| File::create(p).expect("create an output file");
    cmd.stdout(create(&out))
        .stderr(create(&err))
        .stdin(Stdio::null())
        .env("HERALD_LOG", LOG_FILTER)
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_EXPORTER")
        .env_remove("HERALD_TOKEN");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {timeout:?}; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    }
}

/// [`run_to_end`] from async code (on a blocking thread, so the runtime keeps serving
/// the simulator and HTTP targets meanwhile).
pub async fn run_to_end_async(cmd: Command, timeout: Duration) -> Output {
    tokio::task::spawn_blocking(move || run_to_end(cmd, timeout))
        .await
        .expect("the command runner panicked")
}
