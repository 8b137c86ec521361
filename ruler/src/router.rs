//! Routes one receiver lane's events to its receiver and turns the receiver's
//! completions into upstream acknowledgements.
//!
//! A router serves the lane of one receiver (see [`crate::lane`]). For each event:
//! if the receiver has a `namespaceSelector` the event's namespace does not match,
//! acknowledge it at once; else evaluate the route tree and the kube-events rules naming the receiver
//! ([`crate::rules`]); if either selects the lane's receiver, hand the receiver a
//! [`Delivery`] (its template value is built only if the receiver renders a
//! template; the first matching rule's alert travels with it).
//! The event's offset is acknowledged to the exporter it came from when the receiver
//! has completed its handle (delivered, rejected or dropped); an event the receiver is
//! not selected for is acknowledged at once. A receiver whose queue is full with
//! policy `block` makes [`Router::route_batch`] wait: its lane then grants no new
//! credits and the backlog stays in the exporter's durable log, while the other lanes
//! go on.
//!
//! An event the exporter hands out again while this ruler still holds it (the
//! exporter restarted, or the connection dropped, while the receiver was retrying it)
//! is not delivered a second time: the copy the receiver holds is acknowledged when it
//! completes, which also settles the redelivery (the exporter accepts acks from an
//! earlier connection to the same log).

use std::collections::HashMap;
use std::sync::Arc;

use herald_config::selector::NamespaceSelector;
use herald_sinks::driver::{AckGroup, AckNotice, AckSender, AckStatus, ack_channel};
use herald_sinks::{Delivery, ReceiverId, SharedValue, SinkSet};
use herald_telemetry::traces::TraceContext;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::held::Held;
use crate::plan::Plan;
use crate::route::RouteTree;
use crate::rules::RuleSet;
use crate::subscription::{Incoming, Source};

/// Where acknowledgements for an upstream go: `(log id, offset)`.
pub type AckOut = mpsc::UnboundedSender<(Arc<str>, u64)>;

type ByReceiver = Family<Vec<(String, String)>, Counter>;

/// Ruler metrics, by receiver (each receiver reads the log through its own lane).
#[derive(Debug, Clone, Default)]
pub struct RouterMetrics {
    /// Events received from exporters.
    pub received: ByReceiver,
    /// Events the receiver was not selected for (acknowledged at once).
    pub unrouted: ByReceiver,
    /// Events outside the receiver's `namespaceSelector` (acknowledged at once).
    pub outside_selector: ByReceiver,
    /// Events acknowledged upstream.
    pub acknowledged: ByReceiver,
    /// Events routed to the receiver.
    pub matches: ByReceiver,
    /// Redelivered events not delivered again because the receiver still held them.
    pub held: ByReceiver,
    /// Completed events by outcome (`delivered`, `rejected`, `dropped`).
    pub completed: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Events a kube-events rule selected, by receiver and rule.
    pub rule_matches: ByReceiver,
}

impl RouterMetrics {
    /// Creates and registers the metrics under `herald_ruler_`.
    pub fn register(registry: &mut Registry) -> RouterMetrics {
        let m = RouterMetrics::default();
        let r = registry.sub_registry_with_prefix("herald_ruler");
        r.register(
            "events_received",
            "Events received from exporters, by receiver lane",
            m.received.clone(),
        );
        r.register(
            "events_unrouted",
            "Events no route selected the receiver for (acknowledged at once)",
            m.unrouted.clone(),
        );
        r.register(
            "events_outside_namespace_selector",
            "Events whose namespace the receiver's namespaceSelector does not match (acknowledged at once; also counted as unrouted)",
            m.outside_selector.clone(),
        );
        r.register(
            "events_acknowledged",
            "Events acknowledged to their exporter, by receiver lane",
            m.acknowledged.clone(),
        );
        r.register(
            "route_matches",
            "Events routed to a receiver",
            m.matches.clone(),
        );
        r.register(
            "redeliveries_held",
            "Redelivered events not delivered again because the receiver still held them",
            m.held.clone(),
        );
        r.register(
            "events_completed",
            "Routed events by how their receiver finished with them",
            m.completed.clone(),
        );
        r.register(
            "rule_matches",
            "Events a kube-events rule selected for a receiver, by receiver and rule",
            m.rule_matches.clone(),
        );
        m
    }
}

/// The counters of one lane, resolved once.
#[derive(Debug, Clone)]
struct LaneCounters {
    received: Counter,
    unrouted: Counter,
    outside_selector: Counter,
    acknowledged: Counter,
    matched: Counter,
    held: Counter,
}

impl LaneCounters {
    fn new(m: &RouterMetrics, receiver: &str) -> LaneCounters {
        let label = vec![("receiver".to_owned(), receiver.to_owned())];
        LaneCounters {
            received: m.received.get_or_create(&label).clone(),
            unrouted: m.unrouted.get_or_create(&label).clone(),
            outside_selector: m.outside_selector.get_or_create(&label).clone(),
            acknowledged: m.acknowledged.get_or_create(&label).clone(),
            matched: m.matches.get_or_create(&label).clone(),
            held: m.held.get_or_create(&label).clone(),
        }
    }
}

/// Routes one lane's events.
pub struct Router {
    tree: RouteTree,
    sinks: Arc<SinkSet>,
    lane: usize,
    name: String,
    id: Option<ReceiverId>,
    counters: LaneCounters,
    /// The receiver's own `namespaceSelector`.
    namespaces: Option<NamespaceSelector>,
    completed: Family<Vec<(&'static str, &'static str)>, Counter>,
    acks: HashMap<Source, AckSender>,
    outs: Vec<AckOut>,
    /// Events the receiver still holds.
    held: Held,
    /// The kube-events rules (replaced live when `Rule` objects change).
    rules: watch::Receiver<Arc<RuleSet>>,
    rule_matches: ByReceiver,
    /// The workspace of a namespace, for workspace-scoped rules.
    workspaces: Workspaces,
    /// Candidate rules of the current event (reused).
    scratch: Vec<usize>,
}

/// Answers the KubeSphere workspace of a namespace.
pub type Workspaces = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Router {
    /// Creates the router of the receiver at index `lane` of `plan`, over `sinks`
    /// (built from `plan.receivers`). `outs[i]` takes the acknowledgements of
    /// upstream `i`.
    pub fn new(
        plan: &Plan,
        sinks: Arc<SinkSet>,
        outs: Vec<AckOut>,
        metrics: RouterMetrics,
        lane: usize,
        held: Held,
    ) -> Router {
        let receiver = plan.receivers.get(lane);
        let name = receiver.map(|r| r.name.clone()).unwrap_or_default();
        let namespaces = receiver.and_then(|r| r.namespace_selector.clone());
        Router {
            tree: plan.tree.clone(),
            id: sinks.id(&name),
            sinks,
            lane,
            counters: LaneCounters::new(&metrics, &name),
            namespaces,
            completed: metrics.completed.clone(),
            name,
            acks: HashMap::new(),
            outs,
            held,
            rules: watch::channel(plan.rules.clone()).1,
            rule_matches: metrics.rule_matches.clone(),
            workspaces: Arc::new(|_: &str| None),
            scratch: Vec::new(),
        }
    }

    /// Reads the rules from `rules` (a live feed) instead of the plan's, and
    /// workspaces from `workspaces`.
    pub fn with_rules(
        mut self,
        rules: watch::Receiver<Arc<RuleSet>>,
        workspaces: Workspaces,
    ) -> Router {
        self.rules = rules;
        self.workspaces = workspaces;
        self
    }

    fn ack_sender(&mut self, source: &Source) -> AckSender {
        if let Some(s) = self.acks.get(source) {
            return s.clone();
        }
        let (tx, mut rx) = ack_channel();
        let out = self.outs.get(source.upstream).cloned();
        let log = source.log_id.clone();
        let acknowledged = self.counters.acknowledged.clone();
        let completed = self.completed.clone();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                acknowledged.inc();
                completed
                    .get_or_create(&vec![("outcome", outcome(n))])
                    .inc();
                if let Some(out) = &out {
                    // the upstream task is gone only at shutdown; the exporter redelivers
                    let _ = out.send((log.clone(), n.offset));
                }
            }
        });
        self.acks.insert(source.clone(), tx.clone());
        tx
    }

    /// Routes one batch; waits while the receiver's queue is full (policy `block`).
    pub async fn route_batch(&mut self, batch: Incoming) {
        let ack = self.ack_sender(&batch.source);
        let out = self.outs.get(batch.source.upstream).cloned();
        let log = batch.source.log_id.clone();
        // the receiver's requests join the trace of this routing span
        let trace = TraceContext::of(&tracing::Span::current());
        let rules = self.rules.borrow().clone();
        let ruled = rules.feeds(self.lane);
        for decoded in batch.events {
            self.counters.received.inc();
            let ev = &decoded.event;
            if !self.in_scope(ev) {
                self.counters.outside_selector.inc();
                self.counters.unrouted.inc();
                self.counters.acknowledged.inc();
                if let Some(out) = &out {
                    let _ = out.send((log.clone(), ev.offset));
                }
                continue;
            }
            // routed once for all the lanes of this ruler
            let selected = decoded.selects(&self.tree, self.lane);
            let value = decoded.value.clone();
            let rule = if ruled {
                self.rule_match(&rules, ev, &value)
            } else {
                None
            };
            if !selected && rule.is_none() {
                self.counters.unrouted.inc();
                self.counters.acknowledged.inc();
                if let Some(out) = &out {
                    let _ = out.send((log.clone(), ev.offset));
                }
                continue;
            }
            if self.held.contains(&log, ev.offset) {
                // the receiver still has it: its completion acknowledges this offset
                self.counters.held.inc();
                debug!(receiver = %self.name, offset = ev.offset, "redelivery of an event still held");
                continue;
            }
            self.counters.matched.inc();
            let mut handles = AckGroup::new(ev.offset, 1, &ack);
            let Some(handle) = handles.pop() else {
                continue;
            };
            self.held.insert(&log, ev.offset, handle.watch());
            let Some(id) = self.id else {
                // the plan and the sink set come from the same config
                warn!(receiver = %self.name, "receiver is not running; event not delivered to it");
                handle.complete(AckStatus::Rejected);
                continue;
            };
            let offset = ev.offset;
            let outcome = self
                .sinks
                .deliver(
                    id,
                    Delivery::shared(ev.clone(), value, handle)
                        .with_rule(rule)
                        .with_trace(trace.clone()),
                )
                .await;
            debug!(receiver = %self.name, offset, ?outcome, "routed");
        }
    }
}

impl Router {
    /// Whether `ev`'s namespace matches the receiver's `namespaceSelector` (true
    /// without one).
    fn in_scope(&self, ev: &herald_proto::Event) -> bool {
        self.namespaces.as_ref().is_none_or(|s| {
            s.matches(
                &ev.involved_object.namespace,
                &ev.involved_object.namespace_labels,
            )
        })
    }

    /// The first rule naming this lane's receiver that matches `ev`, with what it
    /// produced.
    fn rule_match(
        &mut self,
        rules: &RuleSet,
        ev: &Arc<herald_proto::Event>,
        value: &SharedValue,
    ) -> Option<Arc<herald_rules::RuleMatch>> {
        let mut view = None;
        let active = rules.first_match(
            self.lane,
            ev,
            &mut view,
            &*self.workspaces,
            &mut self.scratch,
        )?;
        let view = view.unwrap_or_else(|| herald_rules::event_view(ev));
        let produced = active.rule.produce(ev, &view, &|| value.get(ev).clone());
        for e in &produced.errors {
            warn!(receiver = %self.name, rule = %active.rule.name, origin = %active.origin, error = %e, "alert annotation left out");
        }
        self.rule_matches
            .get_or_create(&vec![
                ("receiver".to_owned(), self.name.clone()),
                ("rule".to_owned(), active.rule.name.clone()),
            ])
            .inc();
        Some(Arc::new(produced))
    }
}

fn outcome(n: AckNotice) -> &'static str {
    match (n.delivered, n.rejected, n.dropped) {
        (_, 0, 0) => "delivered",
        (0, _, 0) => "rejected",
        (0, 0, _) => "dropped",
        _ => "partial",
    }
}

#[cfg(test)]
mod tests;
