//! The gRPC face of the exporter: `herald.v1.EventLog` (Subscribe, GetLogStatus,
//! SeekGroup, DeleteGroup) over
//! the [`Hub`], plus gRPC health and reflection, optional TLS (with optional client
//! certificate verification) and optional bearer-token authentication.
//!
//! Under leader election, credits a consumer group member sends after an
//! acknowledgement take effect once the failover checkpoint includes that
//! acknowledgement ([`CreditGate`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use herald_proto::encoded;
use herald_proto::pb;
use herald_proto::pb::event_log_server::{EventLog, EventLogServer};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, debug, info, warn};

mod encoded_subscribe;

use crate::handoff::{CreditGate, Handoff};
use crate::hub::{Hub, HubError, Next};

/// Largest gRPC message the server sends (batches are bounded well below it).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Largest gRPC message the server accepts.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// TCP keepalive of accepted gRPC connections: a subscriber that vanished without a
/// FIN (node lost) is noticed and its unacknowledged events redelivered.
const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// gRPC server settings.
#[derive(Clone, Default)]
pub struct GrpcSettings {
    /// PEM certificate chain and key; TLS is on when set.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// PEM CA bundle; when set, clients must present a certificate it signed.
    pub client_ca: Option<Vec<u8>>,
    /// Accepted bearer tokens; empty means no token is required.
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for GrpcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcSettings")
            .field("tls", &self.tls.is_some())
            .field("client_ca", &self.client_ca.is_some())
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// The server could not be configured or failed.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// TLS material was rejected.
    #[error("gRPC TLS configuration: {0}")]
    Tls(#[source] tonic::transport::Error),
    /// The server stopped with an error.
    #[error("gRPC server: {0}")]
    Serve(#[source] tonic::transport::Error),
    /// The reflection service could not be built.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    /// The listen address could not be bound.
    #[error("gRPC server: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no local address.
    #[error("gRPC server: no local address: {0}")]
    LocalAddr(#[source] std::io::Error),
}

/// The `herald.v1.EventLog` implementation.
#[derive(Clone)]
pub struct EventLogService {
    hub: Hub,
    leader: Arc<std::sync::atomic::AtomicBool>,
    handoff: Handoff,
}

impl EventLogService {
    /// Creates the service over a hub. `leader` tells `GetLogStatus` whether this
    /// exporter is the active one; `handoff` gates the credits of group members.
    pub fn new(hub: Hub, leader: Arc<std::sync::atomic::AtomicBool>, handoff: Handoff) -> Self {
        EventLogService {
            hub,
            leader,
            handoff,
        }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

/// Subscribe responses with each event as the log stores it.
pub type EncodedStream =
    Pin<Box<dyn Stream<Item = Result<encoded::SubscribeResponse, Status>> + Send>>;

fn response(r: encoded::Response) -> encoded::SubscribeResponse {
    encoded::SubscribeResponse { response: Some(r) }
}

impl EventLogService {
    /// `Subscribe`, answering with the log's records as stored (the server sends
    /// these through [`encoded_subscribe::EncodedSubscribe`]; the bytes on the wire
    /// are those of the generated `SubscribeResponse`).
    ///
    /// # Errors
    /// The first message is not a hello, or the hub refuses it.
    pub async fn subscribe_encoded(
        &self,
        request: Request<Streaming<pb::SubscribeRequest>>,
    ) -> Result<Response<EncodedStream>, Status> {
        use encoded::Response as Out;
        use pb::subscribe_request::Request as Msg;
        let peer = request.remote_addr();
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(pb::SubscribeRequest {
                request: Some(Msg::Hello(h)),
            }) => h,
            _ => {
                return Err(
                    HubError::InvalidHello("the first message must be a hello".into()).into(),
                );
            }
        };
        let span = tracing::info_span!("subscriber", group = %hello.group, member = %hello.member_id, peer = ?peer);
        let mut session = self.hub.join(hello).instrument(span.clone()).await?;
        let mut gate = CreditGate::new(&self.handoff, session.credits_gated());
        let (tx, rx) = mpsc::channel::<Result<encoded::SubscribeResponse, Status>>(4);
        // the channel is fresh and has capacity 4: the first send cannot fail
        let _ = tx.try_send(Ok(response(Out::Welcome(session.welcome()))));
        tokio::spawn(
            async move {
                loop {
                    tokio::select! {
                        msg = inbound.message() => match msg {
                            Ok(Some(pb::SubscribeRequest { request: Some(Msg::Credit(c)) })) => {
                                let now = gate.credit(c.events, session.credits());
                                session.grant(now);
                            }
                            Ok(Some(pb::SubscribeRequest { request: Some(Msg::Ack(a)) })) => {
                                let applied = session.ack(&a.offsets);
                                // offsets before a refused one were applied
                                gate.acknowledged();
                                if let Err(e) = applied {
                                    warn!(error = %e, "refusing ack");
                                    let _ = tx.send(Err(e.into())).await;
                                    break;
                                }
                            }
                            Ok(Some(pb::SubscribeRequest { request: Some(Msg::Hold(h)) })) => session.hold(&h.offsets),
                            Ok(Some(pb::SubscribeRequest { request: Some(Msg::Sync(s)) })) => {
                                let answer = match session.sync().await {
                                    Ok(committed_offset) => Ok(response(Out::Synced(pb::Synced { token: s.token, committed_offset }))),
                                    Err(e) => {
                                        warn!(error = %e, "cannot commit the group's state");
                                        Err(e.into())
                                    }
                                };
                                let failed = answer.is_err();
                                if tx.send(answer).await.is_err() || failed {
                                    break;
                                }
                            }
                            Ok(Some(_)) => {
                                let _ = tx.send(Err(Status::invalid_argument("only credit, ack, hold and sync may follow the hello"))).await;
                                break;
                            }
                            Ok(None) => { debug!("subscriber closed its stream"); break; }
                            Err(status) => { debug!(code = ?status.code(), "subscriber stream failed"); break; }
                        },
                        next = session.next() => match next {
                            Ok(Next::Batch(b)) => {
                                let mut gone = false;
                                for chunk in b.into_encoded_chunks(session.max_message_bytes()) {
                                    if tx.send(Ok(response(Out::Batch(chunk)))).await.is_err() {
                                        gone = true;
                                        break;
                                    }
                                }
                                if gone {
                                    break; // subscriber went away; the session drop hands events back
                                }
                            }
                            Ok(Next::Closing(reason)) => {
                                let _ = tx.send(Ok(response(Out::Closing(pb::Closing { reason })))).await;
                                break;
                            }
                            Err(e) => {
                                warn!(error = %e, "subscription failed");
                                let _ = tx.send(Err(e.into())).await;
                                break;
                            }
                        },
                        released = gate.released() => session.grant(released),
                        () = tx.closed() => break,
                    }
                }
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[tonic::async_trait]
impl EventLog for EventLogService {
    type SubscribeStream = ResponseStream;

    /// The generated server's `Subscribe` (the server in front of it answers the
    /// method itself, with [`EventLogService::subscribe_encoded`]): the same stream,
    /// each response decoded into the generated message.
    async fn subscribe(
        &self,
        request: Request<Streaming<pb::SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        use futures::StreamExt;
        let stream = self.subscribe_encoded(request).await?.into_inner();
        Ok(Response::new(Box::pin(stream.map(|r| {
            r.and_then(|m| {
                <pb::SubscribeResponse as prost::Message>::decode(
                    prost::Message::encode_to_vec(&m).as_slice(),
                )
                .map_err(|e| Status::internal(format!("a logged event does not decode: {e}")))
            })
        }))))
    }

    async fn get_log_status(
        &self,
        _request: Request<pb::GetLogStatusRequest>,
    ) -> Result<Response<pb::LogStatus>, Status> {
        let store = self.hub.store().clone();
        let b = store.bounds();
        let oldest = if b.first == 0 {
            None
        } else {
            store
                .run(move |s| s.read(b.first, 1, usize::MAX))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .first()
                .and_then(|e| e.observed_at)
        };
        Ok(Response::new(pb::LogStatus {
            log_id: store.log_id().to_owned(),
            first_offset: b.first,
            last_offset: b.last,
            bytes: b.bytes,
            events: b.events(),
            lost_events: b.lost,
            oldest_observed_at: oldest,
            groups: self.hub.group_status(),
            leader: self.leader.load(std::sync::atomic::Ordering::Relaxed),
        }))
    }

    async fn seek_group(
        &self,
        request: Request<pb::SeekGroupRequest>,
    ) -> Result<Response<pb::GroupStatus>, Status> {
        let req = request.into_inner();
        let status = self
            .hub
            .seek_group(&req.group, req.position.as_ref())
            .await?;
        Ok(Response::new(status))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let req = request.into_inner();
        let committed_offset = self.hub.delete_group(&req.group).await?;
        Ok(Response::new(pb::DeleteGroupResponse { committed_offset }))
    }
}

/// Compares a presented token with the accepted ones in time independent of where
/// they differ.
fn token_ok(presented: &[u8], accepted: &[String]) -> bool {
    let mut ok = false;
    for t in accepted {
        let t = t.as_bytes();
        if t.len() == presented.len() {
            let diff = t
                .iter()
                .zip(presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            ok |= diff == 0;
        }
    }
    ok
}

/// Builds the bearer-token check for the EventLog service.
fn auth_interceptor(
    tokens: Arc<Vec<String>>,
) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |req: Request<()>| {
        if tokens.is_empty() {
            return Ok(req);
        }
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::as_bytes);
        match presented {
            Some(p) if token_ok(p, &tokens) => Ok(req),
            // never echo the presented value
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
            None => Err(Status::unauthenticated("a bearer token is required")),
        }
    }
}

/// A bound gRPC server, ready to serve.
pub struct GrpcServer {
    listener: tokio::net::TcpListener,
    router: tonic::transport::server::Router,
    /// Reports the `herald.v1.EventLog` serving status to gRPC health checks.
    pub health: tonic_health::server::HealthReporter,
}

impl GrpcServer {
    /// The bound address.
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), GrpcError> {
        // Nagle's algorithm would hold small batches back until the peer's delayed
        // ACK (tens of ms): tonic only disables it for sockets it accepts itself.
        let incoming = tonic::transport::server::TcpIncoming::from(self.listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(TCP_KEEPALIVE));
        self.router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(GrpcError::Serve)
    }
}

/// Builds and binds the gRPC server.
///
/// # Errors
/// Bad TLS material, the address cannot be bound, or reflection setup failed.
pub async fn bind(
    addr: &str,
    settings: &GrpcSettings,
    service: EventLogService,
) -> Result<GrpcServer, GrpcError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| GrpcError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
    let mut builder = Server::builder();
    if let Some((cert, key)) = &settings.tls {
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &settings.client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder.tls_config(tls).map_err(GrpcError::Tls)?;
    }
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status(
            pb::EVENT_LOG_SERVICE,
            tonic_health::ServingStatus::NotServing,
        )
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let service = Arc::new(service);
    let svc = EventLogServer::from_arc(service.clone())
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let svc = tonic::service::interceptor::InterceptedService::new(
        encoded_subscribe::EncodedSubscribe::new(svc, service),
        auth_interceptor(Arc::new(settings.tokens.clone())),
    );
    let router = builder
        .add_service(health)
        .add_service(reflection)
        .add_service(svc);
    if let Ok(a) = listener.local_addr() {
        info!(address = %a, tls = settings.tls.is_some(), client_certs = settings.client_ca.is_some(), auth = !settings.tokens.is_empty(), "gRPC server listening");
    }
    Ok(GrpcServer {
        listener,
        router,
        health: health_reporter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_check_accepts_only_configured_tokens() {
        let accepted = vec!["s3cret".to_owned(), "other".to_owned()];
        assert!(token_ok(b"s3cret", &accepted));
        assert!(token_ok(b"other", &accepted));
        assert!(!token_ok(b"s3cre", &accepted));
        assert!(!token_ok(b"s3creT", &accepted));
        let check = auth_interceptor(Arc::new(accepted));
        assert!(check(Request::new(())).is_err());
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(check(r).is_ok());
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("authorization", "Bearer nope".parse().unwrap());
        let err = check(r).unwrap_err();
        assert!(!err.message().contains("nope"));
    }
}
