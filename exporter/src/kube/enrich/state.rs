//! What the enricher knows and what it is waiting for, behind one lock.
//!
//! * `cache`: answers of metadata reads by key (found, not found, failed for a
//!   cacheable reason), and the last metadata of Pods the watch saw deleted;
//! * `pods`: the watch's view of every Pod (see [`PodView`]);
//! * `pending`: lookups waiting for an answer, each shared by every Event about the
//!   same object, in the order they came (`queue`, newest last).
//!
//! When lookups outnumber the budget, the dispatcher sends first, among those Events
//! are still waiting for, the one with the highest score: every Event that asked for
//! it counts once, every Event still waiting twice. So a new Pod's four start Events
//! go before the Killing of an old Pod (which will not have more), and an owner many
//! Events keep asking for (a ReplicaSet, a namespace) gets its turn and is then cached.
//! The oldest goes first among equals. When no Event waits any more: the most asked
//! for, the newest among equals.
//!
//! No I/O happens here: the enricher asks [`State::lookup`], the dispatcher takes work
//! with [`State::next_due`] / [`State::take_due`] and reports with [`State::finish`],
//! and the Pod watch feeds the `list_*` / `change` / `unavailable` methods.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Key, Outcome, SharedLookup, Target};
use crate::kube::api::ObjectMetadata;
use crate::kube::cache::GenCache;
use crate::kube::packed::{Interner, PackedMetadata};
use crate::store::uid_key;

/// Lookups waiting or running at most; beyond that new lookups fail at once.
pub(super) const MAX_PENDING: usize = 4096;
/// A lookup not sent within this long is given up (its Events went on long ago).
pub(super) const STALE: Duration = Duration::from_secs(60);
/// How long a Pod the watch has not seen yet is left to the watch before it is read.
pub(super) const WATCH_GRACE: Duration = Duration::from_secs(1);
/// How long Pod lookups wait for the watch's first list before they are read one by one.
pub(super) const STARTUP_HOLD: Duration = Duration::from_secs(30);
/// Clock skew (and the second precision of Event timestamps) allowed for when an
/// Event's time is compared with the local clock.
pub(super) const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// A cached answer.
#[derive(Debug)]
struct Cached {
    outcome: Outcome,
    expires: Instant,
}

/// A lookup waiting for its answer.
#[derive(Debug)]
struct Pending {
    target: Target,
    /// Answers every waiter; taken by whoever answers first.
    tx: Option<oneshot::Sender<Outcome>>,
    rx: SharedLookup,
    registered: Instant,
    /// No request is sent before this.
    not_before: Instant,
    /// Latest occurrence time of the Events waiting.
    seen: Option<DateTime<Utc>>,
    /// When the last Event waiting for it stops waiting.
    waited_until: Instant,
    /// Events waiting for it (those whose wait ended before the last one came are
    /// not counted).
    waiters: u32,
    /// Events that asked for it.
    asked: u32,
    /// A request is on its way.
    dispatched: bool,
}

/// What a lookup gets at once.
pub(super) enum Answer {
    /// Known already.
    Ready(Outcome),
    /// Wait for this (the dispatcher should be woken when `wake` is true).
    Wait { rx: SharedLookup, wake: bool },
}

/// When the dispatcher has work.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// A request may be sent now.
    Now,
    /// Nothing may be sent before this.
    At(Instant),
    /// Nothing is waiting.
    Idle,
}

/// The Pod watch's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodPhase {
    /// No watch (not configured, or the API refuses it for now): Pods are read one by
    /// one like any other kind.
    Off,
    /// The first list is under way since then.
    Starting { since: Instant },
    /// Every Pod that existed at `complete_since` or later is in the view (or, once
    /// deleted, in the cache), as long as the watch keeps up.
    Synced { complete_since: DateTime<Utc> },
}

/// The metadata of every Pod, as the watch last saw it.
#[derive(Debug)]
struct PodView {
    phase: PodPhase,
    objects: HashMap<u128, PodEntry>,
    /// Bumped by every list; entries older than the last complete list are gone.
    generation: u64,
    /// When the current list started (its snapshot time).
    list_started_at: DateTime<Utc>,
    /// The watch covers this namespace only (`None`: all).
    namespace: Option<String>,
}

#[derive(Debug)]
struct PodEntry {
    meta: PackedMetadata,
    generation: u64,
}

/// Everything behind the enricher's lock.
#[derive(Debug)]
pub(super) struct State {
    cache: GenCache<Key, Cached>,
    pending: HashMap<Key, Pending>,
    /// Keys of `pending` in the order they came, newest last (may hold keys answered
    /// since; those are skipped and dropped).
    queue: VecDeque<Key>,
    /// Shares the metadata of objects that carry identical labels and owners.
    interner: Interner,
    pods: PodView,
    cache_ttl: Duration,
    negative_ttl: Duration,
    /// How long an Event waits for its lookup.
    max_wait: Duration,
}

impl State {
    /// An empty state; `watch_pods` says whether a Pod watch will feed it (in
    /// `namespace` only, when given).
    pub(super) fn new(
        cache_size: usize,
        cache_ttl: Duration,
        negative_ttl: Duration,
        max_wait: Duration,
        watch_pods: bool,
        namespace: Option<String>,
    ) -> Self {
        Self {
            cache: GenCache::new(cache_size.max(2)),
            pending: HashMap::new(),
            queue: VecDeque::new(),
            interner: Interner::default(),
            pods: PodView {
                phase: if watch_pods {
                    PodPhase::Starting {
                        since: Instant::now(),
                    }
                } else {
                    PodPhase::Off
                },
                objects: HashMap::new(),
                generation: 0,
                list_started_at: Utc::now(),
                namespace,
            },
            cache_ttl,
            negative_ttl,
            max_wait,
        }
    }

    /// Whether `target` is a Pod the watch covers, and its UID key.
    fn watched_pod(&self, key: &Key, target: &Target) -> Option<u128> {
        let Key::Uid(uid) = key else { return None };
        let Target::Object {
            api_version,
            kind,
            namespace,
            ..
        } = target
        else {
            return None;
        };
        let in_scope = self
            .pods
            .namespace
            .as_ref()
            .is_none_or(|ns| ns == namespace);
        (self.pods.phase != PodPhase::Off
            && kind == "Pod"
            && (api_version == "v1" || api_version.is_empty())
            && in_scope)
            .then_some(*uid)
    }

    /// Answers from what is known, or registers (or joins) a lookup. `seen` is the
    /// Event's latest occurrence time. Returns whether the answer came from memory
    /// (`Some(true)`), needs the API (`Some(false)`), or the table is full (`None`).
    pub(super) fn lookup(
        &mut self,
        key: Key,
        target: Target,
        seen: Option<DateTime<Utc>>,
    ) -> (Answer, Option<bool>) {
        let now = Instant::now();
        let pod = self.watched_pod(&key, &target);
        if let Some(uid) = pod
            && let Some(entry) = self.pods.objects.get(&uid)
        {
            return (
                Answer::Ready(Outcome::Found(entry.meta.clone())),
                Some(true),
            );
        }
        match self.cache.get(&key) {
            Some(cached) if cached.expires > now => {
                return (Answer::Ready(cached.outcome.clone()), Some(true));
            }
            Some(_) => self.cache.remove(&key),
            None => {}
        }
        if let Some(p) = self.pending.get_mut(&key) {
            p.seen = p.seen.max(seen);
            // Events whose wait is over no longer count.
            p.waiters = if p.waited_until > now {
                p.waiters.saturating_add(1)
            } else {
                1
            };
            p.waited_until = p.waited_until.max(now + self.max_wait);
            p.asked = p.asked.saturating_add(1);
            return (
                Answer::Wait {
                    rx: p.rx.clone(),
                    wake: false,
                },
                Some(false),
            );
        }
        let mut not_before = now;
        if pod.is_some() {
            match self.pods.phase {
                PodPhase::Synced { complete_since } => {
                    if gone_before(seen, complete_since) {
                        // The Pod existed when its Event happened, which was before the
                        // view was complete: had it still existed then, it would be in
                        // the view (or the cache, deleted). It is gone.
                        self.store(key, Outcome::NotFound, Some(self.negative_ttl));
                        return (Answer::Ready(Outcome::NotFound), Some(true));
                    }
                    not_before = now + WATCH_GRACE;
                }
                PodPhase::Starting { since } => not_before = (since + STARTUP_HOLD).max(now),
                PodPhase::Off => {}
            }
        }
        if self.pending.len() >= MAX_PENDING {
            return (Answer::Ready(Outcome::Failed), None);
        }
        let (tx, rx) = oneshot::channel();
        let rx: SharedLookup = async move { rx.await.unwrap_or(Outcome::Failed) }
            .boxed()
            .shared();
        self.pending.insert(
            key.clone(),
            Pending {
                target,
                tx: Some(tx),
                rx: rx.clone(),
                registered: now,
                not_before,
                seen,
                waited_until: now + self.max_wait,
                waiters: 1,
                asked: 1,
                dispatched: false,
            },
        );
        self.queue.push_back(key);
        self.compact_queue();
        (Answer::Wait { rx, wake: true }, Some(false))
    }

    /// When the dispatcher may send the next request. Gives up lookups that waited
    /// longer than [`STALE`].
    pub(super) fn next_due(&mut self, now: Instant) -> Due {
        self.drop_stale(now);
        let mut earliest: Option<Instant> = None;
        for p in self.pending.values().filter(|p| !p.dispatched) {
            if p.not_before <= now {
                return Due::Now;
            }
            earliest = Some(earliest.map_or(p.not_before, |e| e.min(p.not_before)));
        }
        earliest.map_or(Due::Idle, Due::At)
    }

    /// Takes the lookup to send now, marking it as sent (see the module docs for the
    /// order).
    pub(super) fn take_due(&mut self, now: Instant) -> Option<(Key, Target)> {
        self.drop_stale(now);
        while let Some(key) = self.queue.back() {
            if self.pending.get(key).is_some_and(|p| !p.dispatched) {
                break;
            }
            self.queue.pop_back();
        }
        let due = |k: &&Key| {
            self.pending
                .get(*k)
                .filter(|p| !p.dispatched && p.not_before <= now)
        };
        let score = |p: &Pending| p.asked.saturating_add(p.waiters);
        let waited_for = self
            .queue
            .iter()
            .filter_map(|k| {
                due(&k)
                    .filter(|p| p.waited_until > now)
                    .map(|p| (k, (score(p), std::cmp::Reverse(p.waited_until))))
            })
            .max_by_key(|(_, rank)| *rank)
            .map(|(k, _)| k);
        // `max_by_key` keeps the last of equals: iterating oldest first, the newest.
        let key = waited_for.or_else(|| {
            self.queue
                .iter()
                .filter_map(|k| due(&k).map(|p| (k, p.asked)))
                .max_by_key(|(_, asked)| *asked)
                .map(|(k, _)| k)
        })?;
        let key = key.clone();
        let p = self.pending.get_mut(&key)?;
        p.dispatched = true;
        Some((key, p.target.clone()))
    }

    /// Records the answer of a request: caches it for `ttl` (when given) and answers
    /// the waiters.
    pub(super) fn finish(&mut self, key: Key, outcome: Outcome, ttl: Option<Duration>) {
        let outcome = self.store(key.clone(), outcome, ttl);
        self.answer(&key, outcome);
    }

    /// Lookups waiting or running.
    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Pods in the watch's view.
    pub(super) fn watched_pods(&self) -> usize {
        self.pods.objects.len()
    }

    // === the Pod watch ===

    /// A full list of Pods starts.
    pub(super) fn list_started(&mut self) {
        self.pods.generation += 1;
        self.pods.list_started_at = Utc::now();
    }

    /// Pods of one list page.
    pub(super) fn list_page(&mut self, items: Vec<ObjectMetadata>) {
        for meta in items {
            self.upsert_pod(meta);
        }
    }

    /// The list is complete: Pods not in it are gone. Returns whether lookups became
    /// due (the dispatcher should be woken).
    pub(super) fn list_complete(&mut self) -> bool {
        let generation = self.pods.generation;
        let gone: Vec<u128> = self
            .pods
            .objects
            .iter()
            .filter(|(_, e)| e.generation < generation)
            .map(|(uid, _)| *uid)
            .collect();
        for uid in gone {
            if let Some(entry) = self.pods.objects.remove(&uid) {
                let last = entry.meta.unpack();
                self.tombstone(
                    uid,
                    ObjectMetadata {
                        name: String::new(),
                        uid: String::new(),
                        labels: last.labels,
                        annotations: last.annotations,
                        owner_references: last.owner_references,
                        deleting: true,
                    },
                );
            }
        }
        let complete_since = match self.pods.phase {
            PodPhase::Synced { complete_since } => complete_since,
            PodPhase::Starting { .. } | PodPhase::Off => self.pods.list_started_at,
        };
        self.pods.phase = PodPhase::Synced { complete_since };
        // Pod lookups held for the list: the ones it answered are done; the others are
        // gone or about to arrive through the watch.
        let now = Instant::now();
        let held: Vec<(Key, Option<DateTime<Utc>>)> = self
            .pending
            .iter()
            .filter(|(k, p)| !p.dispatched && self.watched_pod(k, &p.target).is_some())
            .map(|(k, p)| (k.clone(), p.seen))
            .collect();
        let mut wake = false;
        for (key, seen) in held {
            if gone_before(seen, complete_since) {
                self.finish(key, Outcome::NotFound, Some(self.negative_ttl));
            } else if let Some(p) = self.pending.get_mut(&key) {
                p.not_before = p.not_before.min(now + WATCH_GRACE);
                wake = true;
            }
        }
        wake
    }

    /// One change seen by the watch.
    pub(super) fn change(&mut self, change: crate::kube::metadata_watch::Change) {
        use crate::kube::metadata_watch::Change;
        match change {
            Change::Upsert(meta) => self.upsert_pod(meta),
            Change::Delete(mut meta) => {
                let uid = uid_key(&meta.uid);
                self.pods.objects.remove(&uid);
                meta.deleting = true;
                self.tombstone(uid, meta);
            }
        }
    }

    /// The watch cannot run for now: Pods are read one by one. Returns whether lookups
    /// became due.
    pub(super) fn unavailable(&mut self) -> bool {
        if self.pods.phase == PodPhase::Off && self.pods.objects.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut wake = false;
        for (key, p) in &mut self.pending {
            if !p.dispatched && matches!(key, Key::Uid(_)) && p.not_before > now {
                p.not_before = now;
                wake = true;
            }
        }
        self.pods.phase = PodPhase::Off;
        self.pods.objects = HashMap::new();
        wake
    }

    fn upsert_pod(&mut self, meta: ObjectMetadata) {
        if meta.uid.is_empty() {
            return;
        }
        let uid = uid_key(&meta.uid);
        let generation = self.pods.generation;
        let packed = PackedMetadata::pack(meta);
        let meta = match self.pods.objects.get_mut(&uid) {
            Some(entry) if entry.meta.same(&packed) => {
                entry.generation = generation;
                entry.meta.clone()
            }
            _ => {
                let meta = self.interner.intern(packed);
                self.pods.objects.insert(
                    uid,
                    PodEntry {
                        meta: meta.clone(),
                        generation,
                    },
                );
                meta
            }
        };
        if self.pending.contains_key(&Key::Uid(uid)) {
            self.answer(&Key::Uid(uid), Outcome::Found(meta));
        }
    }

    /// Remembers a deleted Pod's last metadata (marked deleting) like a cached read.
    fn tombstone(&mut self, uid: u128, meta: ObjectMetadata) {
        let key = Key::Uid(uid);
        let outcome = self.store(
            key.clone(),
            Outcome::Found(PackedMetadata::pack(meta)),
            Some(self.cache_ttl),
        );
        if self.pending.contains_key(&key) {
            self.answer(&key, outcome);
        }
    }

    // === plumbing ===

    /// Caches `outcome` for `ttl` (interning found metadata); returns what was stored.
    fn store(&mut self, key: Key, outcome: Outcome, ttl: Option<Duration>) -> Outcome {
        let outcome = match outcome {
            Outcome::Found(meta) => Outcome::Found(self.interner.intern(meta)),
            other => other,
        };
        if let Some(ttl) = ttl {
            self.cache.insert(
                key,
                Cached {
                    outcome: outcome.clone(),
                    expires: Instant::now() + ttl,
                },
            );
        }
        outcome
    }

    /// Answers the waiters of `key` and forgets the lookup.
    fn answer(&mut self, key: &Key, outcome: Outcome) {
        if let Some(mut p) = self.pending.remove(key)
            && let Some(tx) = p.tx.take()
        {
            // Nobody may be waiting any more; that is fine.
            let _ = tx.send(outcome);
        }
    }

    /// Gives up lookups not sent within [`STALE`] (their Events went on unenriched).
    fn drop_stale(&mut self, now: Instant) {
        while let Some(key) = self.queue.front() {
            match self.pending.get(key) {
                Some(p) if !p.dispatched && now.saturating_duration_since(p.registered) > STALE => {
                    let key = key.clone();
                    self.queue.pop_front();
                    self.answer(&key, Outcome::Failed);
                }
                Some(p) if !p.dispatched => break,
                // answered, or on its way: nothing left to send for this entry
                _ => {
                    self.queue.pop_front();
                }
            }
        }
    }

    /// Drops answered keys from the queue once they outnumber the waiting ones.
    fn compact_queue(&mut self) {
        if self.queue.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.queue
                .retain(|k| pending.get(k).is_some_and(|p| !p.dispatched));
        }
    }
}

/// Whether an Event that happened at `seen` predates `complete_since` by more than the
/// clock slack.
fn gone_before(seen: Option<DateTime<Utc>>, complete_since: DateTime<Utc>) -> bool {
    seen.is_some_and(|t| t < complete_since - CLOCK_SLACK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::metadata_watch::Change;

    fn pod(name: &str) -> (Key, Target) {
        (
            Key::Uid(uid_key(&format!("uid-{name}"))),
            Target::Object {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: name.into(),
            },
        )
    }

    fn rs(name: &str) -> (Key, Target) {
        (
            Key::Uid(uid_key(&format!("uid-{name}"))),
            Target::Object {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                namespace: "shop".into(),
                name: name.into(),
            },
        )
    }

    fn meta(name: &str) -> ObjectMetadata {
        ObjectMetadata {
            uid: format!("uid-{name}"),
            labels: [("app".to_owned(), name.to_owned())].into(),
            ..ObjectMetadata::default()
        }
    }

    fn state(watch_pods: bool) -> State {
        State::new(
            64,
            Duration::from_secs(300),
            Duration::from_secs(30),
            Duration::from_millis(500),
            watch_pods,
            None,
        )
    }

    fn wait(answer: Answer) -> SharedLookup {
        match answer {
            Answer::Wait { rx, .. } => rx,
            Answer::Ready(o) => panic!("answered at once: {o:?}"),
        }
    }

    fn labels(o: Option<Outcome>) -> Option<(String, bool)> {
        match o? {
            Outcome::Found(m) => {
                let u = m.unpack();
                Some((u.labels.get("app").cloned().unwrap_or_default(), u.deleting))
            }
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_go_by_score_then_age_and_stale_ones_are_given_up() {
        let mut s = state(false);
        let ask = |s: &mut State, name: &str| {
            let (k, t) = rs(name);
            s.lookup(k, t, None).0
        };
        let zero = wait(ask(&mut s, "zero"));
        tokio::time::advance(Duration::from_millis(100)).await;
        let a = wait(ask(&mut s, "a"));
        tokio::time::advance(Duration::from_millis(100)).await;
        // Four Events about `y` (a new Pod's start Events) wait for it; joining does
        // not add a lookup.
        let _y = wait(ask(&mut s, "y"));
        for _ in 0..3 {
            assert!(matches!(ask(&mut s, "y"), Answer::Wait { wake: false, .. }));
        }
        assert_eq!(s.pending_len(), 3);
        assert_eq!(s.next_due(Instant::now()), Due::Now);
        let now = Instant::now();
        assert_eq!(s.take_due(now).unwrap().0, rs("y").0, "most waited for");
        assert_eq!(s.take_due(now).unwrap().0, rs("zero").0, "then the oldest");
        // Events that asked before count once, Events still waiting twice: `x` was
        // asked for three times, long ago, and once now (5); `c` by three waiting (6).
        for _ in 0..3 {
            ask(&mut s, "x");
        }
        tokio::time::advance(Duration::from_millis(600)).await;
        for _ in 0..3 {
            ask(&mut s, "c");
        }
        ask(&mut s, "x");
        let now = Instant::now();
        assert_eq!(
            s.take_due(now).unwrap().0,
            rs("c").0,
            "waiting Events weigh more"
        );
        assert_eq!(
            s.take_due(now).unwrap().0,
            rs("x").0,
            "then x (a waits no more)"
        );
        // When no Event waits any more: the most asked for, the newest among equals.
        let _b = wait(ask(&mut s, "b"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(s.take_due(Instant::now()).unwrap().0, rs("b").0, "newest");
        // `a` is never sent: after a minute it is given up and its waiters told.
        assert_eq!(s.pending_len(), 6);
        tokio::time::advance(STALE).await;
        assert_eq!(s.next_due(Instant::now()), Due::Idle);
        assert!(matches!(a.now_or_never(), Some(Outcome::Failed)));
        assert!(
            zero.clone().now_or_never().is_none(),
            "sent, still on its way"
        );
        for name in ["zero", "y", "c", "x", "b"] {
            s.finish(rs(name).0, Outcome::NotFound, Some(Duration::from_secs(30)));
        }
        assert_eq!(s.pending_len(), 0);
        assert!(matches!(zero.now_or_never(), Some(Outcome::NotFound)));
        assert!(matches!(ask(&mut s, "b"), Answer::Ready(Outcome::NotFound)));
    }

    #[tokio::test(start_paused = true)]
    async fn pod_lookups_wait_for_the_first_list_then_for_the_watch() {
        let mut s = state(true);
        let (k, t) = pod("web");
        let rx = wait(s.lookup(k.clone(), t, Some(Utc::now())).0);
        // held for the first list (not sent before the startup hold)
        match s.next_due(Instant::now()) {
            Due::At(at) => assert!(at >= Instant::now() + STARTUP_HOLD - Duration::from_millis(1)),
            other => panic!("{other:?}"),
        }
        s.list_started();
        s.list_page(vec![meta("web"), meta("api")]);
        assert_eq!(labels(rx.now_or_never()), Some(("web".into(), false)));
        // Held until the list completes: an Event from long before the list about a Pod
        // the list does not have (gone), and a recent one (maybe still to come).
        let old = Utc::now() - chrono::Duration::hours(1);
        let ghost = wait(s.lookup(pod("ghost").0, pod("ghost").1, Some(old)).0);
        let soon = wait(s.lookup(pod("soon").0, pod("soon").1, Some(Utc::now())).0);
        assert!(s.list_complete(), "`soon` becomes due");
        assert!(matches!(ghost.now_or_never(), Some(Outcome::NotFound)));
        assert!(soon.now_or_never().is_none());
        // once synced, an old Event about an unknown Pod is answered at once
        assert!(matches!(
            s.lookup(pod("ghost2").0, pod("ghost2").1, Some(old)).0,
            Answer::Ready(Outcome::NotFound)
        ));
        // a recent one waits for the watch for a moment before a read
        let (k2, t2) = pod("late");
        let rx2 = wait(s.lookup(k2.clone(), t2, Some(Utc::now())).0);
        assert!(matches!(s.next_due(Instant::now()), Due::At(_)));
        assert!(s.take_due(Instant::now()).is_none(), "not read at once");
        tokio::time::advance(WATCH_GRACE).await;
        assert_eq!(s.next_due(Instant::now()), Due::Now);
        s.change(Change::Upsert(meta("late")));
        assert_eq!(labels(rx2.now_or_never()), Some(("late".into(), false)));
        // deleted: the last metadata stays, marked deleted
        s.change(Change::Delete(meta("web")));
        assert_eq!(s.watched_pods(), 2);
        assert_eq!(
            labels(s.lookup(k.clone(), pod("web").1, None).0.ready()),
            Some(("web".into(), true))
        );
        // a relist without `api`: it went while nobody watched
        s.list_started();
        s.list_page(vec![meta("late")]);
        s.list_complete();
        assert_eq!(s.watched_pods(), 1);
        assert_eq!(
            labels(s.lookup(pod("api").0, pod("api").1, None).0.ready()),
            Some(("api".into(), true))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_watch_releases_held_pod_lookups() {
        let mut s = state(true);
        let (k, t) = pod("web");
        let _rx = wait(s.lookup(k.clone(), t, None).0);
        assert!(matches!(s.next_due(Instant::now()), Due::At(_)));
        assert!(s.unavailable());
        assert_eq!(s.next_due(Instant::now()), Due::Now);
        assert_eq!(s.take_due(Instant::now()).unwrap().0, k);
        // from now on Pods are read like any other kind
        let (k2, t2) = pod("api");
        let _rx2 = wait(s.lookup(k2.clone(), t2, None).0);
        assert_eq!(s.take_due(Instant::now()).unwrap().0, k2);
    }

    impl Answer {
        fn ready(self) -> Option<Outcome> {
            match self {
                Answer::Ready(o) => Some(o),
                Answer::Wait { rx, .. } => rx.now_or_never(),
            }
        }
    }
}
