//! The exporter's Prometheus metrics.
//!
//! Counters updated on the hot path are prometheus-client metrics held in
//! [`IngestMetrics`]; state that already lives elsewhere (log bounds, group lag,
//! Kubernetes client counters, watch health) is read at scrape time by
//! [`StateCollector`] instead of being copied around.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::hub::Hub;
use crate::kube::KubeStats;
use crate::store::Store;

/// Counters and gauges the ingest pipeline updates.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    /// Occurrences appended to the durable log.
    pub logged: Counter,
    /// Observations skipped because the occurrence was already logged.
    pub duplicates: Counter,
    /// Occurrences not logged by the cold-start age filter.
    pub discarded: Counter,
    /// Occurrences skipped at a failover because the previous leader handled them.
    pub handled_by_previous_leader: Counter,
    /// Occurrences logged again at a failover because the previous leader had logged
    /// them without every consumer group acknowledging them.
    pub relogged_after_failover: Counter,
    /// Events removed by retention before every durable group consumed them.
    pub lost: Counter,
    /// Seconds between an occurrence's last-seen time and its append to the log.
    pub lag: Histogram,
    /// 1 while the watch is healthy.
    pub watch_healthy: Gauge,
    /// 1 while this exporter is the active one.
    pub leader: Gauge,
    /// Occurrence memory entries (hot entries plus cold run entries).
    pub seen_entries: Gauge,
    /// Occurrence memory entries in the hot map.
    pub seen_hot_entries: Gauge,
    /// Cold runs of the occurrence memory.
    pub seen_runs: Gauge,
    /// Bytes the cold runs' filters and block indexes hold in memory.
    pub seen_index_bytes: Gauge,
    /// Blocks of cold runs read by lookups.
    pub seen_block_reads: Counter,
    /// Append transactions by outcome.
    pub appends: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl IngestMetrics {
    /// Creates the metrics and registers them under `herald_exporter_`. Help texts
    /// carry no final period: the registry adds one.
    pub fn register(registry: &mut Registry) -> IngestMetrics {
        let m = IngestMetrics {
            logged: Counter::default(),
            duplicates: Counter::default(),
            discarded: Counter::default(),
            handled_by_previous_leader: Counter::default(),
            relogged_after_failover: Counter::default(),
            lost: Counter::default(),
            lag: Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0]),
            watch_healthy: Gauge::default(),
            leader: Gauge::default(),
            seen_entries: Gauge::default(),
            seen_hot_entries: Gauge::default(),
            seen_runs: Gauge::default(),
            seen_index_bytes: Gauge::default(),
            seen_block_reads: Counter::default(),
            appends: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("herald_exporter");
        r.register(
            "events_logged",
            "Event occurrences appended to the durable log",
            m.logged.clone(),
        );
        r.register(
            "duplicates_skipped",
            "Observations skipped because the occurrence was already logged",
            m.duplicates.clone(),
        );
        r.register(
            "events_discarded",
            "Occurrences not logged by the cold-start age filter (maxEventAgeSeconds)",
            m.discarded.clone(),
        );
        r.register(
            "failover_skipped",
            "Occurrences skipped at a failover because the previous leader handled them",
            m.handled_by_previous_leader.clone(),
        );
        r.register(
            "failover_relogged",
            "Occurrences logged again at a failover because not every consumer group had acknowledged them at the previous leader (those it had handed out arrive twice, with the same idempotency key)",
            m.relogged_after_failover.clone(),
        );
        r.register(
            "log_lost_events",
            "Events removed by retention before every durable consumer group acknowledged them",
            m.lost.clone(),
        );
        r.register(
            "ingest_lag_seconds",
            "Time from an occurrence's last-seen timestamp to its append to the log",
            m.lag.clone(),
        );
        r.register(
            "watch_healthy",
            "1 while the Event watch is healthy",
            m.watch_healthy.clone(),
        );
        r.register(
            "leader",
            "1 while this exporter is the active (leader) instance",
            m.leader.clone(),
        );
        r.register(
            "seen_entries",
            "Event objects remembered for deduplication (an object in several cold runs counts once per run)",
            m.seen_entries.clone(),
        );
        r.register(
            "seen_hot_entries",
            "Event objects remembered in the occurrence memory's hot map",
            m.seen_hot_entries.clone(),
        );
        r.register(
            "seen_runs",
            "Cold runs of the occurrence memory",
            m.seen_runs.clone(),
        );
        r.register(
            "seen_index_bytes",
            "Bytes of memory held by the cold runs' filters and block indexes",
            m.seen_index_bytes.clone(),
        );
        r.register(
            "seen_block_reads",
            "Blocks of cold runs read by occurrence lookups",
            m.seen_block_reads.clone(),
        );
        r.register(
            "log_appends",
            "Durable log append transactions by outcome",
            m.appends.clone(),
        );
        m
    }
}

/// Reads log, group and Kubernetes client state at scrape time.
#[derive(Debug)]
pub struct StateCollector {
    /// The durable log.
    pub store: Store,
    /// The subscription hub.
    pub hub: Hub,
    /// Kubernetes client counters.
    pub kube: Arc<KubeStats>,
    /// Retention byte limit, for alerting on "log near retention".
    pub retention_max_bytes: u64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    let me = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(me)
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let me = enc.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(me)
}

impl Collector for StateCollector {
    #[allow(clippy::cast_precision_loss)] // offsets and byte counts as float gauges
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let b = self.store.bounds();
        gauge(
            &mut enc,
            "herald_exporter_log_bytes",
            "Bytes of event data in the durable log.",
            b.bytes as f64,
        )?;
        gauge(
            &mut enc,
            "herald_exporter_log_retention_max_bytes",
            "Retention limit of the durable log in bytes.",
            self.retention_max_bytes as f64,
        )?;
        gauge(
            &mut enc,
            "herald_exporter_log_first_offset",
            "Oldest retained offset.",
            b.first as f64,
        )?;
        gauge(
            &mut enc,
            "herald_exporter_log_last_offset",
            "Newest offset.",
            b.last as f64,
        )?;
        gauge(
            &mut enc,
            "herald_exporter_log_events",
            "Events retained in the durable log.",
            b.events() as f64,
        )?;
        let groups = self.hub.group_status();
        {
            let fam =
                Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default(
                );
            let committed =
                Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default(
                );
            let members =
                Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default(
                );
            for g in &groups {
                let l = vec![("group".to_owned(), g.name.clone())];
                fam.get_or_create(&l).set(g.lag as f64);
                committed.get_or_create(&l).set(g.committed_offset as f64);
                members.get_or_create(&l).set(g.members.len() as f64);
            }
            let me = enc.encode_descriptor(
                "herald_exporter_group_lag",
                "Events not yet acknowledged by a consumer group.",
                None,
                fam.metric_type(),
            )?;
            fam.encode(me)?;
            let me = enc.encode_descriptor(
                "herald_exporter_group_committed_offset",
                "Committed offset of a consumer group.",
                None,
                committed.metric_type(),
            )?;
            committed.encode(me)?;
            let me = enc.encode_descriptor(
                "herald_exporter_group_members",
                "Connected members of a consumer group.",
                None,
                members.metric_type(),
            )?;
            members.encode(me)?;
        }
        let k = self.kube.snapshot();
        let restarts = Family::<Vec<(String, String)>, Counter>::default();
        for (reason, v) in [
            ("gone", k.watch_restarts_gone),
            ("error", k.watch_restarts_error),
            ("throttled", k.watch_restarts_throttled),
            ("timeout", k.watch_restarts_timeout),
            ("rewound", k.watch_restarts_rewound),
        ] {
            restarts
                .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
                .inc_by(v);
        }
        let me = enc.encode_descriptor(
            "herald_exporter_watch_restarts",
            "Watch restarts by reason.",
            None,
            restarts.metric_type(),
        )?;
        restarts.encode(me)?;
        counter(
            &mut enc,
            "herald_exporter_malformed_events",
            "Events from the API server that could not be parsed.",
            k.malformed_events,
        )?;
        counter(
            &mut enc,
            "herald_exporter_lookup_cache_hits",
            "Involved-object lookups served from the cache.",
            k.lookup_cache_hits,
        )?;
        counter(
            &mut enc,
            "herald_exporter_lookup_cache_misses",
            "Involved-object lookups sent to the API server.",
            k.lookup_cache_misses,
        )?;
        counter(
            &mut enc,
            "herald_exporter_lookup_failures",
            "Involved-object lookups that failed.",
            k.lookup_failures,
        )?;
        counter(
            &mut enc,
            "herald_exporter_kube_server_throttled",
            "429 answers from the API server.",
            k.server_throttled,
        )?;
        gauge(
            &mut enc,
            "herald_exporter_kube_client_throttled_seconds",
            "Seconds spent waiting for the client-side rate limiter (kubeQPS/kubeBurst).",
            k.throttled_wait_seconds,
        )?;
        for (kind, v) in [
            ("list", k.list_requests),
            ("watch", k.watch_requests),
            ("lookup", k.lookup_requests),
            ("lease", k.lease_requests),
            ("other", k.other_requests),
        ] {
            counter(
                &mut enc,
                &format!("herald_exporter_kube_requests_{kind}"),
                "Requests to the Kubernetes API by kind.",
                v,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_texts_end_with_one_period() {
        let mut registry = Registry::default();
        let m = IngestMetrics::register(&mut registry);
        // a family shows its HELP once it has a series
        m.appends.get_or_create(&vec![("outcome", "ok")]).inc();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        let help: Vec<&str> = out.lines().filter(|l| l.starts_with("# HELP")).collect();
        assert_eq!(help.len(), 15, "{out}");
        for line in help {
            assert!(line.ends_with('.') && !line.ends_with(".."), "{line}");
        }
    }
}
