//! Events decoded and routed once per ruler, whatever number of lanes reads them.
//!
//! Every receiver lane subscribes on its own (see [`crate::lane`]), so each event
//! arrives once per lane. An event is named by its log id and offset, and what is at
//! an offset of a log never changes, so the lanes can share the work done on it:
//! [`SharedEvents`] decodes it once (protobuf to [`Event`]) and keeps it until every
//! lane has taken it, and a [`Decoded`] event is routed through the route tree once
//! and builds its template value once for all the receivers it goes to.
//!
//! The sharing is bounded: an event waits for the lanes that have not taken it yet
//! only while it is among the last `capacity` events decoded. A lane that is further
//! behind (its receiver was down, and it now reads its backlog) decodes for itself.
//! Nothing depends on a hit: a miss costs a decode, never a wrong or lost event.
//!
//! When the ruler is short of CPU, lanes with less work per event (most events not
//! routed to their receiver) would run ahead of the others and out of reach of the
//! sharing, and the ruler would then spend its CPU decoding every event once per lane.
//! So a lane more than a quarter of `capacity` ahead of another lane that is still
//! within reach and reading (it took a batch in the last [`ACTIVE`]) is asked to
//! [`SharedEvents::pause`] briefly before its next batch. That yields the CPU to the
//! lanes behind; it never waits for a lane that is out of reach or not reading (its
//! receiver is down or its queue is full, so its router waits and its subscription
//! stops taking batches), and a pause is at most [`MAX_PAUSE`] per batch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use herald_proto::Event;
use herald_sinks::SharedValue;
use prometheus_client::metrics::counter::Counter;

use crate::route::{RouteTree, Selection};
use crate::wire::WireEvent;

/// A lane that took a batch this recently is reading: the lanes ahead of it pause.
pub const ACTIVE: Duration = Duration::from_millis(100);

/// Longest pause of a lane before one batch.
pub const MAX_PAUSE: Duration = Duration::from_millis(10);

/// One event as the lanes share it.
#[derive(Debug)]
pub struct Decoded {
    /// The event.
    pub event: Arc<Event>,
    /// Its template value, built when a receiver first renders it.
    pub value: SharedValue,
    /// The receivers the route tree with this id selects, in selection order.
    route: OnceLock<(u64, Box<[usize]>)>,
}

impl Decoded {
    /// Wraps an event.
    pub fn new(event: Event) -> Arc<Decoded> {
        Arc::new(Decoded {
            event: Arc::new(event),
            value: SharedValue::new(),
            route: OnceLock::new(),
        })
    }

    /// Whether `tree` selects receiver `receiver` for this event. The first caller
    /// routes; a caller with the same tree (or a clone of it) reuses the result.
    pub fn selects(&self, tree: &RouteTree, receiver: usize) -> bool {
        let (id, selected) = self
            .route
            .get_or_init(|| (tree.id(), route(tree, &self.event)));
        if *id == tree.id() {
            selected.contains(&receiver)
        } else {
            route(tree, &self.event).contains(&receiver)
        }
    }
}

fn route(tree: &RouteTree, event: &Event) -> Box<[usize]> {
    let mut selection = Selection::new(tree.receivers());
    tree.route(event, &mut selection);
    selection.receivers().into()
}

/// How much decoding the lanes shared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SharingStats {
    /// Events decoded (a miss: no lane had decoded this one, or it was dropped).
    pub decoded: u64,
    /// Events a lane took as another lane had decoded them.
    pub shared: u64,
}

/// Counts what [`SharedEvents`] decoded and what it handed out decoded already.
#[derive(Debug, Default, Clone)]
pub struct SharingCounters {
    /// Events decoded.
    pub decoded: Counter,
    /// Events a lane took decoded by another lane.
    pub shared: Counter,
}

/// The decoded events of one ruler, shared by its lanes.
#[derive(Debug)]
pub struct SharedEvents {
    lanes: usize,
    capacity: usize,
    inner: Mutex<Inner>,
    counters: SharingCounters,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per log id, the events not yet taken by every lane.
    logs: HashMap<Arc<str>, HashMap<u64, Entry>>,
    /// Insertion order, for the capacity bound (stale keys are skipped).
    order: VecDeque<(Arc<str>, u64)>,
    /// Per log id and lane, the last offset the lane took and when.
    positions: HashMap<Arc<str>, Vec<Option<(u64, Instant)>>>,
}

#[derive(Debug)]
struct Entry {
    decoded: Arc<Decoded>,
    /// Lanes that took it.
    takers: usize,
}

impl SharedEvents {
    /// Shares events between `lanes` lanes, keeping at most `capacity` events that
    /// some lane has not taken yet.
    pub fn new(lanes: usize, capacity: usize) -> Arc<SharedEvents> {
        SharedEvents::counted(lanes, capacity, SharingCounters::default())
    }

    /// [`SharedEvents::new`], counting into `counters`.
    pub fn counted(lanes: usize, capacity: usize, counters: SharingCounters) -> Arc<SharedEvents> {
        Arc::new(SharedEvents {
            lanes,
            capacity,
            inner: Mutex::default(),
            counters,
        })
    }

    /// A cache for one lane: every event is decoded where it arrives.
    pub fn unshared() -> Arc<SharedEvents> {
        SharedEvents::new(1, 0)
    }

    /// How many events were decoded and how many were taken shared.
    pub fn stats(&self) -> SharingStats {
        SharingStats {
            decoded: self.counters.decoded.get(),
            shared: self.counters.shared.get(),
        }
    }

    /// Whether lane `lane`, about to take events of `log` from offset `next` on, is so
    /// far ahead of a lane still within reach and reading that it should yield first.
    pub fn ahead(&self, lane: usize, log: &Arc<str>, next: u64) -> bool {
        if self.lanes <= 1 || self.capacity == 0 {
            return false;
        }
        let reach = self.capacity as u64;
        let lead = reach / 4;
        let now = Instant::now();
        let inner = self.lock();
        inner.positions.get(log).is_some_and(|lanes| {
            lanes.iter().enumerate().any(|(i, p)| match p {
                Some((offset, at)) if i != lane && now.duration_since(*at) < ACTIVE => {
                    let gap = next.saturating_sub(*offset);
                    gap > lead && gap <= reach
                }
                _ => false,
            })
        })
    }

    /// Yields while lane `lane` is [`SharedEvents::ahead`], for at most [`MAX_PAUSE`].
    pub async fn pause(&self, lane: usize, log: &Arc<str>, next: u64) {
        let until = Instant::now() + MAX_PAUSE;
        while Instant::now() < until && self.ahead(lane, log, next) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The events of a batch from log `log` for lane `lane`, each decoded once for
    /// all lanes.
    ///
    /// # Errors
    /// An event's bytes are not a `herald.v1.Event`.
    pub fn resolve(
        &self,
        lane: usize,
        log: &Arc<str>,
        events: Vec<WireEvent>,
    ) -> Result<Vec<Arc<Decoded>>, prost::DecodeError> {
        if self.lanes <= 1 || self.capacity == 0 {
            self.counters.decoded.inc_by(events.len() as u64);
            return events
                .into_iter()
                .map(|e| Ok(Decoded::new(e.decode()?.into())))
                .collect();
        }
        let mut out: Vec<Option<Arc<Decoded>>> = Vec::with_capacity(events.len());
        let mut missing = Vec::new();
        {
            let mut inner = self.lock();
            if let Some(last) = events.iter().map(WireEvent::offset).max() {
                let positions = inner
                    .positions
                    .entry(log.clone())
                    .or_insert_with(|| vec![None; self.lanes]);
                if let Some(p) = positions.get_mut(lane) {
                    *p = Some((last, Instant::now()));
                }
            }
            let mut known = inner.logs.get_mut(log);
            for (i, ev) in events.into_iter().enumerate() {
                let offset = ev.offset();
                match known
                    .as_deref_mut()
                    .and_then(|m| take(m, offset, self.lanes))
                {
                    Some(d) => out.push(Some(d)),
                    None => {
                        out.push(None);
                        missing.push((i, ev));
                    }
                }
            }
        }
        let hits = out.len() - missing.len();
        self.counters.shared.inc_by(hits as u64);
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        // decode outside the lock: the other lanes go on meanwhile
        let mut fresh = Vec::with_capacity(missing.len());
        for (i, ev) in missing {
            let offset = ev.offset();
            fresh.push((i, offset, Decoded::new(ev.decode()?.into())));
        }
        let mut inner = self.lock();
        let Inner { logs, order, .. } = &mut *inner;
        let known = logs.entry(log.clone()).or_default();
        for (i, offset, decoded) in fresh {
            // another lane may have decoded the same event meanwhile: use its copy
            let d = match take(known, offset, self.lanes) {
                Some(theirs) => {
                    self.counters.shared.inc();
                    theirs
                }
                None => {
                    self.counters.decoded.inc();
                    known.insert(
                        offset,
                        Entry {
                            decoded: decoded.clone(),
                            takers: 1,
                        },
                    );
                    order.push_back((log.clone(), offset));
                    decoded
                }
            };
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(d);
            }
        }
        while order.len() > self.capacity {
            let Some((l, o)) = order.pop_front() else {
                break;
            };
            if let Some(m) = logs.get_mut(&l) {
                m.remove(&o);
                if m.is_empty() {
                    logs.remove(&l);
                }
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Events kept for lanes that have not taken them yet.
    pub fn waiting(&self) -> usize {
        self.lock().logs.values().map(HashMap::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Takes the event at `offset` for one more lane; forgets it once every lane has it.
fn take(known: &mut HashMap<u64, Entry>, offset: u64, lanes: usize) -> Option<Arc<Decoded>> {
    let entry = known.get_mut(&offset)?;
    entry.takers += 1;
    let decoded = entry.decoded.clone();
    if entry.takers >= lanes {
        known.remove(&offset);
    }
    Some(decoded)
}

#[cfg(test)]
mod tests;
