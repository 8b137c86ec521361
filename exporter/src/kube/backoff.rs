//! Exponential backoff with full jitter, reset after a healthy period.
//!
//! The numbers follow client-go's and kube-runtime's `DefaultBackoff`: 800 ms doubling up
//! to 30 s, and a reset once no failure has happened for 120 s. Each delay is drawn
//! uniformly from `[0, cap]` ("full jitter") so that many clients do not retry in step.

use std::time::Duration;

use tokio::time::Instant;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffOptions {
    /// Cap of the first delay.
    pub initial: Duration,
    /// Largest cap; the cap doubles per consecutive failure up to this.
    pub max: Duration,
    /// A failure this long after the previous one starts again from `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffOptions {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(120),
        }
    }
}

/// Backoff state of one retry loop.
#[derive(Debug)]
pub(crate) struct Backoff {
    opts: BackoffOptions,
    /// Consecutive failures counted towards the cap.
    attempt: u32,
    /// When the last delay was handed out.
    last_failure: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(opts: BackoffOptions) -> Self {
        Self {
            opts,
            attempt: 0,
            last_failure: None,
        }
    }

    /// Returns the cap the next delay will be drawn under.
    fn cap(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.opts.initial.saturating_mul(factor).min(self.opts.max)
    }

    /// Records a failure and returns how long to wait before retrying.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let now = Instant::now();
        if self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) >= self.opts.reset_after)
        {
            self.attempt = 0;
        }
        let cap = self.cap();
        self.attempt = self.attempt.saturating_add(1);
        self.last_failure = Some(now);
        if cap.is_zero() {
            return Duration::ZERO;
        }
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delays_double_up_to_the_cap_with_full_jitter() {
        let mut b = Backoff::new(BackoffOptions::default());
        let caps_ms = [800u64, 1600, 3200, 6400, 12800, 25600, 30000, 30000];
        for cap in caps_ms {
            let d = b.next_delay();
            assert!(d <= Duration::from_millis(cap), "{d:?} > {cap} ms");
        }
        // Over many draws at the cap, full jitter covers the low and high ends.
        let draws: Vec<_> = (0..400).map(|_| b.next_delay()).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_secs(5)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(25)));
    }

    #[tokio::test(start_paused = true)]
    async fn resets_after_a_healthy_period() {
        let opts = BackoffOptions {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            reset_after: Duration::from_secs(60),
        };
        let mut b = Backoff::new(opts);
        for _ in 0..6 {
            b.next_delay();
        }
        assert_eq!(b.cap(), Duration::from_millis(6400));
        tokio::time::sleep(Duration::from_secs(61)).await;
        let d = b.next_delay();
        assert!(d <= Duration::from_millis(100), "reset expected, got {d:?}");
        assert_eq!(b.cap(), Duration::from_millis(200));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(BackoffOptions::default());
        b.attempt = u32::MAX;
        assert_eq!(b.cap(), Duration::from_secs(30));
    }
}
