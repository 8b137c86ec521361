//! The AWS environment as AWS users set it: credentials from
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, the region from `AWS_REGION`
//! and the endpoint from `AWS_ENDPOINT_URL_SQS`, through the real default
//! chain ([`herald_sinks::aws::load`]); and no region anywhere refused.
//!
//! The environment of a test process cannot be changed safely, so each case
//! runs this test binary again as a child with the variables set
//! (`HERALD_AWS_CHILD` names the case), and the parent checks what the fake
//! SQS received.

use std::process::Command;

use herald_sinks::aws::{AwsError, AwsSettings};
use herald_sinks::sqs::{SqsConfig, SqsSink};
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;

use super::*;

const CHILD: &str = "HERALD_AWS_CHILD";

/// Runs test `name` of this binary with `env` (and nothing from the
/// machine's AWS setup: no config files, no instance metadata).
/// Blocks: call it from `spawn_blocking` when a fake runs on the test's
/// runtime.
fn run_child(name: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/herald-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/herald-test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "child {name} did not run:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn queue_url() -> Reply {
    Reply::ok()
        .header("content-type", "application/x-amz-json-1.0")
        .json(&json!({"QueueUrl": "http://127.0.0.1/000000000000/events"}))
}

fn sent() -> Reply {
    Reply::ok()
        .header("content-type", "application/x-amz-json-1.0")
        .json(&json!({"Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}], "Failed": []}))
}

/// Runs the sending child with `env` against `fake` (its SQS endpoint) and
/// checks that both SQS calls were signed by `key` in `region`, with
/// `token` when given.
async fn sends_signed_by(
    fake: &FakeHttp,
    env: &[(&str, &str)],
    key: &str,
    region: &str,
    token: Option<&str>,
) {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push((CHILD.into(), "send".into()));
    env.push(("AWS_ENDPOINT_URL_SQS".into(), fake.url()));
    // the fake answers on this test's runtime while the child runs
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_child("environment::child_sends_with_the_environment", &env);
    })
    .await
    .unwrap();
    let sqs: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.header("x-amz-target")
                .first()
                .is_some_and(|t| t.starts_with("AmazonSQS."))
        })
        .collect();
    assert_eq!(sqs.len(), 2);
    for r in &sqs {
        let auth = r.header("authorization")[0];
        assert!(
            auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={key}/"))
                && auth.contains(&format!("/{region}/sqs/aws4_request")),
            "{auth}"
        );
        assert_eq!(r.header("x-amz-security-token").first().copied(), token);
    }
}

#[tokio::test]
async fn credentials_region_and_endpoint_come_from_the_environment() {
    let fake = FakeHttp::with_replies([queue_url(), sent()]).await;
    sends_signed_by(
        &fake,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-from-env"),
            ("AWS_REGION", "eu-west-3"),
        ],
        "AKIDFROMENV",
        "eu-west-3",
        None,
    )
    .await;
}

#[tokio::test]
async fn a_profile_of_the_shared_files_gives_credentials_and_region() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n\n[profile events]\nregion = ap-south-1\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[events]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret-from-file\n",
    )
    .unwrap();
    let fake = FakeHttp::with_replies([queue_url(), sent()]).await;
    sends_signed_by(
        &fake,
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_PROFILE", "events"),
        ],
        "AKIDPROFILE",
        "ap-south-1",
        None,
    )
    .await;
}

#[tokio::test]
async fn a_profile_credential_process_is_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile tool]\nregion = sa-east-1\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"secret-from-process\"}'\n",
    )
    .unwrap();
    let fake = FakeHttp::with_replies([queue_url(), sent()]).await;
    sends_signed_by(
        &fake,
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_PROFILE", "tool"),
        ],
        "AKIDPROCESS",
        "sa-east-1",
        None,
    )
    .await;
}

/// IRSA on EKS: a web identity token file and a role, exchanged with STS
/// `AssumeRoleWithWebIdentity` (the fake answers like STS).
#[tokio::test]
async fn a_web_identity_token_is_exchanged_for_role_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.test.token").unwrap();
    let sts = Reply::ok().header("content-type", "text/xml").body(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>\
         <Credentials><AccessKeyId>ASIAWEBIDENTITY</AccessKeyId><SecretAccessKey>secret-from-sts</SecretAccessKey>\
         <SessionToken>session-from-sts</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
         <SubjectFromWebIdentityToken>system:serviceaccount:monitoring:herald</SubjectFromWebIdentityToken>\
         <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/herald/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>\
         </AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
    );
    let fake = FakeHttp::with_replies([sts, queue_url(), sent()]).await;
    let url = fake.url();
    sends_signed_by(
        &fake,
        &[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/herald"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
            ("AWS_ENDPOINT_URL_STS", &url),
        ],
        "ASIAWEBIDENTITY",
        "eu-central-1",
        Some("session-from-sts"),
    )
    .await;
    let form = fake.requests()[0].text();
    assert!(form.contains("Action=AssumeRoleWithWebIdentity"), "{form}");
    assert!(
        form.contains("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.test.token"),
        "{form}"
    );
}

/// ECS (and EKS Pod Identity): credentials from the container endpoint.
#[tokio::test]
async fn container_credentials_are_fetched_from_their_endpoint() {
    let creds = FakeHttp::with_replies([Reply::ok().json(&json!({
        "AccessKeyId": "ASIACONTAINER",
        "SecretAccessKey": "secret-from-ecs",
        "Token": "session-from-ecs",
        "Expiration": "2099-01-01T00:00:00Z"
    }))])
    .await;
    let fake = FakeHttp::with_replies([queue_url(), sent()]).await;
    let uri = format!("{}/v2/credentials", creds.url());
    sends_signed_by(
        &fake,
        &[
            ("AWS_REGION", "us-west-2"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri),
        ],
        "ASIACONTAINER",
        "us-west-2",
        Some("session-from-ecs"),
    )
    .await;
    assert_eq!(creds.requests()[0].target, "/v2/credentials");
}

/// The child of [`credentials_region_and_endpoint_come_from_the_environment`].
#[tokio::test]
async fn child_sends_with_the_environment() {
    if std::env::var(CHILD).as_deref() != Ok("send") {
        return;
    }
    // the driver's warnings (why a send failed) reach the parent's failure message
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .try_init();
    // no region, no endpoint: both from the environment
    let c: SqsConfig = config("sqs", "    queueName: events\n");
    let sdk = herald_sinks::aws::load(&c.aws).await.unwrap();
    let mut h = DriverHarness::start(SqsSink::new("r", &c, &sdk), settings(1));
    h.deliver(event("u1", "m")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1);
}

#[test]
fn no_region_anywhere_stops_the_receiver() {
    run_child(
        "environment::child_finds_no_region",
        &[
            (CHILD, "no-region"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ],
    );
}

/// The child of [`no_region_anywhere_stops_the_receiver`].
#[tokio::test]
async fn child_finds_no_region() {
    if std::env::var(CHILD).as_deref() != Ok("no-region") {
        return;
    }
    let err = herald_sinks::aws::load(&AwsSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AwsError::NoRegion));
    assert!(
        err.to_string().contains("set `region:` in the receiver"),
        "{err}"
    );
}
