//! Backoff for retriable failures: capped exponential growth with full
//! jitter, never shorter than what the target asked for (`Retry-After`).

use std::time::Duration;

use super::settings::RetrySettings;

/// Longest `Retry-After` honoured; longer requests are capped so a
/// misbehaving target cannot park a receiver for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

impl RetrySettings {
    /// Returns whether a request that failed on attempt `attempt` (1-based)
    /// may be tried again.
    pub fn may_retry(&self, attempt: u32) -> bool {
        self.max_attempts == 0 || attempt < self.max_attempts
    }

    /// Returns the delay after failed attempt `attempt` (1-based): a uniform
    /// pick in `[0, min(max_backoff, initial_backoff * 2^(attempt-1))]`
    /// (`jitter` in `[0, 1]` chooses the point), raised to `retry_after`
    /// (capped at [`MAX_RETRY_AFTER`]) when the target sent one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let ceiling = self
            .initial_backoff
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(after) => jittered.max(after.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }

    /// [`RetrySettings::delay`] with a random jitter.
    pub(crate) fn random_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay(attempt, retry_after, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_attempts: 0,
        }
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let s = settings();
        assert_eq!(s.delay(1, None, 1.0), Duration::from_millis(500));
        assert_eq!(s.delay(2, None, 1.0), Duration::from_secs(1));
        assert_eq!(s.delay(4, None, 1.0), Duration::from_secs(4));
        assert_eq!(s.delay(7, None, 1.0), Duration::from_secs(30));
        assert_eq!(s.delay(1000, None, 1.0), Duration::from_secs(30));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let s = settings();
        assert_eq!(s.delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(s.delay(3, None, 0.5), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(s.random_delay(3, None) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_is_a_floor_with_a_cap() {
        let s = settings();
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(7)), 0.5),
            Duration::from_secs(7)
        );
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(86_400)), 0.0),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn attempts_are_limited_unless_zero() {
        let limited = RetrySettings {
            max_attempts: 3,
            ..settings()
        };
        assert!(limited.may_retry(2));
        assert!(!limited.may_retry(3));
        assert!(settings().may_retry(1_000_000));
    }
}
