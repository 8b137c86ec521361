//! Builds a rustls client configuration from a receiver's `tls:` block, with
//! Go `crypto/tls` semantics: `caFile` replaces the system roots,
//! `serverName` is the name the certificate is checked against, and
//! `insecureSkipVerify` accepts any certificate (handshake signatures are
//! still checked).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::TlsConfig;

/// A TLS setting could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot load {what} from `{path}`: {message}")]
    Pem {
        /// `CA certificates`, `client certificate`, `client key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The CA file holds no usable certificate.
    #[error("`{path}` contains no CA certificate")]
    NoCa {
        /// The file.
        path: String,
    },
    /// `serverName` is not a valid DNS name or IP address.
    #[error("invalid serverName `{0}`")]
    ServerName(String),
    /// The system trust roots could not be loaded.
    #[error("cannot load the system trust roots: {0}")]
    SystemRoots(String),
    /// rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The verifier could not be built from the roots.
    #[error("invalid trust roots: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// Builds the client configuration of `tls` (HTTP/1.1 only, so header names
/// go out exactly as written).
///
/// # Errors
/// Unreadable or invalid PEM files, an invalid `serverName`, or a key that
/// does not match its certificate.
pub fn client_config(tls: &TlsConfig) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAnyCert { provider })
    } else {
        let roots = Arc::new(match tls.ca() {
            Some(path) => load_roots(path)?,
            None => system_roots()?,
        });
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
        if tls.server_name.is_empty() {
            inner
        } else {
            let name = ServerName::try_from(tls.server_name.clone())
                .map_err(|_| TlsError::ServerName(tls.server_name.clone()))?;
            Arc::new(FixedName { inner, name })
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (tls.cert(), tls.key()) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
                what: "client key",
                path: key.to_owned(),
                message: e.to_string(),
            })?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn load_certs(path: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |e: rustls::pki_types::pem::Error| TlsError::Pem {
        what,
        path: path.to_owned(),
        message: e.to_string(),
    };
    CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)
}

fn load_roots(path: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(load_certs(path, "CA certificates")?);
    if added == 0 {
        return Err(TlsError::NoCa {
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    if roots.is_empty() {
        let message = loaded
            .errors
            .first()
            .map_or_else(|| "no certificates found".to_owned(), ToString::to_string);
        return Err(TlsError::SystemRoots(message));
    }
    Ok(roots)
}

/// Verifies the certificate for a fixed name (`serverName`) instead of the
/// endpoint's host.
#[derive(Debug)]
struct FixedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecureSkipVerify`: any certificate is accepted, but the handshake
/// signature must still match it.
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
