//! The keys' timers of one partition, earliest first (ties by key).
//!
//! A binary heap of (time, key): 24 bytes a timer, where an ordered set took about twice that
//! (a partition may hold a timer for each of a million keys). A heap cannot remove an entry, so
//! moving a key's timer leaves its old entry behind, stale: each key remembers the one time it
//! is armed for, and an entry that does not match it is dropped when it reaches the top. When
//! stale entries outnumber live ones, the heap is rebuilt without them, so it never holds more
//! than about twice the armed timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(i64, Arc<str>)>>,
    /// Entries known to be stale (an estimate: exact after a rebuild).
    stale: usize,
}

/// Below this many entries the heap is never rebuilt.
const REBUILD_MIN: usize = 1024;

impl Timers {
    /// Arms `key` at `t`.
    pub(super) fn arm(&mut self, t: i64, key: Arc<str>) {
        self.heap.push(Reverse((t, key)));
    }

    /// One entry is stale now (its key moved or dropped its timer).
    pub(super) fn disarm(&mut self) {
        self.stale += 1;
    }

    /// The earliest live timer's time if it is at most `w`; `armed(t, key)` says whether `key`
    /// is armed at `t`. Stale entries on top are dropped on the way; a timer not yet due is
    /// not checked (most steps end there, and checking means a lookup of its key).
    pub(super) fn due(&mut self, w: i64, armed: impl Fn(i64, &str) -> bool) -> Option<i64> {
        while let Some(Reverse((t, key))) = self.heap.peek() {
            if *t > w {
                return None;
            }
            if armed(*t, key) {
                return Some(*t);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Takes the earliest entry (the one [`Timers::due`] found live).
    pub(super) fn pop(&mut self) -> Option<(i64, Arc<str>)> {
        self.heap.pop().map(|Reverse(entry)| entry)
    }

    /// Rebuilds the heap without its stale entries once they outnumber the live ones.
    pub(super) fn compact(&mut self, armed: impl Fn(i64, &str) -> bool) {
        if self.heap.len() < REBUILD_MIN || self.stale * 2 < self.heap.len() {
            return;
        }
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.retain(|Reverse((t, key))| armed(*t, key));
        self.heap = BinaryHeap::from(entries);
        self.stale = 0;
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Timers against an ordered set: the same times fire in the same order, and the heap stays
    /// within about twice the armed timers however often they move.
    #[test]
    fn timers_fire_in_time_and_key_order_and_stale_entries_are_bounded() {
        let mut timers = Timers::default();
        let mut armed: HashMap<Arc<str>, i64> = HashMap::new();
        let mut model = std::collections::BTreeSet::new();
        // A deterministic walk: keys re-arm later and later, some drop their timer.
        let mut x: u64 = 7;
        for step in 0..20_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let key: Arc<str> = Arc::from(format!("k{}", (x >> 33) % 500));
            let t = (step + (x >> 50) % 1000) as i64;
            if let Some(old) = armed.remove(&key) {
                timers.disarm();
                model.remove(&(old, key.clone()));
            }
            if !x.is_multiple_of(5) {
                armed.insert(key.clone(), t);
                model.insert((t, key.clone()));
                timers.arm(t, key);
            }
            timers.compact(|t, k| armed.get(k) == Some(&t));
            assert!(timers.len() <= 2 * model.len().max(REBUILD_MIN), "{}", timers.len());
        }
        let mut fired = Vec::new();
        while let Some(t) = timers.due(i64::MAX, |t, k| armed.get(k) == Some(&t)) {
            let (at, key) = timers.pop().expect("next found one");
            assert_eq!(at, t);
            armed.remove(&key);
            fired.push((at, key));
        }
        assert_eq!(fired, model.into_iter().collect::<Vec<_>>());
    }
}
