//! The `ruler:` section: where rulers subscribe and how.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::exporter::MetricsConfig;
use crate::located::Located;
use crate::node::redact_url_userinfo;
use crate::secret::Secret;
use crate::units::{de_duration, de_opt_path, de_opt_string};

/// Settings of the ruler. `Debug` masks URL passwords and the token.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RulerConfig {
    /// gRPC URLs of the exporters to subscribe to, e.g. `http://herald-exporter:50051`.
    pub exporters: Vec<String>,
    /// Consumer group name; rulers of one group share the stream.
    pub group: String,
    /// Member id within the group; `None` means the hostname.
    #[serde(deserialize_with = "de_opt_string")]
    pub member_id: Option<String>,
    /// Client TLS towards the exporters.
    pub tls: ClientTlsConfig,
    /// Bearer token sent to the exporters.
    #[serde(deserialize_with = "de_opt_secret")]
    pub auth_token: Option<Secret<String>>,
    /// Most unacknowledged events per exporter connection.
    pub credits: u32,
    /// The metrics and health HTTP server.
    pub metrics: MetricsConfig,
    /// How long in-flight deliveries may take at shutdown.
    #[serde(deserialize_with = "de_duration")]
    pub shutdown_grace: Duration,
    /// kube-events `Rule` objects watched live.
    pub rule_objects: RuleObjectsConfig,
    /// Threads of the async runtime (`0`: one per CPU core). Rulers scale out
    /// by replicas; file writes and hooks run on extra threads either way.
    pub worker_threads: u32,
}

/// `ruler.ruleObjects`: the kube-events `Rule` objects (`events.kubesphere.io/v1alpha1`)
/// every ruler watches, and the receivers their matches go to (a `Rule` object does
/// not name herald receivers).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RuleObjectsConfig {
    /// Watch `Rule` objects (the ruler then needs Kubernetes API access).
    pub enabled: bool,
    /// Watch this namespace only; `None` (or empty) means every namespace.
    #[serde(deserialize_with = "de_opt_string")]
    pub namespace: Option<String>,
    /// Receivers that get the events `type: notification` rules select.
    pub notification_receivers: Vec<Located<String>>,
    /// Receivers that get the alerts of `type: alert` rules.
    pub alert_receivers: Vec<Located<String>>,
}

impl Default for RulerConfig {
    fn default() -> Self {
        RulerConfig {
            exporters: Vec::new(),
            group: "ruler".to_owned(),
            member_id: None,
            tls: ClientTlsConfig::default(),
            auth_token: None,
            credits: 1000,
            metrics: MetricsConfig::default(),
            shutdown_grace: Duration::from_secs(30),
            rule_objects: RuleObjectsConfig::default(),
            worker_threads: 1,
        }
    }
}

impl RulerConfig {
    /// Returns the member id, defaulting to the host name (the `HOSTNAME`
    /// variable, then `/proc/sys/kernel/hostname`, then `herald-ruler`).
    pub fn effective_member_id(&self) -> String {
        if let Some(id) = &self.member_id {
            return id.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "herald-ruler".to_owned())
    }
}

impl fmt::Debug for RulerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exporters: Vec<Cow<'_, str>> = self
            .exporters
            .iter()
            .map(|u| redact_url_userinfo(u))
            .collect();
        f.debug_struct("RulerConfig")
            .field("exporters", &exporters)
            .field("group", &self.group)
            .field("member_id", &self.member_id)
            .field("tls", &self.tls)
            .field("auth_token", &self.auth_token)
            .field("credits", &self.credits)
            .field("metrics", &self.metrics)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("rule_objects", &self.rule_objects)
            .finish()
    }
}

/// Client-side TLS.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientTlsConfig {
    /// PEM CA bundle replacing the system roots.
    #[serde(deserialize_with = "de_opt_path")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain.
    #[serde(deserialize_with = "de_opt_path")]
    pub cert_file: Option<PathBuf>,
    /// PEM client private key.
    #[serde(deserialize_with = "de_opt_path")]
    pub key_file: Option<PathBuf>,
    /// Name checked against the server certificate instead of the URL host.
    #[serde(deserialize_with = "de_opt_string")]
    pub server_name: Option<String>,
    /// Skips server certificate verification (testing only).
    pub insecure_skip_verify: bool,
}

/// Deserializes a secret string where empty means "not set".
fn de_opt_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Secret<String>>, D::Error> {
    let secret = Option::<Secret<String>>::deserialize(d)?;
    Ok(secret.filter(|s| !s.is_empty()))
}
