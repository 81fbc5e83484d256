//! A key's NFA state as compact, versioned bytes (for checkpoints and the durable store).
//!
//! Layout (format version 2), after the version byte written by [`Encoder`]:
//!
//! ```text
//! events: len, then per event  seq (varint), ts (zigzag), text, where text is
//!           0, raw (str)                                  the whole record
//!           1, digest (2 varints), id (option str)        kept without fields
//!           2, digest, id, fields (len, then per field    kept with fields
//!              path (len, then per segment 0 key (str) or 1 index (varint)), value)
//! nodes:  len, then per node   stage (varint), event index (varint), parent (option varint)
//! runs:   len, then per run    state, node (option), start (option ts, seq), prev_ts
//! held:   len, then per match  as runs
//! ```
//!
//! Nodes are written parents first, so a parent's index is always below its child's: decoding
//! checks that, which rules out cycles. Reference counts and the event index are derived, not
//! stored. A whole record's field values are not stored: they are projected again from its text
//! with the loading rule set's field table. A kept event's fields are stored with their paths and
//! found again by path in the loading table. Either way state survives a change of the rules'
//! fields. Version 1 (every event as its text) still loads.

use std::sync::Arc;

use cepheus_grammar::ast::Segment;
use cepheus_state::StateError;
use cepheus_state::codec::{Decoder, Encoder};
use rustc_hash::FxHashMap;

use crate::event::{Event, FieldTable, Text, Val, no_fields};
use crate::window::codec::{read_val, write_val};

use super::buffer::{EventSlot, Node, NodeId, SharedBuffer};
use super::program::Program;
use super::run::{KeyNfa, Run};

const VERSION: u8 = 2;
/// The oldest version that still loads.
const OLDEST: u8 = 1;

impl KeyNfa {
    /// The state as bytes; `fields` is the table the events' fields were decoded with.
    pub fn encode(&self, fields: &FieldTable) -> Vec<u8> {
        let b = &self.buffer;
        let mut enc = Encoder::new(VERSION);
        // Events in slab order, with their compact index.
        let mut event_index = FxHashMap::default();
        let live_events: Vec<(u32, &EventSlot)> = b.events.iter().collect();
        enc.write_len(live_events.len());
        for (i, (id, slot)) in live_events.iter().enumerate() {
            event_index.insert(*id, i as u64);
            enc.write_u64(slot.event.seq).write_i64(slot.event.ts);
            write_text(&mut enc, &slot.event, fields);
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
                enc.write_option(r.node().map(|n| node_index[&n]), |e, v| {
                    e.write_u64(v);
                });
                enc.write_option(r.start(), |e, (ts, seq)| {
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
        let mut dec = Decoder::new(bytes, "key NFA state", OLDEST..=VERSION)?;
        let version = dec.version();
        let mut buffer = SharedBuffer::default();
        let n_events = dec.read_len()?;
        let mut event_ids = Vec::with_capacity(n_events);
        for _ in 0..n_events {
            let seq = dec.read_u64()?;
            let ts = dec.read_i64()?;
            let tag = if version == 1 { 0 } else { dec.read_u8()? };
            let event = match tag {
                0 => {
                    let raw = dec.read_str()?;
                    fields
                        .decode_event(seq, ts, raw)
                        .map_err(|e| dec.error(format_args!("stored event: {e}")))?
                }
                1 | 2 => {
                    let digest = [dec.read_u64()?, dec.read_u64()?];
                    let id = dec.read_option(|d| d.read_str().map(Arc::from))?;
                    let values =
                        if tag == 2 { read_fields(&mut dec, fields)? } else { no_fields() };
                    Event { seq, ts, text: Text::Digest { digest, id }, fields: values }
                }
                t => return Err(dec.error(format_args!("unknown event text tag {t}"))),
            };
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
                list.push(Run::new(state as u32, node, start, prev_ts));
            }
        }
        dec.finish()?;
        // Derive the reference counts: children and runs hold nodes; nodes hold events.
        let [runs, completed] = lists;
        let holders: Vec<(Option<NodeId>, Option<u32>)> = buffer
            .nodes
            .iter()
            .map(|(_, n)| (n.parent, Some(n.event)))
            .chain(runs.iter().chain(&completed).map(|r| (r.node(), None)))
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

/// An event's text: the whole record, or its digest and id with the fields it kept.
fn write_text(enc: &mut Encoder, event: &Event, table: &FieldTable) {
    match &event.text {
        Text::Whole { raw, .. } => {
            enc.write_u8(0).write_str(raw);
        }
        Text::Digest { digest, id } => {
            let kept = !event.fields.is_empty();
            enc.write_u8(if kept { 2 } else { 1 });
            enc.write_u64(digest[0]).write_u64(digest[1]);
            enc.write_option(id.as_deref(), |e, id| {
                e.write_str(id);
            });
            if kept {
                let present: Vec<(usize, &Val)> =
                    event.fields.iter().enumerate().filter(|(_, v)| !v.is_missing()).collect();
                enc.write_len(present.len());
                for (i, v) in present {
                    let path = table.path(i as u32);
                    enc.write_len(path.len());
                    for seg in path {
                        match seg {
                            Segment::Key(k) => {
                                enc.write_u8(0).write_str(k);
                            }
                            Segment::Index(n) => {
                                enc.write_u8(1).write_u64(u64::from(*n));
                            }
                        }
                    }
                    write_val(enc, v);
                }
            }
        }
    }
}

/// Fields written by [`write_text`], placed by path in `table`; paths it lacks are dropped.
fn read_fields(dec: &mut Decoder<'_>, table: &FieldTable) -> Result<Arc<[Val]>, StateError> {
    let mut values = vec![Val::Missing; table.len()];
    for _ in 0..dec.read_len()? {
        let mut path = Vec::new();
        for _ in 0..dec.read_len()? {
            path.push(match dec.read_u8()? {
                0 => Segment::Key(dec.read_str()?.into()),
                1 => {
                    let n = dec.read_u64()?;
                    let n = n.try_into().map_err(|_| dec.error(format_args!("index {n}")))?;
                    Segment::Index(n)
                }
                t => return Err(dec.error(format_args!("unknown path segment tag {t}"))),
            });
        }
        let v = read_val(dec)?;
        if let Some(id) = table.get(&path) {
            values[id as usize] = v;
        }
    }
    Ok(values.into())
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cepheus_grammar::SourceId;
    use cepheus_grammar::ast::Segment;

    use super::*;
    use crate::compile::{RuleSet, compile};
    use crate::runtime::{Limits, Pipeline, StepResult};

    fn rules() -> Arc<RuleSet> {
        let text = "rule r\nkey user time ts\npattern\n  a where kind == \"A\"\n  \
                    followed by b where kind == \"B\" and x > a.x\nwithin 10m\n";
        let (parsed, diagnostics) = cepheus_grammar::dsl::parse(text, SourceId(0));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        Arc::new(compile(&parsed).expect("compiles"))
    }

    /// The state of key `u1` after one `A` event.
    fn state(set: &Arc<RuleSet>, keep_text: bool) -> KeyNfa {
        let mut p = Pipeline::new(set.clone(), false, Limits::default());
        if keep_text {
            p = p.keeping_text();
        }
        let mut step = StepResult::default();
        p.offer(
            r#"{"event_id": "e1", "user": "u1", "kind": "A", "x": 5, "ts": 1000}"#,
            7,
            0,
            &mut step,
        );
        p.advance_to(1000, &mut step);
        let (_, nfa) = p.partitions()[0].nfas().next().expect("the key has state");
        nfa.clone()
    }

    fn held(nfa: &KeyNfa) -> Event {
        let run = nfa.runs().iter().find(|r| r.node().is_some()).expect("an open run");
        nfa.buffer.path(run.node()).remove(0).1
    }

    #[test]
    fn kept_fields_are_found_again_by_path_in_another_field_table() {
        let set = rules();
        let nfa = state(&set, false);
        let bytes = nfa.encode(&set.fields);
        // A table where the same paths have other ids, and `kind` is not read any more.
        let mut table = FieldTable::new();
        let extra = table.intern(&[Segment::Key("unrelated".into())]);
        let x = table.intern(&[Segment::Key("x".into())]);
        let back = KeyNfa::decode(&bytes, &set.rules[0].program, &table).expect("decodes");
        let event = held(&back);
        assert_eq!(event.raw(), None);
        assert_eq!(event.id().as_deref(), Some("e1"));
        assert_eq!(event.digest(), held(&nfa).digest());
        assert!(event.field(x).equals(&Val::Int(5)));
        assert!(event.field(extra).is_missing());
        assert_eq!(event.fields.len(), table.len());
    }

    #[test]
    fn state_of_format_version_1_still_loads() {
        let set = rules();
        let nfa = state(&set, true);
        // Version 1: events as their text, without a tag.
        let mut enc = Encoder::new(1);
        let events: Vec<&EventSlot> = nfa.buffer.events.iter().map(|(_, e)| e).collect();
        enc.write_len(events.len());
        for slot in &events {
            let raw = slot.event.raw().expect("texts were kept");
            enc.write_u64(slot.event.seq).write_i64(slot.event.ts).write_str(raw);
        }
        let nodes: Vec<&Node> = nfa.buffer.nodes.iter().map(|(_, n)| n).collect();
        assert_eq!(nodes.len(), 1, "one taken event");
        enc.write_len(1).write_u64(u64::from(nodes[0].stage)).write_u64(0);
        enc.write_option(None::<u64>, |e, v| {
            e.write_u64(v);
        });
        for runs in [nfa.runs(), &[][..]] {
            enc.write_len(runs.len());
            for r in runs {
                enc.write_u64(u64::from(r.state));
                enc.write_option(r.node().map(|_| 0u64), |e, v| {
                    e.write_u64(v);
                });
                enc.write_option(r.start(), |e, (ts, seq)| {
                    e.write_i64(ts).write_u64(seq);
                });
                enc.write_i64(r.prev_ts);
            }
        }
        let v1 = enc.finish();
        let back = KeyNfa::decode(&v1, &set.rules[0].program, &set.fields).expect("loads");
        assert_eq!(back.encode(&set.fields), nfa.encode(&set.fields));
        assert_eq!(held(&back).raw(), held(&nfa).raw());
    }
}
