//! `webhook`: an HTTP target in the harness that records the `key` of every request
//! body it answers 200 to. Its faults: down (the port is closed and open connections
//! are cut: connection refused), slow (every answer takes 2 s) and errors (every
//! request answered 503).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Deliveries, LAYOUT, Target, TargetEnv, keys_of};
use crate::chaos::plan::TargetFault;
use crate::error::{Result, io_err};

/// The receiver's name.
pub const NAME: &str = "webhook";

/// How long a slow answer takes.
pub const SLOW: Duration = Duration::from_secs(2);

/// The target; stopped when dropped.
pub struct WebhookTarget {
    addr: SocketAddr,
    mode: watch::Sender<Option<TargetFault>>,
    deliveries: Deliveries,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the target on a free port.
pub fn start(_env: &TargetEnv) -> BoxFuture<'_, Result<Option<Box<dyn Target>>>> {
    Box::pin(async move {
        let t: Box<dyn Target> = Box::new(WebhookTarget::start().await?);
        Ok(Some(t))
    })
}

impl WebhookTarget {
    /// Starts the target on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// No port can be bound.
    pub async fn start() -> Result<WebhookTarget> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let (mode, rx) = watch::channel(None);
        let deliveries = Deliveries::default();
        let task = tokio::spawn(serve(listener, addr, rx, deliveries.clone()));
        Ok(WebhookTarget {
            addr,
            mode,
            deliveries,
            task,
        })
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }
}

/// Accepts connections while the target is up; while it is down, the port is closed
/// and every connection cut.
async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    mut mode: watch::Receiver<Option<TargetFault>>,
    deliveries: Deliveries,
) {
    let mut listener = Some(listener);
    loop {
        let down = *mode.borrow_and_update() == Some(TargetFault::Down);
        if down {
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(_) => {
                    // the port is still in TIME_WAIT or taken: try again shortly
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = l.accept() => {
                    if let Ok((stream, _)) = accepted {
                        let (mode, deliveries) = (mode.clone(), deliveries.clone());
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                answer(req, mode.clone(), deliveries.clone())
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
                changed = mode.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *mode.borrow() == Some(TargetFault::Down) {
                        break;
                    }
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // dropping `l` and `connections` closes the port and cuts every connection
        drop(connections);
        drop(l);
    }
}

async fn answer(
    req: Request<Incoming>,
    mode: watch::Receiver<Option<TargetFault>>,
    deliveries: Deliveries,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let status = |s: StatusCode| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = s;
        Ok(r)
    };
    let Ok(body) = req.into_body().collect().await else {
        return status(StatusCode::BAD_REQUEST);
    };
    let fault = *mode.borrow();
    match fault {
        Some(TargetFault::Errors) => return status(StatusCode::SERVICE_UNAVAILABLE),
        Some(TargetFault::Slow) => tokio::time::sleep(SLOW).await,
        _ => {}
    }
    let now = Instant::now();
    for key in keys_of(&body.to_bytes()) {
        deliveries.record(key, now);
    }
    status(StatusCode::OK)
}

impl Drop for WebhookTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Target for WebhookTarget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn receiver_yaml(&self) -> String {
        format!(
            "  - name: {NAME}\n    webhook:\n      endpoint: \"{}\"\n{LAYOUT}",
            self.url()
        )
    }

    fn faults(&self) -> &'static [TargetFault] {
        &[TargetFault::Down, TargetFault::Slow, TargetFault::Errors]
    }

    fn set_fault(&mut self, fault: Option<TargetFault>) -> Result<()> {
        self.mode.send_replace(fault);
        Ok(())
    }

    fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: &str, key: &str) -> std::result::Result<u16, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let r = client
            .post(url)
            .body(format!("{{\"key\":\"{key}\"}}"))
            .send()
            .await?;
        Ok(r.status().as_u16())
    }

    #[tokio::test]
    async fn records_answered_keys_and_goes_down_errors_and_up_again() {
        let mut t = WebhookTarget::start().await.unwrap();
        let url = t.url();
        assert_eq!(post(&url, "a-1").await.unwrap(), 200);
        t.set_fault(Some(TargetFault::Errors)).unwrap();
        assert_eq!(post(&url, "b-1").await.unwrap(), 503);
        t.set_fault(Some(TargetFault::Down)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(post(&url, "c-1").await.is_err(), "the port is closed");
        t.set_fault(None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match post(&url, "d-1").await {
                Ok(200) => break,
                other => assert!(Instant::now() < deadline, "not up again: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        t.set_fault(Some(TargetFault::Slow)).unwrap();
        let started = Instant::now();
        assert_eq!(post(&url, "e-1").await.unwrap(), 200);
        assert!(started.elapsed() >= SLOW);
        let keys: Vec<String> = t
            .deliveries()
            .snapshot()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["a-1", "d-1", "e-1"]);
    }
}
