//! The dispatcher: sends metadata reads with the tokens the rate limiter has to spare.
//!
//! One loop takes a concurrency permit, waits until a lookup may be sent
//! (`State::next_due`), waits for a spare token, then sends the lookup `State::take_due`
//! picks at that moment (the most useful one, see `state`): the budget is never spent
//! ahead on a queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::state::Due;
use super::{Key, Outcome, Shared, Target};
use crate::kube::api::{ObjectMetadata, object_path};
use crate::kube::error::ApiError;
use crate::kube::limiter::Token;
use crate::kube::packed::PackedMetadata;

/// At most one failure warning per kind in this period.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Kinds remembered for warning rate limiting.
const MAX_WARN_KINDS: usize = 256;

/// Why a fetch failed, and whether that answer may be cached.
struct Failure {
    error: String,
    cacheable: bool,
}

/// Runs the dispatcher until the task is dropped.
pub(super) async fn dispatch(shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(shared.opts.max_concurrent.max(1)));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        wait_due(&shared).await;
        let token = shared.api.spare_token().await;
        let picked = shared.lock().take_due(Instant::now());
        match picked {
            Some((key, target)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    fetch(&shared, key, target, token).await;
                    drop(permit);
                });
            }
            // answered meanwhile (by the Pod watch, or given up)
            None => shared.api.refund(token),
        }
    }
}

/// Returns once a lookup may be sent.
async fn wait_due(shared: &Shared) {
    loop {
        // `notified` is created before the state is looked at, so that a wake-up sent
        // in between is not lost.
        let woken = shared.wake.notified();
        let due = shared.lock().next_due(Instant::now());
        match due {
            Due::Now => return,
            Due::At(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = woken => {}
                }
            }
            Due::Idle => woken.await,
        }
    }
}

/// Reads `target`, caches the answer and hands it to the waiters.
async fn fetch(shared: &Shared, key: Key, target: Target, token: Token) {
    let timeout = shared.opts.timeout;
    let result = match tokio::time::timeout(timeout, fetch_target(shared, &target, token)).await {
        Ok(r) => r,
        Err(_) => Err(Failure {
            error: format!("no answer within {timeout:?}"),
            cacheable: false,
        }),
    };
    let (outcome, ttl) = match result {
        Ok(Some(meta)) => (
            Outcome::Found(PackedMetadata::pack(meta)),
            Some(shared.opts.cache_ttl),
        ),
        Ok(None) => (Outcome::NotFound, Some(shared.opts.negative_ttl)),
        Err(failure) => {
            warn_failure(shared, &target, &failure.error);
            (
                Outcome::Failed,
                failure.cacheable.then_some(shared.opts.negative_ttl),
            )
        }
    };
    shared.lock().finish(key, outcome, ttl);
}

/// Reads the metadata; `Ok(None)` means 404. `token` pays for the read (it is given
/// back when no read is needed).
async fn fetch_target(
    shared: &Shared,
    target: &Target,
    token: Token,
) -> Result<Option<ObjectMetadata>, Failure> {
    let path = match target {
        Target::Namespace(name) => {
            return match shared.api.get_namespace(token, name).await {
                Ok(meta) => Ok(Some(meta)),
                Err(ApiError::NotFound { .. }) => Ok(None),
                Err(e) => Err(api_failure(&e)),
            };
        }
        Target::Object {
            api_version,
            kind,
            namespace,
            name,
        } => {
            let resolved = shared
                .discovery
                .resolve(api_version, kind)
                .await
                .map_err(|e| api_failure(&e))
                .and_then(|r| {
                    r.ok_or_else(|| Failure {
                        error: format!("kind {kind} is not served in {api_version:?}"),
                        cacheable: true,
                    })
                })
                .and_then(|resource| {
                    let group_version = if api_version.is_empty() {
                        "v1"
                    } else {
                        api_version
                    };
                    let namespace = match (resource.namespaced, namespace.is_empty()) {
                        (true, true) => {
                            return Err(Failure {
                                error: format!(
                                    "{kind} is namespaced but the reference has no namespace"
                                ),
                                cacheable: true,
                            });
                        }
                        (true, false) => Some(namespace.as_str()),
                        (false, _) => None,
                    };
                    Ok(object_path(group_version, &resource.name, namespace, name))
                });
            match resolved {
                Ok(path) => path,
                Err(failure) => {
                    shared.api.refund(token);
                    return Err(failure);
                }
            }
        }
    };
    match shared.api.get_metadata(token, &path).await {
        Ok(meta) => Ok(Some(meta)),
        Err(ApiError::NotFound { .. }) => {
            debug!(%path, "involved object not found, likely deleted");
            Ok(None)
        }
        Err(e) => Err(api_failure(&e)),
    }
}

fn api_failure(e: &ApiError) -> Failure {
    Failure {
        error: e.to_string(),
        // RBAC does not change by itself within seconds; transient errors may.
        cacheable: matches!(e, ApiError::Forbidden { .. }),
    }
}

/// Logs a lookup failure at most once per kind per [`WARN_EVERY`].
fn warn_failure(shared: &Shared, target: &Target, error: &str) {
    let kind = match target {
        Target::Object { kind, .. } => kind.as_str(),
        Target::Namespace(_) => "Namespace",
    };
    let now = Instant::now();
    let mut warned = shared.warned.lock().unwrap_or_else(|p| p.into_inner());
    if warned
        .get(kind)
        .is_some_and(|last| now.saturating_duration_since(*last) < WARN_EVERY)
    {
        debug!(%kind, %error, "involved object lookup failed");
        return;
    }
    if warned.len() >= MAX_WARN_KINDS {
        warned.clear();
    }
    warned.insert(kind.to_owned(), now);
    warn!(%kind, %error, "involved object lookup failed, exporting events of this kind unenriched");
}
