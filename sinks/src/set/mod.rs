//! [`SinkSet`]: every receiver of the configuration, running.
//!
//! Built once from the decoded receivers; the ruler hands it each matched
//! (event, receiver) pair, asks it for health, forwards SIGHUP and drains it
//! on shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use herald_config::Location;
use herald_telemetry::Probe;
use tokio::time::Instant;
use tracing::{error, info};

use crate::config::ReceiverConfig;
use crate::driver::{AckStatus, DeliverOutcome, Delivery, DrainOutcome, Receiver, SinkMetrics};
use crate::hook::PodSource;
use crate::in_memory::InMemoryStore;
use crate::registry::{Handles, SinkBuildError};

/// Identifies a receiver of a [`SinkSet`]; obtained from [`SinkSet::id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiverId(usize);

/// A receiver could not be started.
#[derive(Debug, thiserror::Error)]
#[error("receiver `{receiver}` at line {}: {source}", location.line)]
pub struct BuildError {
    /// The receiver's name.
    pub receiver: String,
    /// Where the receiver is written.
    pub location: Location,
    /// What failed.
    #[source]
    pub source: SinkBuildError,
}

/// Result of [`SinkSet::close_and_drain`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Receivers that completed every queued event.
    pub drained: Vec<String>,
    /// Receivers that did not, with the number of events left (they will be
    /// redelivered by the exporter).
    pub not_drained: Vec<(String, usize)>,
}

impl DrainReport {
    /// Returns whether every receiver drained.
    pub fn is_complete(&self) -> bool {
        self.not_drained.is_empty()
    }
}

/// What receivers may need from the process that runs them, besides their config.
#[derive(Clone, Default)]
pub struct BuildExtras {
    /// Reads Pods for hooks with `enrichPod` (a process without API access has
    /// none, and such a hook refuses to start).
    pub pods: Option<Arc<dyn PodSource>>,
}

impl std::fmt::Debug for BuildExtras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildExtras")
            .field("pods", &self.pods.is_some())
            .finish()
    }
}

/// Every configured receiver, running.
#[derive(Debug)]
pub struct SinkSet {
    receivers: Vec<Receiver>,
    ids: HashMap<String, ReceiverId>,
    /// What receivers exposed to tests and tools, by receiver name.
    handles: Handles,
}

impl SinkSet {
    /// Starts every receiver (on the current Tokio runtime).
    ///
    /// # Errors
    /// The first receiver that cannot start (a file that cannot be opened, a
    /// TLS file that cannot be loaded, …).
    pub async fn build(
        configs: &[ReceiverConfig],
        metrics: &SinkMetrics,
    ) -> Result<SinkSet, BuildError> {
        SinkSet::build_with(configs, metrics, &BuildExtras::default()).await
    }

    /// [`SinkSet::build`] with what receivers may need from the process.
    ///
    /// # Errors
    /// The first receiver that cannot start.
    pub async fn build_with(
        configs: &[ReceiverConfig],
        metrics: &SinkMetrics,
        extras: &BuildExtras,
    ) -> Result<SinkSet, BuildError> {
        let mut set = SinkSet {
            receivers: Vec::with_capacity(configs.len()),
            ids: HashMap::new(),
            handles: Handles::new(),
        };
        for rc in configs {
            let receiver = rc
                .sink
                .start(
                    &rc.name,
                    &rc.delivery,
                    rc.hook.as_ref(),
                    extras,
                    metrics,
                    &mut set.handles,
                )
                .await
                .map_err(|source| BuildError {
                    receiver: rc.name.clone(),
                    location: rc.location,
                    source,
                })?;
            info!(sink = %rc.name, sink_type = rc.sink.kind(), "receiver started");
            set.ids
                .insert(rc.name.clone(), ReceiverId(set.receivers.len()));
            set.receivers.push(receiver);
        }
        Ok(set)
    }

    /// Returns the id of the receiver called `name`.
    pub fn id(&self, name: &str) -> Option<ReceiverId> {
        self.ids.get(name).copied()
    }

    /// Returns the receivers in configuration order.
    pub fn receivers(&self) -> &[Receiver] {
        &self.receivers
    }

    /// Hands a delivery to a receiver, applying its `onFull` policy (this
    /// waits while a `block` receiver's queue is full).
    pub async fn deliver(&self, id: ReceiverId, d: Delivery) -> DeliverOutcome {
        match self.receivers.get(id.0) {
            Some(r) => r.deliver(d).await,
            None => {
                // Ids come from `id()` of this set, so this is a caller bug;
                // reject rather than lose the event silently.
                error!(
                    receiver = id.0,
                    "delivery to an unknown receiver id, event rejected"
                );
                d.ack.complete(AckStatus::Rejected);
                DeliverOutcome::Rejected
            }
        }
    }

    /// Hands a delivery to the receiver called `name`; an unknown name
    /// rejects the delivery (logged).
    pub async fn deliver_to(&self, name: &str, d: Delivery) -> DeliverOutcome {
        match self.id(name) {
            Some(id) => self.deliver(id, d).await,
            None => {
                error!(receiver = %name, "no receiver with this name, event rejected");
                d.ack.complete(AckStatus::Rejected);
                DeliverOutcome::Rejected
            }
        }
    }

    /// Returns what the receiver called `name` exposed as a `T` when it was
    /// built ([`BuildContext::expose`](crate::registry::BuildContext::expose)).
    pub fn handle<T: Clone + 'static>(&self, name: &str) -> Option<T> {
        self.handles.get(name)?.downcast_ref::<T>().cloned()
    }

    /// Returns the store of the `inMemory` receiver called `name`.
    pub fn in_memory(&self, name: &str) -> Option<InMemoryStore> {
        self.handle(name)
    }

    /// Reopens every receiver's files (SIGHUP).
    pub async fn reopen(&self) {
        for r in &self.receivers {
            r.reopen().await;
        }
    }

    /// Returns one line per receiver that has been failing for longer than
    /// its `unhealthyAfter` window; empty when all are healthy.
    pub fn unhealthy(&self) -> Vec<String> {
        self.receivers
            .iter()
            .filter_map(|r| {
                r.unhealthy_for().map(|d| {
                    format!(
                        "receiver `{}` ({}) failing for {}s",
                        r.name(),
                        r.kind(),
                        d.as_secs()
                    )
                })
            })
            .collect()
    }

    /// Reports [`SinkSet::unhealthy`] on a readiness probe.
    pub fn update_probe(&self, probe: &Probe) {
        let unhealthy = self.unhealthy();
        if unhealthy.is_empty() {
            probe.ready();
        } else {
            probe.not_ready(unhealthy.join("; "));
        }
    }

    /// Stops intake on every receiver, then waits up to `grace` for their
    /// queues to drain; whatever is left is abandoned (not acknowledged, so
    /// the exporter redelivers it) and reported.
    pub async fn close_and_drain(&self, grace: Duration) -> DrainReport {
        for r in &self.receivers {
            r.close();
        }
        let deadline = Instant::now() + grace;
        let mut report = DrainReport::default();
        // Every receiver drains on its own task from the moment it is closed,
        // so awaiting them in turn against the shared deadline drains them in
        // parallel.
        for r in &self.receivers {
            match r.close_and_drain(deadline).await {
                DrainOutcome::Drained => report.drained.push(r.name().to_owned()),
                DrainOutcome::TimedOut { pending } => {
                    report.not_drained.push((r.name().to_owned(), pending));
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests;
