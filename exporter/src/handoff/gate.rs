//! The credit gate: a consumer group member gets the credits it returns with its
//! acknowledgements back only once a checkpoint that includes those acknowledgements
//! is in the Lease.
//!
//! Acknowledgements are numbered as they are applied ([`Handoff::acknowledged`]); the
//! publisher notes the number before it reads the groups' state, and once the Lease
//! write of that checkpoint succeeded announces it ([`Handoff::published`]). A
//! [`CreditGate`] holds back every credit that arrives after an acknowledgement with a
//! higher number than the one announced. When a member runs short of credits because
//! of that, the gate asks for a publication at once ([`Handoff::wanted`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{Notify, watch};

/// Shared between the gRPC sessions and the checkpoint publisher; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Handoff {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Off without leader election: there is nobody to hand over to.
    active: AtomicBool,
    acknowledgements: AtomicU64,
    published: watch::Sender<u64>,
    wanted: Notify,
}

impl Handoff {
    /// A gate that is off until [`Handoff::activate`].
    pub fn new() -> Handoff {
        Handoff::default()
    }

    /// Turns the gate on (leader election is enabled).
    pub fn activate(&self) {
        self.inner.active.store(true, Ordering::Relaxed);
    }

    /// True when credits wait for publications.
    pub fn is_active(&self) -> bool {
        self.inner.active.load(Ordering::Relaxed)
    }

    /// Numbers an acknowledgement that has just been applied to its group.
    pub fn acknowledged(&self) -> u64 {
        self.inner.acknowledgements.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The number of the newest acknowledgement applied so far: a checkpoint computed
    /// from the groups' state after this call includes all of them.
    pub fn acknowledgements(&self) -> u64 {
        self.inner.acknowledgements.load(Ordering::Acquire)
    }

    /// Announces that a checkpoint including acknowledgements up to `number` is in the
    /// Lease.
    pub fn published(&self, number: u64) {
        self.inner.published.send_if_modified(|p| {
            let newer = number > *p;
            *p = (*p).max(number);
            newer
        });
    }

    /// Asks the publisher for a publication now.
    pub fn want(&self) {
        self.inner.wanted.notify_one();
    }

    /// Resolves when a publication was asked for.
    pub async fn wanted(&self) {
        self.inner.wanted.notified().await;
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.published.subscribe()
    }
}

/// One session's held-back credits.
#[derive(Debug)]
pub struct CreditGate {
    handoff: Handoff,
    /// None when the gate does not apply (an ephemeral tail, or no leader election).
    published: Option<watch::Receiver<u64>>,
    last_ack: u64,
    /// Credits and the acknowledgement number that must be published to release them.
    held: VecDeque<(u64, u32)>,
    held_total: u64,
}

impl CreditGate {
    /// The gate of one session; `member` is false for an ephemeral tail (whose acks
    /// count for nothing).
    pub fn new(handoff: &Handoff, member: bool) -> CreditGate {
        CreditGate {
            handoff: handoff.clone(),
            published: (member && handoff.is_active()).then(|| handoff.subscribe()),
            last_ack: 0,
            held: VecDeque::new(),
            held_total: 0,
        }
    }

    /// Call after an acknowledgement was applied to the group.
    pub fn acknowledged(&mut self) {
        if self.published.is_some() {
            self.last_ack = self.handoff.acknowledged();
        }
    }

    /// A credit arrived; returns how many credits the session may use now (the rest is
    /// held). `available` is what the session still has: when the held credits
    /// outgrow it, a publication is asked for at once.
    pub fn credit(&mut self, events: u32, available: u64) -> u32 {
        let Some(published) = &self.published else {
            return events;
        };
        if *published.borrow() >= self.last_ack && self.held.is_empty() {
            return events;
        }
        self.held.push_back((self.last_ack, events));
        self.held_total += u64::from(events);
        if self.held_total > available {
            self.handoff.want();
        }
        0
    }

    /// Credits held back.
    pub fn held(&self) -> u64 {
        self.held_total
    }

    /// Waits for a publication that releases held credits and returns them. Never
    /// resolves while nothing is held. Cancel-safe.
    pub async fn released(&mut self) -> u32 {
        loop {
            let Some(published) = self.published.as_mut() else {
                return std::future::pending().await;
            };
            let upto = *published.borrow_and_update();
            let mut free: u32 = 0;
            while let Some(&(needs, n)) = self.held.front() {
                if needs > upto {
                    break;
                }
                self.held.pop_front();
                self.held_total -= u64::from(n);
                free = free.saturating_add(n);
            }
            if free > 0 {
                return free;
            }
            if self.held.is_empty() {
                return std::future::pending().await;
            }
            if published.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn soon(gate: &mut CreditGate) -> Option<u32> {
        tokio::time::timeout(Duration::from_millis(50), gate.released())
            .await
            .ok()
    }

    #[tokio::test]
    async fn credits_after_an_unpublished_ack_wait_for_its_publication() {
        let handoff = Handoff::new();
        handoff.activate();
        let mut gate = CreditGate::new(&handoff, true);
        // credits before any ack pass
        assert_eq!(gate.credit(10, 0), 10);
        gate.acknowledged();
        assert_eq!(gate.credit(3, 7), 0);
        gate.acknowledged();
        assert_eq!(gate.credit(2, 7), 0);
        assert_eq!(gate.held(), 5);
        assert_eq!(soon(&mut gate).await, None, "nothing published yet");
        // the publication of the first ack releases the first credit only
        handoff.published(1);
        assert_eq!(soon(&mut gate).await, Some(3));
        assert_eq!(soon(&mut gate).await, None);
        handoff.published(2);
        assert_eq!(soon(&mut gate).await, Some(2));
        assert_eq!(gate.held(), 0);
        // once everything is published, credits pass again
        assert_eq!(gate.credit(4, 0), 4);
        // and a credit after a newer ack waits again, even behind nothing
        gate.acknowledged();
        assert_eq!(gate.credit(1, 100), 0);
        assert_eq!(soon(&mut gate).await, None);
    }

    #[tokio::test]
    async fn a_member_running_short_asks_for_a_publication() {
        let handoff = Handoff::new();
        handoff.activate();
        let mut gate = CreditGate::new(&handoff, true);
        gate.acknowledged();
        assert_eq!(gate.credit(3, 5), 0);
        let asked = tokio::time::timeout(Duration::from_millis(20), handoff.wanted()).await;
        assert!(asked.is_err(), "3 held, 5 left: no hurry");
        gate.acknowledged();
        assert_eq!(gate.credit(3, 4), 0);
        tokio::time::timeout(Duration::from_millis(20), handoff.wanted())
            .await
            .expect("6 held, 4 left: publish now");
    }

    #[tokio::test]
    async fn tails_and_exporters_without_leader_election_are_not_gated() {
        let off = Handoff::new();
        let mut gate = CreditGate::new(&off, true);
        gate.acknowledged();
        assert_eq!(gate.credit(5, 0), 5);
        assert_eq!(off.acknowledgements(), 0, "acks are not even counted");
        let on = Handoff::new();
        on.activate();
        let mut tail = CreditGate::new(&on, false);
        tail.acknowledged();
        assert_eq!(tail.credit(5, 0), 5);
        assert_eq!(soon(&mut tail).await, None);
    }
}
