//! moto_server (an AWS fake in Python, `HERALD_MOTO_BIN`, set by `.ci/test`)
//! on a free port, stopped when dropped, and its Python helper that creates
//! resources and reads them back with boto3.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// A running moto_server.
pub struct Moto {
    child: Child,
    python: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn bin() -> Option<PathBuf> {
    let Some(bin) = std::env::var_os("HERALD_MOTO_BIN") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "HERALD_MOTO_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!\n!!! SKIPPED: HERALD_MOTO_BIN is not set, the moto_server test did not run \
             (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
        );
        return None;
    };
    Some(PathBuf::from(bin))
}

impl Moto {
    /// Starts moto_server on a free port, or returns `None` (loudly) when
    /// `HERALD_MOTO_BIN` is unset outside CI; in CI a missing peer fails.
    pub async fn start() -> Option<Moto> {
        let port = free_port();
        Some(Moto::start_on(bin()?, port).await)
    }

    /// Starts moto_server on `port`.
    pub async fn start_on(bin: PathBuf, port: u16) -> Moto {
        let python = bin.with_file_name("python");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            python,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// The moto_server binary, when the peer is installed.
    pub fn bin() -> Option<PathBuf> {
        bin()
    }

    /// Runs the helper's `command` and returns its JSON answer.
    pub fn helper(&self, args: &[&str]) -> serde_json::Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/moto_helper.py");
        let out = Command::new(&self.python)
            .arg(script)
            .arg(&self.url)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the moto helper runs");
        assert!(
            out.status.success(),
            "moto helper {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the helper prints JSON")
    }
}

/// An SDK configuration for moto: region `us-east-1`, fixed credentials, the
/// SDK's retries off.
pub fn sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .retry_config(RetryConfig::disabled())
        .build()
}
