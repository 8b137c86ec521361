//! One client for the `herald.v1` subscribe protocol, whatever carries it.
//!
//! A [`Connector`] opens subscriptions (over gRPC to a remote exporter, or straight
//! to the hub of an exporter in the same process) and a [`Link`] is one open
//! subscription: batches in, acks and credits out. [`run`] is the loop every consumer
//! of a durable group needs, written once: hello with a credit window, batches handed
//! to the router, acks batched (every 5 ms or 500 offsets) and each one returning a
//! credit, reconnects with exponential backoff and full jitter (0.5 s doubling to
//! 30 s), late acks of an earlier connection to the same log still sent (the exporter
//! accepts them), acks for a different log dropped (its offsets mean nothing there),
//! the group's lag polled every [`LAG_POLL`], and what the receiver still holds
//! claimed back after a reconnect and renewed every third of the ack timeout (see
//! [`crate::held`]), so a receiver that is down for hours keeps its events and no other
//! ruler delivers them a second time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::pb;
use herald_telemetry::traces::TraceContext;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::decoded::{Decoded, SharedEvents};
use crate::held::Held;
use crate::start::StartPolicy;
use crate::wire::ReceivedBatch;

/// How often a connected consumer asks for its group's lag.
pub const LAG_POLL: Duration = Duration::from_secs(10);

/// Most acks held back before they are sent.
const ACK_BATCH: usize = 500;

/// How long acks are held back at most.
const ACK_FLUSH: Duration = Duration::from_millis(5);

/// A subscription failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The settings cannot work (bad URL, TLS material, token); retrying will not help
    /// until the configuration changes.
    #[error("{0}")]
    Config(String),
    /// Connecting or streaming failed; retried.
    #[error("{0}")]
    Transport(String),
    /// The exporter is a standby with nothing for this group; retried quietly (it may
    /// lead later, or come back from a restart with a backlog for the group).
    #[error("{0}")]
    Standby(String),
    /// The exporter refused or ended the subscription; retried.
    #[error("{0}")]
    Status(#[from] tonic::Status),
}

/// Opens subscriptions to one exporter's log.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Where the log is (a URL, or `local`), for logs and metrics.
    fn describe(&self) -> &str;

    /// Sends `hello` and grants `credit` events; returns the welcome and the open link.
    ///
    /// # Errors
    /// The exporter cannot be reached, refuses the hello, or answers without a welcome.
    async fn open(
        &self,
        hello: pb::Hello,
        credit: u32,
    ) -> Result<(pb::Welcome, Box<dyn Link>), LinkError>;

    /// The log's consumer groups (`GetLogStatus`).
    ///
    /// # Errors
    /// The exporter cannot be reached.
    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError>;
}

/// One open subscription.
#[async_trait]
pub trait Link: Send {
    /// Waits for the next batch. `Ok(None)`: the exporter closed the subscription on
    /// purpose (`Closing`, or the end of the stream). Cancel-safe.
    ///
    /// # Errors
    /// The stream failed.
    async fn next(&mut self) -> Result<Option<ReceivedBatch>, LinkError>;

    /// Acknowledges `offsets` and grants one new credit for each.
    ///
    /// # Errors
    /// The stream is gone (the exporter redelivers what was not acknowledged).
    async fn ack(&mut self, offsets: Vec<u64>) -> Result<(), LinkError>;

    /// Renews the ack deadline of `offsets`, which this member still works on.
    ///
    /// # Errors
    /// The stream is gone.
    async fn hold(&mut self, offsets: Vec<u64>) -> Result<(), LinkError>;

    /// Grants `events` more credits without acknowledging anything (ephemeral tails).
    ///
    /// # Errors
    /// The stream is gone.
    async fn grant(&mut self, events: u32) -> Result<(), LinkError>;
}

/// Identifies the log a batch came from, so acks go back to the right place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    /// Index of the exporter in the ruler's list.
    pub upstream: usize,
    /// The exporter's log id.
    pub log_id: Arc<str>,
}

/// A batch received from an exporter.
#[derive(Debug)]
pub struct Incoming {
    /// Where it came from.
    pub source: Source,
    /// The events, decoded (shared with the ruler's other lanes), in the order received.
    pub events: Vec<Arc<Decoded>>,
    /// The trace context of the exporter's commit that logged the first event.
    pub trace: Option<TraceContext>,
}

/// What one subscription loop consumes.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The hello (group, member id, filter, batch size, ack timeout); its `start` is
    /// set from `start` before every connection.
    pub hello: pb::Hello,
    /// Where a new group starts.
    pub start: StartPolicy,
    /// Most unacknowledged events in flight.
    pub window: u32,
    /// What the lane's receiver still holds: claimed in the hello after a reconnect
    /// and kept from expiring with `Hold` messages.
    pub held: Held,
    /// Decodes events once for all the lanes of the ruler.
    pub shared: Arc<SharedEvents>,
    /// This lane's index in `shared`.
    pub lane: usize,
}

/// What a subscription loop reports: connected (readiness) and the group's lag.
#[derive(Clone, Debug, Default)]
pub struct LinkStatus {
    /// True while subscribed.
    pub connected: Arc<AtomicBool>,
    /// The group's lag, refreshed every [`LAG_POLL`] while connected.
    pub lag: Gauge,
}

/// Runs the subscription loop of upstream `index` until `cancel`: batches go to
/// `out`, acks arrive on `acks` as `(log id, offset)`.
pub async fn run(
    index: usize,
    connector: Arc<dyn Connector>,
    sub: Subscriber,
    out: mpsc::Sender<Incoming>,
    mut acks: mpsc::UnboundedReceiver<(Arc<str>, u64)>,
    status: LinkStatus,
    cancel: CancellationToken,
) {
    let mut attempt: u32 = 0;
    let mut current_log: Option<Arc<str>> = None;
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let started = std::time::Instant::now();
        let result = session(
            index,
            &connector,
            &sub,
            &out,
            &mut acks,
            &mut current_log,
            &status,
            &cancel,
        )
        .await;
        status.connected.store(false, Ordering::Relaxed);
        let from = connector.describe();
        match result {
            Ok(Ended::Stop) => return,
            Ok(Ended::Closed) => {
                info!(exporter = %from, group = %sub.hello.group, "exporter closed the subscription, reconnecting");
            }
            Err(LinkError::Standby(e)) => {
                debug!(exporter = %from, group = %sub.hello.group, reason = %e, "exporter is a standby with nothing for this group");
            }
            Err(LinkError::Config(e)) => {
                warn!(exporter = %from, error = %e, "cannot connect to exporter; fix the configuration");
            }
            Err(e) => {
                warn!(exporter = %from, group = %sub.hello.group, error = %e, "exporter connection failed, reconnecting");
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            attempt = 0;
        }
        let cap = Duration::from_millis(500)
            .saturating_mul(1u32 << attempt.min(6))
            .min(Duration::from_secs(30));
        let delay = cap
            .mul_f64(rand::random::<f64>())
            .max(Duration::from_millis(100));
        attempt = attempt.saturating_add(1);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// How a session ended without an error.
enum Ended {
    /// Cancelled, or the router went away: do not reconnect.
    Stop,
    /// The exporter closed the subscription: reconnect.
    Closed,
}

#[allow(clippy::too_many_arguments)]
async fn session(
    index: usize,
    connector: &Arc<dyn Connector>,
    sub: &Subscriber,
    out: &mpsc::Sender<Incoming>,
    acks: &mut mpsc::UnboundedReceiver<(Arc<str>, u64)>,
    current_log: &mut Option<Arc<str>>,
    link_status: &LinkStatus,
    cancel: &CancellationToken,
) -> Result<Ended, LinkError> {
    let mut hello = sub.hello.clone();
    if let Some(log) = current_log.as_deref() {
        hello.held_offsets = sub.held.pending(log);
        hello.held_log_id = log.to_owned();
    }
    hello.start = sub.start.start_for(&hello.group).await;
    let claimed = hello.held_offsets.len();
    let (welcome, mut link) = connector.open(hello, sub.window).await?;
    info!(
        exporter = %connector.describe(),
        claimed,
        group = %welcome.group,
        member = %welcome.member_id,
        committed = welcome.committed_offset,
        log = %welcome.log_id,
        "subscribed"
    );
    let log_id: Arc<str> = Arc::from(welcome.log_id.as_str());
    if current_log.as_deref().is_some_and(|l| l != &*log_id) {
        warn!(exporter = %connector.describe(), "the exporter's log changed; acknowledgements for the old log are dropped");
    }
    *current_log = Some(log_id.clone());
    let _lag_poller = AbortOnDrop(tokio::spawn(poll_lag(
        connector.clone(),
        welcome.group.clone(),
        link_status.lag.clone(),
    )));
    link_status.connected.store(true, Ordering::Relaxed);
    let source = Source {
        upstream: index,
        log_id: log_id.clone(),
    };
    let mut pending: Vec<u64> = Vec::new();
    let mut flush_tick = tokio::time::interval(ACK_FLUSH);
    flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // well within the ack timeout, so what the receiver holds never expires
    let hold_every = Duration::from_secs(u64::from(welcome.ack_timeout_seconds.max(3)) / 3);
    let mut hold_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + hold_every, hold_every);
    hold_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                flush(&mut *link, &mut pending).await;
                return Ok(Ended::Stop);
            }
            batch = link.next() => match batch? {
                Some(b) => {
                    debug!(events = b.events.len(), redelivery = b.redelivery, "batch received");
                    // lanes in step share decoding: one far ahead yields briefly
                    if let Some(first) = b.events.first() {
                        sub.shared.pause(sub.lane, &log_id, first.offset()).await;
                    }
                    let events = sub.shared.resolve(sub.lane, &log_id, b.events).map_err(|e| {
                        LinkError::Status(tonic::Status::internal(format!("an event of the batch does not decode: {e}")))
                    })?;
                    let trace = TraceContext::from_headers(b.trace_context);
                    if out.send(Incoming { source: source.clone(), events, trace }).await.is_err() {
                        flush(&mut *link, &mut pending).await;
                        return Ok(Ended::Stop);
                    }
                }
                None => {
                    flush(&mut *link, &mut pending).await;
                    return Ok(Ended::Closed);
                }
            },
            ack = acks.recv() => match ack {
                Some((log, offset)) => {
                    if *log == *log_id {
                        pending.push(offset);
                        if pending.len() >= ACK_BATCH {
                            flush(&mut *link, &mut pending).await;
                        }
                    }
                }
                None => {
                    // the router is gone (shutdown): send what it completed, then
                    // hold the subscription until told to close, so that nothing
                    // reconnects in between
                    flush(&mut *link, &mut pending).await;
                    cancel.cancelled().await;
                    return Ok(Ended::Stop);
                }
            },
            _ = flush_tick.tick() => {
                if !pending.is_empty() {
                    flush(&mut *link, &mut pending).await;
                }
            }
            _ = hold_tick.tick() => {
                let held = sub.held.pending(&log_id);
                if !held.is_empty() {
                    debug!(events = held.len(), "renewing the ack deadline of held events");
                    link.hold(held).await?;
                }
            }
        }
    }
}

async fn flush(link: &mut dyn Link, pending: &mut Vec<u64>) {
    if pending.is_empty() {
        return;
    }
    let offsets = std::mem::take(pending);
    if let Err(e) = link.ack(offsets).await {
        // the connection is gone; the exporter redelivers what it did not get
        debug!(error = %e, "acknowledgements not sent");
    }
}

/// Keeps `lag` at the group's lag as the exporter reports it, every [`LAG_POLL`].
async fn poll_lag(connector: Arc<dyn Connector>, group: String, lag: Gauge) {
    let mut tick = tokio::time::interval(LAG_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match connector.groups().await {
            Ok(groups) => {
                if let Some(g) = groups.iter().find(|g| g.name == group) {
                    lag.set(i64::try_from(g.lag).unwrap_or(i64::MAX));
                }
            }
            Err(e) => debug!(error = %e, "log status request failed"),
        }
    }
}

/// Aborts a background task when dropped (the lag poller lives as long as a session).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
