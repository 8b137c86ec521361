//! The admin HTTP server: `/metrics` (OpenMetrics text), `/-/healthy` (liveness),
//! `/-/ready` (readiness) and a small landing page at `/`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::info;

use crate::health::Health;

/// The admin server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Health,
}

/// A bound admin server; await [`AdminServer::run`] to serve.
pub struct AdminServer {
    listener: TcpListener,
    app: Router,
}

impl AdminServer {
    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket has no local address (not expected for a bound TCP listener).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// An admin server running on its own task.
pub struct RunningAdmin {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    addr: Option<SocketAddr>,
}

impl RunningAdmin {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Binds the admin server on `addr` and serves it on a task until
/// [`RunningAdmin::stop`].
///
/// # Errors
/// The address cannot be bound.
pub async fn start_admin(
    addr: &str,
    registry: Arc<Registry>,
    health: Health,
) -> Result<RunningAdmin, AdminError> {
    let server = serve_admin(addr, registry, health).await?;
    let addr = server.local_addr().ok();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Ok(RunningAdmin { stop, task, addr })
}

/// Parses a listen address; accepts Go's `:2112` form (all interfaces).
pub fn parse_listen(addr: &str) -> String {
    if let Some(port) = addr.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        addr.to_owned()
    }
}

/// Binds the admin server on `addr` (`host:port` or `:port`).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_admin(
    addr: &str,
    registry: Arc<Registry>,
    health: Health,
) -> Result<AdminServer, AdminError> {
    let bind = parse_listen(addr);
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|source| AdminError::Bind {
            addr: bind.clone(),
            source,
        })?;
    if let Ok(a) = listener.local_addr() {
        info!(address = %a, "admin server listening (/metrics, /-/healthy, /-/ready)");
    }
    let app = Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .with_state(AppState { registry, health });
    Ok(AdminServer { listener, app })
}

async fn landing() -> Html<&'static str> {
    Html(
        "<html><head><title>herald</title></head><body><h1>herald</h1><p><a href=\"/metrics\">Metrics</a> · <a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></p></body></html>",
    )
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut body = String::with_capacity(8192);
    match prometheus_client::encoding::text::encode(&mut body, &s.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response(),
    }
}

fn verdict(ok: bool, reasons: Vec<String>) -> Response {
    if ok {
        (StatusCode::OK, "OK").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, reasons.join("\n")).into_response()
    }
}

async fn healthy(State(s): State<AppState>) -> Response {
    let (ok, reasons) = s.health.liveness();
    verdict(ok, reasons)
}

async fn ready(State(s): State<AppState>) -> Response {
    let (ok, reasons) = s.health.readiness();
    verdict(ok, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[tokio::test]
    async fn serves_metrics_and_probes() {
        let mut reg = Registry::default();
        let c: Counter = Counter::default();
        reg.register("herald_test_things", "Things.", c.clone());
        c.inc();
        let health = Health::new();
        let probe = health.probe("watch");
        let server = serve_admin("127.0.0.1:0", Arc::new(reg), health.clone())
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(server.run(std::future::pending()));
        let base = format!("http://{addr}");
        let m = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(m.contains("herald_test_things_total 1"), "{m}");
        let r = reqwest::get(format!("{base}/-/ready")).await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.text().await.unwrap().contains("watch: starting"));
        probe.ready();
        assert_eq!(
            reqwest::get(format!("{base}/-/ready"))
                .await
                .unwrap()
                .status(),
            200
        );
        probe.stuck("no progress");
        assert_eq!(
            reqwest::get(format!("{base}/-/healthy"))
                .await
                .unwrap()
                .status(),
            503
        );
        assert_eq!(parse_listen(":2112"), "0.0.0.0:2112");
    }
}
