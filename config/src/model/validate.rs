//! Checks of herald's `exporter:` and `ruler:` sections after decoding: TLS
//! pairs and readable files, sane durations and sizes, tokens, URLs. Each
//! problem points at the key that causes it.

use std::path::Path;
use std::time::Duration;

use super::exporter::read_token_file;
use super::{Config, ExporterConfig, Role, RulerConfig};
use crate::diagnostics::{Diagnostic, Diagnostics, Severity};
use crate::location::Location;
use crate::node::Node;
use crate::redact::EnvValues;
use crate::units::format_duration;

/// Kubernetes' default Event TTL.
const EVENT_TTL: Duration = Duration::from_secs(3600);

/// Most async runtime threads a process may ask for.
const MAX_WORKER_THREADS: u32 = 256;

/// client-go's leader election jitter factor.
const JITTER_FACTOR: f64 = 1.2;

/// Checks both sections. Files are only opened for the sections `role` uses: a ruler
/// pod has no reason to hold the exporter's private key, and vice versa.
pub(super) fn validate_sections(config: &Config, root: &Node, role: Role, diags: &mut Diagnostics) {
    let mut v = Validator {
        root,
        diags,
        files: role,
        section: Role::All,
    };
    v.section = Role::Exporter;
    v.exporter(&config.exporter);
    v.section = Role::Ruler;
    v.ruler(&config.ruler);
}

struct Validator<'a> {
    root: &'a Node,
    diags: &'a mut Diagnostics,
    /// Which process will use the config (decides which files must be readable).
    files: Role,
    /// Which section is being checked.
    section: Role,
}

impl Validator<'_> {
    /// The value at `path`, or its closest written ancestor.
    fn node(&self, path: &[&str]) -> Option<&Node> {
        let mut node = self.root;
        let mut found = None;
        for key in path {
            match node.entry(key) {
                Some((_, value)) => {
                    node = value;
                    found = Some(value);
                }
                None => break,
            }
        }
        found
    }

    /// Records a problem about the value at `path`, at its location (or its
    /// closest written ancestor's); values pasted from the environment there
    /// are never shown.
    fn report(&mut self, severity: Severity, path: &[&str], message: String) -> &mut Diagnostic {
        let (loc, env) = self
            .node(path)
            .map_or((Location::UNKNOWN, EnvValues::none()), |n| {
                (n.loc, n.env.clone())
            });
        let d = self.diags.push(Diagnostic::new(severity, loc, message));
        d.about_env_values(&env).with_path(path.join("."));
        d
    }

    fn error(&mut self, path: &[&str], message: impl Into<String>) -> &mut Diagnostic {
        self.report(Severity::Error, path, message.into())
    }

    fn warning(&mut self, path: &[&str], message: impl Into<String>) -> &mut Diagnostic {
        self.report(Severity::Warning, path, message.into())
    }

    fn positive(&mut self, path: &[&str], value: Duration) {
        if value.is_zero() {
            self.error(path, "must be greater than zero");
        }
    }

    fn worker_threads(&mut self, path: &[&str], value: u32) {
        if value > MAX_WORKER_THREADS {
            self.error(
                path,
                format!("`{value}` threads is more than the {MAX_WORKER_THREADS} allowed"),
            )
            .with_hint("`1` (the default) suits most clusters; `0` means one per CPU core");
        }
    }

    fn nonzero(&mut self, path: &[&str], value: u64) {
        if value == 0 {
            self.error(path, "must be greater than zero");
        }
    }

    /// Checks that a configured file can be opened for reading.
    fn readable(&mut self, path: &[&str], file: Option<&Path>) {
        let Some(file) = file else { return };
        if !self.files.uses(self.section) {
            return;
        }
        let problem = match std::fs::metadata(file) {
            Ok(meta) if meta.is_dir() => Some("is a directory".to_owned()),
            Ok(_) => std::fs::File::open(file).err().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            self.error(path, format!("cannot read `{}`: {problem}", file.display()));
        }
    }

    fn exporter(&mut self, cfg: &ExporterConfig) {
        if cfg.data_dir.as_os_str().is_empty() {
            self.error(&["exporter", "dataDir"], "must not be empty")
                .with_hint(
                    "the exporter keeps its durable event log there, e.g. `/var/lib/herald`",
                );
        }
        self.server_tls(cfg);
        self.worker_threads(&["exporter", "workerThreads"], cfg.worker_threads);
        self.tokens(cfg);
        if cfg.metrics.listen == cfg.grpc.listen && cfg.metrics.listen.port() != 0 {
            self.error(
                &["exporter", "metrics", "listen"],
                format!("`{}` is also the gRPC listen address", cfg.metrics.listen),
            );
        }
        self.positive(&["exporter", "retention", "maxAge"], cfg.retention.max_age);
        self.nonzero(
            &["exporter", "retention", "maxBytes"],
            cfg.retention.max_bytes,
        );
        let dedup = cfg.dedup.retention;
        if dedup.is_zero() {
            self.error(
                &["exporter", "dedup", "retention"],
                "must be greater than zero",
            );
        } else if dedup <= EVENT_TTL {
            self.warning(
                &["exporter", "dedup", "retention"],
                format!(
                    "{} is not longer than the Event TTL (1h): an event re-listed after a restart may be exported twice",
                    format_duration(dedup)
                ),
            )
            .with_hint("use more than 1h, e.g. the default `3h`");
        }
        if cfg.dedup.hot_for < Duration::from_secs(1) || cfg.dedup.hot_for > cfg.dedup.retention {
            self.error(
                &["exporter", "dedup", "hotFor"],
                format!(
                    "`{}` must be between 1s and the dedup retention (`{}`)",
                    format_duration(cfg.dedup.hot_for),
                    format_duration(cfg.dedup.retention)
                ),
            )
            .with_hint("the default `1m` keeps the last minute of Event objects in memory and the rest on disk");
        }
        self.nonzero(
            &["exporter", "ingest", "maxBatch"],
            u64::from(cfg.ingest.max_batch),
        );
        if cfg.ingest.linger > Duration::from_secs(1) {
            self.error(
                &["exporter", "ingest", "linger"],
                format!(
                    "`{}` would hold every event back that long before it is durable",
                    format_duration(cfg.ingest.linger)
                ),
            )
            .with_hint("use at most 1s; the default `10ms` is enough: batches also grow while a commit is in flight");
        }
        if cfg.ingest.commit_interval > Duration::from_secs(1) {
            self.error(
                &["exporter", "ingest", "commitInterval"],
                format!(
                    "`{}` would hold events back that long before they are durable",
                    format_duration(cfg.ingest.commit_interval)
                ),
            )
            .with_hint("use at most 1s; a few milliseconds already gather the Events of a moderate rate into one commit");
        }
        self.positive(
            &["exporter", "watch", "unhealthyAfter"],
            cfg.watch.unhealthy_after,
        );
        self.positive(&["exporter", "watch", "timeout"], cfg.watch.timeout);
        self.nonzero(
            &["exporter", "watch", "listPageSize"],
            u64::from(cfg.watch.list_page_size),
        );
        self.positive(&["exporter", "lookup", "timeout"], cfg.lookup.timeout);
        self.nonzero(
            &["exporter", "lookup", "concurrency"],
            u64::from(cfg.lookup.concurrency),
        );
        self.leader_election(cfg);
        self.positive(
            &["exporter", "subscribers", "ackTimeout"],
            cfg.subscribers.ack_timeout,
        );
        self.nonzero(
            &["exporter", "subscribers", "maxBatchSize"],
            u64::from(cfg.subscribers.max_batch_size),
        );
    }

    fn server_tls(&mut self, cfg: &ExporterConfig) {
        const TLS: [&str; 3] = ["exporter", "grpc", "tls"];
        let tls = &cfg.grpc.tls;
        let path = |key: &'static str| [TLS[0], TLS[1], TLS[2], key];
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => {
                self.error(&path("certFile"), "`certFile` is set without `keyFile`")
                    .with_hint("TLS needs both the certificate and its private key");
            }
            (None, Some(_)) => {
                self.error(&path("keyFile"), "`keyFile` is set without `certFile`")
                    .with_hint("TLS needs both the certificate and its private key");
            }
            _ => {}
        }
        if tls.client_ca_file.is_some() && !tls.enabled() {
            self.error(
                &path("clientCaFile"),
                "`clientCaFile` requires `certFile` and `keyFile`",
            )
            .with_hint("client certificates can only be checked over TLS");
        }
        self.readable(&path("certFile"), tls.cert_file.as_deref());
        self.readable(&path("keyFile"), tls.key_file.as_deref());
        self.readable(&path("clientCaFile"), tls.client_ca_file.as_deref());
    }

    fn tokens(&mut self, cfg: &ExporterConfig) {
        let grpc = &cfg.grpc;
        if !grpc.auth_tokens.is_empty() && grpc.auth_token_file.is_some() {
            self.error(
                &["exporter", "grpc", "authTokenFile"],
                "`authTokens` and `authTokenFile` cannot both be set",
            )
            .with_hint("keep the tokens in one place");
        }
        for (i, token) in grpc.auth_tokens.iter().enumerate() {
            if token.expose().trim().is_empty() {
                let loc = self
                    .root
                    .at_path(&["exporter", "grpc", "authTokens"])
                    .and_then(Node::as_seq)
                    .and_then(|items| items.get(i))
                    .map_or(Location::UNKNOWN, |n| n.loc);
                self.diags
                    .error(loc, "an auth token is empty")
                    .with_path(format!("exporter.grpc.authTokens[{i}]"))
                    .with_hint("check the environment variable that provides it");
            }
        }
        if let Some(file) = grpc
            .auth_token_file
            .as_ref()
            .filter(|_| self.files.uses(Role::Exporter))
        {
            let path = ["exporter", "grpc", "authTokenFile"];
            match read_token_file(file) {
                Ok(tokens) if tokens.is_empty() => {
                    self.error(&path, format!("`{}` contains no token", file.display()))
                        .with_hint("write one token per line");
                }
                Ok(_) => {}
                Err(e) => {
                    self.error(&path, format!("cannot read `{}`: {e}", file.display()));
                }
            }
        }
        if grpc.requires_token() && !grpc.tls.enabled() {
            let key = if grpc.auth_token_file.is_some() {
                "authTokenFile"
            } else {
                "authTokens"
            };
            self.warning(
                &["exporter", "grpc", key],
                "bearer tokens travel in clear text because gRPC TLS is not enabled",
            )
            .with_hint("set `exporter.grpc.tls.certFile` and `keyFile`");
        }
    }

    fn leader_election(&mut self, cfg: &ExporterConfig) {
        let le = &cfg.leader_election;
        let base = ["exporter", "leaderElection"];
        let path = |key: &'static str| [base[0], base[1], key];
        self.positive(&path("leaseDuration"), le.lease_duration);
        self.positive(&path("renewDeadline"), le.renew_deadline);
        self.positive(&path("retryPeriod"), le.retry_period);
        if le.lease_duration <= le.renew_deadline {
            self.error(
                &path("leaseDuration"),
                format!(
                    "`leaseDuration` ({}) must be greater than `renewDeadline` ({})",
                    format_duration(le.lease_duration),
                    format_duration(le.renew_deadline)
                ),
            );
        }
        if le.renew_deadline.as_secs_f64() <= JITTER_FACTOR * le.retry_period.as_secs_f64() {
            self.error(
                &path("renewDeadline"),
                format!(
                    "`renewDeadline` ({}) must be greater than 1.2 × `retryPeriod` ({})",
                    format_duration(le.renew_deadline),
                    format_duration(le.retry_period)
                ),
            );
        }
    }

    fn ruler(&mut self, cfg: &RulerConfig) {
        let root = self.root;
        let urls = root
            .at_path(&["ruler", "exporters"])
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (i, url) in cfg.exporters.iter().enumerate() {
            let loc = urls.get(i).map_or(Location::UNKNOWN, |n| n.loc);
            let env = urls.get(i).map_or(EnvValues::none(), |n| n.env.clone());
            if let Err(problem) = check_exporter_url(url) {
                self.diags
                    .error(loc, problem)
                    .about_env_values(&env)
                    .with_path(format!("ruler.exporters[{i}]"))
                    .with_hint(
                        "write the exporter's gRPC URL, e.g. `http://herald-exporter:50051`",
                    );
            } else if has_userinfo(url) {
                let d = self
                    .diags
                    .warning(loc, "credentials in an exporter URL are not used");
                d.with_path(format!("ruler.exporters[{i}]"))
                    .with_hint("remove them and set `ruler.authToken`");
                d.hide_source = true;
            }
        }
        if cfg.group.trim().is_empty() {
            self.error(&["ruler", "group"], "must not be empty");
        }
        if cfg.credits == 0 {
            self.error(&["ruler", "credits"], "must be greater than zero");
        }
        self.worker_threads(&["ruler", "workerThreads"], cfg.worker_threads);
        let tls = &cfg.tls;
        let path = |key: &'static str| ["ruler", "tls", key];
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => {
                self.error(&path("certFile"), "`certFile` is set without `keyFile`")
                    .with_hint("a client certificate needs its private key");
            }
            (None, Some(_)) => {
                self.error(&path("keyFile"), "`keyFile` is set without `certFile`")
                    .with_hint("a client certificate needs its private key");
            }
            _ => {}
        }
        self.readable(&path("caFile"), tls.ca_file.as_deref());
        self.readable(&path("certFile"), tls.cert_file.as_deref());
        self.readable(&path("keyFile"), tls.key_file.as_deref());
        if tls.insecure_skip_verify {
            self.warning(
                &path("insecureSkipVerify"),
                "server certificates are not verified",
            )
            .with_hint("use it for testing only; set `caFile` instead");
        }
        let ro = &cfg.rule_objects;
        if ro.enabled && ro.notification_receivers.is_empty() && ro.alert_receivers.is_empty() {
            self.error(
                &["ruler", "ruleObjects", "enabled"],
                "`Rule` objects are watched but no receiver gets their matches",
            )
            .with_hint("name receivers in `ruleObjects.notificationReceivers` (events of `type: notification` rules) and/or `ruleObjects.alertReceivers` (alerts of `type: alert` rules)");
        }
        if cfg.auth_token.is_some() && cfg.exporters.iter().any(|u| u.starts_with("http://")) {
            self.warning(
                &["ruler", "authToken"],
                "the auth token travels in clear text to `http://` exporters",
            )
            .with_hint("use `https://` exporter URLs");
        }
    }
}

/// Checks an exporter URL: `http://` or `https://`, a host, no spaces.
fn check_exporter_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            format!(
                "exporter URL `{}` must start with `http://` or `https://`",
                crate::node::redact_url_userinfo(url)
            )
        })?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "exporter URL `{}` has no valid host",
            crate::node::redact_url_userinfo(url)
        ));
    }
    Ok(())
}

/// Returns whether a URL carries `user[:password]@` before its host.
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_urls() {
        assert!(check_exporter_url("http://herald-exporter:50051").is_ok());
        assert!(check_exporter_url("https://10.0.0.1:443/").is_ok());
        assert!(check_exporter_url("herald-exporter:50051").is_err());
        assert!(check_exporter_url("http://").is_err());
        assert!(check_exporter_url("http://:50051").is_err());
        assert!(check_exporter_url("http://a b:1").is_err());
        let e = check_exporter_url("ftp://u:secret@h").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }
}
