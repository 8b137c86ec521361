//! Serves the durable log to subscribers: consumer groups (durable cursor, events
//! spread over members by credit, redelivery of unacknowledged events) and ephemeral
//! tails.
//!
//! The hub owns the in-memory [`GroupState`] of every group, persists committed offsets
//! (periodically and on shutdown) and wakes sessions when the log grows or work comes
//! back for redelivery. gRPC concerns live in `grpc`; this module knows only the
//! protobuf messages it hands out.

pub mod filter;
pub mod group;
mod traces;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_proto::pb;
use herald_telemetry::traces::TraceContext;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::store::{GroupRecord, Store, StoreError, StoredEvent};
use group::{GroupState, Reservation, SessionId};

/// How long offsets taken back from a member that went away (or that were in flight
/// when the exporter stopped) wait before they are redelivered to another member: the
/// member, if it only lost its connection, reconnects and claims what it still holds,
/// so no second ruler delivers them again.
pub const RECLAIM_WINDOW: Duration = Duration::from_secs(5);

/// Hub settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Ack timeout when the member does not ask for one.
    pub default_ack_timeout: Duration,
    /// Largest batch when the member does not ask for less.
    pub max_batch: usize,
    /// Upper bound on encoded bytes per batch (gRPC messages stay well under 4 MiB).
    pub max_batch_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            default_ack_timeout: Duration::from_secs(60),
            max_batch: 500,
            max_batch_bytes: 3 * 1024 * 1024,
        }
    }
}

/// Why a subscription failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The first message was not a hello, or the hello is malformed.
    #[error("invalid hello: {0}")]
    InvalidHello(String),
    /// A member joined with a filter that differs from its group's.
    #[error(
        "group {group} uses a different filter; all members of a group must send the same filter"
    )]
    FilterMismatch {
        /// The group.
        group: String,
    },
    /// An ack named an offset that was never delivered.
    #[error(transparent)]
    InvalidAck(#[from] group::AckError),
    /// The exporter is not serving (shutting down, or not started).
    #[error("exporter is not serving: {0}")]
    NotServing(String),
    /// The exporter is a standby and holds nothing this subscriber's group has not
    /// acknowledged.
    #[error("exporter is not serving: {0}")]
    Standby(String),
    /// A group operation named a group that does not exist.
    #[error("no consumer group named {0}")]
    NoSuchGroup(String),
    /// A member id that is connected to the group already.
    #[error(
        "member {member} is already connected to group {group}; member ids must be unique within a group"
    )]
    DuplicateMember {
        /// The group.
        group: String,
        /// The member id.
        member: String,
    },
    /// A group with live members cannot be deleted.
    #[error("group {group} has {members} live member(s); stop them before deleting it")]
    GroupInUse {
        /// The group.
        group: String,
        /// How many members are connected.
        members: usize,
    },
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HubError> for tonic::Status {
    fn from(e: HubError) -> Self {
        let msg = e.to_string();
        match e {
            HubError::InvalidHello(_) | HubError::InvalidAck(_) => {
                tonic::Status::invalid_argument(msg)
            }
            HubError::FilterMismatch { .. } => tonic::Status::failed_precondition(msg),
            HubError::NotServing(_) => tonic::Status::unavailable(msg),
            HubError::Standby(_) => {
                let mut status = tonic::Status::unavailable(msg);
                status.metadata_mut().insert(
                    herald_proto::pb::STANDBY_METADATA,
                    tonic::metadata::MetadataValue::from_static("true"),
                );
                status
            }
            HubError::NoSuchGroup(_) => tonic::Status::not_found(msg),
            HubError::GroupInUse { .. } => tonic::Status::failed_precondition(msg),
            HubError::DuplicateMember { .. } => tonic::Status::already_exists(msg),
            HubError::Store(_) => tonic::Status::internal(msg),
        }
    }
}

struct Group {
    name: String,
    state: Mutex<GroupState>,
    filter: Mutex<Option<pb::Filter>>,
    members: Mutex<HashMap<SessionId, String>>,
    /// Bumped whenever redeliveries become available.
    changed: watch::Sender<u64>,
    last_active_ms: AtomicU64,
}

impl Group {
    fn state(&self) -> MutexGuard<'_, GroupState> {
        // the state is only mutated by short, panic-free methods; recover from poison
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poke(&self) {
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }

    fn member_count(&self) -> usize {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Time since the last join, leave or committed ack.
    fn idle_for(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)))
    }
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Whether the hub accepts subscribers, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// Accepting subscribers.
    Yes,
    /// A standby: the log no longer grows, but what it holds that a consumer group has
    /// not acknowledged is still served to that group (after a failover the new
    /// leader cannot always get it back from the API: a re-list shows each Event once,
    /// with its latest count). A group that does not exist here yet is served too when
    /// its start lies within the log: its receiver never consumed this log (its
    /// subscription did not reach this exporter while it led). Tails, groups that
    /// acknowledged everything and new groups that would start past the end are
    /// refused with this reason.
    Drain(String),
    /// Not accepting; existing sessions are closed with this reason.
    No(String),
}

/// [`Serving`] without its reason. A session opened in one mode ends when the hub
/// changes to another: a leader's sessions are gated by its Lease checkpoints, a
/// standby's are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serving,
    Draining,
    Closed,
}

impl Serving {
    fn mode(&self) -> Mode {
        match self {
            Serving::Yes => Mode::Serving,
            Serving::Drain(_) => Mode::Draining,
            Serving::No(_) => Mode::Closed,
        }
    }
}

struct Inner {
    store: Store,
    traces: traces::RecentTraces,
    cfg: HubConfig,
    groups: Mutex<HashMap<String, Arc<Group>>>,
    tail: watch::Sender<u64>,
    serving: watch::Sender<Serving>,
    next_session: AtomicU64,
    /// Serialises flushes: a flush that finds nothing to write must not return before
    /// a concurrent one that took the changes has written them.
    flushing: tokio::sync::Mutex<()>,
}

/// The subscription hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Hub {
    /// Creates the hub over `store`, loading persisted groups. Starts not serving.
    ///
    /// # Errors
    /// The groups cannot be read.
    pub fn new(store: Store, cfg: HubConfig) -> Result<Hub, StoreError> {
        let last = store.bounds().last;
        let first = store.bounds().first;
        let mut groups = HashMap::new();
        for (name, rec) in store.load_groups()? {
            let mut state = GroupState::restore(rec.committed, rec.next, &rec.acked_ranges, last);
            state.skip_below(first);
            groups.insert(
                name.clone(),
                Arc::new(new_group(name, state, rec.filter, rec.last_active_ms)),
            );
        }
        Ok(Hub {
            inner: Arc::new(Inner {
                store,
                traces: traces::RecentTraces::default(),
                cfg,
                groups: Mutex::new(groups),
                tail: watch::Sender::new(last),
                serving: watch::Sender::new(Serving::No("starting".into())),
                next_session: AtomicU64::new(1),
                flushing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Arc<Group>>> {
        self.inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The store this hub serves.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Remembers that offsets `first..=last` were logged by the commit whose span has
    /// `context`; batches starting there carry it to subscribers.
    pub fn traced(&self, first: u64, last: u64, context: TraceContext) {
        self.inner.traces.record(first, last, context);
    }

    /// Announces that the log grew to `last`.
    pub fn appended(&self, last: u64) {
        self.inner.tail.send_if_modified(|t| {
            if last > *t {
                *t = last;
                true
            } else {
                false
            }
        });
    }

    /// Starts or stops accepting subscribers. Stopping closes every session with the
    /// given reason. Starting gives the members that come back [`RECLAIM_WINDOW`] to
    /// claim what they still hold before it is redelivered to others.
    pub fn set_serving(&self, serving: Serving) {
        if serving.mode() != Mode::Closed {
            let until = Instant::now() + RECLAIM_WINDOW;
            for g in self.groups().values() {
                g.state().park_redeliveries(until);
            }
        }
        self.inner.serving.send_replace(serving);
    }

    /// Current serving state.
    pub fn serving(&self) -> Serving {
        self.inner.serving.borrow().clone()
    }

    /// Lowest committed offset over durable groups (None when there are no groups).
    pub fn min_committed(&self) -> Option<u64> {
        self.groups().values().map(|g| g.state().committed()).min()
    }

    /// Moves every durable group to the end of the log (see [`GroupState::fast_forward`]).
    pub fn fast_forward_all(&self) {
        let last = *self.inner.tail.borrow();
        for g in self.groups().values() {
            g.state().fast_forward(last);
        }
    }

    /// Status of every group: (name, committed, members, in flight).
    pub fn group_status(&self) -> Vec<pb::GroupStatus> {
        let last = *self.inner.tail.borrow();
        let now = now_ms();
        let mut out: Vec<pb::GroupStatus> = self
            .groups()
            .values()
            .map(|g| {
                let st = g.state();
                let mut members: Vec<String> = g
                    .members
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                    .cloned()
                    .collect();
                members.sort();
                let idle_seconds = if members.is_empty() {
                    g.idle_for(now).as_secs()
                } else {
                    0
                };
                pb::GroupStatus {
                    name: g.name.clone(),
                    committed_offset: st.committed(),
                    lag: last.saturating_sub(st.committed()),
                    members,
                    in_flight: st.in_flight() as u64,
                    idle_seconds,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Moves group `name` so that the event at `position` is delivered next (see
    /// [`GroupState::seek`]), creating the group there if it does not exist, and
    /// persists the move at once. Returns the group's new status.
    ///
    /// # Errors
    /// Not serving, a malformed name or position, or the log cannot be read or written.
    pub async fn seek_group(
        &self,
        name: &str,
        position: Option<&pb::StartPosition>,
    ) -> Result<pb::GroupStatus, HubError> {
        match self.serving() {
            Serving::Yes => {}
            Serving::No(reason) => return Err(HubError::NotServing(reason)),
            Serving::Drain(reason) => return Err(HubError::Standby(reason)),
        }
        if name.is_empty() {
            return Err(HubError::InvalidHello("a group name is required".into()));
        }
        validate_group_name(name)?;
        let start = self.resolve_start(position).await?;
        let group = {
            let mut groups = self.groups();
            groups
                .entry(name.to_owned())
                .or_insert_with(|| {
                    Arc::new(new_group(
                        name.to_owned(),
                        GroupState::new(start.saturating_sub(1)),
                        None,
                        now_ms(),
                    ))
                })
                .clone()
        };
        group.state().seek(start);
        group.touch();
        // the status as of the move (members start reading again at once)
        let status = self
            .group_status()
            .into_iter()
            .find(|g| g.name == name)
            .unwrap_or_default();
        info!(group = %name, position = start, "consumer group moved");
        self.flush().await?;
        group.poke();
        Ok(status)
    }

    /// Deletes group `name` and its persisted record. Returns its committed offset.
    ///
    /// # Errors
    /// No such group, the group has live members, or the record cannot be removed.
    pub async fn delete_group(&self, name: &str) -> Result<u64, HubError> {
        let committed = {
            let mut groups = self.groups();
            let Some(group) = groups.get(name) else {
                return Err(HubError::NoSuchGroup(name.to_owned()));
            };
            let members = group.member_count();
            if members > 0 {
                return Err(HubError::GroupInUse {
                    group: name.to_owned(),
                    members,
                });
            }
            let committed = group.state().committed();
            groups.remove(name);
            committed
        };
        let owned = name.to_owned();
        self.inner
            .store
            .run(move |s| s.delete_group(&owned))
            .await?;
        info!(group = %name, committed, "consumer group deleted");
        Ok(committed)
    }

    /// Deletes groups that had no member and no acknowledgement for longer than
    /// `idle` (a receiver removed from every ruler's config, a tool that subscribed
    /// once). Returns the names deleted.
    pub async fn expire_idle_groups(&self, idle: Duration) -> Vec<String> {
        let now = now_ms();
        let stale: Vec<String> = self
            .groups()
            .values()
            .filter(|g| g.member_count() == 0 && g.idle_for(now) > idle)
            .map(|g| g.name.clone())
            .collect();
        let mut deleted = Vec::new();
        for name in stale {
            match self.delete_group(&name).await {
                Ok(committed) => {
                    info!(group = %name, committed, idle_secs = idle.as_secs(), "deleted an idle consumer group");
                    deleted.push(name);
                }
                // a member joined in between, or the store failed: try again next time
                Err(e) => debug!(group = %name, error = %e, "idle group not deleted"),
            }
        }
        deleted
    }

    /// Takes back un-acked offsets whose deadline passed, in every group.
    pub fn expire_leases(&self) {
        let now = Instant::now();
        for g in self.groups().values() {
            let n = g.state().expire(now);
            if n > 0 {
                debug!(group = %g.name, events = n, "ack timeout, events will be redelivered");
                g.poke();
            }
        }
    }

    /// Applies retention to group cursors (offsets below `first` no longer exist).
    pub fn skip_pruned(&self, first: u64) {
        for g in self.groups().values() {
            g.state().skip_below(first);
            g.poke();
        }
    }

    /// Persists the group states (committed offsets, out-of-order acks) that changed.
    ///
    /// # Errors
    /// The store could not write.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _flushing = self.inner.flushing.lock().await;
        let dirty: Vec<(String, GroupRecord)> = self
            .groups()
            .values()
            .filter_map(|g| {
                let mut st = g.state();
                if !st.dirty {
                    return None;
                }
                st.dirty = false;
                Some((
                    g.name.clone(),
                    GroupRecord {
                        committed: st.committed(),
                        filter: g
                            .filter
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone(),
                        last_active_ms: g.last_active_ms.load(Ordering::Relaxed),
                        next: st.next(),
                        acked_ranges: st.acked_ranges(),
                    },
                ))
            })
            .collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let result = self
            .inner
            .store
            .run(move |s| s.save_groups(&dirty).map(|()| dirty))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                // mark everything dirty again so the next flush retries
                for g in self.groups().values() {
                    g.state().dirty = true;
                }
                Err(e)
            }
        }
    }

    /// Opens a session for a subscriber.
    ///
    /// # Errors
    /// Not serving, a malformed hello, a filter that differs from the group's, or the
    /// log cannot be read to resolve the start position.
    pub async fn join(&self, hello: pb::Hello) -> Result<Session, HubError> {
        let serving = self.serving();
        match &serving {
            Serving::Yes => {}
            Serving::No(reason) => return Err(HubError::NotServing(reason.clone())),
            Serving::Drain(reason) => {
                if !self.has_backlog(&hello.group, hello.start.as_ref()).await? {
                    return Err(HubError::Standby(reason.clone()));
                }
            }
        }
        validate_group_name(&hello.group)?;
        let filter = filter::normalize(hello.filter.clone().unwrap_or_default());
        let max_batch = match hello.max_batch_size {
            0 => self.inner.cfg.max_batch,
            n => (n as usize).min(10_000),
        };
        let ack_timeout = match hello.ack_timeout_seconds {
            0 => self.inner.cfg.default_ack_timeout,
            n => Duration::from_secs(u64::from(n)),
        };
        let session_id = self.inner.next_session.fetch_add(1, Ordering::Relaxed);
        let member_id = if hello.member_id.is_empty() {
            format!("member-{session_id}")
        } else {
            hello.member_id.clone()
        };
        let start = self.resolve_start(hello.start.as_ref()).await?;
        let kind = if hello.group.is_empty() {
            SessionKind::Tail { next: start }
        } else {
            let group = self.group_for(&hello.group, start, &filter, session_id, &member_id)?;
            SessionKind::Member(group)
        };
        let committed = match &kind {
            SessionKind::Member(g) => g.state().committed(),
            SessionKind::Tail { .. } => 0,
        };
        let start_offset = match &kind {
            SessionKind::Member(_) => committed + 1,
            SessionKind::Tail { next } => *next,
        };
        let held = match &kind {
            SessionKind::Member(g)
                if !hello.held_offsets.is_empty()
                    && hello.held_log_id == self.inner.store.log_id() =>
            {
                g.state().hold(
                    session_id,
                    hello.held_offsets.iter().copied(),
                    Instant::now(),
                    ack_timeout,
                    *self.inner.tail.borrow(),
                )
            }
            _ => 0,
        };
        info!(group = %hello.group, member = %member_id, start_offset, held, "subscriber joined");
        Ok(Session {
            hub: self.clone(),
            id: session_id,
            member_id,
            group_name: hello.group,
            kind,
            filter,
            credits: 0,
            max_batch,
            ack_timeout,
            tail_rx: self.inner.tail.subscribe(),
            serving_rx: self.inner.serving.subscribe(),
            mode: serving.mode(),
            welcome_committed: committed,
            welcome_start: start_offset,
        })
    }

    /// True when consumer group `name` has not consumed everything the log holds:
    /// what a standby still serves. A group that exists has not acknowledged the last
    /// event; a group that does not exist yet would start (at `start`) within the log.
    /// The second matters after a failover: a receiver whose subscription never reached
    /// this exporter while it led has consumed none of what it logged then.
    async fn has_backlog(
        &self,
        name: &str,
        start: Option<&pb::StartPosition>,
    ) -> Result<bool, HubError> {
        if name.is_empty() {
            return Ok(false);
        }
        let last = *self.inner.tail.borrow();
        let committed = self.groups().get(name).map(|g| g.state().committed());
        Ok(match committed {
            Some(committed) => committed < last,
            None => self.resolve_start(start).await? <= last,
        })
    }

    /// The consumer groups that have not acknowledged everything the log holds.
    pub fn groups_behind(&self) -> usize {
        let last = *self.inner.tail.borrow();
        self.groups()
            .values()
            .filter(|g| g.state().committed() < last)
            .count()
    }

    async fn resolve_start(&self, start: Option<&pb::StartPosition>) -> Result<u64, HubError> {
        use pb::start_position::Position;
        let b = self.inner.store.bounds();
        let earliest = if b.first == 0 { b.last + 1 } else { b.first };
        Ok(match start.and_then(|s| s.position.as_ref()) {
            None | Some(Position::Earliest(_)) => earliest,
            Some(Position::Latest(_)) => b.last + 1,
            Some(Position::Offset(o)) => (*o).clamp(earliest, b.last + 1),
            Some(Position::Time(t)) => {
                let Some(t) = herald_proto::convert::from_timestamp(Some(*t)) else {
                    return Err(HubError::InvalidHello("start time out of range".into()));
                };
                self.inner.store.run(move |s| s.offset_at_time(t)).await?
            }
        })
    }

    fn group_for(
        &self,
        name: &str,
        start: u64,
        filter: &pb::Filter,
        session: SessionId,
        member_id: &str,
    ) -> Result<Arc<Group>, HubError> {
        let mut groups = self.groups();
        let group = groups
            .entry(name.to_owned())
            .or_insert_with(|| {
                info!(group = %name, start, "new consumer group");
                let mut st = GroupState::new(start.saturating_sub(1));
                st.dirty = true;
                Arc::new(new_group(
                    name.to_owned(),
                    st,
                    Some(filter.clone()),
                    now_ms(),
                ))
            })
            .clone();
        drop(groups);
        let mut members = group.members.lock().unwrap_or_else(PoisonError::into_inner);
        let mut current = group.filter.lock().unwrap_or_else(PoisonError::into_inner);
        let same = current
            .as_ref()
            .map_or(filter::is_empty(filter), |f| f == filter);
        if !same {
            if members.is_empty() {
                info!(group = %name, "group filter changed while no member was connected");
                *current = Some(filter.clone());
                group.state().dirty = true;
            } else {
                return Err(HubError::FilterMismatch {
                    group: name.to_owned(),
                });
            }
        }
        if members.values().any(|m| m == member_id) {
            return Err(HubError::DuplicateMember {
                group: name.to_owned(),
                member: member_id.to_owned(),
            });
        }
        members.insert(session, member_id.to_owned());
        drop(current);
        drop(members);
        group.touch();
        Ok(group)
    }
}

fn new_group(
    name: String,
    state: GroupState,
    filter: Option<pb::Filter>,
    last_active_ms: u64,
) -> Group {
    Group {
        name,
        state: Mutex::new(state),
        filter: Mutex::new(filter),
        members: Mutex::new(HashMap::new()),
        changed: watch::Sender::new(0),
        last_active_ms: AtomicU64::new(last_active_ms),
    }
}

fn validate_group_name(name: &str) -> Result<(), HubError> {
    if name.len() > 128 {
        return Err(HubError::InvalidHello(
            "group name longer than 128 characters".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(HubError::InvalidHello(format!(
            "group name contains {c:?}; allowed are letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(())
}

enum SessionKind {
    Member(Arc<Group>),
    Tail { next: u64 },
}

/// Events to send, each as the log stores it (`herald.v1.Event` encoded): the gRPC
/// server sends the records without decoding and re-encoding them for every group
/// (see [`herald_proto::encoded`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ServedBatch {
    /// The events' records, in the order to send.
    pub events: Vec<StoredEvent>,
    /// True when the batch holds redeliveries.
    pub redelivery: bool,
    /// W3C Trace Context of the commit that logged the first event.
    pub trace_context: std::collections::BTreeMap<String, String>,
}

impl ServedBatch {
    /// The batch as the generated message (every event decoded).
    ///
    /// # Errors
    /// A record does not decode.
    pub fn decode(&self) -> Result<pb::EventBatch, StoreError> {
        Ok(pb::EventBatch {
            events: self
                .events
                .iter()
                .map(StoredEvent::decode)
                .collect::<Result<_, _>>()?,
            redelivery: self.redelivery,
            trace_context: self.trace_context.clone(),
        })
    }

    /// The batch as sent on the wire.
    pub fn into_encoded(self) -> herald_proto::encoded::EventBatch {
        herald_proto::encoded::EventBatch {
            events: self.events.into_iter().map(|e| e.bytes).collect(),
            redelivery: self.redelivery,
            trace_context: self.trace_context,
        }
    }

    /// The batch as wire messages of at most `max_bytes` of records each (one record
    /// alone may exceed it), in order. A consumer group's batch holds as many events
    /// as the member had credits for, whatever their size, so a member that asked for
    /// thousands would otherwise get one message past the 4 MiB that gRPC clients
    /// accept by default, fail to decode it, and be handed the same batch again after
    /// every reconnect.
    pub fn into_encoded_chunks(self, max_bytes: usize) -> Vec<herald_proto::encoded::EventBatch> {
        let mut chunks = Vec::new();
        let mut events = Vec::new();
        let mut size = 0usize;
        for e in self.events {
            if !events.is_empty() && size + e.bytes.len() > max_bytes {
                chunks.push(std::mem::take(&mut events));
                size = 0;
            }
            size += e.bytes.len();
            events.push(e.bytes);
        }
        if !events.is_empty() || chunks.is_empty() {
            chunks.push(events);
        }
        chunks
            .into_iter()
            .map(|events| herald_proto::encoded::EventBatch {
                events,
                redelivery: self.redelivery,
                trace_context: self.trace_context.clone(),
            })
            .collect()
    }
}

/// What a session produced.
#[derive(Debug)]
pub enum Next {
    /// Events to send.
    Batch(ServedBatch),
    /// The hub stopped serving; send `Closing` with this reason and end the stream.
    Closing(String),
}

/// One subscriber's session. Dropping it hands its un-acked events back to the group.
pub struct Session {
    hub: Hub,
    id: SessionId,
    member_id: String,
    group_name: String,
    kind: SessionKind,
    filter: pb::Filter,
    credits: u64,
    max_batch: usize,
    ack_timeout: Duration,
    tail_rx: watch::Receiver<u64>,
    serving_rx: watch::Receiver<Serving>,
    /// The hub's mode when the session was opened: it ends when that changes.
    mode: Mode,
    welcome_committed: u64,
    welcome_start: u64,
}

impl Session {
    /// The welcome message for this session.
    pub fn welcome(&self) -> pb::Welcome {
        pb::Welcome {
            member_id: self.member_id.clone(),
            group: self.group_name.clone(),
            committed_offset: self.welcome_committed,
            start_offset: self.welcome_start,
            log_id: self.hub.inner.store.log_id().to_owned(),
            ack_timeout_seconds: u32::try_from(self.ack_timeout.as_secs()).unwrap_or(u32::MAX),
        }
    }

    /// Most bytes of records one wire message of this session carries (see
    /// [`ServedBatch::into_encoded_chunks`]).
    pub fn max_message_bytes(&self) -> usize {
        self.hub.inner.cfg.max_batch_bytes
    }

    /// True when the credits this session's member returns wait for the leader's
    /// next Lease checkpoint ([`crate::handoff::CreditGate`]): members of a group, on
    /// a leader. A standby draining its log writes no checkpoints, and an ephemeral
    /// tail has nothing to hand over.
    pub fn credits_gated(&self) -> bool {
        matches!(self.kind, SessionKind::Member(_)) && self.mode == Mode::Serving
    }

    /// Adds credits.
    pub fn grant(&mut self, events: u32) {
        self.credits = self.credits.saturating_add(u64::from(events));
    }

    /// Remaining credits.
    pub fn credits(&self) -> u64 {
        self.credits
    }

    /// Acknowledges offsets (ignored for ephemeral tails).
    ///
    /// # Errors
    /// An offset that was never delivered to the group.
    pub fn ack(&mut self, offsets: &[u64]) -> Result<(), HubError> {
        if let SessionKind::Member(g) = &self.kind {
            let moved = g.state().ack(offsets.iter().copied())?;
            if moved {
                g.touch();
            }
        }
        Ok(())
    }

    /// Commits the group's state durably (every ack applied so far included) and
    /// returns its committed offset; 0 for an ephemeral tail.
    ///
    /// # Errors
    /// The state cannot be written.
    pub async fn sync(&self) -> Result<u64, HubError> {
        match &self.kind {
            SessionKind::Member(g) => {
                let committed = g.state().committed();
                self.hub.flush().await?;
                Ok(committed)
            }
            SessionKind::Tail { .. } => Ok(0),
        }
    }

    /// Renews the leases of offsets this member still works on (see
    /// [`GroupState::hold`]); ignored for ephemeral tails.
    pub fn hold(&mut self, offsets: &[u64]) {
        if let SessionKind::Member(g) = &self.kind {
            let last = *self.tail_rx.borrow();
            g.state().hold(
                self.id,
                offsets.iter().copied(),
                Instant::now(),
                self.ack_timeout,
                last,
            );
        }
    }

    /// Waits until there are credits and events to send (or the hub stops serving) and
    /// returns them. Cancel-safe: nothing is reserved before the final, non-awaiting
    /// step.
    ///
    /// # Errors
    /// The log could not be read.
    pub async fn next(&mut self) -> Result<Next, HubError> {
        let mut group_rx = match &self.kind {
            SessionKind::Member(g) => Some(g.changed.subscribe()),
            SessionKind::Tail { .. } => None,
        };
        loop {
            let serving = self.serving_rx.borrow_and_update().clone();
            if serving.mode() != self.mode {
                return Ok(Next::Closing(match serving {
                    Serving::Yes => "this exporter leads now; subscribe again".into(),
                    Serving::Drain(reason) | Serving::No(reason) => reason,
                }));
            }
            let last = *self.tail_rx.borrow_and_update();
            if self.credits > 0 && self.has_work(last) {
                if let Some(batch) = self.take(last)? {
                    return Ok(Next::Batch(batch));
                }
                continue;
            }
            // parked redeliveries become available by themselves: wake up for them
            let unpark = match &self.kind {
                SessionKind::Member(g) => g.state().parked_until(Instant::now()),
                SessionKind::Tail { .. } => None,
            };
            tokio::select! {
                () = async { match unpark { Some(t) => tokio::time::sleep_until(t.into()).await, None => std::future::pending().await } } => {}
                r = self.tail_rx.changed() => if r.is_err() { return Ok(Next::Closing("exporter stopped".into())) },
                r = self.serving_rx.changed() => if r.is_err() { return Ok(Next::Closing("exporter stopped".into())) },
                r = async { match group_rx.as_mut() { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                    if r.is_err() { return Ok(Next::Closing("group removed".into())) }
                }
            }
        }
    }

    fn has_work(&self, last: u64) -> bool {
        match &self.kind {
            SessionKind::Member(g) => g.state().has_work(last),
            SessionKind::Tail { next } => *next <= last,
        }
    }

    /// Reserves and reads one batch. Returns None when everything reserved was
    /// filtered out or pruned (the caller loops).
    fn take(&mut self, last: u64) -> Result<Option<ServedBatch>, HubError> {
        let credits = usize::try_from(self.credits)
            .unwrap_or(usize::MAX)
            .min(self.max_batch);
        let store = &self.hub.inner.store;
        let max_bytes = self.hub.inner.cfg.max_batch_bytes;
        let (events, redelivery, reserved) = match &mut self.kind {
            SessionKind::Tail { next } => {
                let events = store.read_stored(*next, credits, max_bytes)?;
                let first = store.bounds().first;
                *next = match events.last() {
                    Some(e) => e.offset + 1,
                    // everything up to `last` was pruned under us
                    None => (*next).max(first).max(last + 1),
                };
                (events, false, Vec::new())
            }
            SessionKind::Member(g) => {
                let r: Reservation =
                    g.state()
                        .reserve(self.id, credits, last, Instant::now(), self.ack_timeout);
                let redelivery = !r.redelivered.is_empty();
                let mut events = if redelivery {
                    store.read_offsets_stored(&r.redelivered)?
                } else {
                    read_range(store, r.fresh.clone(), max_bytes)?
                };
                events.sort_by_key(|e| e.offset);
                let mut reserved: Vec<u64> = r.redelivered.clone();
                reserved.extend(r.fresh.clone());
                (std::mem::take(&mut events), redelivery, reserved)
            }
        };
        let mut keep = Vec::with_capacity(events.len());
        let mut drop_offsets = Vec::new();
        let mut present = std::collections::HashSet::with_capacity(events.len());
        // without a filter nothing needs the decoded event
        let unfiltered = filter::is_empty(&self.filter);
        for e in events {
            present.insert(e.offset);
            if unfiltered || filter::matches(&self.filter, &e.decode()?) {
                keep.push(e);
            } else {
                drop_offsets.push(e.offset);
            }
        }
        if let SessionKind::Member(g) = &self.kind {
            // filtered-out and pruned offsets count as acknowledged for the group
            drop_offsets.extend(reserved.iter().filter(|o| !present.contains(o)));
            if !drop_offsets.is_empty() {
                drop_offsets.sort_unstable();
                if let Err(e) = g.state().ack(drop_offsets) {
                    warn!(group = %g.name, error = %e, "internal ack of filtered events refused");
                }
            }
        }
        if keep.is_empty() {
            return Ok(None);
        }
        self.credits -= keep.len() as u64;
        let trace_context = keep
            .first()
            .and_then(|e| self.hub.inner.traces.find(e.offset))
            .map(|c| c.to_headers())
            .unwrap_or_default();
        Ok(Some(ServedBatch {
            events: keep,
            redelivery,
            trace_context,
        }))
    }
}

/// Reads exactly the offsets of `range` (may be fewer when pruned); large ranges are
/// read in byte-bounded chunks.
fn read_range(
    store: &Store,
    range: std::ops::Range<u64>,
    max_bytes: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::new();
    let mut from = range.start;
    while from < range.end {
        let want = usize::try_from(range.end - from).unwrap_or(usize::MAX);
        let chunk = store.read_stored(from, want, max_bytes)?;
        let Some(last) = chunk.last().map(|e| e.offset) else {
            break;
        };
        out.extend(chunk.into_iter().filter(|e| e.offset < range.end));
        from = last + 1;
    }
    Ok(out)
}

impl Drop for Session {
    fn drop(&mut self) {
        if let SessionKind::Member(g) = &self.kind {
            g.members
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.id);
            let back = {
                let mut st = g.state();
                let back = st.release(self.id);
                if back > 0 {
                    st.park_redeliveries(Instant::now() + RECLAIM_WINDOW);
                }
                back
            };
            g.touch();
            if back > 0 {
                info!(group = %g.name, member = %self.member_id, events = back, "member left, its unacknowledged events will be redelivered");
                g.poke();
            } else {
                info!(group = %g.name, member = %self.member_id, "member left");
            }
        }
    }
}

#[cfg(test)]
mod tests;
