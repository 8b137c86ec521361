//! The `file` sink.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tracing::warn;

use super::rotate::{Limits, RotatingFile};
use super::{FileConfig, FileError};
use crate::driver::{SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::{JsonLines, Lines};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Writes JSON lines to a rotating file.
pub struct FileSink {
    builder: JsonLines,
    file: Arc<Mutex<RotatingFile>>,
}

impl FileSink {
    /// Opens (creating it and its directories if needed) the file of
    /// `config`.
    ///
    /// # Errors
    /// The file cannot be opened for writing.
    pub async fn open(config: &FileConfig) -> Result<FileSink, FileError> {
        let limits = Limits {
            max_size: config.max_size_bytes,
            max_age: (config.max_age_days > 0).then(|| {
                DAY.saturating_mul(u32::try_from(config.max_age_days).unwrap_or(u32::MAX))
            }),
            max_backups: config.max_backups,
        };
        let path = config.path.clone();
        let open_error = |source| FileError::Open {
            path: config.path.display().to_string(),
            source,
        };
        let file = tokio::task::spawn_blocking(move || RotatingFile::open(path, limits))
            .await
            .map_err(|e| open_error(std::io::Error::other(e)))?
            .map_err(open_error)?;
        Ok(FileSink::from_parts(config, file))
    }

    pub(super) fn from_parts(config: &FileConfig, file: RotatingFile) -> FileSink {
        FileSink {
            builder: config.lines(),
            file: Arc::new(Mutex::new(file)),
        }
    }

    async fn with_file<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut RotatingFile) -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            // The file state stays consistent across a panic in `f` (it is
            // reopened on the next write), so a poisoned lock is usable.
            let mut guard = file.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
    }
}

#[async_trait]
impl Sink for FileSink {
    type Builder = JsonLines;

    fn kind(&self) -> &'static str {
        FileConfig::NAME
    }

    fn builder(&self) -> &JsonLines {
        &self.builder
    }

    async fn send(&self, request: &Lines) -> Result<SendOutcome, SendError> {
        let lines = request.clone();
        match self
            .with_file(move |f| {
                let lines: Vec<&[u8]> = lines.iter().collect();
                let result = f.write_lines(&lines);
                if result.is_err() {
                    // Start from a fresh handle on the retry.
                    f.reopen();
                }
                result.map_err(|e| format!("cannot write `{}`: {e}", f.path().display()))
            })
            .await
        {
            Ok(Ok(())) => Ok(SendOutcome::Delivered),
            Ok(Err(message)) => Err(SendError::retriable(message)),
            Err(e) => Err(SendError::retriable(format!("file write task failed: {e}"))),
        }
    }

    async fn reopen(&self) {
        if let Err(e) = self.with_file(RotatingFile::reopen).await {
            warn!(error = %e, "cannot reopen file");
        }
    }
}
