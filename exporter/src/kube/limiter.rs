//! Client-side token-bucket rate limiter (`kubeQPS` / `kubeBurst`), like client-go's.
//!
//! Every request the kube module sends (list pages, watch starts, lookups, discovery,
//! lease calls) first takes a token. The bucket holds at most `burst` tokens and refills
//! at `qps` tokens per second; a caller that finds it empty reserves a future token and
//! sleeps until then, so callers are served in arrival order. The time spent waiting is
//! added to [`KubeStats`]'s throttled-wait counter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::stats::KubeStats;

/// client-go's `DefaultQPS`, used when `kubeQPS` is 0.
pub const DEFAULT_QPS: f32 = 5.0;
/// client-go's `DefaultBurst`, used when `kubeBurst` is 0.
pub const DEFAULT_BURST: u32 = 10;

/// A shared token bucket; clones share the same bucket.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// `None` when limiting is disabled (negative QPS).
    bucket: Option<Arc<Mutex<Bucket>>>,
    stats: Arc<KubeStats>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens added per second.
    qps: f64,
    /// Capacity of the bucket.
    burst: f64,
    /// Available tokens; negative when callers have reserved future tokens.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    /// Takes one token and returns how long the caller must wait for it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.updated = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

impl RateLimiter {
    /// Creates a limiter allowing `qps` requests per second with bursts of `burst`.
    ///
    /// As in client-go, `qps == 0` means 5 and `burst == 0` means 10; a negative (or
    /// non-finite) `qps` disables limiting.
    pub fn new(qps: f32, burst: u32, stats: Arc<KubeStats>) -> Self {
        let qps = if qps == 0.0 { DEFAULT_QPS } else { qps };
        let burst = if burst == 0 { DEFAULT_BURST } else { burst };
        let bucket = (qps.is_finite() && qps > 0.0).then(|| {
            Arc::new(Mutex::new(Bucket {
                qps: f64::from(qps),
                burst: f64::from(burst),
                tokens: f64::from(burst),
                updated: Instant::now(),
            }))
        });
        Self { bucket, stats }
    }

    /// Creates a limiter that never waits.
    pub fn unlimited(stats: Arc<KubeStats>) -> Self {
        Self {
            bucket: None,
            stats,
        }
    }

    /// Waits until the caller may send one request.
    pub async fn acquire(&self) {
        let Some(bucket) = &self.bucket else {
            return;
        };
        let wait = {
            // A poisoned lock only means another thread panicked between two float
            // operations; the bucket is still usable.
            let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
            b.reserve(Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
            self.stats.record_throttled_wait(wait);
        }
    }

    /// Returns the statistics this limiter reports into.
    pub fn stats(&self) -> &Arc<KubeStats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_then_requests_are_paced_at_qps() {
        let stats = Arc::new(KubeStats::default());
        let limiter = RateLimiter::new(10.0, 3, stats.clone());
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "burst must not wait");
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(499) && waited <= Duration::from_millis(510),
            "5 tokens at 10 qps take 0.5 s, took {waited:?}"
        );
        let recorded = stats.snapshot().throttled_wait_seconds;
        assert!((recorded - 0.5).abs() < 0.02, "recorded {recorded}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_client_go_defaults() {
        let limiter = RateLimiter::new(0.0, 0, Arc::new(KubeStats::default()));
        let start = Instant::now();
        for _ in 0..10 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "default burst is 10");
        limiter.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(199) && waited <= Duration::from_millis(201),
            "default qps is 5, waited {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_refills_while_idle_up_to_burst() {
        let limiter = RateLimiter::new(100.0, 2, Arc::new(KubeStats::default()));
        limiter.acquire().await;
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(9),
            "capped at burst 2"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn negative_qps_disables_limiting() {
        let stats = Arc::new(KubeStats::default());
        for limiter in [
            RateLimiter::new(-1.0, 1, stats.clone()),
            RateLimiter::unlimited(stats.clone()),
        ] {
            let start = Instant::now();
            for _ in 0..1000 {
                limiter.acquire().await;
            }
            assert_eq!(start.elapsed(), Duration::ZERO);
        }
        assert_eq!(stats.snapshot().throttled_wait_seconds, 0.0);
    }
}
