//! The list+watch loop of `Rule` objects: keeps the compiled objects, publishes a
//! new rule set when their rules change, and writes each object's status.
//!
//! A failed list or watch is retried with exponential backoff (1 s doubling to
//! 30 s), listing again, and the last rule set published stays in effect
//! meanwhile; a watch that ends cleanly is resumed from the last resourceVersion
//! seen; 410 Gone lists again at once (objects that disappeared meanwhile are
//! dropped). Status writes wait a random 0–1 s and are skipped when
//! the object's status, as last seen, already says the same (another ruler wrote
//! it), so a fleet of rulers writes each status about once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::kube::{KubeError, Notification, RuleApi};
use super::object::{self, LoadedObject};
use super::set::{Objects, build};
use super::status;
use super::targets::Targets;
use crate::rules::{ActiveRule, RuleSet};

/// Timings of the watcher.
#[derive(Debug, Clone)]
pub struct WatcherOptions {
    /// First retry delay after a failure.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Server-side bound of one watch request.
    pub watch_timeout: Duration,
    /// Longest random delay before a status write.
    pub status_jitter: Duration,
    /// How long past `watch_timeout` a watch may stay open before it is taken for
    /// a dead connection (the server should have ended it) and replaced.
    pub watch_grace: Duration,
}

impl Default for WatcherOptions {
    fn default() -> Self {
        WatcherOptions {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            watch_timeout: Duration::from_secs(300),
            status_jitter: Duration::from_secs(1),
            watch_grace: Duration::from_secs(30),
        }
    }
}

/// What the watcher reports (registered under `herald_ruler_`).
#[derive(Debug, Clone, Default)]
pub struct RuleObjectMetrics {
    /// `Rule` objects loaded.
    pub objects: Gauge,
    /// Rules of `Rule` objects left out because they do not load.
    pub failed_rules: Gauge,
    /// Failed lists and watches.
    pub failures: Counter,
}

impl RuleObjectMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> RuleObjectMetrics {
        let m = RuleObjectMetrics::default();
        let r = registry.sub_registry_with_prefix("herald_ruler");
        r.register(
            "rule_objects",
            "kube-events Rule objects loaded (ruler.ruleObjects)",
            m.objects.clone(),
        );
        r.register(
            "rule_object_failed_rules",
            "Rules of Rule objects left out because they do not load (named on the object's status)",
            m.failed_rules.clone(),
        );
        r.register(
            "rule_object_watch_failures",
            "Failed lists and watches of Rule objects (retried with backoff)",
            m.failures.clone(),
        );
        m
    }
}

/// Watches `Rule` objects and publishes the rule set.
pub struct RuleObjectWatcher {
    api: RuleApi,
    targets: Targets,
    config_rules: Vec<ActiveRule>,
    receivers: usize,
    tx: watch::Sender<Arc<RuleSet>>,
    objects: Objects,
    /// Status writes due, by object.
    pending: BTreeMap<(String, String), Instant>,
    options: WatcherOptions,
    metrics: RuleObjectMetrics,
}

/// How a watch ended.
enum WatchEnd {
    /// Cancelled: stop.
    Stop,
    /// Resume from the last resourceVersion.
    Resume,
    /// 410 Gone: list again.
    Relist,
    /// A failure: back off, then resume.
    Failed(KubeError),
}

impl RuleObjectWatcher {
    /// A watcher publishing on `tx`; the set it publishes starts with
    /// `config_rules` (the config file's, over `receivers` receivers).
    pub fn new(
        api: RuleApi,
        targets: Targets,
        config_rules: &RuleSet,
        receivers: usize,
        tx: watch::Sender<Arc<RuleSet>>,
        options: WatcherOptions,
        metrics: RuleObjectMetrics,
    ) -> RuleObjectWatcher {
        RuleObjectWatcher {
            api,
            targets,
            config_rules: config_rules.rules().to_vec(),
            receivers,
            tx,
            objects: Objects::new(),
            pending: BTreeMap::new(),
            options,
            metrics,
        }
    }

    /// Lists and watches until `cancel`.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = self.options.backoff_min;
        'relist: loop {
            let list = tokio::select! {
                () = cancel.cancelled() => return,
                l = self.api.list() => l,
            };
            let list = match list {
                Ok(l) => l,
                Err(e) => {
                    self.metrics.failures.inc();
                    warn!(error = %e, hint = list_hint(&e), retry_in_secs = backoff.as_secs_f64(), "cannot list Rule objects; keeping the rules loaded so far");
                    if !self.sleep(backoff, &cancel).await {
                        return;
                    }
                    backoff = (backoff * 2).min(self.options.backoff_max);
                    continue;
                }
            };
            self.replace_all(&list.items);
            let mut rv = list.resource_version;
            loop {
                match self.watch_once(&mut rv, &mut backoff, &cancel).await {
                    WatchEnd::Stop => return,
                    WatchEnd::Resume => {}
                    WatchEnd::Relist => {
                        info!("Rule objects' resourceVersion expired (410); listing again");
                        continue 'relist;
                    }
                    WatchEnd::Failed(e) => {
                        // Listing again (not resuming) also recovers from a
                        // resourceVersion the server no longer knows in any form
                        // (an etcd restore); Rule objects are few, a list is cheap.
                        self.metrics.failures.inc();
                        warn!(error = %e, retry_in_secs = backoff.as_secs_f64(), "watch of Rule objects failed; keeping the rules loaded so far");
                        if !self.sleep(backoff, &cancel).await {
                            return;
                        }
                        backoff = (backoff * 2).min(self.options.backoff_max);
                        continue 'relist;
                    }
                }
            }
        }
    }

    /// Sleeps `d` while writing the statuses that fall due; false when cancelled.
    async fn sleep(&mut self, d: Duration, cancel: &CancellationToken) -> bool {
        let until = Instant::now() + d;
        loop {
            let next = self.next_due().map_or(until, |t| t.min(until));
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = tokio::time::sleep_until(next) => {}
            }
            self.write_due().await;
            if Instant::now() >= until {
                return true;
            }
        }
    }

    /// One watch request, from `rv` (updated as notifications arrive); a watch
    /// that starts resets `backoff`.
    async fn watch_once(
        &mut self,
        rv: &mut String,
        backoff: &mut Duration,
        cancel: &CancellationToken,
    ) -> WatchEnd {
        let started = tokio::select! {
            () = cancel.cancelled() => return WatchEnd::Stop,
            s = self.api.watch(rv, self.options.watch_timeout) => s,
        };
        let mut stream = match started {
            Ok(s) => {
                *backoff = self.options.backoff_min;
                s
            }
            Err(e) if e.is_gone() => return WatchEnd::Relist,
            Err(e) => return WatchEnd::Failed(e),
        };
        // the server ends the watch after `watch_timeout`; one open much longer than
        // that went silent (a dead connection)
        let dead_after = self.options.watch_timeout + self.options.watch_grace;
        let deadline = Instant::now() + dead_after;
        loop {
            let due = self.next_due();
            let next = tokio::select! {
                () = cancel.cancelled() => return WatchEnd::Stop,
                () = sleep_until_opt(due) => {
                    self.write_due().await;
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => {
                    return WatchEnd::Failed(KubeError::Timeout(dead_after));
                }
                n = stream.next() => n,
            };
            match next {
                None => return WatchEnd::Resume,
                Some(Err(e)) if e.is_gone() => return WatchEnd::Relist,
                Some(Err(e)) => return WatchEnd::Failed(e),
                Some(Ok(n)) => {
                    if let Some(v) = n.resource_version() {
                        *rv = v;
                    }
                    match n {
                        Notification::Applied(obj) => self.apply(&obj),
                        Notification::Deleted(obj) => self.delete(&obj),
                        Notification::Bookmark(_) => {}
                    }
                }
            }
        }
    }

    /// A fresh list: the objects are exactly `items`.
    fn replace_all(&mut self, items: &[serde_json::Value]) {
        let mut fresh = Objects::new();
        for item in items {
            let key = match object::key_of(item) {
                Ok(k) => k,
                Err(e) => {
                    warn!(error = %e, "a listed Rule object cannot be read; skipped");
                    continue;
                }
            };
            if let Some(o) = self.load(item, self.objects.get(&key)) {
                fresh.insert(key, o);
            }
        }
        let gone: Vec<_> = self
            .objects
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .cloned()
            .collect();
        for (ns, name) in &gone {
            info!(rule_object = %format!("{ns}/{name}"), "Rule object gone; its rules are removed");
        }
        self.objects = fresh;
        self.pending.retain(|k, _| self.objects.contains_key(k));
        let keys: Vec<_> = self.objects.keys().cloned().collect();
        for k in keys {
            self.schedule_status(&k);
        }
        self.publish();
    }

    /// An added or modified object.
    fn apply(&mut self, obj: &serde_json::Value) {
        let key = match object::key_of(obj) {
            Ok(k) => k,
            Err(e) => {
                warn!(error = %e, "a Rule object cannot be read; skipped");
                return;
            }
        };
        let previous = self.objects.get(&key);
        let before = previous.map(|p| p.fingerprint.clone());
        let Some(loaded) = self.load(obj, previous) else {
            return;
        };
        let changed = before.as_deref() != Some(loaded.fingerprint.as_str());
        self.objects.insert(key.clone(), loaded);
        self.schedule_status(&key);
        if changed {
            self.publish();
        }
    }

    /// A deleted object: its rules go.
    fn delete(&mut self, obj: &serde_json::Value) {
        let Ok(key) = object::key_of(obj) else {
            return;
        };
        self.pending.remove(&key);
        if self.objects.remove(&key).is_some() {
            info!(rule_object = %format!("{}/{}", key.0, key.1), "Rule object deleted; its rules are removed");
            self.publish();
        }
    }

    /// Compiles `obj` (reusing `previous` when its rules did not change) and logs
    /// what was left out the first time it is seen.
    fn load(
        &self,
        obj: &serde_json::Value,
        previous: Option<&LoadedObject>,
    ) -> Option<LoadedObject> {
        let loaded = match object::load(obj, previous) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "a Rule object cannot be read; skipped");
                return None;
            }
        };
        if previous.is_none_or(|p| p.fingerprint != loaded.fingerprint) {
            let name = format!("{}/{}", loaded.namespace, loaded.name);
            for p in &loaded.problems {
                warn!(rule_object = %name, rule = %p.rule, index = ?p.index, error = %p.message, "rule of a Rule object left out");
            }
            info!(
                rule_object = %name,
                rules = loaded.total,
                loaded = loaded.rules.len(),
                enabled = loaded.rules.iter().filter(|r| r.enabled).count(),
                "Rule object loaded"
            );
        }
        Some(loaded)
    }

    /// Publishes the rule set of the config file and the current objects.
    fn publish(&self) {
        let failed: usize = self
            .objects
            .values()
            .map(|o| o.total.saturating_sub(o.rules.len()))
            .sum();
        self.metrics
            .objects
            .set(i64::try_from(self.objects.len()).unwrap_or(i64::MAX));
        self.metrics
            .failed_rules
            .set(i64::try_from(failed).unwrap_or(i64::MAX));
        let set = build(
            &self.config_rules,
            &self.objects,
            &self.targets,
            self.receivers,
        );
        debug!(rules = set.rules().len(), "publishing the rule set");
        self.tx.send_replace(Arc::new(set));
    }

    /// Plans a status write for `key` when its status is not what it should be.
    fn schedule_status(&mut self, key: &(String, String)) {
        let Some(obj) = self.objects.get(key) else {
            return;
        };
        if status::up_to_date(obj.status.as_ref(), &status::desired(obj)) {
            self.pending.remove(key);
            return;
        }
        if !self.pending.contains_key(key) {
            let jitter = self.options.status_jitter.mul_f64(rand::random::<f64>());
            self.pending.insert(key.clone(), Instant::now() + jitter);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.pending.values().min().copied()
    }

    /// Writes the statuses that are due and still differ from what was last seen.
    async fn write_due(&mut self) {
        let now = Instant::now();
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.pending.remove(&key);
            let Some(obj) = self.objects.get(&key) else {
                continue;
            };
            let want = status::desired(obj);
            if status::up_to_date(obj.status.as_ref(), &want) {
                continue;
            }
            let name = format!("{}/{}", key.0, key.1);
            match self
                .api
                .patch_status(&key.0, &key.1, &status::patch(&want))
                .await
            {
                Ok(()) => debug!(rule_object = %name, "status written"),
                Err(e) if e.is_not_found() => {
                    warn!(rule_object = %name, error = %e, "cannot write the Rule object's status: the object is gone, or its CustomResourceDefinition has no status subresource (install herald's, see the README)")
                }
                Err(e) => {
                    warn!(rule_object = %name, error = %e, "cannot write the Rule object's status")
                }
            }
        }
    }
}

/// What to do about a failed list.
fn list_hint(e: &KubeError) -> &'static str {
    match e {
        KubeError::Status { code: 404, .. } => {
            "the Rule CustomResourceDefinition (rules.events.kubesphere.io) is not installed: apply the Helm chart's crds/ or kube-events'"
        }
        KubeError::Status {
            code: 401 | 403, ..
        } => {
            "the ruler's credentials may not list rules.events.kubesphere.io: see the README's RBAC for Rule objects"
        }
        _ => "the API server will be asked again",
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Starts watching `Rule` objects through `api` for the receivers of `plan`;
/// returns the live rule set and the watcher's task (stopped by `cancel`). Waits
/// up to `first_sync` for the first list, so lanes do not start without the rules
/// of the objects that exist; past it, they start with the config file's rules and
/// the objects' follow when the API server answers.
pub async fn spawn(
    api: RuleApi,
    targets: Targets,
    plan: &crate::plan::Plan,
    options: WatcherOptions,
    metrics: RuleObjectMetrics,
    first_sync: Duration,
    cancel: CancellationToken,
) -> (watch::Receiver<Arc<RuleSet>>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = watch::channel(plan.rules.clone());
    let watcher = RuleObjectWatcher::new(
        api,
        targets,
        &plan.rules,
        plan.receivers.len(),
        tx,
        options,
        metrics,
    );
    let task = tokio::spawn(watcher.run(cancel));
    if tokio::time::timeout(first_sync, rx.changed())
        .await
        .is_err()
    {
        warn!(
            waited_secs = first_sync.as_secs_f64(),
            "Rule objects are not listed yet; routing with the config file's rules until they are"
        );
    }
    rx.mark_unchanged();
    (rx, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_failures_say_what_to_do() {
        let status = |code| KubeError::Status {
            code,
            message: String::new(),
        };
        assert!(list_hint(&status(404)).contains("CustomResourceDefinition"));
        assert!(list_hint(&status(403)).contains("RBAC"));
        assert!(list_hint(&status(401)).contains("RBAC"));
        assert!(list_hint(&status(500)).contains("asked again"));
    }
}
