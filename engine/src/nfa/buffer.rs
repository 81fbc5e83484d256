//! The shared buffer of one key: events stored once, partial matches as shared paths.
//!
//! Every partial match is a path of nodes from its newest event back to its first: a node is
//! (stage, event, parent). Partial matches that share a prefix share its nodes, so extending a
//! match costs one node whatever its length, and an event taken by many partial matches is
//! stored once. Nodes and events are reference counted: a node is held by the runs pointing at
//! it and by its children; an event by its nodes. When the last holder lets go, it is freed.
//!
//! Unlike Flink's SharedBuffer, nodes are never merged across branches, so a path is followed
//! by parent pointers alone, with no Dewey version numbers.
//!
//! Most keys hold one or two events at a time, and a partition may hold a million keys: the
//! slabs grow one slot at a time while small (a `Vec` would jump to four), and an event is
//! found again by the sequence number of the last event stored, not by a per-key map.

use rustc_hash::FxHashMap;

use crate::event::{Event, Keep};

use super::program::StageId;

pub type NodeId = u32;
pub type EventRef = u32;

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) stage: StageId,
    pub(super) event: EventRef,
    pub(super) parent: Option<NodeId>,
    pub(super) refs: u32,
}

#[derive(Debug, Clone)]
pub(super) struct EventSlot {
    pub(super) event: Event,
    pub(super) refs: u32,
}

/// A vector with a free list: stable indexes, reused slots. The free list is threaded through
/// the free slots themselves, so an empty or full slab costs its vector and one index.
#[derive(Debug, Clone)]
pub(super) struct Slab<T> {
    slots: Vec<Entry<T>>,
    /// The first free slot, or [`NONE`].
    free: u32,
}

#[derive(Debug, Clone)]
enum Entry<T> {
    Used(T),
    /// A free slot, and the next one (or [`NONE`]).
    Free(u32),
}

/// No slot.
const NONE: u32 = u32::MAX;

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new(), free: NONE }
    }
}

impl<T> Slab<T> {
    pub(super) fn insert(&mut self, value: T) -> u32 {
        if self.free != NONE {
            let i = self.free;
            let slot = &mut self.slots[i as usize];
            match slot {
                Entry::Free(next) => self.free = *next,
                Entry::Used(_) => unreachable!("the free list holds free slots only"),
            }
            *slot = Entry::Used(value);
            return i;
        }
        reserve_small(&mut self.slots, 1);
        self.slots.push(Entry::Used(value));
        // NONE stays out of reach: it marks the end of the free list.
        u32::try_from(self.slots.len() - 1)
            .ok()
            .filter(|&i| i != NONE)
            .expect("fewer than 2^32 - 1 live entries per key")
    }

    pub(super) fn get(&self, i: u32) -> &T {
        match &self.slots[i as usize] {
            Entry::Used(v) => v,
            Entry::Free(_) => panic!("slab slot {i} is free"),
        }
    }

    pub(super) fn get_mut(&mut self, i: u32) -> &mut T {
        match &mut self.slots[i as usize] {
            Entry::Used(v) => v,
            Entry::Free(_) => panic!("slab slot {i} is free"),
        }
    }

    fn remove(&mut self, i: u32) -> T {
        let entry = if i as usize + 1 == self.slots.len() {
            // The last slot: shrink instead of listing it as free (a key that takes and
            // releases one event at a time then never needs the free list). The free list
            // never holds the last slot, so it stays valid.
            self.slots.pop().expect("a live slab entry")
        } else {
            let entry = std::mem::replace(&mut self.slots[i as usize], Entry::Free(self.free));
            self.free = i;
            entry
        };
        match entry {
            Entry::Used(v) => v,
            Entry::Free(_) => panic!("slab slot {i} is free"),
        }
    }

    /// Live entries (per-key slabs hold a few: counting is cheap).
    fn len(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s, Entry::Used(_))).count()
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.free = NONE;
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Entry::Used(v) => Some((i as u32, v)),
            Entry::Free(_) => None,
        })
    }
}

/// Makes room for `additional` more elements: exactly while the vector is small (at most four
/// elements), by doubling beyond. Per-key vectors are mostly of one or two elements.
pub(super) fn reserve_small<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len() + additional;
    if needed > v.capacity() {
        if needed <= 4 { v.reserve_exact(additional) } else { v.reserve(additional) }
    }
}

#[derive(Debug, Clone)]
pub struct SharedBuffer {
    pub(super) nodes: Slab<Node>,
    pub(super) events: Slab<EventSlot>,
    /// The slot of the last event stored, or [`NONE`]. Only the event being processed is ever
    /// taken, by every partial match that takes it within one step: comparing with the last one
    /// stored (by sequence number) is enough to store it once.
    pub(super) last: EventRef,
}

impl Default for SharedBuffer {
    fn default() -> Self {
        SharedBuffer { nodes: Slab::default(), events: Slab::default(), last: NONE }
    }
}

impl SharedBuffer {
    /// Number of live nodes and stored events (for limits and tests).
    pub fn sizes(&self) -> (usize, usize) {
        (self.nodes.len(), self.events.len())
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 0 && self.events.len() == 0
    }

    /// Drops every node and event, keeping the capacity.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.events.clear();
        self.last = NONE;
    }

    /// Adds a node for `event` taken by `stage` after `parent`; the new node is held once (by
    /// the caller's run). A newly stored event keeps what `keep` says.
    pub fn take(
        &mut self,
        stage: StageId,
        event: &Event,
        parent: Option<NodeId>,
        keep: Keep,
    ) -> NodeId {
        let event_ref = if self.last != NONE && self.events.get(self.last).event.seq == event.seq {
            self.events.get_mut(self.last).refs += 1;
            self.last
        } else {
            let r = self.events.insert(EventSlot { event: event.kept(keep), refs: 1 });
            self.last = r;
            r
        };
        if let Some(p) = parent {
            self.nodes.get_mut(p).refs += 1;
        }
        self.nodes.insert(Node { stage, event: event_ref, parent, refs: 1 })
    }

    /// One more holder of `node`.
    pub fn retain(&mut self, node: Option<NodeId>) {
        if let Some(n) = node {
            self.nodes.get_mut(n).refs += 1;
        }
    }

    /// One holder fewer; frees the node (and its unheld ancestors and events) at zero.
    pub fn release(&mut self, node: Option<NodeId>) {
        let mut next = node;
        while let Some(n) = next {
            let entry = self.nodes.get_mut(n);
            entry.refs -= 1;
            if entry.refs > 0 {
                return;
            }
            let removed = self.nodes.remove(n);
            let slot = self.events.get_mut(removed.event);
            slot.refs -= 1;
            if slot.refs == 0 {
                self.events.remove(removed.event);
                if self.last == removed.event {
                    self.last = NONE;
                }
            }
            next = removed.parent;
        }
    }

    /// Visits the path ending at `node`, newest event first.
    pub fn visit(&self, node: Option<NodeId>, mut f: impl FnMut(StageId, &Event)) {
        let mut next = node;
        while let Some(n) = next {
            let entry = self.nodes.get(n);
            f(entry.stage, &self.events.get(entry.event).event);
            next = entry.parent;
        }
    }

    /// The path ending at `node`, oldest event first.
    pub fn path(&self, node: Option<NodeId>) -> Vec<(StageId, Event)> {
        let mut out = Vec::new();
        self.visit(node, |stage, e| out.push((stage, e.clone())));
        out.reverse();
        out
    }

    /// The first and last event (by position) of the path ending at `node`, as (ts, seq).
    pub fn bounds(&self, node: Option<NodeId>) -> Option<((i64, u64), (i64, u64))> {
        let mut first = None;
        let mut last = None;
        self.visit(node, |_, e| {
            let id = (e.ts, e.seq);
            if last.is_none() {
                last = Some(id);
            }
            first = Some(id);
        });
        Some((first?, last?))
    }

    /// Checks the reference counts against the holders the caller knows of (`runs`): every
    /// node's count equals its children plus the runs pointing at it. For tests.
    pub fn check_refcounts(
        &self,
        runs: impl IntoIterator<Item = Option<NodeId>>,
    ) -> Result<(), String> {
        let mut expected: FxHashMap<NodeId, u32> = FxHashMap::default();
        for r in runs.into_iter().flatten() {
            *expected.entry(r).or_default() += 1;
        }
        for (_, node) in self.nodes.iter() {
            if let Some(p) = node.parent {
                *expected.entry(p).or_default() += 1;
            }
        }
        for (id, node) in self.nodes.iter() {
            let want = expected.get(&id).copied().unwrap_or(0);
            if node.refs != want {
                return Err(format!("node {id}: {} refs, {want} holders", node.refs));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn ev(seq: u64) -> Event {
        Event::new(seq, seq as i64, Arc::from("{}"), Arc::from(vec![]))
    }

    #[test]
    fn shared_prefixes_store_events_once_and_free_at_zero() {
        let mut b = SharedBuffer::default();
        let a = b.take(0, &ev(1), None, Keep::Text);
        // Two branches extend the same prefix with the same event.
        let x = b.take(1, &ev(2), Some(a), Keep::Text);
        let y = b.take(2, &ev(2), Some(a), Keep::Id);
        b.release(Some(a)); // the run that held `a` moved on
        assert_eq!(b.sizes(), (3, 2), "3 nodes, but event 2 is stored once");
        b.check_refcounts([Some(x), Some(y)]).unwrap();
        assert_eq!(
            b.path(Some(y)).iter().map(|(s, e)| (*s, e.seq)).collect::<Vec<_>>(),
            vec![(0, 1), (2, 2)]
        );
        b.release(Some(x));
        assert_eq!(b.sizes(), (2, 2));
        b.release(Some(y));
        assert!(b.is_empty());
    }
}
