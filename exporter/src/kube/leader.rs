//! Lease leader election as client-go does it (acquire, renew, step down on a lost
//! renewal), plus checkpoint carriage and release on shutdown.
//!
//! * A candidate polls the coordination.k8s.io/v1 Lease every `retry_period` and takes
//!   it when it is free (no holder, or released) or expired. Expiry is judged by the
//!   candidate's own clock, as client-go does: the lease counts as expired once its
//!   record has not changed for the holder's `leaseDurationSeconds` since this process
//!   first saw it that way, so clock skew between nodes does not matter.
//! * The leader renews every `retry_period`; when no renew has succeeded for
//!   `renew_deadline` it gives up (before anybody else may take over).
//! * Write conflicts (409) are handled by reading the Lease again on the next attempt.
//! * The leader writes the caller's checkpoint (an opaque string) into the annotation
//!   [`CHECKPOINT_ANNOTATION`] on every renew, and its identity into
//!   [`HOLDER_ANNOTATION`]; a newly elected leader receives both as
//!   [`Leadership::previous_checkpoint`] and [`Leadership::previous_holder`].
//! * [`CheckpointWriter::publish`] asks for a write at once (a renew, at most one per
//!   [`LeaseOptions::min_write_interval`]); every checkpoint carries a caller-chosen generation and
//!   [`CheckpointWriter::written`] reports the generation of the last one the API
//!   server accepted. Every write is conditional on the Lease's resourceVersion, so a
//!   write that succeeded was made while this process still held the lease, and the
//!   candidate that takes over next reads it (or a later one).
//! * The renew writes the Lease it got back from its previous write; only after a
//!   conflict (somebody else wrote) does it read the Lease again.
//! * [`Leadership::release`] clears the holder so a standby takes over at once (KEE
//!   does not, which costs a full lease duration).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::api::KubeApi;
use super::error::ApiError;
use super::lease::{
    LeaseStore, Record, annotation, duration_secs, micro_time_now, record_of, write_record,
};

/// Annotation carrying the leader's checkpoint.
pub const CHECKPOINT_ANNOTATION: &str = "herald.dev/checkpoint";
/// Annotation carrying the identity of the last leader that wrote the Lease.
pub const HOLDER_ANNOTATION: &str = "herald.dev/last-holder";
/// KEE's default `leaderElectionID`.
pub const DEFAULT_LEASE_NAME: &str = "kubernetes-event-exporter";
/// Default and smallest [`LeaseOptions::min_write_interval`]: at most ten writes a
/// second asked for by [`CheckpointWriter::publish`].
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_millis(100);

/// Leader election settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOptions {
    /// Lease name (`leaderElectionID`).
    pub name: String,
    /// Namespace of the Lease (the service account's namespace).
    pub namespace: String,
    /// This candidate's identity, unique per process (see [`default_identity`]).
    pub identity: String,
    /// How long a lease is valid without renewal (client-go default 15 s).
    pub lease_duration: Duration,
    /// The leader gives up when it could not renew for this long (default 10 s).
    pub renew_deadline: Duration,
    /// Interval between acquire and renew attempts (default 2 s).
    pub retry_period: Duration,
    /// Shortest time between two writes asked for by [`CheckpointWriter::publish`]
    /// (the regular renew comes on top, every retry period).
    pub min_write_interval: Duration,
}

impl LeaseOptions {
    /// Options with client-go's timings and [`default_identity`].
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            min_write_interval: MIN_WRITE_INTERVAL,
        }
    }

    fn validate(&self) -> Result<(), LeaderError> {
        if self.identity.is_empty() {
            return Err(LeaderError::EmptyIdentity);
        }
        if self.name.is_empty() || self.namespace.is_empty() {
            return Err(LeaderError::EmptyName);
        }
        if self.retry_period.is_zero() {
            return Err(LeaderError::InvalidTiming(
                "retry period must be positive".into(),
            ));
        }
        // client-go: leaseDuration > renewDeadline > JitterFactor (1.2) × retryPeriod.
        if self.renew_deadline.as_secs_f64() <= self.retry_period.as_secs_f64() * 1.2 {
            return Err(LeaderError::InvalidTiming(
                "renew deadline must exceed 1.2 × retry period".into(),
            ));
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(LeaderError::InvalidTiming(
                "lease duration must exceed renew deadline".into(),
            ));
        }
        Ok(())
    }
}

/// Returns `<POD_NAME or hostname>_<random uuid>`, like KEE's identity.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "herald".to_owned());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// Why leader election cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeaderError {
    /// The timings are inconsistent.
    #[error("invalid leader election timing: {0}")]
    InvalidTiming(String),
    /// The identity is empty.
    #[error("leader election identity must not be empty")]
    EmptyIdentity,
    /// The lease name or namespace is empty.
    #[error("leader election lease name and namespace must not be empty")]
    EmptyName,
}

/// Runs leader election for one candidate.
#[derive(Debug, Clone)]
pub struct LeaderElector {
    store: Arc<dyn LeaseStore>,
    opts: LeaseOptions,
}

/// Leadership held by this process; dropping it stops renewing (without releasing).
#[derive(Debug)]
pub struct Leadership {
    /// Identity of the leader before this one, if any.
    pub previous_holder: Option<String>,
    /// The checkpoint the previous leader last wrote, if any.
    pub previous_checkpoint: Option<String>,
    identity: String,
    writer: CheckpointWriter,
    leading: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A checkpoint value and its generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Versioned {
    value: String,
    generation: u64,
}

/// Sets the checkpoint the leader writes into its Lease; cheap to clone, usable from
/// any task while the [`Leadership`] lives.
#[derive(Debug, Clone)]
pub struct CheckpointWriter {
    checkpoint: Arc<watch::Sender<Versioned>>,
    nudge: Arc<Notify>,
    written: watch::Receiver<u64>,
}

impl CheckpointWriter {
    /// Sets the checkpoint written at the next renew, tagged `generation`.
    pub fn set(&self, value: String, generation: u64) {
        self.checkpoint
            .send_replace(Versioned { value, generation });
    }

    /// Sets the checkpoint and asks for it to be written now (at most one write per
    /// [`LeaseOptions::min_write_interval`]).
    pub fn publish(&self, value: String, generation: u64) {
        self.set(value, generation);
        self.nudge.notify_one();
    }

    /// The generation of the newest checkpoint the API server accepted (0 before the
    /// first write). Ends (the sender is dropped) when leadership ends.
    pub fn written(&self) -> watch::Receiver<u64> {
        self.written.clone()
    }
}

/// A record and when this process first saw it.
#[derive(Debug, Clone)]
struct Observed {
    record: Record,
    at: Instant,
}

/// Result of one acquire-or-renew attempt.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This candidate now holds the lease (it did not before).
    Acquired {
        previous_holder: Option<String>,
        previous_checkpoint: Option<String>,
    },
    /// This candidate held the lease and renewed it.
    Renewed,
    /// Somebody else holds a valid lease.
    HeldByOther(String),
    /// The write raced with another writer; read again next time.
    Conflict,
}

/// Whether the attempt may take the lease from a holder whose lease has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Acquire,
    Renew,
}

impl LeaderElector {
    /// Creates an elector using the Lease API of `api`.
    ///
    /// # Errors
    /// [`LeaderError`] when the options are inconsistent.
    pub fn new(api: KubeApi, opts: LeaseOptions) -> Result<Self, LeaderError> {
        Self::with_store(Arc::new(api), opts)
    }

    pub(crate) fn with_store(
        store: Arc<dyn LeaseStore>,
        opts: LeaseOptions,
    ) -> Result<Self, LeaderError> {
        opts.validate()?;
        Ok(Self { store, opts })
    }

    /// Returns this candidate's identity.
    pub fn identity(&self) -> &str {
        &self.opts.identity
    }

    /// Waits (polling every retry period) until this candidate is leader, then keeps
    /// renewing in the background until the returned [`Leadership`] is released,
    /// dropped, or lost.
    ///
    /// # Errors
    /// None at present: API failures are retried. Cancel by dropping the future.
    pub async fn acquire(&self) -> Result<Leadership, LeaderError> {
        let mut observed: Option<Observed> = None;
        loop {
            let attempt = tokio::time::timeout(
                self.opts.renew_deadline,
                try_acquire_or_renew(
                    self.store.as_ref(),
                    &self.opts,
                    &mut observed,
                    "",
                    Mode::Acquire,
                ),
            )
            .await;
            match attempt {
                Ok(Ok((
                    Attempt::Acquired {
                        previous_holder,
                        previous_checkpoint,
                    },
                    written,
                ))) => {
                    info!(
                        identity = %self.opts.identity,
                        lease = %self.opts.name,
                        previous_holder = previous_holder.as_deref().unwrap_or(""),
                        "became leader"
                    );
                    return Ok(self.start_renewing(
                        Renewing {
                            observed,
                            lease: written,
                        },
                        previous_holder,
                        previous_checkpoint,
                    ));
                }
                Ok(Ok((Attempt::HeldByOther(holder), _))) => {
                    debug!(%holder, "lease held by another candidate");
                }
                Ok(Ok((Attempt::Conflict, _))) => debug!("lease changed while acquiring, retrying"),
                // Only returned when renewing.
                Ok(Ok((Attempt::Renewed, _))) => {}
                Ok(Err(e)) => warn!(error = %e, lease = %self.opts.name, "cannot acquire lease"),
                Err(_) => warn!(lease = %self.opts.name, "lease request timed out"),
            }
            tokio::time::sleep(jittered(self.opts.retry_period)).await;
        }
    }

    fn start_renewing(
        &self,
        state: Renewing,
        previous_holder: Option<String>,
        previous_checkpoint: Option<String>,
    ) -> Leadership {
        let (checkpoint_tx, checkpoint_rx) = watch::channel(Versioned::default());
        let (written_tx, written_rx) = watch::channel(0);
        let nudge = Arc::new(Notify::new());
        let (leading_tx, leading_rx) = watch::channel(true);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(renew_loop(
            self.store.clone(),
            self.opts.clone(),
            state,
            Requests {
                checkpoint: checkpoint_rx,
                nudge: nudge.clone(),
                written: written_tx,
            },
            leading_tx,
            stop_rx,
        ));
        Leadership {
            previous_holder,
            previous_checkpoint,
            identity: self.opts.identity.clone(),
            writer: CheckpointWriter {
                checkpoint: Arc::new(checkpoint_tx),
                nudge,
                written: written_rx,
            },
            leading: leading_rx,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }
}

impl Leadership {
    /// Returns the identity holding the lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Sets the checkpoint written into the Lease on the next renew (and on release),
    /// keeping the current generation.
    pub fn set_checkpoint(&self, value: String) {
        self.writer.checkpoint.send_modify(|v| v.value = value);
    }

    /// A handle that sets and publishes checkpoints (see [`CheckpointWriter`]).
    pub fn writer(&self) -> CheckpointWriter {
        self.writer.clone()
    }

    /// Returns true while leadership is held.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Resolves when leadership is lost (renewal failed for the renew deadline, another
    /// holder took over, or the leadership was released).
    pub async fn lost(&self) {
        let mut leading = self.leading.clone();
        // An error means the renew task has ended, which also ends leadership.
        let _ = leading.wait_for(|leading| !*leading).await;
    }

    /// Gives leadership up: writes the last checkpoint, clears the holder so a standby
    /// takes over at once, and stops renewing.
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            // The task may already have ended (leadership lost); nothing to release then.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the renew task knows about the Lease.
struct Renewing {
    /// The holder record as last seen (for expiry judgements when acquiring again).
    observed: Option<Observed>,
    /// The Lease as the API server returned it from this process's last write: the
    /// next renew replaces it without reading it first.
    lease: Option<Value>,
}

/// What the renew task is asked to write.
struct Requests {
    checkpoint: watch::Receiver<Versioned>,
    nudge: Arc<Notify>,
    written: watch::Sender<u64>,
}

/// Renews until stopped (then releases) or until leadership is lost; writes at once
/// when nudged (at most once per [`LeaseOptions::min_write_interval`]).
async fn renew_loop(
    store: Arc<dyn LeaseStore>,
    opts: LeaseOptions,
    mut state: Renewing,
    requests: Requests,
    leading: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut last_renew = Instant::now();
    let mut last_write = Instant::now();
    'leading: loop {
        tokio::select! {
            _ = tokio::time::sleep(opts.retry_period) => {}
            () = requests.nudge.notified() => {
                let pause = tokio::time::sleep_until(last_write + opts.min_write_interval);
                tokio::select! {
                    () = pause => {}
                    _ = &mut stop => {
                        let value = requests.checkpoint.borrow().value.clone();
                        release(store.as_ref(), &opts, &mut state.observed, &value).await;
                        break 'leading;
                    }
                }
            }
            _ = &mut stop => {
                let value = requests.checkpoint.borrow().value.clone();
                release(store.as_ref(), &opts, &mut state.observed, &value).await;
                break 'leading;
            }
        }
        loop {
            let deadline = last_renew + opts.renew_deadline;
            let current = requests.checkpoint.borrow().clone();
            last_write = Instant::now();
            let attempt = tokio::time::timeout_at(
                deadline,
                renew(store.as_ref(), &opts, &mut state, &current.value),
            )
            .await;
            match attempt {
                Ok(Ok(Attempt::Renewed | Attempt::Acquired { .. })) => {
                    last_renew = Instant::now();
                    requests.written.send_if_modified(|w| {
                        let newer = current.generation > *w;
                        *w = (*w).max(current.generation);
                        newer
                    });
                    continue 'leading;
                }
                Ok(Ok(Attempt::HeldByOther(holder))) => {
                    warn!(%holder, lease = %opts.name, "lease taken over by another holder, leadership lost");
                    break 'leading;
                }
                Ok(Ok(Attempt::Conflict)) => {
                    debug!("lease changed while renewing, reading it again")
                }
                Ok(Err(e)) => warn!(error = %e, lease = %opts.name, "cannot renew lease"),
                Err(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                warn!(lease = %opts.name, deadline = ?opts.renew_deadline, "lease not renewed within the renew deadline, leadership lost");
                break 'leading;
            }
            let pause = opts.retry_period.min(deadline - now);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut stop => {
                    let value = requests.checkpoint.borrow().value.clone();
                    release(store.as_ref(), &opts, &mut state.observed, &value).await;
                    break 'leading;
                }
            }
        }
    }
    leading.send_replace(false);
}

/// One renew: replaces the Lease this process wrote last (no read); after a conflict,
/// or when there is none, a full read-and-write attempt.
async fn renew(
    store: &dyn LeaseStore,
    opts: &LeaseOptions,
    state: &mut Renewing,
    checkpoint: &str,
) -> Result<Attempt, ApiError> {
    if let Some(mut lease) = state.lease.take() {
        let mut record = record_of(&lease);
        if record.holder == opts.identity {
            record.renew_time = micro_time_now();
            record.lease_duration_secs = duration_secs(opts.lease_duration);
            write_record(&mut lease, &record, &opts.identity, checkpoint);
            match store.replace(&opts.namespace, &opts.name, &lease).await {
                Ok(written) => {
                    state.observed = Some(Observed {
                        record,
                        at: Instant::now(),
                    });
                    state.lease = Some(written);
                    return Ok(Attempt::Renewed);
                }
                // somebody else wrote the Lease: read it and decide again
                Err(ApiError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let (attempt, written) =
        try_acquire_or_renew(store, opts, &mut state.observed, checkpoint, Mode::Renew).await?;
    state.lease = written;
    Ok(attempt)
}

/// Clears the holder (best effort, bounded by the renew deadline).
async fn release(
    store: &dyn LeaseStore,
    opts: &LeaseOptions,
    observed: &mut Option<Observed>,
    checkpoint: &str,
) {
    let attempt = async {
        for _ in 0..3 {
            let mut lease = store.get(&opts.namespace, &opts.name).await?;
            let record = record_of(&lease);
            if record.holder != opts.identity {
                return Ok(false);
            }
            let released = Record {
                holder: String::new(),
                lease_duration_secs: 1,
                acquire_time: micro_time_now(),
                renew_time: micro_time_now(),
                transitions: record.transitions,
            };
            write_record(&mut lease, &released, &opts.identity, checkpoint);
            match store.replace(&opts.namespace, &opts.name, &lease).await {
                Ok(_) => {
                    *observed = None;
                    return Ok(true);
                }
                Err(ApiError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    };
    match tokio::time::timeout(opts.renew_deadline, attempt).await {
        Ok(Ok(true)) => info!(lease = %opts.name, "released leadership"),
        Ok(Ok(false)) => debug!(lease = %opts.name, "lease no longer held, nothing to release"),
        Ok(Err(e)) => warn!(error = %e, lease = %opts.name, "cannot release lease"),
        Err(_) => warn!(lease = %opts.name, "releasing the lease timed out"),
    }
}

/// One client-go `tryAcquireOrRenew`; also returns the Lease as written when the
/// attempt wrote it.
async fn try_acquire_or_renew(
    store: &dyn LeaseStore,
    opts: &LeaseOptions,
    observed: &mut Option<Observed>,
    checkpoint: &str,
    mode: Mode,
) -> Result<(Attempt, Option<Value>), ApiError> {
    let now = Instant::now();
    let mut lease = match store.get(&opts.namespace, &opts.name).await {
        Ok(lease) => lease,
        Err(ApiError::NotFound { .. }) if mode == Mode::Acquire => {
            let record = Record {
                holder: opts.identity.clone(),
                lease_duration_secs: duration_secs(opts.lease_duration),
                acquire_time: micro_time_now(),
                renew_time: micro_time_now(),
                transitions: 0,
            };
            let mut lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": opts.name, "namespace": opts.namespace},
            });
            write_record(&mut lease, &record, &opts.identity, checkpoint);
            return match store.create(&opts.namespace, &lease).await {
                Ok(written) => {
                    *observed = Some(Observed { record, at: now });
                    Ok((
                        Attempt::Acquired {
                            previous_holder: None,
                            previous_checkpoint: None,
                        },
                        Some(written),
                    ))
                }
                Err(ApiError::Conflict { .. }) => Ok((Attempt::Conflict, None)),
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let record = record_of(&lease);
    if observed.as_ref().is_none_or(|o| o.record != record) {
        *observed = Some(Observed {
            record: record.clone(),
            at: now,
        });
    }
    let held_by_me = record.holder == opts.identity;
    if !held_by_me {
        if mode == Mode::Renew {
            return Ok((Attempt::HeldByOther(record.holder), None));
        }
        let duration = if record.lease_duration_secs > 0 {
            Duration::from_secs(record.lease_duration_secs.unsigned_abs())
        } else {
            opts.lease_duration
        };
        let seen_at = observed.as_ref().map_or(now, |o| o.at);
        if !record.holder.is_empty() && seen_at + duration > now {
            return Ok((Attempt::HeldByOther(record.holder), None));
        }
    }
    let previous_holder = Some(record.holder.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| annotation(&lease, HOLDER_ANNOTATION))
        .filter(|h| *h != opts.identity);
    let previous_checkpoint = annotation(&lease, CHECKPOINT_ANNOTATION);
    let updated = Record {
        holder: opts.identity.clone(),
        lease_duration_secs: duration_secs(opts.lease_duration),
        acquire_time: if held_by_me {
            record.acquire_time.clone()
        } else {
            micro_time_now()
        },
        renew_time: micro_time_now(),
        transitions: if held_by_me {
            record.transitions
        } else {
            record.transitions + 1
        },
    };
    write_record(&mut lease, &updated, &opts.identity, checkpoint);
    match store.replace(&opts.namespace, &opts.name, &lease).await {
        Ok(written) => {
            *observed = Some(Observed {
                record: updated,
                at: Instant::now(),
            });
            let attempt = if held_by_me && mode == Mode::Renew {
                Attempt::Renewed
            } else {
                // Also when acquiring a lease that still names this identity (leadership
                // was lost by this process and is regained): hand the checkpoint back.
                Attempt::Acquired {
                    previous_holder,
                    previous_checkpoint,
                }
            };
            Ok((attempt, Some(written)))
        }
        Err(ApiError::Conflict { .. }) => Ok((Attempt::Conflict, None)),
        Err(e) => Err(e),
    }
}

/// Returns `period` stretched by up to 20 % (client-go's JitterFactor 1.2).
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random_range(0.0..0.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use futures::future::BoxFuture;
    use serde_json::Value;
    use std::sync::Mutex;

    /// In-memory Lease store with resourceVersion checks and injectable failures.
    #[derive(Debug, Default)]
    struct FakeStore {
        state: Mutex<FakeState>,
    }

    #[derive(Debug, Default)]
    struct FakeState {
        lease: Option<Value>,
        rv: u64,
        gets: u32,
        replaces: u32,
        conflicts: u32,
        /// Replaces that answer 409 before checking anything.
        conflict_next_replace: u32,
        fail_all: bool,
    }

    impl FakeStore {
        fn take_injected(&self) -> Result<(), ApiError> {
            let s = self.state.lock().unwrap();
            if s.fail_all {
                return Err(ApiError::Server {
                    code: 500,
                    message: "down".into(),
                });
            }
            Ok(())
        }

        fn lease(&self) -> Value {
            self.state.lock().unwrap().lease.clone().unwrap()
        }

        fn stamp(s: &mut FakeState, mut lease: Value) -> Value {
            s.rv += 1;
            lease["metadata"]["resourceVersion"] = Value::from(s.rv.to_string());
            s.lease = Some(lease.clone());
            lease
        }
    }

    impl LeaseStore for FakeStore {
        fn get<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Value, ApiError>> {
            async move {
                self.take_injected()?;
                let mut s = self.state.lock().unwrap();
                s.gets += 1;
                s.lease.clone().ok_or(ApiError::NotFound {
                    message: "leases \"x\" not found".into(),
                })
            }
            .boxed()
        }

        fn create<'a>(
            &'a self,
            _: &'a str,
            lease: &'a Value,
        ) -> BoxFuture<'a, Result<Value, ApiError>> {
            async move {
                self.take_injected()?;
                let mut s = self.state.lock().unwrap();
                if s.lease.is_some() {
                    s.conflicts += 1;
                    return Err(ApiError::Conflict {
                        message: "already exists".into(),
                    });
                }
                Ok(Self::stamp(&mut s, lease.clone()))
            }
            .boxed()
        }

        fn replace<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            lease: &'a Value,
        ) -> BoxFuture<'a, Result<Value, ApiError>> {
            async move {
                self.take_injected()?;
                let mut s = self.state.lock().unwrap();
                s.replaces += 1;
                if s.conflict_next_replace > 0 {
                    s.conflict_next_replace -= 1;
                    s.conflicts += 1;
                    return Err(ApiError::Conflict {
                        message: "the object has been modified".into(),
                    });
                }
                let current = s
                    .lease
                    .as_ref()
                    .and_then(|l| l["metadata"]["resourceVersion"].as_str());
                if current != lease["metadata"]["resourceVersion"].as_str() {
                    s.conflicts += 1;
                    return Err(ApiError::Conflict {
                        message: "the object has been modified".into(),
                    });
                }
                Ok(Self::stamp(&mut s, lease.clone()))
            }
            .boxed()
        }
    }

    fn opts(identity: &str) -> LeaseOptions {
        LeaseOptions {
            name: "herald".into(),
            namespace: "default".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            min_write_interval: MIN_WRITE_INTERVAL,
        }
    }

    fn elector(store: &Arc<FakeStore>, identity: &str) -> LeaderElector {
        LeaderElector::with_store(store.clone(), opts(identity)).unwrap()
    }

    #[test]
    fn options_are_validated() {
        assert!(LeaseOptions::new("a", "b").validate().is_ok());
        let mut o = opts("me");
        o.renew_deadline = Duration::from_secs(20);
        assert!(matches!(o.validate(), Err(LeaderError::InvalidTiming(_))));
        let mut o = opts("me");
        o.retry_period = Duration::from_secs(9);
        assert!(matches!(o.validate(), Err(LeaderError::InvalidTiming(_))));
        assert_eq!(opts("").validate(), Err(LeaderError::EmptyIdentity));
        let id = default_identity();
        let (_, uuid) = id.rsplit_once('_').unwrap();
        assert_eq!(uuid.len(), 36);
    }

    #[tokio::test(start_paused = true)]
    async fn first_candidate_creates_the_lease() {
        let store = Arc::new(FakeStore::default());
        let leadership = elector(&store, "a").acquire().await.unwrap();
        assert_eq!(leadership.previous_holder, None);
        assert_eq!(leadership.previous_checkpoint, None);
        let lease = store.lease();
        assert_eq!(lease["spec"]["holderIdentity"], "a");
        assert_eq!(lease["spec"]["leaseDurationSeconds"], 15);
        assert_eq!(lease["spec"]["leaseTransitions"], 0);
        assert!(leadership.is_leader());
    }

    #[tokio::test(start_paused = true)]
    async fn leader_renews_and_writes_the_checkpoint() {
        let store = Arc::new(FakeStore::default());
        let leadership = elector(&store, "a").acquire().await.unwrap();
        let first_renew = store.lease()["spec"]["renewTime"].clone();
        leadership.set_checkpoint("rv=42".into());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let lease = store.lease();
        assert_eq!(
            lease["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "rv=42"
        );
        assert_eq!(lease["metadata"]["annotations"][HOLDER_ANNOTATION], "a");
        assert_ne!(lease["spec"]["renewTime"], first_renew);
        assert!(leadership.is_leader());
    }

    #[tokio::test(start_paused = true)]
    async fn standby_takes_over_after_lease_duration_when_renewals_stop() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        a.set_checkpoint("cp-1".into());
        tokio::time::sleep(Duration::from_secs(3)).await;
        let b_elector = elector(&store, "b");
        let b = tokio::spawn(async move { b_elector.acquire().await.unwrap() });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!b.is_finished(), "b must wait while a renews");
        let stopped = Instant::now();
        drop(a); // stops renewing without releasing
        let b = b.await.unwrap();
        let waited = stopped.elapsed();
        assert!(
            waited >= Duration::from_secs(13) && waited <= Duration::from_secs(20),
            "took over after {waited:?}"
        );
        assert_eq!(b.previous_holder.as_deref(), Some("a"));
        assert_eq!(b.previous_checkpoint.as_deref(), Some("cp-1"));
        assert_eq!(store.lease()["spec"]["leaseTransitions"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn release_lets_the_standby_take_over_at_once() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        a.set_checkpoint("cp-9".into());
        let b_elector = elector(&store, "b");
        let b = tokio::spawn(async move { b_elector.acquire().await.unwrap() });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let released = Instant::now();
        a.release().await;
        let lease = store.lease();
        assert_eq!(lease["spec"]["holderIdentity"], "");
        assert_eq!(
            lease["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "cp-9"
        );
        let b = b.await.unwrap();
        assert!(
            released.elapsed() <= Duration::from_secs(3),
            "{:?}",
            released.elapsed()
        );
        assert_eq!(b.previous_holder.as_deref(), Some("a"));
        assert_eq!(b.previous_checkpoint.as_deref(), Some("cp-9"));
    }

    #[tokio::test(start_paused = true)]
    async fn conflicts_are_retried_after_reading_again() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        let renewed_before = store.lease()["spec"]["renewTime"].clone();
        let gets_before = store.state.lock().unwrap().gets;
        store.state.lock().unwrap().conflict_next_replace = 2;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // The renew's write hit a 409, and so did the write after reading the Lease
        // again; the leader renews at the next try.
        assert_eq!(store.state.lock().unwrap().conflicts, 2);
        assert_eq!(store.state.lock().unwrap().gets, gets_before + 1);
        assert_eq!(store.lease()["spec"]["renewTime"], renewed_before);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_ne!(store.lease()["spec"]["renewTime"], renewed_before);
        assert!(a.is_leader());

        // A standby whose takeover write conflicts also just tries again.
        drop(a);
        store.state.lock().unwrap().conflict_next_replace = 1;
        let b = elector(&store, "b").acquire().await.unwrap();
        assert_eq!(store.state.lock().unwrap().conflicts, 3);
        assert_eq!(b.previous_holder.as_deref(), Some("a"));
        assert_eq!(store.lease()["spec"]["holderIdentity"], "b");
    }

    #[tokio::test(start_paused = true)]
    async fn leadership_is_lost_when_renewals_fail_for_the_deadline() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        store.state.lock().unwrap().fail_all = true;
        let failing_since = Instant::now();
        a.lost().await;
        let after = failing_since.elapsed();
        assert!(after <= Duration::from_secs(13), "lost after {after:?}");
        assert!(after >= Duration::from_secs(9), "lost too early: {after:?}");
        assert!(!a.is_leader());
    }

    #[tokio::test(start_paused = true)]
    async fn regaining_a_lease_that_still_names_us_returns_our_checkpoint() {
        let store = Arc::new(FakeStore::default());
        let elector = elector(&store, "a");
        let first = elector.acquire().await.unwrap();
        first.set_checkpoint("cp-mine".into());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        store.state.lock().unwrap().fail_all = true;
        first.lost().await;
        store.state.lock().unwrap().fail_all = false;
        let again = elector.acquire().await.unwrap();
        assert_eq!(
            again.previous_holder, None,
            "the previous holder was this process"
        );
        assert_eq!(again.previous_checkpoint.as_deref(), Some("cp-mine"));
        assert_eq!(store.lease()["spec"]["leaseTransitions"], 0);
    }

    #[tokio::test(start_paused = true)]
    async fn leadership_is_lost_when_another_holder_appears() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        {
            let mut s = store.state.lock().unwrap();
            let mut lease = s.lease.clone().unwrap();
            lease["spec"]["holderIdentity"] = Value::from("intruder");
            FakeStore::stamp(&mut s, lease);
        }
        tokio::time::timeout(Duration::from_secs(3), a.lost())
            .await
            .expect("lost within one retry period");
    }

    #[tokio::test(start_paused = true)]
    async fn racing_creates_have_one_winner() {
        let store = Arc::new(FakeStore::default());
        let (a, b) = (elector(&store, "a"), elector(&store, "b"));
        let winner = tokio::select! {
            l = a.acquire() => l.unwrap(),
            l = b.acquire() => l.unwrap(),
        };
        let holder = store.lease()["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(holder, winner.identity());
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_write_without_reading_first() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        let (gets, replaces) = {
            let s = store.state.lock().unwrap();
            (s.gets, s.replaces)
        };
        tokio::time::sleep(Duration::from_millis(6500)).await;
        let s = store.state.lock().unwrap();
        assert_eq!(s.gets, gets, "a renew replaces the Lease it wrote last");
        assert_eq!(s.replaces, replaces + 3);
        assert!(a.is_leader());
    }

    #[tokio::test(start_paused = true)]
    async fn a_published_checkpoint_is_written_at_once_and_its_generation_reported() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        let writer = a.writer();
        let mut written = writer.written();
        assert_eq!(*written.borrow(), 0);
        // the first publication right after acquiring waits for the minimal spacing
        let asked = Instant::now();
        writer.publish("cp-1".into(), 7);
        written.changed().await.unwrap();
        assert_eq!(*written.borrow_and_update(), 7);
        assert!(
            asked.elapsed() <= MIN_WRITE_INTERVAL,
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(
            store.lease()["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "cp-1"
        );
        // a second one within the spacing is written when the spacing has passed
        tokio::time::sleep(Duration::from_millis(10)).await;
        let asked = Instant::now();
        writer.publish("cp-2".into(), 9);
        written.changed().await.unwrap();
        assert_eq!(*written.borrow_and_update(), 9);
        let waited = asked.elapsed();
        assert!(
            waited >= Duration::from_millis(80) && waited <= MIN_WRITE_INTERVAL,
            "{waited:?}"
        );
        // a value only set is written by the next regular renew
        writer.set("cp-3".into(), 11);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(*written.borrow(), 9);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(*written.borrow(), 11);
        assert_eq!(
            store.lease()["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "cp-3"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_checkpoint_written_after_a_takeover_is_refused() {
        let store = Arc::new(FakeStore::default());
        let a = elector(&store, "a").acquire().await.unwrap();
        let writer = a.writer();
        let mut written = writer.written();
        writer.publish("a-1".into(), 1);
        written.changed().await.unwrap();
        // another candidate took the lease (as after an expiry the old leader missed)
        {
            let mut s = store.state.lock().unwrap();
            let mut lease = s.lease.clone().unwrap();
            lease["spec"]["holderIdentity"] = Value::from("b");
            FakeStore::stamp(&mut s, lease);
        }
        writer.publish("a-2".into(), 2);
        a.lost().await;
        assert_eq!(*written.borrow(), 1, "the refused write is not reported");
        assert_eq!(
            store.lease()["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
            "a-1"
        );
    }
}
