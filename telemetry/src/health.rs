//! Liveness and readiness, reported by components and served by the admin server.
//!
//! Each component registers a named [`Probe`] and sets it ready/not ready (with a
//! reason) and live/stuck. `/-/ready` answers 200 only when every probe is ready;
//! `/-/healthy` answers 200 unless a probe reports itself stuck, so kubelet restarts a
//! wedged process but leaves a standby alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone)]
struct State {
    ready: bool,
    live: bool,
    reason: String,
}

/// Registry of probes; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Health {
    probes: Arc<Mutex<BTreeMap<String, State>>>,
}

/// One component's handle on its health state.
#[derive(Debug, Clone)]
pub struct Probe {
    name: String,
    health: Health,
}

impl Health {
    /// Creates an empty registry (ready, live).
    pub fn new() -> Health {
        Health::default()
    }

    /// Registers a probe, initially not ready with reason `starting`.
    pub fn probe(&self, name: &str) -> Probe {
        self.lock().insert(
            name.to_owned(),
            State {
                ready: false,
                live: true,
                reason: "starting".into(),
            },
        );
        Probe {
            name: name.to_owned(),
            health: self.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, State>> {
        self.probes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns `(ready, reasons of the probes that are not ready)`.
    pub fn readiness(&self) -> (bool, Vec<String>) {
        let probes = self.lock();
        let reasons: Vec<String> = probes
            .iter()
            .filter(|(_, s)| !s.ready)
            .map(|(n, s)| format!("{n}: {}", s.reason))
            .collect();
        (reasons.is_empty(), reasons)
    }

    /// Returns `(live, reasons of the probes that are stuck)`.
    pub fn liveness(&self) -> (bool, Vec<String>) {
        let probes = self.lock();
        let reasons: Vec<String> = probes
            .iter()
            .filter(|(_, s)| !s.live)
            .map(|(n, s)| format!("{n}: {}", s.reason))
            .collect();
        (reasons.is_empty(), reasons)
    }
}

impl Probe {
    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Some(s) = self.health.lock().get_mut(&self.name) {
            f(s);
        }
    }

    /// Marks the component ready.
    pub fn ready(&self) {
        self.update(|s| {
            s.ready = true;
            s.live = true;
            s.reason.clear();
        });
    }

    /// Marks the component not ready (still live), with a reason.
    pub fn not_ready(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.update(|s| {
            s.ready = false;
            s.live = true;
            s.reason = reason;
        });
    }

    /// Marks the component stuck: not ready and not live.
    pub fn stuck(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.update(|s| {
            s.ready = false;
            s.live = false;
            s.reason = reason;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_every_probe() {
        let h = Health::new();
        let a = h.probe("watch");
        let b = h.probe("grpc");
        assert!(!h.readiness().0);
        a.ready();
        assert_eq!(h.readiness().1, vec!["grpc: starting".to_owned()]);
        b.ready();
        assert!(h.readiness().0);
        a.not_ready("watch broken for 3m");
        assert!(!h.readiness().0);
        assert!(h.liveness().0, "not ready is still live");
        a.stuck("watch broken for 30m");
        assert_eq!(
            h.liveness().1,
            vec!["watch: watch broken for 30m".to_owned()]
        );
    }
}
