//! Cold runs of the occurrence memory: Event objects not seen for a while, written to
//! the database as sorted, immutable runs and looked up there only when an in-memory
//! filter says the key may be in the run.
//!
//! Why runs: UIDs are random, so a table keyed by UID updated as entries age would
//! rewrite most of its leaves at every demotion (the cost the append-only occurrence
//! records removed from ingest). A run is written once, at the tail of its table, and
//! deleted whole once everything in it is older than the retention.
//!
//! What stays in memory per run is its [`RunIndex`]: a blocked Bloom filter
//! (`FILTER_BITS_PER_ENTRY` bits per entry, about 1 % false positives) and the first key
//! of every block of `BLOCK_ENTRIES` entries: about 1.4 bytes per remembered Event,
//! against 32 bytes and more for the hot map's slot.
//!
//! Layouts (little endian):
//! * a block: `BLOCK_ENTRIES` entries or fewer, each `key: u128, occurrence: i32,
//!   last_seen_s: u32` (24 bytes), in key order;
//! * an index: `threshold_s: u32, newest_s: u32, len: u64, merged_from: u64,
//!   filter_words: u32`, the filter's words (`u64`), then the first key (`u128`) of
//!   each block.

use super::array;
use super::seen::RunEntry;

/// Entries per stored block: a lookup reads one block (3 KiB).
pub(crate) const BLOCK_ENTRIES: usize = 128;
const ENTRY: usize = 24;
/// Filter size: 10 bits per entry give about 1 % false positives for a blocked filter
/// of 512-bit blocks with 6 bits per key.
const FILTER_BITS_PER_ENTRY: usize = 10;
const FILTER_BLOCK_WORDS: usize = 8;
const FILTER_PROBES: u32 = 6;
const INDEX_HEADER: usize = 4 + 4 + 8 + 8 + 4;

/// A stored block or index that does not have the documented layout.
#[derive(Debug, thiserror::Error)]
#[error("occurrence run {what} of {len} bytes does not have the expected layout")]
pub(crate) struct BadRun {
    what: &'static str,
    len: usize,
}

/// What memory keeps of one cold run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIndex {
    /// The demotion's threshold: the run holds every entry of the hot map that was
    /// pending since before it.
    pub threshold_s: u32,
    /// The newest last-seen time in the run: the run expires after it.
    pub newest_s: u32,
    /// Number of entries.
    pub len: u64,
    /// For a merge of runs, the first part's id (the parts are the runs from it up
    /// to this run's own id); 0 for a run cut from the hot map.
    pub merged_from: u64,
    filter: Vec<u64>,
    first_keys: Vec<u128>,
}

/// A key's filter hashes, computed once for a lookup in every run.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    block_hash: u64,
    bits: [(usize, u64); FILTER_PROBES as usize],
}

impl Probe {
    /// The probe of `key`. Keys are UUIDs or hashes; they are mixed anyway, since a
    /// UUID's version bits are fixed.
    pub fn new(key: u128) -> Probe {
        // the casts keep the low 64 bits of each half and the low bits of the hash
        #[allow(clippy::cast_possible_truncation)]
        let (hi, lo) = ((key >> 64) as u64, key as u64);
        let bit_hash = mix(lo ^ 0x9e37_79b9_7f4a_7c15);
        let mut bits = [(0usize, 0u64); FILTER_PROBES as usize];
        for (i, b) in bits.iter_mut().enumerate() {
            // 9 bits per probe: a position within the 512-bit block
            #[allow(clippy::cast_possible_truncation)]
            let pos = ((bit_hash >> (i * 9)) & 511) as usize;
            *b = (pos / 64, 1u64 << (pos % 64));
        }
        Probe {
            block_hash: mix(hi ^ lo.rotate_left(32)),
            bits,
        }
    }

    fn block(&self, blocks: usize) -> usize {
        // the remainder is below `blocks`, a usize
        #[allow(clippy::cast_possible_truncation)]
        let b = (self.block_hash % blocks as u64) as usize;
        b
    }
}

/// Builds a [`RunIndex`] from entries pushed in key order.
#[derive(Debug)]
pub struct RunIndexBuilder {
    index: RunIndex,
}

impl RunIndexBuilder {
    /// A builder for at most `capacity` entries (the filter is sized for them).
    pub fn new(threshold_s: u32, merged_from: u64, capacity: usize) -> RunIndexBuilder {
        let blocks = (capacity * FILTER_BITS_PER_ENTRY)
            .div_ceil(64 * FILTER_BLOCK_WORDS)
            .max(1);
        RunIndexBuilder {
            index: RunIndex {
                threshold_s,
                newest_s: 0,
                len: 0,
                merged_from,
                filter: vec![0u64; blocks * FILTER_BLOCK_WORDS],
                first_keys: Vec::with_capacity(capacity.div_ceil(BLOCK_ENTRIES)),
            },
        }
    }

    /// Adds the next entry (keys ascending).
    pub fn push(&mut self, e: &RunEntry) {
        let index = &mut self.index;
        if index.len.is_multiple_of(BLOCK_ENTRIES as u64) {
            index.first_keys.push(e.key);
        }
        let blocks = index.filter.len() / FILTER_BLOCK_WORDS;
        let probe = Probe::new(e.key);
        let block = probe.block(blocks);
        for (word, mask) in probe.bits {
            index.filter[block * FILTER_BLOCK_WORDS + word] |= mask;
        }
        index.newest_s = index.newest_s.max(e.last_seen_s);
        index.len += 1;
    }

    /// The index.
    pub fn finish(self) -> RunIndex {
        self.index
    }
}

impl RunIndex {
    /// Builds the index of `entries` (sorted by key, as [`super::SeenSet::demote`]
    /// returns them).
    pub fn build(threshold_s: u32, entries: &[RunEntry]) -> RunIndex {
        let mut b = RunIndexBuilder::new(threshold_s, 0, entries.len());
        for e in entries {
            b.push(e);
        }
        b.finish()
    }

    /// False when the probe's key is certainly not in the run.
    pub fn may_hold(&self, probe: &Probe) -> bool {
        let blocks = self.filter.len() / FILTER_BLOCK_WORDS;
        if blocks == 0 {
            return false;
        }
        let block = probe.block(blocks);
        probe
            .bits
            .iter()
            .all(|(word, mask)| self.filter[block * FILTER_BLOCK_WORDS + word] & mask != 0)
    }

    /// The block that holds `key` if the run does.
    pub fn block_of(&self, key: u128) -> Option<u32> {
        let after = self.first_keys.partition_point(|k| *k <= key);
        after.checked_sub(1).and_then(|b| u32::try_from(b).ok())
    }

    /// Bytes of memory the index holds.
    pub fn memory_bytes(&self) -> usize {
        self.filter.len() * 8 + self.first_keys.len() * 16
    }

    /// The stored form of the index.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(INDEX_HEADER + self.filter.len() * 8 + self.first_keys.len() * 16);
        out.extend_from_slice(&self.threshold_s.to_le_bytes());
        out.extend_from_slice(&self.newest_s.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.merged_from.to_le_bytes());
        let words = u32::try_from(self.filter.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&words.to_le_bytes());
        for w in &self.filter {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for k in &self.first_keys {
            out.extend_from_slice(&k.to_le_bytes());
        }
        out
    }

    /// Reads a stored index.
    /// The newest last-seen time and the entry count of a stored index, read from its
    /// header alone (expiry needs no filter).
    pub(crate) fn expiry_of(bytes: &[u8]) -> Result<(u32, u64), BadRun> {
        if bytes.len() < INDEX_HEADER {
            return Err(BadRun {
                what: "index",
                len: bytes.len(),
            });
        }
        Ok((
            u32::from_le_bytes(array(&bytes[4..8])),
            u64::from_le_bytes(array(&bytes[8..16])),
        ))
    }

    /// Reads a stored index.
    pub(crate) fn decode(bytes: &[u8]) -> Result<RunIndex, BadRun> {
        let bad = BadRun {
            what: "index",
            len: bytes.len(),
        };
        if bytes.len() < INDEX_HEADER {
            return Err(bad);
        }
        let words = u32::from_le_bytes(array(&bytes[24..28])) as usize;
        let keys_at = INDEX_HEADER + words * 8;
        if !words.is_multiple_of(FILTER_BLOCK_WORDS)
            || bytes.len() < keys_at
            || !(bytes.len() - keys_at).is_multiple_of(16)
        {
            return Err(bad);
        }
        Ok(RunIndex {
            threshold_s: u32::from_le_bytes(array(&bytes[..4])),
            newest_s: u32::from_le_bytes(array(&bytes[4..8])),
            len: u64::from_le_bytes(array(&bytes[8..16])),
            merged_from: u64::from_le_bytes(array(&bytes[16..24])),
            filter: bytes[INDEX_HEADER..keys_at]
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(array(w)))
                .collect(),
            first_keys: bytes[keys_at..]
                .chunks_exact(16)
                .map(|k| u128::from_le_bytes(array(k)))
                .collect(),
        })
    }
}

/// The stored blocks of a sorted run.
pub(crate) fn encode_blocks(entries: &[RunEntry]) -> impl Iterator<Item = Vec<u8>> + '_ {
    entries.chunks(BLOCK_ENTRIES).map(|chunk| {
        let mut out = Vec::with_capacity(chunk.len() * ENTRY);
        for e in chunk {
            out.extend_from_slice(&e.key.to_le_bytes());
            out.extend_from_slice(&e.occurrence.to_le_bytes());
            out.extend_from_slice(&e.last_seen_s.to_le_bytes());
        }
        out
    })
}

/// The entries of a stored block.
pub(crate) fn block_entries(block: &[u8]) -> Result<impl Iterator<Item = RunEntry> + '_, BadRun> {
    if !block.len().is_multiple_of(ENTRY) {
        return Err(BadRun {
            what: "block",
            len: block.len(),
        });
    }
    Ok(block.chunks_exact(ENTRY).map(|e| RunEntry {
        key: u128::from_le_bytes(array(&e[..16])),
        occurrence: i32::from_le_bytes(array(&e[16..20])),
        last_seen_s: u32::from_le_bytes(array(&e[20..24])),
    }))
}

/// Finds `key` in a stored block.
pub(crate) fn find_in_block(block: &[u8], key: u128) -> Result<Option<RunEntry>, BadRun> {
    if !block.len().is_multiple_of(ENTRY) {
        return Err(BadRun {
            what: "block",
            len: block.len(),
        });
    }
    let n = block.len() / ENTRY;
    let key_at = |i: usize| u128::from_le_bytes(array(&block[i * ENTRY..i * ENTRY + 16]));
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match key_at(mid).cmp(&key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let e = &block[mid * ENTRY..(mid + 1) * ENTRY];
                return Ok(Some(RunEntry {
                    key,
                    occurrence: i32::from_le_bytes(array(&e[16..20])),
                    last_seen_s: u32::from_le_bytes(array(&e[20..24])),
                }));
            }
        }
    }
    Ok(None)
}

/// splitmix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::uid_key;

    fn run(n: u32) -> Vec<RunEntry> {
        let mut entries: Vec<RunEntry> = (0..n)
            .map(|i| RunEntry {
                key: uid_key(
                    &uuid::Uuid::from_u128(u128::from(i).wrapping_mul(0x1234_5678_9abc_def1))
                        .to_string(),
                ),
                occurrence: i32::try_from(i % 7).unwrap() + 1,
                last_seen_s: 1_000 + i % 50,
            })
            .collect();
        entries.sort_unstable_by_key(|e| e.key);
        entries
    }

    #[test]
    fn every_entry_is_found_through_its_block() {
        let entries = run(1_000);
        let index = RunIndex::build(900, &entries);
        let blocks: Vec<Vec<u8>> = encode_blocks(&entries).collect();
        assert_eq!(blocks.len(), 1_000usize.div_ceil(BLOCK_ENTRIES));
        assert_eq!(index.newest_s, 1_049);
        for e in &entries {
            assert!(index.may_hold(&Probe::new(e.key)), "no false negatives");
            let b = index.block_of(e.key).unwrap() as usize;
            assert_eq!(find_in_block(&blocks[b], e.key).unwrap(), Some(*e));
        }
    }

    #[test]
    fn absent_keys_are_rarely_let_through_and_never_found() {
        let entries = run(20_000);
        let index = RunIndex::build(900, &entries);
        let blocks: Vec<Vec<u8>> = encode_blocks(&entries).collect();
        let mut passed = 0;
        for i in 0..100_000u32 {
            let key = uid_key(&format!("absent-{i}"));
            if index.may_hold(&Probe::new(key)) {
                passed += 1;
                if let Some(b) = index.block_of(key) {
                    assert_eq!(find_in_block(&blocks[b as usize], key).unwrap(), None);
                }
            }
        }
        assert!(
            passed < 2_500,
            "{passed} of 100,000 absent keys passed the filter"
        );
        assert!(index.block_of(0).is_none() || entries[0].key == 0);
    }

    #[test]
    fn the_index_round_trips_and_bad_bytes_are_errors() {
        let index = RunIndex::build(7, &run(300));
        let bytes = index.encode();
        assert_eq!(RunIndex::decode(&bytes).unwrap(), index);
        assert_eq!(
            RunIndex::expiry_of(&bytes).unwrap(),
            (index.newest_s, index.len)
        );
        for len in [0, 3, INDEX_HEADER, bytes.len() - 1] {
            assert!(RunIndex::decode(&bytes[..len]).is_err(), "len {len}");
        }
        assert!(find_in_block(&[0; 25], 1).is_err());
        let empty = RunIndex::build(7, &[]);
        assert!(!empty.may_hold(&Probe::new(1)));
        assert_eq!(RunIndex::decode(&empty.encode()).unwrap(), empty);
    }
}
