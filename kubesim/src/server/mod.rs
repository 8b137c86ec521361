//! The HTTP(S) front end: accept loop, per-connection TLS and HTTP/1.1 + HTTP/2 serving,
//! and the axum router with the API server's filters.

mod leases;
mod list;
mod middleware;
mod objects;
mod respond;
mod router;
mod status_patch;
mod view;
mod watch;

use std::sync::Arc;

use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch as tokio_watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument, debug, info_span, warn};

use crate::shared::Shared;

/// Facts about the connection a request arrived on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnInfo {
    /// The client presented a certificate that chains to the simulator CA.
    pub client_cert: bool,
}

/// Runs the accept loop until `shutdown` turns true; dropping the loop aborts every
/// connection task.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    mut shutdown: tokio_watch::Receiver<bool>,
) {
    let app = router::build(shared.clone());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        warn!(error = %error, "accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                let tls = tls.clone();
                connections.spawn(
                    async move {
                        match tls {
                            None => serve_connection(stream, app, ConnInfo { client_cert: false }).await,
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(tls_stream) => {
                                    let client_cert = tls_stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                                    serve_connection(tls_stream, app, ConnInfo { client_cert }).await;
                                }
                                Err(error) => debug!(error = %error, "tls handshake failed"),
                            },
                        }
                    }
                    .instrument(info_span!("kubesim_conn", %peer)),
                );
            }
        }
    }
    connections.shutdown().await;
}

async fn serve_connection<IO>(io: IO, app: axum::Router, conn: ConnInfo)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app.layer(Extension(conn)));
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(error) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await
    {
        debug!(error = %error, "connection closed with error");
    }
}
