//! What a receiver's hook decides for one event, and what a sink offers it.
//!
//! A hook (the `hook:` block of a receiver, run by [`crate::hook`]) sees, for
//! each event, the settings the receiver's sink lets it change for that event
//! ([`RequestBuilder::hook_offer`](super::RequestBuilder::hook_offer): Loki's
//! tenant and stream labels, a webhook's path and extra headers; nothing for
//! other sinks, which a hook can still skip). It answers with a
//! [`HookDecision`]: send the event, with the settings it changed, skip it for
//! this receiver, or hold it to be tried again later.
//!
//! The driver's hook stage ([`stage`](super::hook_stage)) asks the hook in front
//! of the receiver's worker, keeping the receiver's order.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Delivery;

/// The settings a hook changed for one event: only the keys whose value
/// differs from what the sink offered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookSettings(Map<String, Value>);

impl HookSettings {
    /// Wraps changed settings (`key → new value`).
    pub fn new(changed: Map<String, Value>) -> HookSettings {
        HookSettings(changed)
    }

    /// Returns whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns a changed text setting.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// Returns a changed setting that is a dict of texts, as `(name, value)`
    /// pairs in name order; values that are not texts are left out (the hook
    /// runner accepts only texts).
    pub fn texts(&self, key: &str) -> Option<Vec<(&str, &str)>> {
        let map = self.0.get(key)?.as_object()?;
        let mut pairs: Vec<(&str, &str)> = map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        pairs.sort_unstable();
        Some(pairs)
    }

    /// Returns the changed settings.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// What becomes of one event at a receiver's hook.
#[derive(Debug, Clone, PartialEq)]
pub enum HookDecision {
    /// Send it, with the settings the hook changed (`None`: as configured).
    Send(Option<Arc<HookSettings>>),
    /// Do not send it to this receiver; it is acknowledged as done.
    Skip,
    /// Hold it (and the receiver's later events) and ask again after a backoff
    /// (`onError: fail`); it is never acknowledged before that.
    Retry,
}

/// Why a hook did not give a usable answer (the `error` label of
/// `herald_sink_hook_errors_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookErrorKind {
    /// The script ran past its timeout.
    Timeout,
    /// The script failed (raised an error, hit a limit).
    Script,
    /// The script returned something the receiver cannot use.
    Invalid,
}

impl HookErrorKind {
    /// Returns the metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HookErrorKind::Timeout => "timeout",
            HookErrorKind::Script => "script",
            HookErrorKind::Invalid => "invalid",
        }
    }
}

/// A hook's answer for one event, with the error it recovered from, if any
/// (`onError` turned it into the decision).
#[derive(Debug, Clone, PartialEq)]
pub struct HookOutcome {
    /// What to do with the event.
    pub decision: HookDecision,
    /// The error `onError` handled.
    pub error: Option<HookErrorKind>,
}

impl HookOutcome {
    /// An answer without an error.
    pub fn ok(decision: HookDecision) -> HookOutcome {
        HookOutcome {
            decision,
            error: None,
        }
    }
}

/// What a sink lets a hook change, seen without the sink's types.
pub trait HookTarget: Send + Sync + 'static {
    /// The settings a hook may change for this event, with their current
    /// values.
    fn offer(&self, delivery: &Delivery) -> Map<String, Value>;

    /// Checks settings a hook changed; the error says what is wrong.
    ///
    /// # Errors
    /// A value the sink cannot use (an invalid header, a label Loki refuses).
    fn check(&self, changed: &HookSettings) -> Result<(), String>;
}

/// A receiver's hook: decides, for each event, whether and how it is sent.
///
/// Called on a blocking thread, one event at a time, in the receiver's order.
pub trait DeliveryHook: Send + Sync + 'static {
    /// Decides for one event.
    fn decide(&self, target: &dyn HookTarget, delivery: &Delivery) -> HookOutcome;
}
