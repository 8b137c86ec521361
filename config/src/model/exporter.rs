//! The `exporter:` section: herald's own settings for the exporter (durable
//! log, gRPC server, watch, metadata lookup, leader election timings).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;
use crate::units::{de_duration, de_listen, de_opt_duration, de_opt_path, de_size};

/// Settings of the exporter.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ExporterConfig {
    /// Directory of the durable event log and state (a redb file inside).
    pub data_dir: PathBuf,
    /// The gRPC server rulers and other consumers subscribe to.
    pub grpc: GrpcServerConfig,
    /// The metrics and health HTTP server.
    pub metrics: MetricsConfig,
    /// How long and how much of the event log is kept.
    pub retention: RetentionConfig,
    /// Duplicate-occurrence detection.
    pub dedup: DedupConfig,
    /// How watched Events are batched into the durable log.
    pub ingest: IngestSettings,
    /// The Kubernetes Event watch.
    pub watch: WatchConfig,
    /// Involved-object metadata lookup (size comes from top-level `cacheSize`).
    pub lookup: LookupConfig,
    /// Leader election timings (enabled and lease name come from the
    /// top-level `leaderElection`).
    pub leader_election: LeaderElectionTimings,
    /// Subscriber (consumer group member) handling.
    pub subscribers: SubscribersConfig,
    /// Threads of the async runtime (`0`: one per CPU core). Blocking work (the
    /// durable log's transactions) runs on extra threads either way.
    pub worker_threads: u32,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            data_dir: PathBuf::from("/var/lib/herald"),
            grpc: GrpcServerConfig::default(),
            metrics: MetricsConfig::default(),
            retention: RetentionConfig::default(),
            dedup: DedupConfig::default(),
            ingest: IngestSettings::default(),
            watch: WatchConfig::default(),
            lookup: LookupConfig::default(),
            leader_election: LeaderElectionTimings::default(),
            subscribers: SubscribersConfig::default(),
            worker_threads: 1,
        }
    }
}

/// The exporter's gRPC server.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct GrpcServerConfig {
    /// Address to listen on.
    #[serde(deserialize_with = "de_listen")]
    pub listen: SocketAddr,
    /// TLS; enabled when a certificate and key are given.
    pub tls: ServerTlsConfig,
    /// Bearer tokens accepted from clients; non-empty means a token is required.
    pub auth_tokens: Vec<Secret<String>>,
    /// File with one accepted token per line (alternative to `authTokens`).
    #[serde(deserialize_with = "de_opt_path")]
    pub auth_token_file: Option<PathBuf>,
}

impl Default for GrpcServerConfig {
    fn default() -> Self {
        GrpcServerConfig {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 50051)),
            tls: ServerTlsConfig::default(),
            auth_tokens: Vec::new(),
            auth_token_file: None,
        }
    }
}

impl GrpcServerConfig {
    /// Returns whether clients must present a bearer token.
    pub fn requires_token(&self) -> bool {
        !self.auth_tokens.is_empty() || self.auth_token_file.is_some()
    }

    /// Returns the accepted tokens: `authTokens`, or the tokens read from
    /// `authTokenFile` (read on every call, so a rotated file is picked up).
    ///
    /// # Errors
    /// Returns the I/O error when the token file cannot be read.
    pub fn tokens(&self) -> std::io::Result<Vec<Secret<String>>> {
        match &self.auth_token_file {
            Some(path) => read_token_file(path),
            None => Ok(self.auth_tokens.clone()),
        }
    }
}

/// Reads a token file: one token per line; blank lines and lines starting
/// with `#` are skipped, surrounding whitespace is trimmed.
///
/// # Errors
/// Returns the I/O error when the file cannot be read.
pub fn read_token_file(path: &Path) -> std::io::Result<Vec<Secret<String>>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| Secret::new(line.to_owned()))
        .collect())
}

/// Server-side TLS.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerTlsConfig {
    /// PEM certificate chain.
    #[serde(deserialize_with = "de_opt_path")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key.
    #[serde(deserialize_with = "de_opt_path")]
    pub key_file: Option<PathBuf>,
    /// PEM CA bundle; when set, clients must present a certificate it signed.
    #[serde(deserialize_with = "de_opt_path")]
    pub client_ca_file: Option<PathBuf>,
}

impl ServerTlsConfig {
    /// Returns whether TLS is enabled (certificate and key given).
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

/// A metrics and health HTTP server.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricsConfig {
    /// Address to listen on.
    #[serde(deserialize_with = "de_listen")]
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 2112)),
        }
    }
}

/// Retention of the durable event log.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RetentionConfig {
    /// Events older than this are removed.
    #[serde(deserialize_with = "de_duration")]
    pub max_age: Duration,
    /// The oldest events are removed beyond this size, in bytes.
    #[serde(deserialize_with = "de_size")]
    pub max_bytes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: 1 << 30,
        }
    }
}

/// Duplicate-occurrence detection.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DedupConfig {
    /// How long occurrence ids are remembered; should exceed the Event TTL (1h).
    #[serde(deserialize_with = "de_duration")]
    pub retention: Duration,
    /// How long an Event object stays in the in-memory hot map after it was last
    /// seen; the rest of the memory lives in sorted runs on disk (a run is cut this
    /// often). Shorter: less memory, more runs to look through.
    #[serde(deserialize_with = "de_duration")]
    pub hot_for: Duration,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            retention: Duration::from_secs(3 * 3600),
            hot_for: Duration::from_secs(60),
        }
    }
}

/// How watched Events are batched into the durable log: one durable commit per batch.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct IngestSettings {
    /// Longest time an Event waits for its batch to fill while more Events keep
    /// arriving. A batch is committed as soon as nothing more is waiting and no commit
    /// is in flight (a lone Event waits for nothing); the Events that arrive during a
    /// commit form the next batch, so batches grow with the load. `0s` commits every
    /// batch at once when no commit is in flight.
    #[serde(deserialize_with = "de_duration")]
    pub linger: Duration,
    /// Shortest time between the starts of two commits (`0s`: none). Each commit is a
    /// durable write and wakes every consumer group, so at moderate rates, where
    /// Events arrive one at a time, commits cost most of the exporter's CPU. A
    /// non-zero interval gathers the Events of that interval into one commit: less
    /// CPU for the exporter and the rulers, in exchange for up to that much latency.
    #[serde(deserialize_with = "de_duration")]
    pub commit_interval: Duration,
    /// Largest batch (Events per commit).
    pub max_batch: u32,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            linger: Duration::from_millis(10),
            commit_interval: Duration::ZERO,
            max_batch: 1000,
        }
    }
}

/// The Kubernetes Event watch.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct WatchConfig {
    /// `/-/ready` fails when the watch has been broken this long.
    #[serde(deserialize_with = "de_duration")]
    pub unhealthy_after: Duration,
    /// Server-side watch timeout requested (randomised like client-go).
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Page size of list requests.
    pub list_page_size: u32,
    /// A watch that receives nothing for this long checks, with a one-item list, that
    /// the API server's resourceVersion is not behind its own (after an etcd restore the
    /// revisions restart lower and the watch would wait silently); it lists again when
    /// it is. `0s` disables the check.
    #[serde(deserialize_with = "de_duration")]
    pub progress_check: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            unhealthy_after: Duration::from_secs(120),
            timeout: Duration::from_secs(300),
            list_page_size: 500,
            progress_check: Duration::from_secs(60),
        }
    }
}

/// Involved-object metadata lookup.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct LookupConfig {
    /// How long a cached metadata entry is used (and a deleted Pod's last metadata).
    #[serde(deserialize_with = "de_duration")]
    pub ttl: Duration,
    /// Longest time an Event waits for its involved object's metadata; then it is
    /// logged without it (`lookup: Failed`) and the lookup carries on for the
    /// object's next Events.
    #[serde(deserialize_with = "de_duration")]
    pub max_wait: Duration,
    /// Timeout of one lookup request.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Lookups in flight at once.
    pub concurrency: u32,
    /// Also attach the labels of the event's namespace.
    pub namespace_labels: bool,
    /// Keep every Pod's metadata from a metadata-only list+watch (needs `list` and
    /// `watch` on pods) instead of reading Pods one by one.
    pub watch_pods: bool,
    /// With `namespace_labels`, keep every namespace's labels current from a
    /// metadata-only list+watch of Namespaces (needs `list` and `watch` on namespaces),
    /// so a label change reaches Events within seconds; namespaces it has not seen
    /// are read one by one (cached for `ttl`).
    pub watch_namespaces: bool,
}

impl Default for LookupConfig {
    fn default() -> Self {
        LookupConfig {
            ttl: Duration::from_secs(600),
            max_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
            concurrency: 4,
            namespace_labels: true,
            watch_pods: true,
            watch_namespaces: true,
        }
    }
}

/// Leader election timings (client-go's defaults).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct LeaderElectionTimings {
    /// How long a lease is valid without renewal.
    #[serde(deserialize_with = "de_duration")]
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up.
    #[serde(deserialize_with = "de_duration")]
    pub renew_deadline: Duration,
    /// Interval between acquire/renew attempts.
    #[serde(deserialize_with = "de_duration")]
    pub retry_period: Duration,
}

impl Default for LeaderElectionTimings {
    fn default() -> Self {
        LeaderElectionTimings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Subscriber handling.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscribersConfig {
    /// Unacknowledged events are redelivered to another member after this.
    #[serde(deserialize_with = "de_duration")]
    pub ack_timeout: Duration,
    /// Most events per batch sent to a subscriber.
    pub max_batch_size: u32,
    /// A consumer group with no member and no acknowledgement for this long is deleted
    /// (a receiver removed from the config, a tool that subscribed once). `None`: the
    /// log's retention age (past it, the group's position means nothing); `0s`: never.
    #[serde(deserialize_with = "de_opt_duration")]
    pub group_idle_expiry: Option<Duration>,
}

impl Default for SubscribersConfig {
    fn default() -> Self {
        SubscribersConfig {
            ack_timeout: Duration::from_secs(60),
            max_batch_size: 500,
            group_idle_expiry: None,
        }
    }
}

impl SubscribersConfig {
    /// The idle time after which a group is deleted (zero: never), given the log's
    /// retention age.
    pub fn effective_group_idle_expiry(&self, retention: Duration) -> Duration {
        self.group_idle_expiry.unwrap_or(retention)
    }
}
