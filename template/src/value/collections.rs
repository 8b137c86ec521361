//! Go slices and maps: [`List`], [`Map`] and the element type they carry.
//!
//! Lists are immutable and cheap to clone. Maps come in two flavours: *frozen*
//! maps (host data, lock-free reads, never modified) and *shared* maps created by
//! template functions such as `dict`, which sprig's `set`/`unset`/`merge` mutate in
//! place with Go reference semantics. Shared maps never hold their lock while
//! calling out, and refuse insertions that would make them contain themselves, so
//! they cannot deadlock, recurse forever or leak through `Arc` cycles.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::Value;

/// The static element type of a Go slice or map, as far as templates can observe
/// it: it decides `%T`/`typeOf` output and the zero value `index` returns for a
/// missing map key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// `interface {}`: missing keys read as a nil interface (`<no value>`).
    Interface,
    /// `string`: missing keys read as `""`.
    String,
    /// `int`.
    Int,
    /// `int64`.
    Int64,
    /// `float64`.
    Float64,
    /// `bool`.
    Bool,
    /// Any other Go type, by its `%T` name (e.g. `v1.OwnerReference`); its zero
    /// value reads as nil.
    Other(Arc<str>),
}

impl ElemType {
    /// Returns the Go spelling of the type (`interface {}`, `string`, ...).
    pub fn go_name(&self) -> &str {
        match self {
            ElemType::Interface => "interface {}",
            ElemType::String => "string",
            ElemType::Int => "int",
            ElemType::Int64 => "int64",
            ElemType::Float64 => "float64",
            ElemType::Bool => "bool",
            ElemType::Other(name) => name,
        }
    }

    /// Returns the zero value of the element type, or `None` for types whose zero
    /// value is a nil interface (printed as `<no value>` by templates).
    pub fn zero(&self) -> Option<Value> {
        match self {
            ElemType::Interface | ElemType::Other(_) => None,
            ElemType::String => Some(Value::String(Arc::from(""))),
            ElemType::Int | ElemType::Int64 => Some(Value::Int(0)),
            ElemType::Float64 => Some(Value::Float(0.0)),
            ElemType::Bool => Some(Value::Bool(false)),
        }
    }
}

// === impl List ===

/// An immutable Go slice.
#[derive(Clone)]
pub struct List(Arc<ListInner>);

struct ListInner {
    elem: ElemType,
    items: Vec<Value>,
    depth: u32,
}

/// Nesting depth of a container holding `items`.
fn depth_of<'a>(items: impl IntoIterator<Item = &'a Value>) -> u32 {
    1 + items.into_iter().map(Value::depth).max().unwrap_or(0)
}

impl List {
    /// Creates a list with the given element type.
    pub fn new(elem: ElemType, items: Vec<Value>) -> List {
        let depth = depth_of(&items);
        List(Arc::new(ListInner { elem, items, depth }))
    }

    /// Returns how deeply containers nest inside (1 for a flat list).
    pub fn depth(&self) -> u32 {
        self.0.depth
    }

    /// Creates a `[]interface {}`.
    pub fn from_values(items: Vec<Value>) -> List {
        List::new(ElemType::Interface, items)
    }

    /// Creates a `[]string`.
    pub fn from_strings<I, S>(items: I) -> List
    where
        I: IntoIterator<Item = S>,
        S: Into<Arc<str>>,
    {
        List::new(
            ElemType::String,
            items.into_iter().map(|s| Value::String(s.into())).collect(),
        )
    }

    /// Returns the elements.
    pub fn items(&self) -> &[Value] {
        &self.0.items
    }

    /// Returns the element type.
    pub fn elem(&self) -> &ElemType {
        &self.0.elem
    }

    /// Returns the number of elements.
    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    /// Reports whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }

    /// Reports whether both handles refer to the same list.
    pub fn ptr_eq(&self, other: &List) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items()).finish()
    }
}

// === impl Map ===

/// A Go `map[string]T`. Iteration is always in sorted key order, as Go's `fmt`,
/// `range` and `encoding/json` present maps.
#[derive(Clone)]
pub struct Map(Arc<MapInner>);

struct MapInner {
    elem: ElemType,
    store: Store,
    /// An upper bound of the nesting depth (it never decreases on removal).
    depth: AtomicU32,
}

enum Store {
    /// Host data: immutable, read without locking.
    Frozen(BTreeMap<Arc<str>, Value>),
    /// Created by a template: mutable through every handle, like a Go map.
    Shared(RwLock<BTreeMap<Arc<str>, Value>>),
}

/// Why a map mutation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapWriteError {
    /// The map is host data, which templates may not modify.
    #[error("cannot modify a read-only map (event data is immutable)")]
    ReadOnly,
    /// The value contains the map itself.
    #[error("cannot store a map inside itself")]
    Cycle,
}

impl Map {
    /// Creates an immutable map from its entries (later duplicates win).
    pub fn frozen<I, K>(elem: ElemType, entries: I) -> Map
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<Arc<str>>,
    {
        let entries: BTreeMap<Arc<str>, Value> =
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let depth = AtomicU32::new(depth_of(entries.values()));
        Map(Arc::new(MapInner {
            elem,
            store: Store::Frozen(entries),
            depth,
        }))
    }

    /// Creates a mutable `map[string]interface {}`, as sprig's `dict` does.
    pub fn shared<I, K>(entries: I) -> Map
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<Arc<str>>,
    {
        Map::shared_typed(ElemType::Interface, entries)
    }

    /// Creates a mutable map with the given element type.
    pub fn shared_typed<I, K>(elem: ElemType, entries: I) -> Map
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<Arc<str>>,
    {
        let entries: BTreeMap<Arc<str>, Value> =
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let depth = AtomicU32::new(depth_of(entries.values()));
        Map(Arc::new(MapInner {
            elem,
            store: Store::Shared(RwLock::new(entries)),
            depth,
        }))
    }

    /// Returns the element type.
    pub fn elem(&self) -> &ElemType {
        &self.0.elem
    }

    /// Returns an upper bound of how deeply containers nest inside.
    pub fn depth(&self) -> u32 {
        self.0.depth.load(Ordering::Relaxed)
    }

    /// Reports whether the map can be modified by template functions.
    pub fn is_mutable(&self) -> bool {
        matches!(self.0.store, Store::Shared(_))
    }

    /// Returns the value stored under `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        match &self.0.store {
            Store::Frozen(m) => m.get(key).cloned(),
            Store::Shared(lock) => read(lock).get(key).cloned(),
        }
    }

    /// Reports whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        match &self.0.store {
            Store::Frozen(m) => m.contains_key(key),
            Store::Shared(lock) => read(lock).contains_key(key),
        }
    }

    /// Returns the number of entries.
    pub fn len(&self) -> usize {
        match &self.0.store {
            Store::Frozen(m) => m.len(),
            Store::Shared(lock) => read(lock).len(),
        }
    }

    /// Reports whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the entries in sorted key order. For frozen maps this borrows;
    /// shared maps are copied so that no lock is held while the caller works.
    pub fn entries(&self) -> Entries<'_> {
        match &self.0.store {
            Store::Frozen(m) => Entries::Borrowed(m),
            Store::Shared(lock) => Entries::Owned(
                read(lock)
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }
    }

    /// Returns the keys in sorted order.
    pub fn keys(&self) -> Vec<Arc<str>> {
        match &self.0.store {
            Store::Frozen(m) => m.keys().cloned().collect(),
            Store::Shared(lock) => read(lock).keys().cloned().collect(),
        }
    }

    /// Stores `value` under `key` (sprig `set`).
    ///
    /// # Errors
    /// Fails for frozen maps and when `value` contains this map.
    pub fn insert(&self, key: Arc<str>, value: Value) -> Result<(), MapWriteError> {
        let Store::Shared(lock) = &self.0.store else {
            return Err(MapWriteError::ReadOnly);
        };
        if contains_map(&value, self, 0) {
            return Err(MapWriteError::Cycle);
        }
        self.0.depth.fetch_max(1 + value.depth(), Ordering::Relaxed);
        write(lock).insert(key, value);
        Ok(())
    }

    /// Removes `key` (sprig `unset`).
    ///
    /// # Errors
    /// Fails for frozen maps.
    pub fn remove(&self, key: &str) -> Result<Option<Value>, MapWriteError> {
        let Store::Shared(lock) = &self.0.store else {
            return Err(MapWriteError::ReadOnly);
        };
        Ok(write(lock).remove(key))
    }

    /// Reports whether both handles refer to the same map.
    pub fn ptr_eq(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Sorted map entries, borrowed or snapshotted.
pub enum Entries<'a> {
    /// Borrowed from a frozen map.
    Borrowed(&'a BTreeMap<Arc<str>, Value>),
    /// A snapshot of a shared map.
    Owned(Vec<(Arc<str>, Value)>),
}

impl Entries<'_> {
    /// Iterates over the entries in key order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Arc<str>, &Value)> + '_> {
        match self {
            Entries::Borrowed(m) => Box::new(m.iter()),
            Entries::Owned(v) => Box::new(v.iter().map(|(k, v)| (k, v))),
        }
    }

    /// Returns the number of entries.
    pub fn len(&self) -> usize {
        match self {
            Entries::Borrowed(m) => m.len(),
            Entries::Owned(v) => v.len(),
        }
    }

    /// Reports whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries();
        f.debug_map().entries(entries.iter()).finish()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // No code panics while holding a guard, so poisoning cannot carry a torn
    // state; recovering the guard is safe.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// How deep [`contains_map`] looks; deeper values are treated as cyclic.
const MAX_CYCLE_DEPTH: usize = 256;

/// Reports whether `value` reaches `target` (or is too deep to tell).
fn contains_map(value: &Value, target: &Map, depth: usize) -> bool {
    if depth > MAX_CYCLE_DEPTH {
        return true;
    }
    match value {
        Value::Map(m) => {
            if m.ptr_eq(target) {
                return true;
            }
            m.entries()
                .iter()
                .any(|(_, v)| contains_map(v, target, depth + 1))
        }
        Value::List(l) => l.items().iter().any(|v| contains_map(v, target, depth + 1)),
        Value::Struct(s) => s
            .values()
            .iter()
            .any(|v| contains_map(v, target, depth + 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_maps_refuse_writes() {
        let m = Map::frozen(ElemType::String, [("a", Value::from("x"))]);
        assert_eq!(
            m.insert("b".into(), Value::Nil),
            Err(MapWriteError::ReadOnly)
        );
        assert_eq!(m.remove("a"), Err(MapWriteError::ReadOnly));
        assert_eq!(
            m.get("a").and_then(|v| v.as_str().map(str::to_owned)),
            Some("x".into())
        );
    }

    #[test]
    fn shared_maps_mutate_through_every_handle() {
        let m = Map::shared([("a", Value::Int(1))]);
        let alias = m.clone();
        alias.insert("b".into(), Value::Int(2)).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.keys(), vec![Arc::from("a"), Arc::from("b")]);
        alias.remove("a").unwrap();
        assert!(!m.contains_key("a"));
    }

    #[test]
    fn shared_maps_refuse_cycles() {
        let m = Map::shared(Vec::<(&str, Value)>::new());
        let inner = Value::List(List::from_values(vec![Value::Map(m.clone())]));
        assert_eq!(m.insert("x".into(), inner), Err(MapWriteError::Cycle));
        assert_eq!(
            m.insert("y".into(), Value::Map(m.clone())),
            Err(MapWriteError::Cycle)
        );
        assert!(m.is_empty());
    }

    #[test]
    fn zero_values_follow_the_element_type() {
        assert!(ElemType::Interface.zero().is_none());
        assert_eq!(ElemType::String.zero().unwrap().as_str(), Some(""));
        assert_eq!(ElemType::Other("v1.X".into()).go_name(), "v1.X");
    }
}
