//! Simulator settings.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How the simulator serves TLS. Certificates come from a CA generated at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// HTTPS without client certificates.
    ServerOnly,
    /// HTTPS; clients may present a certificate signed by the simulator CA, which then
    /// authenticates them (like the API server's x509 authenticator).
    ClientCertOptional,
    /// HTTPS; the handshake fails without a client certificate signed by the CA.
    ClientCertRequired,
}

/// Credentials written into a kubeconfig by [`crate::Simulator::write_kubeconfig`].
#[derive(Clone, PartialEq, Eq)]
pub enum KubeconfigAuth {
    /// The simulator's bearer token (requires [`SimConfig::token`]).
    Token,
    /// An arbitrary bearer token, for example a wrong one.
    CustomToken(String),
    /// The generated client certificate and key (requires a client-certificate TLS mode).
    ClientCert,
    /// No credentials.
    Anonymous,
}

impl fmt::Debug for KubeconfigAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token => f.write_str("Token"),
            // The token itself is a credential and never printed.
            Self::CustomToken(_) => f.write_str("CustomToken(<redacted>)"),
            Self::ClientCert => f.write_str("ClientCert"),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// Simulator configuration. Build it with struct-update syntax:
/// `SimConfig { watch_cache: true, ..SimConfig::default() }`.
#[derive(Clone)]
pub struct SimConfig {
    /// Listen address; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Required bearer token; `None` accepts anonymous requests (unless client
    /// certificates are required by [`SimConfig::tls`]).
    pub token: Option<String>,
    /// TLS mode; `None` serves plain HTTP.
    pub tls: Option<TlsMode>,
    /// Serve Events through a watch cache, like an API server started with
    /// `--watch-cache-sizes=events#…`: watches get BOOKMARKs, a too-old watch gets the
    /// watch-cache 410 message, and `resourceVersion=0` lists ignore `limit`. Off is the
    /// default API server behaviour for Events (served straight from etcd). Other
    /// resources always behave as cached, like a default API server.
    pub watch_cache: bool,
    /// Interval between BOOKMARK lines on cached watches that asked for bookmarks.
    pub bookmark_interval: Duration,
    /// Server-side timeout for watches that send no `timeoutSeconds`.
    pub default_watch_timeout: Duration,
    /// Changes kept for watches and consistent paging; older ones are compacted.
    pub history_limit: usize,
    /// Events not written for this long are deleted (the API server's event TTL is 1 h);
    /// `None` keeps them forever.
    pub event_ttl: Option<Duration>,
    /// Namespace written by [`crate::Simulator::write_service_account_dir`].
    pub service_account_namespace: String,
    /// Requests kept for [`crate::Simulator::requests`] (oldest dropped first).
    pub request_log_limit: usize,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("watch_cache", &self.watch_cache)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("default_watch_timeout", &self.default_watch_timeout)
            .field("history_limit", &self.history_limit)
            .field("event_ttl", &self.event_ttl)
            .field("service_account_namespace", &self.service_account_namespace)
            .field("request_log_limit", &self.request_log_limit)
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: None,
            tls: None,
            watch_cache: false,
            bookmark_interval: Duration::from_secs(60),
            default_watch_timeout: Duration::from_secs(1800),
            history_limit: 1_000_000,
            event_ttl: None,
            service_account_namespace: "default".to_owned(),
            request_log_limit: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_tokens() {
        let cfg = SimConfig {
            token: Some("hunter2".into()),
            ..SimConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(
            !format!("{:?}", KubeconfigAuth::CustomToken("hunter2".into())).contains("hunter2")
        );
    }
}
