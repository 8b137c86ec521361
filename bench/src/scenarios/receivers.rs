//! Scenario `receivers`: the `herald-ruler` process delivering to network receivers.
//!
//! The ruler is fed by the synthetic gRPC exporter ([`Source`]) and routes every event
//! to one receiver:
//!
//! * `elasticsearch` against osmem-server (an in-memory OpenSearch; path in
//!   `HERALD_OSMEM_BIN`, as `.ci/test` sets it; the row is skipped with a warning when
//!   it is not set): one `_bulk` request per batch, documents read back with `_count`;
//! * `loki` (protobuf + snappy) against an in-process fake push endpoint that decodes
//!   every body and counts its entries.
//!
//! * `kafka` against tansu (a Kafka-compatible broker, in memory, one topic of 3
//!   partitions; `HERALD_TANSU_BIN`), `acks=all`: an event is acknowledged when its
//!   delivery report came;
//! * `syslog` against rsyslogd over TCP (RFC 5424, octet counting; `HERALD_RSYSLOGD_BIN`),
//!   written to a file whose lines are counted.
//!
//! * `sqs` against moto_server (an AWS fake; `HERALD_MOTO_BIN`): `SendMessageBatch`,
//!   the queue's message count read back.
//! * `pubsub` against Google's Pub/Sub emulator (`HERALD_PUBSUB_EMULATOR_BIN`, reached
//!   through `PUBSUB_EMULATOR_HOST` as Google's SDKs do): `Publish` over gRPC, the
//!   messages pulled back from a subscription and counted.
//!
//! A row whose peer is not installed is skipped with a warning. Throughput is measured from the first batch the source sent to the last
//! acknowledgement (the ruler acknowledges an event only once the target accepted it),
//! CPU from `/proc` for the ruler (and osmem-server, in the notes). A row whose target
//! does not hold every event says `MISSING`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use herald_proto::pb;
use tracing::{info, warn};

use super::{Ctx, timeout_for};
use crate::error::{BenchError, Result, io_err};
use crate::process::{Proc, RulerSpec, free_port, ruler_launch};
use crate::report::Row;
use crate::source::Source;
use crate::workload;

/// Events per batch (both receivers' `_bulk` / push size).
const BATCH: usize = 500;

/// Runs the scenario.
///
/// # Errors
/// A process or the fake cannot start, or the ruler does not finish in time.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    match std::env::var_os("HERALD_OSMEM_BIN") {
        Some(bin) => rows.push(elasticsearch(ctx, Path::new(&bin)).await?),
        None => warn!(
            "HERALD_OSMEM_BIN is not set (see .ci/install-peers.sh): the elasticsearch row is skipped"
        ),
    }
    rows.push(loki(ctx).await?);
    match std::env::var_os("HERALD_TANSU_BIN") {
        Some(bin) => rows.push(kafka(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_TANSU_BIN is not set: the kafka row is skipped"),
    }
    match std::env::var_os("HERALD_RSYSLOGD_BIN") {
        Some(bin) => rows.push(syslog(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_RSYSLOGD_BIN is not set: the syslog row is skipped"),
    }
    match std::env::var_os("HERALD_MOTO_BIN") {
        Some(bin) => rows.push(sqs(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_MOTO_BIN is not set: the sqs row is skipped"),
    }
    match std::env::var_os("HERALD_PUBSUB_EMULATOR_BIN") {
        Some(bin) => rows.push(pubsub(ctx, Path::new(&bin)).await?),
        None => warn!("HERALD_PUBSUB_EMULATOR_BIN is not set: the pubsub row is skipped"),
    }
    Ok(rows)
}

/// Events sent per row.
fn events(ctx: &Ctx) -> usize {
    ctx.sizes.receivers_events
}

/// The ruler config routing everything to one receiver `sink` given as YAML lines
/// (indented under the receiver).
fn config(receiver: &str) -> String {
    config_batched(receiver, BATCH)
}

/// [`config`] with driver batches of `batch` events.
fn config_batched(receiver: &str, batch: usize) -> String {
    format!(
        "logLevel: warn\nclusterName: bench\nroute:\n  routes:\n    - match:\n        - receiver: sink\nreceivers:\n  - name: sink\n{receiver}    delivery:\n      batch: {{maxEvents: {batch}}}\nruler:\n  memberId: bench-ruler\n  credits: 2000\n  shutdownGrace: 5s\n"
    )
}

/// What one delivery run measured.
struct Run {
    wall: Duration,
    cpu: Duration,
    peak_rss: u64,
}

/// Starts the ruler with `config`, serves `n` events and waits until all are
/// acknowledged.
async fn deliver(ctx: &mut Ctx, dir: &str, config: String, n: usize) -> Result<Run> {
    deliver_with_env(ctx, dir, config, n, &[], 200.0).await
}

/// [`deliver`] with extra environment for the ruler.
async fn deliver_with_env(
    ctx: &mut Ctx,
    dir: &str,
    config: String,
    n: usize,
    env: &[(&str, &str)],
    min_rate: f64,
) -> Result<Run> {
    let bins = ctx.binaries()?;
    let work = ctx.dir(dir)?;
    let events: Vec<pb::Event> = workload::domain_events(&ctx.samples, n)
        .into_iter()
        .map(pb::Event::from)
        .collect();
    let source = Source::start(events, 1).await?;
    let mut launch = ruler_launch(
        &RulerSpec {
            bin: &bins.ruler,
            work: &work,
            config,
            exporter: &source.url,
            dump: Path::new("/dev/null"),
            name: "ruler",
        },
        &[],
    )?;
    for (k, v) in env {
        launch.env(*k, *v);
    }
    let mut ruler = launch.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while source.first_sent().is_none() {
        ruler.check_alive()?;
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: "the ruler to subscribe".into(),
                secs: 60,
                log: Some(ruler.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cpu0 = ruler.cpu();
    let waited = source.wait_done(timeout_for(n, min_rate)).await;
    let cpu = ruler.cpu().saturating_sub(cpu0);
    let (first, done) = match waited {
        Ok(t) => t,
        Err(e) => {
            ruler.check_alive()?;
            return Err(match e {
                BenchError::Timeout { what, secs, .. } => BenchError::Timeout {
                    what,
                    secs,
                    log: Some(ruler.log_tail()),
                },
                other => other,
            });
        }
    };
    let peak_rss = ruler.memory().peak;
    ruler.terminate(Duration::from_secs(10))?;
    Ok(Run {
        wall: done - first,
        cpu,
        peak_rss,
    })
}

/// The row for one run: events/s, ruler CPU per event, and whether the target holds
/// every event.
fn row(label: &str, n: usize, run: &Run, landed: Option<u64>, extra: String) -> Row {
    let cpu_us = run.cpu.as_secs_f64() * 1e6 / n.max(1) as f64;
    let mut row = Row::new(label, n as u64, run.wall, Some(run.cpu))
        .peak_rss(Some(run.peak_rss))
        .note(format!("ruler {cpu_us:.1} µs CPU per event; {extra}"));
    if let Some(landed) = landed.filter(|&l| l != n as u64) {
        row = row.note(format!("MISSING: the target holds {landed} of {n}"));
    }
    row
}

/// `_bulk` into osmem-server.
async fn elasticsearch(ctx: &mut Ctx, bin: &Path) -> Result<Row> {
    let n = events(ctx);
    let work = ctx.dir("receivers-osmem")?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(bin);
    cmd.args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"]);
    let mut osmem = Proc::spawn("osmem-server", cmd, &work.join("osmem.log"))?;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(&url).send().await.is_err() {
        osmem.check_alive()?;
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: "osmem-server to answer".into(),
                secs: 30,
                log: Some(osmem.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receiver = format!(
        "    elasticsearch:\n      hosts: [\"{url}\"]\n      index: kube-events\n      useEventID: true\n"
    );
    let osmem_cpu0 = osmem.cpu();
    let run = deliver(ctx, "receivers-es", config(&receiver), n).await?;
    let osmem_cpu = osmem.cpu().saturating_sub(osmem_cpu0);
    let counted: serde_json::Value = http
        .get(format!("{url}/kube-events/_count"))
        .send()
        .await
        .map_err(|e| BenchError::Invalid(format!("osmem-server `_count` failed: {e}")))?
        .json()
        .await
        .map_err(|e| BenchError::Invalid(format!("osmem-server `_count` answer: {e}")))?;
    let landed = counted["count"].as_u64().unwrap_or(0);
    osmem.terminate(Duration::from_secs(5))?;
    info!(events = n, landed, "elasticsearch row measured");
    Ok(row(
        "receiver elasticsearch: ruler → `_bulk` (osmem-server)",
        n,
        &run,
        Some(landed),
        format!(
            "batches of 500; osmem-server used {:.2} CPU-s; one document per occurrence (useEventID)",
            osmem_cpu.as_secs_f64()
        ),
    ))
}

/// Push to the in-process fake Loki.
async fn loki(ctx: &mut Ctx) -> Result<Row> {
    let n = events(ctx);
    let fake = FakeLoki::start().await?;
    let receiver = format!(
        "    loki:\n      url: {}\n      format: protobuf\n      streamLabels:\n        job: kube-events\n        namespace: \"{{{{ .InvolvedObject.Namespace }}}}\"\n        reason: \"{{{{ .Reason }}}}\"\n",
        fake.url
    );
    let run = deliver(ctx, "receivers-loki", config(&receiver), n).await?;
    let landed = fake.entries();
    info!(events = n, landed, "loki row measured");
    Ok(row(
        "receiver loki: ruler → push, protobuf + snappy (fake)",
        n,
        &run,
        Some(landed),
        format!(
            "batches of 500; {} pushes, {:.1} streams per push",
            fake.pushes(),
            fake.streams() as f64 / fake.pushes().max(1) as f64
        ),
    ))
}

/// Waits until `port` on 127.0.0.1 accepts connections.
async fn wait_port(port: u16, what: &str, peer: &mut Proc) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        peer.check_alive()?;
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: what.to_owned(),
                secs: 30,
                log: Some(peer.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn kafka(ctx: &mut Ctx, tansu: &Path) -> Result<Row> {
    let work = ctx.dir("receivers-tansu")?;
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(tansu);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
        "--storage-engine",
        "memory://tansu/",
    ]);
    let mut broker = Proc::spawn("tansu", cmd, &work.join("tansu.log"))?;
    wait_port(port, "tansu to listen", &mut broker).await?;
    let created = Command::new(tansu)
        .args([
            "topic",
            "create",
            "events",
            "--partitions",
            "3",
            "--broker",
            &url,
        ])
        .output()
        .map_err(io_err("cannot run", tansu))?;
    if !created.status.success() {
        return Err(BenchError::Invalid(format!(
            "tansu topic create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        )));
    }
    let receiver = format!(
        "    kafka:\n      brokers: [\"127.0.0.1:{port}\"]\n      topic: events\n      clientId: bench\n"
    );
    let n = events(ctx);
    let run = deliver(ctx, "receivers-kafka", config(&receiver), n).await;
    broker.terminate(Duration::from_secs(5))?;
    let run = run?;
    info!(events = n, "kafka row measured");
    Ok(row(
        "receiver kafka: ruler → tansu (acks=all)",
        n,
        &run,
        None,
        "batches of 500; acknowledged = the broker's delivery report came; one topic of 3 partitions".into(),
    ))
}

async fn syslog(ctx: &mut Ctx, rsyslogd: &Path) -> Result<Row> {
    let work = ctx.dir("receivers-rsyslog")?;
    let port = free_port()?;
    let d = work.display();
    let conf = format!(
        "global(workDirectory=\"{d}\")\nmodule(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"out\")\nruleset(name=\"out\") {{\n  action(type=\"omfile\" file=\"{d}/out.log\")\n}}\n"
    );
    let conf_path = work.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).map_err(io_err("cannot write", &conf_path))?;
    let mut cmd = Command::new(rsyslogd);
    cmd.arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(work.join("rsyslogd.pid"));
    let mut server = Proc::spawn("rsyslogd", cmd, &work.join("rsyslogd.log"))?;
    wait_port(port, "rsyslogd to listen", &mut server).await?;
    let receiver = format!(
        "    syslog:\n      network: tcp\n      address: \"127.0.0.1:{port}\"\n      tag: bench\n      format: rfc5424\n      framing: octet-counting\n"
    );
    let n = events(ctx);
    let run = deliver(ctx, "receivers-syslog", config(&receiver), n).await;
    // rsyslog writes its file asynchronously: give it a moment to catch up
    let out = work.join("out.log");
    let lines = || {
        std::fs::read_to_string(&out)
            .map(|t| t.lines().count() as u64)
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while run.is_ok() && lines() < n as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let landed = lines();
    server.terminate(Duration::from_secs(5))?;
    let run = run?;
    info!(events = n, landed, "syslog row measured");
    Ok(row(
        "receiver syslog: ruler → rsyslogd (TCP, RFC 5424)",
        n,
        &run,
        Some(landed),
        "batches of 500; octet counting; lines counted in rsyslog's output file".into(),
    ))
}

/// `SendMessageBatch` into moto_server's SQS (an AWS fake), read back with
/// `GetQueueAttributes`.
async fn sqs(ctx: &mut Ctx, moto: &Path) -> Result<Row> {
    // moto is a Python server: a tenth of the other rows' events keeps the row short
    let n = events(ctx) / 10;
    let work = ctx.dir("receivers-moto")?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(moto);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut server = Proc::spawn("moto_server", cmd, &work.join("moto.log"))?;
    wait_port(port, "moto_server to listen", &mut server).await?;
    let http = reqwest::Client::new();
    let query = |params: &[(&str, &str)]| {
        let http = http.clone();
        let url = url.clone();
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        async move {
            let answer = http
                .post(&url)
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/sqs/aws4_request",
                )
                .form(&params)
                .send()
                .await
                .map_err(|e| BenchError::Invalid(format!("moto_server: {e}")))?;
            answer
                .text()
                .await
                .map_err(|e| BenchError::Invalid(format!("moto_server: {e}")))
        }
    };
    query(&[
        ("Action", "CreateQueue"),
        ("QueueName", "kube-events"),
        ("Version", "2012-11-05"),
    ])
    .await?;
    let receiver = format!(
        "    sqs:\n      queueName: kube-events\n      region: us-east-1\n      endpoint: \"{url}\"\n"
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let run = deliver_with_env(
        ctx,
        "receivers-sqs",
        config_batched(&receiver, 10),
        n,
        &env,
        10.0,
    )
    .await;
    let attributes = query(&[
        ("Action", "GetQueueAttributes"),
        ("QueueUrl", &format!("{url}/123456789012/kube-events")),
        ("AttributeName.1", "ApproximateNumberOfMessages"),
        ("Version", "2012-11-05"),
    ])
    .await;
    server.terminate(Duration::from_secs(5))?;
    let run = run?;
    let landed = attributes.ok().and_then(|xml| {
        let value = xml
            .split("<Name>ApproximateNumberOfMessages</Name>")
            .nth(1)?;
        let value = value.split("<Value>").nth(1)?.split("</Value>").next()?;
        value.trim().parse::<u64>().ok()
    });
    info!(events = n, ?landed, "sqs row measured");
    Ok(row(
        "receiver sqs: ruler → SendMessageBatch (moto_server)",
        n,
        &run,
        Some(landed.unwrap_or(0)),
        "driver batches of 10 = one SendMessageBatch call (the API limit); messages counted with GetQueueAttributes; moto's speed bounds this row"
            .into(),
    ))
}

/// The Pub/Sub emulator's project in the pubsub row.
const PUBSUB_PROJECT: &str = "bench";

/// `Publish` into Google's Pub/Sub emulator, read back by pulling a subscription.
async fn pubsub(ctx: &mut Ctx, emulator: &Path) -> Result<Row> {
    // the emulator is a Java server that keeps every message: a tenth of the others'
    let n = events(ctx) / 10;
    let work = ctx.dir("receivers-pubsub")?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(emulator);
    cmd.args(["--host=127.0.0.1", &format!("--port={port}")]);
    let mut server = Proc::spawn("pubsub-emulator", cmd, &work.join("emulator.log"))?;
    wait_port(port, "the Pub/Sub emulator to listen", &mut server).await?;
    let http = reqwest::Client::new();
    let rest = |method: reqwest::Method, path: String, body: serde_json::Value| {
        let request = http.request(method, format!("{url}/v1/projects/{PUBSUB_PROJECT}/{path}"));
        async move {
            let answer = request
                .json(&body)
                .send()
                .await
                .map_err(|e| BenchError::Invalid(format!("Pub/Sub emulator: {e}")))?;
            let status = answer.status();
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            if status.is_success() {
                Ok(body)
            } else {
                Err(BenchError::Invalid(format!(
                    "Pub/Sub emulator answered {status}: {body}"
                )))
            }
        }
    };
    // the emulator answers before it is ready: retry the topic for a while
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rest(
            reqwest::Method::PUT,
            "topics/events".into(),
            serde_json::json!({}),
        )
        .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    rest(
        reqwest::Method::PUT,
        "subscriptions/count".into(),
        serde_json::json!({"topic": format!("projects/{PUBSUB_PROJECT}/topics/events")}),
    )
    .await?;
    let receiver =
        format!("    pubsub:\n      gcloud_project_id: {PUBSUB_PROJECT}\n      topic: events\n");
    let host = format!("127.0.0.1:{port}");
    let env = [("PUBSUB_EMULATOR_HOST", host.as_str())];
    let run = deliver_with_env(
        ctx,
        "receivers-pubsub",
        config_batched(&receiver, 100),
        n,
        &env,
        10.0,
    )
    .await;
    // pull (and acknowledge) until all came or five pulls in a row came back empty
    let mut landed = 0u64;
    let mut empty = 0;
    while run.is_ok() && landed < n as u64 && empty < 5 {
        let body = rest(
            reqwest::Method::POST,
            "subscriptions/count:pull".into(),
            serde_json::json!({"maxMessages": 1000, "returnImmediately": true}),
        )
        .await?;
        let ack_ids: Vec<serde_json::Value> = body["receivedMessages"]
            .as_array()
            .map(|m| m.iter().map(|r| r["ackId"].clone()).collect())
            .unwrap_or_default();
        if ack_ids.is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        empty = 0;
        landed += ack_ids.len() as u64;
        rest(
            reqwest::Method::POST,
            "subscriptions/count:acknowledge".into(),
            serde_json::json!({"ackIds": ack_ids}),
        )
        .await?;
    }
    server.terminate(Duration::from_secs(5))?;
    let run = run?;
    info!(events = n, landed, "pubsub row measured");
    Ok(row(
        "receiver pubsub: ruler → Publish (Pub/Sub emulator)",
        n,
        &run,
        Some(landed),
        "driver batches of 100 = one Publish call; messages pulled back from a subscription; the emulator's speed bounds this row"
            .into(),
    ))
}

/// Counters of the fake push endpoint.
#[derive(Debug, Default)]
struct LokiCounts {
    pushes: AtomicU64,
    streams: AtomicU64,
    entries: AtomicU64,
}

/// A Loki push endpoint that decodes protobuf + snappy bodies and counts entries.
struct FakeLoki {
    url: String,
    counts: Arc<LokiCounts>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeLoki {
    async fn start() -> Result<FakeLoki> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let counts = Arc::new(LokiCounts::default());
        let app = axum::Router::new()
            .route("/loki/api/v1/push", axum::routing::post(push))
            .with_state(counts.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                warn!(error = %e, "fake Loki stopped");
            }
        });
        Ok(FakeLoki {
            url: format!("http://{addr}"),
            counts,
            shutdown: Some(tx),
        })
    }

    fn entries(&self) -> u64 {
        self.counts.entries.load(Ordering::Relaxed)
    }

    fn pushes(&self) -> u64 {
        self.counts.pushes.load(Ordering::Relaxed)
    }

    fn streams(&self) -> u64 {
        self.counts.streams.load(Ordering::Relaxed)
    }
}

impl Drop for FakeLoki {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `POST /loki/api/v1/push`: 204 for a body that decodes, 400 with the reason (as
/// Loki answers a malformed push) otherwise.
async fn push(State(counts): State<Arc<LokiCounts>>, body: Bytes) -> (StatusCode, String) {
    match herald_sinks::loki::proto::decode_snappy(&body) {
        Ok(request) => {
            let entries: usize = request.streams.iter().map(|s| s.entries.len()).sum();
            counts.pushes.fetch_add(1, Ordering::Relaxed);
            counts
                .streams
                .fetch_add(request.streams.len() as u64, Ordering::Relaxed);
            counts.entries.fetch_add(entries as u64, Ordering::Relaxed);
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("cannot decode push: {e}")),
    }
}
