//! The `PutRecordBatch` request builder and the sink that sends it.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use super::{FirehoseConfig, MAX_BYTES, MAX_RECORD_BYTES, MAX_RECORDS};
use crate::aws::batch::{failed_entry, send_chunked};
use crate::aws::{classify, sdk};
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};
use crate::util::PayloadEncoder;

/// The records of one request.
#[derive(Debug, Clone)]
pub struct FirehoseRequest {
    /// Record data, in queue order.
    pub records: Vec<Vec<u8>>,
}

/// Turns events into records.
#[derive(Debug, Clone)]
pub struct FirehoseBuilder {
    stream_name: String,
    encoder: PayloadEncoder,
    newline: bool,
}

impl FirehoseBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &FirehoseConfig) -> FirehoseBuilder {
        FirehoseBuilder {
            stream_name: config.delivery_stream_name.clone(),
            encoder: PayloadEncoder::new(config.layout.clone(), config.de_dot),
            newline: config.newline,
        }
    }
}

impl RequestBuilder for FirehoseBuilder {
    type Item = Vec<u8>;
    type Request = FirehoseRequest;

    fn encode(&self, delivery: &Delivery) -> Result<Vec<u8>, EncodeError> {
        let mut data = Vec::with_capacity(1024);
        self.encoder.encode(delivery, &mut data)?;
        if self.newline {
            data.push(b'\n');
        }
        if data.len() > MAX_RECORD_BYTES {
            return Err(EncodeError::Invalid(format!(
                "the record is {} bytes; Firehose takes at most {MAX_RECORD_BYTES}",
                data.len()
            )));
        }
        Ok(data)
    }

    fn item_size(&self, item: &Vec<u8>) -> usize {
        item.len()
    }

    fn build_request(&self, items: &[Vec<u8>]) -> FirehoseRequest {
        FirehoseRequest {
            records: items.to_vec(),
        }
    }

    fn describe(&self, request: &FirehoseRequest) -> String {
        let mut out = format!(
            "Firehose PutRecordBatch to {} ({} record(s))\n",
            self.stream_name,
            request.records.len()
        );
        for (i, r) in request.records.iter().enumerate() {
            out.push_str(&format!("[{i}] {:?}\n", String::from_utf8_lossy(r)));
        }
        out
    }
}

/// Puts records into one delivery stream.
pub struct FirehoseSink {
    builder: FirehoseBuilder,
    client: Client,
    stream_name: String,
}

impl FirehoseSink {
    /// Creates the sink with the loaded SDK configuration.
    pub fn new(config: &FirehoseConfig, sdk: &SdkConfig) -> FirehoseSink {
        let mut conf = aws_sdk_firehose::config::Builder::from(sdk);
        if let Some(endpoint) = sdk::endpoint(&config.aws) {
            conf = conf.endpoint_url(endpoint);
        }
        FirehoseSink {
            builder: FirehoseBuilder::new(config),
            client: Client::from_conf(conf.build()),
            stream_name: config.delivery_stream_name.clone(),
        }
    }

    async fn put(&self, records: &[Vec<u8>]) -> Result<Vec<ItemOutcome>, SendError> {
        let batch = records
            .iter()
            .map(|r| {
                Record::builder()
                    .data(Blob::new(r.clone()))
                    .build()
                    .map_err(|e| SendError::permanent(format!("Firehose PutRecordBatch: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream_name)
            .set_records(Some(batch))
            .send()
            .await
            .map_err(|e| classify("Firehose PutRecordBatch", &e))?;
        if out.failed_put_count == 0 && out.request_responses.len() == records.len() {
            return Ok(vec![ItemOutcome::Delivered; records.len()]);
        }
        // One answer per record, in order; a record with an error code failed.
        Ok(out
            .request_responses
            .iter()
            .map(|r| match r.error_code() {
                Some(code) => failed_entry(code, r.error_message().unwrap_or(""), None),
                None => ItemOutcome::Delivered,
            })
            .collect())
    }
}

#[async_trait]
impl Sink for FirehoseSink {
    type Builder = FirehoseBuilder;

    fn kind(&self) -> &'static str {
        "firehose"
    }

    fn builder(&self) -> &FirehoseBuilder {
        &self.builder
    }

    async fn send(&self, request: &FirehoseRequest) -> Result<SendOutcome, SendError> {
        send_chunked(&request.records, Vec::len, MAX_RECORDS, MAX_BYTES, |run| {
            self.put(run)
        })
        .await
    }
}
