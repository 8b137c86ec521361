//! `file` sink: JSON lines in a file rotated like lumberjack (the Go library
//! kubernetes-event-exporter uses), so existing log shippers keep working.
//!
//! * Appends to `path`; when a write would make it exceed `maxsize` MB (0 =
//!   100 MB), the file is renamed to `<name>-<UTC 2006-01-02T15-04-05.000><ext>`
//!   in the same directory and a new one is started. Only whole lines are
//!   written, so a line never spans two files (a single line larger than
//!   `maxsize` is written alone into a fresh file).
//! * Backups older than `maxage` days (0 = keep) or beyond the newest
//!   `maxbackups` (0 = keep all) are deleted after each rotation; there is no
//!   compression.
//! * `reopen()` (SIGHUP) closes the file; the next write opens `path` again,
//!   which follows external rotation (logrotate's `create` mode).
//! * Each batch is written and `fsync`ed before its events are acknowledged.
//! * The file is opened when the receiver is built, so an unwritable path
//!   stops startup.
//! * A `path` that is a device or pipe (`/dev/stdout`, the Bitnami chart's
//!   default) is written without rotation or `fsync` (KEE failed at the first
//!   rotation, opsgenie#121).

mod config;
mod rotate;
mod sink;
#[cfg(test)]
mod tests;

pub use config::FileConfig;
pub use sink::FileSink;

/// The file sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file (or its directory) cannot be created or opened for writing.
    #[error("cannot open `{path}` for writing: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
