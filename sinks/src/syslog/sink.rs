//! The `syslog` sink and its request builder: each event becomes one framed
//! message; a batch is written in one go on a stream, or as one datagram per
//! message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use super::config::{Framing, MessageFormat, Network, SyslogConfig};
use super::frame::{Framer, MessageParts, cut, hostname, severity_of};
use super::transport::{Connection, Endpoint, tls_connector};
use super::SyslogError;
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::registry::SinkType as _;
use crate::util::PayloadEncoder;

/// One framed message (without the stream framing).
#[derive(Debug, Clone)]
pub struct SyslogItem {
    message: Vec<u8>,
}

impl SyslogItem {
    /// The message bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.message
    }
}

/// What one write carries: the messages of a batch, each as it goes on the
/// wire (stream framing applied).
#[derive(Debug, Clone)]
pub struct SyslogRequest {
    /// One entry per message.
    pub messages: Vec<Vec<u8>>,
}

/// Counters a test or tool can read through the receiver's handle.
#[derive(Debug, Clone, Default)]
pub struct SyslogStats {
    truncated: Arc<AtomicU64>,
    connects: Arc<AtomicU64>,
}

impl SyslogStats {
    /// Datagrams cut at `maxMessageSize` so far.
    pub fn truncated(&self) -> u64 {
        self.truncated.load(Ordering::Relaxed)
    }

    /// Connections opened so far.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }
}

/// Turns events into syslog messages.
#[derive(Debug, Clone)]
pub struct SyslogBuilder {
    name: Arc<str>,
    encoder: PayloadEncoder,
    framer: Framer,
    network: Network,
    framing: Framing,
    max_message_size: usize,
    stats: SyslogStats,
}

impl SyslogBuilder {
    /// Creates the request builder of receiver `name`.
    pub fn new(name: &str, config: &SyslogConfig) -> SyslogBuilder {
        SyslogBuilder {
            name: Arc::from(name),
            encoder: PayloadEncoder::new(config.layout.clone(), config.dedot),
            framer: Framer {
                format: config.format,
                local: config.network == Network::Local,
                facility: config.facility,
                hostname: hostname(),
                tag: config.tag.clone(),
                pid: std::process::id(),
            },
            network: config.network,
            framing: config.framing,
            max_message_size: config.max_message_size,
            stats: SyslogStats::default(),
        }
    }

    /// Whether a newline ends each message: KEE's frame always had one (Go's
    /// writer added it); RFC 5424 datagrams and octet-counted messages have
    /// none.
    fn newline(&self) -> bool {
        match self.network {
            Network::Udp | Network::Unixgram | Network::Local => {
                self.framer.format == MessageFormat::Rfc3164
            }
            Network::Tcp | Network::Tls | Network::Unix => self.framing == Framing::Newline,
        }
    }
}

impl RequestBuilder for SyslogBuilder {
    type Item = SyslogItem;
    type Request = SyslogRequest;

    fn encode(&self, delivery: &Delivery) -> Result<SyslogItem, EncodeError> {
        let ev = &delivery.event;
        let key = ev.idempotency_key();
        let parts = MessageParts {
            severity: severity_of(&ev.event_type),
            time: Utc::now(),
            reason: &ev.reason,
            idempotency_key: &key,
            cluster: &ev.cluster_name,
        };
        let mut message = Vec::with_capacity(1024);
        self.framer.header(&parts, &mut message);
        self.encoder.encode(delivery, &mut message)?;
        if self.newline() && message.last() != Some(&b'\n') {
            message.push(b'\n');
        }
        if self.network.is_datagram() && cut(&mut message, self.max_message_size) {
            let total = self.stats.truncated.fetch_add(1, Ordering::Relaxed) + 1;
            warn!(
                sink = %self.name,
                sink_type = SyslogConfig::NAME,
                event = %key,
                max_message_size = self.max_message_size,
                truncated_total = total,
                "syslog message longer than maxMessageSize, cut"
            );
        }
        Ok(SyslogItem { message })
    }

    fn item_size(&self, item: &SyslogItem) -> usize {
        item.message.len()
    }

    fn build_request(&self, items: &[SyslogItem]) -> SyslogRequest {
        let octets = !self.network.is_datagram()
            && self.network != Network::Local
            && self.framing == Framing::OctetCounting;
        SyslogRequest {
            messages: items
                .iter()
                .map(|i| {
                    if octets {
                        let mut m = format!("{} ", i.message.len()).into_bytes();
                        m.extend_from_slice(&i.message);
                        m
                    } else {
                        i.message.clone()
                    }
                })
                .collect(),
        }
    }

    fn describe(&self, request: &SyslogRequest) -> String {
        let mut out = format!(
            "syslog {} {} message(s)\n",
            if self.network == Network::Local {
                "local socket"
            } else {
                self.network.as_str()
            },
            request.messages.len()
        );
        for m in &request.messages {
            out.push_str(&String::from_utf8_lossy(m));
            if !m.ends_with(b"\n") {
                out.push('\n');
            }
        }
        out
    }
}

/// Writes events to a syslog server.
pub struct SyslogSink {
    builder: SyslogBuilder,
    endpoint: Endpoint,
    conn: Mutex<Option<Connection>>,
}

impl SyslogSink {
    /// Creates the sink of receiver `name`; it connects on the first send.
    ///
    /// # Errors
    /// The `tls` block cannot be applied.
    pub fn new(name: &str, config: &SyslogConfig) -> Result<SyslogSink, SyslogError> {
        let tls = if config.network == Network::Tls {
            Some(tls_connector(&config.tls, &config.address)?)
        } else {
            None
        };
        Ok(SyslogSink {
            builder: SyslogBuilder::new(name, config),
            endpoint: Endpoint {
                network: config.network,
                address: config.address.clone(),
                tls,
            },
            conn: Mutex::new(None),
        })
    }

    /// The receiver's counters.
    pub fn stats(&self) -> SyslogStats {
        self.builder.stats.clone()
    }

    fn error(&self, what: &str, e: &std::io::Error) -> SendError {
        SendError::retriable(format!(
            "syslog {what} {} failed: {e}",
            if self.endpoint.network == Network::Local {
                "local socket"
            } else {
                &self.endpoint.address
            }
        ))
    }
}

#[async_trait]
impl Sink for SyslogSink {
    type Builder = SyslogBuilder;

    fn kind(&self) -> &'static str {
        SyslogConfig::NAME
    }

    fn builder(&self) -> &SyslogBuilder {
        &self.builder
    }

    /// Writes the messages; any failure drops the connection (the next
    /// attempt reconnects) and is retriable. Datagrams already sent before a
    /// failure may be sent again (at-least-once).
    async fn send(&self, request: &SyslogRequest) -> Result<SendOutcome, SendError> {
        let mut guard = self.conn.lock().await;
        if guard.as_ref().is_some_and(Connection::closed_by_peer) {
            debug!(sink = %self.builder.name, "syslog server closed the connection, reconnecting");
            *guard = None;
        }
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => {
                let c = self
                    .endpoint
                    .connect()
                    .await
                    .map_err(|e| self.error("connection to", &e))?;
                self.builder.stats.connects.fetch_add(1, Ordering::Relaxed);
                guard.insert(c)
            }
        };
        let result = if conn.is_datagram() {
            let mut r = Ok(());
            for m in &request.messages {
                r = conn.send_datagram(m).await;
                if r.is_err() {
                    break;
                }
            }
            r
        } else {
            conn.write_stream(&request.messages.concat()).await
        };
        if let Err(e) = result {
            *guard = None;
            return Err(self.error("write to", &e));
        }
        Ok(SendOutcome::Delivered)
    }
}
