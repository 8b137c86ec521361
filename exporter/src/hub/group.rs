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
    /// The highest dispatch horizon this state has had: after a seek backwards, acks of
    /// offsets handed out before the seek (between `next` and this) are ignored rather
    /// than refused.
    horizon: u64,
    /// Offsets taken back from a member that went away are not redelivered before
    /// this, so that a member which only lost its connection (or an exporter restart)
    /// can claim what it still holds (see [`GroupState::hold`]) before anyone else
    /// gets a second copy.
    parked_until: Option<Instant>,
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
            horizon: committed + 1,
            parked_until: None,
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
        g.horizon = g.next;
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
        (!self.redeliver.is_empty() && !self.parked(Instant::now())) || self.next <= last
    }

    /// Holds redeliveries back until `until` (members that reconnect claim theirs).
    pub fn park_redeliveries(&mut self, until: Instant) {
        self.parked_until = Some(self.parked_until.map_or(until, |p| p.max(until)));
    }

    /// When parked redeliveries become available, if they are parked now.
    pub fn parked_until(&self, now: Instant) -> Option<Instant> {
        self.parked_until
            .filter(|t| *t > now && !self.redeliver.is_empty())
    }

    fn parked(&self, now: Instant) -> bool {
        self.parked_until.is_some_and(|t| t > now)
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
        while r.redelivered.len() < credits && !self.parked(now) {
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
        self.horizon = self.horizon.max(end);
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
                if o < self.horizon {
                    // handed out before a seek moved the group back: nothing to do
                    continue;
                }
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

    /// Renews the leases of `offsets` for `session` (a member still working on them),
    /// and hands back to it those that were taken back and not yet handed out again.
    /// Offsets acknowledged, never handed out, or leased to another session are left
    /// alone. Returns how many offsets the session now holds from `offsets`.
    ///
    /// An offset at or beyond the dispatch horizon but logged (≤ `last`) was handed out
    /// before a crash lost the record of it: the horizon moves past it, and the
    /// offsets it skips become redeliveries (they may have been handed out too).
    pub fn hold(
        &mut self,
        session: SessionId,
        offsets: impl IntoIterator<Item = u64>,
        now: Instant,
        ack_timeout: Duration,
        last: u64,
    ) -> usize {
        let lease = Lease {
            session,
            deadline: now + ack_timeout,
        };
        let mut held = 0;
        for o in offsets {
            if o <= self.committed || o > last {
                continue;
            }
            if o >= self.next {
                self.redeliver.extend(self.next..=o);
                self.next = o + 1;
                self.horizon = self.horizon.max(self.next);
                self.dirty = true;
            }
            match self.inflight.get_mut(&o) {
                Some(l) if l.session == session => {
                    l.deadline = lease.deadline;
                    held += 1;
                }
                Some(_) => {}
                None => {
                    if self.redeliver.remove(&o) {
                        self.inflight.insert(o, lease);
                        held += 1;
                    }
                }
            }
        }
        held
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

    /// Moves the group so that `position` is the next offset delivered (a replay when it
    /// lies behind, a skip when ahead): everything before it counts as acknowledged,
    /// everything from it on is delivered again. Offsets in flight are taken back; their
    /// late acks are accepted and ignored.
    pub fn seek(&mut self, position: u64) {
        let position = position.max(1);
        self.acked.clear();
        self.inflight.clear();
        self.redeliver.clear();
        self.committed = position - 1;
        self.next = position;
        self.horizon = self.horizon.max(position);
        self.dirty = true;
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
        self.horizon = self.horizon.max(self.next);
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
    fn seek_back_replays_and_ignores_acks_from_before_the_seek() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 10, 20, now, T); // 1..11 in flight
        g.ack([1, 2, 3]).unwrap();
        g.seek(2);
        assert_eq!((g.committed(), g.next(), g.in_flight()), (1, 2, 0));
        // late acks of what was handed out before the seek change nothing
        assert_eq!(g.ack([9, 10]), Ok(false));
        assert_eq!(g.committed(), 1);
        // everything from 2 on is delivered again, in order
        assert_eq!(g.reserve(1, 5, 20, now, T).fresh, 2..7);
        // beyond what was ever handed out, an ack is still refused
        assert_eq!(g.ack([30]), Err(AckError::NeverDelivered(30)));
    }

    #[test]
    fn hold_renews_leases_and_reclaims_what_was_taken_back() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 4, 10, now, T); // 1..5 to member 1
        g.reserve(2, 2, 10, now, T); // 5..7 to member 2
        // member 1 still works on 1 and 2: their deadlines move
        assert_eq!(g.hold(1, [1, 2], now + T / 2, T, 10), 2);
        assert_eq!(g.expire(now + T), 4, "3, 4, 5 and 6 expire; 1 and 2 do not");
        // after a restart of its connection, member 3 (member 1 again) reclaims 3 and 4;
        // offsets of another live lease, acknowledged or never handed out are ignored
        g.ack([5]).unwrap();
        assert_eq!(g.hold(3, [3, 4, 5, 1, 99], now + T, T, 10), 2);
        let r = g.reserve(4, 10, 10, now + T, T);
        assert_eq!(r.redelivered, vec![6], "only 6 is left to redeliver");
        // a released session's offsets go back to the pool as before
        assert_eq!(g.release(3), 2);
        // a claim beyond the horizon (handed out before a crash lost the record of it)
        // moves the horizon; what it skips is redelivered, not handed out as fresh
        let mut g = GroupState::new(0);
        assert_eq!(g.hold(1, [4], now, T, 10), 1);
        assert_eq!(g.next(), 5);
        let r = g.reserve(2, 10, 10, now, T);
        assert_eq!(r.redelivered, vec![1, 2, 3]);
        assert_eq!(g.reserve(2, 10, 10, now, T).fresh, 5..11);
    }

    #[test]
    fn parked_redeliveries_wait_and_fresh_events_flow() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 3, 10, now, T);
        g.release(1);
        g.park_redeliveries(now + T);
        assert_eq!(g.parked_until(now), Some(now + T));
        let r = g.reserve(2, 10, 10, now, T);
        assert!(r.redelivered.is_empty());
        assert_eq!(r.fresh, 4..11, "fresh events are not held back");
        // the member that held 1..4 claims 2 within the window
        assert_eq!(g.hold(3, [2], now, T, 10), 1);
        let r = g.reserve(2, 10, 10, now + T, T);
        assert_eq!(
            r.redelivered,
            vec![1, 3],
            "after the window the rest is redelivered"
        );
    }

    #[test]
    fn seek_forward_skips() {
        let now = Instant::now();
        let mut g = GroupState::new(0);
        g.reserve(1, 3, 20, now, T);
        g.seek(15);
        assert_eq!(g.committed(), 14);
        assert_eq!(g.ack([1, 2]), Ok(false));
        assert_eq!(g.reserve(1, 10, 20, now, T).fresh, 15..21);
        assert!(g.dirty);
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
