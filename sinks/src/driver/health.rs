//! Receiver health: how long a receiver's requests have been failing without
//! a success in between.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Failure tracking of one receiver.
#[derive(Debug)]
pub(crate) struct HealthState {
    /// Since when every request has failed; `None` after a success.
    failing_since: Mutex<Option<Instant>>,
    /// Failing longer than this makes the receiver unhealthy.
    window: Duration,
}

impl HealthState {
    pub(crate) fn new(window: Duration) -> HealthState {
        HealthState {
            failing_since: Mutex::new(None),
            window,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // The guarded value is a plain Option; a panic elsewhere cannot leave
        // it inconsistent.
        self.failing_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn success(&self) {
        *self.lock() = None;
    }

    pub(crate) fn failure(&self) {
        self.lock().get_or_insert_with(Instant::now);
    }

    /// Returns how long the receiver has been failing, if it has been failing
    /// for longer than its window.
    pub(crate) fn unhealthy_for(&self) -> Option<Duration> {
        let since = (*self.lock())?;
        let failing = since.elapsed();
        (failing > self.window).then_some(failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn unhealthy_only_after_failing_for_the_whole_window() {
        let h = HealthState::new(Duration::from_secs(60));
        assert!(h.unhealthy_for().is_none());
        h.failure();
        tokio::time::advance(Duration::from_secs(30)).await;
        h.failure();
        assert!(h.unhealthy_for().is_none());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(h.unhealthy_for().unwrap() >= Duration::from_secs(61));
        h.success();
        assert!(h.unhealthy_for().is_none());
    }
}
