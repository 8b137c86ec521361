//! The exporter's durable, crash-safe state: the event log, the occurrence memory
//! (dedup), consumer-group offsets and watch checkpoints, in one `redb` database.
//!
//! Why redb: it is an embedded, pure-Rust, ACID key-value store whose commits are
//! durable when `commit()` returns (copy-on-write B-trees with checksummed commit
//! slots, so a crash at any point leaves the last committed state intact). Every
//! ingest batch is one transaction that appends the events, records their occurrence
//! ids and advances the watch checkpoint together: after a crash the log, the dedup
//! memory and the resume point can never disagree.
//!
//! Tables:
//! * `log`: offset → encoded `herald.v1.Event` (offsets start at 1, contiguous);
//! * `seen_log`: sequence → one batch's occurrence records (see [`seen_log`]: append-only,
//!   so a commit touches only the tail of the tree);
//! * `seen_runs` and `seen_run_blocks`: the cold part of the occurrence memory, sorted
//!   runs of the Event objects not seen for a while (see [`seen_run`]): run id → its
//!   index, and (run id, block) → the block's entries. Writing a run also deletes the
//!   occurrence records it covers, in the same transaction (see [`occurrence_tables`]);
//! * `marks`: offset → resourceVersion: once every offset ≤ key is consumed, the
//!   Kubernetes stream is processed up to that resourceVersion;
//! * `groups`: group name → encoded [`GroupRecord`];
//! * `meta`: small values (log id, byte count, lost-event count).
//!
//! The newest records are also kept in memory as appended (see [`recent`]): every
//! consumer group reads every record, most of them right after its commit.

mod recent;
mod seen;
mod seen_log;
mod seen_run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use prost::Message;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use tracing::warn;

pub use seen::{RunEntry, SeenSet, seconds_up, uid_key};
pub use seen_run::{Probe, RunIndex};

use herald_proto::pb;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const SEEN: TableDefinition<u64, &[u8]> = TableDefinition::new("seen_log");
const SEEN_RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("seen_runs");
const SEEN_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("seen_run_blocks");
/// A run's blocks are keyed `run id << RUN_BLOCK_BITS | block`.
const RUN_BLOCK_BITS: u32 = 24;
const MARKS: TableDefinition<u64, &str> = TableDefinition::new("marks");
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_LOG_ID: &str = "log_id";
const META_BYTES: &str = "bytes";
const META_LOST: &str = "lost";
/// Present once `META_BYTES` has been counted from the records themselves: stores
/// written before the log's writers were serialised can carry a byte count that
/// drifted upward, and are recounted once when opened.
const META_BYTES_COUNTED: &str = "bytes_counted";

/// Page cache of the database. redb's default (1 GiB) lets the cache grow with the log
/// until it dominates the process's memory; the log is append-only and subscribers
/// mostly read its tail, so a small cache costs little (benchmark issue: RSS < 64 MiB).
/// Measured with herald-bench: 16 MiB → 4 MiB lowered peak RSS by ~15 MiB and *raised*
/// ingest throughput (less eviction work); 1 MiB saved 5 MiB more but cost throughput.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// The newest records kept in memory for consumer groups at the tail (see [`recent`]):
/// about 2,000 events of 1 KiB, twice a ruler's default credit window.
const RECENT_BYTES: usize = 2 * 1024 * 1024;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "herald.redb";

/// Errors of the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database reported an error.
    #[error("durable log: {0}")]
    Db(#[from] redb::Error),
    /// A stored record does not decode (corruption or a newer format).
    #[error("durable log record {what} does not decode: {detail}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Decoder message.
        detail: String,
    },
    /// A blocking task failed to run.
    #[error("durable log worker failed: {0}")]
    Join(String),
}

macro_rules! db_err {
    ($e:expr) => {
        $e.map_err(|e| StoreError::Db(e.into()))
    };
}

// after `db_err!`, which it uses
mod occurrence_tables;

pub use occurrence_tables::LoadedSeen;

/// One event's record as the log stores it: `herald.v1.Event` encoded, its offset
/// included, which is also what a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The event's offset.
    pub offset: u64,
    /// `herald.v1.Event`, encoded.
    pub bytes: bytes::Bytes,
}

impl StoredEvent {
    /// The event, decoded.
    ///
    /// # Errors
    /// The record does not decode (corruption or a newer format).
    pub fn decode(&self) -> Result<pb::Event, StoreError> {
        decode_event(self.offset, &self.bytes)
    }
}

/// What one ingest transaction writes.
#[derive(Debug, Default)]
pub struct AppendBatch {
    /// Occurrences to log, in order.
    pub events: Vec<pb::Event>,
    /// Occurrence memory updates: uid → (occurrence, observed unix ms).
    pub seen: Vec<(String, i32, u64)>,
    /// New watch checkpoint (resourceVersion) reached after this batch, if any.
    pub checkpoint: Option<String>,
}

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// First offset written (equal to `next` when nothing was written).
    pub first: u64,
    /// Offset the next append will use.
    pub next: u64,
    /// Bytes of event data now retained.
    pub bytes: u64,
}

/// Persisted state of a consumer group.
#[derive(Clone, PartialEq, Message)]
pub struct GroupRecord {
    /// Every offset ≤ this is acknowledged.
    #[prost(uint64, tag = "1")]
    pub committed: u64,
    /// The group's filter (all members must use it).
    #[prost(message, optional, tag = "2")]
    pub filter: Option<pb::Filter>,
    /// Last time a member was connected or committed (unix ms).
    #[prost(uint64, tag = "3")]
    pub last_active_ms: u64,
    /// The dispatch horizon: every offset below it was handed to a member (0 in
    /// records written before this field, meaning `committed + 1`).
    #[prost(uint64, tag = "4")]
    pub next: u64,
    /// Offsets between `committed` and `next` acknowledged out of order, as inclusive
    /// `first, last` pairs: a restart redelivers only the others.
    #[prost(uint64, repeated, tag = "5")]
    pub acked_ranges: Vec<u64>,
}

/// Bounds and size of the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogBounds {
    /// Oldest retained offset (0 when empty).
    pub first: u64,
    /// Newest offset (0 when nothing was ever logged).
    pub last: u64,
    /// Bytes of event data retained.
    pub bytes: u64,
    /// Events removed by retention before every durable group consumed them.
    pub lost: u64,
}

impl LogBounds {
    /// Number of retained events.
    pub fn events(&self) -> u64 {
        if self.first == 0 {
            0
        } else {
            self.last + 1 - self.first
        }
    }
}

/// Most events one retention pass removes: one write transaction, kept short so
/// that the ingest commits waiting behind it wait little.
pub const PRUNE_PASS_MAX: u64 = 2_000;

/// Result of a retention pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Events removed.
    pub removed: u64,
    /// Of those, events that some durable group had not acknowledged.
    pub lost: u64,
    /// The pass stopped at [`PRUNE_PASS_MAX`] with more to remove: run another.
    pub more: bool,
}

struct Counters {
    next: u64,
    /// Key of the next occurrence record.
    next_seen: u64,
    first: u64,
    bytes: u64,
    lost: u64,
}

struct Inner {
    db: Database,
    path: PathBuf,
    log_id: String,
    counters: Mutex<Counters>,
    recent: Mutex<recent::Recent>,
    /// Held by the log's writers ([`Store::append`], [`Store::prune`]) from reading
    /// the counters to updating them after the commit. redb serialises the write
    /// transactions, not the reads before them or the updates after, so without it a
    /// writer could start from counters another one is about to change and overwrite
    /// that change: the byte count then drifted upward, and retention removed events
    /// to satisfy bytes that were no longer there.
    writer: Mutex<()>,
}

/// Handle to the durable store; cheap to clone. Methods block: call them from
/// `spawn_blocking` (see [`Store::run`]).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("log_id", &self.inner.log_id)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    ///
    /// # Errors
    /// The directory cannot be created, or the database cannot be opened (another
    /// process holds it, or it is corrupt beyond redb's repair).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let db = db_err!(
            Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(&path)
        )?;
        let txn = db_err!(db.begin_write())?;
        let (log_id, counters) = {
            let mut meta = db_err!(txn.open_table(META))?;
            let log = db_err!(txn.open_table(LOG))?;
            let seen = db_err!(txn.open_table(SEEN))?;
            let next_seen = db_err!(seen.last())?.map_or(0, |(k, _)| k.value() + 1);
            db_err!(txn.open_table(MARKS))?;
            db_err!(txn.open_table(GROUPS))?;
            db_err!(txn.open_table(SEEN_RUNS))?;
            db_err!(txn.open_table(SEEN_BLOCKS))?;
            let log_id = match db_err!(meta.get(META_LOG_ID))? {
                Some(v) => String::from_utf8_lossy(v.value()).into_owned(),
                None => String::new(),
            };
            let log_id = if log_id.is_empty() {
                let id = uuid::Uuid::new_v4().to_string();
                db_err!(meta.insert(META_LOG_ID, id.as_bytes()))?;
                id
            } else {
                log_id
            };
            let read_u64 = |key: &str| -> Result<u64, StoreError> {
                Ok(db_err!(meta.get(key))?
                    .map(|v| decode_u64(v.value()))
                    .unwrap_or(0))
            };
            let lost = read_u64(META_LOST)?;
            let bytes = if db_err!(meta.get(META_BYTES_COUNTED))?.is_some() {
                read_u64(META_BYTES)?
            } else {
                let mut counted = 0u64;
                for item in db_err!(log.iter())? {
                    counted += db_err!(item)?.1.value().len() as u64;
                }
                let recorded = read_u64(META_BYTES)?;
                if recorded != counted {
                    warn!(
                        recorded,
                        counted, "the log's byte count had drifted; recounted"
                    );
                }
                db_err!(meta.insert(META_BYTES, counted.to_le_bytes().as_slice()))?;
                db_err!(meta.insert(META_BYTES_COUNTED, [1u8].as_slice()))?;
                counted
            };
            let first = db_err!(log.first())?.map(|(k, _)| k.value()).unwrap_or(0);
            let last = db_err!(log.last())?.map(|(k, _)| k.value()).unwrap_or(0);
            // `next` must never reuse an offset, even after retention emptied the log:
            // the highest mark remembers the last offset ever written.
            let marks = db_err!(txn.open_table(MARKS))?;
            let last_mark = db_err!(marks.last())?.map(|(k, _)| k.value()).unwrap_or(0);
            let next = last.max(last_mark) + 1;
            (
                log_id,
                Counters {
                    next,
                    next_seen,
                    first,
                    bytes,
                    lost,
                },
            )
        };
        db_err!(txn.commit())?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path,
                log_id,
                counters: Mutex::new(counters),
                recent: Mutex::new(recent::Recent::new(RECENT_BYTES)),
                writer: Mutex::new(()),
            }),
        })
    }

    /// Runs a blocking store operation on the blocking pool.
    ///
    /// # Errors
    /// The operation's error, or [`StoreError::Join`] if the task panicked.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// The persistent identity of this log.
    pub fn log_id(&self) -> &str {
        &self.inner.log_id
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, recent::Recent> {
        // a poisoned lock only means another thread panicked while holding it; the
        // records kept are still valid committed records
        self.inner
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, ()> {
        // it guards no data of its own
        self.inner
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // a poisoned lock only means another thread panicked while holding plain
        // integers; they are still consistent (updated after commits succeed)
        self.inner
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Current bounds of the log.
    pub fn bounds(&self) -> LogBounds {
        let c = self.counters();
        LogBounds {
            first: c.first,
            last: c.next - 1,
            bytes: c.bytes,
            lost: c.lost,
        }
    }

    /// Appends a batch in one durable transaction and returns the assigned offsets.
    /// Must only be called by one writer at a time (the ingest pipeline).
    ///
    /// # Errors
    /// Database errors; nothing is written then.
    pub fn append(&self, batch: AppendBatch) -> Result<Appended, StoreError> {
        let _writer = self.writer();
        let (start, mut bytes, seen_key) = {
            let c = self.counters();
            (c.next, c.bytes, c.next_seen)
        };
        let remembered = !batch.seen.is_empty();
        let mut next = start;
        let mut appended = Vec::with_capacity(batch.events.len());
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        {
            let mut log = db_err!(txn.open_table(LOG))?;
            for mut ev in batch.events {
                ev.offset = next;
                // a fresh buffer per record: it is kept in `recent` after the commit
                let buf = ev.encode_to_vec();
                db_err!(log.insert(next, buf.as_slice()))?;
                bytes += buf.len() as u64;
                appended.push(StoredEvent {
                    offset: next,
                    bytes: bytes::Bytes::from(buf),
                });
                next += 1;
            }
            if remembered {
                let mut seen = db_err!(txn.open_table(SEEN))?;
                let record = seen_log::encode(&batch.seen);
                db_err!(seen.insert(seen_key, record.as_slice()))?;
            }
            if let Some(rv) = &batch.checkpoint {
                let mut marks = db_err!(txn.open_table(MARKS))?;
                db_err!(marks.insert(next - 1, rv.as_str()))?;
            }
            let mut meta = db_err!(txn.open_table(META))?;
            db_err!(meta.insert(META_BYTES, bytes.to_le_bytes().as_slice()))?;
        }
        db_err!(txn.commit())?;
        self.recent().extend(appended);
        let mut c = self.counters();
        if c.first == 0 && next > start {
            c.first = start;
        }
        c.next = next;
        c.bytes = bytes;
        if remembered {
            c.next_seen = seen_key + 1;
        }
        Ok(Appended {
            first: start,
            next,
            bytes,
        })
    }

    /// Reads up to `max` events starting at `from` (inclusive), stopping early after
    /// `max_bytes` of encoded data (at least one event is returned when available).
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn read(
        &self,
        from: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<pb::Event>, StoreError> {
        self.read_stored(from, max, max_bytes)?
            .iter()
            .map(StoredEvent::decode)
            .collect()
    }

    /// [`Store::read`] without decoding: each event's record as stored.
    ///
    /// # Errors
    /// Database errors.
    pub fn read_stored(
        &self,
        from: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if let Some(kept) = self.recent().read(from, max, max_bytes) {
            return Ok(kept);
        }
        let txn = db_err!(self.inner.db.begin_read())?;
        let log = db_err!(txn.open_table(LOG))?;
        let mut out = Vec::new();
        let mut size = 0usize;
        for item in db_err!(log.range(from..))? {
            let (k, v) = db_err!(item)?;
            let bytes = v.value();
            if !out.is_empty() && (out.len() >= max || size + bytes.len() > max_bytes) {
                break;
            }
            size += bytes.len();
            out.push(StoredEvent {
                offset: k.value(),
                bytes: bytes::Bytes::copy_from_slice(bytes),
            });
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Reads the events with exactly these offsets (missing ones are skipped: pruned).
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn read_offsets(&self, offsets: &[u64]) -> Result<Vec<pb::Event>, StoreError> {
        self.read_offsets_stored(offsets)?
            .iter()
            .map(StoredEvent::decode)
            .collect()
    }

    /// [`Store::read_offsets`] without decoding.
    ///
    /// # Errors
    /// Database errors.
    pub fn read_offsets_stored(&self, offsets: &[u64]) -> Result<Vec<StoredEvent>, StoreError> {
        {
            let recent = self.recent();
            let kept: Vec<StoredEvent> = offsets
                .iter()
                .map_while(|&o| recent.get(o).cloned())
                .collect();
            if kept.len() == offsets.len() {
                return Ok(kept);
            }
        }
        let txn = db_err!(self.inner.db.begin_read())?;
        let log = db_err!(txn.open_table(LOG))?;
        let mut out = Vec::with_capacity(offsets.len());
        for &o in offsets {
            if let Some(v) = db_err!(log.get(o))? {
                out.push(StoredEvent {
                    offset: o,
                    bytes: bytes::Bytes::copy_from_slice(v.value()),
                });
            }
        }
        Ok(out)
    }

    /// Returns the first offset whose event was observed at or after `t` (the next
    /// offset to be written when there is none).
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn offset_at_time(&self, t: DateTime<Utc>) -> Result<u64, StoreError> {
        let b = self.bounds();
        if b.first == 0 {
            return Ok(b.last + 1);
        }
        let txn = db_err!(self.inner.db.begin_read())?;
        let log = db_err!(txn.open_table(LOG))?;
        let (mut lo, mut hi) = (b.first, b.last + 1);
        // observed_at is non-decreasing along the log: binary search
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let observed = match db_err!(log.get(mid))? {
                Some(v) => {
                    let ev = decode_event(mid, v.value())?;
                    herald_proto::convert::from_timestamp(ev.observed_at)
                }
                None => None,
            };
            match observed {
                Some(o) if o >= t => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(lo)
    }

    /// Returns true when the store holds no memory of any Kubernetes state (a cold
    /// start: no checkpoint and no occurrence memory).
    ///
    /// # Errors
    /// Database errors.
    pub fn is_cold(&self) -> Result<bool, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let marks = db_err!(txn.open_table(MARKS))?;
        let seen = db_err!(txn.open_table(SEEN))?;
        let runs = db_err!(txn.open_table(SEEN_RUNS))?;
        Ok(db_err!(marks.is_empty())? && db_err!(seen.is_empty())? && db_err!(runs.is_empty())?)
    }

    /// The latest watch checkpoint (resume resourceVersion), if any.
    ///
    /// # Errors
    /// Database errors.
    pub fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let marks = db_err!(txn.open_table(MARKS))?;
        Ok(db_err!(marks.last())?.map(|(_, v)| v.value().to_owned()))
    }

    /// The newest checkpoint recorded at or below `offset`: the point the Kubernetes
    /// stream is fully processed to once every offset ≤ `offset` is consumed.
    ///
    /// # Errors
    /// Database errors.
    pub fn checkpoint_at(&self, offset: u64) -> Result<Option<String>, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let marks = db_err!(txn.open_table(MARKS))?;
        let mut range = db_err!(marks.range(..=offset))?;
        Ok(match range.next_back() {
            Some(item) => Some(db_err!(item)?.1.value().to_owned()),
            None => None,
        })
    }

    /// The newest checkpoint at or below `offset`, with the offset it is recorded at.
    ///
    /// # Errors
    /// Database errors.
    pub fn mark_at_or_below(&self, offset: u64) -> Result<Option<(u64, String)>, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let marks = db_err!(txn.open_table(MARKS))?;
        let mut range = db_err!(marks.range(..=offset))?;
        Ok(match range.next_back() {
            Some(item) => {
                let (k, v) = db_err!(item)?;
                Some((k.value(), v.value().to_owned()))
            }
            None => None,
        })
    }

    /// Records that the Kubernetes stream is processed up to `rv` with every event
    /// logged so far at or below the newest offset (a new leader adopting the position
    /// its predecessor handed over). Replaces a mark at that offset.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_checkpoint(&self, rv: &str) -> Result<(), StoreError> {
        let offset = self.bounds().last;
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        {
            let mut marks = db_err!(txn.open_table(MARKS))?;
            db_err!(marks.insert(offset, rv))?;
        }
        db_err!(txn.commit())?;
        Ok(())
    }

    /// Loads every consumer group.
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn load_groups(&self) -> Result<BTreeMap<String, GroupRecord>, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let groups = db_err!(txn.open_table(GROUPS))?;
        let mut out = BTreeMap::new();
        for item in db_err!(groups.iter())? {
            let (k, v) = db_err!(item)?;
            let rec = GroupRecord::decode(v.value()).map_err(|e| StoreError::Corrupt {
                what: format!("group {}", k.value()),
                detail: e.to_string(),
            })?;
            out.insert(k.value().to_owned(), rec);
        }
        Ok(out)
    }

    /// Saves consumer groups durably.
    ///
    /// # Errors
    /// Database errors.
    pub fn save_groups(&self, records: &[(String, GroupRecord)]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        {
            let mut groups = db_err!(txn.open_table(GROUPS))?;
            for (name, rec) in records {
                db_err!(groups.insert(name.as_str(), rec.encode_to_vec().as_slice()))?;
            }
        }
        db_err!(txn.commit())?;
        Ok(())
    }

    /// Removes a consumer group's record durably.
    ///
    /// # Errors
    /// Database errors.
    pub fn delete_group(&self, name: &str) -> Result<(), StoreError> {
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        {
            let mut groups = db_err!(txn.open_table(GROUPS))?;
            db_err!(groups.remove(name))?;
        }
        db_err!(txn.commit())?;
        Ok(())
    }

    /// Removes events from the front of the log while they are older than `max_age`
    /// (by observed time) or the log is larger than `max_bytes`, at most
    /// [`PRUNE_PASS_MAX`] in one transaction ([`Pruned::more`] then asks for another
    /// pass). Events above `protected` (the lowest committed offset over durable
    /// groups) that are removed are counted as lost. Checkpoint marks below the new
    /// front are dropped except the newest of them.
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn prune(
        &self,
        now: DateTime<Utc>,
        max_age: chrono::Duration,
        max_bytes: u64,
        protected: u64,
    ) -> Result<Pruned, StoreError> {
        let cutoff = now - max_age;
        let _writer = self.writer();
        let (mut bytes, lost_before) = {
            let c = self.counters();
            (c.bytes, c.lost)
        };
        let mut pruned = Pruned::default();
        let txn = db_err!(self.inner.db.begin_write())?;
        let new_first;
        {
            let mut log = db_err!(txn.open_table(LOG))?;
            loop {
                let Some((k, v)) = db_err!(log.first())? else {
                    break;
                };
                let offset = k.value();
                let size = v.value().len() as u64;
                let too_big = bytes > max_bytes;
                let too_old = !too_big && {
                    let ev = decode_event(offset, v.value())?;
                    herald_proto::convert::from_timestamp(ev.observed_at).is_none_or(|t| t < cutoff)
                };
                drop((k, v));
                if !(too_big || too_old) {
                    break;
                }
                db_err!(log.remove(offset))?;
                bytes = bytes.saturating_sub(size);
                pruned.removed += 1;
                if offset > protected {
                    pruned.lost += 1;
                }
                // bounded work per transaction keeps write latency low
                if pruned.removed >= PRUNE_PASS_MAX {
                    pruned.more = true;
                    break;
                }
            }
            new_first = db_err!(log.first())?.map(|(k, _)| k.value()).unwrap_or(0);
            if pruned.removed > 0 {
                let mut marks = db_err!(txn.open_table(MARKS))?;
                let front = if new_first == 0 { u64::MAX } else { new_first };
                let below: Vec<u64> = {
                    let mut keys = Vec::new();
                    for item in db_err!(marks.range(..front))? {
                        keys.push(db_err!(item)?.0.value());
                    }
                    keys
                };
                // keep the newest mark below the front: it is the resume point and
                // remembers the highest offset ever written
                for k in below.iter().take(below.len().saturating_sub(1)) {
                    db_err!(marks.remove(*k))?;
                }
                let mut meta = db_err!(txn.open_table(META))?;
                db_err!(meta.insert(META_BYTES, bytes.to_le_bytes().as_slice()))?;
                db_err!(meta.insert(
                    META_LOST,
                    (lost_before + pruned.lost).to_le_bytes().as_slice()
                ))?;
            }
        }
        if pruned.removed == 0 {
            txn.abort().map_err(|e| StoreError::Db(e.into()))?;
            return Ok(pruned);
        }
        db_err!(txn.commit())?;
        self.recent().remove_below(new_first);
        let mut c = self.counters();
        c.first = new_first;
        c.bytes = bytes;
        c.lost = lost_before + pruned.lost;
        Ok(pruned)
    }
}

/// Copies a slice whose length the caller checked into an array.
pub(crate) fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn decode_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}

fn decode_event(offset: u64, bytes: &[u8]) -> Result<pb::Event, StoreError> {
    pb::Event::decode(bytes).map_err(|e| StoreError::Corrupt {
        what: format!("offset {offset}"),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
