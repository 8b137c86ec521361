//! `stdout` sink: writes one JSON document plus `\n` per event to the
//! process's standard output — the rendered `layout` when set, else the KEE
//! event JSON, with `deDot` applied first.
//!
//! Events already queued are written together (up to 500 per write) and
//! flushed once per batch. In KEE's pretty log mode, log lines shared stdout
//! with events; herald's logs go to stderr.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::StdoutConfig;
pub use sink::StdoutSink;
