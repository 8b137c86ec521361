//! Client configuration files pointing at the simulator: kubeconfigs (token or client
//! certificate) and an in-cluster service-account directory.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::SimError;

/// Files written by [`crate::Simulator::write_service_account_dir`], plus the environment
/// an in-cluster client needs (`KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountDir {
    /// The directory (stands in for `/var/run/secrets/kubernetes.io/serviceaccount`).
    pub dir: PathBuf,
    /// `token` file.
    pub token_path: PathBuf,
    /// `ca.crt` file.
    pub ca_path: PathBuf,
    /// `namespace` file.
    pub namespace_path: PathBuf,
    /// Value for `KUBERNETES_SERVICE_HOST`.
    pub host: String,
    /// Value for `KUBERNETES_SERVICE_PORT`.
    pub port: u16,
}

/// Credentials section of a kubeconfig user.
pub(crate) enum UserCreds<'a> {
    Token(&'a str),
    ClientCert { cert_pem: &'a str, key_pem: &'a str },
    None,
}

/// YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Renders a single-context kubeconfig named `kubesim`.
pub(crate) fn render(
    server: &str,
    ca_pem: Option<&str>,
    creds: UserCreds<'_>,
    namespace: &str,
) -> String {
    let mut cluster = format!("    server: {}\n", quote(server));
    if let Some(ca) = ca_pem {
        cluster.push_str(&format!(
            "    certificate-authority-data: {}\n",
            STANDARD.encode(ca)
        ));
    }
    let user = match creds {
        UserCreds::Token(token) => format!("    token: {}\n", quote(token)),
        UserCreds::ClientCert { cert_pem, key_pem } => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            STANDARD.encode(cert_pem),
            STANDARD.encode(key_pem)
        ),
        UserCreds::None => "    {}\n".to_owned(),
    };
    let user = if user.trim() == "{}" {
        "  user: {}\n".to_owned()
    } else {
        format!("  user:\n{user}")
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n{cluster}users:\n- name: kubesim\n{user}contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n    namespace: {}\ncurrent-context: kubesim\npreferences: {{}}\n",
        quote(namespace)
    )
}

/// Writes `contents` to `path`, mapping the error.
pub(crate) fn write(path: &Path, contents: &[u8]) -> Result<(), SimError> {
    std::fs::write(path, contents).map_err(|source| SimError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kubeconfig_is_quoted() {
        let y = render(
            "https://127.0.0.1:1",
            Some("CA"),
            UserCreds::Token("a\"b"),
            "default",
        );
        assert!(y.contains("    token: \"a\\\"b\"\n"));
        assert!(y.contains(&format!(
            "certificate-authority-data: {}",
            STANDARD.encode("CA")
        )));
        assert!(y.contains("current-context: kubesim"));
    }

    #[test]
    fn anonymous_kubeconfig_has_empty_user() {
        let y = render("http://127.0.0.1:1", None, UserCreds::None, "default");
        assert!(y.contains("- name: kubesim\n  user: {}\n"));
        assert!(!y.contains("certificate-authority"));
    }
}
