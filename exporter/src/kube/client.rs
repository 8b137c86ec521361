//! Builds the Kubernetes client: where its configuration comes from, rate limiting, and
//! the namespace the Lease lives in.
//!
//! Sources, in order (KEE's order, plus `~/.kube/config` for usability):
//! 1. `--kubeconfig <path>` when given;
//! 2. the in-cluster service account, when `KUBERNETES_SERVICE_HOST` and
//!    `KUBERNETES_SERVICE_PORT` are set and the account's token file exists (the token
//!    is re-read when it rotates, the CA bundle too);
//! 3. the files listed in `KUBECONFIG`;
//! 4. `~/.kube/config`.
//!
//! Token, client-certificate and exec-plugin kubeconfigs are handled by kube-rs.
//! [`connect`] checks that the API server answers before returning, so that a wrong
//! address fails at startup with the source named.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig, KubeconfigError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tracing::{debug, info, warn};

use super::api::{DEFAULT_REQUEST_TIMEOUT, KubeApi};
use super::error::ApiError;
use super::limiter::RateLimiter;
use super::stats::KubeStats;

/// Where service-account credentials are mounted in a pod.
pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The process environment the client looks at; a value so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct ClientEnv {
    /// `KUBERNETES_SERVICE_HOST`.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
    /// `KUBECONFIG`.
    pub kubeconfig: Option<OsString>,
    /// `HOME`.
    pub home: Option<PathBuf>,
}

impl ClientEnv {
    /// Reads the variables from the process environment.
    pub fn from_process() -> Self {
        let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            service_host: non_empty("KUBERNETES_SERVICE_HOST"),
            service_port: non_empty("KUBERNETES_SERVICE_PORT"),
            kubeconfig: std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()),
            home: std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// How to build the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `--kubeconfig`: use this file and nothing else.
    pub kubeconfig: Option<PathBuf>,
    /// Directory of the service-account token, `ca.crt` and `namespace`.
    pub service_account_dir: PathBuf,
    /// The environment to consult.
    pub env: ClientEnv,
    /// `kubeQPS` (0 → 5, negative → unlimited).
    pub qps: f32,
    /// `kubeBurst` (0 → 10).
    pub burst: u32,
    /// Bound on one unary request.
    pub request_timeout: Duration,
    /// Where the counters go.
    pub stats: Arc<KubeStats>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            service_account_dir: PathBuf::from(DEFAULT_SERVICE_ACCOUNT_DIR),
            env: ClientEnv::from_process(),
            qps: 0.0,
            burst: 0,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stats: Arc::new(KubeStats::default()),
        }
    }
}

/// Where the configuration was found; its `Display` is used in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--kubeconfig`.
    Flag(PathBuf),
    /// The in-cluster service account in this directory.
    InCluster(PathBuf),
    /// The `KUBECONFIG` variable.
    Env(OsString),
    /// `~/.kube/config`.
    Home(PathBuf),
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag(p) | Self::Home(p) => write!(f, "kubeconfig {}", p.display()),
            Self::InCluster(dir) => write!(f, "in-cluster service account {}", dir.display()),
            Self::Env(v) => write!(f, "KUBECONFIG {}", v.to_string_lossy()),
        }
    }
}

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The named kubeconfig file does not exist.
    #[error("{origin}: no such file")]
    Missing {
        /// The source that named it.
        origin: ConfigSource,
    },
    /// The kubeconfig could not be read or used.
    #[error("{origin}: {error}")]
    Kubeconfig {
        /// The source.
        origin: ConfigSource,
        /// kube-rs's complaint.
        #[source]
        error: KubeconfigError,
    },
    /// A service-account file could not be read.
    #[error("{origin}: cannot read {}: {error}", path.display())]
    ServiceAccount {
        /// The source.
        origin: ConfigSource,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The in-cluster address or CA is unusable.
    #[error("{origin}: {reason}")]
    InCluster {
        /// The source.
        origin: ConfigSource,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built (TLS material, exec plugin, ...).
    #[error("{origin}: cannot build the client: {error}")]
    Build {
        /// The source.
        origin: ConfigSource,
        /// kube-rs's complaint.
        #[source]
        error: kube::Error,
    },
    /// The API server did not answer.
    #[error("{origin}: cluster {url} unreachable: {error}")]
    Unreachable {
        /// The source.
        origin: ConfigSource,
        /// The API server URL.
        url: String,
        /// The failure.
        #[source]
        error: ApiError,
    },
    /// The API server answered but refused the credentials.
    #[error("{origin}: cluster {url} rejected the credentials: {error}")]
    Rejected {
        /// The source.
        origin: ConfigSource,
        /// The API server URL.
        url: String,
        /// The failure.
        #[source]
        error: ApiError,
    },
    /// No source is available.
    #[error(
        "no kubernetes configuration found: no --kubeconfig, not in a cluster \
         (KUBERNETES_SERVICE_HOST/PORT unset or no token in {sa_dir}), KUBECONFIG unset, \
         no {home}"
    )]
    NotFound {
        /// The service-account directory looked at.
        sa_dir: String,
        /// The home kubeconfig looked for.
        home: String,
    },
    /// A blocking setup task failed to run.
    #[error("client setup task failed: {0}")]
    Task(String),
}

/// A connected client and what goes with it.
#[derive(Debug, Clone)]
pub struct KubeConnection {
    /// Rate-limited raw API access (use this for every request).
    pub api: KubeApi,
    /// Namespace for the Lease: the service account's, else the kubeconfig context's,
    /// else `default`.
    pub namespace: String,
    /// Where the configuration came from.
    pub source: ConfigSource,
    /// The API server URL.
    pub cluster_url: String,
}

/// Loads the configuration, builds the client and checks that the API server answers.
///
/// # Errors
/// [`ClientError`] naming the source: a missing or invalid kubeconfig, unreadable
/// service-account files, an unreachable server or rejected credentials.
pub async fn connect(opts: ClientOptions) -> Result<KubeConnection, ClientError> {
    // kube-rs builds its rustls config from the process-wide default provider; make
    // sure it is aws-lc-rs (an error only means a provider is installed already).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (mut config, source) = load_config(&opts).await?;
    // herald handles 429 / 5xx itself (Retry-After, metrics); kube's retry layer would
    // hide them.
    config.default_retry = false;
    let cluster_url = display_url(&config.cluster_url);
    let namespace = lease_namespace(&opts.service_account_dir, &config.default_namespace);
    // Building the client may run an exec credential plugin, which blocks.
    let build_source = source.clone();
    let client = tokio::task::spawn_blocking(move || kube::Client::try_from(config))
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
        .map_err(|error| ClientError::Build {
            origin: build_source,
            error,
        })?;
    let limiter = RateLimiter::new(opts.qps, opts.burst, opts.stats.clone());
    let api = KubeApi::new(client, limiter, opts.request_timeout);
    match api.probe().await {
        Ok(()) => {}
        Err(error @ ApiError::Forbidden { .. }) => {
            return Err(ClientError::Rejected {
                origin: source,
                url: cluster_url,
                error,
            });
        }
        Err(error) => {
            return Err(ClientError::Unreachable {
                origin: source,
                url: cluster_url,
                error,
            });
        }
    }
    info!(source = %source, cluster = %cluster_url, %namespace, "connected to kubernetes");
    Ok(KubeConnection {
        api,
        namespace,
        source,
        cluster_url,
    })
}

impl ClientError {
    /// Whether the API server could not be reached (it may come up later); every other
    /// error is in the configuration or the credentials.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}

/// Finds and loads the configuration (no network).
///
/// # Errors
/// As [`connect`], minus the network failures.
pub async fn load_config(
    opts: &ClientOptions,
) -> Result<(kube::Config, ConfigSource), ClientError> {
    if let Some(path) = &opts.kubeconfig {
        let source = ConfigSource::Flag(path.clone());
        let kubeconfig = read_kubeconfig(path, &source)?;
        return from_kubeconfig(kubeconfig, source).await;
    }
    if let Some(config) = in_cluster(opts)? {
        return Ok(config);
    }
    if let Some(value) = &opts.env.kubeconfig {
        let source = ConfigSource::Env(value.clone());
        let mut merged: Option<Kubeconfig> = None;
        for path in std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()) {
            if !path.exists() {
                // kubectl skips missing files in KUBECONFIG as well.
                warn!(path = %path.display(), "file listed in KUBECONFIG does not exist");
                continue;
            }
            let next = read_kubeconfig(&path, &source)?;
            merged = Some(match merged {
                None => next,
                Some(m) => m.merge(next).map_err(|error| ClientError::Kubeconfig {
                    origin: source.clone(),
                    error,
                })?,
            });
        }
        return match merged {
            Some(kubeconfig) => from_kubeconfig(kubeconfig, source).await,
            None => Err(ClientError::Missing { origin: source }),
        };
    }
    let home = opts
        .env
        .home
        .as_ref()
        .map(|h| h.join(".kube").join("config"));
    if let Some(path) = home.as_ref().filter(|p| p.exists()) {
        let source = ConfigSource::Home(path.clone());
        let kubeconfig = read_kubeconfig(path, &source)?;
        return from_kubeconfig(kubeconfig, source).await;
    }
    Err(ClientError::NotFound {
        sa_dir: opts.service_account_dir.display().to_string(),
        home: home.map_or_else(|| "~/.kube/config".to_owned(), |h| h.display().to_string()),
    })
}

fn read_kubeconfig(path: &Path, source: &ConfigSource) -> Result<Kubeconfig, ClientError> {
    if !path.exists() {
        return Err(ClientError::Missing {
            origin: source.clone(),
        });
    }
    Kubeconfig::read_from(path).map_err(|error| ClientError::Kubeconfig {
        origin: source.clone(),
        error,
    })
}

async fn from_kubeconfig(
    kubeconfig: Kubeconfig,
    source: ConfigSource,
) -> Result<(kube::Config, ConfigSource), ClientError> {
    debug!(source = %source, "loading kubeconfig");
    match kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await {
        Ok(config) => Ok((config, source)),
        Err(error) => Err(ClientError::Kubeconfig {
            origin: source,
            error,
        }),
    }
}

/// Loads the in-cluster configuration when the environment says we are in a pod.
fn in_cluster(opts: &ClientOptions) -> Result<Option<(kube::Config, ConfigSource)>, ClientError> {
    let (Some(host), Some(port)) = (&opts.env.service_host, &opts.env.service_port) else {
        return Ok(None);
    };
    let dir = &opts.service_account_dir;
    let token = dir.join("token");
    if !token.exists() {
        debug!(dir = %dir.display(), "in-cluster variables set but no service-account token");
        return Ok(None);
    }
    let source = ConfigSource::InCluster(dir.clone());
    let port: u16 = port.parse().map_err(|_| ClientError::InCluster {
        origin: source.clone(),
        reason: format!("KUBERNETES_SERVICE_PORT {port:?} is not a port number"),
    })?;
    let url = cluster_url(host, port);
    let uri: http::Uri = url.parse().map_err(|_| ClientError::InCluster {
        origin: source.clone(),
        reason: format!("KUBERNETES_SERVICE_HOST {host:?} does not form a valid URL"),
    })?;
    let ca_path = dir.join("ca.crt");
    let ca = std::fs::read(&ca_path).map_err(|error| ClientError::ServiceAccount {
        origin: source.clone(),
        path: ca_path.clone(),
        error,
    })?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&ca)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(ClientError::InCluster {
            origin: source,
            reason: format!("{} holds no PEM certificate", ca_path.display()),
        });
    }
    let namespace = read_namespace(dir).unwrap_or_else(|| "default".to_owned());
    let mut config = kube::Config::new(uri);
    config.default_namespace = namespace;
    config.root_cert = Some(certs);
    // Re-read periodically so a rotated CA is picked up.
    config.root_cert_file = Some(ca_path);
    config.auth_info = AuthInfo {
        // kube-rs re-reads the token file before it expires (bound tokens rotate).
        token_file: Some(token.to_string_lossy().into_owned()),
        ..AuthInfo::default()
    };
    Ok(Some((config, source)))
}

/// The URL as users write it (`https://host:port`, no lone trailing slash).
fn display_url(uri: &http::Uri) -> String {
    let text = uri.to_string();
    match text.strip_suffix('/') {
        Some(trimmed) if uri.path() == "/" => trimmed.to_owned(),
        _ => text,
    }
}

/// `https://host:port`, bracketing IPv6 addresses.
fn cluster_url(host: &str, port: u16) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

fn read_namespace(sa_dir: &Path) -> Option<String> {
    std::fs::read_to_string(sa_dir.join("namespace"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The Lease namespace: the service account's, else the context's, else `default`.
fn lease_namespace(sa_dir: &Path, context_namespace: &str) -> String {
    read_namespace(sa_dir)
        .or_else(|| Some(context_namespace.to_owned()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "default".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts_in(dir: &Path) -> ClientOptions {
        ClientOptions {
            service_account_dir: dir.join("sa"),
            env: ClientEnv::default(),
            ..ClientOptions::default()
        }
    }

    const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: ctx
  context:
    cluster: c
    user: u
    namespace: team-a
users:
- name: u
  user:
    token: secret-token-value
"#;

    #[tokio::test]
    async fn flag_missing_file_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = opts_in(tmp.path());
        opts.kubeconfig = Some(PathBuf::from("/x"));
        let err = load_config(&opts).await.unwrap_err();
        assert_eq!(err.to_string(), "kubeconfig /x: no such file");
    }

    #[tokio::test]
    async fn flag_wins_and_context_namespace_is_used() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let mut opts = opts_in(tmp.path());
        opts.kubeconfig = Some(path.clone());
        opts.env.kubeconfig = Some("/nonexistent".into());
        let (config, source) = load_config(&opts).await.unwrap();
        assert_eq!(source, ConfigSource::Flag(path));
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(config.default_namespace, "team-a");
        assert_eq!(
            lease_namespace(&opts.service_account_dir, &config.default_namespace),
            "team-a"
        );
    }

    #[tokio::test]
    async fn invalid_kubeconfig_names_the_source_without_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        std::fs::write(
            &path,
            KUBECONFIG.replace("current-context: ctx", "current-context: nope"),
        )
        .unwrap();
        let mut opts = opts_in(tmp.path());
        opts.kubeconfig = Some(path.clone());
        let err = load_config(&opts).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("kubeconfig {}: ", path.display())),
            "{err}"
        );
        assert!(!err.contains("secret-token-value"), "{err}");
    }

    #[tokio::test]
    async fn in_cluster_is_used_when_the_environment_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let sa = tmp.path().join("sa");
        std::fs::create_dir(&sa).unwrap();
        std::fs::write(sa.join("token"), "tok").unwrap();
        std::fs::write(sa.join("namespace"), "herald-system\n").unwrap();
        // PEM framing around arbitrary DER bytes: only the framing is checked here.
        std::fs::write(
            sa.join("ca.crt"),
            "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let mut opts = opts_in(tmp.path());
        opts.env.service_host = Some("10.0.0.1".into());
        opts.env.service_port = Some("443".into());
        let (config, source) = load_config(&opts).await.unwrap();
        assert_eq!(source, ConfigSource::InCluster(sa.clone()));
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:443/");
        assert_eq!(config.default_namespace, "herald-system");
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            config.auth_info.token_file.as_deref(),
            Some(sa.join("token").to_str().unwrap())
        );
        assert_eq!(lease_namespace(&sa, "other"), "herald-system");
        // Without the variables the SA dir is ignored and nothing else exists.
        opts.env.service_host = None;
        assert!(matches!(
            load_config(&opts).await,
            Err(ClientError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn kubeconfig_env_then_home() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::write(&a, KUBECONFIG).unwrap();
        let mut opts = opts_in(tmp.path());
        let list = std::env::join_paths([tmp.path().join("missing"), a.clone()]).unwrap();
        opts.env.kubeconfig = Some(list.clone());
        let (_, source) = load_config(&opts).await.unwrap();
        assert_eq!(source, ConfigSource::Env(list));

        opts.env.kubeconfig = Some(tmp.path().join("missing").into_os_string());
        let err = load_config(&opts).await.unwrap_err();
        assert!(err.to_string().ends_with("missing: no such file"), "{err}");

        opts.env.kubeconfig = None;
        let home = tmp.path().join("home");
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        std::fs::write(home.join(".kube/config"), KUBECONFIG).unwrap();
        opts.env.home = Some(home.clone());
        let (_, source) = load_config(&opts).await.unwrap();
        assert_eq!(source, ConfigSource::Home(home.join(".kube/config")));
    }

    #[test]
    fn urls_are_displayed_without_a_lone_slash() {
        let uri: http::Uri = "https://127.0.0.1:1".parse().unwrap();
        assert_eq!(display_url(&uri), "https://127.0.0.1:1");
        let uri: http::Uri = "https://proxy/k8s/".parse().unwrap();
        assert_eq!(display_url(&uri), "https://proxy/k8s/");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(cluster_url("fd00::1", 443), "https://[fd00::1]:443");
        assert_eq!(cluster_url("10.0.0.1", 6443), "https://10.0.0.1:6443");
    }

    #[test]
    fn lease_namespace_falls_back_to_default() {
        assert_eq!(lease_namespace(Path::new("/nonexistent"), ""), "default");
    }
}
