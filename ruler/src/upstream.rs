//! The ruler's connection to one exporter: joins the consumer group, keeps a credit
//! window open, turns batches into domain events and sends acknowledgements back.
//!
//! Flow control: the ruler grants `window` credits when it connects and one more
//! credit for every event it acknowledges, so at most `window` events are in flight
//! per exporter. Reconnects use exponential backoff with full jitter (0.5 s doubling
//! to 30 s). Acks of a previous connection to the same log are still sent (the
//! exporter accepts late acks); acks for a different log (the exporter's data was
//! replaced) are discarded.

use std::sync::Arc;
use std::time::Duration;

use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracing::{debug, info, warn};

/// Largest gRPC message the ruler accepts (the exporter bounds batches well below).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How to reach one exporter.
#[derive(Clone, Default)]
pub struct UpstreamConfig {
    /// gRPC URL, `http://host:50051` or `https://host:50051`.
    pub url: String,
    /// Consumer group.
    pub group: String,
    /// Member id (unique per ruler pod).
    pub member_id: String,
    /// Maximum un-acknowledged events in flight.
    pub window: u32,
    /// Seconds the exporter waits for an ack before redelivering.
    pub ack_timeout_seconds: u32,
    /// PEM CA bundle for https URLs (system roots when None).
    pub ca: Option<Vec<u8>>,
    /// PEM client certificate and key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// TLS server name override.
    pub server_name: Option<String>,
    /// Bearer token.
    pub token: Option<String>,
    /// Server-side filter.
    pub filter: Option<pb::Filter>,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("url", &self.url)
            .field("group", &self.group)
            .field("member_id", &self.member_id)
            .field("window", &self.window)
            .field("tls_ca", &self.ca.is_some())
            .field("client_cert", &self.identity.is_some())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How often a connected ruler asks its exporter for the group's lag.
const LAG_POLL: Duration = Duration::from_secs(10);

/// `herald_ruler_consumer_lag{exporter, group}`: events the exporter holds that the
/// ruler's consumer group has not acknowledged yet (from `GetLogStatus`). The chart's
/// optional HPA custom metric scales rulers on it.
#[derive(Clone, Debug, Default)]
pub struct UpstreamMetrics {
    lag: Family<Vec<(String, String)>, Gauge>,
}

impl UpstreamMetrics {
    /// Creates the metric family.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the family.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "herald_ruler_consumer_lag",
            "Events in the exporter's log not yet acknowledged by this ruler's consumer group",
            self.lag.clone(),
        );
    }

    /// The gauge of one exporter and group.
    pub fn lag(&self, exporter: &str, group: &str) -> Gauge {
        self.lag
            .get_or_create(&vec![
                ("exporter".to_owned(), exporter.to_owned()),
                ("group".to_owned(), group.to_owned()),
            ])
            .clone()
    }
}

/// What a connection reports about itself: connected (readiness) and the group's lag.
#[derive(Clone, Debug)]
pub struct LinkStatus {
    /// True while subscribed.
    pub connected: Arc<std::sync::atomic::AtomicBool>,
    /// The group's lag, refreshed every [`LAG_POLL`] while connected.
    pub lag: Gauge,
}

/// Aborts a background task when dropped (the lag poller lives as long as a session).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
    /// The events (domain form), in the order received.
    pub events: Vec<herald_proto::Event>,
}

/// Errors of one connection attempt.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The URL or TLS settings are invalid (permanent).
    #[error("exporter {url}: {message}")]
    Config {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Connecting or streaming failed (retried).
    #[error("exporter {url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// The exporter refused or ended the subscription (retried).
    #[error("exporter {url}: {status}")]
    Status {
        /// The URL.
        url: String,
        /// The gRPC status.
        status: tonic::Status,
    },
}

/// Builds the gRPC channel for an upstream.
///
/// # Errors
/// Invalid URL or TLS material.
pub fn endpoint(cfg: &UpstreamConfig) -> Result<Endpoint, UpstreamError> {
    let bad = |m: String| UpstreamError::Config {
        url: cfg.url.clone(),
        message: m,
    };
    let mut ep = Endpoint::from_shared(cfg.url.clone())
        .map_err(|e| bad(format!("invalid URL: {e}")))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if cfg.url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match &cfg.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = &cfg.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = &cfg.server_name {
            tls = tls.domain_name(name.clone());
        }
        ep = ep.tls_config(tls).map_err(|e| bad(format!("TLS: {e}")))?;
    }
    Ok(ep)
}

/// Runs the connection loop to one exporter until `cancel`: delivers batches to `out`
/// and sends the acks received on `acks` (offsets of events fully handled).
pub async fn run(
    index: usize,
    cfg: UpstreamConfig,
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
            &cfg,
            &out,
            &mut acks,
            &mut current_log,
            &status,
            &cancel,
        )
        .await;
        status
            .connected
            .store(false, std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(()) => {
                info!(exporter = %cfg.url, "exporter closed the subscription, reconnecting");
            }
            Err(UpstreamError::Config { .. }) => {
                if let Err(e) = result {
                    warn!(error = %e, "cannot connect to exporter; fix the configuration");
                }
            }
            Err(e) => warn!(error = %e, "exporter connection failed, reconnecting"),
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

async fn session(
    index: usize,
    cfg: &UpstreamConfig,
    out: &mpsc::Sender<Incoming>,
    acks: &mut mpsc::UnboundedReceiver<(Arc<str>, u64)>,
    current_log: &mut Option<Arc<str>>,
    link: &LinkStatus,
    cancel: &CancellationToken,
) -> Result<(), UpstreamError> {
    use pb::subscribe_request::Request as Msg;
    use pb::subscribe_response::Response as In;
    let url = cfg.url.clone();
    let channel: Channel =
        endpoint(cfg)?
            .connect()
            .await
            .map_err(|source| UpstreamError::Transport {
                url: url.clone(),
                source,
            })?;
    let token: Option<MetadataValue<_>> = match &cfg.token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .map_err(|_| UpstreamError::Config {
                    url: url.clone(),
                    message: "the auth token contains characters not allowed in a header".into(),
                })?,
        ),
        None => None,
    };
    let status_channel = channel.clone();
    let status_token = token.clone();
    let mut client =
        EventLogClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            if let Some(t) = &token {
                req.metadata_mut().insert("authorization", t.clone());
            }
            Ok(req)
        })
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let (req_tx, req_rx) = mpsc::channel::<pb::SubscribeRequest>(64);
    let hello = pb::SubscribeRequest {
        request: Some(Msg::Hello(pb::Hello {
            group: cfg.group.clone(),
            member_id: cfg.member_id.clone(),
            start: None,
            filter: cfg.filter.clone(),
            max_batch_size: cfg.window.min(500),
            ack_timeout_seconds: cfg.ack_timeout_seconds,
        })),
    };
    // the channel is fresh: these sends cannot fail
    let _ = req_tx.try_send(hello);
    let _ = req_tx.try_send(pb::SubscribeRequest {
        request: Some(Msg::Credit(pb::Credit { events: cfg.window })),
    });
    let status = |status| UpstreamError::Status {
        url: url.clone(),
        status,
    };
    let mut inbound = client
        .subscribe(ReceiverStream::new(req_rx))
        .await
        .map_err(status)?
        .into_inner();
    let log_id: Arc<str> = match inbound.message().await.map_err(status)? {
        Some(pb::SubscribeResponse {
            response: Some(In::Welcome(w)),
        }) => {
            info!(exporter = %url, group = %w.group, member = %w.member_id, committed = w.committed_offset, log = %w.log_id, "subscribed");
            Arc::from(w.log_id.as_str())
        }
        other => {
            return Err(status(tonic::Status::internal(format!(
                "expected a welcome, got {other:?}"
            ))));
        }
    };
    if current_log.as_deref().is_some_and(|l| l != &*log_id) {
        warn!(exporter = %url, "the exporter's log changed; acknowledgements for the old log are dropped");
    }
    *current_log = Some(log_id.clone());
    // polled from the welcome on: the group exists by then, so the first value is real
    let _lag_poller = AbortOnDrop(tokio::spawn(poll_lag(
        status_channel,
        status_token,
        cfg.group.clone(),
        link.lag.clone(),
    )));
    link.connected
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let source = Source {
        upstream: index,
        log_id: log_id.clone(),
    };
    let mut pending: Vec<u64> = Vec::new();
    let mut flush_tick = tokio::time::interval(Duration::from_millis(5));
    flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                flush_acks(&req_tx, &mut pending).await;
                return Ok(());
            }
            msg = inbound.message() => match msg.map_err(status)? {
                Some(pb::SubscribeResponse { response: Some(In::Batch(b)) }) => {
                    debug!(events = b.events.len(), redelivery = b.redelivery, "batch received");
                    let events = b.events.into_iter().map(herald_proto::Event::from).collect();
                    if out.send(Incoming { source: source.clone(), events }).await.is_err() {
                        return Ok(());
                    }
                }
                Some(pb::SubscribeResponse { response: Some(In::Closing(c)) }) => {
                    info!(exporter = %url, reason = %c.reason, "exporter is closing the subscription");
                    flush_acks(&req_tx, &mut pending).await;
                    return Ok(());
                }
                Some(_) => {}
                None => return Ok(()),
            },
            ack = acks.recv() => match ack {
                Some((log, offset)) => {
                    if *log == *log_id {
                        pending.push(offset);
                        if pending.len() >= 500 {
                            flush_acks(&req_tx, &mut pending).await;
                        }
                    }
                }
                None => {
                    // the router is gone (shutdown): send what it completed, then
                    // hold the subscription until told to close, so that nothing
                    // reconnects in between
                    flush_acks(&req_tx, &mut pending).await;
                    cancel.cancelled().await;
                    return Ok(());
                }
            },
            _ = flush_tick.tick() => {
                if !pending.is_empty() {
                    flush_acks(&req_tx, &mut pending).await;
                }
            }
        }
    }
}

/// Keeps `lag` at the group's lag as the exporter reports it, every [`LAG_POLL`], over
/// the session's connection.
async fn poll_lag(
    channel: Channel,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    group: String,
    lag: Gauge,
) {
    let mut client =
        EventLogClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            if let Some(t) = &token {
                req.metadata_mut().insert("authorization", t.clone());
            }
            Ok(req)
        });
    let mut tick = tokio::time::interval(LAG_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match client.get_log_status(pb::GetLogStatusRequest {}).await {
            Ok(status) => {
                // the group appears once this member's hello was processed
                if let Some(g) = status.into_inner().groups.iter().find(|g| g.name == group) {
                    lag.set(i64::try_from(g.lag).unwrap_or(i64::MAX));
                }
            }
            Err(e) => debug!(error = %e, "log status request failed"),
        }
    }
}

async fn flush_acks(tx: &mpsc::Sender<pb::SubscribeRequest>, pending: &mut Vec<u64>) {
    use pb::subscribe_request::Request as Msg;
    if pending.is_empty() {
        return;
    }
    let offsets = std::mem::take(pending);
    let n = u32::try_from(offsets.len()).unwrap_or(u32::MAX);
    // a closed stream means the connection is gone; the exporter redelivers
    let _ = tx
        .send(pb::SubscribeRequest {
            request: Some(Msg::Ack(pb::Ack { offsets })),
        })
        .await;
    let _ = tx
        .send(pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: n })),
        })
        .await;
}
