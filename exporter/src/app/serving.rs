//! The one handle on whether this exporter serves its log: the hub's serving state,
//! the gRPC health status of `herald.v1.EventLog`, the `leader` flag `GetLogStatus`
//! reports and the `herald_exporter_leader` gauge always change together.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Mutex;
use tracing::info;

use crate::hub::{Hub, Serving};

/// Switches serving on and off; cheap to clone.
#[derive(Clone)]
pub(crate) struct ServingState {
    hub: Hub,
    leader_flag: Arc<AtomicBool>,
    leader_gauge: Gauge,
    /// Set once the gRPC server runs.
    health: Arc<Mutex<Option<tonic_health::server::HealthReporter>>>,
}

impl ServingState {
    pub(crate) fn new(hub: Hub, leader_flag: Arc<AtomicBool>, leader_gauge: Gauge) -> Self {
        ServingState {
            hub,
            leader_flag,
            leader_gauge,
            health: Arc::new(Mutex::new(None)),
        }
    }

    /// Reports to `reporter` from now on (and tells it the current state).
    pub(crate) async fn attach_health(&self, reporter: tonic_health::server::HealthReporter) {
        let serving = self.is_serving();
        report(&reporter, serving).await;
        *self.health.lock().await = Some(reporter);
    }

    /// Whether subscribers are accepted now.
    pub(crate) fn is_serving(&self) -> bool {
        self.hub.serving() == Serving::Yes
    }

    /// Starts serving; a no-op while serving already (members keep what they hold
    /// without a second reclaim window).
    pub(crate) async fn serve(&self) {
        if self.is_serving() {
            return;
        }
        self.leader_flag.store(true, Ordering::Relaxed);
        self.leader_gauge.set(1);
        self.hub.set_serving(Serving::Yes);
        if let Some(h) = self.health.lock().await.as_ref() {
            report(h, true).await;
        }
    }

    /// Stops serving: every session is closed with `reason`.
    pub(crate) async fn stop(&self, reason: &str) {
        self.step_down(Serving::No(reason.to_owned())).await;
    }

    /// Stands by: no longer the leader (gRPC health not serving, so a Service routes
    /// new subscribers to the leader), but the consumer groups that have not
    /// acknowledged everything this log holds may still read it (see
    /// [`Serving::Drain`]); everyone else is refused with `reason`.
    pub(crate) async fn drain(&self, reason: &str) {
        let behind = self.hub.groups_behind();
        if behind > 0 && !matches!(self.hub.serving(), Serving::Drain(_)) {
            info!(
                groups = behind,
                "standing by; still serving this log to the consumer groups that have not acknowledged all of it"
            );
        }
        self.step_down(Serving::Drain(reason.to_owned())).await;
    }

    async fn step_down(&self, serving: Serving) {
        self.leader_flag.store(false, Ordering::Relaxed);
        self.leader_gauge.set(0);
        self.hub.set_serving(serving);
        if let Some(h) = self.health.lock().await.as_ref() {
            report(h, false).await;
        }
    }
}

async fn report(reporter: &tonic_health::server::HealthReporter, serving: bool) {
    reporter
        .set_service_status(
            herald_proto::pb::EVENT_LOG_SERVICE,
            if serving {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            },
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubConfig;
    use crate::store::Store;

    #[tokio::test]
    async fn one_switch_moves_the_hub_the_flag_the_gauge_and_grpc_health() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hub = Hub::new(store, HubConfig::default()).unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let gauge = Gauge::default();
        let state = ServingState::new(hub.clone(), flag.clone(), gauge.clone());
        let (reporter, _svc) = tonic_health::server::health_reporter();
        state.attach_health(reporter.clone()).await;
        state.serve().await;
        assert_eq!(hub.serving(), Serving::Yes);
        assert!(flag.load(Ordering::Relaxed));
        assert_eq!(gauge.get(), 1);
        state.drain("standby").await;
        assert_eq!(hub.serving(), Serving::Drain("standby".into()));
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(gauge.get(), 0);
        state.serve().await;
        state.stop("shutting down").await;
        assert_eq!(hub.serving(), Serving::No("shutting down".into()));
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(gauge.get(), 0);
    }
}
