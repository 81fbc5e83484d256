//! Events: decoding, field access, key and event-time extraction.
//!
//! A record is decoded once, straight into the fields the loaded rules read (a [`FieldTable`]
//! built when the rules compile): a flat array of [`Val`]s that conditions index directly (see
//! [`Projector`]). The original text is kept for output (`--matches`, the `context_window` ids).

mod decode;
mod time;
mod value;

use std::sync::{Arc, OnceLock};

use cepheus_grammar::ast::Segment;
use rustc_hash::FxHashMap;
use serde::de;

pub use decode::Projector;
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
    /// The original record text.
    pub raw: Arc<str>,
    /// `fields[i]` is the value of field `i` of the rule set's [`FieldTable`].
    pub fields: Arc<[Val]>,
}

impl Event {
    pub fn field(&self, id: FieldId) -> &Val {
        self.fields.get(id as usize).unwrap_or(&Val::Missing)
    }

    /// The event's own id (`event_id`, else `id`), for `context_window`.
    ///
    /// Reads only those two members of the record (the last of each, as a JSON tree would
    /// keep); other values are skipped without being built. The text was checked when the
    /// event was decoded.
    pub fn id(&self) -> Option<String> {
        let mut de = serde_json::Deserializer::from_str(&self.raw);
        let ids = de::Deserializer::deserialize_map(&mut de, IdsVisitor).ok()?;
        [ids.event_id, ids.id].into_iter().flatten().find_map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }
}

/// The `event_id` and `id` members of a record (see [`Event::id`]).
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
