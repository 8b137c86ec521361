//! An HTTP target for webhook receivers: records every request (headers and body) and
//! answers 200, 503 or never, as the test switches it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// How the target answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 OK.
    Accept,
    /// 503 Service Unavailable (retriable).
    Unavailable,
    /// Never answers.
    Hang,
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// The status answered; `None` when the request was left hanging.
    pub status: Option<u16>,
}

impl Hit {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "webhook body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

struct Inner {
    mode: Mutex<Mode>,
    hits: Mutex<Vec<Hit>>,
}

/// A running target on 127.0.0.1; stopped on drop.
pub struct Target {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    /// Starts a target answering `mode`.
    pub async fn start(mode: Mode) -> Target {
        let inner = Arc::new(Inner {
            mode: Mutex::new(mode),
            hits: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook target");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Target {
            inner,
            url: format!("http://127.0.0.1:{port}/hook"),
            task,
        }
    }

    /// Switches how the target answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().expect("mode lock") = mode;
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.inner.hits.lock().expect("hits lock").clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.status == Some(200))
            .collect()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mode = *inner.mode.lock().expect("mode lock");
    let status = match mode {
        Mode::Accept => Some(StatusCode::OK),
        Mode::Unavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
        Mode::Hang => None,
    };
    inner.hits.lock().expect("hits lock").push(Hit {
        headers,
        body,
        status: status.map(|s| s.as_u16()),
    });
    match status {
        Some(s) => s,
        None => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT
        }
    }
}
