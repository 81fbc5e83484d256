//! A key's NFA state as compact, versioned bytes (for checkpoints and the durable store).
//!
//! Layout (format version 1), after the version byte written by [`Encoder`]:
//!
//! ```text
//! events: len, then per event  seq (varint), ts (zigzag), raw (str)
//! nodes:  len, then per node   stage (varint), event index (varint), parent (option varint)
//! runs:   len, then per run    state, node (option), start (option ts, seq), prev_ts
//! held:   len, then per match  as runs
//! ```
//!
//! Nodes are written parents first, so a parent's index is always below its child's: decoding
//! checks that, which rules out cycles. Reference counts and the event index are derived, not
//! stored. An event's field values are not stored either: they are projected again from its
//! text with the loading rule set's field table, so state survives a change of the rules' fields.

use std::sync::Arc;

use cepheus_state::StateError;
use cepheus_state::codec::{Decoder, Encoder};
use rustc_hash::FxHashMap;

use crate::event::{Event, FieldTable};

use super::buffer::{EventSlot, Node, NodeId, SharedBuffer};
use super::program::Program;
use super::run::{KeyNfa, Run};

const VERSION: u8 = 1;

impl KeyNfa {
    /// The state as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let b = &self.buffer;
        let mut enc = Encoder::new(VERSION);
        // Events in slab order, with their compact index.
        let mut event_index = FxHashMap::default();
        let live_events: Vec<(u32, &EventSlot)> = b.events.iter().collect();
        enc.write_len(live_events.len());
        for (i, (id, slot)) in live_events.iter().enumerate() {
            event_index.insert(*id, i as u64);
            enc.write_u64(slot.event.seq).write_i64(slot.event.ts).write_str(&slot.event.raw);
        }
        // Nodes ordered by depth, so parents come first.
        let mut depth: FxHashMap<NodeId, u32> = FxHashMap::default();
        let live_nodes: Vec<(NodeId, &Node)> = b.nodes.iter().collect();
        for (id, _) in &live_nodes {
            node_depth(b, *id, &mut depth);
        }
        let mut ordered = live_nodes.clone();
        ordered.sort_by_key(|(id, _)| (depth[id], *id));
        let node_index: FxHashMap<NodeId, u64> =
            ordered.iter().enumerate().map(|(i, (id, _))| (*id, i as u64)).collect();
        enc.write_len(ordered.len());
        for (_, node) in &ordered {
            enc.write_u64(u64::from(node.stage)).write_u64(event_index[&node.event]);
            enc.write_option(node.parent.map(|p| node_index[&p]), |e, v| {
                e.write_u64(v);
            });
        }
        for runs in [&self.runs, &self.completed] {
            enc.write_len(runs.len());
            for r in runs {
                enc.write_u64(u64::from(r.state));
                enc.write_option(r.node.map(|n| node_index[&n]), |e, v| {
                    e.write_u64(v);
                });
                enc.write_option(r.start, |e, (ts, seq)| {
                    e.write_i64(ts).write_u64(seq);
                });
                enc.write_i64(r.prev_ts);
            }
        }
        enc.finish()
    }

    /// Reads state written by [`KeyNfa::encode`], checking it against `program`.
    pub fn decode(
        bytes: &[u8],
        program: &Program,
        fields: &FieldTable,
    ) -> Result<KeyNfa, StateError> {
        let mut dec = Decoder::new(bytes, "key NFA state", VERSION..=VERSION)?;
        let mut buffer = SharedBuffer::default();
        let n_events = dec.read_len()?;
        let mut event_ids = Vec::with_capacity(n_events);
        for _ in 0..n_events {
            let seq = dec.read_u64()?;
            let ts = dec.read_i64()?;
            let raw = dec.read_str()?;
            let fields =
                fields.decode(raw).map_err(|e| dec.error(format_args!("stored event: {e}")))?;
            let event = Event { seq, ts, raw: Arc::from(raw), fields };
            let id = buffer.events.insert(EventSlot { event, refs: 0 });
            event_ids.push(id);
        }
        let n_nodes = dec.read_len()?;
        let mut node_ids: Vec<NodeId> = Vec::with_capacity(n_nodes);
        for i in 0..n_nodes {
            let stage = dec.read_u64()?;
            let event = dec.read_u64()?;
            let parent = dec.read_option(|d| d.read_u64())?;
            if stage >= program.stages.len() as u64 {
                return Err(dec.error(format_args!("node {i}: stage {stage} is not in the rule")));
            }
            let event = *event_ids
                .get(event as usize)
                .ok_or_else(|| dec.error(format_args!("node {i}: no event {event}")))?;
            let parent = match parent {
                Some(p) if (p as usize) < i => Some(node_ids[p as usize]),
                Some(p) => {
                    return Err(
                        dec.error(format_args!("node {i}: parent {p} does not come before it"))
                    );
                }
                None => None,
            };
            let id = buffer.nodes.insert(Node { stage: stage as u32, event, parent, refs: 0 });
            node_ids.push(id);
        }
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let n = dec.read_len()?;
            for _ in 0..n {
                let state = dec.read_u64()?;
                if state >= program.states.len() as u64 {
                    return Err(dec.error(format_args!("state {state} is not in the rule")));
                }
                let node = dec.read_option(|d| d.read_u64())?;
                let node = match node {
                    Some(n) => Some(
                        *node_ids
                            .get(n as usize)
                            .ok_or_else(|| dec.error(format_args!("no node {n}")))?,
                    ),
                    None => None,
                };
                let start = dec.read_option(|d| Ok((d.read_i64()?, d.read_u64()?)))?;
                let prev_ts = dec.read_i64()?;
                list.push(Run { state: state as u32, node, start, prev_ts });
            }
        }
        dec.finish()?;
        // Derive the reference counts: children and runs hold nodes; nodes hold events.
        let [runs, completed] = lists;
        let holders: Vec<(Option<NodeId>, Option<u32>)> = buffer
            .nodes
            .iter()
            .map(|(_, n)| (n.parent, Some(n.event)))
            .chain(runs.iter().chain(&completed).map(|r| (r.node, None)))
            .collect();
        for (node, event) in holders {
            if let Some(n) = node {
                buffer.nodes.get_mut(n).refs += 1;
            }
            if let Some(e) = event {
                buffer.events.get_mut(e).refs += 1;
            }
        }
        Ok(KeyNfa { runs, completed, buffer })
    }
}

fn node_depth(b: &SharedBuffer, id: NodeId, memo: &mut FxHashMap<NodeId, u32>) -> u32 {
    // Iterative: paths can be long (a loop that took thousands of events).
    let mut chain = Vec::new();
    let mut cur = Some(id);
    let mut base = 0;
    while let Some(n) = cur {
        if let Some(&d) = memo.get(&n) {
            base = d + 1;
            break;
        }
        chain.push(n);
        cur = b.nodes.get(n).parent;
    }
    for (i, n) in chain.iter().rev().enumerate() {
        memo.insert(*n, base + i as u32);
    }
    memo[&id]
}
