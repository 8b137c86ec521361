//! Routes incoming events to receivers and turns receiver completions into upstream
//! acknowledgements.
//!
//! For each event: evaluate the route tree once and hand one [`Delivery`] per
//! selected receiver to the [`SinkSet`]; the deliveries share one template value,
//! built only if a receiver renders a template. The event's offset
//! is acknowledged to the exporter it came from only when every selected receiver has
//! completed its handle (delivered, rejected or dropped); an event no receiver selects
//! is acknowledged at once. A receiver whose queue is full with policy `block` makes
//! [`Router::route_batch`] wait: the ruler then grants no new credits and the backlog
//! stays in the exporter's durable log.

use std::collections::HashMap;
use std::sync::Arc;

use herald_sinks::driver::{AckGroup, AckNotice, AckSender, ack_channel};
use herald_sinks::{Delivery, ReceiverId, SharedValue, SinkSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::plan::Plan;
use crate::route::{RouteTree, Selection};
use crate::upstream::{Incoming, Source};

/// Where acknowledgements for an upstream go: `(log id, offset)`.
pub type AckOut = mpsc::UnboundedSender<(Arc<str>, u64)>;

/// Ruler metrics.
#[derive(Debug, Clone, Default)]
pub struct RouterMetrics {
    /// Events received from exporters.
    pub received: Counter,
    /// Events no receiver selected (acknowledged at once).
    pub unrouted: Counter,
    /// Events acknowledged upstream.
    pub acknowledged: Counter,
    /// Receiver selections by receiver.
    pub matches: Family<Vec<(String, String)>, Counter>,
    /// Completed events by outcome (`delivered`, `partial`, `rejected`, `dropped`).
    pub completed: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl RouterMetrics {
    /// Creates and registers the metrics under `herald_ruler_`.
    pub fn register(registry: &mut Registry) -> RouterMetrics {
        let m = RouterMetrics::default();
        let r = registry.sub_registry_with_prefix("herald_ruler");
        r.register(
            "events_received",
            "Events received from exporters.",
            m.received.clone(),
        );
        r.register(
            "events_unrouted",
            "Events that no route selected a receiver for.",
            m.unrouted.clone(),
        );
        r.register(
            "events_acknowledged",
            "Events acknowledged to their exporter.",
            m.acknowledged.clone(),
        );
        r.register(
            "route_matches",
            "Events routed to a receiver.",
            m.matches.clone(),
        );
        r.register(
            "events_completed",
            "Routed events by how their receivers finished with them.",
            m.completed.clone(),
        );
        m
    }
}

/// Routes events to receivers.
pub struct Router {
    tree: RouteTree,
    sinks: Arc<SinkSet>,
    ids: Vec<Option<ReceiverId>>,
    names: Vec<String>,
    /// `matches` counter of each receiver, resolved once (not per event).
    matched: Vec<Counter>,
    acks: HashMap<Source, AckSender>,
    outs: Vec<AckOut>,
    metrics: RouterMetrics,
    selection: Selection,
}

impl Router {
    /// Creates a router over `sinks` (built from `plan.receivers`). `outs[i]` takes the
    /// acknowledgements of upstream `i`.
    pub fn new(
        plan: &Plan,
        sinks: Arc<SinkSet>,
        outs: Vec<AckOut>,
        metrics: RouterMetrics,
    ) -> Router {
        let names = plan.receiver_names();
        let ids = names.iter().map(|n| sinks.id(n)).collect();
        let matched = names
            .iter()
            .map(|n| {
                metrics
                    .matches
                    .get_or_create(&vec![("receiver".to_owned(), n.clone())])
                    .clone()
            })
            .collect();
        Router {
            matched,
            selection: Selection::new(plan.tree.receivers()),
            tree: plan.tree.clone(),
            sinks,
            ids,
            names,
            acks: HashMap::new(),
            outs,
            metrics,
        }
    }

    fn ack_sender(&mut self, source: &Source) -> AckSender {
        if let Some(s) = self.acks.get(source) {
            return s.clone();
        }
        let (tx, mut rx) = ack_channel();
        let out = self.outs.get(source.upstream).cloned();
        let log = source.log_id.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                record(&metrics, n);
                if let Some(out) = &out {
                    // the upstream task is gone only at shutdown; the exporter redelivers
                    let _ = out.send((log.clone(), n.offset));
                }
            }
        });
        self.acks.insert(source.clone(), tx.clone());
        tx
    }

    /// Routes one batch; waits while a `block` receiver's queue is full.
    pub async fn route_batch(&mut self, batch: Incoming) {
        let ack = self.ack_sender(&batch.source);
        let out = self.outs.get(batch.source.upstream).cloned();
        for ev in batch.events {
            self.metrics.received.inc();
            let ev = Arc::new(ev);
            let mut sel = std::mem::take(&mut self.selection);
            self.tree.route(&ev, &mut sel);
            if sel.is_empty() {
                self.metrics.unrouted.inc();
                self.metrics.acknowledged.inc();
                if let Some(out) = &out {
                    let _ = out.send((batch.source.log_id.clone(), ev.offset));
                }
                self.selection = sel;
                continue;
            }
            let value = SharedValue::new();
            let handles = AckGroup::new(ev.offset, sel.receivers().len(), &ack);
            for (&i, handle) in sel.receivers().iter().zip(handles) {
                self.matched[i].inc();
                let Some(id) = self.ids[i] else {
                    // the plan and the sink set come from the same config
                    warn!(receiver = %self.names[i], "receiver is not running; event not delivered to it");
                    handle.complete(herald_sinks::driver::AckStatus::Rejected);
                    continue;
                };
                let outcome = self
                    .sinks
                    .deliver(id, Delivery::shared(ev.clone(), value.clone(), handle))
                    .await;
                debug!(receiver = %self.names[i], offset = ev.offset, ?outcome, "routed");
            }
            self.selection = sel;
        }
    }
}

fn record(m: &RouterMetrics, n: AckNotice) {
    m.acknowledged.inc();
    let outcome = match (n.delivered, n.rejected, n.dropped) {
        (_, 0, 0) => "delivered",
        (0, _, 0) => "rejected",
        (0, 0, _) => "dropped",
        _ => "partial",
    };
    m.completed.get_or_create(&vec![("outcome", outcome)]).inc();
}
