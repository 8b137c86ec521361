//! A throw-away PKI (CA, server and client certificates from rcgen) and the rustls
//! server configuration for each [`TlsMode`].

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::config::TlsMode;
use crate::error::SimError;

/// Names the server certificate is valid for (what in-cluster and kubeconfig clients use).
const SERVER_NAMES: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "127.0.0.1",
    "::1",
];

/// The generated certificates.
pub struct Pki {
    /// CA certificate (PEM), the `ca.crt` clients trust.
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
    /// Client certificate (PEM), CN `kubesim-admin`, O `system:masters`.
    pub client_cert_pem: String,
    /// Client private key (PKCS#8 PEM).
    pub client_key_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Private keys are deliberately not printed.
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// Generates a CA, a server certificate for [`SERVER_NAMES`] and a client certificate.
    pub fn generate() -> Result<Self, SimError> {
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(SimError::CertGen)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubesim-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(SimError::CertGen)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(SimError::CertGen)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let names: Vec<String> = SERVER_NAMES.iter().map(|s| (*s).to_owned()).collect();
        let mut server_params = CertificateParams::new(names).map_err(SimError::CertGen)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let server_key = KeyPair::generate().map_err(SimError::CertGen)?;
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(SimError::CertGen)?;

        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).map_err(SimError::CertGen)?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "kubesim-admin");
        client_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let client_key = KeyPair::generate().map_err(SimError::CertGen)?;
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .map_err(SimError::CertGen)?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_der: server_cert.der().clone(),
            server_key_der: server_key.serialize_der(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Server certificate (PEM) for `localhost`, `127.0.0.1` and `::1`, signed by the CA;
    /// other test servers (herald's gRPC server) can use it too.
    pub fn server_cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.server_der)
    }

    /// Server private key (PKCS#8 PEM).
    pub fn server_key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.server_key_der)
    }

    /// rustls server configuration for `mode`, offering HTTP/2 and HTTP/1.1 via ALPN.
    pub fn server_config(&self, mode: TlsMode) -> Result<Arc<rustls::ServerConfig>, SimError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).map_err(SimError::Tls)?;
        let roots = Arc::new(roots);
        let verifier = match mode {
            TlsMode::ServerOnly => WebPkiClientVerifier::no_client_auth(),
            TlsMode::ClientCertOptional => {
                WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(SimError::ClientVerifier)?
            }
            TlsMode::ClientCertRequired => {
                WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(SimError::ClientVerifier)?
            }
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(SimError::Tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server_der.clone()], key)
            .map_err(SimError::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pems_and_configs() {
        let pki = Pki::generate().unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.client_key_pem.contains("PRIVATE KEY"));
        for mode in [
            TlsMode::ServerOnly,
            TlsMode::ClientCertOptional,
            TlsMode::ClientCertRequired,
        ] {
            let cfg = pki.server_config(mode).unwrap();
            assert_eq!(cfg.alpn_protocols.len(), 2);
        }
        assert!(!format!("{pki:?}").contains("PRIVATE"));
    }
}
