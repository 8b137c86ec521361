//! [`FakeHttp`]: a scripted HTTP/1.1 target that records exact requests.
//!
//! Requests are parsed by hyper; the bytes of each connection are also
//! tapped so that every request is recorded as it was written on the wire:
//! the request target as sent (origin form, the absolute form a client uses
//! through a proxy, or a `CONNECT` authority), and the header names in their
//! case and order. Answers come from a queue of [`Reply`]s, then from a
//! default (200 with an empty body unless changed).
//!
//! Everything runs on the test's Tokio runtime and stops when the
//! [`FakeHttp`] is dropped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    delay: Duration,
    hang: bool,
}

impl Reply {
    /// Answers `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// Answers 200 with an empty body.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    /// Never answers (the connection stays open until the client gives up).
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::status(0)
        }
    }

    /// Adds a response header (`Retry-After`, `Content-Type`, …).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = body.into();
        self
    }

    /// Sets a JSON body (and `Content-Type: application/json`).
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Reply {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// Waits this long before answering (a slow target).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `POST`, `CONNECT`, …
    pub method: String,
    /// The request target as sent: `/in?team=a`, `http://host/in` through a
    /// proxy, `host:443` for `CONNECT`.
    pub target: String,
    /// Every header line, names in the case and order they were sent.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Bytes,
    /// The status answered; `None` while the request is left hanging.
    pub status: Option<u16>,
}

impl Recorded {
    /// The values of header `name` (any case), in order.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The values of the header spelled exactly `name`, in order.
    pub fn header_exact(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// The body is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.text()))
    }
}

/// What the target knows.
#[derive(Debug)]
struct State {
    requests: Vec<Recorded>,
    replies: VecDeque<Reply>,
    default: Reply,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Woken on every recorded request.
    recorded: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent; a panicking test thread
        // cannot tear it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake HTTP target; stopped (with every connection) when dropped.
#[derive(Debug)]
pub struct FakeHttp {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FakeHttp {
    /// Starts a target on 127.0.0.1 (a free port) answering 200 to everything.
    ///
    /// # Panics
    /// No port can be bound.
    pub async fn start() -> FakeHttp {
        FakeHttp::with_replies([]).await
    }

    /// Starts a target that answers with `replies` in order, then 200.
    ///
    /// # Panics
    /// No port can be bound.
    pub async fn with_replies(replies: impl IntoIterator<Item = Reply>) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                requests: Vec::new(),
                replies: replies.into_iter().collect(),
                default: Reply::ok(),
            }),
            recorded: Notify::new(),
        });
        let accept = inner.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) stops every
            // connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve(accept.clone(), stream));
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        FakeHttp { inner, addr, task }
    }

    /// Serves one connection of another transport (a TLS stream the test
    /// accepted) with this target's script and records; runs until the
    /// connection closes.
    pub fn serve_connection<IO>(&self, io: IO) -> impl Future<Output = ()> + Send + 'static
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        serve(self.inner.clone(), io)
    }

    /// Returns `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues an answer for the next request without one.
    pub fn push_reply(&self, reply: Reply) {
        self.inner.lock().replies.push_back(reply);
    }

    /// Changes the answer used once the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        self.inner.lock().default = reply;
    }

    /// Returns every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().requests.clone()
    }

    /// Waits until at least `n` requests arrived and returns them all.
    ///
    /// # Panics
    /// They did not arrive within `timeout`.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let wait = async {
            loop {
                let notified = self.inner.recorded.notified();
                let requests = self.requests();
                if requests.len() >= n {
                    return requests;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(requests) => requests,
            Err(_) => panic!(
                "expected {n} request(s) within {timeout:?}, got {:?}",
                self.requests()
            ),
        }
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bytes a connection has read so far, and where the next request
/// starts in them.
#[derive(Debug, Default)]
struct Wire {
    bytes: Vec<u8>,
    next: usize,
    /// How the body of the request being handled is delimited.
    framing: Framing,
}

/// Copies every byte read from `io` into a [`Wire`].
struct Tap<IO> {
    io: IO,
    wire: Arc<Mutex<Wire>>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tap<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let read = &buf.filled()[before..];
            lock(&self.wire).bytes.extend_from_slice(read);
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tap<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn lock(wire: &Mutex<Wire>) -> MutexGuard<'_, Wire> {
    wire.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves one connection until it closes.
async fn serve<IO>(inner: Arc<Inner>, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let wire = Arc::new(Mutex::new(Wire::default()));
    let tap = Tap {
        io,
        wire: wire.clone(),
    };
    let service = service_fn(move |request| handle(inner.clone(), wire.clone(), request));
    // A connection the client drops or garbles just ends.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tap), service)
        .await;
}

/// Records one request and answers it as scripted.
async fn handle(
    inner: Arc<Inner>,
    wire: Arc<Mutex<Wire>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let head = take_head(&wire);
    let (parts, body) = request.into_parts();
    // A body the client breaks off is recorded as empty.
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    skip_body(&wire);
    let (method, target, headers) = head.unwrap_or_else(|| {
        // Not found on the wire (cannot happen with HTTP/1.1): hyper's view,
        // names in lower case.
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        (parts.method.to_string(), parts.uri.to_string(), headers)
    });
    let reply = {
        let mut state = inner.lock();
        let reply = state
            .replies
            .pop_front()
            .unwrap_or_else(|| state.default.clone());
        state.requests.push(Recorded {
            method,
            target,
            headers,
            body,
            status: (!reply.hang).then_some(reply.status),
        });
        reply
    };
    inner.recorded.notify_waiters();
    if reply.hang {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

type Head = (String, String, Vec<(String, String)>);

/// Parses the request head that starts at the wire's cursor, and moves the
/// cursor past it.
fn take_head(wire: &Mutex<Wire>) -> Option<Head> {
    let mut wire = lock(wire);
    wire.framing = Framing::None;
    let mut start = wire.next;
    while wire.bytes.get(start..start + 2) == Some(b"\r\n") {
        start += 2;
    }
    let rest = wire.bytes.get(start..)?;
    let len = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&rest[..len]).into_owned();
    wire.next = start + len + 4;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.splitn(3, ' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    wire.framing = Framing::of(&headers);
    Some((method, target, headers))
}

/// Moves the wire's cursor past the body of the request whose head was just
/// taken (hyper has read all of it by now).
fn skip_body(wire: &Mutex<Wire>) {
    let mut wire = lock(wire);
    let start = wire.next;
    let rest = wire.bytes.get(start..).unwrap_or_default();
    let skip = match wire.framing {
        Framing::Length(n) => n.min(rest.len()),
        Framing::Chunked => chunked_len(rest).unwrap_or(rest.len()),
        Framing::None => 0,
    };
    wire.next = start + skip;
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, Default)]
enum Framing {
    Length(usize),
    Chunked,
    #[default]
    None,
}

impl Framing {
    /// The framing the headers of a request announce.
    fn of(headers: &[(String, String)]) -> Framing {
        let mut framing = Framing::None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                return Framing::Chunked;
            }
            if name.eq_ignore_ascii_case("content-length") {
                framing = value.parse().map_or(Framing::None, Framing::Length);
            }
        }
        framing
    }
}

/// The length on the wire of a chunked body at the start of `bytes`.
fn chunked_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + bytes.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // trailers, then an empty line
            loop {
                let end = at + bytes.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some(at);
                }
            }
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests;
