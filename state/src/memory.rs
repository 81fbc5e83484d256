//! [`MemoryStore`]: the reference implementation of [`StateStore`], kept in memory.
//!
//! Correctness first: every space is a `BTreeMap` behind one `RwLock`, so every call is
//! trivially atomic and ordered. Used by tests, by replay, and as the model that disk-backed
//! stores are checked against.
//!
//! # Costs
//!
//! Each space's map sits in an `Arc`. A snapshot, and a scan, clone those `Arc`s: O(1), no
//! copy. A write to a space whose map is also held by a live snapshot or scan copies that one
//! map first (copy-on-write: O(entries of the space)); later writes to it are O(log n) again
//! until the next snapshot. So keep snapshots and scans short-lived when writes continue.
//! `get` and every scanned entry copy their value out; a scan step is O(log n), since it
//! re-seeks after the last key it returned rather than borrow the map across calls.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::StateError;
use crate::store::{BatchOp, Entry, KeyRange, Scan, Space, StateStore, StateView, WriteBatch};

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// One map per space, indexed by [`Space::index`].
type Spaces = [Arc<Tree>; Space::ALL.len()];

/// An in-memory [`StateStore`]; cheap to create, gone when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    spaces: RwLock<Spaces>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    // A panic while the lock is held can only come from allocation failure inside a map
    // operation, after which the process aborts anyway; a poisoned lock therefore never hides a
    // half-applied change, and recovering the guard is sound.
    fn read(&self) -> RwLockReadGuard<'_, Spaces> {
        self.spaces.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Spaces> {
        self.spaces.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StateView for MemoryStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.read()[space.index()].get(key).cloned())
    }

    fn scan(&self, space: Space, range: KeyRange) -> Result<Scan<'_>, StateError> {
        let tree = Arc::clone(&self.read()[space.index()]);
        Ok(Box::new(TreeScan::new(tree, range)))
    }
}

impl StateStore for MemoryStore {
    fn put(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        Arc::make_mut(&mut self.write_lock()[space.index()]).insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, space: Space, key: &[u8]) -> Result<(), StateError> {
        let mut spaces = self.write_lock();
        // Checked first so deleting an absent key does not copy a map a snapshot shares.
        if spaces[space.index()].contains_key(key) {
            Arc::make_mut(&mut spaces[space.index()]).remove(key);
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StateError> {
        // One write lock for the whole batch: no reader sees it half applied, and nothing in
        // the loop can fail, so it is all or nothing.
        let mut spaces = self.write_lock();
        for op in batch {
            match op {
                BatchOp::Put { space, key, value } => {
                    Arc::make_mut(&mut spaces[space.index()]).insert(key, value);
                }
                BatchOp::Delete { space, key } => {
                    if spaces[space.index()].contains_key(&key) {
                        Arc::make_mut(&mut spaces[space.index()]).remove(&key);
                    }
                }
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Box<dyn StateView + '_>, StateError> {
        Ok(Box::new(MemorySnapshot { spaces: self.read().clone() }))
    }
}

/// A frozen copy of the store's maps (shared, not copied; see the module costs).
#[derive(Debug)]
struct MemorySnapshot {
    spaces: Spaces,
}

impl StateView for MemorySnapshot {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.spaces[space.index()].get(key).cloned())
    }

    fn scan(&self, space: Space, range: KeyRange) -> Result<Scan<'_>, StateError> {
        let tree = Arc::clone(&self.spaces[space.index()]);
        Ok(Box::new(TreeScan::new(tree, range)))
    }
}

/// Walks a range of a shared map, re-seeking after each returned key.
///
/// Holding the `Arc` (not a borrow) keeps the view fixed and the store's lock free while the
/// caller consumes the scan.
struct TreeScan {
    tree: Arc<Tree>,
    /// Where the next entry may start; `None` once the scan is exhausted.
    from: Option<Bound<Vec<u8>>>,
    end: Option<Vec<u8>>,
}

impl TreeScan {
    fn new(tree: Arc<Tree>, range: KeyRange) -> Self {
        // `BTreeMap::range` panics when start > end, so an empty range never reaches it.
        let from = (!range.is_empty()).then_some(Bound::Included(range.start));
        TreeScan { tree, from, end: range.end }
    }
}

impl Iterator for TreeScan {
    type Item = Result<Entry, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        let from = self.from.take()?;
        let lower = match &from {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let upper = self.end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let (key, value) = self.tree.range::<[u8], _>((lower, upper)).next()?;
        self.from = Some(Bound::Excluded(key.clone()));
        Some(Ok((key.clone(), value.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(scan: Scan<'_>) -> Vec<Vec<u8>> {
        scan.map(|entry| entry.unwrap().0).collect()
    }

    #[test]
    fn scan_does_not_see_writes_made_while_it_runs() {
        let store = MemoryStore::new();
        store.put(Space::Runs, b"a", b"1").unwrap();
        store.put(Space::Runs, b"c", b"3").unwrap();
        let mut scan = store.scan(Space::Runs, KeyRange::all()).unwrap();
        assert_eq!(scan.next().unwrap().unwrap().0, b"a");
        store.put(Space::Runs, b"b", b"2").unwrap();
        store.delete(Space::Runs, b"c").unwrap();
        assert_eq!(scan.next().unwrap().unwrap(), (b"c".to_vec(), b"3".to_vec()));
        assert!(scan.next().is_none());
        assert_eq!(keys(store.scan(Space::Runs, KeyRange::all()).unwrap()), [b"a", b"b"]);
    }

    #[test]
    fn inverted_range_is_empty_not_a_panic() {
        let store = MemoryStore::new();
        store.put(Space::Meta, b"m", b"").unwrap();
        assert!(keys(store.scan(Space::Meta, KeyRange::new(*b"z", *b"a")).unwrap()).is_empty());
    }

    #[test]
    fn snapshot_shares_maps_until_written() {
        let store = MemoryStore::new();
        store.put(Space::Timers, b"t", b"1").unwrap();
        let sharers = || Arc::strong_count(&store.read()[Space::Timers.index()]);
        let snapshot = store.snapshot().unwrap();
        assert_eq!(sharers(), 2, "a snapshot shares the map");
        // Deleting an absent key must not copy a shared map (the cost the docs promise).
        store.delete(Space::Timers, b"absent").unwrap();
        assert_eq!(sharers(), 2);
        store.put(Space::Timers, b"t", b"2").unwrap();
        assert_eq!(sharers(), 1, "the first write after the snapshot copies the map");
        assert_eq!(snapshot.get(Space::Timers, b"t").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(store.get(Space::Timers, b"t").unwrap().as_deref(), Some(&b"2"[..]));
    }
}
