//! herald's configuration: one YAML file for the exporter and the ruler, read
//! exactly as kubernetes-event-exporter reads it, with every problem reported
//! at its line.
//!
//! Modules, in pipeline order:
//! * [`expand`]: environment expansion (Go `os.ExpandEnv` plus `$$` and
//!   `{{ … }}` fixes) with a position map back to the original file;
//! * [`yaml`]: YAML parsing into the located [`Node`] tree (anchors, aliases,
//!   merge keys, first non-null document);
//! * decoding ([`decode`], [`decode_with`]): any `Deserialize` type from a
//!   node, collecting located [`Diagnostics`] (type errors, unknown keys with
//!   "did you mean");
//! * `model`: the typed [`Config`] (kubernetes-event-exporter's keys plus
//!   herald's `exporter:` and `ruler:` sections) and its checks;
//! * [`load_file`] / [`load_str`]: the whole pipeline; [`redacted_summary`]
//!   for the startup log.
//!
//! Values pasted from environment variables are tracked from expansion to the
//! nodes and [`Located`] values that hold them ([`EnvValues`]); every
//! [`Diagnostic`] shows `${NAME}` in their place, never the value.
//!
//! Other crates decode their parts (`route`, `receivers`) with [`decode`] or
//! [`decode_with`], using [`Located`] for values they check later and
//! [`Secret`] for credentials.
//!
//! ```
//! use herald_config::{DecodeOptions, Located, Secret, decode_with, load_str};
//!
//! #[derive(serde::Deserialize)]
//! struct Receiver {
//!     name: Located<String>,
//!     #[serde(default)]
//!     token: Option<Secret<String>>,
//! }
//!
//! let text = "maxEventAgeSeconds: 60\nreceivers:\n  - name: dump\n    token: ${TOKEN}\n";
//! let mut loaded = load_str("config.yaml", text, |name| (name == "TOKEN").then(|| "t0k".into()))?;
//! assert_eq!(loaded.config.max_event_age_seconds, 60);
//!
//! let options = DecodeOptions { path: "receivers", strict_types: &[] };
//! let receivers: Vec<Receiver> = decode_with(
//!     loaded.config.receivers.as_ref().expect("receivers are set"),
//!     &options,
//!     &mut loaded.diagnostics,
//! )
//! .expect("valid receivers");
//! assert_eq!(receivers[0].name.location.line, 3);
//! assert_eq!(receivers[0].name.path, "receivers[0].name");
//! assert_eq!(format!("{:?}", receivers[0].token), "Some(***)");
//! # Ok::<(), herald_config::ConfigError>(())
//! ```

mod de;
mod diagnostics;
pub mod expand;
mod load;
mod located;
mod location;
mod model;
mod node;
mod redact;
mod scalar;
mod secret;
pub mod selector;
pub mod suggest;
mod summary;
pub mod units;
pub mod yaml;

pub use de::{
    DecodeOptions, HINT_SEPARATOR, child_path, decode, decode_with, from_str, index_path,
};
pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use expand::{Expanded, expand_env};
pub use load::{ConfigError, LoadedConfig, load_file, load_file_for, load_str, load_str_for};
pub use located::Located;
pub use location::{Location, SourceFile};
pub use model::{
    ClientTlsConfig, Config, DEFAULT_CACHE_SIZE, DEFAULT_KUBE_BURST, DEFAULT_KUBE_QPS,
    DEFAULT_LEADER_ELECTION_ID, DEFAULT_MAX_EVENT_AGE_SECONDS, DedupConfig, ExporterConfig,
    GrpcServerConfig, LeaderElection, LeaderElectionTimings, LogFormat, LogLevel, LookupConfig,
    MetricsConfig, RetentionConfig, Role, RuleObjectsConfig, RulerConfig, ServerTlsConfig,
    SubscribersConfig, WatchConfig, read_token_file,
};
pub use node::{Key, Node, NodeValue, ScalarStyle, is_secret_key};
pub use redact::EnvValues;
pub use secret::Secret;
pub use selector::NamespaceSelector;
pub use summary::redacted_summary;
