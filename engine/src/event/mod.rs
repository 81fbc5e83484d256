//! Events: decoding, field access, key and event-time extraction.
//!
//! A record is decoded once, straight into the fields the loaded rules read (a [`FieldTable`]
//! built when the rules compile): a flat array of [`Val`]s that conditions index directly (see
//! [`Projector`]). Decoding also notes where the record's own id (`event_id`, `id`) is in its
//! text, without building it: most events are never in a match. The original text is kept while
//! the event is processed; an event held in a key's state keeps only what the outputs need (see
//! [`Keep`]).

mod decode;
mod time;
mod value;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use cepheus_grammar::ast::Segment;
use rustc_hash::FxHashMap;
use serde::de;

pub use decode::{IdSpans, Projector, StrCache};
pub use time::{format_rfc3339, parse_time};
pub use value::{Val, format_float};

/// Index of a field path in a [`FieldTable`].
pub type FieldId = u32;

/// The field paths the loaded rules read, each with a stable id.
#[derive(Debug, Clone, Default)]
pub struct FieldTable {
    paths: Vec<Vec<Segment>>,
    index: FxHashMap<Vec<Segment>, FieldId>,
    /// The paths compiled for decoding; built on first use, dropped when a path is added.
    projector: OnceLock<Projector>,
}

impl FieldTable {
    pub fn new() -> FieldTable {
        FieldTable::default()
    }

    /// The id of `path`, if the table holds it.
    pub fn get(&self, path: &[Segment]) -> Option<FieldId> {
        self.index.get(path).copied()
    }

    /// The id of `path`, adding it if new.
    pub fn intern(&mut self, path: &[Segment]) -> FieldId {
        if let Some(&id) = self.index.get(path) {
            return id;
        }
        let id = FieldId::try_from(self.paths.len()).expect("fewer than 2^32 field paths");
        self.paths.push(path.to_vec());
        self.index.insert(path.to_vec(), id);
        self.projector = OnceLock::new();
        id
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn path(&self, id: FieldId) -> &[Segment] {
        &self.paths[id as usize]
    }

    /// The table compiled for decoding records.
    pub fn projector(&self) -> &Projector {
        self.projector.get_or_init(|| Projector::new(self))
    }

    /// Decodes a record (JSON text) into the value of every field of the table, in one pass
    /// and without building a JSON tree; see [`Projector::decode`].
    pub fn decode(&self, text: &str) -> Result<Arc<[Val]>, RecordError> {
        self.projector().decode(text)
    }

    /// A record as an event: [`FieldTable::decode`], and where its id is.
    pub fn decode_event(&self, seq: u64, ts: i64, text: &str) -> Result<Event, RecordError> {
        let (fields, ids) = self.projector().decode_with(text, &mut StrCache::default())?;
        Ok(Event::with_ids(seq, ts, Arc::from(text), fields, ids))
    }

    /// Projects every field of the table out of a decoded JSON value. [`FieldTable::decode`]
    /// gives the same values from the text, without the tree.
    pub fn project(&self, json: &serde_json::Value) -> Box<[Val]> {
        self.paths.iter().map(|p| lookup(json, p).map_or(Val::Missing, Val::from_json)).collect()
    }
}

/// Follows a path into a JSON value.
pub fn lookup<'a>(json: &'a serde_json::Value, path: &[Segment]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(json, |v, seg| match seg {
        Segment::Key(k) => v.as_object()?.get(k.as_str()),
        Segment::Index(i) => v.as_array()?.get(*i as usize),
    })
}

/// Renders a path as a user wrote it, for messages (`metadata.value`).
pub fn path_text(path: &[Segment]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        match seg {
            Segment::Key(k) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

/// One event as the NFA sees it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the input (unique and increasing per partition); breaks timestamp ties.
    pub seq: u64,
    /// Event time, epoch milliseconds.
    pub ts: i64,
    /// The record's text, or what is kept of it.
    pub text: Text,
    /// `fields[i]` is the value of field `i` of the rule set's [`FieldTable`]; an event kept
    /// without its fields ([`Keep::Id`]) has none, and reads every field as missing.
    pub fields: Arc<[Val]>,
}

/// What an event holds of its record's text.
#[derive(Debug, Clone)]
pub enum Text {
    /// The text as it was read, and where its id is in it.
    Whole { raw: Arc<str>, ids: IdSpans },
    /// What outputs other than `--matches` read of it: its digest (which `trigger_id` hashes)
    /// and its own id (for `context_window`).
    Digest { digest: [u64; 2], id: Option<Arc<str>> },
}

/// What an event taken into a key's state keeps (a rule's [`crate::nfa::Program::keep`]).
///
/// A key's state holds the events of its open partial matches, often one event for each of a
/// million keys, and the text is most of an event. Triggers need only the text's digest and the
/// event's id; `--matches` and `--timeouts` print whole events, so their runs keep the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The text and the fields.
    Text,
    /// The digest, the id and the fields: a condition or an emitted field reads the events a
    /// partial match took.
    Fields,
    /// The digest and the id: nothing reads the taken events' fields.
    Id,
}

/// The digest of a record's text: the same text gives the same digest on every platform.
pub fn digest(text: &str) -> [u64; 2] {
    let h = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
    [h as u64, (h >> 64) as u64]
}

/// An empty field array, shared: an event kept without fields allocates none. One per thread,
/// so that threads do not contend for its reference count.
pub(crate) fn no_fields() -> Arc<[Val]> {
    thread_local! {
        static EMPTY: Arc<[Val]> = Arc::from(Vec::new());
    }
    EMPTY.with(Arc::clone)
}

impl Event {
    /// An event read from `raw`, its fields decoded; where its id is will be found when needed.
    pub fn new(seq: u64, ts: i64, raw: Arc<str>, fields: Arc<[Val]>) -> Event {
        Event::with_ids(seq, ts, raw, fields, IdSpans::UNKNOWN)
    }

    /// [`Event::new`], with where decoding found its id.
    pub fn with_ids(seq: u64, ts: i64, raw: Arc<str>, fields: Arc<[Val]>, ids: IdSpans) -> Event {
        Event { seq, ts, text: Text::Whole { raw, ids }, fields }
    }

    pub fn field(&self, id: FieldId) -> &Val {
        self.fields.get(id as usize).unwrap_or(&Val::Missing)
    }

    /// The record's text, unless the event was kept without it.
    pub fn raw(&self) -> Option<&str> {
        match &self.text {
            Text::Whole { raw, .. } => Some(raw),
            Text::Digest { .. } => None,
        }
    }

    /// The digest of the record's text (see [`digest`]).
    pub fn digest(&self) -> [u64; 2] {
        match &self.text {
            Text::Whole { raw, .. } => digest(raw),
            Text::Digest { digest, .. } => *digest,
        }
    }

    /// The event's own id (`event_id`, else `id`, when a string or a number), for
    /// `context_window`. A number reads as JSON prints it.
    pub fn id(&self) -> Option<String> {
        match &self.text {
            Text::Whole { raw, ids } => whole_id(raw, *ids).map(Cow::into_owned),
            Text::Digest { id, .. } => id.as_deref().map(str::to_owned),
        }
    }

    /// The event as a key's state keeps it.
    pub fn kept(&self, keep: Keep) -> Event {
        let text = match (&self.text, keep) {
            (text, Keep::Text) | (text @ Text::Digest { .. }, _) => text.clone(),
            (Text::Whole { raw, ids }, _) => Text::Digest {
                digest: digest(raw),
                id: whole_id(raw, *ids).map(|id| Arc::from(&*id)),
            },
        };
        let fields = match keep {
            Keep::Id => no_fields(),
            Keep::Text | Keep::Fields => Arc::clone(&self.fields),
        };
        Event { seq: self.seq, ts: self.ts, text, fields }
    }
}

/// The id of a record: from where decoding found it, else by reading the record again.
fn whole_id(raw: &str, ids: IdSpans) -> Option<Cow<'_, str>> {
    match ids.spans() {
        Some(spans) => spans.into_iter().flatten().find_map(|(start, end)| {
            let value = raw.get(start..end)?;
            match value.as_bytes().first()? {
                // Decoding recorded a span only for a string without escapes.
                b'"' => value.get(1..value.len() - 1).map(Cow::Borrowed),
                b'-' | b'0'..=b'9' => match serde_json::from_str(value).ok()? {
                    serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
                    _ => None,
                },
                _ => None,
            }
        }),
        None => read_id(raw).map(Cow::Owned),
    }
}

/// The id of a record, read from its text (`event_id`, else `id`; the last of each, as a JSON
/// tree would keep). Other values are skipped without being built.
fn read_id(raw: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let ids = de::Deserializer::deserialize_map(&mut de, IdsVisitor).ok()?;
    [ids.event_id, ids.id].into_iter().flatten().find_map(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The `event_id` and `id` members of a record (see [`read_id`]).
#[derive(Default)]
struct Ids {
    event_id: Option<serde_json::Value>,
    id: Option<serde_json::Value>,
}

struct IdsVisitor;

impl<'de> de::Visitor<'de> for IdsVisitor {
    type Value = Ids;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Ids, A::Error> {
        let mut ids = Ids::default();
        while let Some(key) = map.next_key::<IdKey>()? {
            match key {
                IdKey::EventId => ids.event_id = Some(map.next_value()?),
                IdKey::Id => ids.id = Some(map.next_value()?),
                IdKey::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(ids)
    }
}

/// A member name of a record, as [`IdsVisitor`] needs it (without copying the name).
enum IdKey {
    EventId,
    Id,
    Other,
}

impl<'de> de::Deserialize<'de> for IdKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<IdKey, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = IdKey;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<IdKey, E> {
                Ok(match key {
                    "event_id" => IdKey::EventId,
                    "id" => IdKey::Id,
                    _ => IdKey::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Why a record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("no key: field `{0}` is missing")]
    MissingKey(String),
    #[error("unusable key: field `{0}` is not a string, number or boolean")]
    BadKey(String),
    #[error("no event time: field `{0}` is missing")]
    MissingTime(String),
    #[error("unusable event time in field `{field}`: {reason}")]
    BadTime { field: String, reason: String },
}

/// The key of an event as text: strings as they are, numbers and booleans as JSON.
pub fn key_text(v: &Val) -> Option<Arc<str>> {
    match v {
        Val::Str(s) => Some(s.clone()),
        Val::Int(i) => Some(Arc::from(i.to_string())),
        Val::Float(f) => Some(Arc::from(format_float(*f))),
        Val::Bool(b) => Some(Arc::from(b.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    /// The id found where decoding noted it is the id read from the text, whatever the record.
    #[test]
    fn ids_found_by_decoding_are_the_ids_read_from_the_text() {
        let mut t = FieldTable::new();
        t.intern(&[key("event_id")]);
        let records = [
            (r#"{"event_id": "e-1", "id": "x"}"#, Some("e-1")),
            (r#"{"id": "x", "n": 1}"#, Some("x")),
            (r#"{"event_id": 42}"#, Some("42")),
            (r#"{"event_id": -0}"#, Some("-0.0")),
            (r#"{"event_id": 1.50}"#, Some("1.5")),
            (r#"{"event_id": null, "id": 7}"#, Some("7")),
            (r#"{"event_id": {"a": 1}, "id": "y"}"#, Some("y")),
            (r#"{"event_id": "a", "event_id": "b"}"#, Some("b")),
            (r#"{"meta": {"event_id": "nested"}}"#, None),
            (r#"{"event_id": "with \"quote\""}"#, Some("with \"quote\"")),
            (r#"{"event_id": 1e3}"#, Some("1000.0")),
            (r#"{"n": true}"#, None),
        ];
        for (text, want) in records {
            let event = t.decode_event(1, 0, text).expect("a valid record");
            assert_eq!(event.id().as_deref(), want, "{text}");
            assert_eq!(read_id(text).as_deref(), want, "{text}: read from the text");
            let kept = event.kept(Keep::Id);
            assert_eq!(kept.id().as_deref(), want, "{text}: kept");
        }
        // Where decoding did not look, the id is read from the text.
        let event = Event::new(1, 0, Arc::from(r#"{"id": "z"}"#), Arc::from(Vec::new()));
        assert_eq!(event.id().as_deref(), Some("z"));
    }

    #[test]
    fn projects_nested_fields_and_indexes() {
        let mut t = FieldTable::new();
        let a = t.intern(&[key("metadata"), key("value")]);
        let b = t.intern(&[key("scores"), Segment::Index(1)]);
        let c = t.intern(&[key("absent")]);
        assert_eq!(t.intern(&[key("metadata"), key("value")]), a, "interning is idempotent");
        let json = serde_json::json!({"metadata": {"value": 48.5}, "scores": [1, 2]});
        let fields = t.project(&json);
        assert!(fields[a as usize].equals(&Val::Float(48.5)));
        assert!(fields[b as usize].equals(&Val::Int(2)));
        assert!(fields[c as usize].is_missing());
    }
}
