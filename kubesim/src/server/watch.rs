//! Watches: newline-delimited JSON `{"type":…,"object":…}` lines streamed from the
//! change log, with synthetic ADDED lines for `resourceVersion` 0/unset, BOOKMARKs on
//! cached watches, the 410 `ERROR` line for compacted revisions, the 504 "Too large
//! resource version" `ERROR` line for a cached watch from a revision the store has not
//! reached (after the watch cache's freshness wait), a server-side timeout and the
//! injectable faults.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{Instrument, warn};

use super::list::FRESHNESS_WAIT;
use super::router::{Ctx, ResourceRequest};
use super::view::Target;
use crate::faults::WatchFaults;
use crate::shared::Shared;
use crate::status::{Status, go_quote};
use crate::store::{Change, StoreError, objects};

/// Changes copied out of the store per lock acquisition.
const BATCH: usize = 512;

enum Start {
    /// Synthetic ADDED for the current state, then changes.
    Current,
    /// Changes after this revision.
    After(u64),
}

struct Job {
    shared: Arc<Shared>,
    target: Target,
    prefix: String,
    exact_key: Option<String>,
    start: Start,
    timeout: Duration,
    bookmarks: bool,
    cached: bool,
    faults: WatchFaults,
}

/// Starts a watch and returns the streaming response.
pub fn watch(ctx: &Ctx, req: &ResourceRequest) -> Response {
    let start = match ctx.neg.param("resourceVersion") {
        None | Some("" | "0") => Start::Current,
        Some(s) => match s.parse::<u64>() {
            Ok(n) => Start::After(n),
            Err(_) => {
                return ctx.error(&Status::bad_request(format!(
                    "invalid resource version: {}",
                    go_quote(s)
                )));
            }
        },
    };
    let timeout = match ctx.neg.param("timeoutSeconds").filter(|s| !s.is_empty()) {
        None => ctx.shared.cfg.default_watch_timeout,
        Some(s) => match s.parse::<u64>() {
            // Zero means "no client timeout", like an absent parameter.
            Ok(0) => ctx.shared.cfg.default_watch_timeout,
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => {
                return ctx.error(&Status::bad_request(format!(
                    "timeoutSeconds: invalid value {}",
                    go_quote(s)
                )));
            }
        },
    };
    // A watch without a resourceVersion bypasses the watch cache (it is served by etcd),
    // so it gets neither bookmarks nor cache-style errors.
    let cached = (!req.target.is_events || ctx.shared.cfg.watch_cache)
        && ctx
            .neg
            .param("resourceVersion")
            .is_some_and(|rv| !rv.is_empty());
    let bookmarks = cached
        && matches!(
            ctx.neg.param("allowWatchBookmarks"),
            Some("1" | "true" | "True" | "t")
        );
    let exact_key = req
        .name
        .as_deref()
        .map(|name| objects::key(&req.def, req.namespace.as_deref().unwrap_or_default(), name));
    let job = Job {
        shared: ctx.shared.clone(),
        target: req.target.clone(),
        prefix: objects::prefix(&req.def, req.namespace.as_deref()),
        exact_key,
        start,
        timeout,
        bookmarks,
        cached,
        faults: ctx.shared.faults.take_watch(&ctx.path),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(16);
    tokio::spawn(run(job, tx).in_current_span());
    let mut resp = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A line in the watch framing.
fn line(type_: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + type_.len() + 24);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(type_.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Why the stream stopped early.
struct Stop;

struct Out {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    sent: usize,
    drop_after: Option<usize>,
}

impl Out {
    async fn send(&mut self, bytes: Bytes) -> Result<(), Stop> {
        if self.drop_after.is_some_and(|limit| self.sent >= limit) {
            // Let the lines already sent reach the client (hyper flushes once the body
            // stream is idle), then abort the body: the client sees a broken stream.
            while self.tx.capacity() < self.tx.max_capacity() && !self.tx.is_closed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = self
                .tx
                .send(Err(io::Error::other(
                    "kubesim: injected watch connection drop",
                )))
                .await;
            return Err(Stop);
        }
        self.tx.send(Ok(bytes)).await.map_err(|_| Stop)?;
        self.sent += 1;
        Ok(())
    }
}

impl Job {
    fn matches(&self, key: &str) -> bool {
        match &self.exact_key {
            Some(k) => k == key,
            None => key.starts_with(&self.prefix),
        }
    }

    fn too_old(&self, requested: u64, compacted: u64) -> Bytes {
        let st = if self.cached {
            Status::watch_cache_too_old(requested, compacted)
        } else {
            Status::watch_too_old()
        };
        line("ERROR", &st.to_compact())
    }

    async fn send_change(&self, out: &mut Out, change: &Change) -> Result<(), Stop> {
        if !self.matches(&change.key) {
            return Ok(());
        }
        match self.target.object(&change.object) {
            Ok(obj) => out.send(line(change.kind.as_str(), &obj)).await,
            Err(error) => {
                warn!(error = %error, key = %change.key, "skipping change that cannot be rendered");
                Ok(())
            }
        }
    }

    /// Sends every change after `cursor`; returns the new cursor.
    async fn drain(&self, out: &mut Out, mut cursor: u64) -> Result<u64, Stop> {
        loop {
            let batch = self
                .shared
                .store()
                .changes_after(cursor, &self.prefix, BATCH);
            let (changes, next) = match batch {
                Ok(b) => b,
                Err(StoreError::TooOld { compacted }) => {
                    let _ = out.send(self.too_old(cursor, compacted)).await;
                    return Err(Stop);
                }
                Err(_) => return Err(Stop),
            };
            for c in &changes {
                self.send_change(out, c).await?;
            }
            cursor = next;
            if changes.len() < BATCH {
                return Ok(cursor);
            }
        }
    }
}

/// Whether the store reaches revision `wanted` within the watch cache's freshness wait.
async fn fresh_enough(shared: &Shared, wanted: u64) -> bool {
    let mut rx = shared.subscribe_rv();
    if shared.store().rv() >= wanted {
        return true;
    }
    tokio::time::timeout(FRESHNESS_WAIT, rx.wait_for(|rv| *rv >= wanted))
        .await
        .is_ok_and(|r| r.is_ok())
}

async fn run(job: Job, tx: mpsc::Sender<Result<Bytes, io::Error>>) {
    let shared = job.shared.clone();
    let _guard = shared.watch_guard();
    let mut close = shared.faults.close_signal();
    close.borrow_and_update();
    let mut revisions = shared.subscribe_rv();
    revisions.borrow_and_update();
    let deadline = Instant::now() + job.timeout;
    let mut out = Out {
        tx: tx.clone(),
        sent: 0,
        drop_after: job.faults.drop_after,
    };
    let _ = stream(&job, &mut out, &mut close, &mut revisions, deadline, &tx).await;
}

async fn stream(
    job: &Job,
    out: &mut Out,
    close: &mut tokio::sync::watch::Receiver<u64>,
    revisions: &mut tokio::sync::watch::Receiver<u64>,
    deadline: Instant,
    tx: &mpsc::Sender<Result<Bytes, io::Error>>,
) -> Result<(), Stop> {
    if job.faults.malformed_first_line {
        out.send(Bytes::from_static(
            b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Event\",\"apiVersion\":\n",
        ))
        .await?;
    }
    let mut cursor = match job.start {
        Start::Current => {
            let (rv, items) = {
                let mut store = job.shared.store();
                let rv = store.rv();
                let items = match &job.exact_key {
                    Some(k) => store
                        .get(k)
                        .map(|e| vec![e.bytes.clone()])
                        .unwrap_or_default(),
                    None => {
                        store
                            .list(rv, &job.prefix, &job.prefix, None)
                            .map_err(|_| Stop)?
                            .items
                    }
                };
                (rv, items)
            };
            for stored in items {
                match job.target.object(&stored) {
                    Ok(obj) => out.send(line("ADDED", &obj)).await?,
                    Err(error) => {
                        warn!(error = %error, "skipping stored object that cannot be rendered")
                    }
                }
            }
            rv
        }
        Start::After(n) => {
            if job.cached && !fresh_enough(&job.shared, n).await {
                // The watch cache waits a moment for a revision it has not seen, then
                // gives up; etcd itself (an uncached watch) just waits, silently.
                let current = job.shared.store().rv();
                let st = Status::too_large_resource_version(n, current);
                let _ = out.send(line("ERROR", &st.to_compact())).await;
                return Err(Stop);
            }
            n
        }
    };
    let mut ticker = job.bookmarks.then(|| {
        let interval = job
            .shared
            .cfg
            .bookmark_interval
            .max(Duration::from_millis(10));
        let mut t = tokio::time::interval_at(Instant::now() + interval, interval);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    loop {
        revisions.borrow_and_update();
        cursor = job.drain(out, cursor).await?;
        let bookmark_due = async {
            match ticker.as_mut() {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = close.changed() => return Ok(()),
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = tx.closed() => return Err(Stop),
            changed = revisions.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = bookmark_due => {
                cursor = job.drain(out, cursor).await?;
                out.send(line("BOOKMARK", &job.target.bookmark(cursor))).await?;
            }
        }
    }
}
