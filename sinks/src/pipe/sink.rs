//! The `pipe` sink.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt as _;
use tokio::net::unix::pipe;
use tokio::sync::Mutex;
use tracing::info;

use super::{PipeConfig, PipeError};
use crate::driver::{SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::{JsonLines, Lines};

/// Where the lines go.
enum Writer {
    /// A FIFO, written asynchronously.
    Fifo(pipe::Sender),
    /// Anything else (a tty, a regular file), written on the blocking pool.
    File(tokio::fs::File),
}

impl Writer {
    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Writer::Fifo(s) => s.write_all(data).await,
            Writer::File(f) => {
                f.write_all(data).await?;
                f.flush().await
            }
        }
    }
}

/// The open writer and whether the last write was cut short.
struct State {
    writer: Option<Writer>,
    /// A write was interrupted (timeout) after part of a line may have gone
    /// out; the next write starts with `\n` so the torn line ends there and
    /// the following lines stay intact.
    torn: bool,
}

/// Marks the state torn when a write future is dropped before it finished.
struct WriteGuard<'a> {
    state: &'a mut State,
    finished: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.state.writer = None;
            self.state.torn = true;
        }
    }
}

/// Writes JSON lines to a FIFO or device.
pub struct PipeSink {
    path: PathBuf,
    builder: JsonLines,
    state: Mutex<State>,
}

impl PipeSink {
    /// Opens `config.path` (create, write-only, truncate, 0644), waiting for a
    /// FIFO's reader like kubernetes-event-exporter.
    ///
    /// # Errors
    /// The path cannot be opened for writing.
    pub async fn open(config: &PipeConfig) -> Result<PipeSink, PipeError> {
        let path = config.path.clone();
        if std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
            info!(path = %path.display(), "waiting for a reader to open the FIFO");
        }
        let open_error = |source| PipeError::Open {
            path: config.path.display().to_string(),
            source,
        };
        let file = tokio::task::spawn_blocking(move || {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(path)
        })
        .await
        .map_err(|e| open_error(std::io::Error::other(e)))?
        .map_err(open_error)?;
        let writer = into_writer(file).map_err(open_error)?;
        Ok(PipeSink {
            path: config.path.clone(),
            builder: config.lines(),
            state: Mutex::new(State {
                writer: Some(writer),
                torn: false,
            }),
        })
    }
}

fn into_writer(file: std::fs::File) -> std::io::Result<Writer> {
    if file.metadata()?.file_type().is_fifo() {
        Ok(Writer::Fifo(pipe::Sender::from_file(file)?))
    } else {
        Ok(Writer::File(tokio::fs::File::from_std(file)))
    }
}

/// Reopens after a write error without blocking: a FIFO without a reader
/// fails at once (`ENXIO`).
fn reopen(path: &Path) -> std::io::Result<Writer> {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => {
            pipe::OpenOptions::new().open_sender(path).map(Writer::Fifo)
        }
        _ => OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(path)
            .map(|f| Writer::File(tokio::fs::File::from_std(f))),
    }
}

#[async_trait]
impl Sink for PipeSink {
    type Builder = JsonLines;

    fn kind(&self) -> &'static str {
        PipeConfig::NAME
    }

    fn builder(&self) -> &JsonLines {
        &self.builder
    }

    async fn send(&self, request: &Lines) -> Result<SendOutcome, SendError> {
        let mut state = self.state.lock().await;
        if state.writer.is_none() {
            let writer = reopen(&self.path).map_err(|e| {
                SendError::retriable(format!("cannot reopen `{}`: {e}", self.path.display()))
            })?;
            state.writer = Some(writer);
        }
        let mut guard = WriteGuard {
            state: &mut state,
            finished: false,
        };
        let torn = guard.state.torn;
        let result = match guard.state.writer.as_mut() {
            Some(writer) => {
                let mut r = Ok(());
                if torn {
                    r = writer.write_all(b"\n").await;
                }
                match r {
                    Ok(()) => writer.write_all(request.as_bytes()).await,
                    Err(e) => Err(e),
                }
            }
            None => Err(std::io::Error::other("pipe is not open")),
        };
        guard.finished = true;
        match result {
            Ok(()) => {
                guard.state.torn = false;
                Ok(SendOutcome::Delivered)
            }
            Err(e) => {
                // A reader that went away leaves the pipe broken: reopen next
                // time. Whatever part of a line went out went to that reader.
                guard.state.writer = None;
                guard.state.torn = false;
                Err(SendError::retriable(format!(
                    "cannot write to `{}`: {e}",
                    self.path.display()
                )))
            }
        }
    }
}
