//! `pubsub` against Google's Pub/Sub emulator (its path in
//! `HERALD_PUBSUB_EMULATOR_BIN`, set by `.ci/test`), one topic and a subscription on
//! it. Messages are pulled (and acknowledged) by a reader task over the emulator's
//! REST API; each message's data is the rendered layout, whose `key` is the
//! idempotency key. The rulers reach the emulator through `PUBSUB_EMULATOR_HOST`, as
//! Google's SDKs do. Its fault: down, as a hung server (SIGSTOP, then SIGCONT:
//! nothing it stored is lost).

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::warn;

use super::{Deliveries, LAYOUT, Target, TargetEnv, keys_of};
use crate::chaos::plan::TargetFault;
use crate::error::{BenchError, Result, io_err};
use crate::process::{Launch, Proc, free_port};

/// The receiver's name.
pub const NAME: &str = "pubsub";
/// The emulator's project.
const PROJECT: &str = "herald-chaos";
/// The topic the receiver publishes to.
const TOPIC: &str = "chaos";

/// The emulator and its reader.
pub struct PubsubTarget {
    proc: Proc,
    host: String,
    deliveries: Deliveries,
    reader: tokio::task::JoinHandle<()>,
}

/// Starts the emulator, or `None` (with a warning) when `HERALD_PUBSUB_EMULATOR_BIN`
/// is unset.
pub fn start(env: &TargetEnv) -> BoxFuture<'_, Result<Option<Box<dyn Target>>>> {
    Box::pin(async move {
        let Some(bin) = std::env::var_os("HERALD_PUBSUB_EMULATOR_BIN") else {
            warn!(
                "HERALD_PUBSUB_EMULATOR_BIN is not set: the pubsub receiver is left out \
                 (.ci/test sets it when the Google Cloud SDK's emulator is installed)"
            );
            return Ok(None);
        };
        std::fs::create_dir_all(&env.dir).map_err(io_err("cannot create", &env.dir))?;
        let port = free_port()?;
        let launch = Launch::new(
            "pubsub-emulator",
            std::path::Path::new(&bin),
            env.dir.join("emulator.log"),
        )
        .with_args(["--host=127.0.0.1", &format!("--port={port}")]);
        let mut proc = launch.spawn()?;
        let host = format!("127.0.0.1:{port}");
        let base = format!("http://{host}/v1/projects/{PROJECT}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        // the emulator (Java) takes a few seconds to answer
        let deadline = Instant::now() + Duration::from_secs(60);
        while call(
            &client,
            reqwest::Method::PUT,
            &format!("{base}/topics/{TOPIC}"),
            json!({}),
        )
        .await
        .is_none()
        {
            proc.check_alive()?;
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: "the Pub/Sub emulator to answer".into(),
                    secs: 60,
                    log: Some(proc.log_tail()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let subscription = format!("{base}/subscriptions/{TOPIC}");
        if call(
            &client,
            reqwest::Method::PUT,
            &subscription,
            json!({"topic": format!("projects/{PROJECT}/topics/{TOPIC}"), "ackDeadlineSeconds": 60}),
        )
        .await
        .is_none()
        {
            return Err(BenchError::Invalid(
                "the Pub/Sub emulator refused the subscription".into(),
            ));
        }
        let deliveries = Deliveries::default();
        let reader = tokio::spawn(read(client, subscription, deliveries.clone()));
        let t: Box<dyn Target> = Box::new(PubsubTarget {
            proc,
            host,
            deliveries,
            reader,
        });
        Ok(Some(t))
    })
}

/// One REST call; `None` when it fails (the emulator is down, hung, or answered an
/// error).
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Value,
) -> Option<Value> {
    let r = client.request(method, url).json(&body).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// Pulls and acknowledges messages, forever.
async fn read(client: reqwest::Client, subscription: String, deliveries: Deliveries) {
    let b64 = base64::engine::general_purpose::STANDARD;
    loop {
        let pulled = call(
            &client,
            reqwest::Method::POST,
            &format!("{subscription}:pull"),
            json!({"maxMessages": 500, "returnImmediately": true}),
        )
        .await;
        let received = pulled
            .as_ref()
            .and_then(|v| v["receivedMessages"].as_array())
            .cloned()
            .unwrap_or_default();
        if received.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let now = Instant::now();
        let mut ack_ids = Vec::with_capacity(received.len());
        for r in &received {
            ack_ids.push(r["ackId"].clone());
            let data = b64
                .decode(r["message"]["data"].as_str().unwrap_or_default())
                .unwrap_or_default();
            for key in keys_of(&data) {
                deliveries.record(key, now);
            }
        }
        // a message not acknowledged comes back after its deadline: a duplicate of
        // the target's own making, so keep trying
        while call(
            &client,
            reqwest::Method::POST,
            &format!("{subscription}:acknowledge"),
            json!({"ackIds": ack_ids}),
        )
        .await
        .is_none()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for PubsubTarget {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Target for PubsubTarget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn receiver_yaml(&self) -> String {
        format!(
            "  - name: {NAME}\n    pubsub:\n      gcloud_project_id: {PROJECT}\n      topic: {TOPIC}\n{LAYOUT}"
        )
    }

    fn environment(&self) -> Vec<(&'static str, String)> {
        vec![("PUBSUB_EMULATOR_HOST", self.host.clone())]
    }

    fn faults(&self) -> &'static [TargetFault] {
        &[TargetFault::Down]
    }

    fn set_fault(&mut self, fault: Option<TargetFault>) -> Result<()> {
        self.proc
            .signal(if fault.is_some() { "STOP" } else { "CONT" })
    }

    fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    fn pid(&self) -> Option<u32> {
        Some(self.proc.pid())
    }
}
