//! A metadata-only list+watch of one collection (the enricher's view of every Pod).
//!
//! The loop lists the collection page by page as PartialObjectMetadataList (a
//! consistent read), then watches it from the list's resourceVersion with bookmarks,
//! handing everything to a [`MetadataSink`]. A watch closed by the server is re-opened
//! from the last resourceVersion; 410 Gone lists again (a continue token that expires
//! mid-list starts the list over); transport errors, 5xx and 429 back off and retry. An
//! answer that will not change by retrying soon (403, 404, another 4xx) is reported to
//! the sink as "unavailable" and retried after [`UNAVAILABLE_RETRY`].
//!
//! Every request is paid with a spare token ([`KubeApi::spare_token`]): the Event watch
//! and the Lease never wait behind this loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::api::{KubeApi, ObjectMetadata, parse_metadata};
use super::backoff::{Backoff, BackoffOptions};
use super::error::ApiError;
use super::watch_stream::WatchEvent;

/// Retry period after an answer that retrying soon will not change.
pub(crate) const UNAVAILABLE_RETRY: Duration = Duration::from_secs(300);
/// Watches shorter than this that delivered nothing are followed by a backoff delay.
const SHORT_WATCH: Duration = Duration::from_secs(1);
/// A watch that neither delivers nor closes for twice its timeout plus this is
/// abandoned and re-opened.
const STALL_GRACE: Duration = Duration::from_secs(30);

/// One change seen by the watch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// ADDED or MODIFIED: the object's current metadata.
    Upsert(ObjectMetadata),
    /// DELETED: the object's last metadata.
    Delete(ObjectMetadata),
}

/// Where the watch delivers what it sees.
pub(crate) trait MetadataSink: Send + Sync + 'static {
    /// A full list starts; its snapshot is taken about now.
    fn list_started(&self);
    /// One page of the list.
    fn list_page(&self, items: Vec<ObjectMetadata>);
    /// The list is complete: objects that were not in it are gone.
    fn list_complete(&self);
    /// One watch notification.
    fn change(&self, change: Change);
    /// The collection cannot be listed or watched for now (forbidden, not served).
    fn unavailable(&self, error: &ApiError);
}

/// Settings of a [`MetadataWatch`].
#[derive(Debug, Clone)]
pub(crate) struct MetadataWatchOptions {
    /// Collection path, e.g. `/api/v1/pods`.
    pub path: String,
    /// What is watched, for logs (`pods`).
    pub what: &'static str,
    /// List page size.
    pub page_size: u32,
    /// Minimum server-side watch timeout (each watch asks for `[t, 2t)`).
    pub watch_timeout: Duration,
    /// Retry delays.
    pub backoff: BackoffOptions,
    /// Retry period after an answer that retrying soon will not change.
    pub unavailable_retry: Duration,
}

/// The list+watch loop; run it with [`MetadataWatch::run`].
pub(crate) struct MetadataWatch {
    api: KubeApi,
    opts: MetadataWatchOptions,
    backoff: Backoff,
}

/// What ended one watch.
enum WatchEnd {
    /// Closed by the server or stalled: watch again from the last resourceVersion.
    Rewatch,
    /// 410 Gone: list again.
    Relist,
}

impl MetadataWatch {
    pub(crate) fn new(api: KubeApi, opts: MetadataWatchOptions) -> Self {
        Self {
            backoff: Backoff::new(opts.backoff),
            api,
            opts,
        }
    }

    /// Runs until the task is dropped.
    pub(crate) async fn run(mut self, sink: Arc<dyn MetadataSink>) {
        let mut rv: Option<String> = None;
        loop {
            let from = match rv.take() {
                Some(rv) => rv,
                None => match self.list(sink.as_ref()).await {
                    Some(rv) => rv,
                    None => continue,
                },
            };
            rv = match self.watch(sink.as_ref(), from).await {
                (WatchEnd::Rewatch, last) => Some(last),
                (WatchEnd::Relist, _) => None,
            };
        }
    }

    /// Lists the whole collection; returns the list's resourceVersion, or None after a
    /// failure (already waited for).
    async fn list(&mut self, sink: &dyn MetadataSink) -> Option<String> {
        sink.list_started();
        let mut continue_token: Option<String> = None;
        let mut listed = 0usize;
        loop {
            let token = self.api.spare_token().await;
            let page = self
                .api
                .list_metadata(
                    token,
                    &self.opts.path,
                    self.opts.page_size,
                    continue_token.as_deref(),
                )
                .await;
            match page {
                Ok(page) => {
                    listed += page.items.len();
                    sink.list_page(page.items);
                    match page.continue_token {
                        Some(t) => continue_token = Some(t),
                        None if page.resource_version.is_empty() => {
                            self.fail(
                                sink,
                                &ApiError::decode(
                                    "metadata list",
                                    "last page has no resourceVersion",
                                    b"",
                                ),
                            )
                            .await;
                            return None;
                        }
                        None => {
                            sink.list_complete();
                            info!(
                                what = self.opts.what,
                                objects = listed,
                                "metadata of every object listed, watching for changes"
                            );
                            return Some(page.resource_version);
                        }
                    }
                }
                Err(e) if e.is_gone() => {
                    debug!(what = self.opts.what, error = %e, "metadata list continue token expired, listing again");
                    return None;
                }
                Err(e) => {
                    self.fail(sink, &e).await;
                    return None;
                }
            }
        }
    }

    /// Watches from `rv` until the watch ends; returns why and the last resourceVersion.
    async fn watch(&mut self, sink: &dyn MetadataSink, rv: String) -> (WatchEnd, String) {
        let token = self.api.spare_token().await;
        let opened = self
            .api
            .watch_metadata(token, &self.opts.path, &rv, self.opts.watch_timeout)
            .await;
        let mut watch = match opened {
            Ok(w) => w,
            Err(e) if e.is_gone() => return (WatchEnd::Relist, rv),
            Err(e) => {
                self.fail(sink, &e).await;
                return (WatchEnd::Rewatch, rv);
            }
        };
        debug!(what = self.opts.what, resource_version = %rv, "metadata watch open");
        let started = Instant::now();
        let mut last = rv;
        let mut delivered = false;
        let stall_after = self
            .opts
            .watch_timeout
            .saturating_mul(2)
            .saturating_add(STALL_GRACE);
        loop {
            let next = tokio::time::timeout_at(started + stall_after, watch.next()).await;
            match next {
                Err(_) => {
                    warn!(what = self.opts.what, after = ?stall_after, "metadata watch stalled, re-opening it");
                    return (WatchEnd::Rewatch, last);
                }
                Ok(None) => {
                    if !delivered && started.elapsed() < SHORT_WATCH {
                        tokio::time::sleep(self.backoff.next_delay()).await;
                    }
                    return (WatchEnd::Rewatch, last);
                }
                Ok(Some(Ok(event))) => {
                    delivered = true;
                    if let Some(rv) = deliver(sink, event) {
                        last = rv;
                    }
                }
                Ok(Some(Err(e @ ApiError::Decode { .. }))) => {
                    warn!(what = self.opts.what, error = %e, "skipping malformed metadata watch line");
                }
                Ok(Some(Err(e))) if e.is_gone() => return (WatchEnd::Relist, last),
                Ok(Some(Err(e))) => {
                    self.fail(sink, &e).await;
                    return (WatchEnd::Rewatch, last);
                }
            }
        }
    }

    /// Reports a failure and waits before the retry.
    async fn fail(&mut self, sink: &dyn MetadataSink, error: &ApiError) {
        if unavailable(error) {
            sink.unavailable(error);
            warn!(
                what = self.opts.what,
                error = %error,
                retry_in_s = self.opts.unavailable_retry.as_secs(),
                "cannot list and watch the metadata of every object; looking objects up one by one instead"
            );
            tokio::time::sleep(self.opts.unavailable_retry).await;
            return;
        }
        let delay = match error {
            ApiError::TooManyRequests { retry_after } => self
                .backoff
                .next_delay()
                .max(retry_after.unwrap_or_default()),
            _ => self.backoff.next_delay(),
        };
        warn!(
            what = self.opts.what,
            error = %error,
            retry_in_ms = delay.as_millis() as u64,
            "metadata list or watch failed, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Hands one notification to the sink; returns its resourceVersion.
fn deliver(sink: &dyn MetadataSink, event: WatchEvent) -> Option<String> {
    let rv = event.resource_version();
    let change = match event {
        WatchEvent::Added(object) | WatchEvent::Modified(object) => {
            parse_metadata(&object).map(Change::Upsert)
        }
        WatchEvent::Deleted(object) => parse_metadata(&object).map(Change::Delete),
        WatchEvent::Bookmark { .. } => return rv,
    };
    match change {
        Ok(change) => sink.change(change),
        Err(e) => warn!(error = %e, "skipping unreadable object in a metadata watch"),
    }
    rv
}

/// Whether retrying soon will not help: RBAC refuses, the collection is not served, or
/// the server refuses the request itself.
fn unavailable(error: &ApiError) -> bool {
    match error {
        ApiError::Forbidden { .. } | ApiError::NotFound { .. } => true,
        ApiError::Unexpected { code, .. } => (400..500).contains(code) && *code != 408,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use herald_kubesim::{HttpFault, KubeconfigAuth, SimConfig, Simulator};
    use serde_json::json;

    use super::*;
    use crate::kube::client::{ClientEnv, ClientOptions, connect};
    use crate::kube::stats::KubeStats;

    /// What the watch told the sink, in order.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Recorder {
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        fn seen(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    impl MetadataSink for Recorder {
        fn list_started(&self) {
            self.push("list".into());
        }
        fn list_page(&self, items: Vec<ObjectMetadata>) {
            let mut names: Vec<String> = items
                .iter()
                .map(|m| m.labels.get("name").cloned().unwrap_or_default())
                .collect();
            names.sort();
            self.push(format!("page {}", names.join(",")));
        }
        fn list_complete(&self) {
            self.push("complete".into());
        }
        fn change(&self, change: Change) {
            let (what, m) = match change {
                Change::Upsert(m) => ("upsert", m),
                Change::Delete(m) => ("delete", m),
            };
            self.push(format!(
                "{what} {}",
                m.labels.get("name").cloned().unwrap_or_default()
            ));
        }
        fn unavailable(&self, error: &ApiError) {
            self.push(format!(
                "unavailable {}",
                matches!(error, ApiError::Forbidden { .. })
            ));
        }
    }

    fn pod(sim: &Simulator, name: &str) {
        sim.put_object(
            "v1",
            "Pod",
            json!({"name": name, "namespace": "shop", "labels": {"name": name}}),
        )
        .unwrap();
    }

    async fn wait_for(rec: &Recorder, what: &str) {
        for _ in 0..1000 {
            if rec.seen().iter().any(|s| s == what) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never saw {what:?}: {:?}", rec.seen());
    }

    #[tokio::test]
    async fn lists_in_pages_watches_relists_on_410_and_retries_after_a_refusal() {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        for name in ["a", "b", "c"] {
            pod(&sim, name);
        }
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig, KubeconfigAuth::Anonymous)
            .unwrap();
        let conn = connect(ClientOptions {
            kubeconfig: Some(kubeconfig),
            service_account_dir: dir.path().join("none"),
            env: ClientEnv::default(),
            qps: -1.0,
            burst: 0,
            request_timeout: Duration::from_secs(5),
            stats: Arc::new(KubeStats::default()),
        })
        .await
        .unwrap();
        // The first list is refused; the retry comes after `unavailable_retry`.
        sim.faults()
            .fail_next("/api/v1/pods", 1, HttpFault::Forbidden);
        let rec = Arc::new(Recorder::default());
        let watch = MetadataWatch::new(
            conn.api.clone(),
            MetadataWatchOptions {
                path: "/api/v1/pods".into(),
                what: "pods",
                page_size: 2,
                watch_timeout: Duration::from_secs(60),
                backoff: BackoffOptions {
                    initial: Duration::from_millis(10),
                    max: Duration::from_millis(50),
                    reset_after: Duration::from_secs(10),
                },
                unavailable_retry: Duration::from_millis(200),
            },
        );
        let sink: Arc<dyn MetadataSink> = rec.clone();
        let task = tokio::spawn(watch.run(sink));
        wait_for(&rec, "complete").await;
        assert_eq!(
            rec.seen(),
            [
                "list",
                "unavailable true",
                "list",
                "page a,b",
                "page c",
                "complete"
            ]
        );
        // Changes arrive through the watch (opened once the list completed: wait for
        // it, or a slow machine counts its opening as a re-open).
        for _ in 0..1000 {
            if sim.requests().iter().any(|r| r.watch) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sim.clear_requests();
        pod(&sim, "d");
        sim.delete_object("v1", "Pod", "shop", "a").unwrap();
        wait_for(&rec, "delete a").await;
        assert!(rec.seen().contains(&"upsert d".to_owned()));
        let watches: Vec<_> = sim.requests().into_iter().filter(|r| r.watch).collect();
        assert!(watches.is_empty(), "the open watch carried the changes");
        // History compacted while the watch is down (its re-opening held up at the
        // server): 410 on the re-watch, a new list.
        sim.faults()
            .stall_next("/api/v1/pods", 1, Duration::from_millis(500));
        sim.faults().close_watches();
        tokio::time::sleep(Duration::from_millis(100)).await;
        pod(&sim, "e");
        sim.compact();
        wait_for(&rec, "page b,c").await;
        wait_for(&rec, "page d,e").await;
        let seen = rec.seen();
        assert_eq!(
            seen.iter().filter(|s| *s == "complete").count(),
            2,
            "{seen:?}"
        );
        task.abort();
        sim.shutdown().await;
    }

    #[test]
    fn refusals_are_unavailable_and_glitches_are_retried() {
        let forbidden = ApiError::Forbidden {
            code: 403,
            message: "pods is forbidden".into(),
        };
        assert!(unavailable(&forbidden));
        assert!(unavailable(&ApiError::NotFound {
            message: String::new()
        }));
        assert!(unavailable(&ApiError::Unexpected {
            code: 406,
            message: String::new()
        }));
        assert!(!unavailable(&ApiError::Unexpected {
            code: 408,
            message: String::new()
        }));
        assert!(!unavailable(&ApiError::Server {
            code: 503,
            message: String::new()
        }));
        assert!(!unavailable(&ApiError::TooManyRequests {
            retry_after: None
        }));
        assert!(!unavailable(&ApiError::StreamCut));
    }
}
