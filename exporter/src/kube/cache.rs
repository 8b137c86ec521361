//! A bounded map with approximate-LRU eviction in O(1): two generations.
//!
//! New entries go into the *hot* generation. When it holds `capacity / 2` entries, the
//! old *cold* generation is dropped and the hot one becomes cold. A hit in the cold
//! generation moves the entry back to hot. So an entry survives as long as it is used
//! at least once per `capacity / 2` insertions, and the map never holds more than
//! `capacity` entries.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Bounded map with two-generation eviction.
#[derive(Debug)]
pub(crate) struct GenCache<K, V> {
    /// Entries per generation.
    half: usize,
    hot: HashMap<K, V>,
    cold: HashMap<K, V>,
}

impl<K: Hash + Eq, V> GenCache<K, V> {
    /// Creates a cache holding at most `capacity` entries (at least 2).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            half: (capacity / 2).max(1),
            hot: HashMap::new(),
            cold: HashMap::new(),
        }
    }

    /// Returns the entry for `key`, refreshing its generation.
    pub(crate) fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.hot.contains_key(key) {
            let (k, v) = self.cold.remove_entry(key)?;
            self.insert(k, v);
        }
        self.hot.get(key)
    }

    /// Inserts or replaces the entry for `key`.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.cold.remove(&key);
        if !self.hot.contains_key(&key) && self.hot.len() >= self.half {
            self.cold = std::mem::take(&mut self.hot);
        }
        self.hot.insert(key, value);
    }

    /// Removes the entry for `key`.
    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.hot.remove(key);
        self.cold.remove(key);
    }

    /// Returns the number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.hot.len() + self.cold.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_capacity() {
        let mut c = GenCache::new(10);
        for i in 0..1000 {
            c.insert(i, i);
            assert!(c.len() <= 10);
        }
        assert!(c.get(&999).is_some());
        assert!(c.get(&0).is_none());
    }

    #[test]
    fn used_entries_survive_rotation() {
        let mut c = GenCache::new(4);
        c.insert("keep", 1);
        for i in 0..100 {
            c.insert(format!("k{i}").leak() as &str, i);
            assert_eq!(c.get("keep"), Some(&1), "after {i} inserts");
        }
    }

    #[test]
    fn replace_and_remove() {
        let mut c = GenCache::new(4);
        c.insert("a", 1);
        c.insert("b", 2);
        c.insert("c", 3); // rotates: a, b cold
        c.insert("a", 10);
        assert_eq!(c.get("a"), Some(&10));
        c.remove("a");
        assert_eq!(c.get("a"), None);
        assert_eq!(c.get("b"), Some(&2));
    }
}
