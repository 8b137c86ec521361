//! The occurrence memory's tables: the per-batch occurrence records (`seen_log`) and
//! the cold runs (`seen_runs`, `seen_run_blocks`): loading at start, writing, merging,
//! looking up and expiring them.

use redb::{Durability, ReadableDatabase, ReadableTable};

use super::seen_log;
use super::seen_run::{self, RunIndex};
use super::{RUN_BLOCK_BITS, RunEntry, SEEN, SEEN_BLOCKS, SEEN_RUNS, SeenSet, Store, StoreError};

impl Store {
    /// Loads the occurrence memory, dropping entries last seen before `cutoff_ms` (and
    /// deleting the records and runs that hold only such entries): the indexes of the
    /// cold runs, and the hot part from the occurrence records the newest run does not
    /// cover. So a start reads the records of the last demotion period or two, not
    /// everything remembered.
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn load_seen(&self, cutoff_ms: u64) -> Result<LoadedSeen, StoreError> {
        self.expire_seen(cutoff_ms)?;
        let mut runs = Vec::new();
        {
            let txn = db_err!(self.inner.db.begin_read())?;
            for item in db_err!(db_err!(txn.open_table(SEEN_RUNS))?.iter())? {
                let (k, v) = db_err!(item)?;
                runs.push((k.value(), decode_index(k.value(), v.value())?));
            }
        }
        // parts of a merge that a crash left beside the merged run
        let replaced: Vec<u64> = runs
            .iter()
            .filter(|(id, _)| {
                runs.iter()
                    .any(|(m, r)| r.merged_from != 0 && (r.merged_from..*m).contains(id))
            })
            .map(|(id, _)| *id)
            .collect();
        if !replaced.is_empty() {
            self.delete_seen_runs(&replaced)?;
            runs.retain(|(id, _)| !replaced.contains(id));
        }
        let txn = db_err!(self.inner.db.begin_read())?;
        let from_ms = cutoff_ms.max(covered_before_ms(&runs));
        let seen = db_err!(txn.open_table(SEEN))?;
        let mut hot = SeenSet::default();
        for item in db_err!(seen.iter())? {
            let (k, v) = db_err!(item)?;
            let entries = seen_log::entries(v.value()).map_err(|e| StoreError::Corrupt {
                what: format!("occurrence record {}", k.value()),
                detail: e.to_string(),
            })?;
            for e in entries.filter(|e| e.seen_ms >= from_ms) {
                hot.insert_key(e.key, e.occurrence, e.seen_ms);
            }
        }
        Ok(LoadedSeen { hot, runs })
    }

    /// Writes a cold run of the occurrence memory, and deletes the occurrence records
    /// it covers (those whose newest entry is older than its threshold), in one
    /// transaction.
    ///
    /// # Errors
    /// Database errors; nothing is written then.
    pub fn write_seen_run(
        &self,
        id: u64,
        index: &RunIndex,
        entries: &[RunEntry],
    ) -> Result<(), StoreError> {
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        {
            let mut blocks = db_err!(txn.open_table(SEEN_BLOCKS))?;
            for (i, block) in seen_run::encode_blocks(entries).enumerate() {
                let key = run_block_key(id, i).ok_or_else(|| StoreError::Corrupt {
                    what: format!("occurrence run {id}"),
                    detail: format!("more than 2^{RUN_BLOCK_BITS} blocks"),
                })?;
                db_err!(blocks.insert(key, block.as_slice()))?;
            }
            db_err!(db_err!(txn.open_table(SEEN_RUNS))?.insert(id, index.encode().as_slice()))?;
            let covered_ms = covered_before_ms(&[(id, index.clone())]);
            let mut seen = db_err!(txn.open_table(SEEN))?;
            drop_records_before(&mut seen, covered_ms)?;
        }
        db_err!(txn.commit())
    }

    /// Entries held in occurrence records (not yet covered by a run).
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    #[cfg(test)]
    pub(crate) fn seen_record_entries(&self) -> Result<u64, StoreError> {
        let txn = db_err!(self.inner.db.begin_read())?;
        let seen = db_err!(txn.open_table(SEEN))?;
        let mut n = 0;
        for item in db_err!(seen.iter())? {
            let (_, v) = db_err!(item)?;
            n += seen_log::entry_count(v.value()).map_err(|e| StoreError::Corrupt {
                what: "occurrence record".into(),
                detail: e.to_string(),
            })?;
        }
        Ok(n)
    }

    /// Merges cold runs `parts` (ids ascending, consecutive in the memory's order)
    /// into a new run `id`, which must sort right after the newest part (run ids
    /// leave room for it). Where a key is in several parts, the newest part's entry is
    /// kept (it has the highest occurrence). Parts already deleted (expired) are
    /// skipped. The parts stay until [`Store::delete_seen_runs`]: the memory looks them
    /// up until it has put the merged run in their place (a start that finds both
    /// deletes the parts). They are read a block at a time: memory holds one block per
    /// part, not the runs.
    ///
    /// # Errors
    /// Database errors or an undecodable block; nothing is written then.
    pub fn merge_seen_runs(&self, parts: &[u64], id: u64) -> Result<RunIndex, StoreError> {
        let Some(&first_part) = parts.first() else {
            return Err(StoreError::Corrupt {
                what: "occurrence run merge".into(),
                detail: "no runs to merge".into(),
            });
        };
        let target = id;
        let read = db_err!(self.inner.db.begin_read())?;
        let indexes = db_err!(read.open_table(SEEN_RUNS))?;
        let stored = db_err!(read.open_table(SEEN_BLOCKS))?;
        let (mut threshold_s, mut capacity) = (0, 0usize);
        let mut cursors = Vec::new();
        for &id in parts {
            let Some(v) = db_err!(indexes.get(id))? else {
                continue;
            };
            let index = decode_index(id, v.value())?;
            threshold_s = threshold_s.max(index.threshold_s);
            capacity += usize::try_from(index.len).unwrap_or(usize::MAX);
            let first = id << RUN_BLOCK_BITS;
            let range = db_err!(stored.range(first..first + (1 << RUN_BLOCK_BITS)))?;
            cursors.push(RunCursor::new(id, range)?);
        }
        let mut txn = db_err!(self.inner.db.begin_write())?;
        db_err!(txn.set_durability(Durability::Immediate))?;
        let merged = {
            let mut runs = db_err!(txn.open_table(SEEN_RUNS))?;
            let mut blocks = db_err!(txn.open_table(SEEN_BLOCKS))?;
            let mut builder = seen_run::RunIndexBuilder::new(threshold_s, first_part, capacity);
            let mut block = Vec::with_capacity(seen_run::BLOCK_ENTRIES);
            let mut written = 0usize;
            let mut flush = |block: &mut Vec<RunEntry>,
                             blocks: &mut redb::Table<'_, u64, &'static [u8]>|
             -> Result<(), StoreError> {
                for bytes in seen_run::encode_blocks(block) {
                    let key =
                        run_block_key(target, written).ok_or_else(|| StoreError::Corrupt {
                            what: format!("occurrence run {target}"),
                            detail: format!("more than 2^{RUN_BLOCK_BITS} blocks"),
                        })?;
                    db_err!(blocks.insert(key, bytes.as_slice()))?;
                    written += 1;
                }
                block.clear();
                Ok(())
            };
            // k-way merge; on equal keys the newest part (the last cursor) wins
            while let Some(key) = cursors.iter().filter_map(|c| c.head.map(|e| e.key)).min() {
                let mut entry = None;
                for c in &mut cursors {
                    if c.head.is_some_and(|e| e.key == key) {
                        entry = c.head;
                        c.advance()?;
                    }
                }
                if let Some(e) = entry {
                    builder.push(&e);
                    block.push(e);
                }
                if block.len() == seen_run::BLOCK_ENTRIES {
                    flush(&mut block, &mut blocks)?;
                }
            }
            flush(&mut block, &mut blocks)?;
            let merged = builder.finish();
            db_err!(runs.insert(target, merged.encode().as_slice()))?;
            merged
        };
        db_err!(txn.commit())?;
        Ok(merged)
    }

    /// Deletes cold runs (the parts of a merge once the merged run replaced them).
    ///
    /// # Errors
    /// Database errors.
    pub fn delete_seen_runs(&self, ids: &[u64]) -> Result<(), StoreError> {
        let txn = db_err!(self.inner.db.begin_write())?;
        {
            let mut runs = db_err!(txn.open_table(SEEN_RUNS))?;
            let mut blocks = db_err!(txn.open_table(SEEN_BLOCKS))?;
            remove_runs(&mut runs, &mut blocks, ids)?;
        }
        db_err!(txn.commit())
    }

    /// Looks `key` up in block `block` of run `id`.
    ///
    /// # Errors
    /// Database errors or an undecodable block.
    pub fn find_in_seen_run(
        &self,
        id: u64,
        block: u32,
        key: u128,
    ) -> Result<Option<RunEntry>, StoreError> {
        let Some(k) = run_block_key(id, block as usize) else {
            return Ok(None);
        };
        let txn = db_err!(self.inner.db.begin_read())?;
        let blocks = db_err!(txn.open_table(SEEN_BLOCKS))?;
        let Some(v) = db_err!(blocks.get(k))? else {
            return Ok(None);
        };
        seen_run::find_in_block(v.value(), key).map_err(|e| StoreError::Corrupt {
            what: format!("occurrence run {id} block {block}"),
            detail: e.to_string(),
        })
    }

    /// Deletes the occurrence records whose newest entry was seen before `cutoff_ms`,
    /// and the cold runs whose newest entry was; returns how many entries they held.
    /// Records are appended in time order, so this stops at the first record still in
    /// use.
    ///
    /// # Errors
    /// Database errors or an undecodable record.
    pub fn expire_seen(&self, cutoff_ms: u64) -> Result<u64, StoreError> {
        let txn = db_err!(self.inner.db.begin_write())?;
        let mut removed;
        {
            let mut seen = db_err!(txn.open_table(SEEN))?;
            removed = drop_records_before(&mut seen, cutoff_ms)?;
            let mut runs = db_err!(txn.open_table(SEEN_RUNS))?;
            let mut expired = Vec::new();
            for item in db_err!(runs.iter())? {
                let (k, v) = db_err!(item)?;
                let (newest_s, len) =
                    RunIndex::expiry_of(v.value()).map_err(|e| StoreError::Corrupt {
                        what: format!("occurrence run {}", k.value()),
                        detail: e.to_string(),
                    })?;
                if u64::from(newest_s) * 1000 < cutoff_ms {
                    removed += len;
                    expired.push(k.value());
                }
            }
            let mut blocks = db_err!(txn.open_table(SEEN_BLOCKS))?;
            remove_runs(&mut runs, &mut blocks, &expired)?;
        }
        db_err!(txn.commit())?;
        Ok(removed)
    }
}

/// Reads a stored run's entries in key order, a block at a time.
struct RunCursor<'a> {
    id: u64,
    blocks: redb::Range<'a, u64, &'static [u8]>,
    block: std::vec::IntoIter<RunEntry>,
    head: Option<RunEntry>,
}

impl<'a> RunCursor<'a> {
    fn new(id: u64, blocks: redb::Range<'a, u64, &'static [u8]>) -> Result<Self, StoreError> {
        let mut c = RunCursor {
            id,
            blocks,
            block: Vec::new().into_iter(),
            head: None,
        };
        c.advance()?;
        Ok(c)
    }

    fn advance(&mut self) -> Result<(), StoreError> {
        loop {
            if let Some(e) = self.block.next() {
                self.head = Some(e);
                return Ok(());
            }
            let Some(item) = self.blocks.next() else {
                self.head = None;
                return Ok(());
            };
            let (k, v) = db_err!(item)?;
            let entries = seen_run::block_entries(v.value()).map_err(|e| StoreError::Corrupt {
                what: format!("occurrence run {} block {}", self.id, k.value()),
                detail: e.to_string(),
            })?;
            self.block = entries.collect::<Vec<_>>().into_iter();
        }
    }
}

/// The occurrence memory as stored: the cold runs' indexes and the hot part.
#[derive(Debug, Default)]
pub struct LoadedSeen {
    /// What the newest run does not cover.
    pub hot: SeenSet,
    /// The cold runs, by id, oldest first.
    pub runs: Vec<(u64, RunIndex)>,
}

/// Occurrence entries seen before this (unix ms) are in the runs: a run at threshold
/// `t` s holds every entry pending since a time that rounds up to less than `t`, that
/// is, seen at or before `(t - 1) × 1000` ms.
fn covered_before_ms(runs: &[(u64, RunIndex)]) -> u64 {
    runs.iter()
        .map(|(_, r)| u64::from(r.threshold_s.saturating_sub(1)) * 1000)
        .max()
        .unwrap_or(0)
}

fn run_block_key(id: u64, block: usize) -> Option<u64> {
    let block = u64::try_from(block)
        .ok()
        .filter(|b| *b < 1 << RUN_BLOCK_BITS)?;
    id.checked_shl(RUN_BLOCK_BITS)
        .filter(|k| k >> RUN_BLOCK_BITS == id)
        .map(|k| k | block)
}

/// Deletes the occurrence records whose newest entry is older than `before_ms`, from
/// the front; returns how many entries they held.
fn drop_records_before(
    seen: &mut redb::Table<'_, u64, &'static [u8]>,
    before_ms: u64,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut expired = Vec::new();
    for item in db_err!(seen.iter())? {
        let (k, v) = db_err!(item)?;
        let corrupt = |e: seen_log::BadRecord| StoreError::Corrupt {
            what: format!("occurrence record {}", k.value()),
            detail: e.to_string(),
        };
        if seen_log::newest_ms(v.value()).map_err(corrupt)? >= before_ms {
            break;
        }
        removed += seen_log::entry_count(v.value()).map_err(corrupt)?;
        expired.push(k.value());
    }
    for k in expired {
        db_err!(seen.remove(k))?;
    }
    Ok(removed)
}

fn decode_index(id: u64, bytes: &[u8]) -> Result<RunIndex, StoreError> {
    RunIndex::decode(bytes).map_err(|e| StoreError::Corrupt {
        what: format!("occurrence run {id}"),
        detail: e.to_string(),
    })
}

/// Deletes runs `ids`: their indexes and their blocks.
fn remove_runs(
    runs: &mut redb::Table<'_, u64, &'static [u8]>,
    blocks: &mut redb::Table<'_, u64, &'static [u8]>,
    ids: &[u64],
) -> Result<(), StoreError> {
    for &id in ids {
        db_err!(runs.remove(id))?;
        let first = id << RUN_BLOCK_BITS;
        db_err!(blocks.retain_in(first..first + (1 << RUN_BLOCK_BITS), |_, _| false))?;
    }
    Ok(())
}
