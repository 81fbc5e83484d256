//! A JSON Schema of the rule-file format, for editors (yaml-language-server and others).
//!
//! Draft-07, which every schema-aware YAML editor supports. The keys and their descriptions
//! come from the raw mirror's `KEYS` tables (the doc comments of [`super::raw`]), so the schema
//! lists exactly the keys the parser accepts. What the schema cannot say (expression syntax,
//! stage names that exist) is left to the parser's diagnostics.
//!
//! To use it with yaml-language-server, write the schema to a file
//! (`serde_json::to_string_pretty(&json_schema())`) and put
//! `# yaml-language-server: $schema=<path to it>` at the top of a rule file.

use serde_json::{Map, Value, json};

use super::raw::{
    CONTIGUITY_VALUES, KeyDoc, RawAggregateLong, RawEmit, RawRule, RawSession, RawSliding,
    RawSource, RawWindow, RawWindows, SKIP_TARGET_KEYS, SKIP_WORDS, group_keys, stage_keys,
};

/// The URI of the JSON Schema dialect used.
pub const DIALECT: &str = "http://json-schema.org/draft-07/schema#";

/// Durations: a number and a unit, or a sum of them (`1h30m`).
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(ms|s|m|h|d))+\s*$";

/// `times` as a string: `N`, `N..M` or `N..`, counting from 1.
pub const TIMES_PATTERN: &str = r"^\s*[1-9][0-9]*\s*(\.\.\s*([1-9][0-9]*)?\s*)?$";

/// The schema of a whole rule file: a rule, or a list of rules (each `---` document alike).
pub fn schema() -> Value {
    json!({
        "$schema": DIALECT,
        "title": "Cepheus rule file",
        "description": "Complex event processing rules: a rule, or a list of rules. \
                        Several `---` documents may follow each other, each a rule or a list of rules.",
        "oneOf": [
            { "$ref": "#/definitions/rule" },
            { "type": "array", "items": { "$ref": "#/definitions/rule" } }
        ],
        "definitions": {
            "rule": rule_schema(),
            "window": object(RawWindow::KEYS.iter(), &[], "A window rule's windows: exactly one of `tumbling`, `sliding` or `session`."),
            "sliding": object(RawSliding::KEYS.iter(), &["size", "every"], "A sliding window: its size and how often one starts."),
            "session": object(RawSession::KEYS.iter(), &["gap"], "A session window: the gap without events that closes a session."),
            "aggregates": {
                "type": "object",
                "description": "A window rule's aggregates by name: `count()`, `count(x)`, `sum(x)`, `avg(x)`, \
                                `min(x)`, `max(x)`, `count_distinct(x)`, `percentile(x, P)`, or the long form.",
                "additionalProperties": {
                    "oneOf": [
                        { "$ref": "#/definitions/expression" },
                        { "$ref": "#/definitions/aggregate" }
                    ]
                }
            },
            "aggregate": object(RawAggregateLong::KEYS.iter(), &["of"], "An aggregate written in full: its call, an optional filter and an optional range."),
            "windows": object(RawWindows::KEYS.iter(), &["topic"], "Where every fired window's aggregates go."),
            "source": object(RawSource::KEYS.iter(), &[], "Where events come from and how they are keyed and timed."),
            "pattern": {
                "type": "array",
                "description": "Stages and groups in the order their events must occur.",
                "items": { "$ref": "#/definitions/element" }
            },
            "element": {
                "description": "A stage (`stage: NAME`) or a group (`group: NAME` with a `pattern`).",
                "oneOf": [ { "$ref": "#/definitions/stage" }, { "$ref": "#/definitions/group" } ]
            },
            "stage": object(stage_keys(), &["stage"], "A stage: one pattern step that takes events satisfying its condition."),
            "group": object(group_keys(), &["group", "pattern"], "A group: a sub-pattern repeated, made optional or followed as one element."),
            "emit": object(RawEmit::KEYS.iter(), &[], "What to write when a rule matches or times out."),
            "duration": {
                "type": "string",
                "pattern": DURATION_PATTERN,
                "description": "A duration with a unit: 500ms, 10s, 5m, 24h, 7d, or a sum such as 1h30m.",
                "examples": ["500ms", "10s", "5m", "24h", "7d", "1h30m"]
            },
            "expression": {
                "type": "string",
                "description": "An expression over the event's fields and earlier stages, such as \
                                `metadata.value < baseline.metadata.value * 0.75`."
            },
            "path": {
                "type": "string",
                "description": "A dotted field path, such as `user_id` or `metadata.source_device`."
            },
            "times": {
                "description": "How many times: \"N\", \"N..M\" or \"N..\" (at least N), counting from 1; \
                                use `optional: true` for zero.",
                "oneOf": [
                    { "type": "string", "pattern": TIMES_PATTERN, "examples": ["3", "2..5", "1.."] },
                    { "type": "integer", "minimum": 1 }
                ]
            },
            "skip": {
                "description": "The after-match skip strategy.",
                "oneOf": [
                    { "enum": SKIP_WORDS },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "minProperties": 1,
                        "maxProperties": 1,
                        "properties": {
                            SKIP_TARGET_KEYS[0]: { "type": "string", "description": "Skip to the first event taken by this stage." },
                            SKIP_TARGET_KEYS[1]: { "type": "string", "description": "Skip to the last event taken by this stage." }
                        }
                    }
                ]
            },
            "fields": {
                "type": "object",
                "description": "The trigger event's fields. String values may hold `{{ expression }}` templates; \
                                a value that is exactly one template keeps the expression's JSON type.",
                "additionalProperties": true
            }
        }
    })
}

/// A rule: `name` and either `pattern` (a pattern rule) or `window` (a window rule).
fn rule_schema() -> Value {
    let mut rule = object(
        RawRule::KEYS.iter(),
        &["name"],
        "One rule: a pattern (or windowed aggregation) over a keyed stream and what to emit.",
    );
    rule["oneOf"] = json!([{ "required": ["pattern"] }, { "required": ["window"] }]);
    rule
}

/// An object schema: the given keys, each with its description, nothing else allowed.
fn object<'a>(
    keys: impl Iterator<Item = &'a KeyDoc>,
    required: &[&str],
    description: &str,
) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let value = value_schema(key.key);
        // Draft-07 ignores the siblings of `$ref`, so a described reference goes in `allOf`.
        let mut property = match value {
            Value::Object(m) if m.contains_key("$ref") => {
                let mut wrapper = Map::new();
                wrapper.insert("allOf".into(), Value::Array(vec![Value::Object(m)]));
                wrapper
            }
            Value::Object(m) => m,
            _ => Map::new(),
        };
        property.insert("description".into(), Value::String(describe(key.doc)));
        properties.insert(key.key.into(), Value::Object(property));
    }
    let mut object = json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "properties": properties,
    });
    if !required.is_empty() {
        object["required"] = json!(required);
    }
    object
}

/// The schema of each key's value. Keys are unique across the mappings, except those that
/// stages and groups share, which mean the same in both.
fn value_schema(key: &str) -> Value {
    let reference = |name: &str| json!({ "$ref": format!("#/definitions/{name}") });
    let flag = json!({ "type": "boolean" });
    match key {
        "name" | "description" | "stage" | "group" | "topic" => json!({ "type": "string" }),
        "topics" => json!({ "type": "array", "items": { "type": "string" } }),
        "source" => reference("source"),
        "pattern" => reference("pattern"),
        "within" | "max_out_of_orderness" | "max_gap" => reference("duration"),
        "skip" => reference("skip"),
        "emit" | "on_timeout" => reference("emit"),
        "key" | "time" => reference("path"),
        "filter" | "where" | "until" => reference("expression"),
        "contiguity" => json!({ "enum": CONTIGUITY_VALUES }),
        "times" => reference("times"),
        "optional" | "greedy" | "consecutive" | "allow_combinations" | "absent" => flag,
        "fields" => reference("fields"),
        "window" => reference("window"),
        "tumbling" | "size" | "every" | "gap" | "over" => reference("duration"),
        "sliding" => reference("sliding"),
        "session" => reference("session"),
        "aggregates" => reference("aggregates"),
        "having" | "of" => reference("expression"),
        "windows" => reference("windows"),
        // A key added to the raw mirror without a schema here: the schema tests catch it.
        _ => json!({}),
    }
}

/// A doc comment as one paragraph.
fn describe(doc: &str) -> String {
    doc.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The keys that have a value schema of their own (for tests: every raw key must be here).
pub fn has_value_schema(key: &str) -> bool {
    value_schema(key) != json!({})
}
