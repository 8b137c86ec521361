//! [`ScriptHook`]: a receiver's script as the driver's [`DeliveryHook`]: builds
//! the two dicts, runs `transform`, checks what came back and applies
//! `onError`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::{debug, warn};

use super::config::{HookConfig, OnError};
use super::pods::{PodLookup, PodSource};
use super::script::{RunError, Script};
use crate::driver::{
    Delivery, DeliveryHook, HookDecision, HookErrorKind, HookOutcome, HookSettings, HookTarget,
};
use crate::model::kee_json;

/// A receiver's hook, ready to run.
pub struct ScriptHook {
    receiver: Arc<str>,
    script: Arc<Script>,
    timeout: std::time::Duration,
    on_error: OnError,
    /// Where `event["pod"]` comes from (`enrichPod`).
    pods: Option<Arc<dyn PodSource>>,
    skip_on_pod_not_found: bool,
}

impl std::fmt::Debug for ScriptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptHook")
            .field("receiver", &self.receiver)
            .field("script", &self.script)
            .field("enrich_pod", &self.pods.is_some())
            .finish_non_exhaustive()
    }
}

/// `enrichPod` is on and nothing can read Pods.
#[derive(Debug, thiserror::Error)]
#[error(
    "this receiver's hook has enrichPod: true, and this process has no access to the Kubernetes API to read Pods"
)]
pub struct NoPodSource;

impl ScriptHook {
    /// The hook of receiver `receiver`; `pods` reads the Pods of `enrichPod`.
    ///
    /// # Errors
    /// [`NoPodSource`]: the hook wants Pods and `pods` is None.
    pub fn new(
        receiver: &str,
        config: &HookConfig,
        pods: Option<Arc<dyn PodSource>>,
    ) -> Result<ScriptHook, NoPodSource> {
        let pods = match (config.enrich_pod, pods) {
            (false, _) => None,
            (true, Some(p)) => Some(p),
            (true, None) => return Err(NoPodSource),
        };
        Ok(ScriptHook {
            receiver: Arc::from(receiver),
            script: config.script.clone(),
            timeout: config.timeout,
            on_error: config.on_error,
            pods,
            skip_on_pod_not_found: config.skip_on_pod_not_found,
        })
    }

    /// Adds `event["pod"]` for a Pod's event (`enrichPod`); returns false when the
    /// event is to be skipped (`skipOnPodNotFound` and the Pod is gone).
    fn add_pod(&self, event: &mut Value, delivery: &Delivery) -> bool {
        let Some(pods) = &self.pods else {
            return true;
        };
        let object = &delivery.event.involved_object;
        if object.kind != "Pod" || object.name.is_empty() {
            return true;
        }
        let pod = match pods.pod(&object.namespace, &object.name) {
            PodLookup::Found(pod) => pod,
            PodLookup::NotFound if self.skip_on_pod_not_found => return false,
            PodLookup::NotFound => Value::Null,
            PodLookup::Failed(error) => {
                warn!(
                    sink = %self.receiver,
                    namespace = %object.namespace,
                    pod = %object.name,
                    error = %error,
                    "cannot read the Pod for the hook; event[\"pod\"] is None"
                );
                Value::Null
            }
        };
        if let Value::Object(map) = event {
            map.insert("pod".into(), pod);
        }
        true
    }

    /// Logs a failed run and turns it into `onError`'s decision.
    fn failed(&self, kind: HookErrorKind, message: &str, delivery: &Delivery) -> HookOutcome {
        warn!(
            sink = %self.receiver,
            script = %self.script.name(),
            event = %delivery.event.idempotency_key(),
            error = %message,
            on_error = self.on_error.as_str(),
            "hook gave no usable answer for this event"
        );
        let decision = match self.on_error {
            OnError::UseDefault => HookDecision::Send(None),
            OnError::Skip => HookDecision::Skip,
            OnError::Fail => HookDecision::Retry,
        };
        HookOutcome {
            decision,
            error: Some(kind),
        }
    }
}

/// The event as the script sees it: kubernetes-event-exporter's JSON of it
/// (`metadata`, `reason`, `involvedObject` with its labels, …) as a dict.
fn event_dict(delivery: &Delivery) -> Value {
    let mut json = Vec::with_capacity(1024);
    kee_json(&delivery.event, false, &mut json);
    // herald writes this JSON itself, so it always parses.
    serde_json::from_slice(&json).unwrap_or(Value::Null)
}

/// Keeps the settings `transform` changed, checking that each was offered and
/// has the offered type (a text, or a dict of texts).
///
/// # Errors
/// What is wrong with the returned dict, in the script author's terms.
pub(crate) fn changed_settings(
    offered: &Map<String, Value>,
    returned: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut changed = Map::new();
    for (key, value) in returned {
        let Some(current) = offered.get(&key) else {
            let known: Vec<&str> = offered.keys().map(String::as_str).collect();
            return Err(if known.is_empty() {
                format!(
                    "transform set `{key}`, but this receiver has no settings a hook can change (it can only skip events by returning None)"
                )
            } else {
                format!(
                    "transform set `{key}`, which a hook cannot change for this receiver; it can change: {}",
                    known.join(", ")
                )
            });
        };
        match (current, &value) {
            (Value::String(_), Value::String(_)) => {}
            (Value::Object(_), Value::Object(map)) => {
                if let Some((k, v)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "transform set `{key}[\"{k}\"]` to {}; the values of `{key}` must be strings",
                        json_kind(v)
                    ));
                }
            }
            (Value::String(_), other) => {
                return Err(format!(
                    "transform set `{key}` to {}; it must be a string",
                    json_kind(other)
                ));
            }
            (_, other) => {
                return Err(format!(
                    "transform set `{key}` to {}; it must be a dict of strings",
                    json_kind(other)
                ));
            }
        }
        if *current != value {
            changed.insert(key, value);
        }
    }
    Ok(changed)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

impl DeliveryHook for ScriptHook {
    fn decide(&self, target: &dyn HookTarget, delivery: &Delivery) -> HookOutcome {
        let offered = target.offer(delivery);
        let config = Value::Object(offered.clone());
        let mut event = event_dict(delivery);
        if !self.add_pod(&mut event, delivery) {
            return HookOutcome::ok(HookDecision::Skip);
        }
        let receiver = &self.receiver;
        let print = |line: &str| debug!(sink = %receiver, "hook printed: {line}");
        let deadline = Instant::now() + self.timeout;
        let returned = match self.script.transform(&config, &event, deadline, &print) {
            Ok(Some(map)) => map,
            Ok(None) => return HookOutcome::ok(HookDecision::Skip),
            Err(RunError::Timeout) => {
                let message = format!("ran past its timeout of {:?}", self.timeout);
                return self.failed(HookErrorKind::Timeout, &message, delivery);
            }
            Err(e @ RunError::Failed(_)) => {
                return self.failed(HookErrorKind::Script, &e.to_string(), delivery);
            }
            Err(e @ RunError::BadReturn(_)) => {
                return self.failed(HookErrorKind::Invalid, &e.to_string(), delivery);
            }
        };
        let changed = match changed_settings(&offered, returned) {
            Ok(changed) => HookSettings::new(changed),
            Err(message) => return self.failed(HookErrorKind::Invalid, &message, delivery),
        };
        if changed.is_empty() {
            return HookOutcome::ok(HookDecision::Send(None));
        }
        match target.check(&changed) {
            Ok(()) => HookOutcome::ok(HookDecision::Send(Some(Arc::new(changed)))),
            Err(message) => self.failed(HookErrorKind::Invalid, &message, delivery),
        }
    }
}
