//! The `stdout` sink.

use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::StdoutConfig;
use crate::driver::{SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::{JsonLines, Lines};

/// Writes JSON lines to standard output (or any writer, for tests).
pub struct StdoutSink {
    builder: JsonLines,
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
            builder: config.lines(),
            out: Mutex::new(out),
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    type Builder = JsonLines;

    fn kind(&self) -> &'static str {
        StdoutConfig::NAME
    }

    fn builder(&self) -> &JsonLines {
        &self.builder
    }

    async fn send(&self, request: &Lines) -> Result<SendOutcome, SendError> {
        let mut out = self.out.lock().await;
        out.write_all(request.as_bytes())
            .await
            .map_err(|e| SendError::retriable(format!("cannot write to stdout: {e}")))?;
        out.flush()
            .await
            .map_err(|e| SendError::retriable(format!("cannot flush stdout: {e}")))?;
        Ok(SendOutcome::Delivered)
    }
}
