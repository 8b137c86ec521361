//! Client construction from kubeconfigs and service-account directories.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald_exporter::kube::client::{ClientEnv, ClientError, ClientOptions, ConfigSource, connect};
use herald_exporter::kube::{ApiError, KubeStats};
use herald_kubesim::{KubeconfigAuth, SimConfig, Simulator, TlsMode};
use tokio::time::Instant;

use crate::common::options;

const TOKEN: &str = "s3cret-token-9f2c";

async fn sim_with(cfg: SimConfig) -> Simulator {
    Simulator::start(cfg).await.unwrap()
}

fn authorizations(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn token_kubeconfig_works_and_a_wrong_token_is_rejected_without_leaking_it() {
    let sim = sim_with(SimConfig {
        token: Some(TOKEN.into()),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path, KubeconfigAuth::Token).unwrap();
    let conn = connect(options(&path, Arc::new(KubeStats::default())))
        .await
        .unwrap();
    assert_eq!(conn.source, ConfigSource::Flag(path.clone()));
    assert_eq!(conn.namespace, "default");
    assert_eq!(conn.cluster_url, sim.url());
    assert!(
        authorizations(&sim)
            .iter()
            .all(|a| a == "Bearer <redacted>")
    );

    let wrong = dir.path().join("wrong");
    sim.write_kubeconfig(&wrong, KubeconfigAuth::CustomToken("nope-nope-nope".into()))
        .unwrap();
    let err = connect(options(&wrong, Arc::new(KubeStats::default())))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                error: ApiError::Forbidden { code: 401, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "kubeconfig {}: cluster {} rejected",
            wrong.display(),
            sim.url()
        )),
        "{text}"
    );
    assert!(!text.contains("nope-nope-nope"), "{text}");
    sim.shutdown().await;
}

#[tokio::test]
async fn client_certificate_kubeconfig_works() {
    let sim = sim_with(SimConfig {
        tls: Some(TlsMode::ClientCertRequired),
        ..SimConfig::default()
    })
    .await;
    assert!(sim.url().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path, KubeconfigAuth::ClientCert)
        .unwrap();
    let conn = connect(options(&path, Arc::new(KubeStats::default())))
        .await
        .unwrap();
    assert_eq!(conn.api.core_api_versions().await.unwrap(), ["v1"]);

    // Without the certificate the TLS handshake is refused: a clear error, no panic.
    let anonymous = dir.path().join("anonymous");
    sim.write_kubeconfig(&anonymous, KubeconfigAuth::Anonymous)
        .unwrap();
    let err = connect(options(&anonymous, Arc::new(KubeStats::default())))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn exec_plugin_kubeconfig_works() {
    let sim = sim_with(SimConfig {
        token: Some(TOKEN.into()),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("credential.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: exec\nclusters:\n- name: sim\n  cluster:\n    server: {}\ncontexts:\n- name: exec\n  context:\n    cluster: sim\n    user: exec\n    namespace: ops\nusers:\n- name: exec\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            sim.url(),
            script.display()
        ),
    )
    .unwrap();
    let conn = connect(options(&path, Arc::new(KubeStats::default())))
        .await
        .unwrap();
    assert_eq!(
        conn.namespace, "ops",
        "the context namespace is the Lease namespace"
    );
    assert_eq!(authorizations(&sim), ["Bearer <redacted>"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn in_cluster_service_account_works() {
    let sim = sim_with(SimConfig {
        tls: Some(TlsMode::ServerOnly),
        token: Some(TOKEN.into()),
        service_account_namespace: "herald-system".into(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sa = sim
        .write_service_account_dir(&dir.path().join("sa"))
        .unwrap();
    let opts = ClientOptions {
        kubeconfig: None,
        service_account_dir: sa.dir.clone(),
        env: ClientEnv {
            service_host: Some(sa.host.clone()),
            service_port: Some(sa.port.to_string()),
            // In a pod, KUBECONFIG is ignored when the service account is present.
            kubeconfig: Some(dir.path().join("missing").into_os_string()),
            home: None,
        },
        qps: -1.0,
        burst: 0,
        request_timeout: Duration::from_secs(5),
        stats: Arc::new(KubeStats::default()),
    };
    let conn = connect(opts).await.unwrap();
    assert_eq!(conn.source, ConfigSource::InCluster(sa.dir.clone()));
    assert_eq!(conn.namespace, "herald-system");
    assert_eq!(authorizations(&sim), ["Bearer <redacted>"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn kubeconfig_pointing_nowhere_names_source_and_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: abc\n",
    )
    .unwrap();
    let err = connect(options(&path, Arc::new(KubeStats::default())))
        .await
        .unwrap_err();
    let text = err.to_string();
    let expected = format!(
        "kubeconfig {}: cluster https://127.0.0.1:1 unreachable: ",
        path.display()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(matches!(err, ClientError::Unreachable { .. }));
}

#[tokio::test]
async fn missing_kubeconfig_is_a_clear_error() {
    let err = connect(options(Path::new("/x"), Arc::new(KubeStats::default())))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "kubeconfig /x: no such file");
}

#[tokio::test]
async fn every_request_goes_through_the_rate_limiter() {
    let sim = sim_with(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path, KubeconfigAuth::Anonymous)
        .unwrap();
    let stats = Arc::new(KubeStats::default());
    let opts = ClientOptions {
        qps: 20.0,
        burst: 1,
        ..options(&path, stats.clone())
    };
    let conn = connect(opts).await.unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        conn.api.core_api_versions().await.unwrap();
    }
    let took = started.elapsed();
    // With a bucket of one token, five requests need at least four 50 ms refills.
    assert!(
        took >= Duration::from_millis(195),
        "5 requests at 20 qps took {took:?}"
    );
    let snap = stats.snapshot();
    assert!(snap.throttled_wait_seconds >= 0.1, "{snap:?}");
    assert_eq!(snap.lookup_requests, 5);
    assert_eq!(snap.other_requests, 1, "the connect probe");
    sim.shutdown().await;
}
