//! Authentication: bearer tokens, TLS with client certificates, kubeconfig and
//! service-account files.

mod common;

use herald_kubesim::{KubeconfigAuth, SimConfig, SimError, Simulator, TlsMode};
use serde_json::Value;

const UNAUTHORIZED: &str = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n";

fn tls_client(sim: &Simulator, with_cert: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().unwrap().as_bytes()).unwrap();
    let mut b = reqwest::Client::builder().tls_certs_only([ca]);
    if with_cert {
        let (cert, key) = sim.client_identity_pem().unwrap();
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn status_and_body(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn bearer_token_over_plain_http() {
    let sim = Simulator::start(SimConfig {
        token: Some("s3cret-token".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/api/v1/events", sim.url());
    let c = reqwest::Client::new();
    let (status, body) = status_and_body(c.get(&url)).await;
    assert_eq!((status, body.as_str()), (401, UNAUTHORIZED));
    let (status, body) = status_and_body(c.get(&url).bearer_auth("wrong")).await;
    assert_eq!((status, body.as_str()), (401, UNAUTHORIZED));
    let (status, _) = status_and_body(c.get(&url).bearer_auth("s3cret-token")).await;
    assert_eq!(status, 200);
    // 401s are recorded without the credential.
    let recs = sim.requests();
    assert_eq!(recs[1].status, 401);
    assert_eq!(recs[1].header("authorization"), Some("Bearer <redacted>"));
    assert!(!format!("{recs:?}").contains("s3cret"));
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_with_token() {
    let sim = Simulator::start(SimConfig {
        token: Some("t0ken".into()),
        tls: Some(TlsMode::ServerOnly),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let c = tls_client(&sim, false);
    let url = format!("{}/version", sim.url());
    assert_eq!(status_and_body(c.get(&url)).await.0, 401);
    let (status, body) = status_and_body(c.get(&url).bearer_auth("t0ken")).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_bytes(), common::fixture("version.json"));
    // A client that does not trust the CA cannot connect.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn client_certificates_authenticate() {
    let sim = Simulator::start(SimConfig {
        token: Some("t0ken".into()),
        tls: Some(TlsMode::ClientCertOptional),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/api/v1/namespaces", sim.url());
    assert_eq!(
        status_and_body(tls_client(&sim, true).get(&url)).await.0,
        200
    );
    assert_eq!(
        status_and_body(tls_client(&sim, false).get(&url)).await.0,
        401
    );
    assert_eq!(
        status_and_body(tls_client(&sim, false).get(&url).bearer_auth("t0ken"))
            .await
            .0,
        200
    );
    sim.shutdown().await;

    let strict = Simulator::start(SimConfig {
        tls: Some(TlsMode::ClientCertRequired),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/api/v1/namespaces", strict.url());
    assert_eq!(
        status_and_body(tls_client(&strict, true).get(&url)).await.0,
        200
    );
    assert!(
        tls_client(&strict, false).get(&url).send().await.is_err(),
        "handshake needs a certificate"
    );
    strict.shutdown().await;
}

#[tokio::test]
async fn http2_is_negotiated_over_tls() {
    let sim = Simulator::start(SimConfig {
        tls: Some(TlsMode::ServerOnly),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    common_events(&sim);
    let resp = tls_client(&sim, false)
        .get(format!("{}/api/v1/events", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 72);
    sim.shutdown().await;
}

fn common_events(sim: &Simulator) {
    sim.load_fixture_events().unwrap();
}

#[tokio::test]
async fn kubeconfigs_and_service_account_files() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig {
        token: Some("abc".into()),
        tls: Some(TlsMode::ClientCertOptional),
        service_account_namespace: "herald".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let token_cfg = dir.path().join("token.yaml");
    sim.write_kubeconfig(&token_cfg, KubeconfigAuth::Token)
        .unwrap();
    let text = std::fs::read_to_string(&token_cfg).unwrap();
    assert!(text.contains(&format!("server: \"{}\"", sim.url())));
    assert!(text.contains("token: \"abc\""));
    assert!(text.contains("certificate-authority-data: "));

    let cert_cfg = dir.path().join("cert.yaml");
    sim.write_kubeconfig(&cert_cfg, KubeconfigAuth::ClientCert)
        .unwrap();
    let text = std::fs::read_to_string(&cert_cfg).unwrap();
    assert!(text.contains("client-certificate-data: "));
    assert!(text.contains("client-key-data: "));
    assert!(!text.contains("token:"));

    let sa = sim
        .write_service_account_dir(&dir.path().join("sa"))
        .unwrap();
    assert_eq!(std::fs::read_to_string(&sa.token_path).unwrap(), "abc");
    assert_eq!(
        std::fs::read_to_string(&sa.namespace_path).unwrap(),
        "herald"
    );
    assert_eq!(
        std::fs::read_to_string(&sa.ca_path).unwrap(),
        sim.ca_pem().unwrap()
    );
    assert_eq!(sa.host, "127.0.0.1");
    assert_eq!(sa.port, sim.addr().port());
    sim.shutdown().await;

    let plain = Simulator::start(SimConfig::default()).await.unwrap();
    assert!(matches!(
        plain.write_kubeconfig(&token_cfg, KubeconfigAuth::Token),
        Err(SimError::AuthUnavailable(_))
    ));
    assert!(matches!(
        plain.write_kubeconfig(&token_cfg, KubeconfigAuth::ClientCert),
        Err(SimError::AuthUnavailable(_))
    ));
    assert!(plain.write_service_account_dir(dir.path()).is_err());
    plain
        .write_kubeconfig(&token_cfg, KubeconfigAuth::Anonymous)
        .unwrap();
    assert!(
        std::fs::read_to_string(&token_cfg)
            .unwrap()
            .contains("user: {}")
    );
    plain.shutdown().await;
}
