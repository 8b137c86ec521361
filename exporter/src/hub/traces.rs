//! The trace contexts of recent durable commits, so that a batch handed to a
//! subscriber carries the context of the `herald.ingest.append` span that logged its
//! first event (`EventBatch.trace_context`) and a ruler's spans join that trace.
//!
//! Only the last [`CAPACITY`] commits are remembered: a subscriber far behind (a
//! receiver catching up after an outage) gets batches without a context, which is
//! what its spans would show anyway (the commit's trace ended long ago).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use herald_telemetry::traces::TraceContext;

/// Commits remembered.
pub const CAPACITY: usize = 4096;

/// Offsets `first..=last` were written by the commit whose span has `context`.
#[derive(Debug)]
struct Commit {
    first: u64,
    last: u64,
    context: TraceContext,
}

/// The trace contexts of the last [`CAPACITY`] commits, oldest first.
#[derive(Debug, Default)]
pub struct RecentTraces {
    commits: Mutex<VecDeque<Commit>>,
}

impl RecentTraces {
    /// Remembers that offsets `first..=last` were logged under `context`.
    pub fn record(&self, first: u64, last: u64, context: TraceContext) {
        if first > last {
            return;
        }
        let mut commits = self.commits.lock().unwrap_or_else(PoisonError::into_inner);
        // offsets only grow; a log reopened after a restart starts a new history
        if commits.back().is_some_and(|c| c.last >= first) {
            commits.clear();
        }
        if commits.len() == CAPACITY {
            commits.pop_front();
        }
        commits.push_back(Commit {
            first,
            last,
            context,
        });
    }

    /// The context of the commit that logged `offset`, if it is still remembered.
    pub fn find(&self, offset: u64) -> Option<TraceContext> {
        let commits = self.commits.lock().unwrap_or_else(PoisonError::into_inner);
        let i = commits.partition_point(|c| c.last < offset);
        commits
            .get(i)
            .filter(|c| c.first <= offset)
            .map(|c| c.context.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n: u8) -> TraceContext {
        TraceContext::from_headers([(
            "traceparent".to_owned(),
            format!("00-{:032x}-{:016x}-01", n, n),
        )])
        .expect("has a traceparent")
    }

    #[test]
    fn finds_the_commit_of_an_offset_and_forgets_the_oldest() {
        let t = RecentTraces::default();
        t.record(1, 10, ctx(1));
        t.record(11, 11, ctx(2));
        t.record(15, 20, ctx(3)); // 12..=14 were committed while traces were off
        assert_eq!(t.find(1), Some(ctx(1)));
        assert_eq!(t.find(10), Some(ctx(1)));
        assert_eq!(t.find(11), Some(ctx(2)));
        assert_eq!(t.find(13), None);
        assert_eq!(t.find(20), Some(ctx(3)));
        assert_eq!(t.find(21), None);
        assert_eq!(t.find(0), None);
        for i in 0..CAPACITY as u64 {
            t.record(100 + i, 100 + i, ctx(4));
        }
        assert_eq!(t.find(1), None, "the oldest commits are forgotten");
        assert_eq!(t.find(100), Some(ctx(4)));
    }

    #[test]
    fn offsets_that_go_back_start_a_new_history() {
        let t = RecentTraces::default();
        t.record(50, 60, ctx(1));
        t.record(1, 5, ctx(2));
        assert_eq!(t.find(55), None);
        assert_eq!(t.find(3), Some(ctx(2)));
    }
}
