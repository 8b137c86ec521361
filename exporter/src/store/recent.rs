//! The newest records of the log, kept in memory as they were appended.
//!
//! Every consumer group reads every event, and a ruler has one group per receiver, so
//! one appended record is read from the log as many times as there are groups, most of
//! them within moments of its commit. Serving those reads from the bytes the append
//! already encoded spares a read transaction, a B-tree walk and a copy per record per
//! group. The records kept are a contiguous range ending at the newest offset and
//! bounded by bytes; a read that starts before it goes to the database.

use std::collections::VecDeque;

use super::StoredEvent;

/// The newest records, contiguous by offset.
#[derive(Debug)]
pub(crate) struct Recent {
    records: VecDeque<StoredEvent>,
    bytes: usize,
    capacity: usize,
}

impl Recent {
    /// Keeps at most `capacity` bytes of records (always the newest one).
    pub(crate) fn new(capacity: usize) -> Recent {
        Recent {
            records: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    /// Adds records just committed. They must follow the newest kept one; anything
    /// else (a gap) restarts the range with them.
    pub(crate) fn extend(&mut self, appended: Vec<StoredEvent>) {
        for r in appended {
            if self
                .records
                .back()
                .is_some_and(|b| b.offset + 1 != r.offset)
            {
                self.clear();
            }
            self.bytes += r.bytes.len();
            self.records.push_back(r);
        }
        while self.bytes > self.capacity && self.records.len() > 1 {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= old.bytes.len();
            }
        }
    }

    /// Forgets records below `first` (removed by retention; 0: the log is empty).
    pub(crate) fn remove_below(&mut self, first: u64) {
        if first == 0 {
            self.clear();
            return;
        }
        while self.records.front().is_some_and(|r| r.offset < first) {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= old.bytes.len();
            }
        }
    }

    fn clear(&mut self) {
        self.records.clear();
        self.bytes = 0;
    }

    /// Up to `max` records from `from` on, stopping after `max_bytes` (at least one
    /// record when there is one), as [`super::Store::read_stored`] reads them. `None`
    /// when `from` is older than what is kept: the caller reads the database.
    pub(crate) fn read(&self, from: u64, max: usize, max_bytes: usize) -> Option<Vec<StoredEvent>> {
        let first = self.records.front()?.offset;
        if from < first {
            return None;
        }
        let skip = usize::try_from(from - first).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut size = 0usize;
        for r in self.records.iter().skip(skip) {
            if !out.is_empty() && (out.len() >= max || size + r.bytes.len() > max_bytes) {
                break;
            }
            size += r.bytes.len();
            out.push(r.clone());
            if out.len() >= max {
                break;
            }
        }
        Some(out)
    }

    /// The record at `offset`, if kept. `None` also when it is newer than the newest
    /// kept one, which the caller cannot tell from "older": it asks the database then.
    pub(crate) fn get(&self, offset: u64) -> Option<&StoredEvent> {
        let first = self.records.front()?.offset;
        let i = usize::try_from(offset.checked_sub(first)?).ok()?;
        self.records.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: u64, len: usize) -> StoredEvent {
        StoredEvent {
            offset,
            bytes: bytes::Bytes::from(vec![u8::try_from(offset % 256).unwrap(); len]),
        }
    }

    fn offsets(v: &[StoredEvent]) -> Vec<u64> {
        v.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn serves_the_newest_records_within_the_byte_bound() {
        let mut r = Recent::new(100);
        r.extend((1..=5).map(|o| rec(o, 30)).collect());
        // 150 bytes appended, 100 kept: offsets 3..=5 (90 bytes)
        assert_eq!(r.read(2, 10, 1000), None, "older than what is kept");
        assert_eq!(offsets(&r.read(3, 10, 1000).unwrap()), [3, 4, 5]);
        assert_eq!(offsets(&r.read(4, 1, 1000).unwrap()), [4]);
        // the byte limit stops after the first record that fits, never before one
        assert_eq!(offsets(&r.read(3, 10, 45).unwrap()), [3]);
        assert_eq!(offsets(&r.read(3, 10, 1).unwrap()), [3]);
        // past the newest: nothing (as the database answers)
        assert!(r.read(6, 10, 1000).unwrap().is_empty());
        assert_eq!(r.get(4).map(|e| e.offset), Some(4));
        assert!(r.get(2).is_none() && r.get(6).is_none());
    }

    #[test]
    fn one_record_larger_than_the_bound_is_still_kept() {
        let mut r = Recent::new(10);
        r.extend(vec![rec(7, 50)]);
        assert_eq!(offsets(&r.read(7, 10, 1000).unwrap()), [7]);
        r.extend(vec![rec(8, 50)]);
        assert_eq!(r.read(7, 10, 1000), None);
        assert_eq!(offsets(&r.read(8, 10, 1000).unwrap()), [8]);
    }

    #[test]
    fn a_gap_restarts_the_range_and_retention_trims_it() {
        let mut r = Recent::new(1000);
        r.extend((1..=3).map(|o| rec(o, 10)).collect());
        r.extend(vec![rec(9, 10)]);
        assert_eq!(r.read(1, 10, 1000), None);
        assert_eq!(offsets(&r.read(9, 10, 1000).unwrap()), [9]);
        r.extend((10..=12).map(|o| rec(o, 10)).collect());
        r.remove_below(11);
        assert_eq!(r.read(10, 10, 1000), None);
        assert_eq!(offsets(&r.read(11, 10, 1000).unwrap()), [11, 12]);
        r.remove_below(0);
        assert_eq!(r.read(11, 10, 1000), None);
    }
}
