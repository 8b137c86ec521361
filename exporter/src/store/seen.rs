//! The hot part of the occurrence memory: for every Event UID seen recently, the
//! highest occurrence count already logged, when it was last seen, and since when its
//! state waits to be written to a cold run (see [`super::seen_run`]).
//!
//! An observation `(uid, occurrence)` is new exactly when `occurrence` is greater
//! than what is remembered for `uid`: Kubernetes only ever increases an Event's count.
//! One entry per Event object (not per occurrence) keeps memory small: keys are the
//! UID's 128 bits (UIDs are UUIDs; any other string is hashed to 128 bits).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Compact key for an Event UID.
pub fn uid_key(uid: &str) -> u128 {
    if let Ok(u) = uuid::Uuid::try_parse(uid) {
        return u.as_u128();
    }
    // not a UUID: two independent 64-bit hashes (fixed keys, stable across restarts)
    let h = |seed: u64| {
        let mut s =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
        s.write_u64(seed);
        s.write(uid.as_bytes());
        s.finish()
    };
    (u128::from(h(0x9e37_79b9_7f4a_7c15)) << 64) | u128::from(h(0xc2b2_ae3d_27d4_eb4f))
}

/// A remembered Event object: 12 bytes, a map slot with its key 32.
#[derive(Debug, Clone, Copy)]
struct Entry {
    occurrence: i32,
    /// Unix seconds, rounded up: an entry is kept up to a second longer than asked,
    /// never shorter. `u32` lasts until 2106.
    last_seen_s: u32,
    /// When this state was last made an entry here without being written to a cold
    /// run since (unix seconds, rounded up): a new occurrence, a load, or a copy into
    /// a run (which sets it to the demotion's time).
    pending_s: u32,
}

/// A [`uid_key`] as two halves: 8-byte alignment instead of `u128`'s 16.
type Key = [u64; 2];

fn split(key: u128) -> Key {
    // the casts keep the low 64 bits of each half, which is the point
    #[allow(clippy::cast_possible_truncation)]
    [(key >> 64) as u64, key as u64]
}

fn join(key: Key) -> u128 {
    (u128::from(key[0]) << 64) | u128::from(key[1])
}

/// `now_ms` in whole seconds, rounded up.
pub fn seconds_up(ms: u64) -> u32 {
    u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
}

/// One Event object's state as a cold run keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEntry {
    /// [`uid_key`] of the Event UID.
    pub key: u128,
    /// Highest occurrence logged.
    pub occurrence: i32,
    /// Last seen, unix seconds (rounded up).
    pub last_seen_s: u32,
}

/// The occurrence memory.
#[derive(Debug, Default)]
pub struct SeenSet {
    map: HashMap<Key, Entry>,
}

impl SeenSet {
    /// Records `(uid, occurrence)` seen at `now_ms` (keeps the highest occurrence).
    pub fn insert(&mut self, uid: &str, occurrence: i32, now_ms: u64) {
        self.insert_key(uid_key(uid), occurrence, now_ms);
    }

    /// [`SeenSet::insert`] by the UID's [`uid_key`].
    pub fn insert_key(&mut self, key: u128, occurrence: i32, now_ms: u64) {
        let now = seconds_up(now_ms);
        let e = self.map.entry(split(key)).or_insert(Entry {
            occurrence,
            last_seen_s: now,
            pending_s: now,
        });
        if occurrence > e.occurrence {
            e.occurrence = occurrence;
            e.pending_s = now;
        }
        e.last_seen_s = e.last_seen_s.max(now);
    }

    /// The highest occurrence remembered for `key`, if it is here.
    pub fn get_key(&self, key: u128) -> Option<i32> {
        self.map.get(&split(key)).map(|e| e.occurrence)
    }

    /// Returns true when `(uid, occurrence)` was not logged yet.
    pub fn is_new(&self, uid: &str, occurrence: i32) -> bool {
        self.get_key(uid_key(uid))
            .is_none_or(|remembered| occurrence > remembered)
    }

    /// Refreshes the last-seen time of `uid` (a no-op update keeps it remembered).
    pub fn touch(&mut self, uid: &str, now_ms: u64) {
        self.touch_key(uid_key(uid), now_ms);
    }

    /// [`SeenSet::touch`] by the UID's [`uid_key`].
    pub fn touch_key(&mut self, key: u128, now_ms: u64) {
        if let Some(e) = self.map.get_mut(&split(key)) {
            e.last_seen_s = e.last_seen_s.max(seconds_up(now_ms));
        }
    }

    /// Takes what a cold run must hold after a demotion at `threshold_s`, sorted by
    /// key: every entry pending since before the threshold. Those last seen before it
    /// leave this set; the others (seen again since, without a new occurrence) stay,
    /// marked as written at `now_s`, so the next demotion does not copy them again.
    pub fn demote(&mut self, threshold_s: u32, now_s: u32) -> Vec<RunEntry> {
        // The map is rebuilt rather than thinned out in place: removing entries leaves
        // tombstones that count as used, and with the hot map's steady churn they
        // made it double its table (+16 MiB at 250k entries) after an hour or two
        // though it never held more. The new table is sized for the high-water mark.
        let peak = self.map.len();
        let mut run = Vec::new();
        let mut kept = Vec::new();
        for (k, mut e) in std::mem::take(&mut self.map) {
            if e.pending_s >= threshold_s {
                kept.push((k, e));
                continue;
            }
            run.push(RunEntry {
                key: join(k),
                occurrence: e.occurrence,
                last_seen_s: e.last_seen_s,
            });
            if e.last_seen_s >= threshold_s {
                e.pending_s = now_s;
                kept.push((k, e));
            }
        }
        self.map = HashMap::with_capacity(peak);
        self.map.extend(kept);
        run.sort_unstable_by_key(|e| e.key);
        run
    }

    /// Forgets entries last seen before `cutoff_ms`; returns how many. Times are kept
    /// in whole seconds, so an entry may stay up to two seconds longer, never less.
    pub fn expire(&mut self, cutoff_ms: u64) -> usize {
        let cutoff = cutoff_ms / 1000;
        let before = self.map.len();
        self.map.retain(|_, e| u64::from(e.last_seen_s) >= cutoff);
        before - self.map.len()
    }

    /// Number of remembered Event objects.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_only_when_occurrence_grows() {
        let mut s = SeenSet::default();
        let uid = "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11";
        assert!(s.is_new(uid, 1));
        s.insert(uid, 3, 10);
        assert!(!s.is_new(uid, 1));
        assert!(!s.is_new(uid, 3));
        assert!(s.is_new(uid, 4));
        s.insert(uid, 2, 20); // an older observation never lowers the memory
        assert!(!s.is_new(uid, 3));
    }

    #[test]
    fn non_uuid_uids_are_distinct_and_stable() {
        assert_eq!(uid_key("worker-1"), uid_key("worker-1"));
        assert_ne!(uid_key("worker-1"), uid_key("worker-2"));
        let mut s = SeenSet::default();
        s.insert("worker-1", 1, 0);
        assert!(s.is_new("worker-2", 1));
    }

    #[test]
    fn expiry_forgets_old_entries() {
        let mut s = SeenSet::default();
        s.insert("a", 1, 100_000);
        s.insert("b", 1, 200_000);
        s.touch("a", 300_000);
        assert_eq!(s.expire(250_000), 1);
        assert!(!s.is_new("a", 1));
        assert!(s.is_new("b", 1));
    }

    #[test]
    fn expiry_never_forgets_early_at_second_resolution() {
        let mut s = SeenSet::default();
        s.insert("a", 1, 10_001); // kept as 11 s
        assert_eq!(s.expire(10_999), 0, "seen after the cutoff");
        assert_eq!(s.expire(11_000), 0, "rounding keeps it a little longer");
        assert_eq!(s.expire(12_000), 1);
        assert!(s.is_new("a", 1));
    }

    #[test]
    fn full_keys_are_compared() {
        // two keys equal in one half must stay distinct
        let mut s = SeenSet::default();
        s.insert_key(1 << 64, 5, 0);
        s.insert_key(1, 7, 0);
        assert_eq!(s.len(), 2);
        assert_eq!(s.map[&split(1 << 64)].occurrence, 5);
        assert_eq!(s.map[&split(1)].occurrence, 7);
    }

    #[test]
    fn a_slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 32);
    }

    #[test]
    fn demotion_moves_the_idle_and_copies_the_refreshed() {
        let mut s = SeenSet::default();
        s.insert_key(3, 1, 10_000); // idle since 10 s
        s.insert_key(1, 2, 10_000);
        s.touch_key(1, 50_000); // seen again at 50 s, same occurrence
        s.insert_key(2, 1, 60_000); // pending since 60 s
        let run = s.demote(40, 60);
        assert_eq!(
            run,
            [
                RunEntry {
                    key: 1,
                    occurrence: 2,
                    last_seen_s: 50
                },
                RunEntry {
                    key: 3,
                    occurrence: 1,
                    last_seen_s: 10
                },
            ],
            "sorted by key; the one pending since 60 s waits"
        );
        assert_eq!(s.get_key(3), None, "idle: moved");
        assert_eq!(s.get_key(1), Some(2), "refreshed: copied and kept");
        assert_eq!(s.demote(45, 65), [], "a copy is not written again");
        s.insert_key(1, 3, 70_000);
        assert_eq!(s.demote(65, 85).len(), 1, "only the one pending since 60 s");
        assert_eq!(s.get_key(2), None);
        assert_eq!(
            s.demote(75, 95).len(),
            1,
            "a new occurrence is pending again"
        );
        assert!(s.is_empty());
    }
}
