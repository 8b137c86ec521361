//! The `PutRecords` request builder and the sink that sends it.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::{KinesisConfig, MAX_BYTES, MAX_PARTITION_KEY, MAX_RECORD_BYTES, MAX_RECORDS};
use crate::aws::batch::{failed_entry, send_chunked};
use crate::aws::fields::Field;
use crate::aws::{classify, sdk};
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::util::PayloadEncoder;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    /// `Data`.
    pub data: Vec<u8>,
    /// `PartitionKey`.
    pub partition_key: String,
}

impl KinesisRecord {
    /// What the record counts against Kinesis's limits.
    fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// The records of one request.
#[derive(Debug, Clone)]
pub struct KinesisRequest {
    /// In queue order.
    pub records: Vec<KinesisRecord>,
}

/// Turns events into records.
#[derive(Debug, Clone)]
pub struct KinesisBuilder {
    stream_name: String,
    encoder: PayloadEncoder,
    partition_key: Option<Field>,
}

impl KinesisBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &KinesisConfig) -> KinesisBuilder {
        KinesisBuilder {
            stream_name: config.stream_name.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), false),
            partition_key: config.partition_key.clone(),
        }
    }
}

impl RequestBuilder for KinesisBuilder {
    type Item = KinesisRecord;
    type Request = KinesisRequest;

    fn encode(&self, delivery: &Delivery) -> Result<KinesisRecord, EncodeError> {
        let mut data = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut data)?;
        let partition_key = match &self.partition_key {
            Some(field) => field.render(delivery)?,
            None => delivery.event.metadata.uid.clone(),
        };
        if partition_key.is_empty() || partition_key.chars().count() > MAX_PARTITION_KEY {
            return Err(EncodeError::Invalid(format!(
                "the partition key has {} characters; Kinesis takes 1 to {MAX_PARTITION_KEY}",
                partition_key.chars().count()
            )));
        }
        let record = KinesisRecord {
            data,
            partition_key,
        };
        if record.size() > MAX_RECORD_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the record is {} bytes; Kinesis takes at most {MAX_RECORD_BYTES}",
                record.size()
            )));
        }
        Ok(record)
    }

    fn item_size(&self, item: &KinesisRecord) -> usize {
        item.size()
    }

    fn build_request(&self, items: &[KinesisRecord]) -> KinesisRequest {
        KinesisRequest {
            records: items.to_vec(),
        }
    }

    fn describe(&self, request: &KinesisRequest) -> String {
        let mut out = format!(
            "Kinesis PutRecords to stream {} ({} record(s))\n",
            self.stream_name,
            request.records.len()
        );
        for (i, r) in request.records.iter().enumerate() {
            out.push_str(&format!(
                "[{i}] PartitionKey={} {}\n",
                r.partition_key,
                String::from_utf8_lossy(&r.data)
            ));
        }
        out
    }
}

/// Puts records into one stream.
pub struct KinesisSink {
    builder: KinesisBuilder,
    client: Client,
    stream_name: String,
}

impl KinesisSink {
    /// Creates the sink with the loaded SDK configuration.
    pub fn new(config: &KinesisConfig, sdk: &SdkConfig) -> KinesisSink {
        let mut conf = aws_sdk_kinesis::config::Builder::from(sdk);
        if let Some(endpoint) = sdk::endpoint(&config.aws) {
            conf = conf.endpoint_url(endpoint);
        }
        KinesisSink {
            builder: KinesisBuilder::new(config),
            client: Client::from_conf(conf.build()),
            stream_name: config.stream_name.clone(),
        }
    }

    async fn put(&self, records: &[KinesisRecord]) -> Result<Vec<ItemOutcome>, SendError> {
        let entries = records
            .iter()
            .map(|r| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(r.data.clone()))
                    .partition_key(&r.partition_key)
                    .build()
                    .map_err(|e| SendError::permanent(format!("Kinesis PutRecords: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream_name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| classify("Kinesis PutRecords", &e))?;
        if out.failed_record_count.unwrap_or(0) == 0 && out.records.len() == records.len() {
            return Ok(vec![ItemOutcome::Delivered; records.len()]);
        }
        // One answer per record, in order; a record with an error code failed.
        Ok(out
            .records
            .iter()
            .map(|r| match r.error_code() {
                Some(code) => failed_entry(code, r.error_message().unwrap_or(""), None),
                None => ItemOutcome::Delivered,
            })
            .collect())
    }
}

#[async_trait]
impl Sink for KinesisSink {
    type Builder = KinesisBuilder;

    fn kind(&self) -> &'static str {
        "kinesis"
    }

    fn builder(&self) -> &KinesisBuilder {
        &self.builder
    }

    async fn send(&self, request: &KinesisRequest) -> Result<SendOutcome, SendError> {
        send_chunked(
            &request.records,
            KinesisRecord::size,
            MAX_RECORDS,
            MAX_BYTES,
            |run| self.put(run),
        )
        .await
    }
}
