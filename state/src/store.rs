//! The storage contract: [`StateStore`] and what it reads and writes.
//!
//! A store is an ordered map of byte keys to byte values, split into [`Space`]s (column
//! families in RocksDB). It knows nothing about rules, runs or timers: [`crate::keys`] gives keys
//! their meaning and [`crate::codec`] values theirs. No backend type appears here, so a backend
//! is chosen at start-up and the engine holds a `Box<dyn StateStore>` or an `Arc<dyn StateStore>`.
//!
//! # Blocking
//!
//! Every method of [`StateView`] and [`StateStore`], and `next` on a scan, may block the calling
//! thread: a disk-backed store reads files, and [`StateStore::write`] waits for the write-ahead
//! log. In async code, call them from a blocking thread, batched at checkpoints, never per event
//! on an async worker. Building a [`WriteBatch`] or a [`KeyRange`] never blocks (plain memory).
//!
//! # Consistency
//!
//! Each call is atomic on its own: [`StateStore::write`] applies a whole batch or nothing, and no
//! reader ever sees part of a batch. A scan reads from a consistent view taken when it starts,
//! and a [`StateStore::snapshot`] keeps one such view for as long as it lives.

use std::fmt;
use std::sync::Arc;

use crate::StateError;

/// One stored entry: `(key, value)`.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entries of a scan, in ascending key-byte order. An item is an error when the backend
/// fails part-way; stop at the first error.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<Entry, StateError>> + 'a>;

/// A named keyspace; a RocksDB store maps each to a column family of the same name.
///
/// Keys are laid out per space as [`crate::keys`] documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// The NFA runs (partial matches) of each key.
    Runs,
    /// The shared event buffer of each key: events that runs refer to.
    Buffer,
    /// Events that arrived ahead of the watermark, held until it passes them.
    Pending,
    /// Timers (windows, gaps, absences), ordered by time.
    Timers,
    /// Source positions: the next offset to read per input partition.
    Offsets,
    /// Store-wide facts: format version, rule and partition numbering.
    Meta,
}

impl Space {
    /// Every space, in declaration order.
    pub const ALL: [Space; 6] =
        [Space::Runs, Space::Buffer, Space::Pending, Space::Timers, Space::Offsets, Space::Meta];

    /// A stable lower-case name, used as the column family name on disk: never change one.
    pub fn name(self) -> &'static str {
        match self {
            Space::Runs => "runs",
            Space::Buffer => "buffer",
            Space::Pending => "pending",
            Space::Timers => "timers",
            Space::Offsets => "offsets",
            Space::Meta => "meta",
        }
    }

    /// The position of this space in [`Space::ALL`], for array-indexed backends.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A half-open range of keys, `start <= key < end`, compared as bytes.
///
/// `end: None` means "to the end of the space". A range whose end is not after its start is
/// empty (scanning it yields nothing; it is not an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// The smallest key in the range.
    pub start: Vec<u8>,
    /// The first key after the range, or `None` for no upper bound.
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every key of a space.
    pub fn all() -> Self {
        KeyRange::default()
    }

    /// The keys in `start..end`.
    pub fn new(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Self {
        KeyRange { start: start.into(), end: Some(end.into()) }
    }

    /// The keys that start with `prefix` (every key when `prefix` is empty).
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let start = prefix.into();
        let end = prefix_end(&start);
        KeyRange { start, end }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// Whether no key can be in the range.
    pub fn is_empty(&self) -> bool {
        self.end.as_deref().is_some_and(|end| end <= self.start.as_slice())
    }
}

/// The smallest key greater than every key starting with `prefix`: the prefix with its last
/// byte below 0xFF incremented and what follows it dropped; `None` if there is no such key
/// (empty prefix or all 0xFF).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value` in `space`.
    Put {
        /// Where.
        space: Space,
        /// The key.
        key: Vec<u8>,
        /// The new value (may be empty; an empty value is still present).
        value: Vec<u8>,
    },
    /// Remove `key` from `space` (nothing happens if it is absent).
    Delete {
        /// Where.
        space: Space,
        /// The key.
        key: Vec<u8>,
    },
}

/// Puts and deletes that [`StateStore::write`] applies all together or not at all.
///
/// Operations apply in the order they were added, so when several touch the same key the last
/// one wins: put-then-delete leaves the key absent, delete-then-put leaves it present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Adds a put of `key` = `value` in `space`.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Put { space, key: key.into(), value: value.into() });
    }

    /// Adds a delete of `key` in `space`.
    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Delete { space, key: key.into() });
    }

    /// The operations, in the order they will apply.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// How many operations the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl IntoIterator for WriteBatch {
    type Item = BatchOp;
    type IntoIter = std::vec::IntoIter<BatchOp>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

/// Reads: what a store and its snapshots have in common.
///
/// Generic code that only reads (restoring a partition, exporting state) takes a `&dyn
/// StateView` or `impl StateView`, and so works on a live store and on a snapshot alike.
pub trait StateView: Send + Sync {
    /// The value of `key` in `space`, or `None` if absent. An empty value is `Some(vec![])`.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// The entries of `space` whose keys lie in `range`, in ascending key-byte order.
    ///
    /// The scan reads a consistent view taken when it is created: writes made while it is
    /// being consumed are not seen by it.
    fn scan(&self, space: Space, range: KeyRange) -> Result<Scan<'_>, StateError>;
}

/// A keyed state store: reads, writes, atomic batches and snapshots.
///
/// Implemented by [`crate::MemoryStore`] (the reference); a disk-backed store implements the
/// same contract, checked by the shared conformance suite. The trait is object-safe, and
/// `Send + Sync` so one store can serve every partition task of an instance.
pub trait StateStore: StateView {
    /// Sets `key` to `value` in `space`, replacing any previous value.
    fn put(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StateError>;

    /// Removes `key` from `space`; removing an absent key succeeds.
    fn delete(&self, space: Space, key: &[u8]) -> Result<(), StateError>;

    /// Applies every operation of `batch`, in order, atomically: afterwards all of them are
    /// visible, or (on error) none is. Readers never observe part of a batch.
    fn write(&self, batch: WriteBatch) -> Result<(), StateError>;

    /// A read-only view of the store as it is now. Writes made after this call returns are
    /// not visible through it; writes completed before it are.
    fn snapshot(&self) -> Result<Box<dyn StateView + '_>, StateError>;
}

// Forwarding impls, so `Box<dyn StateStore>` and `Arc<dyn StateStore>` can be handed to code
// that is generic over `S: StateStore`.

macro_rules! forward_to_inner {
    ($($pointer:ident),*) => {$(
        impl<S: StateView + ?Sized> StateView for $pointer<S> {
            fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
                (**self).get(space, key)
            }

            fn scan(&self, space: Space, range: KeyRange) -> Result<Scan<'_>, StateError> {
                (**self).scan(space, range)
            }
        }

        impl<S: StateStore + ?Sized> StateStore for $pointer<S> {
            fn put(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StateError> {
                (**self).put(space, key, value)
            }

            fn delete(&self, space: Space, key: &[u8]) -> Result<(), StateError> {
                (**self).delete(space, key)
            }

            fn write(&self, batch: WriteBatch) -> Result<(), StateError> {
                (**self).write(batch)
            }

            fn snapshot(&self) -> Result<Box<dyn StateView + '_>, StateError> {
                (**self).snapshot()
            }
        }
    )*};
}

forward_to_inner!(Box, Arc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_index_matches_position_in_all() {
        for (i, space) in Space::ALL.into_iter().enumerate() {
            assert_eq!(space.index(), i);
        }
        let mut names: Vec<_> = Space::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Space::ALL.len(), "column family names must be distinct");
    }

    #[test]
    fn prefix_end_skips_trailing_ff() {
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
    }

    #[test]
    fn prefix_range_contains_exactly_the_extensions() {
        let range = KeyRange::prefix(vec![1, 0xFF]);
        assert!(range.contains(&[1, 0xFF]));
        assert!(range.contains(&[1, 0xFF, 0xFF, 7]));
        assert!(!range.contains(&[1, 0xFE, 0xFF]));
        assert!(!range.contains(&[2]));
        assert!(KeyRange::prefix(Vec::new()).contains(b""));
        assert!(KeyRange::new(vec![3], vec![3]).is_empty());
        assert!(KeyRange::new(vec![4], vec![3]).is_empty());
        assert!(!KeyRange::all().is_empty());
    }

    #[test]
    fn batch_keeps_operations_in_order() {
        let mut batch = WriteBatch::new();
        batch.put(Space::Runs, b"k".to_vec(), b"v".to_vec());
        batch.delete(Space::Runs, b"k".to_vec());
        assert_eq!(batch.len(), 2);
        assert_eq!(
            batch.ops(),
            &[
                BatchOp::Put { space: Space::Runs, key: b"k".to_vec(), value: b"v".to_vec() },
                BatchOp::Delete { space: Space::Runs, key: b"k".to_vec() },
            ]
        );
    }
}
