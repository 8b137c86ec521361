//! Client-side token-bucket rate limiter (`kubeQPS` / `kubeBurst`), like client-go's,
//! with a second, lower class of callers.
//!
//! Every request the kube module sends (list pages, watch starts, lookups, discovery,
//! lease calls) first takes a token. The bucket holds at most `burst` tokens and refills
//! at `qps` tokens per second.
//!
//! * [`RateLimiter::acquire`] (the Event list and watch, discovery, the Lease): a caller
//!   that finds the bucket empty reserves a future token and sleeps until then, so these
//!   callers are served in arrival order. The time spent waiting is added to
//!   [`KubeStats`]'s throttled-wait counter.
//! * [`RateLimiter::acquire_spare`] (involved-object lookups and the metadata watch that
//!   serves them): waits until the bucket holds a whole token that nobody has reserved
//!   and takes it. It never reserves ahead, so the callers above never queue behind
//!   it: lookups get what the bucket has to spare, and whatever waits for a lookup must
//!   bound that wait itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::stats::KubeStats;

/// client-go's `DefaultQPS`, used when `kubeQPS` is 0.
pub const DEFAULT_QPS: f32 = 5.0;
/// client-go's `DefaultBurst`, used when `kubeBurst` is 0.
pub const DEFAULT_BURST: u32 = 10;

/// Shortest sleep of a spare-token waiter, so that rounding never makes it spin.
const MIN_SPARE_WAIT: Duration = Duration::from_millis(1);

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
    /// Adds the tokens earned since the last update.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.updated = now;
    }

    /// Takes one token and returns how long the caller must wait for it.
    fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }

    /// Takes a whole unreserved token if there is one; otherwise returns how long until
    /// there will be (if nobody reserves one meanwhile), at least [`MIN_SPARE_WAIT`].
    fn take_spare(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        // Refills are sums of floats: a token that is "whole but for rounding" counts.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens -= 1.0;
            None
        } else {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.qps);
            Some(wait.max(MIN_SPARE_WAIT))
        }
    }
}

/// A token taken with [`RateLimiter::acquire_spare`]: the one request it pays for is
/// sent without waiting again.
#[derive(Debug)]
#[must_use = "a token pays for one request; give it back with `refund` when unused"]
pub struct Token(());

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

    /// Waits until the bucket holds a whole token that no [`acquire`](Self::acquire)
    /// caller has reserved, and takes it.
    ///
    /// Callers of `acquire` never wait for callers of this (beyond the one token each
    /// of these has already taken), and the time spent here is not counted as
    /// throttling: nothing queues behind it.
    pub async fn acquire_spare(&self) -> Token {
        let Some(bucket) = &self.bucket else {
            return Token(());
        };
        loop {
            let wait = {
                let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
                b.take_spare(Instant::now())
            };
            match wait {
                None => return Token(()),
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Puts an unused token back (the bucket never holds more than `burst`).
    pub fn refund(&self, token: Token) {
        let Token(()) = token;
        if let Some(bucket) = &self.bucket {
            let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
            b.refill(Instant::now());
            b.tokens = (b.tokens + 1.0).min(b.burst);
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
    async fn spare_tokens_never_delay_reserved_requests() {
        let stats = Arc::new(KubeStats::default());
        let limiter = RateLimiter::new(10.0, 2, stats.clone());
        // The burst is free for spare callers too.
        let start = Instant::now();
        let a = limiter.acquire_spare().await;
        let b = limiter.acquire_spare().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // A spare caller waiting for the next token does not hold one in reserve: a
        // reserving request that arrives meanwhile gets that token first.
        let spare = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let token = limiter.acquire_spare().await;
                (Instant::now(), token)
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        limiter.acquire().await;
        let reserved_at = start.elapsed();
        assert!(
            reserved_at <= Duration::from_millis(101),
            "the reserving request waited for one refill only: {reserved_at:?}"
        );
        let (spare_at, c) = spare.await.unwrap();
        assert!(
            spare_at.duration_since(start) >= Duration::from_millis(199),
            "the spare caller was served after it: {:?}",
            spare_at.duration_since(start)
        );
        // Waiting for a spare token is not throttling; the reserving wait is.
        let recorded = stats.snapshot().throttled_wait_seconds;
        assert!((recorded - 0.1).abs() < 0.02, "recorded {recorded}");
        // Unused tokens go back, up to the burst.
        for t in [a, b, c] {
            limiter.refund(t);
        }
        let before = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(before.elapsed(), Duration::ZERO, "two refunded tokens");
        limiter.acquire().await;
        assert!(
            before.elapsed() >= Duration::from_millis(99),
            "capped at burst 2"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn spare_callers_get_the_configured_rate() {
        let limiter = RateLimiter::new(5.0, 10, Arc::new(KubeStats::default()));
        let start = Instant::now();
        for _ in 0..20 {
            let _used = limiter.acquire_spare().await;
        }
        // 10 from the burst, 10 more at 5 per second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1999) && took <= Duration::from_millis(2010),
            "{took:?}"
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
