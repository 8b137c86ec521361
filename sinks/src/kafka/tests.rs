//! `kafka` config, librdkafka properties, the sarama partitioner, KEE's Avro
//! frame and record encoding. Producing to a real broker (tansu) is in
//! `sinks/tests/kafka.rs`.

use std::sync::Arc;

use herald_config::{Diagnostics, Role, SourceFile};

use super::avro::{AvroFrame, AvroSchema, schema_id_bytes};
use super::partition::{fnv1a, librdkafka_fnv1a_partition, sarama_partition};
use super::properties::{check_properties, librdkafka_properties, redact};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _};
use crate::model::tests::compat_example;

fn load(yaml: &str) -> (Option<KafkaConfig>, Diagnostics) {
    let (r, diags) = parse(yaml);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<KafkaConfig>())
        .cloned();
    (c, diags)
}

/// Loads `yaml` for the exporter, which does not open the receivers' files.
fn load_without_files(yaml: &str) -> (Option<KafkaConfig>, Diagnostics) {
    let source = Arc::new(SourceFile::new("config.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    diags.set_role(Role::Exporter);
    let root = herald_config::yaml::parse(&source, &mut diags).expect("valid YAML");
    let receivers = root.get("receivers").cloned().unwrap_or_default();
    let r = crate::parse_receivers(&receivers, &mut diags);
    let c = r
        .first()
        .and_then(|r| r.sink.downcast_ref::<KafkaConfig>())
        .cloned();
    (c, diags)
}

fn kafka(tail: &str) -> (Option<KafkaConfig>, Diagnostics) {
    load(&format!(
        "receivers:\n  - name: k\n    kafka:\n      topic: kube-events\n      brokers: [\"kafka:9092\"]\n{tail}"
    ))
}

const KEE_EXAMPLE: &str = r#"receivers:
  - name: "kafka"
    kafka:
      clientId: "kubernetes"
      topic: "kube-event"
      brokers:
        - "localhost:9092"
      compressionCodec: "snappy"
      tls:
        enable: true
        certFile: "kafka-client.crt"
        keyFile: "kafka-client.key"
        caFile: "kafka-ca.crt"
      sasl:
        enable: true
        username: "kube-event-producer"
        password: "kube-event-producer-password"
        mechanism: "sha512"
      layout: #optional
        kind: "{{ .InvolvedObject.Kind }}"
        namespace: "{{ .InvolvedObject.Namespace }}"
        name: "{{ .InvolvedObject.Name }}"
        reason: "{{ .Reason }}"
        message: "{{ .Message }}"
        type: "{{ .Type }}"
        createdAt: "{{ .GetTimestampISO8601 }}"
"#;

fn prop<'a>(props: &'a [(String, herald_config::Secret<String>)], name: &str) -> Option<&'a str> {
    props
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.expose().as_str())
}

/// kubernetes-event-exporter's README example loads unchanged and maps to
/// librdkafka's settings.
#[test]
fn the_kee_readme_example_loads_unchanged() {
    let (c, diags) = load_without_files(KEE_EXAMPLE);
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.brokers, ["localhost:9092"]);
    assert_eq!(c.compression, "snappy");
    let sasl = c.sasl.as_ref().unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
    let p = librdkafka_properties(&c, Some(std::time::Duration::from_secs(10)));
    for (k, v) in [
        ("bootstrap.servers", "localhost:9092"),
        ("client.id", "kubernetes"),
        ("compression.codec", "snappy"),
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "kube-event-producer"),
        ("sasl.password", "kube-event-producer-password"),
        ("ssl.ca.location", "kafka-ca.crt"),
        ("ssl.certificate.location", "kafka-client.crt"),
        ("ssl.key.location", "kafka-client.key"),
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("message.timeout.ms", "9000"),
    ] {
        assert_eq!(prop(&p, k), Some(v), "{k}");
    }
    assert_eq!(prop(&p, "partitioner"), None);
    assert!(check_properties(&p).is_ok());
    // The password never shows in the config's Debug output nor a preview.
    assert!(!format!("{c:?}").contains("kube-event-producer-password"));
    let preview = KafkaBuilder::new("kafka", &c)
        .describe(&vec![]);
    assert!(preview.contains("sasl.password=***"), "{preview}");
    assert!(!preview.contains("kube-event-producer-password"), "{preview}");
}

#[test]
fn the_example_file_loads() {
    let (c, diags) = load_without_files(include_str!("../../examples/kafka.yaml"));
    assert!(!diags.has_errors() && diags.warning_count() == 0, "{diags}");
    let c = c.unwrap();
    assert_eq!(c.partitioner, PartitionerChoice::Sarama);
    assert_eq!(c.headers.len(), 1);
    // The example's schema takes any event: its value is the Avro frame.
    let item = KafkaBuilder::new("kafka", &c).encode(&delivery()).unwrap();
    assert_eq!(item.value[0], 0);
    assert_eq!(item.value[1..17], schema_id_bytes("c4b52aaf22429c7f9eb8c30270bc1795").unwrap());
    assert!(item.value.len() > 100);
    assert_eq!(item.topic, "kube-events-shop");
}

#[test]
fn bad_settings_are_errors_with_location_and_hint() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"kafka\"]\n",
            "broker `kafka` has no port",
            "host:port",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n",
            "kafka needs `brokers`",
            "host:port",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      brokers: [\"k:9092\"]\n",
            "kafka needs a `topic`",
            "topic:",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      compressionCodec: brotli\n",
            "unknown compressionCodec `brotli`",
            "none, gzip, snappy, lz4, zstd",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      sasl: {enable: true, username: u}\n",
            "needs a `password`",
            "KAFKA_PASSWORD",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      sasl: {enable: true, username: u, password: p, mechanism: gssapi}\n",
            "unknown SASL mechanism `gssapi`",
            "sha512",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      tls: {enable: true}\n",
            "needs a `caFile`",
            "PEM",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      tls: {enable: true, caFile: /no/such/ca.pem}\n",
            "cannot read TLS file `/no/such/ca.pem`",
            "mount",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      avro: {schemaID: \"zz\", schema: \"\\\"string\\\"\"}\n",
            "32 hexadecimal characters, found 2",
            "panicked",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      avro: {schemaID: \"c4b52aaf22429c7f9eb8c30270bc179g\", schema: \"\\\"string\\\"\"}\n",
            "not hexadecimal (`9g` at position 31)",
            "32 hexadecimal",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      avro: {schemaID: \"c4b52aaf22429c7f9eb8c30270bc1795\", schema: \"{\\\"type\\\": \\\"recrod\\\"}\"}\n",
            "invalid Avro schema: unknown type `recrod`",
            "JSON text",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      partitioner: hash\n",
            "unknown partitioner `hash`",
            "murmur2_random",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      version: latest\n",
            "invalid Kafka version `latest`",
            "2.8.0",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: t\n      brokers: [\"k:9092\"]\n      properties: {linger.mss: 5}\n",
            "librdkafka refused the configuration",
            "CONFIGURATION.md",
        ),
        (
            "receivers:\n  - name: k\n    kafka:\n      topic: \"{{ .Nope\"\n      brokers: [\"k:9092\"]\n",
            "invalid topic template",
            "text/template",
        ),
    ];
    for (yaml, message, hint) in cases {
        let (c, diags) = load(yaml);
        assert!(c.is_none(), "{yaml}");
        let shown = diags.to_string();
        assert!(diags.errors().any(|e| e.message.contains(message)), "{yaml}\n{shown}");
        assert!(shown.contains("config.yaml:") && shown.contains(hint), "{yaml}\n{shown}");
    }
}

/// A password from the environment is never shown, even in librdkafka's own
/// complaint about it.
#[test]
fn secrets_are_never_shown() {
    // SAFETY-free: the variable is unique to this test.
    let (c, diags) = kafka(
        "      sasl: {enable: true, username: u, password: \"hunter2-secret\"}\n      properties: {ssl.key.password: \"hunter2-secret\"}\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let c = c.unwrap();
    let p = librdkafka_properties(&c, None);
    let message = redact("Invalid value \"hunter2-secret\" for sasl.password", &p);
    assert_eq!(message, "Invalid value \"***\" for sasl.password");
    assert!(!format!("{c:?}").contains("hunter2"));
    let preview = KafkaBuilder::new("k", &c).describe(&vec![]);
    assert!(!preview.contains("hunter2"), "{preview}");
}

#[test]
fn an_unknown_codec_is_not_silently_none_and_version_maps_to_the_fallback() {
    let (c, _) = kafka("      version: \"2.8.0\"\n      compressionCodec: zstd\n");
    let p = librdkafka_properties(&c.unwrap(), None);
    assert_eq!(prop(&p, "broker.version.fallback"), Some("2.8.0"));
    assert_eq!(prop(&p, "api.version.request"), None);
    assert_eq!(prop(&p, "compression.codec"), Some("zstd"));
    let (c, _) = kafka("      version: \"0.9.0.1\"\n");
    let p = librdkafka_properties(&c.unwrap(), None);
    assert_eq!(prop(&p, "api.version.request"), Some("false"));
    assert!(check_properties(&p).is_ok());
}

#[test]
fn properties_pass_through_last_and_librdkafka_partitioners_by_name() {
    let (c, diags) = kafka("      partitioner: murmur2_random\n      properties:\n        linger.ms: 50\n        acks: 1\n");
    assert!(!diags.has_errors(), "{diags}");
    let p = librdkafka_properties(&c.unwrap(), None);
    assert_eq!(prop(&p, "partitioner"), Some("murmur2_random"));
    assert_eq!(prop(&p, "linger.ms"), Some("50"));
    assert_eq!(prop(&p, "acks"), Some("1"));
}

#[test]
fn fnv1a_matches_the_reference_vectors() {
    assert_eq!(fnv1a(b""), 0x811c_9dc5);
    assert_eq!(fnv1a(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
}

/// sarama's hash partitioner: `abs(int32(hash) % n)`. librdkafka's `fnv1a`
/// takes the unsigned remainder, which differs when the top bit is set.
#[test]
fn partitions_are_sarama_s() {
    // (key, [partition for 1, 3, 4, 7, 12 partitions]) computed with Go's
    // int32 semantics.
    let cases: [(&[u8], [i32; 5]); 5] = [
        (b"", [0, 0, 3, 2, 3]),
        (b"a", [0, 0, 0, 6, 0]),
        (b"foobar", [0, 0, 0, 4, 0]),
        (b"0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11", [0, 0, 1, 0, 9]),
        (b"uid-3", [0, 2, 1, 6, 5]),
    ];
    for (key, expected) in cases {
        let got: Vec<i32> = [1, 3, 4, 7, 12]
            .iter()
            .map(|n| sarama_partition(key, *n))
            .collect();
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(key));
    }
    // "a" hashes with the top bit set: librdkafka's fnv1a would pick 1 of 3.
    assert_eq!(librdkafka_fnv1a_partition(b"a", 3), 1);
    assert_eq!(sarama_partition(b"a", 3), 0);
}

#[test]
fn schema_ids_decode_to_sixteen_bytes() {
    assert_eq!(
        schema_id_bytes("c4b52aaf22429c7f9eb8c30270bc1795").unwrap(),
        [
            0xc4, 0xb5, 0x2a, 0xaf, 0x22, 0x42, 0x9c, 0x7f, 0x9e, 0xb8, 0xc3, 0x02, 0x70, 0xbc,
            0x17, 0x95
        ]
    );
    assert!(schema_id_bytes("C4B52AAF22429C7F9EB8C30270BC1795").is_ok());
}

fn avro(schema: &str, json: &str) -> Result<Vec<u8>, String> {
    let s = AvroSchema::parse(schema).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.encode(&serde_json::from_str(json).unwrap(), &mut out)?;
    Ok(out)
}

/// Bytes worked out by hand from the Avro specification, with goavro's
/// standard-JSON union choice.
#[test]
fn avro_binary_is_goavro_s() {
    let schema = r#"{"type":"record","name":"E","namespace":"k8s","fields":[
        {"name":"a","type":"string"},
        {"name":"b","type":["null","string"]},
        {"name":"c","type":"long"},
        {"name":"d","type":["int","double"]},
        {"name":"e","type":{"type":"array","items":"int"}},
        {"name":"f","type":{"type":"map","values":"boolean"}},
        {"name":"g","type":["null","string"],"default":null},
        {"name":"h","type":{"type":"enum","name":"T","symbols":["Normal","Warning"]}},
        {"name":"i","type":["null","E2"],"default":null}
    ]}"#;
    let schema = schema.replace(
        r#""E2"]"#,
        r#"{"type":"record","name":"E2","fields":[{"name":"x","type":"int"}]}]"#,
    );
    let got = avro(
        &schema,
        r#"{"a":"x","b":"y","c":-1,"d":5,"e":[1,2],"f":{"z":true,"y":false},"h":"Warning","i":{"x":3}}"#,
    )
    .unwrap();
    let expected: Vec<u8> = [
        &[0x02, b'x'][..],                   // a
        &[0x02, 0x02, b'y'],                 // b: union index 1, "y"
        &[0x01],                             // c: -1 zig-zag
        &[0x02],                             // d: 5 → "double" sorts before "int": index 1
        &5f64.to_le_bytes(),
        &[0x04, 0x02, 0x04, 0x00],           // e: block of 2, 1, 2, end
        &[0x04, 0x02, b'y', 0x00, 0x02, b'z', 0x01, 0x00], // f: keys in order
        &[0x00],                             // g: default null, index 0
        &[0x02],                             // h: symbol 1
        &[0x02, 0x06],                       // i: index 1, x = 3
    ]
    .concat();
    assert_eq!(got, expected);
    assert!(avro(&schema, r#"{"a":"x"}"#).unwrap_err().contains("field `b`"));
    assert!(
        avro(&schema, r#"{"a":"x","b":null,"c":1,"d":1,"e":[],"f":{},"h":"Normal","zz":1}"#)
            .unwrap_err()
            .contains("no field `zz`")
    );
    assert!(avro(r#""int""#, "1.5").is_err());
    assert!(AvroSchema::parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#).is_err());
}

/// The frame: `0x00`, the 16 schema-ID bytes, the Avro binary of the event
/// JSON.
#[test]
fn the_avro_frame_is_kee_s() {
    let frame = AvroFrame::new(
        "c4b52aaf22429c7f9eb8c30270bc1795",
        r#"{"type":"map","values":["null","string","long","boolean","double",{"type":"map","values":["null","string","long","boolean"]}]}"#,
    )
    .unwrap();
    let bytes = frame.encode(br#"{"reason":"BackOff"}"#).unwrap();
    assert_eq!(bytes[0], 0);
    assert_eq!(&bytes[1..17], &schema_id_bytes("c4b52aaf22429c7f9eb8c30270bc1795").unwrap());
    // map block of 1, "reason", union index 1 (string), "BackOff", end
    let mut tail = vec![0x02, 0x0c];
    tail.extend_from_slice(b"reason");
    tail.extend_from_slice(&[0x02, 0x0e]);
    tail.extend_from_slice(b"BackOff");
    tail.push(0x00);
    assert_eq!(&bytes[17..], &tail[..]);
}

fn delivery() -> Delivery {
    Delivery::from_event(compat_example(), AckRef::detached())
}

#[test]
fn records_carry_the_uid_key_the_idempotency_and_cluster_headers() {
    let (c, _) = kafka("      headers:\n        kind: \"{{ .InvolvedObject.Kind }}\"\n");
    let b = KafkaBuilder::new("k", &c.unwrap());
    let item = b.encode(&delivery()).unwrap();
    assert_eq!(item.topic, "kube-events");
    assert_eq!(item.key, b"0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11");
    assert_eq!(
        item.headers,
        [
            (IDEMPOTENCY_HEADER.to_owned(), b"0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11-1".to_vec()),
            (CLUSTER_HEADER.to_owned(), b"prod-eu".to_vec()),
            ("kind".to_owned(), b"Pod".to_vec()),
        ]
    );
    let mut json = Vec::new();
    crate::model::kee_json(&delivery().event, false, &mut json);
    assert_eq!(item.value, json);
}

#[test]
fn topic_and_key_are_templates_and_the_layout_wins_over_avro() {
    let (c, diags) = load(
        "receivers:\n  - name: k\n    kafka:\n      topic: \"events-{{ .InvolvedObject.Namespace }}\"\n      key: \"{{ .InvolvedObject.Name }}\"\n      brokers: [\"k:9092\"]\n      layout: {reason: \"{{ .Reason }}\"}\n      avro: {schemaID: \"c4b52aaf22429c7f9eb8c30270bc1795\", schema: \"\\\"string\\\"\"}\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    assert!(diags.warnings().any(|w| w.message.contains("`avro` is ignored")), "{diags}");
    let b = KafkaBuilder::new("k", &c.unwrap());
    let item = b.encode(&delivery()).unwrap();
    assert_eq!(item.topic, "events-shop");
    assert_eq!(item.key, b"web-6d4cf56db6-x2x9q");
    assert_eq!(item.value, br#"{"reason":"BackOff"}"#);
}

#[test]
fn broker_refusals_are_sorted_into_permanent_and_retriable() {
    use rdkafka::error::RDKafkaErrorCode as C;
    for code in [
        C::MessageSizeTooLarge,
        C::UnknownTopicOrPartition,
        C::TopicAuthorizationFailed,
        C::ClusterAuthorizationFailed,
    ] {
        assert!(is_permanent(code), "{code:?}");
    }
    for code in [
        C::QueueFull,
        C::MessageTimedOut,
        C::NotLeaderForPartition,
        C::LeaderNotAvailable,
        C::AllBrokersDown,
        C::BrokerTransportFailure,
        C::RequestTimedOut,
    ] {
        assert!(!is_permanent(code), "{code:?}");
    }
}

#[test]
fn a_broker_that_lost_the_producer_state_gets_a_new_producer_not_a_rejection() {
    use rdkafka::error::RDKafkaErrorCode as C;
    // seen against a restarted broker: ProducerFenced for every retry of the same
    // producer, forever; a new producer gets a new id and goes on
    for code in [
        C::ProducerFenced,
        C::InvalidProducerEpoch,
        C::UnknownProducerId,
        C::OutOfOrderSequenceNumber,
    ] {
        assert!(super::sink::producer_state_lost(code), "{code:?}");
        assert!(!is_permanent(code), "{code:?} is retried, not rejected");
    }
    for code in [C::QueueFull, C::MessageTimedOut, C::MessageSizeTooLarge] {
        assert!(!super::sink::producer_state_lost(code), "{code:?}");
    }
}
