//! herald exporter: watches Kubernetes Events, logs every occurrence exactly once in a
//! durable log, and serves the log to consumer groups over gRPC.

pub mod app;
pub mod grpc;
pub mod handoff;
pub mod hub;
pub mod ingest;
pub mod kube;
pub mod metrics;
pub mod occurrences;
pub mod store;
