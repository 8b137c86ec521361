//! Why the exporter stops: the typed errors of the parts it wires together.

use std::path::PathBuf;

use crate::grpc::GrpcError;
use crate::ingest::IngestError;
use crate::kube::{ClientError, LeaderError};
use crate::store::StoreError;

/// Why the exporter stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The durable log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ingest pipeline stopped on a failure of the durable log.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The Kubernetes client could not be built (an unusable kubeconfig or service
    /// account; an unreachable API server is retried instead).
    #[error("kubernetes client: {0}")]
    Kube(#[source] Box<ClientError>),
    /// The gRPC server could not start.
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    /// TLS or token files could not be read.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// Leader election cannot be configured.
    #[error("leader election: {0}")]
    Leader(#[from] LeaderError),
    /// A task of the exporter panicked or was cancelled.
    #[error("{what} task failed: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// What happened to it.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// A file the gRPC server needs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A TLS certificate, key or client CA file.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `exporter.grpc.authTokenFile`.
    #[error("exporter.grpc auth tokens: {0}")]
    Tokens(#[source] std::io::Error),
}

impl From<ClientError> for ExporterError {
    fn from(e: ClientError) -> Self {
        ExporterError::Kube(Box::new(e))
    }
}
