//! The keys' timers of one partition, earliest first (ties by key).
//!
//! 24 bytes a timer, where an ordered set took about twice that (a partition may hold a timer
//! for each of a million keys). Deadlines mostly come in time order (an event's time plus a
//! rule's `within`), so most timers are appended to a ring buffer, and the earliest is taken
//! from its front; one armed before the ring buffer's newest goes to a heap, and the earliest
//! timer is the earlier of the two fronts.
//!
//! Neither can remove an entry from its middle, so moving a key's timer leaves its old entry
//! behind, stale: each key remembers the one time it is armed for, and an entry that does not
//! match it is dropped when it comes first. When stale entries outnumber live ones, both are
//! rebuilt without them, so they never hold more than about twice the armed timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

type Entry = (i64, Arc<str>);

#[derive(Debug, Default)]
pub(super) struct Timers {
    /// Entries in (time, key) order, appended.
    ring: VecDeque<Entry>,
    /// Entries armed before the ring buffer's newest.
    behind: BinaryHeap<Reverse<Entry>>,
    /// Entries known to be stale (an estimate: exact after a rebuild).
    stale: usize,
}

/// Below this many entries nothing is rebuilt.
const REBUILD_MIN: usize = 1024;

impl Timers {
    /// Arms `key` at `t`.
    pub(super) fn arm(&mut self, t: i64, key: Arc<str>) {
        match self.ring.back() {
            Some((bt, bk)) if (t, &*key) < (*bt, &**bk) => self.behind.push(Reverse((t, key))),
            _ => self.ring.push_back((t, key)),
        }
    }

    /// One entry is stale now (its key moved or dropped its timer).
    pub(super) fn disarm(&mut self) {
        self.stale += 1;
    }

    /// The earliest entry: from the ring buffer (`true`) or the heap.
    fn first(&self) -> Option<(&Entry, bool)> {
        match (self.ring.front(), self.behind.peek()) {
            (Some(r), Some(Reverse(b))) => Some(if b < r { (b, false) } else { (r, true) }),
            (Some(r), None) => Some((r, true)),
            (None, Some(Reverse(b))) => Some((b, false)),
            (None, None) => None,
        }
    }

    /// The earliest live timer's time if it is at most `w`; `armed(t, key)` says whether `key`
    /// is armed at `t`. Stale entries that come first are dropped on the way; a timer not yet
    /// due is not checked (most steps end there, and checking means a lookup of its key).
    pub(super) fn due(&mut self, w: i64, armed: impl Fn(i64, &str) -> bool) -> Option<i64> {
        while let Some(((t, key), _)) = self.first() {
            if *t > w {
                return None;
            }
            if armed(*t, key) {
                return Some(*t);
            }
            self.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Takes the earliest entry (the one [`Timers::due`] found live).
    pub(super) fn pop(&mut self) -> Option<Entry> {
        let (_, from_ring) = self.first()?;
        if from_ring { self.ring.pop_front() } else { self.behind.pop().map(|Reverse(e)| e) }
    }

    /// Rebuilds both without their stale entries once those outnumber the live ones.
    pub(super) fn compact(&mut self, armed: impl Fn(i64, &str) -> bool) {
        let len = self.ring.len() + self.behind.len();
        if len < REBUILD_MIN || self.stale * 2 < len {
            return;
        }
        self.ring.retain(|(t, key)| armed(*t, key));
        let mut behind = std::mem::take(&mut self.behind).into_vec();
        behind.retain(|Reverse((t, key))| armed(*t, key));
        self.behind = BinaryHeap::from(behind);
        self.stale = 0;
        if self.ring.capacity() > 4 * self.ring.len().max(REBUILD_MIN) {
            self.ring.shrink_to(2 * self.ring.len().max(REBUILD_MIN));
        }
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.ring.len() + self.behind.len()
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
