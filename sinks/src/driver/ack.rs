//! Acknowledgements: a per-(event, receiver) completion handle ([`AckRef`])
//! and the per-event group that reports the event's log offset once every
//! matched receiver is done with it ([`AckGroup`]).
//!
//! The ruler creates one group per routed event with one handle per matched
//! receiver and reads [`AckNotice`]s from the [`AckReceiver`] to acknowledge
//! offsets upstream. A handle dropped without being completed (a task was
//! aborted at shutdown, a queue was closed) never acknowledges its event: the
//! exporter redelivers it after its ack timeout.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::mpsc;
use tracing::debug;

/// How a receiver finished with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// The target accepted it.
    Delivered,
    /// It cannot be delivered (permanent error, exhausted retries, a template
    /// that fails for this event); logged and counted.
    Rejected,
    /// The receiver's queue was full and its policy is `drop`; counted.
    Dropped,
}

/// Sent when every receiver of an event has completed its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckNotice {
    /// The event's offset in the exporter's log.
    pub offset: u64,
    /// Receivers that delivered it.
    pub delivered: u32,
    /// Receivers that rejected it.
    pub rejected: u32,
    /// Receivers that dropped it.
    pub dropped: u32,
}

/// Where completed groups are reported; cheap to clone.
#[derive(Debug, Clone)]
pub struct AckSender(mpsc::UnboundedSender<AckNotice>);

/// The ruler's end of the acknowledgement channel.
pub type AckReceiver = mpsc::UnboundedReceiver<AckNotice>;

/// Creates an acknowledgement channel.
///
/// It is unbounded because completing a handle must never block; its length
/// is bounded by the number of events in flight, which the ruler's credits
/// limit.
pub fn ack_channel() -> (AckSender, AckReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (AckSender(tx), rx)
}

#[derive(Debug)]
struct Group {
    offset: u64,
    remaining: AtomicUsize,
    delivered: AtomicU32,
    rejected: AtomicU32,
    dropped: AtomicU32,
    tx: AckSender,
}

/// Creates the handles of one event.
#[derive(Debug)]
pub struct AckGroup;

impl AckGroup {
    /// Returns `n` handles for the event at `offset`; when all of them are
    /// completed, an [`AckNotice`] is sent on `tx`. With `n == 0` the notice
    /// is sent at once (the event matched no receiver).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(offset: u64, n: usize, tx: &AckSender) -> Vec<AckRef> {
        if n == 0 {
            send(
                tx,
                AckNotice {
                    offset,
                    delivered: 0,
                    rejected: 0,
                    dropped: 0,
                },
            );
            return Vec::new();
        }
        let group = Arc::new(Group {
            offset,
            remaining: AtomicUsize::new(n),
            delivered: AtomicU32::new(0),
            rejected: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
            tx: tx.clone(),
        });
        (0..n)
            .map(|_| AckRef {
                group: Some(group.clone()),
            })
            .collect()
    }
}

fn send(tx: &AckSender, notice: AckNotice) {
    if tx.0.send(notice).is_err() {
        debug!(
            offset = notice.offset,
            "acknowledgement receiver is gone, offset not reported"
        );
    }
}

/// Completion handle for one (event, receiver) pair.
///
/// Complete it exactly once with [`AckRef::complete`]. Dropping it without
/// completing means "not done": the event is not acknowledged and will be
/// redelivered by the exporter.
#[derive(Debug)]
#[must_use = "an AckRef must be completed, or its event is redelivered"]
pub struct AckRef {
    group: Option<Arc<Group>>,
}

impl AckRef {
    /// Returns a handle that belongs to no group (tests, tools).
    pub fn detached() -> AckRef {
        AckRef { group: None }
    }

    /// Returns the offset of the event, unless the handle is detached.
    pub fn offset(&self) -> Option<u64> {
        self.group.as_ref().map(|g| g.offset)
    }

    /// Returns a watch that tells whether this handle, or another handle of its
    /// event, is still uncompleted (held by a receiver, waiting or being retried).
    pub fn watch(&self) -> AckWatch {
        AckWatch(self.group.as_ref().map_or_else(Weak::new, Arc::downgrade))
    }

    /// Completes the handle; the last completion of a group reports its
    /// offset.
    pub fn complete(mut self, status: AckStatus) {
        let Some(group) = self.group.take() else {
            return;
        };
        let counter = match status {
            AckStatus::Delivered => &group.delivered,
            AckStatus::Rejected => &group.rejected,
            AckStatus::Dropped => &group.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // AcqRel: the last completer must see every other completer's counts.
        if group.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            send(
                &group.tx,
                AckNotice {
                    offset: group.offset,
                    delivered: group.delivered.load(Ordering::Relaxed),
                    rejected: group.rejected.load(Ordering::Relaxed),
                    dropped: group.dropped.load(Ordering::Relaxed),
                },
            );
        }
    }
}

/// Whether an event's handles are still out (see [`AckRef::watch`]).
#[derive(Debug, Clone)]
pub struct AckWatch(Weak<Group>);

impl AckWatch {
    /// True while at least one handle of the event is neither completed nor dropped.
    pub fn is_pending(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl Drop for AckRef {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            debug!(
                offset = group.offset,
                "delivery handle dropped before completion, the exporter will redeliver the event"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_is_pending_until_every_handle_is_completed_or_dropped() {
        let (tx, _rx) = ack_channel();
        let mut refs = AckGroup::new(7, 2, &tx);
        let watch = refs[0].watch();
        refs.pop().unwrap().complete(AckStatus::Delivered);
        assert!(watch.is_pending(), "one handle is still out");
        drop(refs.pop());
        assert!(!watch.is_pending(), "a dropped handle is not pending");
        assert!(!AckRef::detached().watch().is_pending());
    }

    #[test]
    fn reports_once_when_every_receiver_completed() {
        let (tx, mut rx) = ack_channel();
        let mut refs = AckGroup::new(42, 3, &tx);
        assert_eq!(refs[0].offset(), Some(42));
        refs.pop().unwrap().complete(AckStatus::Delivered);
        refs.pop().unwrap().complete(AckStatus::Rejected);
        assert!(rx.try_recv().is_err(), "reported before all completed");
        refs.pop().unwrap().complete(AckStatus::Dropped);
        assert_eq!(
            rx.try_recv().unwrap(),
            AckNotice {
                offset: 42,
                delivered: 1,
                rejected: 1,
                dropped: 1
            }
        );
        assert!(rx.try_recv().is_err(), "reported twice");
    }

    #[test]
    fn a_rejected_receiver_still_completes_the_group() {
        let (tx, mut rx) = ack_channel();
        for r in AckGroup::new(7, 2, &tx) {
            r.complete(AckStatus::Rejected);
        }
        let n = rx.try_recv().unwrap();
        assert_eq!((n.offset, n.rejected), (7, 2));
    }

    #[test]
    fn dropping_a_handle_without_completing_never_acks() {
        let (tx, mut rx) = ack_channel();
        let mut refs = AckGroup::new(9, 2, &tx);
        refs.pop().unwrap().complete(AckStatus::Delivered);
        drop(refs.pop());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn zero_receivers_ack_at_once_and_detached_handles_report_nothing() {
        let (tx, mut rx) = ack_channel();
        assert!(AckGroup::new(3, 0, &tx).is_empty());
        assert_eq!(rx.try_recv().unwrap().offset, 3);
        AckRef::detached().complete(AckStatus::Delivered);
        assert!(AckRef::detached().offset().is_none());
        assert!(rx.try_recv().is_err());
    }

    /// A writer for a tracing subscriber that keeps what was logged.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_gone_receiver_is_not_an_error() {
        // at shutdown the ruler stops reading notices: completing handles then must
        // neither panic nor report an error, only note at debug level that the offset
        // is not reported (the exporter redelivers it)
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let (tx, rx) = ack_channel();
            drop(rx);
            for r in AckGroup::new(7, 2, &tx) {
                r.complete(AckStatus::Delivered);
            }
            assert!(AckGroup::new(8, 0, &tx).is_empty());
        });
        let out = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let gone: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("acknowledgement receiver is gone"))
            .collect();
        assert_eq!(gone.len(), 2, "one line per group:\n{out}");
        assert!(
            gone[0].contains("DEBUG") && gone[0].contains("offset=7"),
            "{out}"
        );
        assert!(gone[1].contains("offset=8"), "{out}");
        assert!(!out.contains("WARN") && !out.contains("ERROR"), "{out}");
    }
}
