//! Latency percentiles and RSS sampling over time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use self::stop::Stopper;

use crate::procfs;

/// Collected latencies.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    /// Records one latency.
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    /// Number of samples.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// The `p`-th percentile (nearest rank, `0 < p <= 100`); None without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        // nearest rank: ceil(p/100 * n), 1-based
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        Some(sorted[rank.min(sorted.len()) - 1])
    }
}

/// One RSS sample.
#[derive(Debug, Clone, Copy)]
pub struct RssPoint {
    /// Time since sampling started.
    pub at: Duration,
    /// Resident set size in bytes.
    pub rss: u64,
}

/// Samples a process's RSS at a fixed interval on a background thread.
#[derive(Debug)]
pub struct RssSampler {
    points: Arc<Mutex<Vec<RssPoint>>>,
    stop: Stopper,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let points = Arc::new(Mutex::new(Vec::new()));
        let stop = Stopper::default();
        let thread = {
            let points = points.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.wait(every) {
                    let Some(m) = procfs::process_memory(pid) else {
                        return;
                    };
                    points
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(RssPoint {
                            at: started.elapsed(),
                            rss: m.rss,
                        });
                }
            })
        };
        RssSampler {
            points,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the samples.
    pub fn finish(mut self) -> Vec<RssPoint> {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            // the sampler only reads /proc; a panic there loses samples, nothing else
            let _ = t.join();
        }
        std::mem::take(&mut *self.points.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// How RSS developed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RssTrend {
    /// Highest sample (bytes).
    pub max: u64,
    /// Mean of the first quarter of the second half (bytes).
    pub mid: u64,
    /// Mean of the last quarter (bytes).
    pub end: u64,
}

impl RssTrend {
    /// Growth over the second half of the run in MiB (end minus mid; negative means it
    /// shrank).
    pub fn growth_mib(&self) -> f64 {
        procfs::mib(self.end) - procfs::mib(self.mid)
    }
}

/// Summarises samples; the first half of the run is the warm-up (caches and queues
/// filling), the second half must be flat.
pub fn rss_trend(points: &[RssPoint]) -> Option<RssTrend> {
    if points.len() < 8 {
        return None;
    }
    let n = points.len();
    let mean = |s: &[RssPoint]| -> u64 {
        let sum: u64 = s.iter().map(|p| p.rss).sum();
        sum / s.len().max(1) as u64
    };
    Some(RssTrend {
        max: points.iter().map(|p| p.rss).max().unwrap_or(0),
        mid: mean(&points[n / 2..n / 2 + n / 8]),
        end: mean(&points[n - n / 4..]),
    })
}

/// A tiny stop flag with a timed wait, for sampler threads.
mod stop {
    use std::sync::{Arc, Condvar, Mutex, PoisonError};
    use std::time::Duration;

    /// A stop signal that sleeping threads notice at once.
    #[derive(Debug, Clone, Default)]
    pub struct Stopper(Arc<(Mutex<bool>, Condvar)>);

    impl Stopper {
        /// Signals every waiter to stop.
        pub fn stop(&self) {
            let (flag, cv) = &*self.0;
            *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
            cv.notify_all();
        }

        /// Waits up to `d`; returns true when stopped.
        pub fn wait(&self, d: Duration) -> bool {
            let (flag, cv) = &*self.0;
            let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
            let (guard, _) = cv
                .wait_timeout_while(guard, d, |stopped| !*stopped)
                .unwrap_or_else(PoisonError::into_inner);
            *guard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut l = Latencies::default();
        assert_eq!(l.percentile(50.0), None);
        for ms in 1..=100 {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(l.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(l.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(l.len(), 100);
    }

    #[test]
    fn trend_compares_the_end_with_the_middle() {
        let mib = 1024 * 1024;
        let flat: Vec<RssPoint> = (0..40)
            .map(|i| RssPoint {
                at: Duration::from_secs(i),
                rss: if i < 10 { 20 * mib } else { 30 * mib },
            })
            .collect();
        let t = rss_trend(&flat).unwrap();
        assert_eq!(t.max, 30 * mib);
        assert!(t.growth_mib().abs() < 1e-9);
        let leak: Vec<RssPoint> = (0..40)
            .map(|i| RssPoint {
                at: Duration::from_secs(i),
                rss: (20 + i) * mib,
            })
            .collect();
        assert!(rss_trend(&leak).unwrap().growth_mib() > 10.0);
        assert!(rss_trend(&leak[..4]).is_none());
    }

    #[test]
    fn sampler_reads_its_own_process() {
        let s = RssSampler::start(std::process::id(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(60));
        let points = s.finish();
        assert!(!points.is_empty());
        assert!(points.iter().all(|p| p.rss > 0));
    }
}
