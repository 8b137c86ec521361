//! Serves `herald.v1.EventLog/Subscribe` with the log's records as stored.
//!
//! Every consumer group reads every event, and a ruler has one group per receiver: the
//! generated server would decode each stored record into a `pb::Event` and encode it
//! again once per group. [`EncodedSubscribe`] sits in front of the generated server,
//! answers `Subscribe` itself with [`herald_proto::encoded::SubscribeResponse`] (the
//! same bytes on the wire, each event's record copied as it is) and hands every other
//! method to the generated server.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use herald_proto::{encoded, pb};
use tonic::body::Body;
use tonic::codegen::{Body as HttpBody, BoxFuture, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use super::{EncodedStream, EventLogService, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES};

/// The path of the method answered here.
const SUBSCRIBE: &str = "/herald.v1.EventLog/Subscribe";

/// The generated `EventLog` server `S` with `Subscribe` answered from stored records.
#[derive(Clone)]
pub struct EncodedSubscribe<S> {
    inner: S,
    service: Arc<EventLogService>,
}

impl<S> EncodedSubscribe<S> {
    /// Answers `Subscribe` with `service` and everything else with `inner`.
    pub fn new(inner: S, service: Arc<EventLogService>) -> Self {
        EncodedSubscribe { inner, service }
    }
}

impl<S> NamedService for EncodedSubscribe<S> {
    const NAME: &'static str = pb::EVENT_LOG_SERVICE;
}

impl<S, B> Service<http::Request<B>> for EncodedSubscribe<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != SUBSCRIBE {
            return Box::pin(self.inner.call(req));
        }
        let method = SubscribeMethod(self.service.clone());
        let codec =
            tonic_prost::ProstCodec::<encoded::SubscribeResponse, pb::SubscribeRequest>::default();
        let mut grpc = tonic::server::Grpc::new(codec)
            .apply_max_message_size_config(Some(MAX_REQUEST_BYTES), Some(MAX_MESSAGE_BYTES));
        Box::pin(async move { Ok(grpc.streaming(method, req).await) })
    }
}

/// `Subscribe` as a streaming method of [`EventLogService`].
struct SubscribeMethod(Arc<EventLogService>);

impl tonic::server::StreamingService<pb::SubscribeRequest> for SubscribeMethod {
    type Response = encoded::SubscribeResponse;
    type ResponseStream = EncodedStream;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: Request<Streaming<pb::SubscribeRequest>>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { service.subscribe_encoded(request).await })
    }
}
