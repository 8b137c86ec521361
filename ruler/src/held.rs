//! The events a receiver lane still holds: handed to the receiver and neither
//! completed nor dropped (waiting in its queue, or being retried).
//!
//! The router records each delivery here; the subscription reads it to tell the
//! exporter what this member still works on — in the hello after a reconnect (so the
//! exporter hands those offsets back to this member instead of to another ruler) and
//! in periodic `Hold` messages (so a receiver that retries for hours does not see its
//! events expire and go to another ruler). A redelivery of an offset still held is
//! not delivered again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herald_sinks::driver::AckWatch;

/// Entries kept per log before finished ones are swept.
const SWEEP_AT: usize = 4096;

/// Handles of held events by log id, then offset.
type ByLog = HashMap<Arc<str>, HashMap<u64, AckWatch>>;

/// What one lane holds, by log id and offset; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<Mutex<ByLog>>);

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, ByLog> {
        // plain maps, changed by short panic-free code: recover from poison
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the event at `offset` of `log` was handed to the receiver.
    pub fn insert(&self, log: &Arc<str>, offset: u64, watch: AckWatch) {
        let mut logs = self.lock();
        let held = logs.entry(log.clone()).or_default();
        if held.len() >= SWEEP_AT {
            held.retain(|_, w| w.is_pending());
        }
        held.insert(offset, watch);
    }

    /// True while the receiver still holds the event at `offset` of `log`.
    pub fn contains(&self, log: &str, offset: u64) -> bool {
        self.lock()
            .get(log)
            .and_then(|h| h.get(&offset))
            .is_some_and(AckWatch::is_pending)
    }

    /// The offsets of `log` the receiver still holds, in order (finished ones are
    /// forgotten).
    pub fn pending(&self, log: &str) -> Vec<u64> {
        let mut logs = self.lock();
        let Some(held) = logs.get_mut(log) else {
            return Vec::new();
        };
        held.retain(|_, w| w.is_pending());
        let mut out: Vec<u64> = held.keys().copied().collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use herald_sinks::driver::{AckGroup, AckStatus, ack_channel};

    use super::*;

    #[test]
    fn an_offset_is_held_until_its_handle_is_completed_or_dropped() {
        let (tx, _rx) = ack_channel();
        let held = Held::default();
        let log: Arc<str> = Arc::from("log");
        let mut a = AckGroup::new(3, 1, &tx);
        let mut b = AckGroup::new(1, 1, &tx);
        held.insert(&log, 3, a[0].watch());
        held.insert(&log, 1, b[0].watch());
        assert!(held.contains("log", 3));
        assert!(!held.contains("other", 3));
        assert_eq!(held.pending("log"), vec![1, 3]);
        a.pop().unwrap().complete(AckStatus::Delivered);
        assert!(!held.contains("log", 3));
        assert_eq!(held.pending("log"), vec![1]);
        drop(b.pop());
        assert!(held.pending("log").is_empty());
    }
}
