//! Decoding a record straight into the values of a [`FieldTable`], in one pass.
//!
//! A [`Projector`] compiles the table's paths into a trie of keys and indexes once. Decoding
//! runs serde_json's streaming deserializer over the text and walks it with that trie: objects
//! and arrays on some path are entered, the `Val` of every requested path is built where the
//! path ends, and everything else is parsed without being stored. No JSON tree is built for the
//! record (only for a requested object or array, and only for that subtree).
//!
//! The result is exactly what decoding into a `serde_json::Value` and then
//! [`FieldTable::project`] gives, errors included. That is why values off every path are still
//! parsed in full through `deserialize_any` rather than skipped with `serde::de::IgnoredAny`:
//! serde_json's skipping does not check number ranges (`1e400`), lone UTF-16 surrogates
//! (`"\ud800"`) or the nesting limit, so records the DOM rejects would be accepted. Parsing a
//! value without keeping it allocates nothing (strings are borrowed from the text, or decoded
//! into the deserializer's reused scratch buffer).

use std::fmt;
use std::sync::Arc;

use cepheus_grammar::ast::Segment;
use rustc_hash::FxHashMap;
use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{FieldId, FieldTable, RecordError, Val, lookup};

/// Above this many keys under one trie node, keys are found by hash rather than by scan.
const SCAN_KEYS: usize = 8;

/// A [`FieldTable`]'s paths compiled for [`Projector::decode`].
#[derive(Debug, Clone)]
pub struct Projector {
    /// The trie; `nodes[0]` is the record itself (the empty path).
    nodes: Vec<Node>,
    /// Number of fields of the table.
    len: usize,
    /// Whether [`Fast`] may try records first (the record itself is not a field and the trie
    /// has at most 64 nodes, one bit each).
    fast: bool,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// The field whose path ends here.
    field: Option<FieldId>,
    /// Children by object key.
    keys: Vec<(Box<str>, u32)>,
    /// `keys` hashed, when there are more than [`SCAN_KEYS`].
    key_map: Option<FxHashMap<Box<str>, u32>>,
    /// Children by array index.
    indexes: Vec<(u32, u32)>,
    /// The fields of every path strictly below this node: reset when a duplicate key enters
    /// the node again (the last occurrence of a key wins, as in serde_json's DOM).
    below: Vec<FieldId>,
    /// For a node that is a field and has paths below it: those fields with their path from
    /// here. The node's value is then decoded whole and they are looked up in it.
    relative: Vec<(FieldId, Box<[Segment]>)>,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.keys.is_empty() && self.indexes.is_empty()
    }
}

impl Projector {
    /// Compiles the paths of `table`.
    pub fn new(table: &FieldTable) -> Projector {
        let mut nodes = vec![Node::default()];
        // The trie node of every path, and the nodes along it (root first).
        let mut chains: Vec<Vec<u32>> = Vec::with_capacity(table.len());
        for path in &table.paths {
            let mut chain = vec![0u32];
            let mut cur = 0u32;
            for seg in path {
                let existing = match seg {
                    Segment::Key(k) => nodes[cur as usize]
                        .keys
                        .iter()
                        .find(|(name, _)| **name == **k)
                        .map(|&(_, n)| n),
                    Segment::Index(i) => {
                        nodes[cur as usize].indexes.iter().find(|(j, _)| j == i).map(|&(_, n)| n)
                    }
                };
                let next = existing.unwrap_or_else(|| {
                    let n = u32::try_from(nodes.len()).expect("fewer than 2^32 path segments");
                    nodes.push(Node::default());
                    match seg {
                        Segment::Key(k) => nodes[cur as usize].keys.push((k.as_str().into(), n)),
                        Segment::Index(i) => nodes[cur as usize].indexes.push((*i, n)),
                    }
                    n
                });
                chain.push(next);
                cur = next;
            }
            chains.push(chain);
        }
        for (id, chain) in chains.iter().enumerate() {
            let id = FieldId::try_from(id).expect("fewer than 2^32 field paths");
            let &end = chain.last().expect("a chain starts at the root");
            nodes[end as usize].field = Some(id);
        }
        for (id, chain) in chains.iter().enumerate() {
            let id = id as FieldId;
            let path = &table.paths[id as usize];
            for (depth, &node) in chain[..chain.len() - 1].iter().enumerate() {
                let node = &mut nodes[node as usize];
                node.below.push(id);
                if node.field.is_some() {
                    node.relative.push((id, path[depth..].into()));
                }
            }
        }
        for node in &mut nodes {
            if node.keys.len() > SCAN_KEYS {
                node.key_map = Some(node.keys.iter().cloned().collect());
            }
        }
        let fast = nodes[0].field.is_none() && nodes.len() <= 64;
        Projector { nodes, len: table.len(), fast }
    }

    /// Number of fields a decoded record has.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decodes a record (JSON text): the value of every field of the table, in field-id order,
    /// [`Val::Missing`] where the record has none.
    ///
    /// Errors: [`RecordError::NotJson`] with serde_json's message, or
    /// [`RecordError::NotObject`] for valid JSON that is not an object.
    pub fn decode(&self, text: &str) -> Result<Arc<[Val]>, RecordError> {
        self.decode_with(text, &mut StrCache::default()).map(|(fields, _)| fields)
    }

    /// [`Projector::decode`], sharing the strings of fields whose values repeat through `cache`
    /// (one cache per input stream, kept from record to record); also where the record's id is.
    pub fn decode_with(
        &self,
        text: &str,
        cache: &mut StrCache,
    ) -> Result<(Arc<[Val]>, IdSpans), RecordError> {
        // Built in place: one allocation, no copy from a `Box<[Val]>` into an `Arc<[Val]>`.
        let mut fields: Arc<[Val]> = std::iter::repeat_n(Val::Missing, self.len).collect();
        let out = Arc::get_mut(&mut fields).expect("a new Arc has no other owner");
        if self.fast && text.len() < ID_LIMIT {
            let mut fast = Fast {
                projector: self,
                text,
                bytes: text.as_bytes(),
                at: 0,
                entered: 0,
                cache,
                ids: IdSpans::NONE,
            };
            if fast.record(out).is_some() {
                let ids = fast.ids;
                return Ok((fields, ids));
            }
            // Something the scanner leaves to serde_json (or an error): start again there.
            out.fill(Val::Missing);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let is_object = Root { projector: self, out }
            .deserialize(&mut de)
            .and_then(|is_object| de.end().map(|()| is_object))
            .map_err(|e| RecordError::NotJson(e.to_string()))?;
        if is_object { Ok((fields, IdSpans::UNKNOWN)) } else { Err(RecordError::NotObject) }
    }

    fn key_child(&self, node: u32, key: &str) -> Option<u32> {
        let node = &self.nodes[node as usize];
        match &node.key_map {
            Some(map) => map.get(key).copied(),
            None => node.keys.iter().find(|(k, _)| **k == *key).map(|&(_, n)| n),
        }
    }

    fn index_child(&self, node: u32, index: u32) -> Option<u32> {
        self.nodes[node as usize].indexes.iter().find(|(i, _)| *i == index).map(|&(_, n)| n)
    }
}

/// Records from this length on are not scanned (the place of their id would not fit the
/// [`IdSpans`]): serde_json decodes them, and the id is read from the text when needed.
const ID_LIMIT: usize = (u32::MAX - 2) as usize;

/// Where a record's own id is in its text: the byte ranges of the values of its top-level
/// `event_id` and `id` members, as decoding found them (a string's range has no escape in it:
/// the scanner leaves those to serde_json). An event's id is needed only when it is taken into
/// a partial match or reported in one, so decoding notes where it is and builds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSpans {
    spans: [(u32, u32); 2],
}

/// A member that is not there.
const ABSENT: (u32, u32) = (u32::MAX, u32::MAX);
/// Decoding did not look (the record went through serde_json).
const UNKNOWN: (u32, u32) = (u32::MAX - 1, u32::MAX - 1);

impl IdSpans {
    /// Not known: the id is read from the text when needed.
    pub const UNKNOWN: IdSpans = IdSpans { spans: [UNKNOWN, UNKNOWN] };
    const NONE: IdSpans = IdSpans { spans: [ABSENT, ABSENT] };

    /// The ranges of `event_id`'s and `id`'s values, each if present; `None` if not known.
    pub fn spans(self) -> Option<[Option<(usize, usize)>; 2]> {
        if self == IdSpans::UNKNOWN {
            return None;
        }
        Some(self.spans.map(|s| (s != ABSENT).then_some((s.0 as usize, s.1 as usize))))
    }
}

/// Recent string values of each field, shared by the records that repeat them.
///
/// Many fields take few values (`event_type`, a unit, a status): a record then shares the
/// string of an earlier one instead of allocating its own. Each field remembers its last eight
/// values of up to 32 bytes; a field whose values rarely repeat (an id) stops looking for a
/// while, so it costs nothing but its allocations, as without a cache.
#[derive(Debug, Default)]
pub struct StrCache {
    fields: Vec<FieldCache>,
}

#[derive(Debug, Default)]
struct FieldCache {
    values: [Option<Arc<str>>; CACHED],
    /// Where the next new value goes.
    next: u8,
    /// Lookups and hits since the last verdict.
    lookups: u16,
    hits: u16,
    /// Lookups left before the field is tried again, once it was found not to repeat.
    resting: u32,
}

/// Values remembered per field.
const CACHED: usize = 8;
/// Longest value remembered (longer strings are rarely labels).
const CACHED_LEN: usize = 32;
/// Lookups per verdict; a field that hits less than a quarter of them rests this many times 64.
const VERDICT: u16 = 256;

impl StrCache {
    /// The string `s` of field `id`: a remembered one, or a new one.
    pub fn get(&mut self, id: FieldId, s: &str) -> Arc<str> {
        if s.len() > CACHED_LEN {
            return Arc::from(s);
        }
        let i = id as usize;
        if i >= self.fields.len() {
            self.fields.resize_with(i + 1, FieldCache::default);
        }
        let f = &mut self.fields[i];
        if f.resting > 0 {
            f.resting -= 1;
            return Arc::from(s);
        }
        f.lookups += 1;
        if f.lookups == VERDICT {
            if f.hits < VERDICT / 4 {
                f.resting = u32::from(VERDICT) * 64;
            }
            f.lookups = 0;
            f.hits = 0;
        }
        if let Some(v) = f.values.iter().flatten().find(|v| ***v == *s) {
            f.hits += 1;
            return Arc::clone(v);
        }
        let v: Arc<str> = Arc::from(s);
        f.values[f.next as usize] = Some(Arc::clone(&v));
        f.next = (f.next + 1) % CACHED as u8;
        v
    }
}

/// Deepest nesting [`Fast`] scans; deeper records go to serde_json (whose limit is 128).
const FAST_DEPTH: u32 = 100;

/// A scanner for the common record, tried before serde_json: plain JSON text whose strings
/// have no escapes, whose numbers have no exponent, and where no key on a path repeats.
///
/// It accepts only what serde_json accepts and builds the same values; anything else (an
/// escape, an exponent, a duplicate key on a path, a requested object or array, an error of
/// any kind) makes it give up (`None`), and the record is decoded again by serde_json, which
/// gives the value or the exact error. So the scanner only has to be right on what it accepts,
/// and is checked against the DOM by the tests below.
struct Fast<'a> {
    projector: &'a Projector,
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Trie nodes entered so far (a second entry is a duplicate key: left to serde_json).
    entered: u64,
    cache: &'a mut StrCache,
    /// Where the record's top-level `event_id` and `id` values are.
    ids: IdSpans,
}

impl Fast<'_> {
    fn record(&mut self, out: &mut [Val]) -> Option<()> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        self.value(Some(0), out, 0)?;
        self.ws();
        (self.at == self.bytes.len()).then_some(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        if self.peek()? == b {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    /// Marks trie node `node` entered; `None` if it was already (a duplicate key).
    fn enter(&mut self, node: u32) -> Option<()> {
        let bit = 1u64 << node;
        if self.entered & bit != 0 {
            return None;
        }
        self.entered |= bit;
        Some(())
    }

    /// A string without escapes, the opening quote at `self.at`: its text.
    fn string(&mut self) -> Option<&str> {
        let start = self.at + 1;
        let end = string_end(self.bytes, start)?;
        self.at = end + 1;
        // Quotes are ASCII, so both ends are character boundaries of the text.
        self.text.get(start..end)
    }

    /// A number (JSON grammar, no exponent): its text.
    fn number(&mut self) -> Option<&str> {
        let start = self.at;
        let b = self.bytes;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        // Exponents (range errors) and very long numbers are left to serde_json.
        if matches!(b.get(i), Some(b'e' | b'E')) || i - start > 64 {
            return None;
        }
        self.at = i;
        self.text.get(start..i)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..self.at + word.len())? == word {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// One value at `self.at` (after whitespace). `node`: its trie node, if it is on a path.
    fn value(&mut self, node: Option<u32>, out: &mut [Val], depth: u32) -> Option<()> {
        self.ws();
        let p = self.projector;
        let field = node.and_then(|n| p.nodes[n as usize].field);
        match self.peek()? {
            b'{' | b'[' if field.is_some() => None,
            b'{' => {
                if depth >= FAST_DEPTH {
                    return None;
                }
                self.at += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    let child = node.and_then(|n| p.key_child(n, key));
                    // Only the record's own members can be its id.
                    let id_slot = match (depth, key) {
                        (0, "event_id") => Some(0),
                        (0, "id") => Some(1),
                        _ => None,
                    };
                    if let Some(c) = child {
                        self.enter(c)?;
                    }
                    self.eat(b':')?;
                    self.ws();
                    let start = self.at;
                    self.value(child, out, depth + 1)?;
                    if let Some(slot) = id_slot {
                        // The last of a repeated member wins, as in a JSON tree. Both ends fit:
                        // longer records are not scanned.
                        self.ids.spans[slot] = (start as u32, self.at as u32);
                    }
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= FAST_DEPTH {
                    return None;
                }
                self.at += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                let mut index = 0u32;
                loop {
                    let child = node.and_then(|n| p.index_child(n, index));
                    if let Some(c) = child {
                        self.enter(c)?;
                    }
                    self.value(child, out, depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                    index = index.saturating_add(1);
                }
            }
            b'"' => {
                let start = self.at + 1;
                let end = string_end(self.bytes, start)?;
                self.at = end + 1;
                if let Some(id) = field {
                    // Quotes are ASCII, so both ends are character boundaries of the text.
                    let s = self.text.get(start..end)?;
                    out[id as usize] = Val::Str(self.cache.get(id, s));
                }
                Some(())
            }
            b't' => self.literal(b"true").map(|()| set(out, field, Val::Bool(true))),
            b'f' => self.literal(b"false").map(|()| set(out, field, Val::Bool(false))),
            b'n' => self.literal(b"null").map(|()| set(out, field, Val::Null)),
            _ => {
                let text = self.number()?;
                if let Some(id) = field {
                    out[id as usize] = number_val(text)?;
                }
                Some(())
            }
        }
    }
}

/// The closing quote of a string whose text starts at `i`; `None` at a backslash, a control
/// character or the end of the text. Eight bytes at a time: per byte, "is a quote", "is a
/// backslash" and "is below 0x20" as the high bit of a word (the lowest set byte is exact).
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if hits != 0 {
            let j = i + (hits.trailing_zeros() / 8) as usize;
            return (b[j] == b'"').then_some(j);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Some(i),
            b'\\' | 0..0x20 => return None,
            _ => i += 1,
        }
    }
    None
}

fn set(out: &mut [Val], field: Option<FieldId>, v: Val) {
    if let Some(id) = field {
        out[id as usize] = v;
    }
}

/// The value of a number's text, as serde_json builds it: small integers directly, anything
/// else through serde_json itself (its float parsing is what the DOM would give).
fn number_val(text: &str) -> Option<Val> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) && digits != "0" {
        return text.parse().ok().map(Val::Int);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let v = ValVisitor.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// The whole record: `true` if it is an object (its fields then filled in).
struct Root<'p> {
    projector: &'p Projector,
    out: &'p mut [Val],
}

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        let root = &self.projector.nodes[0];
        if root.field.is_some() {
            // The empty path asks for the whole record: decode it as a tree.
            let json = serde_json::Value::deserialize(deserializer)?;
            if !json.is_object() {
                return Ok(false);
            }
            set_from_tree(self.out, root, &json);
            return Ok(true);
        }
        let walk = Walk { projector: self.projector, node: 0, out: self.out };
        deserializer.deserialize_any(RootVisitor(walk))
    }
}

struct RootVisitor<'p>(Walk<'p>);

impl<'de> Visitor<'de> for RootVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        self.0.visit_map(map).map(|()| true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        Discard.visit_seq(seq).map(|()| false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Fills the fields of `node` (its own and those below) from its decoded value.
fn set_from_tree(out: &mut [Val], node: &Node, json: &serde_json::Value) {
    if let Some(id) = node.field {
        out[id as usize] = Val::from_json(json);
    }
    for (id, path) in &node.relative {
        out[*id as usize] = lookup(json, path).map_or(Val::Missing, Val::from_json);
    }
}

/// The value under trie node `node`: a field's value, or a container to walk into.
struct Slot<'p> {
    projector: &'p Projector,
    node: u32,
    out: &'p mut [Val],
}

impl<'de> DeserializeSeed<'de> for Slot<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let node = &self.projector.nodes[self.node as usize];
        match node.field {
            Some(id) if node.is_leaf() => {
                self.out[id as usize] = deserializer.deserialize_any(ValVisitor)?;
            }
            Some(_) => {
                let json = serde_json::Value::deserialize(deserializer)?;
                set_from_tree(self.out, node, &json);
            }
            None => {
                let walk = Walk { projector: self.projector, node: self.node, out: self.out };
                deserializer.deserialize_any(walk)?;
            }
        }
        Ok(())
    }
}

/// Walks a container under a trie node that is not itself a field.
struct Walk<'p> {
    projector: &'p Projector,
    node: u32,
    out: &'p mut [Val],
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Walk { projector, node, out } = self;
        while let Some(child) = map.next_key_seed(KeySeed { projector, node })? {
            match child {
                Some(child) => {
                    // A duplicate key replaces what an earlier occurrence set below it.
                    for id in &projector.nodes[child as usize].below {
                        out[*id as usize] = Val::Missing;
                    }
                    map.next_value_seed(Slot { projector, node: child, out: &mut *out })?;
                }
                None => {
                    map.next_value::<Discard>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Walk { projector, node, out } = self;
        let mut index = 0u32;
        loop {
            let more = match projector.index_child(node, index) {
                Some(child) => seq
                    .next_element_seed(Slot { projector, node: child, out: &mut *out })?
                    .is_some(),
                None => seq.next_element::<Discard>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            index = index.saturating_add(1);
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object key: the trie child it leads to, if any. Borrowed, never copied.
struct KeySeed<'p> {
    projector: &'p Projector,
    node: u32,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<u32>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u32>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<u32>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<u32>, E> {
        Ok(self.projector.key_child(self.node, key))
    }
}

/// A value no path asks for: parsed in full (so errors match the DOM's), kept nowhere.
struct Discard;

impl<'de> de::Deserialize<'de> for Discard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Discard, D::Error> {
        deserializer.deserialize_any(Discard).map(|()| Discard)
    }
}

impl<'de> Visitor<'de> for Discard {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Discard, Discard>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Discard>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A field's value, built directly as [`Val::from_json`] would build it from the DOM.
struct ValVisitor;

impl<'de> DeserializeSeed<'de> for ValVisitor {
    type Value = Val;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Val, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Val, E> {
        Ok(Val::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Val, E> {
        // Like `Number::as_i64`, then `as_f64`, on a DOM number.
        Ok(i64::try_from(u).map_or(Val::Float(u as f64), Val::Int))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Val, E> {
        // The DOM cannot hold a non-finite number and makes it `null`.
        Ok(if f.is_finite() { Val::Float(f) } else { Val::Null })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Val, E> {
        Ok(Val::Str(Arc::from(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ValVisitor)? {
            items.push(item);
        }
        Ok(Val::List(items.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        // Objects are kept as JSON; inserting in order keeps the last of duplicate keys, as
        // serde_json's own `Value` does.
        let mut object = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(k, v);
        }
        Ok(Val::Object(Arc::new(object)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    fn table(paths: &[Vec<Segment>]) -> FieldTable {
        let mut t = FieldTable::new();
        for p in paths {
            t.intern(p);
        }
        t
    }

    /// What decoding gave before the projector: a DOM, then [`FieldTable::project`].
    fn dom(table: &FieldTable, text: &str) -> Result<Vec<Val>, RecordError> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RecordError::NotJson(e.to_string()))?;
        if !json.is_object() {
            return Err(RecordError::NotObject);
        }
        Ok(table.project(&json).into_vec())
    }

    /// Strict equality: same variant, same bits (`Val::equals` is the language's `==`).
    fn same(a: &Val, b: &Val) -> bool {
        match (a, b) {
            (Val::Missing, Val::Missing) | (Val::Null, Val::Null) => true,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Int(x), Val::Int(y)) => x == y,
            (Val::Float(x), Val::Float(y)) => x.to_bits() == y.to_bits(),
            (Val::Str(x), Val::Str(y)) => x == y,
            (Val::List(x), Val::List(y)) => {
                x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y))
            }
            (Val::Object(x), Val::Object(y)) => {
                x == y && x.keys().eq(y.keys()) && x.values().eq(y.values())
            }
            _ => false,
        }
    }

    #[test]
    fn repeated_short_values_share_one_string_and_unique_ones_stop_being_looked_up() {
        let t = table(&[vec![key("kind")], vec![key("id")]]);
        let p = t.projector();
        let mut cache = StrCache::default();
        let decode = |cache: &mut StrCache, kind: &str, id: usize| {
            p.decode_with(&format!(r#"{{"kind": "{kind}", "id": "e-{id}"}}"#), cache).unwrap().0
        };
        let first = decode(&mut cache, "A", 0);
        let mut shared = 0;
        for i in 1..2000 {
            let kind = ["A", "B", "C"][i % 3];
            let got = decode(&mut cache, kind, i);
            // The values are the record's, cached or not.
            assert!(same(&got[0], &Val::Str(kind.into())));
            assert!(same(&got[1], &Val::Str(format!("e-{i}").into())));
            if let (Val::Str(a), Val::Str(b)) = (&got[0], &first[0])
                && kind == "A"
                && Arc::ptr_eq(a, b)
            {
                shared += 1;
            }
        }
        assert!(shared > 600, "{shared} of 666 `A`s shared the first one's string");
        let ids = &cache.fields[1];
        assert!(ids.resting > 0, "ids never repeat: the cache stopped looking them up");
        assert!(cache.fields[0].resting == 0, "kinds repeat: still cached");
    }

    thread_local! {
        /// One string cache across the records a test thread checks, as a pipeline keeps one.
        static STRINGS: std::cell::RefCell<StrCache> = std::cell::RefCell::default();
    }

    fn check(table: &FieldTable, text: &str) -> Result<(), String> {
        let expected = dom(table, text);
        let fresh = table.decode(text);
        let cached = STRINGS
            .with(|c| table.projector().decode_with(text, &mut c.borrow_mut()))
            .map(|(fields, _)| fields);
        for got in [fresh, cached] {
            let agree = match (&expected, &got) {
                (Ok(e), Ok(g)) => {
                    e.len() == g.len() && e.iter().zip(g.iter()).all(|(e, g)| same(e, g))
                }
                (Err(e), Err(g)) => e == g,
                _ => false,
            };
            if !agree {
                return Err(format!(
                    "text {text:?}\n  DOM:       {expected:?}\n  projector: {got:?}"
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn decodes_nested_fields_indexes_and_containers() {
        let t = table(&[
            vec![key("metadata"), key("value")],
            vec![key("tags"), Segment::Index(1)],
            vec![key("absent")],
            vec![key("metadata"), key("device")],
            vec![key("user_id")],
            vec![key("big")],
        ]);
        let text = r#"{"user_id":"u\u00e9-1","metadata":{"value":48.5,"device":{"m":"b"}},
            "tags":["x",{"y":[1,2]}],"big":18446744073709551615,"skip":[1e5,{"a":null}]}"#;
        let fields = t.decode(text).unwrap();
        assert!(same(&fields[0], &Val::Float(48.5)));
        assert!(matches!(&fields[1], Val::Object(o) if o.len() == 1));
        assert!(fields[2].is_missing());
        assert!(matches!(&fields[3], Val::Object(o) if o["m"] == "b"));
        assert!(same(&fields[4], &Val::Str("ué-1".into())));
        assert!(same(&fields[5], &Val::Float(u64::MAX as f64)));
        check(&t, text).unwrap();
    }

    #[test]
    fn last_duplicate_key_wins_below_it_too() {
        let t = table(&[vec![key("a"), key("b")], vec![key("a"), key("c")], vec![key("x")]]);
        for text in [
            r#"{"a":{"b":1,"c":2},"a":{"c":3}}"#,
            r#"{"a":{"b":1},"a":5,"x":1,"x":[2]}"#,
            r#"{"a":{"b":1,"b":{"z":1}}}"#,
        ] {
            check(&t, text).unwrap();
        }
        let fields = t.decode(r#"{"a":{"b":1,"c":2},"a":{"c":3}}"#).unwrap();
        assert!(fields[0].is_missing(), "the first `a` no longer counts");
        assert!(same(&fields[1], &Val::Int(3)));
    }

    #[test]
    fn a_field_with_paths_below_it() {
        let t = table(&[
            vec![key("m"), key("v")],
            vec![key("m")],
            vec![],
            vec![key("m"), key("l"), Segment::Index(0)],
        ]);
        check(&t, r#"{"m":{"v":1,"l":[true]},"n":2}"#).unwrap();
        check(&t, r#"{"m":[1]}"#).unwrap();
        check(&t, r#"[1]"#).unwrap();
    }

    #[test]
    fn errors_are_the_doms() {
        let t = table(&[vec![key("a")], vec![key("b"), Segment::Index(0)]]);
        let deep = format!("{{\"z\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let cases = [
            ("", "not JSON"),
            ("[1,2", "not JSON"),
            ("{\"a\":1", "not JSON"),
            ("{\"a\":1} x", "not JSON"),
            ("{\"z\":1e400}", "not JSON"),
            ("{\"z\":\"\\ud800\"}", "not JSON"),
            ("{\"z\":\"a\u{1}\"}", "not JSON"),
            ("{\"z\":01}", "not JSON"),
            ("{\"b\":[1,]}", "not JSON"),
            (deep.as_str(), "not JSON"),
            ("[1,2]", "not an object"),
            ("\"text\"", "not an object"),
            ("null", "not an object"),
            (" 12 ", "not an object"),
        ];
        for (text, what) in cases {
            check(&t, text).unwrap();
            let err = t.decode(text).unwrap_err();
            match what {
                "not JSON" => assert!(matches!(err, RecordError::NotJson(_)), "{text:?}: {err:?}"),
                _ => assert_eq!(err, RecordError::NotObject, "{text:?}"),
            }
        }
        assert_eq!(
            t.decode("{\"a\":1} x").unwrap_err(),
            RecordError::NotJson("trailing characters at line 1 column 9".into())
        );
    }

    /// What the scanner alone makes of `text`: `None` where it leaves the record to serde_json.
    fn fast_only(table: &FieldTable, text: &str) -> Option<Vec<Val>> {
        let p = table.projector();
        assert!(p.fast);
        let mut out = vec![Val::Missing; p.len()];
        let cache = &mut StrCache::default();
        let ids = IdSpans::NONE;
        Fast { projector: p, text, bytes: text.as_bytes(), at: 0, entered: 0, cache, ids }
            .record(&mut out)
            .map(|()| out)
    }

    #[test]
    fn the_scanner_takes_plain_records_and_leaves_the_rest() {
        let t = table(&[
            vec![key("user_id")],
            vec![key("metadata"), key("value")],
            vec![key("tags"), Segment::Index(1)],
            vec![key("timestamp")],
            vec![key("ok")],
        ]);
        let plain = r#" {"event_id":"e1","user_id":"u_42","metadata":{"value":5.90,"unit":"ms",
            "device":{"battery":14}},"tags":["a","b"],"ok":true,"timestamp":1767225600000} "#;
        let got = fast_only(&t, plain).expect("a plain record is scanned");
        let dom = dom(&t, plain).unwrap();
        assert!(got.iter().zip(&dom).all(|(g, d)| same(g, d)), "{got:?} vs {dom:?}");
        assert!(got[1].equals(&Val::Float(5.9)));
        assert!(got[3].equals(&Val::Int(1_767_225_600_000)));
        for left in [
            r#"{"user_id":"u\n"}"#,             // an escape
            r#"{"x":1e3}"#,                     // an exponent
            r#"{"user_id":"a","user_id":"b"}"#, // a duplicate key on a path
            r#"{"metadata":{"value":[1]}}"#,    // a requested array
            r#"{"x":01}"#,                      // an error
            r#"[1]"#,                           // not an object
            r#"{"x":1} x"#,                     // trailing text
        ] {
            assert!(fast_only(&t, left).is_none(), "{left}");
            check(&t, left).unwrap();
        }
    }

    #[test]
    fn adding_a_path_recompiles() {
        let mut t = table(&[vec![key("a")]]);
        assert_eq!(t.decode(r#"{"a":1,"b":2}"#).unwrap().len(), 1);
        let b = t.intern(&[key("b")]);
        assert!(same(&t.decode(r#"{"a":1,"b":2}"#).unwrap()[b as usize], &Val::Int(2)));
    }

    #[test]
    fn many_keys_under_one_node_are_hashed() {
        let paths: Vec<Vec<Segment>> = (0..20).map(|i| vec![key(&format!("k{i}"))]).collect();
        let t = table(&paths);
        let text = r#"{"k3":3,"k19":"x","k0":null,"other":1}"#;
        check(&t, text).unwrap();
        assert!(same(&t.decode(text).unwrap()[19], &Val::Str("x".into())));
    }

    /// A JSON document as text, with what `serde_json::Value` cannot hold: duplicate keys,
    /// escapes, and numbers written in any form.
    #[derive(Debug, Clone)]
    enum Doc {
        Atom(String),
        Array(Vec<Doc>),
        Object(Vec<(String, Doc)>),
    }

    impl Doc {
        fn render(&self, spaced: bool, out: &mut String) {
            let sep = if spaced { ", " } else { "," };
            match self {
                Doc::Atom(a) => out.push_str(a),
                Doc::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(sep);
                        }
                        item.render(spaced, out);
                    }
                    out.push(']');
                }
                Doc::Object(entries) => {
                    out.push('{');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push_str(sep);
                        }
                        out.push_str(k);
                        out.push_str(if spaced { " : " } else { ":" });
                        v.render(spaced, out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Keys as written (several spell the same key: `ab` and `a\u0062`, `é` and `\u00e9`).
    const KEYS: &[&str] =
        &[r#""a""#, r#""b""#, r#""c""#, r#""ab""#, r#""a\u0062""#, r#""é""#, r#""\u00e9""#];
    /// Keys as paths name them.
    const PATH_KEYS: &[&str] = &["a", "b", "c", "ab", "é", "zz"];

    fn string_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-z0-9 ]{0,4}",
            Just("é".to_string()),
            Just("日本".to_string()),
            Just("😀".to_string()),
            Just(r#"\""#.to_string()),
            Just(r"\\".to_string()),
            Just(r"\/".to_string()),
            Just(r"\n\t".to_string()),
            Just(r"\u00e9".to_string()),
            Just(r"\ud83d\ude00".to_string()),
            Just(r"\u0000".to_string()),
        ];
        prop::collection::vec(piece, 0..4).prop_map(|p| format!("\"{}\"", p.concat()))
    }

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
            Just("-0".to_string()),
            Just("0.0".to_string()),
            Just("-0.0".to_string()),
            Just("9223372036854775808".to_string()),
            Just("-9223372036854775809".to_string()),
            Just("123456789012345678901234567890".to_string()),
            Just("1.5E+3".to_string()),
            Just("2e-400".to_string()),
            (-1e12f64..1e12).prop_map(|f| f.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::to_string(&f).unwrap()),
            string_text(),
        ]
    }

    fn doc() -> impl Strategy<Value = Doc> {
        atom().prop_map(Doc::Atom).prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Doc::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(
                    |entries| {
                        Doc::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                    }
                ),
            ]
        })
    }

    fn record() -> impl Strategy<Value = Doc> {
        prop_oneof![
            1 => doc(),
            6 => prop::collection::vec((prop::sample::select(KEYS), doc()), 0..8).prop_map(
                |entries| Doc::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    }

    fn path() -> impl Strategy<Value = Vec<Segment>> {
        let seg = prop_oneof![
            3 => prop::sample::select(PATH_KEYS).prop_map(key),
            1 => (0u32..3).prop_map(Segment::Index),
        ];
        prop_oneof![
            1 => Just(Vec::new()),
            30 => prop::collection::vec(seg, 1..4),
        ]
    }

    /// How a record's text is damaged, if at all.
    #[derive(Debug, Clone)]
    enum Damage {
        None,
        Cut(prop::sample::Index),
        Insert(prop::sample::Index, char),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            6 => Just(Damage::None),
            1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
            1 => (any::<prop::sample::Index>(), prop::sample::select(vec![',', '}', ']', '"', 'x', '\\', '1']))
                .prop_map(|(i, c)| Damage::Insert(i, c)),
        ]
    }

    fn damaged(text: &str, damage: &Damage) -> String {
        let boundaries: Vec<usize> =
            text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        match damage {
            Damage::None => text.to_string(),
            Damage::Cut(i) => text[..*i.get(&boundaries)].to_string(),
            Damage::Insert(i, c) => {
                let at = *i.get(&boundaries);
                format!("{}{c}{}", &text[..at], &text[at..])
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn string_end_finds_the_first_stop(
            text in prop::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), Just(0x1fu8), Just(0x7f), Just(0xc3), 0x20u8..0x7f],
                0..40,
            ),
            from in 0usize..4,
        ) {
            let naive = text.iter().enumerate().skip(from).find_map(|(i, &c)| match c {
                b'"' => Some(Some(i)),
                b'\\' | 0..0x20 => Some(None),
                _ => None,
            }).flatten();
            prop_assert_eq!(string_end(&text, from), naive);
        }

        #[test]
        fn projector_equals_dom_projection(
            doc in record(),
            paths in prop::collection::vec(path(), 0..7),
            spaced in any::<bool>(),
            damage in damage(),
        ) {
            let mut text = String::new();
            doc.render(spaced, &mut text);
            let text = damaged(&text, &damage);
            let t = table(&paths);
            if let Err(e) = check(&t, &text) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}
