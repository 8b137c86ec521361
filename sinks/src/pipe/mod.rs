//! `pipe` sink: JSON lines written to a path opened once at startup — meant
//! for FIFOs and `/dev/stdout`.
//!
//! As in kubernetes-event-exporter the path is opened when the receiver is
//! built (create, write-only, truncate, mode 0644); opening a FIFO waits for
//! its reader, so startup waits too. FIFOs are written asynchronously, so a
//! stalled reader turns into the driver's request timeout instead of a stuck
//! thread; when the reader goes away (`EPIPE`), the next attempt reopens the
//! FIFO without blocking and fails retriably until a reader is back.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::PipeConfig;
pub use sink::PipeSink;

/// The pipe sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// The path cannot be opened for writing.
    #[error("cannot open `{path}` for writing: {source}")]
    Open {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
