//! The typed configuration: kubernetes-event-exporter's top-level keys with
//! their defaults applied, `route`/`receivers`/`rules` kept as located nodes for the
//! ruler, and herald's `exporter:` and `ruler:` sections.

mod exporter;
mod kee;
mod ruler;
mod validate;

use std::fmt;

pub use exporter::{
    DedupConfig, ExporterConfig, GrpcServerConfig, LeaderElectionTimings, LookupConfig,
    MetricsConfig, RetentionConfig, ServerTlsConfig, SubscribersConfig, WatchConfig,
    read_token_file,
};
pub(crate) use kee::decode_config;
pub use ruler::{ClientTlsConfig, RuleObjectsConfig, RulerConfig};

/// Which process a configuration is loaded for. Settings are checked for every
/// section, but files (TLS material, token files) are only opened for the sections
/// that process uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Every section (`herald check-config`, combined mode).
    #[default]
    All,
    /// The exporter: `exporter:` files are opened.
    Exporter,
    /// The ruler: `ruler:` files are opened.
    Ruler,
}

impl Role {
    /// True when a process in this role uses `section`.
    pub fn uses(self, section: Role) -> bool {
        self == Role::All || section == Role::All || self == section
    }
}

use crate::node::Node;

/// Default of `maxEventAgeSeconds` when neither it nor `throttlePeriod` is set.
pub const DEFAULT_MAX_EVENT_AGE_SECONDS: i64 = 5;
/// client-go's `DefaultQPS`, used when `kubeQPS` is 0.
pub const DEFAULT_KUBE_QPS: f32 = 5.0;
/// client-go's `DefaultBurst`, used when `kubeBurst` is 0.
pub const DEFAULT_KUBE_BURST: u32 = 10;
/// Default of `cacheSize` when it is 0.
pub const DEFAULT_CACHE_SIZE: usize = 1024;
/// Default lease name of `leaderElection.leaderElectionID`.
pub const DEFAULT_LEADER_ELECTION_ID: &str = "kubernetes-event-exporter";

/// The whole configuration, with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `logLevel`.
    pub log_level: LogLevel,
    /// `logFormat`.
    pub log_format: LogFormat,
    /// True when `logLevel` was not set: kubernetes-event-exporter then also
    /// logs the caller (file and line).
    pub log_caller: bool,
    /// `maxEventAgeSeconds` (or the deprecated `throttlePeriod`), 5 when both
    /// are 0. Events last seen longer ago are dropped; negative drops all.
    pub max_event_age_seconds: i64,
    /// `clusterName`, written into every event when non-empty.
    pub cluster_name: String,
    /// `namespace`: watch one namespace; `None` means all namespaces.
    pub namespace: Option<String>,
    /// `leaderElection`.
    pub leader_election: LeaderElection,
    /// `route`: the routing tree, decoded by the ruler. `None` when absent.
    pub route: Option<Node>,
    /// `receivers`: the list of receivers, decoded by the ruler. Always a
    /// list node when present.
    pub receivers: Option<Node>,
    /// `rules`: kube-events rules, decoded by the ruler. Always a list node when
    /// present.
    pub rules: Option<Node>,
    /// `kubeQPS` (0 becomes 5). A negative value disables client-side rate
    /// limiting, as in client-go.
    pub kube_qps: f32,
    /// `kubeBurst` (0 becomes 10).
    pub kube_burst: u32,
    /// `metricsNamePrefix`, empty or matching `^[a-zA-Z][a-zA-Z0-9_:]*_$`.
    pub metrics_name_prefix: String,
    /// `omitLookup`: never fetch the involved object.
    pub omit_lookup: bool,
    /// `cacheSize` (0 becomes 1024): entries of the involved-object cache.
    pub cache_size: usize,
    /// herald's `exporter:` section.
    pub exporter: ExporterConfig,
    /// herald's `ruler:` section.
    pub ruler: RulerConfig,
}

impl Default for Config {
    /// The configuration of an empty file.
    fn default() -> Self {
        Config {
            log_level: LogLevel::Info,
            log_format: LogFormat::Pretty,
            log_caller: true,
            max_event_age_seconds: DEFAULT_MAX_EVENT_AGE_SECONDS,
            cluster_name: String::new(),
            namespace: None,
            leader_election: LeaderElection::default(),
            route: None,
            receivers: None,
            rules: None,
            kube_qps: DEFAULT_KUBE_QPS,
            kube_burst: DEFAULT_KUBE_BURST,
            metrics_name_prefix: String::new(),
            omit_lookup: false,
            cache_size: DEFAULT_CACHE_SIZE,
            exporter: ExporterConfig::default(),
            ruler: RulerConfig::default(),
        }
    }
}

/// `leaderElection` (kubernetes-event-exporter's keys; timings are in
/// `exporter.leaderElection`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElection {
    /// `enabled`.
    pub enabled: bool,
    /// `leaderElectionID`: name of the Lease object.
    pub leader_election_id: String,
}

impl Default for LeaderElection {
    fn default() -> Self {
        LeaderElection {
            enabled: false,
            leader_election_id: DEFAULT_LEADER_ELECTION_ID.to_owned(),
        }
    }
}

/// `logLevel`: zerolog's levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info` (also the default).
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
    /// `fatal`: only fatal messages.
    Fatal,
    /// `panic`: only panic messages.
    Panic,
    /// `disabled`: no logging.
    Disabled,
}

impl LogLevel {
    /// The names accepted in the config file.
    pub const NAMES: &'static [&'static str] = &[
        "trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled",
    ];

    /// Parses a level as zerolog 1.28's `ParseLevel` does: lower-case names
    /// or a number from -128 to 127 (-1 trace … 5 panic, 6 and above
    /// disable logging).
    pub fn parse(text: &str) -> Option<LogLevel> {
        Some(match text {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "fatal" => LogLevel::Fatal,
            "panic" => LogLevel::Panic,
            "disabled" => LogLevel::Disabled,
            _ => match text.parse::<i8>().ok()? {
                ..=-1 => LogLevel::Trace,
                0 => LogLevel::Debug,
                1 => LogLevel::Info,
                2 => LogLevel::Warn,
                3 => LogLevel::Error,
                4 => LogLevel::Fatal,
                5 => LogLevel::Panic,
                6.. => LogLevel::Disabled,
            },
        })
    }

    /// Returns the config-file name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
            LogLevel::Panic => "panic",
            LogLevel::Disabled => "disabled",
        }
    }

    /// Returns the equivalent `tracing` filter directive (`fatal` and `panic`
    /// map to `error`, `disabled` to `off`).
    pub fn filter_directive(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error | LogLevel::Fatal | LogLevel::Panic => "error",
            LogLevel::Disabled => "off",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `logFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// `""` or `pretty`: human-readable console output.
    Pretty,
    /// `json`: one JSON object per line.
    Json,
}

impl LogFormat {
    /// Returns the config-file name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_map_to_tracing_filters() {
        let directives: Vec<&str> = LogLevel::NAMES
            .iter()
            .map(|n| {
                LogLevel::parse(n)
                    .map(LogLevel::filter_directive)
                    .unwrap_or("?")
            })
            .collect();
        assert_eq!(
            directives,
            [
                "trace", "debug", "info", "warn", "error", "error", "error", "off"
            ]
        );
        for name in LogLevel::NAMES {
            assert_eq!(LogLevel::parse(name).map(LogLevel::as_str), Some(*name));
        }
        assert_eq!(LogLevel::parse("-100"), Some(LogLevel::Trace));
        assert_eq!(LogLevel::parse("127"), Some(LogLevel::Disabled));
        assert_eq!(LogLevel::parse("128"), None);
        assert_eq!(LogLevel::parse("Info"), None);
        assert_eq!(LogFormat::Json.to_string(), "json");
    }
}
