//! The harness's error type.

use std::path::PathBuf;

/// Why a benchmark could not run (as opposed to running and missing its target, which
/// is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or directory operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A child process could not be started or stopped.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building the exporter and ruler binaries failed.
    #[error(
        "building the herald binaries failed ({0}); run the cargo command above by hand to see why"
    )]
    Build(String),
    /// The API simulator refused a write or could not start.
    #[error("simulator: {0}")]
    Sim(#[from] herald_kubesim::SimError),
    /// A benchmark fixture (route tree, receivers, events) is invalid.
    #[error("fixture {name}: {message}")]
    Fixture {
        /// Fixture name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A process did not reach the expected state in time.
    #[error("timed out after {secs}s waiting for {what}{}", log_tail(.log))]
    Timeout {
        /// What was awaited.
        what: String,
        /// Seconds waited.
        secs: u64,
        /// The last lines of the process's log, when there is one.
        log: Option<String>,
    },
    /// A process under test exited early.
    #[error("{name} exited unexpectedly ({status}){}", log_tail(.log))]
    Exited {
        /// Process name.
        name: String,
        /// Its exit status.
        status: String,
        /// The last lines of its log.
        log: Option<String>,
    },
    /// gRPC to the exporter or from the synthetic source failed.
    #[error("gRPC: {0}")]
    Grpc(String),
    /// An HTTP request to the simulator failed.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The results could not be encoded.
    #[error("results: {0}")]
    Json(#[from] serde_json::Error),
    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// A measurement contradicts the scenario (lost or duplicated events).
    #[error("{0}")]
    Invalid(String),
}

fn log_tail(log: &Option<String>) -> String {
    match log {
        Some(l) if !l.is_empty() => format!("; last log lines:\n{l}"),
        _ => String::new(),
    }
}

/// Result alias of the harness.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Attaches a path and an action to an I/O error.
pub fn io_err(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> BenchError {
    let path = path.into();
    move |source| BenchError::Io { what, path, source }
}
