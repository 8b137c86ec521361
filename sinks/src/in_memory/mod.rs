//! `inMemory` sink: keeps delivered events in a bounded ring, for tests.
//!
//! [`SinkSet::in_memory`](crate::SinkSet::in_memory) hands tests an
//! [`InMemoryStore`] to read what was delivered. KEE's version appended to a
//! slice forever; this one keeps the newest `maxEvents` (default 10000).

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::InMemoryConfig;
pub use sink::{InMemoryBuilder, InMemorySink, InMemoryStore};
