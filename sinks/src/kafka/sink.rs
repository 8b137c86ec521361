//! The `kafka` sink and its request builder: each event becomes one record
//! (topic, key, value, headers); a batch is produced at once and each
//! record's delivery report decides its outcome.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_template::Template;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message as _};
use rdkafka::config::FromClientConfigAndContext as _;
use tokio::sync::oneshot;
use tracing::warn;

use super::avro::AvroFrame;
use super::config::{KafkaConfig, KafkaHeader, PartitionerChoice};
use super::partition::SaramaPartitioner;
use super::properties::{client_config, describe, librdkafka_properties, redact};
use super::KafkaError;
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::model::kee_json;
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;

/// The header carrying the idempotency key `<uid>-<occurrence>`.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The header carrying the cluster name (sent when it is set).
pub const CLUSTER_HEADER: &str = "cluster";

/// One encoded record.
#[derive(Debug, Clone)]
pub struct KafkaItem {
    /// The topic.
    pub topic: String,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// The headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Turns events into records.
#[derive(Debug, Clone)]
pub struct KafkaBuilder {
    topic: Template,
    key: Option<Template>,
    headers: Vec<KafkaHeader>,
    encoder: PayloadEncoder,
    /// Set when there is no layout.
    avro: Option<AvroFrame>,
    /// The librdkafka configuration, shown by `describe`.
    properties: String,
}

impl KafkaBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &KafkaConfig) -> KafkaBuilder {
        let _ = name;
        KafkaBuilder {
            topic: config.topic.clone(),
            key: config.key.clone(),
            headers: config.headers.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            avro: if config.layout.is_none() {
                config.avro.clone()
            } else {
                None
            },
            properties: describe(&librdkafka_properties(config, None)),
        }
    }

    fn render(&self, t: &Template, d: &Delivery, what: &str) -> Result<String, EncodeError> {
        if t.is_static() {
            return Ok(t.source().to_owned());
        }
        t.render(d.value())
            .map_err(|e| EncodeError::Template(format!("{what}: {e}")))
    }
}

impl RequestBuilder for KafkaBuilder {
    type Item = KafkaItem;
    type Request = Vec<KafkaItem>;

    fn encode(&self, d: &Delivery) -> Result<KafkaItem, EncodeError> {
        let ev = &d.event;
        let topic = self.render(&self.topic, d, "topic")?;
        if topic.is_empty() {
            return Err(EncodeError::Invalid("the topic rendered empty".into()));
        }
        let key = match &self.key {
            Some(k) => self.render(k, d, "key")?,
            None => ev.metadata.uid.clone(),
        };
        let value = match &self.avro {
            Some(avro) => {
                let mut json = Vec::with_capacity(1024);
                kee_json(ev, false, &mut json);
                avro.encode(&json)
                    .map_err(|e| EncodeError::Invalid(format!("the event does not fit the Avro schema: {e}")))?
            }
            None => {
                let mut v = Vec::with_capacity(1024);
                self.encoder.encode(d, &mut v)?;
                v
            }
        };
        let mut headers = vec![(IDEMPOTENCY_HEADER.to_owned(), ev.idempotency_key().into_bytes())];
        if !ev.cluster_name.is_empty() {
            headers.push((CLUSTER_HEADER.to_owned(), ev.cluster_name.clone().into_bytes()));
        }
        for h in &self.headers {
            headers.push((h.name.clone(), self.render(&h.value, d, &h.name)?.into_bytes()));
        }
        Ok(KafkaItem {
            topic,
            key: key.into_bytes(),
            value,
            headers,
        })
    }

    fn item_size(&self, item: &KafkaItem) -> usize {
        item.key.len()
            + item.value.len()
            + item
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    fn build_request(&self, items: &[KafkaItem]) -> Vec<KafkaItem> {
        items.to_vec()
    }

    fn describe(&self, request: &Vec<KafkaItem>) -> String {
        let mut out = format!("kafka producer\n{}\n", self.properties);
        for r in request {
            out.push_str(&format!(
                "\nrecord topic={} key={}\n",
                r.topic,
                String::from_utf8_lossy(&r.key)
            ));
            for (k, v) in &r.headers {
                out.push_str(&format!("header {k}: {}\n", String::from_utf8_lossy(v)));
            }
            match std::str::from_utf8(&r.value) {
                Ok(text) if self.avro.is_none() => out.push_str(text),
                _ => {
                    out.push_str("value (binary): ");
                    for b in &r.value {
                        out.push_str(&format!("{b:02x}"));
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Where a record's delivery report goes.
type ReportSender = oneshot::Sender<Result<(i32, i64), RdError>>;

/// librdkafka's callbacks: delivery reports to the waiting send, client
/// errors to the log with the receiver's name, partitions chosen sarama's
/// way.
pub struct KafkaContext {
    name: Arc<str>,
    partitioner: Option<SaramaPartitioner>,
}

impl ClientContext for KafkaContext {
    fn error(&self, error: RdError, reason: &str) {
        warn!(
            sink = %self.name,
            sink_type = KafkaConfig::NAME,
            error = %error,
            reason,
            "kafka client error"
        );
    }
}

impl ProducerContext<SaramaPartitioner> for KafkaContext {
    type DeliveryOpaque = Box<ReportSender>;

    fn delivery(&self, result: &DeliveryResult<'_>, tx: Box<ReportSender>) {
        let report = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.clone()),
        };
        let _ = tx.send(report);
    }

    fn get_custom_partitioner(&self) -> Option<&SaramaPartitioner> {
        self.partitioner.as_ref()
    }
}

type Producer = ThreadedProducer<KafkaContext, SaramaPartitioner>;

/// Produces events to Kafka.
pub struct KafkaSink {
    builder: KafkaBuilder,
    name: Arc<str>,
    sarama: bool,
    props: Vec<(String, herald_config::Secret<String>)>,
    /// Replaced when librdkafka reports a fatal error (an idempotent
    /// producer that can no longer guarantee order stops for good), or when the
    /// broker no longer knows its producer id or epoch.
    producer: std::sync::Mutex<Arc<Producer>>,
}

impl KafkaSink {
    /// Creates the producer of receiver `name` (it connects in the
    /// background; a broker that is down is retried by librdkafka and the
    /// driver).
    ///
    /// # Errors
    /// librdkafka refused the configuration (an unreadable TLS file, …).
    pub fn new(name: &str, config: &KafkaConfig, timeout: Duration) -> Result<KafkaSink, KafkaError> {
        let props = librdkafka_properties(config, Some(timeout));
        let name: Arc<str> = Arc::from(name);
        let sarama = config.partitioner == PartitionerChoice::Sarama;
        let producer = create_producer(&name, sarama, &props)?;
        Ok(KafkaSink {
            builder: KafkaBuilder::new(&name, config),
            name,
            sarama,
            props,
            producer: std::sync::Mutex::new(Arc::new(producer)),
        })
    }

    fn producer(&self) -> Arc<Producer> {
        // A poisoned lock still holds a usable producer.
        self.producer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces `failed` by a new producer after librdkafka's fatal error or a
    /// broker that lost its producer state (unless another send already did).
    fn replace_after_fatal(&self, failed: &Arc<Producer>, reason: &str) {
        let mut slot = self
            .producer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !Arc::ptr_eq(&slot, failed) {
            return;
        }
        match create_producer(&self.name, self.sarama, &self.props) {
            Ok(p) => {
                warn!(
                    sink = %self.name,
                    sink_type = KafkaConfig::NAME,
                    reason,
                    "kafka producer cannot go on (fatal error, or the broker lost its producer state); replaced by a new one, its records are retried"
                );
                *slot = Arc::new(p);
            }
            Err(e) => warn!(
                sink = %self.name,
                sink_type = KafkaConfig::NAME,
                reason,
                error = %e,
                "kafka producer hit a fatal error and cannot be replaced yet"
            ),
        }
    }
}

fn create_producer(
    name: &Arc<str>,
    sarama: bool,
    props: &[(String, herald_config::Secret<String>)],
) -> Result<Producer, KafkaError> {
    let context = KafkaContext {
        name: name.clone(),
        partitioner: sarama.then_some(SaramaPartitioner),
    };
    ThreadedProducer::from_config_and_context(&client_config(props), context)
        .map_err(|e| KafkaError::Client(redact(&e.to_string(), props)))
}

/// Errors by which the broker says it no longer knows this producer's id or epoch
/// (it restarted without that state, or another producer took the id over): the
/// same producer would get them forever, a new one starts afresh. Its records are
/// retried.
pub(crate) fn producer_state_lost(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::ProducerFenced | C::InvalidProducerEpoch | C::UnknownProducerId | C::OutOfOrderSequenceNumber
    )
}

/// Errors a record can be refused with for good: trying again cannot help.
pub fn is_permanent(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::MessageBatchTooLarge
            | C::InvalidMessage
            | C::InvalidRecord
            | C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::UnknownPartition
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::PolicyViolation
            | C::InvalidRequiredAcks
            | C::UnsupportedForMessageFormat
            | C::InvalidArgument
    )
}

/// What a delivery error means for the record.
fn outcome_of(e: &RdError) -> ItemOutcome {
    let reason = e.to_string();
    match e.rdkafka_error_code() {
        Some(code) if is_permanent(code) => ItemOutcome::rejected(reason),
        _ => ItemOutcome::retry(reason),
    }
}

#[async_trait]
impl Sink for KafkaSink {
    type Builder = KafkaBuilder;

    fn kind(&self) -> &'static str {
        KafkaConfig::NAME
    }

    fn builder(&self) -> &KafkaBuilder {
        &self.builder
    }

    /// Produces every record, then waits for each delivery report: a record
    /// is delivered only when the broker acknowledged it (all in-sync
    /// replicas). A full local queue, a broker that is down or a leader change
    /// are retried by the driver; an oversized record, an unknown topic or a
    /// refused authorization are rejected with the broker's reason.
    async fn send(&self, request: &Vec<KafkaItem>) -> Result<SendOutcome, SendError> {
        let producer = self.producer();
        let mut pending = Vec::with_capacity(request.len());
        for item in request {
            let (tx, rx) = oneshot::channel();
            let mut headers = OwnedHeaders::new_with_capacity(item.headers.len());
            for (k, v) in &item.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_slice()),
                });
            }
            let record = BaseRecord::with_opaque_to(&item.topic, Box::new(tx))
                .key(&item.key[..])
                .payload(&item.value[..])
                .headers(headers);
            match producer.send(record) {
                Ok(()) => pending.push(Ok(rx)),
                Err((e, _)) => {
                    let outcome = match e.rdkafka_error_code() {
                        Some(RDKafkaErrorCode::QueueFull) => {
                            ItemOutcome::retry("librdkafka's queue is full")
                        }
                        _ => outcome_of(&e),
                    };
                    pending.push(Err(outcome));
                }
            }
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut stale_state = None;
        for p in pending {
            outcomes.push(match p {
                Err(outcome) => outcome,
                Ok(rx) => match rx.await {
                    Ok(Ok(_)) => ItemOutcome::Delivered,
                    Ok(Err(e)) => {
                        if e.rdkafka_error_code().is_some_and(producer_state_lost) {
                            stale_state = Some(e.to_string());
                        }
                        outcome_of(&e)
                    }
                    Err(_) => ItemOutcome::retry("the producer stopped before the delivery report"),
                },
            });
        }
        let replace = producer
            .client()
            .fatal_error()
            .map(|(_, reason)| reason)
            .or(stale_state);
        if let Some(reason) = replace {
            self.replace_after_fatal(&producer, &reason);
            for o in &mut outcomes {
                if let ItemOutcome::Rejected { reason } = o {
                    *o = ItemOutcome::retry(std::mem::take(reason));
                }
            }
        }
        if outcomes.iter().all(|o| *o == ItemOutcome::Delivered) {
            Ok(SendOutcome::Delivered)
        } else {
            Ok(SendOutcome::partial(outcomes))
        }
    }
}
