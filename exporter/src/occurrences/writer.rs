//! The task that writes the occurrence memory's cold runs and merges them, in the
//! order the memory asked for, one redb transaction per job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::ColdRun;
use crate::store::{RunIndex, Store, StoreError};

/// The task that writes and merges runs.
#[derive(Debug)]
pub struct RunWriter {
    /// Set by [`RunWriter::stop`]: the writer takes no further job.
    pub(super) halt: Arc<AtomicBool>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl RunWriter {
    /// Stops the writer once the job in progress (if any) is done, leaving the rest
    /// undone, as a crash between two transactions would: what is not written stays in
    /// the occurrence records for the next start. Its [`Occurrences`](super::Occurrences) must be dropped
    /// (or this waits for it). A new term's memory is loaded only after this, so two
    /// writers never share the database.
    pub async fn stop(self) {
        self.halt.store(true, Ordering::Release);
        let _ = self.task.await;
    }
}

/// Work for the run writer, done in order.
#[derive(Debug)]
pub(super) enum Job {
    /// Write a run cut from the hot map.
    Write(Arc<ColdRun>),
    /// Merge these written runs (ids ascending) into the run after the newest.
    Merge(Vec<u64>),
    /// Delete runs that a merged run replaced.
    Delete(Vec<u64>),
}

/// The outcome of a [`Job::Merge`].
#[derive(Debug)]
pub(super) enum Merged {
    Done { parts: Vec<u64>, index: RunIndex },
    Failed,
}

/// Writes runs in the order they were cut (a later run written before an earlier one
/// would let a start skip records only the earlier one covers), and merges them.
pub(super) async fn write_runs(
    store: Store,
    mut queue: mpsc::UnboundedReceiver<Job>,
    written: watch::Sender<u64>,
    merged: mpsc::UnboundedSender<Merged>,
    halt: Arc<AtomicBool>,
) {
    while let Some(job) = queue.recv().await {
        if halt.load(Ordering::Acquire) {
            return;
        }
        let run = match job {
            Job::Write(run) => run,
            Job::Delete(ids) => {
                if let Err(e) = store.run(move |s| s.delete_seen_runs(&ids)).await {
                    warn!(error = %e, "could not delete merged runs of the occurrence memory; the next start does");
                }
                continue;
            }
            Job::Merge(parts) => {
                let ids = parts.clone();
                let id = parts.last().map_or(0, |p| p + 1);
                let started = std::time::Instant::now();
                let outcome = store
                    .run(move |s| s.merge_seen_runs(&ids, id))
                    .await
                    .map_or_else(
                        |e: StoreError| {
                            warn!(error = %e, "could not merge runs of the occurrence memory; they stay as they are");
                            Merged::Failed
                        },
                        |index| {
                            debug!(runs = parts.len(), entries = index.len, ms = started.elapsed().as_millis(), "occurrence memory merged cold runs");
                            Merged::Done { parts, index }
                        },
                    );
                let _ = merged.send(outcome);
                continue;
            }
        };
        let Some(entries) = run.unwritten() else {
            continue;
        };
        let r = run.clone();
        match store
            .run(move |s| s.write_seen_run(r.id, &r.index, &entries))
            .await
        {
            Ok(()) => {
                *run.unwritten
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                written.send_replace(run.id);
            }
            Err(e) => {
                // later runs must not be written past this one; they all stay in
                // memory, and their records stay on disk for the next start
                warn!(error = %e, run = run.id, "could not write a run of the occurrence memory; it stays in memory");
                return;
            }
        }
    }
}
