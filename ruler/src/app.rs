//! The ruler process: builds the receivers, connects one lane per receiver to its inputs
//! (gRPC exporters, or the in-process exporter in combined mode), routes until
//! shutdown, then drains.
//!
//! Every receiver has its own lane: its own consumer group at each exporter (see
//! [`crate::lane`]), its own subscription and its own routing task, so a receiver
//! that is down or slow stalls only its own lane; the exporter's log is its buffer.
//!
//! Shutdown order keeps acknowledgements flowing: stop routing (also a batch that
//! waits for queue space), let receivers drain within the grace period (their
//! completions become acks) while batches still arriving are set aside unrouted, give
//! the ack forwarders a moment, then close the exporter connections (which flush the
//! last acks) within a bounded time. Anything not delivered by then is not
//! acknowledged and the exporter redelivers it to another ruler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use herald_config::Config;
use herald_proto::pb;
use herald_sinks::{BuildExtras, SinkMetrics, SinkSet};
use herald_telemetry::{Health, KeeMetrics, Probe};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

use crate::decoded::SharedEvents;
use crate::held::Held;
use crate::lane;
use crate::plan::Plan;
use crate::router::{AckOut, Router, RouterMetrics};
use crate::rules::RuleSet;
use crate::start::{GroupsSnapshot, StartPolicy};
use crate::subscription::{self, Connector, Incoming, LinkStatus, Subscriber};
use crate::upstream::{GrpcConnector, UpstreamConfig, UpstreamMetrics};

/// Why the ruler could not start.
#[derive(Debug, thiserror::Error)]
pub enum RulerError {
    /// A receiver could not be built.
    #[error(transparent)]
    Sinks(#[from] herald_sinks::BuildError),
    /// A TLS or token file could not be read.
    #[error("{0}")]
    Files(String),
}

/// Where one lane's batches come from and where its acks go.
pub struct Inputs {
    /// Batches from every upstream.
    pub rx: mpsc::Receiver<Incoming>,
    /// Acknowledgements, by upstream index.
    pub outs: Vec<AckOut>,
    /// Connection state per upstream (for readiness).
    pub connected: Vec<Arc<AtomicBool>>,
    /// Upstream tasks, stopped by `cancel`.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Stops the upstream tasks.
    pub cancel: CancellationToken,
    /// What the lane's receiver still holds (shared by the router and the
    /// subscriptions).
    pub held: Held,
}

/// One receiver's lane: the receiver's index in the plan and its inputs.
pub struct Lane {
    /// Index of the receiver in [`Plan::receivers`].
    pub receiver: usize,
    /// Its subscriptions.
    pub inputs: Inputs,
}

/// Subscribes the lane of every receiver of `plan` to every connector (one
/// subscription per receiver and exporter). `hello` is the template of every hello:
/// its group is replaced by the lane's group under `hello.group`. A lane's group that
/// an exporter does not have yet starts where its siblings are when the receiver is
/// new, at the oldest retained event when it is not ([`StartPolicy::Siblings`]).
pub fn subscribe_lanes(
    plan: &Plan,
    connectors: &[Arc<dyn Connector>],
    hello: &pb::Hello,
    window: u32,
    metrics: &UpstreamMetrics,
) -> Vec<Lane> {
    let base = hello.group.clone();
    // one snapshot of every exporter's groups, read before any lane subscribes
    let snapshot = GroupsSnapshot::new(connectors.to_vec());
    let shared = SharedEvents::counted(
        plan.receivers.len(),
        shared_capacity(window),
        metrics.sharing(),
    );
    plan.receiver_names()
        .iter()
        .enumerate()
        .map(|(receiver, name)| {
            let group = lane::group_name(&base, name);
            let (tx, rx) = mpsc::channel(16);
            let cancel = CancellationToken::new();
            let mut inputs = Inputs {
                rx,
                outs: Vec::new(),
                connected: Vec::new(),
                tasks: Vec::new(),
                cancel: cancel.clone(),
                held: Held::default(),
            };
            for (i, connector) in connectors.iter().enumerate() {
                let (ack_tx, ack_rx) = mpsc::unbounded_channel();
                let status = LinkStatus {
                    connected: Arc::new(AtomicBool::new(false)),
                    lag: metrics.lag(connector.describe(), &group, name),
                };
                inputs.outs.push(ack_tx);
                inputs.connected.push(status.connected.clone());
                let sub = Subscriber {
                    hello: pb::Hello {
                        group: group.clone(),
                        ..hello.clone()
                    },
                    start: StartPolicy::Siblings {
                        base: base.clone(),
                        upstream: i,
                        snapshot: snapshot.clone(),
                    },
                    window,
                    held: inputs.held.clone(),
                    shared: shared.clone(),
                    lane: receiver,
                };
                inputs.tasks.push(tokio::spawn(
                    subscription::run(
                        i,
                        connector.clone(),
                        sub,
                        tx.clone(),
                        ack_rx,
                        status,
                        cancel.clone(),
                    )
                    .instrument(tracing::info_span!("lane", receiver = %name)),
                ));
            }
            Lane { receiver, inputs }
        })
        .collect()
}

/// How many decoded events the lanes keep for each other: lanes that keep up are
/// within about one credit window of each other; one further behind decodes for itself.
fn shared_capacity(window: u32) -> usize {
    usize::try_from(window)
        .unwrap_or(usize::MAX)
        .saturating_mul(2)
        .clamp(512, 65_536)
}

/// The gRPC connectors of `upstreams` (one shared HTTP/2 channel each).
///
/// # Errors
/// An invalid URL, TLS material or token.
pub fn grpc_connectors(
    upstreams: &[UpstreamConfig],
) -> Result<Vec<Arc<dyn Connector>>, RulerError> {
    upstreams
        .iter()
        .map(|u| {
            GrpcConnector::new(u)
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| RulerError::Files(e.to_string()))
        })
        .collect()
}

/// The hello every lane of the ruler starts from (group = the ruler's `group`).
pub fn lane_hello(upstream: &UpstreamConfig) -> pb::Hello {
    pb::Hello {
        group: upstream.group.clone(),
        member_id: upstream.member_id.clone(),
        start: None,
        filter: upstream.filter.clone(),
        max_batch_size: upstream.window.min(500),
        ack_timeout_seconds: upstream.ack_timeout_seconds,
        ..pb::Hello::default()
    }
}

/// The upstream settings for every `ruler.exporters` URL (or `urls` when given).
///
/// # Errors
/// A TLS or token file cannot be read.
pub fn upstream_configs(
    config: &Config,
    urls: &[String],
) -> Result<Vec<UpstreamConfig>, RulerError> {
    let r = &config.ruler;
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| RulerError::Files(format!("cannot read {}: {e}", p.display())))
    };
    let ca = r.tls.ca_file.as_deref().map(read).transpose()?;
    let identity = match (&r.tls.cert_file, &r.tls.key_file) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        _ => None,
    };
    let urls = if urls.is_empty() {
        r.exporters.clone()
    } else {
        urls.to_vec()
    };
    Ok(urls
        .into_iter()
        .map(|url| UpstreamConfig {
            url,
            group: r.group.clone(),
            member_id: r.effective_member_id(),
            window: r.credits,
            ack_timeout_seconds: 0,
            ca: ca.clone(),
            identity: identity.clone(),
            server_name: r.tls.server_name.clone(),
            token: r.auth_token.as_ref().map(|t| t.expose().clone()),
            filter: None,
        })
        .collect())
}

/// A started ruler (receivers running), not yet routing.
pub struct Ruler {
    plan: Plan,
    sinks: Arc<SinkSet>,
    metrics: RouterMetrics,
    sink_probe: Probe,
    input_probe: Probe,
    grace: Duration,
    /// The live rule set (`Rule` objects); None: the plan's rules, fixed.
    rule_feed: Option<watch::Receiver<Arc<RuleSet>>>,
}

impl Ruler {
    /// Builds every receiver and registers the ruler's and the sinks' metrics.
    ///
    /// # Errors
    /// A receiver cannot start (a file sink's path, a TLS file…).
    pub async fn start(
        config: &Config,
        plan: Plan,
        registry: &mut Registry,
        health: &Health,
        kee: KeeMetrics,
    ) -> Result<Ruler, RulerError> {
        Ruler::start_with(config, plan, registry, health, kee, &BuildExtras::default()).await
    }

    /// [`Ruler::start`] with what receivers need from the process (the Pods of
    /// hooks with `enrichPod`).
    ///
    /// # Errors
    /// A receiver cannot start.
    pub async fn start_with(
        config: &Config,
        plan: Plan,
        registry: &mut Registry,
        health: &Health,
        kee: KeeMetrics,
        extras: &BuildExtras,
    ) -> Result<Ruler, RulerError> {
        let sink_metrics = SinkMetrics::new().with_kee(kee);
        sink_metrics.register(registry);
        let sinks = Arc::new(SinkSet::build_with(&plan.receivers, &sink_metrics, extras).await?);
        let metrics = RouterMetrics::register(registry);
        Ok(Ruler {
            plan,
            sinks,
            metrics,
            sink_probe: health.probe("receivers"),
            input_probe: health.probe("exporters"),
            grace: config.ruler.shutdown_grace,
            rule_feed: None,
        })
    }

    /// Watches kube-events `Rule` objects through `client` (in `namespace`, or
    /// all) for the receivers `targets` names, and makes the lanes follow them.
    /// Returns the ruler and the watch task, which ends when `cancel` fires.
    pub async fn watch_rule_objects(
        self,
        client: kube::Client,
        namespace: Option<String>,
        targets: crate::rule_objects::Targets,
        registry: &mut Registry,
        first_sync: Duration,
        cancel: CancellationToken,
    ) -> (Ruler, tokio::task::JoinHandle<()>) {
        use crate::rule_objects::{RuleObjectMetrics, WatcherOptions, kube::RuleApi, spawn};
        let (feed, task) = spawn(
            RuleApi::new(client, namespace),
            targets,
            self.plan(),
            WatcherOptions::default(),
            RuleObjectMetrics::register(registry),
            first_sync,
            cancel,
        )
        .await;
        (self.with_rule_feed(feed), task)
    }

    /// Makes every lane read its kube-events rules from `feed` (replaced live as
    /// `Rule` objects change) instead of the plan's.
    #[must_use]
    pub fn with_rule_feed(mut self, feed: watch::Receiver<Arc<RuleSet>>) -> Ruler {
        self.rule_feed = Some(feed);
        self
    }

    /// The compiled configuration (receivers in lane order).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The receivers (tests read in-memory sinks through it).
    pub fn sinks(&self) -> Arc<SinkSet> {
        self.sinks.clone()
    }

    /// Routes the batches of every lane until `shutdown`, then drains.
    ///
    /// Every step after `shutdown` is bounded: a batch waiting for queue space is
    /// abandoned (its events are not acknowledged, the exporter redelivers them),
    /// receivers get the grace period, and the exporter connections get
    /// [`CONNECTION_CLOSE_TIMEOUT`] to flush their last acks.
    pub async fn run(self, lanes: Vec<Lane>, shutdown: impl std::future::Future<Output = ()>) {
        let stop = CancellationToken::new();
        let mut routers = Vec::new();
        let mut connected = Vec::new();
        let mut tasks = Vec::new();
        let mut cancels = Vec::new();
        for lane in lanes {
            let Inputs {
                rx,
                outs,
                connected: c,
                tasks: t,
                cancel,
                held,
            } = lane.inputs;
            connected.extend(c);
            tasks.extend(t);
            cancels.push(cancel);
            let mut router = Router::new(
                &self.plan,
                self.sinks.clone(),
                outs,
                self.metrics.clone(),
                lane.receiver,
                held,
            );
            if let Some(feed) = &self.rule_feed {
                // workspace scopes are answered from the namespace labels events carry
                router = router.with_rules(feed.clone(), Arc::new(|_: &str| None));
            }
            routers.push(tokio::spawn(route_lane(router, rx, stop.clone())));
        }
        let mut hup = sighup();
        let mut health = tokio::time::interval(Duration::from_secs(1));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = health.tick() => {
                    self.sinks.update_probe(&self.sink_probe);
                    let up = connected.iter().filter(|c| c.load(Ordering::Relaxed)).count();
                    if up > 0 || connected.is_empty() {
                        self.input_probe.ready();
                    } else {
                        self.input_probe.not_ready("not connected to any exporter");
                    }
                }
                () = recv_hup(&mut hup) => {
                    info!("SIGHUP: reopening files");
                    self.sinks.reopen().await;
                }
            }
        }
        stop.cancel();
        let mut inputs = Vec::new();
        for r in routers {
            match r.await {
                Ok(rx) => inputs.push(rx),
                Err(e) => error!(error = %e, "a routing task failed"),
            }
        }
        info!(grace_secs = self.grace.as_secs_f64(), "draining receivers");
        self.input_probe.not_ready("shutting down");
        // Batches that arrive from now on are not routed (and not acknowledged, so
        // they are redelivered). Taking them keeps the connections free to forward
        // the acks of what the receivers complete while draining.
        let discard = tokio::spawn(async move {
            let mut unrouted = 0usize;
            let mut streams = futures::stream::select_all(
                inputs
                    .into_iter()
                    .map(tokio_stream::wrappers::ReceiverStream::new),
            );
            while let Some(b) = futures::StreamExt::next(&mut streams).await {
                unrouted += b.events.len();
            }
            unrouted
        });
        let report = self.sinks.close_and_drain(self.grace).await;
        if !report.is_complete() {
            warn!(report = ?report, "some receivers did not drain in time; the exporter will redeliver their events");
        }
        // completions become acks through the forwarders; let them reach the upstreams
        tokio::time::sleep(ACK_SETTLE).await;
        for c in &cancels {
            c.cancel();
        }
        let deadline = tokio::time::Instant::now() + CONNECTION_CLOSE_TIMEOUT;
        for mut t in tasks {
            match tokio::time::timeout_at(deadline, &mut t).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => error!(error = %e, "an exporter connection task failed"),
                Err(_) => {
                    warn!(
                        timeout_secs = CONNECTION_CLOSE_TIMEOUT.as_secs(),
                        "an exporter connection did not close in time; its unacknowledged events will be redelivered"
                    );
                    t.abort();
                }
            }
        }
        // every sender is gone once the connection tasks ended
        if let Ok(Ok(n)) = tokio::time::timeout(ACK_SETTLE, discard).await
            && n > 0
        {
            info!(
                events = n,
                "events received during shutdown were left for redelivery"
            );
        }
        info!("ruler stopped");
    }
}

/// Routes one lane's batches until `stop`; returns the lane's input for the drain.
async fn route_lane(
    mut router: Router,
    mut rx: mpsc::Receiver<Incoming>,
    stop: CancellationToken,
) -> mpsc::Receiver<Incoming> {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            batch = rx.recv() => match batch {
                Some(b) => {
                    // a `block` receiver with a full queue holds the batch; shutdown
                    // must still get through
                    let span = tracing::info_span!(
                        target: "herald_trace",
                        parent: None,
                        "herald.route",
                        events = b.events.len(),
                        upstream = b.source.upstream
                    );
                    if let Some(trace) = &b.trace {
                        // one trace from the exporter's commit to the receiver
                        trace.adopt(&span);
                    }
                    let stopped = tokio::select! {
                        () = router.route_batch(b).instrument(span) => false,
                        () = stop.cancelled() => true,
                    };
                    if stopped {
                        info!("shutdown while a batch waited for queue space; its undelivered events will be redelivered");
                        break;
                    }
                }
                None => break,
            },
        }
    }
    rx
}

/// How long the ack forwarders get after the receivers drained.
const ACK_SETTLE: Duration = Duration::from_millis(200);

/// How long the exporter connections get to flush their last acks and close.
const CONNECTION_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(unix)]
type Hup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hup = Option<()>;

fn sighup() -> Hup {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

async fn recv_hup(h: &mut Hup) {
    #[cfg(unix)]
    {
        match h {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = h;
        std::future::pending::<()>().await;
    }
}
