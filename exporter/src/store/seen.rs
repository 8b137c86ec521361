//! In-memory occurrence memory: for every Event UID, the highest occurrence count
//! already logged and when it was last seen.
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

#[derive(Debug, Clone, Copy)]
struct Entry {
    occurrence: i32,
    last_seen_ms: u64,
}

/// The occurrence memory.
#[derive(Debug, Default)]
pub struct SeenSet {
    map: HashMap<u128, Entry>,
}

impl SeenSet {
    /// Records `(uid, occurrence)` seen at `now_ms` (keeps the highest occurrence).
    pub fn insert(&mut self, uid: &str, occurrence: i32, now_ms: u64) {
        self.insert_key(uid_key(uid), occurrence, now_ms);
    }

    /// [`SeenSet::insert`] by the UID's [`uid_key`].
    pub fn insert_key(&mut self, key: u128, occurrence: i32, now_ms: u64) {
        let e = self.map.entry(key).or_insert(Entry {
            occurrence,
            last_seen_ms: now_ms,
        });
        e.occurrence = e.occurrence.max(occurrence);
        e.last_seen_ms = e.last_seen_ms.max(now_ms);
    }

    /// Returns true when `(uid, occurrence)` was not logged yet.
    pub fn is_new(&self, uid: &str, occurrence: i32) -> bool {
        self.map
            .get(&uid_key(uid))
            .is_none_or(|e| occurrence > e.occurrence)
    }

    /// Refreshes the last-seen time of `uid` (a no-op update keeps it remembered).
    pub fn touch(&mut self, uid: &str, now_ms: u64) {
        if let Some(e) = self.map.get_mut(&uid_key(uid)) {
            e.last_seen_ms = e.last_seen_ms.max(now_ms);
        }
    }

    /// Forgets entries last seen before `cutoff_ms`; returns how many.
    pub fn expire(&mut self, cutoff_ms: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.last_seen_ms >= cutoff_ms);
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
        s.insert("a", 1, 100);
        s.insert("b", 1, 200);
        s.touch("a", 300);
        assert_eq!(s.expire(250), 1);
        assert!(!s.is_new("a", 1));
        assert!(s.is_new("b", 1));
    }
}
