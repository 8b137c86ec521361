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
                send_at_once(&stream);
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

/// Turns Nagle's algorithm off on an accepted connection, as the API server does (Go's
/// `net` package sets `TCP_NODELAY` on every TCP connection). With it on, a watch's
/// small chunks are held back until the client acknowledges the previous one, and a
/// client that delays its ACKs (Linux does on a connection that has carried requests
/// and responses, such as a kept-alive one a re-watch reuses) then receives its Events
/// in bursts tens of milliseconds apart.
fn send_at_once(stream: &tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(error = %error, "could not set TCP_NODELAY");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_send_small_writes_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let _client = client.expect("connect");
        let (stream, _) = accepted.expect("accept");
        assert!(
            !stream.nodelay().expect("read the option"),
            "Nagle is on by default"
        );
        send_at_once(&stream);
        assert!(stream.nodelay().expect("read the option"));
    }
}
