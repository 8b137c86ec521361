//! The etcd-like object store: one keyspace of `<collection>/<namespace>/<name>` keys, a
//! global revision counter bumped by every write, and a change log that serves watches,
//! consistent (snapshot) list pages and compaction.
//!
//! Objects are kept as their serialised list-item JSON (no `kind`/`apiVersion`), so lists
//! and watches are served by copying bytes; a change shares its bytes with the store.

pub mod events;
pub mod objects;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

/// What a change did, as reported in a watch line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The object was created.
    Added,
    /// The object was updated.
    Modified,
    /// The object was deleted (the object carries the deletion revision).
    Deleted,
}

impl ChangeKind {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One write, in revision order.
#[derive(Clone, Debug)]
pub struct Change {
    /// Revision of the write.
    pub rv: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// Full key.
    pub key: Arc<str>,
    /// The object after the write (for deletes: the last state, at the delete revision).
    pub object: Bytes,
    /// The object before the write; used to rebuild older snapshots.
    pub prev: Option<Bytes>,
}

/// A stored object.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Serialised list-item JSON.
    pub bytes: Bytes,
    /// When it was last written (for event TTL).
    pub written: Instant,
}

/// Store-level failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No object under the key.
    #[error("not found")]
    NotFound,
    /// An object already exists under the key.
    #[error("already exists")]
    AlreadyExists,
    /// The requested revision was compacted; `compacted` is the oldest usable revision.
    #[error("revision compacted at {compacted}")]
    TooOld {
        /// The compaction revision.
        compacted: u64,
    },
    /// The caller's builder rejected the write.
    #[error("{0}")]
    Rejected(String),
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct Page {
    /// Items, in key order.
    pub items: Vec<Bytes>,
    /// Key of the last item, when more items follow.
    pub last_key: Option<Arc<str>>,
    /// Number of items after this page.
    pub remaining: u64,
}

/// Page cursors remembered for `remainingItemCount`.
const MAX_CURSORS: usize = 4096;

/// The store.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    compacted: u64,
    kv: BTreeMap<Arc<str>, Entry>,
    log: VecDeque<Change>,
    history_limit: usize,
    /// Objects per collection prefix (`events/`) and namespace prefix (`events/shop/`).
    counts: HashMap<Box<str>, usize>,
    /// `(prefix, revision, start key)` of issued continue tokens → objects before the
    /// start key, so the next page can report `remainingItemCount` without a rescan.
    cursors: HashMap<(Box<str>, u64, Box<str>), u64>,
}

/// The count prefixes a key contributes to: its collection and, for namespaced keys,
/// its namespace within the collection.
fn count_prefixes(key: &str) -> (Option<&str>, Option<&str>) {
    let mut slashes = key.match_indices('/').map(|(i, _)| i);
    let first = slashes.next();
    let second = slashes.next();
    (first.map(|i| &key[..=i]), second.map(|i| &key[..=i]))
}

impl Store {
    /// An empty store keeping at most `history_limit` changes (older ones are compacted).
    pub fn new(history_limit: usize) -> Self {
        Self {
            rv: 0,
            compacted: 0,
            kv: BTreeMap::new(),
            log: VecDeque::new(),
            history_limit: history_limit.max(1),
            counts: HashMap::new(),
            cursors: HashMap::new(),
        }
    }

    fn count_key(&mut self, key: &str, added: bool) {
        let (collection, namespace) = count_prefixes(key);
        for prefix in [collection, namespace].into_iter().flatten() {
            let n = self.counts.entry(Box::from(prefix)).or_insert(0);
            if added {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Number of objects under a collection or namespace prefix at revision `at`
    /// (which must not be compacted): the live count, minus creates and plus deletes
    /// that happened after `at`.
    fn count_at(&self, prefix: &str, at: u64) -> u64 {
        let mut n = self.counts.get(prefix).copied().unwrap_or(0) as i64;
        if at < self.rv {
            let first_after = self.log.partition_point(|c| c.rv <= at);
            for c in self
                .log
                .range(first_after..)
                .filter(|c| c.key.starts_with(prefix))
            {
                match c.kind {
                    ChangeKind::Added if c.prev.is_none() => n -= 1,
                    ChangeKind::Deleted => n += 1,
                    _ => {}
                }
            }
        }
        u64::try_from(n).unwrap_or(0)
    }

    /// The current (latest) revision.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Revisions older than this are compacted.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// Number of retained changes.
    #[cfg(test)]
    pub fn history_len(&self) -> usize {
        self.log.len()
    }

    /// Reads one object.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.kv.get(key)
    }

    /// Number of objects under a collection or namespace prefix.
    pub fn count(&self, prefix: &str) -> usize {
        self.counts.get(prefix).copied().unwrap_or(0)
    }

    fn range<'a>(
        &'a self,
        prefix: &'a str,
        lower: &'a str,
    ) -> impl Iterator<Item = (&'a Arc<str>, &'a Entry)> + 'a {
        self.kv
            .range::<str, _>((Bound::Included(lower), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    fn push(&mut self, change: Change) {
        self.log.push_back(change);
        while self.log.len() > self.history_limit {
            if let Some(old) = self.log.pop_front() {
                self.compacted = self.compacted.max(old.rv);
            }
        }
    }

    /// Creates an object; `build` receives the new revision and returns the bytes.
    pub fn create(
        &mut self,
        key: &str,
        build: impl FnOnce(u64) -> Result<Bytes, String>,
    ) -> Result<u64, StoreError> {
        if self.kv.contains_key(key) {
            return Err(StoreError::AlreadyExists);
        }
        let rv = self.rv + 1;
        let bytes = build(rv).map_err(StoreError::Rejected)?;
        self.rv = rv;
        self.count_key(key, true);
        let key: Arc<str> = Arc::from(key);
        self.kv.insert(
            key.clone(),
            Entry {
                bytes: bytes.clone(),
                written: Instant::now(),
            },
        );
        self.push(Change {
            rv,
            kind: ChangeKind::Added,
            key,
            object: bytes,
            prev: None,
        });
        Ok(rv)
    }

    /// Updates an object; `update` receives the current bytes and the new revision.
    pub fn update(
        &mut self,
        key: &str,
        update: impl FnOnce(&Bytes, u64) -> Result<Bytes, String>,
    ) -> Result<u64, StoreError> {
        let Some((key, entry)) = self.kv.get_key_value(key) else {
            return Err(StoreError::NotFound);
        };
        let key = key.clone();
        let prev = entry.bytes.clone();
        let rv = self.rv + 1;
        let bytes = update(&prev, rv).map_err(StoreError::Rejected)?;
        self.rv = rv;
        self.kv.insert(
            key.clone(),
            Entry {
                bytes: bytes.clone(),
                written: Instant::now(),
            },
        );
        self.push(Change {
            rv,
            kind: ChangeKind::Modified,
            key,
            object: bytes,
            prev: Some(prev),
        });
        Ok(rv)
    }

    /// Deletes an object; `tombstone` turns the last state into the object reported with
    /// the deletion (at the new revision).
    pub fn delete(
        &mut self,
        key: &str,
        tombstone: impl FnOnce(&Bytes, u64) -> Result<Bytes, String>,
    ) -> Result<u64, StoreError> {
        let Some((key, entry)) = self.kv.get_key_value(key) else {
            return Err(StoreError::NotFound);
        };
        let key = key.clone();
        let prev = entry.bytes.clone();
        let rv = self.rv + 1;
        let object = tombstone(&prev, rv).map_err(StoreError::Rejected)?;
        self.rv = rv;
        self.kv.remove(&key);
        self.count_key(&key, false);
        self.push(Change {
            rv,
            kind: ChangeKind::Deleted,
            key,
            object,
            prev: Some(prev),
        });
        Ok(rv)
    }

    /// Inserts an object with a revision chosen by the caller (fixture replay). Revisions
    /// at or below the current one cannot be replayed into history: the object is stored
    /// as pre-existing and history up to that revision is treated as compacted.
    pub fn load(&mut self, key: &str, bytes: Bytes, rv: u64) {
        let key: Arc<str> = Arc::from(key);
        let prev = self.kv.insert(
            key.clone(),
            Entry {
                bytes: bytes.clone(),
                written: Instant::now(),
            },
        );
        if prev.is_none() {
            self.count_key(&key, true);
        }
        if rv > self.rv {
            self.rv = rv;
            self.push(Change {
                rv,
                kind: if prev.is_some() {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Added
                },
                key,
                object: bytes,
                prev: prev.map(|e| e.bytes),
            });
        } else {
            self.compacted = self.compacted.max(self.rv);
            self.log.clear();
        }
    }

    /// Reserves a revision without writing (a write to a resource the store does not model).
    #[cfg(test)]
    pub fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Drops all history: revisions before the current one become too old.
    pub fn compact(&mut self) -> u64 {
        self.log.clear();
        self.compacted = self.rv;
        self.rv
    }

    /// Puts the store back to its state at revision `at`, as restoring an etcd snapshot
    /// taken then: later writes are forgotten and the next write gets revision `at + 1`
    /// again, so revisions a client saw before the restore are now in the future.
    /// Returns the revision after the restore.
    ///
    /// # Errors
    /// [`StoreError::TooOld`] when `at` is compacted (its state can no longer be rebuilt).
    pub fn rewind(&mut self, at: u64) -> Result<u64, StoreError> {
        if at < self.compacted {
            return Err(StoreError::TooOld {
                compacted: self.compacted,
            });
        }
        while self.log.back().is_some_and(|c| c.rv > at) {
            let Some(change) = self.log.pop_back() else {
                break;
            };
            let existed = self.kv.contains_key(&change.key);
            match change.prev {
                Some(prev) => {
                    if !existed {
                        self.count_key(&change.key, true);
                    }
                    self.kv.insert(
                        change.key,
                        Entry {
                            bytes: prev,
                            written: Instant::now(),
                        },
                    );
                }
                None => {
                    if existed {
                        self.count_key(&change.key, false);
                    }
                    self.kv.remove(&change.key);
                }
            }
        }
        self.rv = self.rv.min(at);
        self.cursors.clear();
        Ok(self.rv)
    }

    /// Visits the objects under `prefix` with keys `>= start` as they were at revision
    /// `at`, in key order, until `f` returns false.
    pub fn visit_at(
        &self,
        at: u64,
        prefix: &str,
        start: &str,
        mut f: impl FnMut(&Arc<str>, &Bytes) -> bool,
    ) -> Result<(), StoreError> {
        if at < self.compacted {
            return Err(StoreError::TooOld {
                compacted: self.compacted,
            });
        }
        let lower = if start > prefix { start } else { prefix };
        let mut current = self.range(prefix, lower).peekable();
        if at >= self.rv {
            for (k, e) in current {
                if !f(k, &e.bytes) {
                    break;
                }
            }
            return Ok(());
        }
        // State at `at`: for every key written after `at`, the value just before its first
        // later write (None if it did not exist yet).
        let first_after = self.log.partition_point(|c| c.rv <= at);
        let mut overlay: BTreeMap<&Arc<str>, Option<&Bytes>> = BTreeMap::new();
        for c in self.log.range(first_after..) {
            if c.key.starts_with(prefix) && &*c.key >= lower {
                overlay.entry(&c.key).or_insert(c.prev.as_ref());
            }
        }
        let mut changed = overlay.into_iter().peekable();
        loop {
            let take_current = match (current.peek(), changed.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((ka, _)), Some((kb, _))) => ***ka < ***kb,
            };
            if take_current {
                if let Some((k, e)) = current.next()
                    && !f(k, &e.bytes)
                {
                    break;
                }
                continue;
            }
            let Some((k, old)) = changed.next() else {
                break;
            };
            if current.peek().is_some_and(|(kc, _)| *kc == k) {
                current.next();
            }
            if let Some(bytes) = old
                && !f(k, bytes)
            {
                break;
            }
        }
        Ok(())
    }

    /// Lists up to `limit` objects under `prefix` (a collection or namespace prefix) from
    /// `start` at revision `at`, reporting how many remain after the page like etcd's
    /// range count. Pages that continue an issued token cost O(limit).
    pub fn list(
        &mut self,
        at: u64,
        prefix: &str,
        start: &str,
        limit: Option<usize>,
    ) -> Result<Page, StoreError> {
        let mut page = Page::default();
        let max = limit.unwrap_or(usize::MAX);
        let known_before = if start <= prefix {
            Some(0)
        } else {
            self.cursors
                .get(&(Box::from(prefix), at, Box::from(start)))
                .copied()
        };
        let mut last: Option<Arc<str>> = None;
        let mut more = false;
        self.visit_at(at, prefix, start, |k, b| {
            if page.items.len() < max {
                page.items.push(b.clone());
                last = Some(k.clone());
                true
            } else if known_before.is_some() {
                // The rest is counted arithmetically below.
                more = true;
                false
            } else {
                page.remaining += 1;
                true
            }
        })?;
        let items = page.items.len() as u64;
        let total = self.count_at(prefix, at);
        let before = match known_before {
            Some(before) => {
                if more {
                    page.remaining = total.saturating_sub(before + items).max(1);
                }
                before
            }
            None => total.saturating_sub(items + page.remaining),
        };
        if page.remaining > 0 {
            if let Some(last) = &last {
                if self.cursors.len() >= MAX_CURSORS {
                    self.cursors.clear();
                }
                self.cursors.insert(
                    (Box::from(prefix), at, Box::from(format!("{last}\0"))),
                    before + items,
                );
            }
            page.last_key = last;
        }
        Ok(page)
    }

    /// Changes after revision `after` under `prefix`, at most `max` of them. Returns the
    /// changes and the revision up to which the log was scanned (the new cursor).
    pub fn changes_after(
        &self,
        after: u64,
        prefix: &str,
        max: usize,
    ) -> Result<(Vec<Change>, u64), StoreError> {
        if after < self.compacted {
            return Err(StoreError::TooOld {
                compacted: self.compacted,
            });
        }
        let first = self.log.partition_point(|c| c.rv <= after);
        let mut out = Vec::new();
        let mut cursor = after;
        for c in self.log.range(first..) {
            if out.len() >= max {
                return Ok((out, cursor));
            }
            cursor = c.rv;
            if c.key.starts_with(prefix) {
                out.push(c.clone());
            }
        }
        Ok((out, self.rv.max(cursor)))
    }

    /// Keys under `prefix` last written before `cutoff`.
    pub fn written_before(&self, prefix: &str, cutoff: Instant) -> Vec<Arc<str>> {
        self.range(prefix, prefix)
            .filter(|(_, e)| e.written < cutoff)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Result<Bytes, String> {
        Ok(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn items(p: &Page) -> Vec<String> {
        p.items
            .iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn every_write_bumps_the_global_revision() {
        let mut s = Store::new(100);
        assert_eq!(s.create("events/a/x", |_| b("1")).unwrap(), 1);
        assert_eq!(s.bump(), 2);
        assert_eq!(s.update("events/a/x", |_, _| b("2")).unwrap(), 3);
        assert_eq!(s.delete("events/a/x", |_, _| b("3")).unwrap(), 4);
        assert_eq!(s.create("events/a/x", |_| b("4")).unwrap(), 5);
        assert_eq!(
            s.create("events/a/x", |_| b("5")),
            Err(StoreError::AlreadyExists)
        );
        assert_eq!(
            s.update("events/a/y", |_, _| b("5")),
            Err(StoreError::NotFound)
        );
    }

    #[test]
    fn snapshots_see_the_past() {
        let mut s = Store::new(100);
        s.create("events/a/1", |_| b("a1")).unwrap();
        s.create("events/a/3", |_| b("a3")).unwrap();
        let at = s.rv();
        s.create("events/a/2", |_| b("a2")).unwrap();
        s.update("events/a/1", |_, _| b("a1'")).unwrap();
        s.delete("events/a/3", |_, _| b("a3x")).unwrap();
        s.create("pods/a/1", |_| b("pod")).unwrap();
        assert_eq!(
            items(&s.list(at, "events/", "events/", None).unwrap()),
            vec!["a1", "a3"]
        );
        assert_eq!(
            items(&s.list(s.rv(), "events/", "events/", None).unwrap()),
            vec!["a1'", "a2"]
        );
        let page = s.list(at, "events/", "events/", Some(1)).unwrap();
        assert_eq!(items(&page), vec!["a1"]);
        assert_eq!(page.remaining, 1);
        assert_eq!(page.last_key.as_deref(), Some("events/a/1"));
        let next = s.list(at, "events/", "events/a/1\0", Some(1)).unwrap();
        assert_eq!(items(&next), vec!["a3"]);
        assert_eq!(next.remaining, 0);
        assert!(next.last_key.is_none());
    }

    #[test]
    fn compaction_makes_old_revisions_too_old() {
        let mut s = Store::new(100);
        s.create("events/a/1", |_| b("a1")).unwrap();
        let old = s.rv();
        s.create("events/a/2", |_| b("a2")).unwrap();
        let now = s.compact();
        assert_eq!(
            s.list(old, "events/", "", None).unwrap_err(),
            StoreError::TooOld { compacted: now }
        );
        assert!(s.changes_after(old, "events/", 10).is_err());
        assert!(s.changes_after(now, "events/", 10).unwrap().0.is_empty());
        s.update("events/a/1", |_, _| b("x")).unwrap();
        let (changes, cursor) = s.changes_after(now, "events/", 10).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(cursor, s.rv());
    }

    #[test]
    fn rewind_restores_an_older_state_and_reuses_revisions() {
        let mut s = Store::new(100);
        s.create("events/a/x", |_| b("x1")).unwrap();
        let at = s.create("events/a/y", |_| b("y1")).unwrap();
        s.update("events/a/x", |_, _| b("x2")).unwrap();
        s.delete("events/a/y", |p, _| Ok(p.clone())).unwrap();
        s.create("events/a/z", |_| b("z1")).unwrap();
        assert_eq!(s.rv(), 5);
        assert_eq!(s.rewind(at).unwrap(), 2);
        assert_eq!(s.rv(), 2);
        assert_eq!(&s.get("events/a/x").unwrap().bytes[..], b"x1");
        assert_eq!(&s.get("events/a/y").unwrap().bytes[..], b"y1");
        assert!(s.get("events/a/z").is_none());
        assert_eq!(s.count("events/"), 2);
        let (changes, cursor) = s.changes_after(at, "events/", 10).unwrap();
        assert!(changes.is_empty());
        assert_eq!(cursor, 2);
        // the next write reuses a revision a client may already have seen
        assert_eq!(s.create("events/a/w", |_| b("w1")).unwrap(), 3);
        s.compact();
        assert!(matches!(s.rewind(1), Err(StoreError::TooOld { .. })));
    }

    #[test]
    fn history_limit_compacts_oldest() {
        let mut s = Store::new(2);
        for i in 0..5 {
            s.create(&format!("events/a/{i}"), |_| b("x")).unwrap();
        }
        assert_eq!(s.history_len(), 2);
        assert_eq!(s.compacted(), 3);
        assert!(s.changes_after(2, "", 10).is_err());
        assert_eq!(s.changes_after(3, "", 10).unwrap().0.len(), 2);
    }

    #[test]
    fn changes_are_filtered_by_prefix_and_bounded() {
        let mut s = Store::new(100);
        s.create("events/a/1", |_| b("1")).unwrap();
        s.create("pods/a/1", |_| b("p")).unwrap();
        s.create("events/b/1", |_| b("2")).unwrap();
        let (c, cursor) = s.changes_after(0, "events/b/", 10).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(cursor, 3);
        let (c, cursor) = s.changes_after(0, "events/", 1).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(cursor, 1);
    }

    #[test]
    fn remaining_counts_stay_exact_across_pages_and_writes() {
        let mut s = Store::new(1000);
        for ns in ["a", "b"] {
            for i in 0..10 {
                s.create(&format!("events/{ns}/{i:02}"), |_| b("x"))
                    .unwrap();
            }
        }
        let at = s.rv();
        let mut start = "events/".to_owned();
        let mut seen = 0;
        loop {
            let page = s.list(at, "events/", &start, Some(3)).unwrap();
            seen += page.items.len() as u64;
            // Writes between pages change neither the snapshot nor its counts.
            s.create(&format!("events/a/x{seen}"), |_| b("new"))
                .unwrap();
            s.delete("events/b/09", |_, _| b("gone")).ok();
            assert_eq!(page.remaining, 20 - seen);
            match page.last_key {
                Some(k) => start = format!("{k}\0"),
                None => break,
            }
        }
        assert_eq!(seen, 20);
        // A page from an unknown start key falls back to counting.
        let page = s.list(at, "events/a/", "events/a/04\0", Some(2)).unwrap();
        assert_eq!(page.remaining, 3);
        assert_eq!(s.count("events/"), 20 + 7 - 1);
        assert_eq!(s.count("events/b/"), 9);
    }

    #[test]
    fn namespace_prefixes_do_not_bleed() {
        let mut s = Store::new(100);
        s.create("events/shop-2/a", |_| b("other")).unwrap();
        s.create("events/shop/a", |_| b("mine")).unwrap();
        assert_eq!(
            items(&s.list(s.rv(), "events/shop/", "", None).unwrap()),
            vec!["mine"]
        );
        assert_eq!(s.count("events/"), 2);
    }
}
