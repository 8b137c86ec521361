//! The receivers under test and the targets they deliver to. Each target records the
//! idempotency keys it received and when, so the verdict can tell what was delivered,
//! lost or duplicated.
//!
//! Adding a receiver (say `kafka` against a local broker) is one module here and one
//! line in [`TARGETS`]: a `start` function that starts the peer (or returns `None`
//! when it is not installed on this machine) and a [`Target`] that gives the
//! receiver's config block, the faults the peer can be put through, and the
//! [`Deliveries`] read back from it. Nothing else in the harness names a receiver.

pub mod file;
#[cfg(feature = "gcp")]
pub mod pubsub;
pub mod search;
pub mod webhook;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use futures::future::BoxFuture;

use super::plan::TargetFault;
use crate::error::Result;

/// What a target is started with.
#[derive(Debug, Clone)]
pub struct TargetEnv {
    /// A directory of its own.
    pub dir: PathBuf,
}

/// The layout the receivers render (under a receiver type's block).
pub const LAYOUT: &str = "      layout:\n        key: \"{{ .IdempotencyKey }}\"\n        reason: \"{{ .Reason }}\"\n        kind: \"{{ .InvolvedObject.Kind }}\"\n";

/// Starts a target; `Ok(None)` when its peer is not available on this machine.
pub type StartFn = for<'a> fn(&'a TargetEnv) -> BoxFuture<'a, Result<Option<Box<dyn Target>>>>;

/// Every receiver the harness knows, in the order of the verdict table.
pub const TARGETS: &[StartFn] = &[
    file::start,
    webhook::start,
    search::start,
    #[cfg(feature = "gcp")]
    pubsub::start,
];

/// A receiver and its running target.
pub trait Target: Send {
    /// The receiver's name (also its type's name).
    fn name(&self) -> &'static str;
    /// The receiver's entry under `receivers:` (`  - name: …` and its type's block,
    /// rendering [`LAYOUT`]).
    fn receiver_yaml(&self) -> String;
    /// Environment the rulers need for this receiver (credentials of a fake).
    fn environment(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The faults the target can be put through.
    fn faults(&self) -> &'static [TargetFault];
    /// Starts (`Some`) or ends (`None`) a fault.
    ///
    /// # Errors
    /// The peer cannot be signalled.
    fn set_fault(&mut self, fault: Option<TargetFault>) -> Result<()>;
    /// What the target received so far.
    fn deliveries(&self) -> &Deliveries;
    /// Whether the target itself drops a redelivered key (so duplicates cannot be
    /// seen there).
    fn dedupes(&self) -> bool {
        false
    }
    /// The peer's process id, when it is a process of its own (for its memory).
    fn pid(&self) -> Option<u32> {
        None
    }
}

#[derive(Debug, Default)]
struct Received {
    seen: Vec<(String, Instant)>,
    distinct: HashSet<String>,
}

/// Idempotency keys received by a target, with when; shared with its collector.
#[derive(Debug, Clone, Default)]
pub struct Deliveries(Arc<Mutex<Received>>);

impl Deliveries {
    fn lock(&self) -> MutexGuard<'_, Received> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `key` received at `at`.
    pub fn record(&self, key: String, at: Instant) {
        let mut r = self.lock();
        r.distinct.insert(key.clone());
        r.seen.push((key, at));
    }

    /// Distinct keys received.
    #[cfg(test)]
    pub fn distinct(&self) -> usize {
        self.lock().distinct.len()
    }

    /// Whether `key` was received.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().distinct.contains(key)
    }

    /// Every reception, in order.
    pub fn snapshot(&self) -> Vec<(String, Instant)> {
        self.lock().seen.clone()
    }
}

/// The `key` field of a rendered layout (a JSON object), or of every object of a JSON
/// array of them (a batched webhook body).
pub fn keys_of(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let one = |v: &serde_json::Value| v["key"].as_str().map(str::to_owned);
    match &v {
        serde_json::Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_objects_and_arrays() {
        assert_eq!(keys_of(br#"{"key":"u-1","reason":"x"}"#), ["u-1"]);
        assert_eq!(keys_of(br#"[{"key":"u-1"},{"key":"u-2"}]"#), ["u-1", "u-2"]);
        assert!(keys_of(b"not json").is_empty());
        assert!(keys_of(br#"{"other":1}"#).is_empty());
    }

    #[test]
    fn deliveries_count_distinct_keys_and_keep_every_reception() {
        let d = Deliveries::default();
        let now = Instant::now();
        d.record("a-1".into(), now);
        d.record("a-1".into(), now);
        d.record("b-1".into(), now);
        assert_eq!(d.distinct(), 2);
        assert_eq!(d.snapshot().len(), 3);
        assert!(d.contains("b-1"));
    }
}
