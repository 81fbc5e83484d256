//! The serde mirror of a YAML rule file: what the file says, before any meaning is checked.
//!
//! Every mapping is a struct with `deny_unknown_fields`, so a misspelt key is an error that
//! points at the key. Every key is optional here, even the required ones: a missing `name` is
//! reported when lowering, together with every other problem of the rule, instead of stopping
//! deserialization. Values that carry their own syntax (expressions, paths, durations,
//! `times`) stay text with their place in the file ([`Spanned`]) and are parsed in `lower`, so
//! all of their errors are found at once.
//!
//! The key structs are written with `keyed_struct!`, which also records each key and its doc
//! comment in a `KEYS` table: the same text documents the struct, feeds the JSON Schema's
//! descriptions ([`super::schema`]) and the "did you mean" candidates, so they cannot drift.
//!
//! A few types ([`RawExpr`], [`RawTimes`], [`RawSkip`], [`RawFields`], [`RawValue`],
//! [`RawDocument`]) deserialize by hand. They accept several YAML shapes without serde's
//! `untagged` enums, which would buffer the value and lose every position inside it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
pub use serde_saphyr::Spanned;

/// One key of a rule-file mapping and its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    pub key: &'static str,
    /// The key's doc comment, one line per doc-comment line.
    pub doc: &'static str,
}

/// Declares a rule-file mapping: a `deny_unknown_fields` struct whose fields are the keys
/// (renamed to their YAML spelling), plus a `KEYS` table of every key with its doc comment.
macro_rules! keyed_struct {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $key:literal => $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $key, default)]
                pub $field: $ty,
            )*
        }

        impl $name {
            /// Every key of this mapping, in the canonical order, with its documentation.
            pub const KEYS: &'static [KeyDoc] =
                &[$(KeyDoc { key: $key, doc: concat!($($doc, "\n",)*) },)*];
        }
    };
}

keyed_struct! {
    /// One rule: a pattern over a keyed stream and what to emit when it matches.
    pub struct RawRule {
        /// The rule's name, unique across the loaded rule set. Required.
        "name" => name: Option<Spanned<String>>,
        /// What the rule detects, in a sentence.
        "description" => description: Option<String>,
        /// Where events come from and how they are keyed and timed.
        "source" => source: Option<RawSource>,
        /// The pattern: stages (and groups) in the order their events must occur. Required.
        "pattern" => pattern: Option<RawPattern>,
        /// Makes the rule a window rule: `tumbling: 5m`, `sliding: {size: 1h, every: 5m}` or
        /// `session: {gap: 30m}` (per key, in event time). A rule has `pattern` or `window`.
        "window" => window: Option<Spanned<RawWindow>>,
        /// A window rule's aggregates: `NAME: count()` (also `count(x)`, `sum(x)`, `avg(x)`,
        /// `min(x)`, `max(x)`, `count_distinct(x)`, `percentile(x, P)`), or
        /// `NAME: {of: CALL, where: CONDITION, over: DURATION}`.
        "aggregates" => aggregates: Option<Spanned<RawAggregates>>,
        /// A window rule's condition over its aggregate names: a window for which it holds
        /// triggers `emit`.
        "having" => having: Option<Spanned<RawExpr>>,
        /// Longest time from the first to the last event of a match, such as `24h`.
        /// Durations: `500ms`, `10s`, `5m`, `24h`, `7d`, or sums such as `1h30m`.
        "within" => within: Option<Spanned<String>>,
        /// After a match, where the next match may start: `no_skip` (the default),
        /// `to_next`, `past_last_event`, `{to_first: STAGE}` or `{to_last: STAGE}`.
        "skip" => skip: Option<Spanned<RawSkip>>,
        /// The trigger event written when the pattern matches.
        "emit" => emit: Option<Spanned<RawEmit>>,
        /// The event written when a partial match runs out of `within`.
        "on_timeout" => on_timeout: Option<Spanned<RawEmit>>,
        /// A window rule's output of every window's aggregates: `{topic: TOPIC}`.
        "windows" => windows: Option<Spanned<RawWindows>>,
    }
}

keyed_struct! {
    /// A window rule's windows: exactly one of `tumbling`, `sliding` or `session`.
    pub struct RawWindow {
        /// Windows of this size, one after another: `tumbling: 5m`.
        "tumbling" => tumbling: Option<Spanned<String>>,
        /// Windows of `size` starting every `every`: `sliding: {size: 1h, every: 5m}`.
        "sliding" => sliding: Option<Spanned<RawSliding>>,
        /// Windows of activity separated by `gap` without events: `session: {gap: 30m}`.
        "session" => session: Option<Spanned<RawSession>>,
    }
}

keyed_struct! {
    /// A sliding window: its size and how often one starts.
    pub struct RawSliding {
        /// How long each window lasts, such as `1h`.
        "size" => size: Option<Spanned<String>>,
        /// How often a window starts, such as `5m`; divides `size`.
        "every" => every: Option<Spanned<String>>,
    }
}

keyed_struct! {
    /// A session window: the gap without events that closes a session.
    pub struct RawSession {
        /// A session ends this long after its last event, such as `30m`.
        "gap" => gap: Option<Spanned<String>>,
    }
}

keyed_struct! {
    /// An aggregate written in full: its call, an optional filter and an optional range.
    pub struct RawAggregateLong {
        /// The aggregate call, such as `count()` or `avg(response_time_ms)`. Required.
        "of" => of: Option<Spanned<RawExpr>>,
        /// Only events for which this holds are aggregated.
        "where" => condition: Option<Spanned<RawExpr>>,
        /// Aggregate over `[window end - over, window end)` instead of the window, such as `1d`.
        "over" => over: Option<Spanned<String>>,
    }
}

keyed_struct! {
    /// Where every fired window's aggregates go.
    pub struct RawWindows {
        /// The topic of the window records. Required.
        "topic" => topic: Option<Spanned<String>>,
    }
}

/// `aggregates:`: names and aggregates in the order written.
#[derive(Debug, Default)]
pub struct RawAggregates(pub Vec<(Spanned<String>, Spanned<RawAggregate>)>);

/// One aggregate: a call as a string, or the long form.
#[derive(Debug)]
pub enum RawAggregate {
    Short(String),
    Long(Box<RawAggregateLong>),
}

keyed_struct! {
    /// Where events come from and how they are keyed and timed.
    pub struct RawSource {
        /// Kafka topics to read (ignored by replay from a file).
        "topics" => topics: Option<Vec<Spanned<String>>>,
        /// Dotted path of the key field, such as `user_id`; absent means one global key.
        "key" => key: Option<Spanned<String>>,
        /// Dotted path of the event-time field (RFC 3339 string or epoch millis); absent means
        /// the record time.
        "time" => time: Option<Spanned<String>>,
        /// An expression: events for which it is not true never reach the pattern.
        "filter" => filter: Option<Spanned<RawExpr>>,
        /// How late events may arrive: the watermark is the largest event time seen minus this.
        "max_out_of_orderness" => max_out_of_orderness: Option<Spanned<String>>,
    }
}

keyed_struct! {
    /// One element of a pattern: a stage (`stage:`) or a group (`group:` with `pattern:`).
    /// Both kinds share this struct; which keys belong to which is [`stage_keys`] and
    /// [`group_keys`].
    pub struct RawElement {
        /// The stage's name; expressions refer to its events by it.
        "stage" => stage: Option<Spanned<String>>,
        /// The group's name: a group repeats or makes optional a whole sub-pattern.
        "group" => group: Option<Spanned<String>>,
        /// How this element follows the one before it: `strict` (the very next event),
        /// `relaxed` (the default: skips events that do not match) or `any` (also branches past
        /// events that match).
        "contiguity" => contiguity: Option<Spanned<RawContiguity>>,
        /// How many times the element repeats: `"N"`, `"N..M"` or `"N.."` (at least N); the
        /// default is once.
        "times" => times: Option<Spanned<RawTimes>>,
        /// The element may be left out of a match.
        "optional" => optional: Option<Spanned<bool>>,
        /// A loop takes as many events as it can before the next element is tried.
        "greedy" => greedy: Option<Spanned<bool>>,
        /// Strict contiguity between the loop's own events.
        "consecutive" => consecutive: Option<Spanned<bool>>,
        /// Non-deterministic relaxed contiguity between the loop's own events.
        "allow_combinations" => allow_combinations: Option<Spanned<bool>>,
        /// An expression that ends a loop: an event satisfying it is not taken.
        "until" => until: Option<Spanned<RawExpr>>,
        /// A negated stage: no matching event may occur here (`strict`: not the next event,
        /// `relaxed`: none before the next element).
        "absent" => absent: Option<Spanned<bool>>,
        /// At most this long after the previous matched event, such as `12h`.
        "max_gap" => max_gap: Option<Spanned<String>>,
        /// The condition an event must satisfy to be taken by the stage (an expression).
        "where" => condition: Option<Spanned<RawExpr>>,
        /// The group's elements, in order, written like a rule's `pattern`.
        "pattern" => pattern: Option<RawPattern>,
    }
}

keyed_struct! {
    /// What to write when a rule matches or times out.
    pub struct RawEmit {
        /// The output topic; absent means the deployment's default alerts topic.
        "topic" => topic: Option<Spanned<String>>,
        /// The trigger event's own fields. String values may hold `{{ expression }}` templates.
        "fields" => fields: Option<RawFields>,
    }
}

/// A `pattern:` list: its elements, each `None` when written empty (`- ~`).
pub type RawPattern = Spanned<Vec<Spanned<Option<RawElement>>>>;

/// Keys of a pattern element that make it a stage, or that only a stage takes.
pub const STAGE_ONLY_KEYS: &[&str] = &["stage", "absent", "max_gap", "where"];
/// Keys of a pattern element that make it a group, or that only a group takes.
pub const GROUP_ONLY_KEYS: &[&str] = &["group", "pattern"];

/// The keys a stage accepts, in canonical order.
pub fn stage_keys() -> impl Iterator<Item = &'static KeyDoc> {
    RawElement::KEYS.iter().filter(|k| !GROUP_ONLY_KEYS.contains(&k.key))
}

/// The keys a group accepts, in canonical order.
pub fn group_keys() -> impl Iterator<Item = &'static KeyDoc> {
    RawElement::KEYS.iter().filter(|k| !STAGE_ONLY_KEYS.contains(&k.key))
}

/// The accepted spellings of `contiguity`.
pub const CONTIGUITY_VALUES: &[&str] = &["strict", "relaxed", "any"];

/// `contiguity:` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawContiguity {
    Strict,
    Relaxed,
    Any,
}

/// An expression: only a YAML string is accepted, so `where: true` or `where: 5` (a boolean
/// and a number to YAML) are refused rather than silently read as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExpr(pub String);

/// `times:` as written: its text, from a string (`"3.."`) or a plain integer (`3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTimes(pub String);

/// The spellings of `skip` that take no stage.
pub const SKIP_WORDS: &[&str] = &["no_skip", "to_next", "past_last_event"];
/// The one-key mappings of `skip` that name a stage.
pub const SKIP_TARGET_KEYS: &[&str] = &["to_first", "to_last"];

/// `skip:` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSkip {
    NoSkip,
    ToNext,
    PastLastEvent,
    ToFirst(Spanned<String>),
    ToLast(Spanned<String>),
}

/// `fields:` of an emit: keys and values in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawFields(pub RawEntries);

/// The entries of a mapping of values, with their keys, in the order written.
pub type RawEntries = Vec<(Spanned<String>, Spanned<RawValue>)>;

/// Any YAML value under `fields`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Spanned<RawValue>>),
    Map(RawEntries),
}

/// One YAML document of a rule file: a rule, a list of rules, or nothing.
#[derive(Debug, Default)]
pub enum RawDocument {
    #[default]
    Empty,
    One(Box<RawRule>),
    Many(Vec<Spanned<Option<RawRule>>>),
}

// ---- hand-written deserialization (see the module docs for why) ----

const EXPR_EXPECTED: &str =
    "an expression as a string (quote it if YAML reads it as a number or a boolean)";

impl<'de> Deserialize<'de> for RawExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawExpr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPR_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExpr, E> {
                Ok(RawExpr(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawTimes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawTimes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a count such as "3", "2..5" or "1..""#)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawTimes, E> {
                Ok(RawTimes(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawTimes, E> {
                Ok(RawTimes(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawTimes, E> {
                Ok(RawTimes(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawTimes, E> {
                Ok(RawTimes(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTimes, E> {
                Ok(RawTimes(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawSkip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const ALL: &[&str] = &["no_skip", "to_next", "past_last_event", "to_first", "to_last"];
        impl<'de> Visitor<'de> for V {
            type Value = RawSkip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "no_skip, to_next, past_last_event, {to_first: STAGE} or {to_last: STAGE}",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSkip, E> {
                match v {
                    "no_skip" => Ok(RawSkip::NoSkip),
                    "to_next" => Ok(RawSkip::ToNext),
                    "past_last_event" => Ok(RawSkip::PastLastEvent),
                    "to_first" | "to_last" => Err(E::custom(format!(
                        "`{v}` names the stage to skip to: write `skip: {{{v}: STAGE}}`"
                    ))),
                    _ => Err(E::unknown_variant(v, ALL)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSkip, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "an empty mapping: write `{to_first: STAGE}` or `{to_last: STAGE}`",
                    ));
                };
                let skip = match key.as_str() {
                    "to_first" => RawSkip::ToFirst(map.next_value()?),
                    "to_last" => RawSkip::ToLast(map.next_value()?),
                    _ => return Err(de::Error::unknown_variant(&key, SKIP_TARGET_KEYS)),
                };
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(
                        "`skip` takes one of `to_first` or `to_last`, not both",
                    ));
                }
                Ok(skip)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawAggregates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAggregates;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of aggregate names to aggregates")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAggregates, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.push((key, map.next_value()?));
                }
                Ok(RawAggregates(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawAggregate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAggregate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an aggregate call such as `count()`, or `{of: CALL, where: ..., over: ...}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAggregate, E> {
                Ok(RawAggregate::Short(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAggregate, A::Error> {
                let long =
                    RawAggregateLong::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawAggregate::Long(Box::new(long)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of field names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFields, A::Error> {
                Ok(RawFields(entries(map)?))
            }
        }
        d.deserialize_map(V)
    }
}

fn entries<'de, A: MapAccess<'de>>(mut map: A) -> Result<RawEntries, A::Error> {
    let mut out = Vec::new();
    while let Some(key) = map.next_key::<Spanned<String>>()? {
        out.push((key, map.next_value()?));
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawValue, E> {
                Ok(RawValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawValue, E> {
                Ok(RawValue::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawValue, E> {
                Ok(RawValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
                Ok(RawValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
                i64::try_from(v).map(RawValue::Int).map_err(|_| too_large(v))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawValue, E> {
                i64::try_from(v).map(RawValue::Int).map_err(|_| too_large(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawValue, E> {
                i64::try_from(v).map(RawValue::Int).map_err(|_| too_large(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
                Ok(RawValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::String(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(RawValue::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
                Ok(RawValue::Map(entries(map)?))
            }
        }
        d.deserialize_any(V)
    }
}

fn too_large<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!("integer {v} does not fit in 64 bits"))
}

impl<'de> Deserialize<'de> for RawDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDocument;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule (a mapping) or a list of rules")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawDocument, E> {
                Ok(RawDocument::Empty)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawDocument, E> {
                Ok(RawDocument::Empty)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDocument, A::Error> {
                let rule = RawRule::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawDocument::One(Box::new(rule)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDocument, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element()? {
                    rules.push(rule);
                }
                Ok(RawDocument::Many(rules))
            }
        }
        d.deserialize_any(V)
    }
}
