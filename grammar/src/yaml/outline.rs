//! The outline of a YAML text: where every value node starts and ends, and under which key.
//!
//! serde tells where a value *starts* but not where a mapping or sequence ends, nor which key
//! a value sits under. The outline reads the same text with serde-saphyr's event parser
//! (`granit_parser`, re-exported by serde-saphyr, so the two always agree on what the text
//! means) and records each node's byte range. It serves three purposes:
//!
//! - spans of whole mappings (a rule, a stage, an emit) for diagnostics;
//! - the place to neutralize when serde reports a structural error, so deserialization can be
//!   retried to find the next one (see [`super::recover`]);
//! - YAML syntax errors, with their position.
//!
//! Positions are byte offsets into the text. The event parser is iterative and this module
//! keeps an explicit stack, so deep nesting cannot overflow the call stack.

use serde_saphyr::granit_parser::{Event, Marker, Parser, StructureStyle};

use crate::diagnostic::{Diagnostic, codes};
use crate::source::{SourceId, Span};

/// How deeply mappings and lists may nest. Rule files need a handful of levels (a group in a
/// group, a map in an emit field); deserializing and lowering recurse once per level, so the
/// bound keeps hostile input from exhausting a thread's stack (2 MiB is enough, even unoptimized).
pub const MAX_NESTING: usize = 32;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Map,
    Seq,
    Scalar,
    Alias,
}

/// The key a node sits under, when it is the value of a mapping entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's text (empty for a complex key, such as a mapping used as a key).
    pub text: String,
    pub start: u32,
    pub end: u32,
}

/// A value node: a document root, a sequence item, or the value of a mapping entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// First byte of the node's content (after any anchor or tag).
    pub start: u32,
    /// One past its last byte: the closing bracket of a flow collection, or the end of the last
    /// node inside a block collection (trailing comments and blank lines are not part of it).
    pub end: u32,
    pub key: Option<Key>,
    /// Index of the enclosing collection in [`Outline::nodes`]; `None` for a document root.
    pub parent: Option<usize>,
}

/// Every value node of a text, in document order.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub nodes: Vec<Node>,
    /// Indices of the document roots.
    pub roots: Vec<usize>,
}

impl Outline {
    /// Reads `text`; a YAML syntax error is returned as a diagnostic at its position.
    pub fn read(text: &str, source: SourceId) -> Result<Outline, Box<Diagnostic>> {
        let mut outline = Outline::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let (event, span) = item.map_err(|e| {
                let at = byte_offset(text, e.marker());
                Box::new(
                    Diagnostic::error(codes::YAML_SYNTAX, format!("invalid YAML: {}", e.info()))
                        .at(Span::new(source, at, at), "here"),
                )
            })?;
            let (start, end) = (byte_offset(text, &span.start), byte_offset(text, &span.end));
            match event {
                Event::Scalar(value, ..) => {
                    outline.leaf(&mut stack, NodeKind::Scalar, &value, start, end)
                }
                Event::Alias(_) => {
                    let name = text.get(start as usize..end as usize).unwrap_or("*");
                    outline.leaf(&mut stack, NodeKind::Alias, name, start, end)
                }
                Event::MappingStart(..) | Event::SequenceStart(..)
                    if depth(&stack) >= MAX_NESTING =>
                {
                    let d = Diagnostic::error(
                        codes::TOO_DEEP,
                        "mappings and lists nested too deeply",
                    )
                    .at(
                        Span::new(source, start, end.max(start + 1).min(text_len(text))),
                        "too deep",
                    )
                    .with_help(format!(
                        "a rule file may nest mappings and lists at most {MAX_NESTING} levels deep"
                    ));
                    return Err(Box::new(d));
                }
                Event::MappingStart(style, ..) => {
                    outline.open(&mut stack, NodeKind::Map, style, start, end)
                }
                Event::SequenceStart(style, ..) => {
                    outline.open(&mut stack, NodeKind::Seq, style, start, end)
                }
                Event::MappingEnd | Event::SequenceEnd => outline.close(&mut stack, end),
                _ => {}
            }
        }
        Ok(outline)
    }

    /// A scalar or alias event.
    fn leaf(&mut self, stack: &mut [Frame], kind: NodeKind, text: &str, start: u32, end: u32) {
        match stack.last_mut() {
            Some(Frame::Key { .. }) => {}
            Some(Frame::Map { expecting_key: expecting_key @ true, pending, .. }) => {
                *pending = Some(Key { text: text.to_string(), start, end });
                *expecting_key = false;
            }
            _ => {
                self.push_node(stack, kind, start, end);
                finish_child(stack, end);
            }
        }
    }

    /// A mapping or sequence start event.
    fn open(
        &mut self,
        stack: &mut Vec<Frame>,
        kind: NodeKind,
        style: StructureStyle,
        start: u32,
        end: u32,
    ) {
        match stack.last_mut() {
            Some(Frame::Key { depth, .. }) => *depth += 1,
            // A collection used as a mapping key: skip it, it is never a value.
            Some(Frame::Map { expecting_key: true, .. }) => {
                stack.push(Frame::Key { depth: 1, start })
            }
            _ => {
                let node = self.push_node(stack, kind, start, end);
                stack.push(Frame::Collection {
                    node,
                    flow: style == StructureStyle::Flow,
                    max_end: end,
                });
                if kind == NodeKind::Map {
                    stack.push(Frame::Map { expecting_key: true, pending: None });
                }
            }
        }
    }

    /// A mapping or sequence end event.
    fn close(&mut self, stack: &mut Vec<Frame>, end: u32) {
        if let Some(Frame::Key { depth, start }) = stack.last_mut() {
            *depth -= 1;
            if *depth == 0 {
                let start = *start;
                stack.pop();
                if let Some(Frame::Map { pending, expecting_key }) = stack.last_mut() {
                    *pending = Some(Key { text: String::new(), start, end });
                    *expecting_key = false;
                }
            }
            return;
        }
        if let Some(Frame::Map { .. }) = stack.last() {
            stack.pop();
        }
        if let Some(Frame::Collection { node, flow, max_end }) = stack.pop() {
            // A block collection's end event sits at the next token, which is not part of it.
            let end = if flow { end.max(max_end) } else { max_end };
            self.nodes[node].end = end;
            finish_child(stack, end);
        }
    }

    fn push_node(&mut self, stack: &mut [Frame], kind: NodeKind, start: u32, end: u32) -> usize {
        let mut key = None;
        let mut parent = None;
        for frame in stack.iter_mut().rev() {
            match frame {
                Frame::Map { pending, .. } => key = pending.take(),
                Frame::Collection { node, .. } => {
                    parent = Some(*node);
                    break;
                }
                Frame::Key { .. } => {}
            }
        }
        let index = self.nodes.len();
        self.nodes.push(Node { kind, start, end, key, parent });
        if parent.is_none() {
            self.roots.push(index);
        }
        index
    }

    /// The innermost mapping whose range contains `offset` (a position of one of its keys, or
    /// the start of the mapping itself).
    pub fn map_at(&self, offset: u32) -> Option<usize> {
        self.innermost(offset, |n| n.kind == NodeKind::Map)
    }

    /// The innermost value node whose range contains `offset`.
    pub fn node_at(&self, offset: u32) -> Option<usize> {
        self.innermost(offset, |_| true)
    }

    fn innermost(&self, offset: u32, accept: impl Fn(&Node) -> bool) -> Option<usize> {
        // Nodes are in document order and children follow their parent, so the last match is
        // the innermost.
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                accept(n) && n.start <= offset && (offset < n.end || offset == n.start)
            })
            .map(|(i, _)| i)
            .next_back()
    }

    /// The node whose key's text range contains `offset`.
    pub fn entry_with_key_at(&self, offset: u32) -> Option<usize> {
        self.nodes.iter().position(|n| {
            n.key.as_ref().is_some_and(|k| k.start <= offset && offset < k.end.max(k.start + 1))
        })
    }

    /// The byte range of the mapping [`Outline::map_at`] finds: given where serde says a
    /// mapping starts, the whole mapping.
    pub fn range_of_map_at(&self, offset: u32) -> Option<(u32, u32)> {
        self.map_at(offset).map(|i| (self.nodes[i].start, self.nodes[i].end))
    }

    /// The key under which the value starting at `offset` is written.
    pub fn key_of_value_at(&self, offset: u32) -> Option<&Key> {
        self.nodes
            .iter()
            .find(|n| n.start == offset && n.key.is_some())
            .and_then(|n| n.key.as_ref())
    }
}

/// Parser state for one open collection.
#[derive(Debug)]
enum Frame {
    /// An open mapping or sequence node, with the furthest end of its children so far.
    Collection { node: usize, flow: bool, max_end: u32 },
    /// Sits above the `Collection` frame of a mapping: whether the next node is a key, and the
    /// key read for the next value.
    Map { expecting_key: bool, pending: Option<Key> },
    /// Inside a collection that is itself a mapping key.
    Key { depth: u32, start: u32 },
}

/// How many collections are open (a mapping used as a key counts as deep as its content).
fn depth(stack: &[Frame]) -> usize {
    stack
        .iter()
        .map(|f| match f {
            Frame::Collection { .. } => 1,
            Frame::Key { depth, .. } => *depth as usize,
            Frame::Map { .. } => 0,
        })
        .sum()
}

fn text_len(text: &str) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

/// Records that a child ended at `end`: the enclosing collection grows to include it, and a
/// mapping expects its next key.
fn finish_child(stack: &mut [Frame], end: u32) {
    for frame in stack.iter_mut().rev() {
        match frame {
            Frame::Map { expecting_key, .. } => *expecting_key = true,
            Frame::Collection { max_end, .. } => {
                *max_end = (*max_end).max(end);
                return;
            }
            Frame::Key { .. } => return,
        }
    }
}

/// Byte offset of a marker. The parser reads a `&str` and reports byte offsets; should one be
/// missing, the character index is converted.
fn byte_offset(text: &str, marker: &Marker) -> u32 {
    let bytes = marker
        .byte_offset()
        .unwrap_or_else(|| text.char_indices().nth(marker.index()).map_or(text.len(), |(i, _)| i));
    u32::try_from(bytes.min(text.len())).unwrap_or(u32::MAX)
}
