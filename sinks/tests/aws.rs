//! The AWS receivers in the real delivery driver against moto_server
//! (`HERALD_MOTO_BIN`): what they send lands in the queue, stream, bucket or
//! rule target and is read back through moto.
#![cfg(feature = "aws")]

#[path = "aws/environment.rs"]
mod environment;
#[path = "aws/eventbridge.rs"]
mod eventbridge;
#[path = "aws/firehose.rs"]
mod firehose;
#[path = "aws/kinesis.rs"]
mod kinesis;
#[path = "aws/moto.rs"]
mod moto;
#[path = "aws/opscenter.rs"]
mod opscenter;
#[path = "aws/sns.rs"]
mod sns;
#[path = "aws/sqs.rs"]
mod sqs;

use std::sync::Arc;
use std::time::Duration;

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_testkit::driver::{DriverHarness, event};
use moto::{Moto, sdk};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// Decodes the receiver block `block` of type `kind`.
fn config<T: herald_sinks::SinkType + Clone>(kind: &str, block: &str) -> T {
    let yaml = format!("- name: r\n  {kind}:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    receivers[0].sink.downcast_ref::<T>().unwrap().clone()
}

/// Batches of up to `max_events`, quick retries without limit.
fn settings(max_events: usize) -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events,
        max_bytes: 16 * 1024 * 1024,
        linger: Duration::from_millis(100),
    });
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_attempts: 0,
    };
    s
}

fn messages(bodies: &Value) -> Vec<String> {
    let mut out: Vec<String> = bodies
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
            body["message"].as_str().unwrap().to_owned()
        })
        .collect();
    out.sort();
    out
}
