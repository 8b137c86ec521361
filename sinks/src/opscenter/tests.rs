//! `opscenter` config, the `CreateOpsItem` body, and the signed call against
//! a fake answering like SSM (moto does not implement `CreateOpsItem`): the
//! request is checked header by header and its signature recomputed with
//! herald's own SigV4 code (the Elasticsearch receiver's), independent of
//! the AWS signer that made it.

use herald_config::Secret;
use herald_testkit::{FakeHttp, Reply};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::aws::testing::{ACCESS_KEY, SECRET_KEY, load, sdk};
use crate::driver::{AckRef, Delivery, RequestBuilder as _, SendError, SendOutcome, Sink as _};
use crate::elasticsearch::sigv4::{self, Canonical, Credentials};
use crate::model::tests::compat_example;

fn opscenter(block: &str) -> (Option<OpsCenterConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: o\n    opscenter:\n{block}"))
}

/// kubernetes-event-exporter's README example, made valid YAML (the
/// original has commas after values, wrong indentation and lists where maps
/// are meant).
const KEE_EXAMPLE: &str = r#"receivers:
  - name: "alerts"
    opscenter:
      title: "{{ .Message }}"
      category: "{{ .Reason }}" # Optional
      description: "Event {{ .Reason }} for {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }} on K8s cluster"
      notifications: # Optional: SNS ARN
        - "sns1"
        - "sns2"
      operationalData: # Optional
        Reason: "{{ .Reason }}"
      priority: "6" # Optional
      region: "us-east1"
      relatedOpsItems: # Optional: OpsItems ARN
        - "ops1"
        - "ops2"
      severity: "6" # Optional
      source: "production"
      tags: # Optional
        ENV: "{{ .InvolvedObject.Namespace }}"
"#;

fn body(c: &OpsCenterConfig) -> serde_json::Value {
    let bytes = OpsCenterBuilder::new(c)
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_kee_readme_example_builds_the_ops_item_with_its_related_items() {
    let (c, diags) = load::<OpsCenterConfig>(KEE_EXAMPLE);
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    let key = compat_example().idempotency_key();
    assert_eq!(
        body(&c),
        json!({
            "Title": compat_example().message,
            "Description": "Event BackOff for shop/web-6d4cf56db6-x2x9q on K8s cluster",
            "Source": "production",
            "Category": "BackOff",
            "Severity": "6",
            "Priority": 6,
            "OperationalData": {
                "/aws/dedup": {"Value": format!("{{\"dedupString\":\"{key}\"}}"), "Type": "SearchableString"},
                "Reason": {"Value": "BackOff", "Type": "SearchableString"}
            },
            "Tags": [{"Key": "ENV", "Value": "shop"}],
            // the configured ids (kubernetes-event-exporter sent the operational data values)
            "RelatedOpsItems": [{"OpsItemId": "ops1"}, {"OpsItemId": "ops2"}],
            "Notifications": [{"Arn": "sns1"}, {"Arn": "sns2"}]
        })
    );
}

#[test]
fn a_priority_that_is_not_an_integer_rejects_the_event() {
    let (c, _) = opscenter(
        "      title: t\n      description: d\n      source: s\n      priority: \"{{ .Reason }}\"\n",
    );
    let err = OpsCenterBuilder::new(&c.unwrap())
        .encode(&Delivery::from_event(compat_example(), AckRef::detached()))
        .unwrap_err();
    assert!(err.to_string().contains("`priority` rendered `BackOff`, which is not an integer"), "{err}");
}

#[test]
fn bad_blocks_are_reported_at_their_line() {
    // the README's lists where maps are meant
    let (c, diags) = opscenter(
        "      title: t\n      description: d\n      source: s\n      operationalData:\n        - Reason: \"{{ .Reason }}\"\n",
    );
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert!(e.message.contains("expected a mapping for `operationalData`"), "{diags}");
    assert_eq!(e.location.unwrap().line, 8);
    assert!(e.hint.as_deref().unwrap().contains("not a list"), "{diags}");
    let (c, diags) = opscenter("      title: t\n      description: d\n");
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("needs `source`"), "{diags}");
    let (c, diags) = opscenter(
        "      title: \"{{ .Message \"\n      description: d\n      source: s\n",
    );
    assert!(c.is_none());
    assert_eq!(diags.errors().next().unwrap().location.unwrap().line, 4, "{diags}");
    let (c, diags) = opscenter(
        "      title: t\n      description: d\n      source: s\n      tags:\n        team: \"{{ .Nope \"\n",
    );
    assert!(c.is_none());
    assert_eq!(diags.errors().next().unwrap().location.unwrap().line, 8, "{diags}");
}

fn sink(fake: &FakeHttp) -> OpsCenterSink {
    let (c, diags) = opscenter(&format!(
        "      title: \"{{{{ .Reason }}}}\"\n      description: d\n      source: herald\n      endpoint: {}\n",
        fake.url()
    ));
    let c = c.unwrap_or_else(|| panic!("{diags}"));
    OpsCenterSink::new(&c, &sdk(), std::time::Duration::from_secs(5)).unwrap()
}

fn request(s: &OpsCenterSink) -> OpsCenterRequest {
    s.builder()
        .request_for(&[&Delivery::from_event(compat_example(), AckRef::detached())])
        .unwrap()
}

fn ssm_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", "6d2c0a51-0000-4000-8000-000000000000")
        .json(&json!({"__type": kind, "message": message}))
}

#[tokio::test]
async fn the_call_is_a_signed_json_post_to_ssm() {
    let fake = FakeHttp::with_replies([Reply::ok()
        .header("content-type", "application/x-amz-json-1.1")
        .json(&json!({"OpsItemId": "oi-0123456789ab", "OpsItemArn": "arn:aws:ssm:us-east-1:123456789012:opsitem/oi-0123456789ab"}))])
    .await;
    let s = sink(&fake);
    let req = request(&s);
    assert_eq!(s.send(&req).await.unwrap(), SendOutcome::Delivered);
    let r = &fake.requests()[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/"));
    assert_eq!(r.header("x-amz-target"), ["AmazonSSM.CreateOpsItem"]);
    assert_eq!(r.header("content-type"), ["application/x-amz-json-1.1"]);
    let body = r.json();
    assert_eq!(body["Title"], "BackOff");
    assert_eq!(body["Source"], "herald");
    // the signature, recomputed independently
    let auth = r.header("authorization")[0].to_owned();
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    let names: Vec<&str> = signed.split(';').collect();
    for required in ["content-type", "host", "x-amz-date", "x-amz-target"] {
        assert!(names.contains(&required), "{signed}");
    }
    let headers: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.to_string(), r.header(n)[0].to_owned()))
        .collect();
    let amz_date = r.header("x-amz-date")[0].to_owned();
    let canonical = Canonical {
        method: "POST",
        path: "/",
        query: Vec::new(),
        headers,
        payload_sha256: sigv4::hex(&Sha256::digest(&r.body)),
    };
    let credentials = Credentials {
        access_key_id: Secret::new(ACCESS_KEY.to_owned()),
        secret_access_key: Secret::new(SECRET_KEY.to_owned()),
        session_token: None,
    };
    assert_eq!(
        auth,
        sigv4::authorization(&canonical, &amz_date, "us-east-1", "ssm", &credentials)
    );
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert!(!format!("{:?}", r.headers).contains(SECRET_KEY));
}

#[tokio::test]
async fn ssm_errors_are_sorted_into_retriable_and_permanent() {
    let fake = FakeHttp::with_replies([
        ssm_error(400, "ValidationException", "1 validation error detected: Value at 'priority' failed to satisfy constraint: Member must have value less than or equal to 5"),
        ssm_error(400, "ThrottlingException", "Rate exceeded"),
        ssm_error(400, "com.amazon.coral.service#ExpiredTokenException", "The security token included in the request is expired"),
        ssm_error(500, "InternalServerError", "An error occurred"),
        ssm_error(400, "OpsItemLimitExceededException", "limit"),
    ])
    .await;
    let s = sink(&fake);
    let req = request(&s);
    let mut kinds = Vec::new();
    for _ in 0..5 {
        match s.send(&req).await.unwrap_err() {
            e @ SendError::Permanent { .. } => kinds.push(format!("permanent {e}")),
            e @ SendError::Retriable { .. } => kinds.push(format!("retriable {e}")),
        }
    }
    assert!(kinds[0].starts_with("permanent SSM CreateOpsItem: ValidationException: 1 validation error"), "{kinds:?}");
    assert!(kinds[0].ends_with("(HTTP 400)"), "{kinds:?}");
    assert!(kinds[1].starts_with("retriable SSM CreateOpsItem: ThrottlingException"), "{kinds:?}");
    assert!(kinds[2].starts_with("retriable SSM CreateOpsItem: ExpiredTokenException"), "{kinds:?}");
    assert!(kinds[3].starts_with("retriable"), "{kinds:?}");
    assert!(kinds[4].starts_with("permanent"), "{kinds:?}");
}

#[tokio::test]
async fn without_an_endpoint_the_regional_ssm_endpoint_is_used() {
    let (c, _) = opscenter("      title: t\n      description: d\n      source: s\n      region: eu-west-1\n");
    let s = OpsCenterSink::new(&c.unwrap(), &sdk(), std::time::Duration::from_secs(5)).unwrap();
    // the SDK configuration's region (us-east-1 here) is what the receiver resolved
    assert_eq!(s.url().as_str(), "https://ssm.us-east-1.amazonaws.com/");
}
