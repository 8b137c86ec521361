//! The exporter's Kubernetes side.
//!
//! * [`client`]: builds a [`kube::Client`] from `--kubeconfig`, the in-cluster service
//!   account, `KUBECONFIG` or `~/.kube/config`, with a client-side rate limiter.
//! * [`api`]: raw list / watch / metadata / discovery / Lease calls with one error
//!   classification ([`ApiError`]).
//! * [`watcher`]: the list+watch state machine that resumes from a resourceVersion.
//! * [`enrich`]: involved-object enrichment with cached discovery and metadata (kept
//!   compact by `packed`), Pods from a metadata-only list+watch (`metadata_watch`),
//!   within what the rate limiter ([`limiter`]) has to spare.
//! * [`leader`]: Lease leader election that carries a checkpoint across failovers.
//! * [`stats`]: counters the metrics module exports.

pub mod api;
pub mod backoff;
mod cache;
pub mod client;
mod discovery;
pub mod enrich;
pub mod error;
pub mod leader;
mod lease;
pub mod limiter;
mod metadata_watch;
mod packed;
pub mod stats;
pub mod watch_stream;
pub mod watcher;

pub use api::KubeApi;
pub use backoff::BackoffOptions;
pub use client::{ClientError, ClientOptions, ConfigSource, KubeConnection, connect};
pub use enrich::{EnrichOptions, Enricher};
pub use error::ApiError;
pub use leader::{LeaderElector, LeaderError, Leadership, LeaseOptions};
pub use stats::{KubeStats, KubeStatsSnapshot, RestartReason};
pub use watcher::{EventWatcher, RelistReason, WatchHealth, WatchItem, WatcherOptions};
