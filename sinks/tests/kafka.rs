//! The `kafka` sink in the real delivery driver against tansu, a
//! Kafka-compatible broker (`HERALD_TANSU_BIN`, set by `.ci/test`), read
//! back with an rdkafka consumer: key, value, headers and the sarama
//! partition of every record; a broker that is down at start loses nothing;
//! a broker restarted in the middle of a stream loses nothing (tansu keeps
//! its data in S3 there, served by moto_server, `HERALD_MOTO_BIN`); a record
//! too large is rejected with librdkafka's reason and counted; KEE's
//! Avro frame. tansu 0.6's command line cannot serve TLS (`--cert` and
//! `--key` exclude each other), so TLS is not tested against it.
#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::{Diagnostics, SourceFile};
use herald_sinks::driver::{BatchSettings, DeliverySettings, RetrySettings};
use herald_sinks::kafka::partition::sarama_partition;
use herald_sinks::kafka::{KafkaConfig, KafkaSink};
use herald_testkit::driver::{DriverHarness, event};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// tansu on a fixed 127.0.0.1 port, in memory or in S3; killed when dropped.
struct Tansu {
    bin: std::ffi::OsString,
    port: u16,
    child: Option<Child>,
    /// Durable storage: tansu's data in this S3 (a restart keeps it).
    s3: Option<S3>,
    /// `--cert` and `--key` (TLS) and the CA file clients trust.
    tls: Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)>,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Tansu {
    /// Returns the broker (not started), or `None` (loudly) when
    /// `HERALD_TANSU_BIN` is unset outside CI; in CI a missing peer fails the
    /// test.
    fn new() -> Option<Tansu> {
        let Some(bin) = std::env::var_os("HERALD_TANSU_BIN") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_TANSU_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!\n!!! SKIPPED: HERALD_TANSU_BIN is not set, the tansu test did not run \
                 (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
            );
            return None;
        };
        Some(Tansu {
            bin,
            port: free_port(),
            child: None,
            s3: None,
            tls: None,
        })
    }

    /// [`Tansu::new`] keeping its data in S3 (moto_server, `HERALD_MOTO_BIN`), so
    /// that a restarted broker comes back with its topics, records and producer
    /// state; `None` (loudly) when either peer is missing outside CI.
    async fn durable() -> Option<Tansu> {
        let mut broker = Tansu::new()?;
        broker.s3 = Some(S3::start().await?);
        Some(broker)
    }

    /// Settings a test client (admin, consumer) needs.
    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.address());
        if let Some((_, _, ca)) = &self.tls {
            c.set("security.protocol", "ssl")
                .set("ssl.ca.location", ca.display().to_string());
        }
        c
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker and creates `topic` with [`PARTITIONS`] partitions
    /// (in memory a restart starts empty; in S3 the topic is there already).
    async fn start(&mut self, topic: &str) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
        ]);
        match &self.s3 {
            Some(s3) => {
                cmd.arg(format!("s3://{}/", S3::BUCKET))
                    .env("AWS_ENDPOINT", s3.url())
                    .env("AWS_ALLOW_HTTP", "true")
                    .env("AWS_ACCESS_KEY_ID", "testing")
                    .env("AWS_SECRET_ACCESS_KEY", "testing")
                    .env("AWS_DEFAULT_REGION", "us-east-1")
                    .env("AWS_REGION", "us-east-1");
            }
            None => {
                cmd.arg("memory://tansu/");
            }
        }
        if let Some((cert, key, _)) = &self.tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(self.address()).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // something else may have taken the port between a stop and a restart (tests
        // run in parallel): then tansu exits and the connection above was not to it
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("tansu exited ({status}); was port {} taken?", self.port);
        }
        let admin: AdminClient<DefaultClientContext> = self.client().create().unwrap();
        let created = admin
            .create_topics(
                &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .unwrap();
        for r in created {
            match r {
                Ok(_) => {}
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
                    if self.s3.is_some() => {}
                Err((t, e)) => panic!("cannot create {t}: {e}"),
            }
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// moto_server serving S3 on 127.0.0.1 with one bucket, tansu's storage in the
/// restart test; killed when dropped.
struct S3 {
    child: Child,
    port: u16,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    const BUCKET: &str = "tansu";

    /// Starts moto_server and creates [`S3::BUCKET`]; `None` (loudly) when
    /// `HERALD_MOTO_BIN` is unset outside CI.
    async fn start() -> Option<S3> {
        let Some(bin) = std::env::var_os("HERALD_MOTO_BIN") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_MOTO_BIN is not set in CI: run .ci/install-peers.sh and .ci/test"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!\n!!! SKIPPED: HERALD_MOTO_BIN is not set, the tansu restart test did not run \
                 (run .ci/install-peers.sh, then .ci/test)\n!!!!!!!!\n"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server");
        let s3 = S3 { child, port };
        let deadline = Instant::now() + WAIT;
        loop {
            // CreateBucket: a PUT of the bucket's path (us-east-1 needs no body)
            let created = reqwest::Client::new()
                .put(format!("{}/{}", s3.url(), S3::BUCKET))
                .send()
                .await;
            match created {
                Ok(r) if r.status().is_success() => return Some(s3),
                Ok(r) => panic!("moto_server refused the bucket: {}", r.status()),
                Err(_) => {
                    assert!(Instant::now() < deadline, "moto_server did not start");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One record as read back.
#[derive(Debug, Clone)]
struct Record {
    partition: i32,
    key: String,
    value: Vec<u8>,
    headers: BTreeMap<String, String>,
}

/// Reads `topic` from the beginning until `n` records came.
fn read(client: ClientConfig, topic: &str, n: usize) -> Vec<Record> {
    let consumer: BaseConsumer = client
        .clone()
        .set("group.id", "herald-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "expected {n} records, read {}: {out:?}",
            out.len()
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        let mut headers = BTreeMap::new();
        if let Some(h) = m.headers() {
            for h in h.iter() {
                headers.insert(
                    h.key.to_owned(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        out.push(Record {
            partition: m.partition(),
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            value: m.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    out
}

fn sink(block: &str) -> KafkaSink {
    let yaml = format!("- name: kafka\n  kafka:\n{block}");
    let source = Arc::new(SourceFile::new("config.yaml", &yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    let c = receivers[0].sink.downcast_ref::<KafkaConfig>().unwrap();
    KafkaSink::new("kafka", c, Duration::from_secs(5)).unwrap()
}

fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings {
        max_events: 50,
        max_bytes: 4 * 1024 * 1024,
        linger: Duration::from_millis(20),
    });
    s.timeout = Duration::from_secs(5);
    s.retry = RetrySettings {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        max_attempts: 0,
    };
    s
}

fn uid_of(value: &[u8]) -> String {
    let v: Value = serde_json::from_slice(value).unwrap();
    v["metadata"]["uid"].as_str().unwrap().to_owned()
}

/// Every record lands with the Event UID as key, the KEE JSON as value, the
/// idempotency-key, cluster and templated headers, in the partition sarama
/// would have chosen for the key.
#[tokio::test]
async fn records_land_with_key_value_headers_and_sarama_s_partition() {
    let Some(mut broker) = Tansu::new() else {
        return;
    };
    broker.start("events").await;
    let s = sink(&format!(
        "    brokers: [\"{}\"]\n    topic: events\n    headers:\n      reason: \"{{{{ .Reason }}}}\"\n",
        broker.address()
    ));
    let mut h = DriverHarness::start(s, settings());
    let uids: Vec<String> = (0..20).map(|i| format!("uid-{i}")).collect();
    for uid in &uids {
        let mut ev = event(uid, "m");
        ev.cluster_name = "prod".into();
        ev.occurrence = 2;
        h.deliver(ev).await;
    }
    let acks = h.acks(uids.len(), WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let client = broker.client();
    let records = tokio::task::spawn_blocking(move || read(client, "events", 20))
        .await
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut partitions = std::collections::BTreeSet::new();
    for r in &records {
        assert_eq!(uid_of(&r.value), r.key, "{r:?}");
        assert_eq!(
            r.headers["idempotency-key"],
            format!("{}-2", r.key),
            "{r:?}"
        );
        assert_eq!(r.headers["cluster"], "prod", "{r:?}");
        assert_eq!(r.headers["reason"], "BackOff", "{r:?}");
        assert_eq!(
            r.partition,
            sarama_partition(r.key.as_bytes(), PARTITIONS),
            "{r:?}"
        );
        partitions.insert(r.partition);
        seen.push(r.key.clone());
    }
    seen.sort();
    let mut expected = uids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(
        partitions.len() > 1,
        "all records in one partition: {partitions:?}"
    );
}

/// The broker is down when the receiver starts: nothing is acknowledged while
/// it is down, and every event arrives once it is up.
#[tokio::test]
async fn a_broker_down_at_start_loses_nothing() {
    let Some(mut broker) = Tansu::new() else {
        return;
    };
    let s = sink(&format!(
        "    brokers: [\"{}\"]\n    topic: events\n",
        broker.address()
    ));
    let mut h = DriverHarness::start(s, settings());
    for i in 0..5 {
        h.deliver(event(&format!("early-{i}"), "m")).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.pending_acks().is_empty(), "acknowledged with no broker");
    broker.start("events").await;
    let acks = h.acks(5, WAIT).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let client = broker.client();
    let first = tokio::task::spawn_blocking(move || read(client, "events", 5))
        .await
        .unwrap();
    let mut keys: Vec<String> = first.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        (0..5).map(|i| format!("early-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(h.metric("herald_sink_dropped_events_total", ""), 0.0);
}

/// The broker is killed in the middle of a stream and comes back with its
/// data (kept in S3): nothing is acknowledged while it is down, and every
/// event produced meanwhile arrives once it is back. About one run in three,
/// the restarted tansu answers the producer with `ProducerFenced` until it is
/// replaced by a new one (the sink does that; before, the receiver retried the
/// same producer forever).
#[tokio::test]
async fn a_broker_restarted_mid_stream_loses_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let Some(mut broker) = Tansu::durable().await else {
        return;
    };
    broker.start("events").await;
    let s = sink(&format!(
        "    brokers: [\"{}\"]\n    topic: events\n",
        broker.address()
    ));
    let mut h = DriverHarness::start(s, settings());
    h.deliver(event("before", "m")).await;
    assert_eq!(h.acks(1, WAIT).await[0].delivered, 1);
    broker.stop();
    for i in 0..5 {
        h.deliver(event(&format!("late-{i}"), "m")).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        h.pending_acks().is_empty(),
        "acknowledged while the broker was down"
    );
    broker.start("events").await;
    // reconnecting to the restarted broker (its data in S3, served by a Python
    // fake) takes long on a loaded machine: the point is that nothing is lost
    let acks = h.acks(5, WAIT * 4).await;
    assert!(acks.iter().all(|a| a.delivered == 1), "{acks:?}");
    let client = broker.client();
    let all = tokio::task::spawn_blocking(move || read(client, "events", 6))
        .await
        .unwrap();
    let mut keys: Vec<String> = all.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut want: Vec<String> = (0..5).map(|i| format!("late-{i}")).collect();
    want.insert(0, "before".into());
    assert_eq!(keys, want, "the record before the restart survives it too");
}

/// A record over `message.max.bytes` is refused for good with librdkafka's
/// reason and counted; the rest of the batch is delivered.
#[tokio::test]
async fn a_record_too_large_is_rejected_and_counted() {
    let Some(mut broker) = Tansu::new() else {
        return;
    };
    broker.start("events").await;
    let s = sink(&format!(
        "    brokers: [\"{}\"]\n    topic: events\n    properties:\n      message.max.bytes: 2000\n",
        broker.address()
    ));
    let mut h = DriverHarness::start(s, settings());
    h.deliver(event("small", "m")).await;
    h.deliver(event("big", &"x".repeat(5000))).await;
    let acks = h.acks(2, WAIT).await;
    let delivered: u32 = acks.iter().map(|a| a.delivered).sum();
    let rejected: u32 = acks.iter().map(|a| a.rejected).sum();
    assert_eq!((delivered, rejected), (1, 1), "{acks:?}");
    assert_eq!(
        h.metric(
            "herald_sink_dropped_events_total",
            "reason=\"permanent_error\""
        ),
        1.0
    );
    let client = broker.client();
    let records = tokio::task::spawn_blocking(move || read(client, "events", 1))
        .await
        .unwrap();
    assert_eq!(records[0].key, "small");
}

/// KEE's Avro frame arrives as produced: `0x00`, the schema ID, Avro binary.
#[tokio::test]
async fn avro_values_are_framed_like_kee() {
    let Some(mut broker) = Tansu::new() else {
        return;
    };
    broker.start("events").await;
    let s = sink(&format!(
        "    brokers: [\"{}\"]\n    topic: events\n    avro:\n      schemaID: c4b52aaf22429c7f9eb8c30270bc1795\n      schema: '{{\"type\":\"map\",\"values\":[\"null\",\"string\",\"long\",\"boolean\",{{\"type\":\"map\",\"values\":[\"null\",\"string\",\"long\",\"boolean\"]}}]}}'\n",
        broker.address()
    ));
    let mut h = DriverHarness::start(s, settings());
    h.deliver(event("avro-1", "m")).await;
    let acks = h.acks(1, WAIT).await;
    assert_eq!(acks[0].delivered, 1, "{acks:?}");
    let client = broker.client();
    let records = tokio::task::spawn_blocking(move || read(client, "events", 1))
        .await
        .unwrap();
    let v = &records[0].value;
    assert_eq!(v[0], 0);
    assert_eq!(
        v[1..17],
        [
            0xc4, 0xb5, 0x2a, 0xaf, 0x22, 0x42, 0x9c, 0x7f, 0x9e, 0xb8, 0xc3, 0x02, 0x70, 0xbc,
            0x17, 0x95
        ]
    );
    assert!(v.windows(6).any(|w| w == b"avro-1"));
}
