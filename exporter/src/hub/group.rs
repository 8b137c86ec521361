//! The delivery state of one consumer group: which offsets are committed, in flight
//! to which member, waiting for redelivery, or acknowledged out of order.
//!
//! Pure state, no I/O: the hub locks it, asks it for work and feeds it acks, member
//! departures and clock ticks. Invariant: every offset in `(committed, next)` is in
//! exactly one of `inflight`, `redeliver`, `acked`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Identifies one connected member session inside the hub.
pub type SessionId = u64;

/// Why an ack was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The offset was never handed out to any member of the group.
    #[error("offset {0} was never delivered to this group")]
    NeverDelivered(u64),
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    session: SessionId,
    deadline: Instant,
}

/// Offsets handed to one member by [`GroupState::reserve`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Redeliveries (older offsets another member, or this one earlier, did not ack).
    pub redelivered: Vec<u64>,
    /// Fresh offsets: `fresh.start..fresh.end`.
    pub fresh: std::ops::Range<u64>,
}

impl Reservation {
    /// Number of offsets reserved.
    pub fn len(&self) -> usize {
        self.redelivered.len() + (self.fresh.end - self.fresh.start) as usize
    }

    /// True when nothing was reserved.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Delivery state of a consumer group.
#[derive(Debug)]
pub struct GroupState {
    committed: u64,
    next: u64,
    acked: BTreeSet<u64>,
    inflight: HashMap<u64, Lease>,
    redeliver: BTreeSet<u64>,
    /// True when the persisted state (committed offset, dispatch horizon,
    /// out-of-order acks) changed since the last persist.
    pub dirty: bool,
}

impl GroupState {
    /// A group whose every offset ≤ `committed` is acknowledged.
    pub fn new(committed: u64) -> GroupState {
        GroupState {
            committed,
            next: committed + 1,
            acked: BTreeSet::new(),
            inflight: HashMap::new(),
            redeliver: BTreeSet::new(),
            dirty: false,
        }
    }

    /// Restores a persisted group (see [`GroupState::next`] and
    /// [`GroupState::acked_ranges`]): offsets ≤ `committed` and those in
    /// `acked_ranges` stay acknowledged, so a restart does not deliver them again;
    /// the other offsets below `next` were handed out before and are redelivered
    /// first. `last` is the newest logged offset.
    pub fn restore(committed: u64, next: u64, acked_ranges: &[u64], last: u64) -> GroupState {
        let committed = committed.min(last);
        let mut g = GroupState::new(committed);
        g.next = next.clamp(committed + 1, last + 1);
        for pair in acked_ranges.chunks_exact(2) {
            g.acked
                .extend(pair[0].max(committed + 1)..=pair[1].min(g.next - 1));
        }
        g.redeliver = (committed + 1..g.next)
            .filter(|o| !g.acked.contains(o))
            .collect();
        g.advance();
        g
    }

    /// Every offset ≤ this is acknowledged.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// The dispatch horizon: every offset below it was handed to a member.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Offsets above the committed one acknowledged out of order, as inclusive
    /// `first, last` pairs.
    pub fn acked_ranges(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for &o in &self.acked {
            match out.last_mut() {
                Some(end) if *end + 1 == o => *end = o,
                _ => out.extend([o, o]),
            }
        }
        out
    }

    /// Offsets handed out and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// True when there is something to hand out, given the newest logged offset.
    pub fn has_work(&self, last: u64) -> bool {
        !self.redeliver.is_empty() || self.next <= last
    }

    /// Skips the group forward past offsets that no longer exist (retention removed
    /// them): they can never be delivered.
    pub fn skip_below(&mut self, first_retained: u64) {
        if first_retained == 0 || self.committed + 1 >= first_retained {
            return;
        }
        let new_committed = first_retained - 1;
        self.acked.retain(|o| *o > new_committed);
        self.inflight.retain(|o, _| *o > new_committed);
        self.redeliver.retain(|o| *o > new_committed);
        self.committed = new_committed;
        self.next = self.next.max(first_retained);
        self.dirty = true;
        self.advance();
    }

    /// Hands up to `credits` offsets to `session`: redeliveries first, then fresh
    /// offsets up to `last` (the newest logged offset).
    pub fn reserve(
        &mut self,
        session: SessionId,
        credits: usize,
        last: u64,
        now: Instant,
        ack_timeout: Duration,
    ) -> Reservation {
        let mut r = Reservation {
            fresh: self.next..self.next,
            ..Default::default()
        };
        let lease = Lease {
            session,
            deadline: now + ack_timeout,
        };
        while r.redelivered.len() < credits {
            let Some(o) = self.redeliver.pop_first() else {
                break;
            };
            self.inflight.insert(o, lease);
            r.redelivered.push(o);
        }
        if !r.redelivered.is_empty() {
            // redeliveries travel in their own batch
            return r;
        }
        let room = credits as u64;
        let end = (last + 1).min(self.next + room).max(self.next);
        for o in self.next..end {
            self.inflight.insert(o, lease);
        }
        r.fresh = self.next..end;
        self.dirty |= end > self.next;
        self.next = end;
        r
    }

    /// Acknowledges offsets (from any member: a late ack of a redelivered event still
    /// counts). Returns true when the committed offset moved.
    ///
    /// # Errors
    /// [`AckError::NeverDelivered`] for an offset at or beyond the dispatch horizon;
    /// the offsets before it in `offsets` are applied.
    pub fn ack(&mut self, offsets: impl IntoIterator<Item = u64>) -> Result<bool, AckError> {
        let before = self.committed;
        for o in offsets {
            if o <= self.committed {
                continue;
            }
            if o >= self.next {
                self.advance();
                return Err(AckError::NeverDelivered(o));
            }
            self.inflight.remove(&o);
            self.redeliver.remove(&o);
            self.dirty |= self.acked.insert(o);
        }
        self.advance();
        Ok(self.committed != before)
    }

    fn advance(&mut self) {
        while self.acked.first() == Some(&(self.committed + 1)) {
            self.acked.pop_first();
            self.committed += 1;
            self.dirty = true;
        }
        // offsets below `next` that are in none of the sets cannot exist; an empty
        // window means everything dispatched was acknowledged
        if self.acked.is_empty()
            && self.inflight.is_empty()
            && self.redeliver.is_empty()
            && self.committed + 1 < self.next
        {
            self.committed = self.next - 1;
            self.dirty = true;
        }
    }

    /// Takes back everything in flight to `session` (it disconnected).
    /// Returns how many offsets will be redelivered.
    pub fn release(&mut self, session: SessionId) -> usize {
        let back: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, l)| l.session == session)
            .map(|(o, _)| *o)
            .collect();
        for o in &back {
            self.inflight.remove(o);
            self.redeliver.insert(*o);
        }
        back.len()
    }

    /// Takes back offsets whose ack deadline passed. Returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let late: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(o, _)| *o)
            .collect();
        for o in &late {
            self.inflight.remove(o);
            self.redeliver.insert(*o);
        }
        late.len()
    }

    /// Moves the group to the end of the log: everything up to `last` counts as
    /// acknowledged (used when another exporter's log took over delivery).
    pub fn fast_forward(&mut self, last: u64) {
        if last <= self.committed {
            return;
        }
        self.acked.clear();
        self.inflight.clear();
        self.redeliver.clear();
        self.committed = last;
        self.next = last + 1;
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn a_restored_group_redelivers_only_what_was_not_acknowledged() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 10, 20, now, T); // 1..11 handed out
        g.dirty = false;
        // 1 is stuck; later offsets are acknowledged around it
        g.ack([2, 3, 4, 6, 9]).unwrap();
        assert!(g.dirty, "out-of-order acks must be persisted");
        assert_eq!(g.committed(), 0);
        assert_eq!((g.next(), g.acked_ranges()), (11, vec![2, 4, 6, 6, 9, 9]));

        // what a restart loads back: only 1, 5, 7, 8 and 10 are delivered again
        let mut r = GroupState::restore(g.committed(), g.next(), &g.acked_ranges(), 20);
        assert_eq!(
            r.reserve(2, 10, 20, now, T).redelivered,
            vec![1, 5, 7, 8, 10]
        );
        // late acks of offsets handed out before the restart are accepted
        assert!(r.ack([1, 5, 7, 8, 10]).unwrap());
        assert_eq!(r.committed(), 10);
        assert_eq!(r.reserve(2, 10, 20, now, T).fresh, 11..21);

        // records without a horizon (older versions), and bad ranges, are safe
        assert_eq!(GroupState::restore(4, 0, &[], 20).next(), 5);
        let r = GroupState::restore(4, 99, &[7, 3, 1, 2, 30, 40, 6], 10);
        assert_eq!((r.committed(), r.next()), (4, 11));
        assert!(r.acked_ranges().is_empty());
        assert_eq!(GroupState::restore(4, 7, &[5, 6], 10).committed(), 6);
    }

    #[test]
    fn two_members_split_without_overlap() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        let a = g.reserve(1, 3, 10, now, T);
        let b = g.reserve(2, 3, 10, now, T);
        assert_eq!(a.fresh, 1..4);
        assert_eq!(b.fresh, 4..7);
        assert!(g.ack([1, 2, 3]).unwrap());
        assert_eq!(g.committed(), 3);
        // out of order acks wait for the gap
        assert!(!g.ack([5, 6]).unwrap());
        assert_eq!(g.committed(), 3);
        assert!(g.ack([4]).unwrap());
        assert_eq!(g.committed(), 6);
    }

    #[test]
    fn departed_member_offsets_are_redelivered_first() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 4, 10, now, T); // 1..5 to member 1
        g.reserve(2, 2, 10, now, T); // 5..7 to member 2
        g.ack([2]).unwrap();
        assert_eq!(g.release(1), 3);
        let r = g.reserve(2, 10, 10, now, T);
        assert_eq!(r.redelivered, vec![1, 3, 4]);
        assert!(r.fresh.is_empty());
        let r = g.reserve(2, 10, 10, now, T);
        assert_eq!(r.fresh, 7..11);
        g.ack([1, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
        assert_eq!(g.committed(), 10);
        assert_eq!(g.in_flight(), 0);
    }

    #[test]
    fn ack_timeout_takes_offsets_back() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 2, 10, now, T);
        assert_eq!(g.expire(now + Duration::from_secs(5)), 0);
        assert_eq!(g.expire(now + T), 2);
        // a late ack from the slow member still counts
        g.ack([1]).unwrap();
        let r = g.reserve(2, 5, 10, now, T);
        assert_eq!(r.redelivered, vec![2]);
    }

    #[test]
    fn ack_beyond_horizon_is_refused() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 2, 10, now, T);
        assert_eq!(g.ack([1, 9]), Err(AckError::NeverDelivered(9)));
        assert_eq!(g.committed(), 1, "acks before the bad one are applied");
        // duplicate and old acks are harmless
        assert_eq!(g.ack([1, 1]), Ok(false));
    }

    #[test]
    fn reserve_stops_at_the_tail_and_respects_credits() {
        let now = Instant::now();
        let mut g = GroupState::new(5);
        assert!(!g.has_work(5));
        assert!(g.reserve(1, 10, 5, now, T).is_empty());
        assert!(g.has_work(7));
        assert_eq!(g.reserve(1, 10, 7, now, T).fresh, 6..8);
        assert_eq!(g.reserve(1, 0, 100, now, T).len(), 0);
    }

    #[test]
    fn retention_skips_and_fast_forward() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 3, 10, now, T);
        g.skip_below(6);
        assert_eq!(g.committed(), 5);
        assert_eq!(g.in_flight(), 0);
        assert_eq!(g.reserve(1, 1, 10, now, T).fresh, 6..7);
        g.fast_forward(20);
        assert_eq!(g.committed(), 20);
        assert!(!g.has_work(20));
        assert!(g.dirty);
    }
}
