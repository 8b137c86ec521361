//! The `stdout` sink.

use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::StdoutConfig;
use crate::driver::{BatchSettings, Delivery, EncodeError, SendError, Sink};
use crate::util::PayloadEncoder;

/// Writes JSON lines to standard output (or any writer, for tests).
pub struct StdoutSink {
    encoder: PayloadEncoder,
    out: Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
}

impl StdoutSink {
    /// Creates a sink writing to the process's standard output.
    pub fn new(config: &StdoutConfig) -> StdoutSink {
        StdoutSink::with_writer(config, Box::new(tokio::io::stdout()))
    }

    /// Creates a sink writing to `out`.
    pub fn with_writer(
        config: &StdoutConfig,
        out: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> StdoutSink {
        StdoutSink {
            encoder: PayloadEncoder::new(config.layout.clone(), config.de_dot),
            out: Mutex::new(out),
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    type Item = Vec<u8>;
    type Request = Vec<u8>;

    fn kind(&self) -> &'static str {
        "stdout"
    }

    fn batch_defaults(&self) -> BatchSettings {
        BatchSettings::STREAM
    }

    fn encode(&self, delivery: &Delivery) -> Result<Vec<u8>, EncodeError> {
        self.encoder.encode_line(delivery)
    }

    fn item_size(&self, item: &Vec<u8>) -> usize {
        item.len()
    }

    fn build_request(&self, items: Vec<Vec<u8>>) -> Vec<u8> {
        items.concat()
    }

    async fn send(&self, request: &Vec<u8>) -> Result<(), SendError> {
        let mut out = self.out.lock().await;
        out.write_all(request)
            .await
            .map_err(|e| SendError::retriable(format!("cannot write to stdout: {e}")))?;
        out.flush()
            .await
            .map_err(|e| SendError::retriable(format!("cannot flush stdout: {e}")))
    }
}
