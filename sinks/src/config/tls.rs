//! The TLS block shared by HTTP sinks (`webhook`; later `elasticsearch`,
//! `opensearch`, `loki`): `insecureSkipVerify`, `serverName`, `caFile`,
//! `certFile`, `keyFile`.
//!
//! Files are checked when the config is loaded: a missing or unreadable file,
//! or a certificate without its key, stops startup with the key's location.

use std::fs::File;

use herald_config::{DecodeOptions, Diagnostics, Located, Node, decode_with};
use serde::Deserialize;

/// A `tls:` block as written (empty strings mean "not set", as in KEE).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// Accept any server certificate (testing only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Name the server certificate must be valid for, instead of the
    /// endpoint's host. herald still sends the endpoint's host as SNI.
    #[serde(default)]
    pub server_name: String,
    /// PEM file of CA certificates that **replace** the system trust roots.
    #[serde(default)]
    pub ca_file: Option<Located<String>>,
    /// PEM client certificate (chain); requires `keyFile`.
    #[serde(default)]
    pub cert_file: Option<Located<String>>,
    /// PEM private key of the client certificate; requires `certFile`.
    #[serde(default)]
    pub key_file: Option<Located<String>>,
}

impl TlsConfig {
    /// Decodes and checks a `tls:` node at `path`.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let config: TlsConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        // receivers' files are mounted into rulers only: other processes skip the check
        let check_files = diags.checks_files_of(herald_config::Role::Ruler);
        for file in [&config.ca_file, &config.cert_file, &config.key_file]
            .into_iter()
            .flatten()
            .filter(|f| check_files && !f.value.is_empty())
        {
            if let Err(e) = File::open(&file.value) {
                file.error(diags, format!("cannot read TLS file `{}`: {e}", file.value))
                    .with_hint("mount the file into the container or fix the path");
            }
        }
        match (config.cert(), config.key()) {
            (Some(_), None) => {
                if let Some(cert) = &config.cert_file {
                    cert.error(diags, "certFile is set but keyFile is not")
                        .with_hint("client certificates need both certFile and keyFile");
                }
            }
            (None, Some(_)) => {
                if let Some(key) = &config.key_file {
                    key.error(diags, "keyFile is set but certFile is not")
                        .with_hint("client certificates need both certFile and keyFile");
                }
            }
            _ => {}
        }
        (diags.error_count() == before).then_some(config)
    }

    /// Returns `caFile` when set.
    pub fn ca(&self) -> Option<&str> {
        non_empty(&self.ca_file)
    }

    /// Returns `certFile` when set.
    pub fn cert(&self) -> Option<&str> {
        non_empty(&self.cert_file)
    }

    /// Returns `keyFile` when set.
    pub fn key(&self) -> Option<&str> {
        non_empty(&self.key_file)
    }

    /// Returns whether nothing differs from the default TLS behaviour.
    pub fn is_default(&self) -> bool {
        !self.insecure_skip_verify
            && self.server_name.is_empty()
            && self.ca().is_none()
            && self.cert().is_none()
    }
}

fn non_empty(v: &Option<Located<String>>) -> Option<&str> {
    v.as_ref()
        .map(|l| l.value.as_str())
        .filter(|s| !s.is_empty())
}
