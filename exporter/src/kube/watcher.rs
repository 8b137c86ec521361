//! The list+watch state machine for core/v1 Events.
//!
//! kube-runtime's watcher is not used: it cannot resume from a saved resourceVersion and
//! hides `Retry-After`. This one is a small explicit state machine turned into a
//! [`Stream`] of [`WatchItem`]s that never ends on errors:
//!
//! * with a resume resourceVersion it starts with a watch from it; without one, or when
//!   the server answers 410 Gone, it announces [`WatchItem::ListStarted`] and lists page
//!   by page (a continue token that expires mid-list restarts the list), then watches
//!   from the list's resourceVersion;
//! * a watch closed by the server is re-opened from the last resourceVersion;
//! * when the API server has not reached the watch's resourceVersion — it answers "Too
//!   large resource version" (a watch served by the watch cache), or a watch that stays
//!   quiet for [`WatcherOptions::progress_check`] finds, with a one-item consistent
//!   list, the API's current resourceVersion below its own (etcd restored from a
//!   snapshot: revisions restarted lower, and an etcd-served watch would wait silently
//!   until they catch up) — it lists again from the API's present
//!   ([`RelistReason::Rewound`]);
//! * transport errors, 5xx and cut streams back off (full jitter, 800 ms doubling to 30 s)
//!   and re-watch; a 429 waits for `max(Retry-After, backoff)`;
//! * a malformed line or an Event that cannot be parsed is logged, counted and skipped.
//!
//! Memory stays bounded by one list page.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::Stream;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use herald_proto::kube_json::{has_involved_object, parse_kube_event};
use herald_proto::{Event, Observation};

use super::api::{KubeApi, ListParams};
use super::backoff::{Backoff, BackoffOptions};
use super::cache::GenCache;
use super::error::ApiError;
use super::stats::{KubeStats, RestartReason};
use super::watch_stream::{EventWatch, WatchEvent, object_resource_version};

/// client-go's minimum watch timeout (the server timeout is drawn from `[t, 2t)`).
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Default quiet time after which a watch checks the API server is not behind it.
pub const DEFAULT_PROGRESS_CHECK: Duration = Duration::from_secs(60);
/// Default list page size.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// Watches shorter than this that delivered nothing are treated as suspicious and
/// followed by a backoff delay (as client-go's "very short watch").
const SHORT_WATCH: Duration = Duration::from_secs(1);
/// Events remembered for the "no involvedObject" warning (warned once per event).
const WARNED_EVENTS: usize = 4096;

/// Why a full list is starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelistReason {
    /// No resume resourceVersion was given.
    ColdStart,
    /// The resume resourceVersion was too old (410 on the first watch).
    ResumeExpired,
    /// The watch (or a list continue token) answered 410 Gone.
    Gone,
    /// The API server is behind the watch's resourceVersion (its revisions restarted
    /// lower, for example after an etcd restore).
    Rewound,
}

/// One item of the watch stream.
// Event items dominate the stream; boxing them would add an allocation per event to
// shrink the rare small variants.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WatchItem {
    /// A full list is starting (cold start, resume RV too old, or 410 Gone).
    ListStarted {
        /// Why.
        reason: RelistReason,
    },
    /// One Event object: from a list page (Observation::Listed) or a watch ADDED /
    /// MODIFIED (Observation::Added / Modified). DELETED is not reported.
    Event {
        /// The parsed Event (its `observation` and `observed_at` are set).
        event: Event,
        /// How it was observed.
        observation: Observation,
    },
    /// Everything before this item is complete up to `resource_version`: after a
    /// whole list (the list's RV), after each watch event (its RV), on BOOKMARK.
    /// The caller persists it and resumes from it after a restart.
    Checkpoint {
        /// The resourceVersion to resume from.
        resource_version: String,
    },
}

/// Settings of an [`EventWatcher`].
#[derive(Debug, Clone)]
pub struct WatcherOptions {
    /// Only Events of this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Resume from this resourceVersion (a saved [`WatchItem::Checkpoint`]).
    pub resume_resource_version: Option<String>,
    /// List page size (`limit`).
    pub page_size: u32,
    /// Minimum server-side watch timeout; each watch asks for `[t, 2t)`.
    pub watch_timeout: Duration,
    /// A watch that neither delivers nor closes for `2 × watch_timeout + stall_grace`
    /// is abandoned and re-opened.
    pub stall_grace: Duration,
    /// A watch that delivers nothing (no event, no bookmark) for this long checks that
    /// the API server's resourceVersion is not behind its own; zero disables the check.
    pub progress_check: Duration,
    /// Retry delays.
    pub backoff: BackoffOptions,
}

impl Default for WatcherOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            resume_resource_version: None,
            page_size: DEFAULT_PAGE_SIZE,
            watch_timeout: DEFAULT_WATCH_TIMEOUT,
            stall_grace: Duration::from_secs(30),
            progress_check: DEFAULT_PROGRESS_CHECK,
            backoff: BackoffOptions::default(),
        }
    }
}

/// Shared view of the watcher's health, for health endpoints and metrics.
#[derive(Debug, Clone)]
pub struct WatchHealth {
    inner: Arc<HealthInner>,
}

#[derive(Debug)]
struct HealthInner {
    last_good: Mutex<Option<Instant>>,
    consecutive_failures: AtomicU32,
    stats: Arc<KubeStats>,
}

impl WatchHealth {
    fn new(stats: Arc<KubeStats>) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                last_good: Mutex::new(None),
                consecutive_failures: AtomicU32::new(0),
                stats,
            }),
        }
    }

    /// Returns when the list/watch was last known good (a page listed, a watch opened,
    /// a notification received or a watch closed normally); `None` before that.
    pub fn last_good(&self) -> Option<Instant> {
        *self
            .inner
            .last_good
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Returns the number of failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.inner.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Returns the number of restarts for `reason` (all watchers sharing the stats).
    pub fn restarts(&self, reason: RestartReason) -> u64 {
        self.inner.stats.restarts(reason)
    }

    fn mark_good(&self) {
        *self
            .inner
            .last_good
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.inner.consecutive_failures.store(0, Ordering::Relaxed);
    }

    fn mark_failure(&self) -> u32 {
        self.inner
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }
}

/// Where the state machine is.
enum Phase {
    /// Nothing done yet.
    Start,
    /// Listing; `continue_token` is the next page's token (`None`: first page).
    List { continue_token: Option<String> },
    /// About to open a watch from `last_rv`. `resumed`: it is the first watch from the
    /// caller's resume resourceVersion.
    OpenWatch { resumed: bool },
    /// Reading an open watch.
    Watching {
        watch: EventWatch,
        resumed: bool,
        opened: Instant,
        delivered: bool,
        /// When the watch last delivered something (or was opened, or checked).
        active: Instant,
    },
}

/// The list+watch state machine; turn it into a stream with [`EventWatcher::into_stream`].
pub struct EventWatcher {
    api: KubeApi,
    opts: WatcherOptions,
    health: WatchHealth,
    phase: Phase,
    /// Items produced but not yet handed out (at most one list page).
    pending: VecDeque<WatchItem>,
    backoff: Backoff,
    /// The resourceVersion everything so far is complete up to.
    last_rv: Option<String>,
    /// UIDs of events already warned about for a missing involvedObject.
    warned: GenCache<String, ()>,
}

impl std::fmt::Debug for EventWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWatcher")
            .field("namespace", &self.opts.namespace)
            .field("last_rv", &self.last_rv)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl EventWatcher {
    /// Creates a watcher; nothing is requested until the stream is polled.
    pub fn new(api: KubeApi, opts: WatcherOptions) -> Self {
        let health = WatchHealth::new(api.stats().clone());
        Self {
            backoff: Backoff::new(opts.backoff),
            api,
            opts,
            health,
            phase: Phase::Start,
            pending: VecDeque::new(),
            last_rv: None,
            warned: GenCache::new(WARNED_EVENTS),
        }
    }

    /// Returns a handle on this watcher's health.
    pub fn health(&self) -> WatchHealth {
        self.health.clone()
    }

    /// Turns the watcher into an endless stream of items.
    pub fn into_stream(self) -> impl Stream<Item = WatchItem> + Send + 'static {
        futures::stream::unfold(self, |mut watcher| async move {
            let item = watcher.next_item().await;
            Some((item, watcher))
        })
    }

    /// Returns the next item, doing whatever requests and waits that takes.
    ///
    /// Not cancel-safe (an interrupted step loses its place); the stream returned by
    /// [`EventWatcher::into_stream`] keeps the step alive across dropped `next()` calls.
    async fn next_item(&mut self) -> WatchItem {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return item;
            }
            self.step().await;
        }
    }

    /// Advances the state machine by one request or one watch notification.
    async fn step(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Start => self.start(),
            Phase::List { continue_token } => self.list_page(continue_token).await,
            Phase::OpenWatch { resumed } => self.open_watch(resumed).await,
            Phase::Watching {
                watch,
                resumed,
                opened,
                delivered,
                active,
            } => {
                self.read_watch(watch, resumed, opened, delivered, active)
                    .await;
            }
        }
    }

    fn start(&mut self) {
        match self
            .opts
            .resume_resource_version
            .clone()
            .filter(|rv| !rv.is_empty())
        {
            Some(rv) => {
                info!(resource_version = %rv, "resuming event watch");
                self.last_rv = Some(rv);
                self.phase = Phase::OpenWatch { resumed: true };
            }
            None => self.relist(RelistReason::ColdStart),
        }
    }

    fn relist(&mut self, reason: RelistReason) {
        match reason {
            RelistReason::ColdStart => {}
            RelistReason::Rewound => self.api.stats().record_restart(RestartReason::Rewound),
            RelistReason::ResumeExpired | RelistReason::Gone => {
                self.api.stats().record_restart(RestartReason::Gone);
            }
        }
        info!(?reason, "listing all events");
        self.pending.push_back(WatchItem::ListStarted { reason });
        self.phase = Phase::List {
            continue_token: None,
        };
    }

    async fn list_page(&mut self, continue_token: Option<String>) {
        let params = ListParams {
            namespace: self.opts.namespace.as_deref(),
            limit: self.opts.page_size,
            continue_token: continue_token.as_deref(),
            resource_version: None,
        };
        let result = self.api.list_events(&params).await.and_then(|page| {
            if page.continue_token.is_none() && page.resource_version.is_empty() {
                // Without a list resourceVersion there is nothing to watch from; ask for
                // the same page again rather than yield its items twice.
                Err(ApiError::decode(
                    "event list",
                    "last page has no resourceVersion",
                    b"",
                ))
            } else {
                Ok(page)
            }
        });
        match result {
            Ok(page) => {
                self.health.mark_good();
                debug!(items = page.items.len(), remaining = ?page.remaining_item_count, "listed event page");
                for item in page.items {
                    self.push_object(&item, Observation::Listed);
                }
                match page.continue_token {
                    Some(token) => {
                        self.phase = Phase::List {
                            continue_token: Some(token),
                        }
                    }
                    None => {
                        self.checkpoint(page.resource_version);
                        self.phase = Phase::OpenWatch { resumed: false };
                    }
                }
            }
            Err(e) if e.is_gone() => {
                warn!(error = %e, "list continue token expired, listing again from the start");
                self.relist(RelistReason::Gone);
            }
            Err(e) => {
                self.fail(&e, "event list").await;
                self.phase = Phase::List { continue_token };
            }
        }
    }

    async fn open_watch(&mut self, resumed: bool) {
        let Some(rv) = self.last_rv.clone() else {
            self.relist(RelistReason::ColdStart);
            return;
        };
        match self
            .api
            .watch_events(self.opts.namespace.as_deref(), &rv, self.opts.watch_timeout)
            .await
        {
            Ok(watch) => {
                self.health.mark_good();
                debug!(resource_version = %rv, "event watch open");
                self.phase = Phase::Watching {
                    watch,
                    resumed,
                    opened: Instant::now(),
                    delivered: false,
                    active: Instant::now(),
                };
            }
            Err(e) if e.is_gone() => self.relist(gone_reason(resumed, false)),
            Err(e) if e.is_too_large() => self.rewound(&e.to_string()),
            Err(e) => {
                self.fail(&e, "event watch").await;
                self.phase = Phase::OpenWatch { resumed };
            }
        }
    }

    async fn read_watch(
        &mut self,
        mut watch: EventWatch,
        resumed: bool,
        opened: Instant,
        delivered: bool,
        active: Instant,
    ) {
        let stall_after = self
            .opts
            .watch_timeout
            .saturating_mul(2)
            .saturating_add(self.opts.stall_grace);
        let stalled_at = opened + stall_after;
        let check_at = (!self.opts.progress_check.is_zero())
            .then(|| active + self.opts.progress_check)
            .filter(|at| *at < stalled_at);
        let next = tokio::time::timeout_at(check_at.unwrap_or(stalled_at), watch.next()).await;
        let item = match next {
            Err(_) if check_at.is_some() => {
                if self.api_is_behind().await {
                    return;
                }
                self.phase = Phase::Watching {
                    watch,
                    resumed,
                    opened,
                    delivered,
                    active: Instant::now(),
                };
                return;
            }
            Err(_) => {
                warn!(after = ?stall_after, "event watch stalled, re-opening it");
                self.api.stats().record_restart(RestartReason::Error);
                self.health.mark_failure();
                self.phase = Phase::OpenWatch {
                    resumed: resumed && !delivered,
                };
                return;
            }
            Ok(item) => item,
        };
        match item {
            None => {
                self.api.stats().record_restart(RestartReason::Timeout);
                debug!("event watch closed by the server, re-opening it");
                if !delivered && opened.elapsed() < SHORT_WATCH {
                    // A watch that closes at once again and again must not spin.
                    let delay = self.backoff.next_delay();
                    debug!(
                        delay_ms = delay.as_millis() as u64,
                        "very short watch, waiting"
                    );
                    tokio::time::sleep(delay).await;
                } else {
                    self.health.mark_good();
                }
                self.phase = Phase::OpenWatch {
                    resumed: resumed && !delivered,
                };
            }
            Some(Ok(event)) => {
                self.health.mark_good();
                self.on_watch_event(event);
                self.phase = Phase::Watching {
                    watch,
                    resumed,
                    opened,
                    delivered: true,
                    active: Instant::now(),
                };
            }
            Some(Err(e @ ApiError::Decode { .. })) => {
                self.api.stats().record_malformed_event();
                warn!(error = %e, "skipping malformed watch line");
                self.phase = Phase::Watching {
                    watch,
                    resumed,
                    opened,
                    delivered,
                    active: Instant::now(),
                };
            }
            Some(Err(e)) if e.is_gone() => self.relist(gone_reason(resumed, delivered)),
            Some(Err(e)) if e.is_too_large() => self.rewound(&e.to_string()),
            Some(Err(e)) => {
                self.fail(&e, "event watch").await;
                self.phase = Phase::OpenWatch {
                    resumed: resumed && !delivered,
                };
            }
        }
    }

    /// A quiet watch asks the API for its current resourceVersion (a one-item consistent
    /// list). Returns true — and starts a list — when that is below the watch's own:
    /// the watch cannot make progress until the API's revisions catch up.
    async fn api_is_behind(&mut self) -> bool {
        let params = ListParams {
            namespace: self.opts.namespace.as_deref(),
            limit: 1,
            continue_token: None,
            resource_version: None,
        };
        let current = match self.api.list_events(&params).await {
            Ok(page) => page.resource_version,
            Err(e) => {
                let failures = self.health.mark_failure();
                warn!(error = %e, consecutive_failures = failures, "cannot check the event watch's progress");
                return false;
            }
        };
        let ours = self
            .last_rv
            .as_deref()
            .and_then(|rv| rv.parse::<u64>().ok());
        match (current.parse::<u64>().ok(), ours) {
            (Some(api), Some(ours)) if api < ours => {
                self.rewound(&format!(
                    "the API server's resourceVersion {api} is behind the watch's {ours}"
                ));
                true
            }
            _ => {
                debug!(api = %current, watch = ?self.last_rv, "quiet event watch is current");
                false
            }
        }
    }

    /// The API server has not reached the watch's resourceVersion: list from its present.
    fn rewound(&mut self, why: &str) {
        self.health.mark_failure();
        warn!(
            reason = %why,
            resource_version = ?self.last_rv,
            "the API server is behind the event watch (etcd restored from a snapshot?); listing again"
        );
        self.relist(RelistReason::Rewound);
    }

    fn on_watch_event(&mut self, event: WatchEvent) {
        let rv = match event {
            WatchEvent::Added(object) => self.push_object(&object, Observation::Added),
            WatchEvent::Modified(object) => self.push_object(&object, Observation::Modified),
            WatchEvent::Deleted(object) => object_resource_version(&object),
            WatchEvent::Bookmark { resource_version } => Some(resource_version),
        };
        if let Some(rv) = rv.filter(|rv| !rv.is_empty()) {
            self.checkpoint(rv);
        }
    }

    fn checkpoint(&mut self, resource_version: String) {
        self.last_rv = Some(resource_version.clone());
        self.pending
            .push_back(WatchItem::Checkpoint { resource_version });
    }

    /// Parses one Event object and queues it, or logs and counts why it was skipped.
    /// Returns the object's resourceVersion (read leniently when the Event is
    /// malformed, so the watch still moves past it).
    fn push_object(&mut self, object: &RawValue, observation: Observation) -> Option<String> {
        match parse_kube_event(object.get().as_bytes()) {
            Ok(mut event) => {
                if !has_involved_object(&event) && self.warned.get(&event.metadata.uid).is_none() {
                    warn!(
                        namespace = %event.metadata.namespace,
                        name = %event.metadata.name,
                        "event has no involvedObject, exporting it anyway"
                    );
                    self.warned.insert(event.metadata.uid.clone(), ());
                }
                let rv = event.metadata.resource_version.clone();
                event.observation = observation;
                event.observed_at = Some(Utc::now());
                self.pending
                    .push_back(WatchItem::Event { event, observation });
                Some(rv)
            }
            Err(e) => {
                self.api.stats().record_malformed_event();
                let (namespace, name) = object_name(object);
                warn!(%namespace, %name, error = %e, "skipping malformed event");
                object_resource_version(object)
            }
        }
    }

    /// Counts a failure, logs it and waits before the retry.
    async fn fail(&mut self, error: &ApiError, what: &'static str) {
        let failures = self.health.mark_failure();
        let backoff = self.backoff.next_delay();
        let (reason, delay) = match error {
            ApiError::TooManyRequests { retry_after } => (
                RestartReason::Throttled,
                backoff.max(retry_after.unwrap_or_default()),
            ),
            _ => (RestartReason::Error, backoff),
        };
        self.api.stats().record_restart(reason);
        warn!(
            error = %error,
            request = what,
            consecutive_failures = failures,
            retry_in_ms = delay.as_millis() as u64,
            "kubernetes request failed, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// A 410 on the very first watch from the caller's resourceVersion means that version
/// was too old; any later 410 is an ordinary expiry.
fn gone_reason(resumed: bool, delivered: bool) -> RelistReason {
    if resumed && !delivered {
        RelistReason::ResumeExpired
    } else {
        RelistReason::Gone
    }
}

/// Returns `(namespace, name)` of an object for logs, `?` when unreadable.
fn object_name(object: &RawValue) -> (String, String) {
    let value: Value = serde_json::from_str(object.get()).unwrap_or(Value::Null);
    let field = |k: &str| {
        value
            .get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    (field("namespace"), field("name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_reason_distinguishes_resume_expiry() {
        assert_eq!(gone_reason(true, false), RelistReason::ResumeExpired);
        assert_eq!(gone_reason(true, true), RelistReason::Gone);
        assert_eq!(gone_reason(false, false), RelistReason::Gone);
    }

    #[test]
    fn object_name_is_readable_or_question_marks() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        let v = raw(r#"{"metadata": {"namespace": "shop", "name": "web.1"}}"#);
        assert_eq!(object_name(&v), ("shop".into(), "web.1".into()));
        assert_eq!(object_name(&raw("[1]")), ("?".into(), "?".into()));
    }
}
