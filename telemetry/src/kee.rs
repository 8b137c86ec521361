//! kubernetes-event-exporter's metrics, under its `metricsNamePrefix`.
//!
//! KEE exposes plain counters named `<prefix>events_sent`, `<prefix>events_discarded`,
//! `<prefix>watch_errors`, `<prefix>send_event_errors`,
//! `<prefix>kube_api_read_cache_hits`, `<prefix>kube_api_read_cache_misses` and the
//! gauge `<prefix>build_info{version}`. The OpenMetrics encoder would append `_total`
//! to counters, which would break existing dashboards, so these series are exposed with
//! type `unknown` under their exact KEE names.
//!
//! The two lookup counters are kept by the exporter's enricher, which counts its
//! cache hits and misses anyway: [`KeeMetrics::read_lookups_from`] makes them read
//! from there at scrape time instead of keeping a second copy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

/// The KEE counters; cheap to clone, shared by exporter and ruler.
#[derive(Debug, Clone)]
pub struct KeeMetrics {
    inner: Arc<Counters>,
}

struct Counters {
    prefix: String,
    events_sent: AtomicU64,
    events_discarded: AtomicU64,
    watch_errors: AtomicU64,
    send_event_errors: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    /// Lookup counts kept elsewhere: (cache hits, cache misses).
    lookups: OnceLock<LookupSource>,
}

type LookupSource = Box<dyn Fn() -> (u64, u64) + Send + Sync>;

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("prefix", &self.prefix)
            .field("lookups_wired", &self.lookups.get().is_some())
            .finish_non_exhaustive()
    }
}

/// The counters KEE defines.
#[derive(Debug, Clone, Copy)]
pub enum KeeCounter {
    /// Events accepted by the exporter (KEE counts events that passed the age filter).
    EventsSent,
    /// Events discarded by the cold-start age filter.
    EventsDiscarded,
    /// Watch errors.
    WatchErrors,
    /// Sink send errors (permanent failures after retries).
    SendEventErrors,
    /// Involved-object lookups served from the cache.
    CacheHits,
    /// Involved-object lookups that went to the API server.
    CacheMisses,
}

impl KeeMetrics {
    /// Creates the counters with KEE's `metricsNamePrefix` (may be empty).
    pub fn new(prefix: &str) -> KeeMetrics {
        KeeMetrics {
            inner: Arc::new(Counters {
                prefix: prefix.to_owned(),
                events_sent: AtomicU64::new(0),
                events_discarded: AtomicU64::new(0),
                watch_errors: AtomicU64::new(0),
                send_event_errors: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
                cache_misses: AtomicU64::new(0),
                lookups: OnceLock::new(),
            }),
        }
    }

    fn counter(&self, c: KeeCounter) -> &AtomicU64 {
        match c {
            KeeCounter::EventsSent => &self.inner.events_sent,
            KeeCounter::EventsDiscarded => &self.inner.events_discarded,
            KeeCounter::WatchErrors => &self.inner.watch_errors,
            KeeCounter::SendEventErrors => &self.inner.send_event_errors,
            KeeCounter::CacheHits => &self.inner.cache_hits,
            KeeCounter::CacheMisses => &self.inner.cache_misses,
        }
    }

    /// Adds `n` to a counter.
    pub fn add(&self, c: KeeCounter, n: u64) {
        self.counter(c).fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(&self, c: KeeCounter) -> u64 {
        let own = self.counter(c).load(Ordering::Relaxed);
        let wired = self.inner.lookups.get().map(|read| read());
        match (c, wired) {
            (KeeCounter::CacheHits, Some((hits, _))) => own.saturating_add(hits),
            (KeeCounter::CacheMisses, Some((_, misses))) => own.saturating_add(misses),
            _ => own,
        }
    }

    /// Makes `kube_api_read_cache_hits` and `_misses` read the lookup counts kept by
    /// `source` (cache hits, cache misses). The first source wins; a process has one
    /// enricher.
    pub fn read_lookups_from(&self, source: impl Fn() -> (u64, u64) + Send + Sync + 'static) {
        let _ = self.inner.lookups.set(Box::new(source));
    }
}

impl Collector for KeeMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = &self.inner.prefix;
        let series: [(&str, &str, KeeCounter); 6] = [
            (
                "events_sent",
                "Events accepted for export.",
                KeeCounter::EventsSent,
            ),
            (
                "events_discarded",
                "Events discarded by the cold-start age filter.",
                KeeCounter::EventsDiscarded,
            ),
            (
                "watch_errors",
                "Errors of the Event watch.",
                KeeCounter::WatchErrors,
            ),
            (
                "send_event_errors",
                "Events a sink failed to deliver permanently.",
                KeeCounter::SendEventErrors,
            ),
            (
                "kube_api_read_cache_hits",
                "Involved-object lookups served from the cache.",
                KeeCounter::CacheHits,
            ),
            (
                "kube_api_read_cache_misses",
                "Involved-object lookups sent to the API server.",
                KeeCounter::CacheMisses,
            ),
        ];
        for (name, help, c) in series {
            let full = format!("{p}{name}");
            let mut m = encoder.encode_descriptor(&full, help, None, MetricType::Unknown)?;
            // counters beyond i64::MAX are not reachable in practice
            m.encode_gauge(&i64::try_from(self.get(c)).unwrap_or(i64::MAX))?;
        }
        let full = format!("{p}build_info");
        let mut m = encoder.encode_descriptor(
            &full,
            "A metric with a constant '1' value labeled by version.",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        m.encode_family(&labels)?.encode_gauge(&1i64)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn exposes_exact_kee_names() {
        let k = KeeMetrics::new("event_exporter_");
        k.add(KeeCounter::EventsSent, 3);
        let mut r = Registry::default();
        r.register_collector(Box::new(k.clone()));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        assert!(out.contains("event_exporter_events_sent 3\n"), "{out}");
        assert!(out.contains("event_exporter_kube_api_read_cache_misses 0\n"));
        assert!(!out.contains("events_sent_total"));
        assert!(
            out.contains(&format!(
                "event_exporter_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{out}"
        );
    }

    #[test]
    fn lookup_counters_read_the_wired_source() {
        let k = KeeMetrics::new("");
        let hits = Arc::new(AtomicU64::new(0));
        let read = hits.clone();
        k.read_lookups_from(move || (read.load(Ordering::Relaxed), 7));
        hits.store(933, Ordering::Relaxed);
        let mut r = Registry::default();
        r.register_collector(Box::new(k.clone()));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        assert!(out.contains("\nkube_api_read_cache_hits 933\n"), "{out}");
        assert!(out.contains("\nkube_api_read_cache_misses 7\n"), "{out}");
    }
}
