//! On-disk form of the occurrence memory: one record per ingest batch.
//!
//! The memory used to be a table keyed by Event UID. UIDs are random, so every batch
//! inserted its keys all over that B-tree and each commit rewrote (copy-on-write) a
//! large share of its leaves: the single largest cost of ingest. Now each batch appends
//! one record under the next sequence number, which touches only the tail of the tree;
//! loading replays the records in order (the highest occurrence wins, as in memory) and
//! expiry drops whole records from the front once their newest entry is older than the
//! retention.
//!
//! Record layout (little endian): `newest_ms: u64`, then per entry
//! `uid_key: u128, occurrence: i32, seen_ms: u64` (28 bytes).

use super::{array, uid_key};

const HEADER: usize = 8;
const ENTRY: usize = 16 + 4 + 8;

/// One remembered occurrence as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenEntry {
    /// [`uid_key`] of the Event UID.
    pub key: u128,
    /// Highest occurrence logged.
    pub occurrence: i32,
    /// When it was seen (unix ms).
    pub seen_ms: u64,
}

/// A record that does not have the documented layout.
#[derive(Debug, thiserror::Error)]
#[error("occurrence record of {len} bytes is not {HEADER} + n × {ENTRY}")]
pub(crate) struct BadRecord {
    len: usize,
}

/// Encodes the entries of one batch (uid, occurrence, seen ms).
pub(crate) fn encode(entries: &[(String, i32, u64)]) -> Vec<u8> {
    let newest = entries.iter().map(|e| e.2).max().unwrap_or(0);
    let mut out = Vec::with_capacity(HEADER + entries.len() * ENTRY);
    out.extend_from_slice(&newest.to_le_bytes());
    for (uid, occurrence, ms) in entries {
        out.extend_from_slice(&uid_key(uid).to_le_bytes());
        out.extend_from_slice(&occurrence.to_le_bytes());
        out.extend_from_slice(&ms.to_le_bytes());
    }
    out
}

fn check(record: &[u8]) -> Result<(), BadRecord> {
    if record.len() < HEADER || !(record.len() - HEADER).is_multiple_of(ENTRY) {
        return Err(BadRecord { len: record.len() });
    }
    Ok(())
}

/// The newest `seen_ms` of a record.
pub(crate) fn newest_ms(record: &[u8]) -> Result<u64, BadRecord> {
    check(record)?;
    Ok(u64::from_le_bytes(array(&record[..HEADER])))
}

/// Number of entries in a record.
pub(crate) fn entry_count(record: &[u8]) -> Result<u64, BadRecord> {
    check(record)?;
    Ok(((record.len() - HEADER) / ENTRY) as u64)
}

/// The entries of a record.
pub(crate) fn entries(record: &[u8]) -> Result<impl Iterator<Item = SeenEntry> + '_, BadRecord> {
    check(record)?;
    Ok(record[HEADER..].chunks_exact(ENTRY).map(|e| SeenEntry {
        key: u128::from_le_bytes(array(&e[..16])),
        occurrence: i32::from_le_bytes(array(&e[16..20])),
        seen_ms: u64::from_le_bytes(array(&e[20..28])),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_entries_and_the_newest_time() {
        let record = encode(&[
            ("a".into(), 3, 50),
            ("b".into(), 1, 70),
            ("a".into(), 4, 60),
        ]);
        assert_eq!(record.len(), HEADER + 3 * ENTRY);
        assert_eq!(newest_ms(&record).unwrap(), 70);
        assert_eq!(entry_count(&record).unwrap(), 3);
        let got: Vec<SeenEntry> = entries(&record).unwrap().collect();
        assert_eq!(
            got,
            [
                SeenEntry {
                    key: uid_key("a"),
                    occurrence: 3,
                    seen_ms: 50
                },
                SeenEntry {
                    key: uid_key("b"),
                    occurrence: 1,
                    seen_ms: 70
                },
                SeenEntry {
                    key: uid_key("a"),
                    occurrence: 4,
                    seen_ms: 60
                },
            ]
        );
    }

    #[test]
    fn an_empty_batch_is_a_bare_header() {
        let record = encode(&[]);
        assert_eq!(newest_ms(&record).unwrap(), 0);
        assert_eq!(entries(&record).unwrap().count(), 0);
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let record = encode(&[("a".into(), 1, 1)]);
        for len in [0, 7, HEADER + 1, record.len() - 1] {
            assert!(newest_ms(&record[..len]).is_err(), "len {len}");
            assert!(entries(&record[..len]).is_err(), "len {len}");
        }
    }
}
