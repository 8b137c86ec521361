//! Errors returned by the simulator's Rust API.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors from starting, driving or configuring a [`crate::Simulator`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listener could not be bound.
    #[error("failed to bind simulator listener on {addr}")]
    Bind {
        /// Address that was requested.
        addr: SocketAddr,
        /// Underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Generating the test PKI failed.
    #[error("failed to generate test certificates")]
    CertGen(#[source] rcgen::Error),
    /// Building the rustls server configuration failed.
    #[error("failed to build tls configuration")]
    Tls(#[source] rustls::Error),
    /// Building the client-certificate verifier failed.
    #[error("failed to build client certificate verifier")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// An object passed to the store is not a valid Kubernetes object of its kind.
    #[error("invalid object: {0}")]
    InvalidObject(String),
    /// The object failed the API server's validation rules (the message is the Status message).
    #[error("{0}")]
    Invalid(String),
    /// The object does not exist.
    #[error("{resource} {namespace}/{name} not found")]
    NotFound {
        /// Resource (plural) of the object.
        resource: String,
        /// Namespace, empty for cluster-scoped objects.
        namespace: String,
        /// Object name.
        name: String,
    },
    /// An object with that name already exists.
    #[error("{resource} {namespace}/{name} already exists")]
    AlreadyExists {
        /// Resource (plural) of the object.
        resource: String,
        /// Namespace, empty for cluster-scoped objects.
        namespace: String,
        /// Object name.
        name: String,
    },
    /// The kind is not served by the simulator (register it first).
    #[error("kind {kind} in {api_version} is not served by the simulator")]
    UnknownKind {
        /// The `apiVersion` that was given.
        api_version: String,
        /// The `kind` that was given.
        kind: String,
    },
    /// The requested kubeconfig needs a feature the simulator was not started with.
    #[error("kubeconfig auth {0} is not available with this simulator configuration")]
    AuthUnavailable(&'static str),
    /// Writing a file failed.
    #[error("failed to write {path}")]
    Write {
        /// File that could not be written.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// An embedded fixture file could not be decoded.
    #[error("embedded fixture {name} is malformed")]
    Fixture {
        /// Fixture file name.
        name: &'static str,
        /// Decoding error.
        #[source]
        source: serde_json::Error,
    },
}
