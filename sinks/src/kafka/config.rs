//! `kafka:` settings: kubernetes-event-exporter's `topic`, `brokers`, `clientId`,
//! `compressionCodec`, `version`, `tls`, `sasl`, `avro`, `layout`, and
//! herald's templated `topic` and `key`, `headers`, `partitioner` and
//! `properties` (librdkafka settings passed through).

use std::fmt;
use std::fs::File;

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, Role, Secret, child_path, decode_with, index_path,
};
use herald_template::Template;
use serde::Deserialize;

use super::avro::AvroFrame;
use super::properties::{check_properties, librdkafka_properties};
use super::{KafkaBuilder, KafkaError, KafkaSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::LayoutSpec;

/// KEE's compression codecs (librdkafka spells them the same).
pub const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// librdkafka's partitioners, selectable instead of the default `sarama`.
pub const LIBRDKAFKA_PARTITIONERS: [&str; 7] = [
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKafkaConfig {
    #[serde(default)]
    topic: Located<String>,
    #[serde(default)]
    brokers: Option<Node>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    client_id: Located<String>,
    #[serde(default)]
    compression_codec: Option<Located<String>>,
    #[serde(default)]
    version: Option<Located<String>>,
    #[serde(default)]
    tls: Option<Node>,
    #[serde(default)]
    sasl: Option<Node>,
    #[serde(default)]
    avro: Option<Node>,
    #[serde(default)]
    key: Option<Located<String>>,
    #[serde(default)]
    headers: Option<Node>,
    #[serde(default)]
    partitioner: Option<Located<String>>,
    #[serde(default)]
    properties: Option<Node>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawTls {
    #[serde(default)]
    enable: bool,
    #[serde(default)]
    ca_file: Located<String>,
    #[serde(default)]
    cert_file: Located<String>,
    #[serde(default)]
    key_file: Located<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSasl {
    #[serde(default)]
    enable: bool,
    #[serde(default)]
    username: Located<String>,
    #[serde(default)]
    password: Option<Secret<String>>,
    #[serde(default)]
    mechanism: Option<Located<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawAvro {
    #[serde(default, rename = "schemaID")]
    schema_id: Located<String>,
    #[serde(default)]
    schema: Located<String>,
}

/// `tls:` of a kafka receiver (KEE's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaTls {
    /// PEM CA certificates: the only roots trusted.
    pub ca_file: String,
    /// PEM client certificate (optional).
    pub cert_file: Option<String>,
    /// PEM client key (optional, with `cert_file`).
    pub key_file: Option<String>,
    /// Accept any broker certificate.
    pub insecure_skip_verify: bool,
}

/// The SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN` (KEE's `plain` or empty).
    Plain,
    /// `SCRAM-SHA-256` (KEE's `sha256`).
    ScramSha256,
    /// `SCRAM-SHA-512` (KEE's `sha512`).
    ScramSha512,
}

impl SaslMechanism {
    /// librdkafka's name.
    pub fn librdkafka_name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `sasl:` of a kafka receiver.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaSasl {
    /// The user.
    pub username: String,
    /// The password (never shown).
    pub password: Secret<String>,
    /// The mechanism.
    pub mechanism: SaslMechanism,
}

impl fmt::Debug for KafkaSasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSasl")
            .field("username", &self.username)
            .field("password", &"***")
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

/// How records are spread over partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionerChoice {
    /// sarama's hash partitioner (KEE's), computed by herald.
    Sarama,
    /// One of librdkafka's partitioners, by name.
    Librdkafka(String),
}

/// One `headers:` entry: a name and a templated value.
#[derive(Debug, Clone)]
pub struct KafkaHeader {
    /// The header name.
    pub name: String,
    /// The value template.
    pub value: Template,
}

/// A `kafka:` receiver.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// The topic (a template).
    pub topic: Template,
    /// `host:port` of each bootstrap broker.
    pub brokers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `compression.codec`.
    pub compression: String,
    /// KEE's `version`: librdkafka's `broker.version.fallback`.
    pub version: Option<String>,
    /// TLS, when enabled.
    pub tls: Option<KafkaTls>,
    /// SASL, when enabled.
    pub sasl: Option<KafkaSasl>,
    /// The value per event; `None` sends the KEE event JSON (or Avro).
    pub layout: Option<LayoutSpec>,
    /// KEE's Avro frame (ignored when a layout is set, as in KEE).
    pub avro: Option<AvroFrame>,
    /// The key template; `None` keys by the event UID (KEE).
    pub key: Option<Template>,
    /// Extra headers.
    pub headers: Vec<KafkaHeader>,
    /// The partitioner.
    pub partitioner: PartitionerChoice,
    /// librdkafka properties, applied last (values never shown).
    pub properties: Vec<(String, Secret<String>)>,
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

fn template(t: &Located<String>, what: &str, diags: &mut Diagnostics) -> Option<Template> {
    match Template::parse(&t.path, &t.value) {
        Ok(tpl) => Some(tpl),
        Err(e) => {
            t.error(
                diags,
                format!(
                    "invalid {what} template (line {}, column {} of the template): {}",
                    e.line, e.column, e.message
                ),
            )
            .with_hint("templates use Go text/template syntax, e.g. `{{ .Namespace }}`");
            None
        }
    }
}

impl KafkaConfig {
    /// Decodes and checks a `kafka:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawKafkaConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let topic = if raw.topic.value.trim().is_empty() {
            diags
                .error(node.loc, "kafka needs a `topic`")
                .with_path(path)
                .with_hint("set `topic:` to the topic events are written to, such as kube-events");
            None
        } else {
            template(&raw.topic, "topic", diags)
        };
        let brokers = parse_brokers(raw.brokers.as_ref(), node, path, diags);
        let compression = match raw.compression_codec.as_ref().map(|c| (c, c.value.trim())) {
            None | Some((_, "")) => "none".to_owned(),
            Some((_, c)) if CODECS.contains(&c) => c.to_owned(),
            Some((c, other)) => {
                c.error(diags, format!("unknown compressionCodec `{other}`"))
                    .with_hint(format!(
                        "use one of: {} (KEE silently sent such a value uncompressed)",
                        CODECS.join(", ")
                    ));
                "none".to_owned()
            }
        };
        let version = raw.version.as_ref().and_then(|v| parse_version(v, diags));
        let checks_files = diags.checks_files_of(Role::Ruler);
        let tls = present(raw.tls.as_ref())
            .and_then(|t| parse_tls(t, &child_path(path, "tls"), checks_files, diags));
        let sasl = present(raw.sasl.as_ref())
            .and_then(|s| parse_sasl(s, &child_path(path, "sasl"), diags));
        let layout = present(raw.layout.as_ref())
            .and_then(|l| LayoutSpec::from_node(l, &child_path(path, "layout"), diags));
        let avro = present(raw.avro.as_ref())
            .and_then(|a| parse_avro(a, &child_path(path, "avro"), layout.is_some(), diags));
        let key = raw.key.as_ref().and_then(|k| template(k, "key", diags));
        let headers = present(raw.headers.as_ref())
            .map(|h| parse_headers(h, &child_path(path, "headers"), diags))
            .unwrap_or_default();
        let partitioner = match raw.partitioner.as_ref().map(|p| (p, p.value.trim())) {
            None | Some((_, "" | "sarama")) => PartitionerChoice::Sarama,
            Some((_, p)) if LIBRDKAFKA_PARTITIONERS.contains(&p) => {
                PartitionerChoice::Librdkafka(p.to_owned())
            }
            Some((p, other)) => {
                p.error(diags, format!("unknown partitioner `{other}`"))
                    .with_hint(format!(
                        "use sarama (the default: the partition KEE chose for a key) or one of librdkafka's: {}",
                        LIBRDKAFKA_PARTITIONERS.join(", ")
                    ));
                PartitionerChoice::Sarama
            }
        };
        let properties = present(raw.properties.as_ref())
            .map(|p| parse_properties(p, &child_path(path, "properties"), diags))
            .unwrap_or_default();
        if diags.error_count() > before {
            return None;
        }
        let config = KafkaConfig {
            topic: topic?,
            brokers,
            client_id: match raw.client_id.value.trim() {
                "" => "herald".to_owned(),
                id => id.to_owned(),
            },
            compression,
            version,
            tls,
            sasl,
            layout,
            avro,
            key,
            headers,
            partitioner,
            properties,
        };
        // librdkafka checks every name and value of the final configuration.
        if let Err(message) = check_properties(&librdkafka_properties(&config, None)) {
            let at = present(raw.properties.as_ref()).map_or(node.loc, |p| p.loc);
            diags
                .error(at, format!("librdkafka refused the configuration: {message}"))
                .with_path(path)
                .with_hint("check the names and values under `properties:` against librdkafka's CONFIGURATION.md");
            return None;
        }
        Some(config)
    }
}

fn parse_brokers(
    node: Option<&Node>,
    parent: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<String> {
    let path = child_path(path, "brokers");
    let Some(list) = present(node) else {
        diags
            .error(parent.loc, "kafka needs `brokers`")
            .with_path(path)
            .with_hint("list the bootstrap brokers as host:port, such as [\"kafka-0.kafka:9092\"]");
        return Vec::new();
    };
    let Some(items) = list.as_seq() else {
        diags
            .error(list.loc, format!("expected a list of host:port, found {}", list.describe()))
            .with_path(path)
            .with_hint("write `brokers: [\"kafka:9092\"]`");
        return Vec::new();
    };
    if items.is_empty() {
        diags
            .error(list.loc, "`brokers` is empty")
            .with_path(&path)
            .with_hint("list at least one bootstrap broker as host:port");
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(text) = item.scalar_text() else {
            diags
                .error(item.loc, format!("expected host:port, found {}", item.describe()))
                .with_path(index_path(&path, i));
            continue;
        };
        let text = text.trim().to_owned();
        let ok = text
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            diags
                .error(item.loc, format!("broker `{text}` has no port"))
                .with_path(index_path(&path, i))
                .with_hint("write host:port, such as kafka-0.kafka:9092");
            continue;
        }
        out.push(text);
    }
    out
}

/// `version`: `X.Y.Z` or `X.Y.Z.W` (sarama's form).
fn parse_version(v: &Located<String>, diags: &mut Diagnostics) -> Option<String> {
    let text = v.value.trim();
    if text.is_empty() {
        return None;
    }
    let parts: Vec<&str> = text.split('.').collect();
    if (3..=4).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
        Some(text.to_owned())
    } else {
        v.error(diags, format!("invalid Kafka version `{text}`"))
            .with_hint("write the broker version as 2.8.0 (or leave it out: brokers from 0.10 on announce their version)");
        None
    }
}

fn decode_block<T: serde::de::DeserializeOwned>(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<T> {
    let options = DecodeOptions {
        path,
        strict_types: &[],
    };
    decode_with(node, &options, diags)
}

fn parse_tls(
    node: &Node,
    path: &str,
    checks_files: bool,
    diags: &mut Diagnostics,
) -> Option<KafkaTls> {
    let raw: RawTls = decode_block(node, path, diags)?;
    if !raw.enable {
        return None;
    }
    let before = diags.error_count();
    let ca = raw.ca_file.value.trim();
    if ca.is_empty() {
        diags
            .error(node.loc, "`tls.enable` needs a `caFile`")
            .with_path(path)
            .with_hint("set `caFile:` to the PEM file of the CA that signed the brokers' certificates");
    }
    let files = [&raw.ca_file, &raw.cert_file, &raw.key_file];
    for file in files.into_iter().filter(|f| checks_files && !f.value.trim().is_empty()) {
        if let Err(e) = File::open(file.value.trim()) {
            file.error(diags, format!("cannot read TLS file `{}`: {e}", file.value.trim()))
                .with_hint("mount the file into the container or fix the path");
        }
    }
    let cert = Some(raw.cert_file.value.trim().to_owned()).filter(|c| !c.is_empty());
    let key = Some(raw.key_file.value.trim().to_owned()).filter(|c| !c.is_empty());
    match (&cert, &key) {
        (Some(_), None) => {
            raw.cert_file
                .error(diags, "certFile is set but keyFile is not")
                .with_hint("client certificates need both certFile and keyFile");
        }
        (None, Some(_)) => {
            raw.key_file
                .error(diags, "keyFile is set but certFile is not")
                .with_hint("client certificates need both certFile and keyFile");
        }
        _ => {}
    }
    (diags.error_count() == before).then(|| KafkaTls {
        ca_file: ca.to_owned(),
        cert_file: cert,
        key_file: key,
        insecure_skip_verify: raw.insecure_skip_verify,
    })
}

fn parse_sasl(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<KafkaSasl> {
    let raw: RawSasl = decode_block(node, path, diags)?;
    if !raw.enable {
        return None;
    }
    let before = diags.error_count();
    let mechanism = match raw.mechanism.as_ref().map(|m| (m, m.value.trim())) {
        None | Some((_, "" | "plain" | "PLAIN")) => SaslMechanism::Plain,
        Some((_, "sha256" | "SCRAM-SHA-256")) => SaslMechanism::ScramSha256,
        Some((_, "sha512" | "SCRAM-SHA-512")) => SaslMechanism::ScramSha512,
        Some((m, other)) => {
            m.error(diags, format!("unknown SASL mechanism `{other}`"))
                .with_hint("use plain (the default), sha256 (SCRAM-SHA-256) or sha512 (SCRAM-SHA-512)");
            SaslMechanism::Plain
        }
    };
    if raw.username.value.trim().is_empty() {
        diags
            .error(node.loc, "`sasl.enable` needs a `username`")
            .with_path(path)
            .with_hint("set `username:`");
    }
    let password = raw.password.filter(|p| !p.is_empty());
    if password.is_none() {
        let at = node.entry("password").map_or(node.loc, |(k, _)| k.loc);
        diags
            .error(at, "`sasl.enable` needs a `password`")
            .with_path(child_path(path, "password"))
            .with_hint("set `password:`, for example from an environment variable: \"${KAFKA_PASSWORD}\"");
    }
    (diags.error_count() == before).then(|| KafkaSasl {
        username: raw.username.value.trim().to_owned(),
        password: password.unwrap_or_default(),
        mechanism,
    })
}

fn parse_avro(
    node: &Node,
    path: &str,
    has_layout: bool,
    diags: &mut Diagnostics,
) -> Option<AvroFrame> {
    let raw: RawAvro = decode_block(node, path, diags)?;
    let id = raw.schema_id.value.trim();
    if id.is_empty() {
        // KEE only encoded Avro when a schemaID was set.
        return None;
    }
    if has_layout {
        diags
            .warning(node.loc, "`avro` is ignored: the receiver has a `layout`, which is sent instead (as in KEE)")
            .with_path(path)
            .with_hint("remove `layout:` to send Avro, or `avro:` to send the layout");
    }
    if let Err(e) = super::avro::schema_id_bytes(id) {
        raw.schema_id
            .error(diags, e)
            .with_hint("the schemaID is 32 hexadecimal characters, such as c4b52aaf22429c7f9eb8c30270bc1795 (KEE panicked on a bad one)");
        return None;
    }
    match AvroFrame::new(id, &raw.schema.value) {
        Ok(frame) => Some(frame),
        Err(e) => {
            let at = node.entry("schema").map_or(node.loc, |(_, v)| v.loc);
            diags
                .error(at, format!("invalid Avro schema: {e}"))
                .with_path(child_path(path, "schema"))
                .with_hint("`schema` is the Avro schema as JSON text");
            None
        }
    }
}

fn parse_headers(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<KafkaHeader> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!("expected a mapping of header names to values, found {}", node.describe()),
            )
            .with_path(path);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let value_path = child_path(path, &k.name);
        let Some(text) = v.scalar_text() else {
            diags
                .error(v.loc, format!("expected a header value, found {}", v.describe()))
                .with_path(&value_path);
            continue;
        };
        match Template::parse(&value_path, &text) {
            Ok(value) => out.push(KafkaHeader {
                name: k.name.clone(),
                value,
            }),
            Err(e) => {
                diags
                    .error(
                        v.loc,
                        format!(
                            "invalid header template (line {}, column {} of the template): {}",
                            e.line, e.column, e.message
                        ),
                    )
                    .with_path(&value_path);
            }
        }
    }
    out
}

fn parse_properties(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<(String, Secret<String>)> {
    let Some(entries) = node.as_map() else {
        diags
            .error(
                node.loc,
                format!("expected a mapping of librdkafka properties, found {}", node.describe()),
            )
            .with_path(path)
            .with_hint("write `properties: {linger.ms: 20}`");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        match v.scalar_text() {
            Some(text) => out.push((k.name.clone(), Secret::new(text.into_owned()))),
            None => {
                diags
                    .error(v.loc, format!("expected a value, found {}", v.describe()))
                    .with_path(child_path(path, &k.name));
            }
        }
    }
    out
}

#[async_trait]
impl SinkType for KafkaConfig {
    const NAME: &'static str = "kafka";
    /// Up to 500 records per round of produce calls, waiting up to 20 ms for
    /// more (librdkafka batches them per partition on the wire).
    const BATCH_DEFAULTS: BatchSettings = BatchSettings {
        max_events: 500,
        max_bytes: 4 * 1024 * 1024,
        linger: std::time::Duration::from_millis(20),
    };
    type Sink = KafkaSink;
    type BuildError = KafkaError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        KafkaConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, name: &str) -> KafkaBuilder {
        KafkaBuilder::new(name, self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<KafkaSink, KafkaError> {
        KafkaSink::new(cx.name, self, cx.settings.timeout)
    }
}
