//! The occurrence memory that ingest consults: which occurrence of every Event object
//! was already logged, for `exporter.dedup.retention` (3 h by default).
//!
//! Two tiers keep the exporter's memory flat however many Event objects the retention
//! spans:
//! * **hot**: the Event objects seen within the last [`Tiering::hot_for`] (a minute
//!   by default), in a hash map ([`SeenSet`]);
//! * **cold**: every [`Tiering::demote_every`] the entries pending since before
//!   `now − hot_for` are written to the database as a sorted, immutable run (see
//!   `store::seen_run`). Memory keeps only each run's filter and block index, about
//!   1.4 bytes per Event object. A run expires whole once its newest entry is older
//!   than the retention.
//!
//! A lookup asks the hot map, then the runs newest first; a run's filter answers "not
//! here" for nearly every new Event without reading anything, so only a repeat of an
//! Event idle for minutes (or a filter's false positive, ~1 % per run) reads one
//! 3 KiB block. Every `MERGE_FAN` runs are merged into one in the background, so a
//! lookup meets 20–30 filters over a 3 h retention rather than 180.
//!
//! Crash safety: the occurrence records appended with every ingest batch stay the
//! source of truth until a run covers them: writing a run deletes the records it
//! covers in the same transaction, and a start loads the runs' indexes and replays
//! only the records after the newest run's threshold. A demotion only takes entries
//! whose occurrence is already committed: ingest reports what it committed (the
//! [`Occurrences::fence`]), and while something is in flight the threshold never
//! passes the newest committed stamp. A run that is not written yet is looked up in
//! memory, and its records stay until it is.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::store::{LoadedSeen, Probe, RunEntry, RunIndex, SeenSet, Store, seconds_up, uid_key};

mod writer;

pub use writer::RunWriter;
use writer::{Job, Merged, write_runs};

/// Runs cut from the hot map are merged this many at a time, so a lookup asks 20–30
/// filters over a 3 h retention instead of 180 (and a new Event meets that many
/// ~1 % false positives, each a block read). A merged run expires with its newest
/// part: its entries are kept up to `MERGE_FAN × demote_every` longer (8 min by
/// default), never shorter.
const MERGE_FAN: usize = 8;

/// When entries leave the hot map.
#[derive(Debug, Clone, Copy)]
pub struct Tiering {
    /// An entry stays hot this long after it was last seen (and until its state is
    /// committed).
    pub hot_for: Duration,
    /// How often a run is cut.
    pub demote_every: Duration,
}

impl Default for Tiering {
    /// A minute each: at 1,000 new Events/s the hot map holds 60k–130k entries (a
    /// table of about 8 MiB), and 180 runs, merged to 20–30, span the default 3 h
    /// retention. Two minutes cost 14 MiB more at that rate and saved 0.3 CPU-µs per
    /// observation (bench/README, section 13).
    fn default() -> Self {
        Tiering {
            hot_for: Duration::from_secs(60),
            demote_every: Duration::from_secs(60),
        }
    }
}

/// A cold run as memory holds it.
#[derive(Debug)]
struct ColdRun {
    id: u64,
    index: RunIndex,
    /// The entries until the run is written (lookups read them here meanwhile).
    unwritten: Mutex<Option<Arc<Vec<RunEntry>>>>,
}

impl ColdRun {
    fn unwritten(&self) -> Option<Arc<Vec<RunEntry>>> {
        self.unwritten
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What ingest has committed of what the memory was told to remember: entries
/// remembered after the last committed stamp may not be durable yet.
#[derive(Debug, Default)]
pub struct CommitFence {
    /// The newest stamp committed (unix ms).
    stamp: AtomicU64,
    /// How many remembered entries were committed.
    entries: AtomicU64,
}

impl CommitFence {
    /// A batch holding `entries` remembered entries, the newest stamped `stamp`, is
    /// committed.
    pub fn committed(&self, entries: usize, stamp: u64) {
        self.stamp.fetch_max(stamp, Ordering::Release);
        self.entries
            .fetch_add(u64::try_from(entries).unwrap_or(u64::MAX), Ordering::AcqRel);
    }
}

/// Counts of what lookups did, for metrics and the benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ColdStats {
    /// Lookups that asked the cold runs (the hot map did not have the key).
    pub lookups: u64,
    /// Blocks read from the database.
    pub block_reads: u64,
    /// Keys found in a run.
    pub found: u64,
    /// Merges put in place.
    pub merges: u64,
}

/// The two-tier occurrence memory (see the module docs).
#[derive(Debug)]
pub struct Occurrences {
    hot: SeenSet,
    /// Oldest first.
    cold: Vec<Arc<ColdRun>>,
    cold_entries: u64,
    store: Store,
    writer: mpsc::UnboundedSender<Job>,
    merged: mpsc::UnboundedReceiver<Merged>,
    merging: bool,
    run_writer: Option<RunWriter>,
    written: watch::Receiver<u64>,
    next_run: u64,
    fence: Arc<CommitFence>,
    /// Entries remembered through [`Occurrences::insert`].
    inserted: u64,
    last_stamp: u64,
    last_maintained_ms: u64,
    last_threshold_s: u32,
    tiering: Tiering,
    stats: ColdStats,
}

impl Occurrences {
    /// The memory as loaded from `store` ([`Store::load_seen`]); spawns the task that
    /// writes runs, so it must be called within a Tokio runtime.
    pub fn new(store: Store, loaded: LoadedSeen, tiering: Tiering, now_ms: u64) -> Occurrences {
        let LoadedSeen { hot, runs } = loaded;
        // cut runs take even ids, so a merge can take the odd one after its newest part
        let next_run = runs.last().map_or(2, |(id, _)| (id / 2 + 1) * 2);
        let last_threshold_s = runs.iter().map(|(_, r)| r.threshold_s).max().unwrap_or(0);
        let cold: Vec<Arc<ColdRun>> = runs
            .into_iter()
            .map(|(id, index)| {
                Arc::new(ColdRun {
                    id,
                    index,
                    unwritten: Mutex::new(None),
                })
            })
            .collect();
        let (writer, queue) = mpsc::unbounded_channel();
        let (written_tx, written) = watch::channel(next_run - 2);
        let (merged_tx, merged) = mpsc::unbounded_channel();
        let halt = Arc::new(AtomicBool::new(false));
        let writer_task = tokio::spawn(write_runs(
            store.clone(),
            queue,
            written_tx,
            merged_tx,
            halt.clone(),
        ));
        Occurrences {
            hot,
            cold_entries: cold.iter().map(|r| r.index.len).sum(),
            cold,
            store,
            writer,
            merged,
            merging: false,
            run_writer: Some(RunWriter {
                halt,
                task: writer_task,
            }),
            written,
            next_run,
            fence: Arc::new(CommitFence::default()),
            inserted: 0,
            last_stamp: now_ms,
            last_maintained_ms: now_ms,
            last_threshold_s,
            tiering,
            stats: ColdStats::default(),
        }
    }

    /// Where ingest reports what it committed (see [`Occurrences::stamp`]).
    pub fn fence(&self) -> Arc<CommitFence> {
        self.fence.clone()
    }

    /// The stamp of an observation at wall-clock `wall_ms`: never earlier than the
    /// previous one, so stamps follow the pipeline's order even if the clock steps back.
    pub fn stamp(&mut self, wall_ms: u64) -> u64 {
        self.last_stamp = self.last_stamp.max(wall_ms);
        self.last_stamp
    }

    /// True when `(uid, occurrence)` was not logged yet. An observation of a logged
    /// occurrence refreshes its last-seen time.
    pub fn is_new(&mut self, uid: &str, occurrence: i32, now_ms: u64) -> bool {
        let key = uid_key(uid);
        if let Some(remembered) = self.hot.get_key(key) {
            if occurrence > remembered {
                return true;
            }
            self.hot.touch_key(key, now_ms);
            return false;
        }
        match self.find_cold(key) {
            Some(e) if occurrence <= e.occurrence => {
                // back in the hot map, so the refreshed time reaches a run again
                self.hot.insert_key(key, e.occurrence, now_ms);
                false
            }
            _ => true,
        }
    }

    /// Remembers that `(uid, occurrence)` is logged (or will be, with the stamp
    /// `now_ms` reported through the [`Occurrences::fence`] once committed).
    pub fn insert(&mut self, uid: &str, occurrence: i32, now_ms: u64) {
        self.inserted += 1;
        self.hot.insert(uid, occurrence, now_ms);
    }

    /// Cuts a run and forgets what was last seen more than `retention_ms` ago, at most
    /// once per [`Tiering::demote_every`]; returns whether it ran.
    pub fn maintain(&mut self, now_ms: u64, retention_ms: u64) -> bool {
        let cutoff_ms = now_ms.saturating_sub(retention_ms);
        let every = u64::try_from(self.tiering.demote_every.as_millis()).unwrap_or(u64::MAX);
        if now_ms.saturating_sub(self.last_maintained_ms) < every {
            return false;
        }
        self.last_maintained_ms = now_ms;
        while let Ok(m) = self.merged.try_recv() {
            self.apply_merge(m);
        }
        let forgotten = self.hot.expire(cutoff_ms);
        let before = self.cold.len();
        self.cold
            .retain(|r| u64::from(r.index.newest_s) * 1000 >= cutoff_ms);
        if self.cold.len() != before {
            self.cold_entries = self.cold.iter().map(|r| r.index.len).sum();
        }
        if forgotten > 0 || self.cold.len() != before {
            debug!(
                forgotten,
                runs = before - self.cold.len(),
                "occurrence memory expired old entries"
            );
        }
        self.demote(now_ms);
        self.plan_merge();
        true
    }

    /// Sends the oldest `MERGE_FAN` written runs of the newest unmerged ones to be
    /// merged (one merge at a time).
    fn plan_merge(&mut self) {
        if self.merging {
            return;
        }
        let unmerged = self
            .cold
            .iter()
            .rev()
            .take_while(|r| r.index.merged_from == 0)
            .count();
        let parts: Vec<u64> = self.cold[self.cold.len() - unmerged..]
            .iter()
            .take_while(|r| r.unwritten().is_none())
            .take(MERGE_FAN)
            .map(|r| r.id)
            .collect();
        if parts.len() < MERGE_FAN {
            return;
        }
        self.merging = true;
        if self.writer.send(Job::Merge(parts)).is_err() {
            self.merging = false;
        }
    }

    /// Puts a merged run in place of its parts.
    fn apply_merge(&mut self, m: Merged) {
        self.merging = false;
        let (parts, index) = match m {
            Merged::Done { parts, index } => (parts, index),
            Merged::Failed => return,
        };
        let Some(&newest) = parts.last() else {
            return;
        };
        let id = newest + 1;
        self.cold.retain(|r| !parts.contains(&r.id));
        let at = self.cold.partition_point(|r| r.id < id);
        self.cold.insert(
            at,
            Arc::new(ColdRun {
                id,
                index,
                unwritten: Mutex::new(None),
            }),
        );
        self.cold_entries = self.cold.iter().map(|r| r.index.len).sum();
        self.stats.merges += 1;
        // no lookup reads the parts any more
        if self.writer.send(Job::Delete(parts)).is_err() {
            warn!(
                "the occurrence memory's run writer stopped: merged runs stay on disk until the next start"
            );
        }
    }

    fn demote(&mut self, now_ms: u64) {
        let hot_for = u64::try_from(self.tiering.hot_for.as_millis()).unwrap_or(u64::MAX);
        let idle_s = u32::try_from(now_ms.saturating_sub(hot_for) / 1000).unwrap_or(u32::MAX);
        let threshold_s = if self.fence.entries.load(Ordering::Acquire) >= self.inserted {
            // nothing in flight
            idle_s
        } else {
            // Stamps follow the pipeline's order and batches commit in order, so every
            // entry stamped before the newest committed stamp is committed; an entry
            // pending since a whole second before it is.
            let fenced_s = self.fence.stamp.load(Ordering::Acquire) / 1000;
            idle_s.min(u32::try_from(fenced_s).unwrap_or(u32::MAX))
        };
        if threshold_s <= self.last_threshold_s {
            return;
        }
        let entries = self.hot.demote(threshold_s, seconds_up(now_ms));
        if entries.is_empty() {
            return;
        }
        self.last_threshold_s = threshold_s;
        let run = Arc::new(ColdRun {
            id: self.next_run,
            index: RunIndex::build(threshold_s, &entries),
            unwritten: Mutex::new(None),
        });
        self.next_run += 2;
        self.cold_entries += run.index.len;
        *run.unwritten
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(entries));
        debug!(
            run = run.id,
            entries = run.index.len,
            threshold_s,
            "occurrence memory cut a cold run"
        );
        self.cold.push(run.clone());
        if self.writer.send(Job::Write(run)).is_err() {
            warn!("the occurrence memory's run writer stopped: the run stays in memory");
        }
    }

    fn find_cold(&mut self, key: u128) -> Option<RunEntry> {
        if self.cold.is_empty() {
            return None;
        }
        self.stats.lookups += 1;
        let probe = Probe::new(key);
        for run in self.cold.iter().rev() {
            if !run.index.may_hold(&probe) {
                continue;
            }
            let found = match run.unwritten() {
                Some(entries) => entries
                    .binary_search_by_key(&key, |e| e.key)
                    .ok()
                    .map(|i| entries[i]),
                None => {
                    let Some(block) = run.index.block_of(key) else {
                        continue;
                    };
                    self.stats.block_reads += 1;
                    match self.store.find_in_seen_run(run.id, block, key) {
                        Ok(found) => found,
                        Err(e) => {
                            // counted as new: a possible duplicate, never a loss
                            warn!(error = %e, run = run.id, "could not read the occurrence memory; the observation counts as new");
                            return None;
                        }
                    }
                }
            };
            if found.is_some() {
                self.stats.found += 1;
                // runs are cut in order, so the newest one holding the key has its
                // highest occurrence
                return found;
            }
        }
        None
    }

    /// Event objects remembered (an object in several runs counts once per run).
    pub fn len(&self) -> u64 {
        self.hot.len() as u64 + self.cold_entries
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries in the hot map.
    pub fn hot_len(&self) -> usize {
        self.hot.len()
    }

    /// Cold runs held.
    pub fn runs(&self) -> usize {
        self.cold.len()
    }

    /// Bytes the cold runs' indexes hold in memory.
    pub fn cold_index_bytes(&self) -> usize {
        self.cold.iter().map(|r| r.index.memory_bytes()).sum()
    }

    /// What lookups in the cold runs did so far.
    pub fn stats(&self) -> ColdStats {
        self.stats
    }

    /// The task that writes and merges runs, to stop once this memory is dropped
    /// (see [`RunWriter::stop`]). Taken once.
    pub fn take_run_writer(&mut self) -> Option<RunWriter> {
        self.run_writer.take()
    }

    /// Drops this memory and stops its run writer (see [`RunWriter::stop`]).
    pub async fn stop(mut self) {
        let writer = self.take_run_writer();
        drop(self);
        if let Some(w) = writer {
            w.stop().await;
        }
    }

    /// Waits until every run cut so far is written and the merge in flight (if any)
    /// is done and in place (or the writer stopped).
    pub async fn written(&mut self) {
        let last = self.next_run - 2;
        let _ = self.written.wait_for(|w| *w >= last).await;
        if self.merging {
            match self.merged.recv().await {
                Some(m) => self.apply_merge(m),
                None => self.merging = false,
            }
        }
    }
}

#[cfg(test)]
mod tests;
