//! `sns` config. Publishing (against a fake answering like SNS, and to
//! moto's topics) is tested in `sinks/tests/aws/sns.rs`.

use super::*;
use crate::aws::fifo::DEFAULT_GROUP_ID;
use crate::aws::testing::load;

fn sns(block: &str) -> (Option<SnsConfig>, herald_config::Diagnostics) {
    load(&format!("receivers:\n  - name: t\n    sns:\n{block}"))
}

#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load::<SnsConfig>(
        "receivers:\n  - name: \"sns\"\n    sns:\n      topicARN: \"arn:aws:sns:us-east-1:1234567890123456:mytopic\"\n      region: \"us-west-2\"\n      layout: # Optional\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let c = c.unwrap();
    assert_eq!(c.topic_arn, "arn:aws:sns:us-east-1:1234567890123456:mytopic");
    // the region written wins (as in kubernetes-event-exporter), with a warning
    assert_eq!(c.aws.region.as_deref(), Some("us-west-2"));
    let w: Vec<_> = diags.warnings().collect();
    assert_eq!(w.len(), 1, "{diags}");
    assert!(w[0].message.contains("the topic is in `us-east-1`"), "{diags}");
    assert_eq!(w[0].location.unwrap().line, 5);
}

#[test]
fn the_region_comes_from_the_arn_when_not_set() {
    let (c, diags) = sns("      topicARN: arn:aws:sns:eu-west-1:123456789012:events\n");
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    assert_eq!(c.unwrap().aws.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn bad_arns_and_fifo_settings_are_reported() {
    let (c, diags) = sns("      topicARN: events\n");
    assert!(c.is_none());
    let e = diags.errors().next().unwrap();
    assert!(e.message.contains("not an SNS topic ARN"), "{diags}");
    assert_eq!(e.location.unwrap().line, 4);
    let (c, diags) = sns("      region: us-east-1\n");
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("needs a `topicARN`"), "{diags}");
    let (c, diags) = sns("      topicARN: arn:aws:sns:eu-west-1:123456789012:events.fifo\n");
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(c.unwrap().group_id.unwrap().source(), DEFAULT_GROUP_ID);
    let (c, diags) = sns(
        "      topicARN: arn:aws:sns:eu-west-1:123456789012:events\n      messageGroupId: x\n",
    );
    assert!(c.is_none());
    assert!(diags.errors().next().unwrap().message.contains("only for FIFO topics"), "{diags}");
}
