//! The gRPC side of the subscribe protocol: how to reach one exporter (URL, TLS,
//! client certificate, bearer token) and a [`GrpcConnector`] that opens subscriptions
//! over one shared HTTP/2 connection, used by the ruler (one stream per receiver) and
//! by `herald tail`. The protocol loop itself is in [`crate::subscription`].

use std::time::Duration;

use async_trait::async_trait;
use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracing::info;

use crate::decoded::SharingCounters;
use crate::subscription::{Connector, Link, LinkError};
use crate::wire::{self, ReceivedBatch};

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

/// `herald_ruler_consumer_lag{exporter, group, receiver}`: events the exporter holds
/// that a receiver's consumer group has not acknowledged yet (from `GetLogStatus`). The
/// chart's optional HPA custom metric scales rulers on it.
#[derive(Clone, Debug, Default)]
pub struct UpstreamMetrics {
    lag: Family<Vec<(String, String)>, Gauge>,
    decodes: Family<Vec<(&'static str, &'static str)>, Counter>,
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
            "Events in the exporter's log not yet acknowledged by a receiver's consumer group (one group per receiver)",
            self.lag.clone(),
        );
        registry.register(
            "herald_ruler_event_decodes",
            "Events the receiver lanes received, by whether a lane decoded it (`decoded`) or took it decoded and routed by another lane (`shared`)",
            self.decodes.clone(),
        );
    }

    /// The counters of decoded and shared events.
    pub fn sharing(&self) -> SharingCounters {
        let get = |result| {
            self.decodes
                .get_or_create(&vec![("result", result)])
                .clone()
        };
        SharingCounters {
            decoded: get("decoded"),
            shared: get("shared"),
        }
    }

    /// The gauge of one exporter, group and receiver.
    pub fn lag(&self, exporter: &str, group: &str, receiver: &str) -> Gauge {
        self.lag
            .get_or_create(&vec![
                ("exporter".to_owned(), exporter.to_owned()),
                ("group".to_owned(), group.to_owned()),
                ("receiver".to_owned(), receiver.to_owned()),
            ])
            .clone()
    }
}

/// The settings of an upstream cannot work.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The URL, TLS material or token is invalid.
    #[error("exporter {url}: {message}")]
    Config {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

impl From<UpstreamError> for LinkError {
    fn from(e: UpstreamError) -> Self {
        LinkError::Config(e.to_string())
    }
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

/// Opens subscriptions to one exporter over gRPC. Every subscription shares one
/// lazily connected HTTP/2 channel, which reconnects by itself.
#[derive(Clone)]
pub struct GrpcConnector {
    url: String,
    channel: Channel,
    token: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for GrpcConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcConnector")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl GrpcConnector {
    /// Prepares the channel (nothing is connected until the first request).
    ///
    /// # Errors
    /// Invalid URL, TLS material, or a token that is not a valid header value.
    pub fn new(cfg: &UpstreamConfig) -> Result<GrpcConnector, UpstreamError> {
        let channel = endpoint(cfg)?.connect_lazy();
        let token = match &cfg.token {
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| UpstreamError::Config {
                        url: cfg.url.clone(),
                        message: "the auth token contains characters not allowed in a header"
                            .into(),
                    })?,
            ),
            None => None,
        };
        Ok(GrpcConnector {
            url: cfg.url.clone(),
            channel,
            token,
        })
    }

    fn client(&self) -> EventLogClient<InterceptedService<Channel, BearerToken>> {
        EventLogClient::with_interceptor(self.channel.clone(), BearerToken(self.token.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// `Subscribe`, with the batches' events left encoded (see [`crate::wire`]): the
    /// generated client's call with a codec that decodes [`wire::SubscribeResponse`].
    async fn subscribe(
        &self,
        requests: ReceiverStream<pb::SubscribeRequest>,
    ) -> Result<tonic::Response<tonic::Streaming<wire::SubscribeResponse>>, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(InterceptedService::new(
            self.channel.clone(),
            BearerToken(self.token.clone()),
        ))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
        let codec =
            tonic_prost::ProstCodec::<pb::SubscribeRequest, wire::SubscribeResponse>::default();
        let path = http::uri::PathAndQuery::from_static("/herald.v1.EventLog/Subscribe");
        let mut request = tonic::Request::new(requests);
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new("herald.v1.EventLog", "Subscribe"));
        grpc.streaming(request, path, codec).await
    }

    /// The exporter's log status (`GetLogStatus`).
    ///
    /// # Errors
    /// The call failed.
    pub async fn log_status(&self) -> Result<pb::LogStatus, tonic::Status> {
        Ok(self
            .client()
            .get_log_status(pb::GetLogStatusRequest {})
            .await?
            .into_inner())
    }

    /// Moves a consumer group (`SeekGroup`).
    ///
    /// # Errors
    /// The call failed.
    pub async fn seek_group(
        &self,
        group: &str,
        position: pb::StartPosition,
    ) -> Result<pb::GroupStatus, tonic::Status> {
        Ok(self
            .client()
            .seek_group(pb::SeekGroupRequest {
                group: group.to_owned(),
                position: Some(position),
            })
            .await?
            .into_inner())
    }

    /// Deletes a consumer group (`DeleteGroup`); returns its committed offset.
    ///
    /// # Errors
    /// The call failed.
    pub async fn delete_group(&self, group: &str) -> Result<u64, tonic::Status> {
        Ok(self
            .client()
            .delete_group(pb::DeleteGroupRequest {
                group: group.to_owned(),
            })
            .await?
            .into_inner()
            .committed_offset)
    }

    fn transport(&self, e: &tonic::Status) -> LinkError {
        // a connection failure surfaces as UNAVAILABLE with the transport error inside
        LinkError::Transport(format!("exporter {}: {}", self.url, e.message()))
    }
}

#[async_trait]
impl Connector for GrpcConnector {
    fn describe(&self) -> &str {
        &self.url
    }

    async fn open(
        &self,
        hello: pb::Hello,
        credit: u32,
    ) -> Result<(pb::Welcome, Box<dyn Link>), LinkError> {
        use pb::subscribe_request::Request as Msg;
        use wire::Response as In;
        let (req_tx, req_rx) = mpsc::channel::<pb::SubscribeRequest>(64);
        // the channel is fresh: these sends cannot fail
        let _ = req_tx.try_send(pb::SubscribeRequest {
            request: Some(Msg::Hello(hello)),
        });
        let _ = req_tx.try_send(pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: credit })),
        });
        let mut inbound = match self.subscribe(ReceiverStream::new(req_rx)).await {
            Ok(r) => r.into_inner(),
            Err(s)
                if s.code() == tonic::Code::Unavailable
                    && s.metadata().contains_key(pb::STANDBY_METADATA) =>
            {
                return Err(LinkError::Standby(format!(
                    "exporter {}: {}",
                    self.url,
                    s.message()
                )));
            }
            Err(s) if s.code() == tonic::Code::Unavailable => return Err(self.transport(&s)),
            Err(s) => return Err(LinkError::Status(s)),
        };
        match inbound.message().await? {
            Some(wire::SubscribeResponse {
                response: Some(In::Welcome(w)),
            }) => Ok((w, Box::new(GrpcLink { req_tx, inbound }))),
            other => Err(LinkError::Status(tonic::Status::internal(format!(
                "expected a welcome, got {other:?}"
            )))),
        }
    }

    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError> {
        Ok(self.log_status().await?.groups)
    }
}

/// Adds the bearer token, if any, to every request.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut().insert("authorization", t.clone());
        }
        Ok(req)
    }
}

/// One open gRPC subscription.
struct GrpcLink {
    req_tx: mpsc::Sender<pb::SubscribeRequest>,
    inbound: tonic::Streaming<wire::SubscribeResponse>,
}

impl GrpcLink {
    async fn send(&self, request: pb::subscribe_request::Request) -> Result<(), LinkError> {
        self.req_tx
            .send(pb::SubscribeRequest {
                request: Some(request),
            })
            .await
            .map_err(|_| LinkError::Transport("the subscription stream is closed".into()))
    }
}

#[async_trait]
impl Link for GrpcLink {
    async fn next(&mut self) -> Result<Option<ReceivedBatch>, LinkError> {
        use wire::Response as In;
        loop {
            match self.inbound.message().await? {
                Some(wire::SubscribeResponse {
                    response: Some(In::Batch(b)),
                }) => {
                    return ReceivedBatch::try_from(b).map(Some).map_err(|e| {
                        LinkError::Status(tonic::Status::internal(format!(
                            "an event of the batch has no readable offset: {e}"
                        )))
                    });
                }
                Some(wire::SubscribeResponse {
                    response: Some(In::Closing(c)),
                }) => {
                    info!(reason = %c.reason, "exporter is closing the subscription");
                    return Ok(None);
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    async fn ack(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        use pb::subscribe_request::Request as Msg;
        let n = u32::try_from(offsets.len()).unwrap_or(u32::MAX);
        self.send(Msg::Ack(pb::Ack { offsets })).await?;
        self.send(Msg::Credit(pb::Credit { events: n })).await
    }

    async fn hold(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        self.send(pb::subscribe_request::Request::Hold(pb::Hold { offsets }))
            .await
    }

    async fn grant(&mut self, events: u32) -> Result<(), LinkError> {
        self.send(pb::subscribe_request::Request::Credit(pb::Credit {
            events,
        }))
        .await
    }
}
