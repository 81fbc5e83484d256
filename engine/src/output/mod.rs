//! Output records: trigger events built from a rule's `emit`, the `--matches` /
//! `--timeouts` views of matches, and a window rule's triggers and window records. The JSON shapes are DESIGN.md's output contract.

use serde_json::{Map, Value, json};

use crate::compile::{CPart, CTemplate, CValue, CompiledEmit, CompiledRule};
use crate::event::{Event, format_rfc3339};
use crate::nfa::StageId;
use crate::nfa::eval::{PathRef, Scope, eval};
use crate::runtime::GLOBAL_KEY;
use crate::window::FiredWindow;

/// Well-known trigger field names.
pub mod fields {
    pub const TRIGGER_ID: &str = "trigger_id";
    pub const RULE: &str = "rule";
    pub const KEY: &str = "key";
    pub const TRIGGER_TYPE: &str = "trigger_type";
    pub const SEVERITY: &str = "severity";
    pub const MESSAGE: &str = "message";
    pub const CONTEXT_WINDOW: &str = "context_window";
    pub const TIMESTAMP: &str = "timestamp";
    /// Window triggers and window records: the window's range, RFC 3339.
    pub const WINDOW_START: &str = "window_start";
    pub const WINDOW_END: &str = "window_end";
    /// Window records: the aggregates by name, and the window's event count.
    pub const AGGREGATES: &str = "aggregates";
    pub const EVENTS: &str = "events";
}

/// The default topic of triggers whose rule names none.
pub const DEFAULT_ALERTS_TOPIC: &str = "alerts";

fn key_json(key: &str) -> Value {
    if key == GLOBAL_KEY { Value::Null } else { Value::String(key.to_string()) }
}

fn event_json(e: &Event) -> Value {
    // An event kept without its text (the pipeline did not keep texts) prints as null.
    e.raw().and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or(Value::Null)
}

/// `{"<stage>": [<event>, ...]}`, stages in pattern order, events in the order taken.
pub fn match_object(rule: &CompiledRule, path: &[(StageId, Event)]) -> Value {
    let mut by_stage = Map::new();
    for (id, stage) in rule.program.stages.iter().enumerate() {
        if stage.is_group {
            continue;
        }
        let events: Vec<Value> =
            path.iter().filter(|(s, _)| *s as usize == id).map(|(_, e)| event_json(e)).collect();
        if !events.is_empty() {
            by_stage.insert(stage.name.clone(), Value::Array(events));
        }
    }
    Value::Object(by_stage)
}

/// `--matches`: `{"rule": R, "key": K, "match": {...}}`.
pub fn match_record(rule: &CompiledRule, key: &str, path: &[(StageId, Event)]) -> Value {
    json!({ "rule": rule.name, "key": key_json(key), "match": match_object(rule, path) })
}

/// `--timeouts`: `{"rule": R, "key": K, "timeout": true, "timeout_ts": ms, "match": {...}}`.
pub fn timeout_record(rule: &CompiledRule, key: &str, path: &[(StageId, Event)], at: i64) -> Value {
    json!({
        "rule": rule.name, "key": key_json(key), "timeout": true, "timeout_ts": at,
        "match": match_object(rule, path),
    })
}

/// The trigger event for a match (or, with `timeout_at`, a timed-out partial match), built from
/// `emit`: the standard fields first, then the rule's own.
pub fn trigger(
    rule: &CompiledRule,
    emit: Option<&CompiledEmit>,
    key: &str,
    path: &[(StageId, Event)],
    timeout_at: Option<i64>,
) -> Value {
    let last = path.last().map(|(_, e)| e);
    let scope = Scope { program: &rule.program, event: last, path: PathRef::Slice(path) };
    let own: Vec<(String, Value)> = emit
        .map(|e| e.fields.iter().map(|(k, v)| (k.clone(), value(v, scope))).collect())
        .unwrap_or_default();
    let get = |name: &str| own.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

    let mut out = Map::new();
    out.insert(fields::TRIGGER_ID.into(), Value::String(trigger_id(rule, key, path, timeout_at)));
    out.insert(fields::RULE.into(), Value::String(rule.name.clone()));
    out.insert(fields::KEY.into(), key_json(key));
    let default_type =
        if timeout_at.is_some() { format!("{}_timeout", rule.name) } else { rule.name.clone() };
    out.insert(
        fields::TRIGGER_TYPE.into(),
        get(fields::TRIGGER_TYPE).unwrap_or(Value::String(default_type)),
    );
    if let Some(sev) = get(fields::SEVERITY) {
        out.insert(fields::SEVERITY.into(), sev);
    }
    let default_message = match timeout_at {
        Some(_) => format!("rule {} timed out", rule.name),
        None => format!("rule {} matched", rule.name),
    };
    out.insert(
        fields::MESSAGE.into(),
        get(fields::MESSAGE).unwrap_or(Value::String(default_message)),
    );
    let ids: Vec<Value> = path.iter().filter_map(|(_, e)| e.id()).map(Value::String).collect();
    out.insert(fields::CONTEXT_WINDOW.into(), Value::Array(ids));
    let ts = timeout_at.or(last.map(|e| e.ts)).unwrap_or(0);
    out.insert(fields::TIMESTAMP.into(), Value::String(format_rfc3339(ts)));
    for (k, v) in own {
        if !out.contains_key(&k) {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// The trigger event of a window whose `having` holds: the standard fields (`timestamp` is the
/// window's end, `context_window` is empty: a window stands for many events), the window's
/// range, then the rule's own fields, whose templates read the window's aggregates.
pub fn window_trigger(rule: &CompiledRule, key: &str, fired: &FiredWindow) -> Value {
    let Some(w) = &rule.window else { return Value::Null };
    let scope_event = w.scope_event(key, fired.start, fired.end, &fired.values);
    let scope =
        Scope { program: &rule.program, event: Some(&scope_event), path: PathRef::Slice(&[]) };
    let own: Vec<(String, Value)> = rule
        .emit
        .as_ref()
        .map(|e| e.fields.iter().map(|(k, v)| (k.clone(), value(v, scope))).collect())
        .unwrap_or_default();
    let get = |name: &str| own.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut out = Map::new();
    out.insert(fields::TRIGGER_ID.into(), Value::String(window_id(rule, key, fired)));
    out.insert(fields::RULE.into(), Value::String(rule.name.clone()));
    out.insert(fields::KEY.into(), key_json(key));
    out.insert(
        fields::TRIGGER_TYPE.into(),
        get(fields::TRIGGER_TYPE).unwrap_or(Value::String(rule.name.clone())),
    );
    if let Some(sev) = get(fields::SEVERITY) {
        out.insert(fields::SEVERITY.into(), sev);
    }
    out.insert(
        fields::MESSAGE.into(),
        get(fields::MESSAGE).unwrap_or(Value::String(format!("rule {} window", rule.name))),
    );
    out.insert(fields::CONTEXT_WINDOW.into(), Value::Array(Vec::new()));
    out.insert(fields::TIMESTAMP.into(), Value::String(format_rfc3339(fired.end)));
    out.insert(fields::WINDOW_START.into(), Value::String(format_rfc3339(fired.start)));
    out.insert(fields::WINDOW_END.into(), Value::String(format_rfc3339(fired.end)));
    for (k, v) in own {
        if !out.contains_key(&k) {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// A window record (`windows.topic`, `replay --windows`): `{"rule", "key", "window_start",
/// "window_end", "events", "aggregates": {name: value, ...}}`, aggregates in the rule's order.
pub fn window_record(rule: &CompiledRule, key: &str, fired: &FiredWindow) -> Value {
    let mut aggregates = Map::new();
    if let Some(w) = &rule.window {
        for (a, v) in w.aggregates.iter().zip(&fired.values) {
            aggregates.insert(a.name.clone(), v.to_json());
        }
    }
    let mut out = Map::new();
    out.insert(fields::RULE.into(), Value::String(rule.name.clone()));
    out.insert(fields::KEY.into(), key_json(key));
    out.insert(fields::WINDOW_START.into(), Value::String(format_rfc3339(fired.start)));
    out.insert(fields::WINDOW_END.into(), Value::String(format_rfc3339(fired.end)));
    out.insert(fields::EVENTS.into(), Value::from(fired.events));
    out.insert(fields::AGGREGATES.into(), Value::Object(aggregates));
    Value::Object(out)
}

/// A window trigger's id: rule, key and the window's range identify it (a window fires once).
fn window_id(rule: &CompiledRule, key: &str, fired: &FiredWindow) -> String {
    let mut a = Fnv::new(0xcbf2_9ce4_8422_2325);
    let mut b = Fnv::new(0x6c62_272e_07bb_0142);
    for bytes in [
        rule.name.as_bytes(),
        key.as_bytes(),
        b"window",
        &fired.start.to_le_bytes(),
        &fired.end.to_le_bytes(),
    ] {
        a.write(bytes);
        b.write(bytes);
        a.write(&[0xff]);
        b.write(&[0xff]);
    }
    format!("{:016x}{:016x}", a.0, b.0)
}

fn value(v: &CValue, scope: Scope<'_>) -> Value {
    match v {
        CValue::Const(c) => c.clone(),
        CValue::Template(CTemplate::Single(e)) => eval(e, scope).to_json(),
        CValue::Template(CTemplate::Parts(parts)) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    CPart::Text(t) => s.push_str(t),
                    CPart::Expr(e) => s.push_str(&eval(e, scope).to_text()),
                }
            }
            Value::String(s)
        }
        CValue::List(items) => items.iter().map(|i| value(i, scope)).collect(),
        CValue::Map(entries) => {
            Value::Object(entries.iter().map(|(k, v)| (k.clone(), value(v, scope))).collect())
        }
    }
}

/// A deterministic id: the same rule, key and matched events give the same id, wherever the
/// events came from (a file or Kafka), because it hashes their content, not their position.
pub fn trigger_id(
    rule: &CompiledRule,
    key: &str,
    path: &[(StageId, Event)],
    timeout_at: Option<i64>,
) -> String {
    let mut a = Fnv::new(0xcbf2_9ce4_8422_2325);
    let mut b = Fnv::new(0x6c62_272e_07bb_0142);
    let mut feed = |bytes: &[u8]| {
        a.write(bytes);
        b.write(bytes);
        a.write(&[0xff]);
        b.write(&[0xff]);
    };
    feed(rule.name.as_bytes());
    feed(key.as_bytes());
    for (stage, e) in path {
        feed(&stage.to_le_bytes());
        feed(&e.ts.to_le_bytes());
        let [lo, hi] = e.digest();
        feed(&lo.to_le_bytes());
        feed(&hi.to_le_bytes());
    }
    if let Some(t) = timeout_at {
        feed(b"timeout");
        feed(&t.to_le_bytes());
    }
    format!("{:016x}{:016x}", a.0, b.0)
}

/// FNV-1a, 64 bits: small, stable across platforms and versions.
struct Fnv(u64);

impl Fnv {
    fn new(seed: u64) -> Fnv {
        Fnv(seed)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
