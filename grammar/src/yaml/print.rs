//! AST -> canonical YAML: DESIGN.md's key order and style, reading back to an equal AST.
//!
//! Block style throughout, two-space indentation, a list of scalars in flow style
//! (`topics: [a, b]`). As in DESIGN.md, every element after the first says how it follows the
//! one before (`contiguity: relaxed` included), and `times` is quoted. Other keys with default
//! values are left out: `times` of exactly once, `false` flags, `skip: no_skip`, an empty
//! `source`. A string is written plain when YAML reads it back as the same string, and
//! double-quoted (with escapes) otherwise.

use std::fmt::Write as _;

use crate::ast::{
    Contiguity, Element, Emit, Group, Quantifier, Rule, Skip, Source, Stage, Value, Window,
    Windowed,
};

const INDENT: usize = 2;

/// The canonical YAML of one rule.
pub fn rule(rule: &Rule) -> String {
    let mut out = Out::default();
    out.entry(0, "name", &scalar(&rule.name.text));
    if let Some(description) = &rule.description {
        out.entry(0, "description", &scalar(description));
    }
    source(&mut out, &rule.source);
    if rule.window.is_none() || !rule.pattern.is_empty() {
        pattern(&mut out, 0, &rule.pattern);
    }
    if let Some(w) = &rule.window {
        windowed(&mut out, w);
    }
    if let Some(within) = &rule.within {
        out.entry(0, "within", &crate::duration::format(within.millis));
    }
    match &rule.skip {
        Skip::NoSkip => {}
        Skip::ToNext => out.entry(0, "skip", "to_next"),
        Skip::PastLastEvent => out.entry(0, "skip", "past_last_event"),
        Skip::ToFirst(s) => {
            out.entry(0, "skip", &format!("{{to_first: {}}}", flow_scalar(&s.text)))
        }
        Skip::ToLast(s) => out.entry(0, "skip", &format!("{{to_last: {}}}", flow_scalar(&s.text))),
    }
    if let Some(emit) = &rule.emit {
        self::emit(&mut out, "emit", emit);
    }
    if let Some(on_timeout) = &rule.on_timeout {
        emit(&mut out, "on_timeout", on_timeout);
    }
    if let Some(windows) = rule.window.as_ref().and_then(|w| w.windows.as_ref()) {
        out.key(0, "windows");
        out.entry(INDENT, "topic", &scalar(&windows.topic.text));
    }
    out.text
}

/// `window:`, `aggregates:` and `having:` of a window rule.
fn windowed(out: &mut Out, w: &Windowed) {
    let d = |d: &crate::ast::Duration| crate::duration::format(d.millis);
    out.key(0, "window");
    match &w.window {
        Window::Tumbling { size, .. } => out.entry(INDENT, "tumbling", &d(size)),
        Window::Sliding { size, every, .. } => {
            out.entry(INDENT, "sliding", &format!("{{size: {}, every: {}}}", d(size), d(every)))
        }
        Window::Session { gap, .. } => {
            out.entry(INDENT, "session", &format!("{{gap: {}}}", d(gap)))
        }
    }
    if w.aggregates.is_empty() {
        out.entry(0, "aggregates", "{}");
    } else {
        out.key(0, "aggregates");
        for a in &w.aggregates {
            let name = scalar(&a.name.text);
            if a.filter.is_none() && a.over.is_none() {
                out.entry(INDENT, &name, &scalar(&a.of.to_string()));
                continue;
            }
            out.key(INDENT, &name);
            out.entry(2 * INDENT, "of", &scalar(&a.of.to_string()));
            if let Some(f) = &a.filter {
                out.entry(2 * INDENT, "where", &scalar(&f.to_string()));
            }
            if let Some(over) = &a.over {
                out.entry(2 * INDENT, "over", &d(over));
            }
        }
    }
    if let Some(having) = &w.having {
        out.entry(0, "having", &scalar(&having.to_string()));
    }
}

fn source(out: &mut Out, source: &Source) {
    if *source == Source::default() {
        return;
    }
    out.key(0, "source");
    if !source.topics.is_empty() {
        let topics: Vec<String> = source.topics.iter().map(|t| flow_scalar(&t.text)).collect();
        out.entry(INDENT, "topics", &format!("[{}]", topics.join(", ")));
    }
    if let Some(key) = &source.key {
        out.entry(INDENT, "key", &scalar(&key.to_string()));
    }
    if let Some(time) = &source.time {
        out.entry(INDENT, "time", &scalar(&time.to_string()));
    }
    if let Some(filter) = &source.filter {
        out.entry(INDENT, "filter", &scalar(&filter.to_string()));
    }
    if let Some(d) = &source.max_out_of_orderness {
        out.entry(INDENT, "max_out_of_orderness", &crate::duration::format(d.millis));
    }
}

fn pattern(out: &mut Out, indent: usize, elements: &[Element]) {
    if elements.is_empty() {
        out.entry(indent, "pattern", "[]");
        return;
    }
    out.key(indent, "pattern");
    for element in elements {
        let mut body = Out::default();
        match element {
            Element::Stage(s) => stage(&mut body, s),
            Element::Group(g) => group(&mut body, g),
        }
        out.item(indent + INDENT, &body.text);
    }
}

fn stage(out: &mut Out, stage: &Stage) {
    out.entry(0, "stage", &scalar(&stage.name.text));
    if stage.absent {
        out.entry(0, "absent", "true");
    }
    contiguity(out, stage.contiguity);
    quantifier(out, &stage.quantifier);
    if let Some(gap) = &stage.max_gap {
        out.entry(0, "max_gap", &crate::duration::format(gap.millis));
    }
    if let Some(condition) = &stage.condition {
        out.entry(0, "where", &scalar(&condition.to_string()));
    }
}

fn group(out: &mut Out, group: &Group) {
    out.entry(0, "group", &scalar(&group.name.text));
    contiguity(out, group.contiguity);
    quantifier(out, &group.quantifier);
    pattern(out, 0, &group.pattern);
}

/// Written whenever the element has one: always after the first element (reading fills in
/// `relaxed` when it is not written, but then records that it was not written).
fn contiguity(out: &mut Out, contiguity: Option<Contiguity>) {
    if let Some(c) = contiguity {
        out.entry(0, "contiguity", c.yaml_name());
    }
}

fn quantifier(out: &mut Out, q: &Quantifier) {
    match (q.min, q.max) {
        (1, Some(1)) => {}
        (min, Some(max)) if min == max => out.entry(0, "times", &format!("\"{min}\"")),
        (min, Some(max)) => out.entry(0, "times", &format!("\"{min}..{max}\"")),
        (min, None) => out.entry(0, "times", &format!("\"{min}..\"")),
    }
    for (key, on) in [
        ("optional", q.optional),
        ("greedy", q.greedy),
        ("consecutive", q.consecutive),
        ("allow_combinations", q.allow_combinations),
    ] {
        if on {
            out.entry(0, key, "true");
        }
    }
    if let Some(until) = &q.until {
        out.entry(0, "until", &scalar(&until.to_string()));
    }
}

fn emit(out: &mut Out, key: &str, emit: &Emit) {
    if emit.topic.is_none() && emit.fields.is_empty() {
        out.entry(0, key, "{}");
        return;
    }
    out.key(0, key);
    if let Some(topic) = &emit.topic {
        out.entry(INDENT, "topic", &scalar(&topic.text));
    }
    if !emit.fields.is_empty() {
        out.key(INDENT, "fields");
        for (name, v) in &emit.fields {
            value_entry(out, 2 * INDENT, &name.text, v);
        }
    }
}

/// `key: value`, with a nested block for a non-empty map or a list holding collections.
fn value_entry(out: &mut Out, indent: usize, key: &str, v: &Value) {
    let key = scalar(key);
    match v {
        Value::Map(entries) if !entries.is_empty() => {
            out.key(indent, &key);
            for (k, v) in entries {
                value_entry(out, indent + INDENT, &k.text, v);
            }
        }
        Value::List(items) if !is_flat(items) => {
            out.key(indent, &key);
            list_items(out, indent + INDENT, items);
        }
        v => out.entry(indent, &key, &inline_value(v, false)),
    }
}

fn list_items(out: &mut Out, indent: usize, items: &[Value]) {
    for item in items {
        let mut body = Out::default();
        match item {
            Value::Map(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    value_entry(&mut body, 0, &k.text, v);
                }
            }
            Value::List(inner) if !inner.is_empty() && !is_flat(inner) => {
                list_items(&mut body, 0, inner)
            }
            v => body.text.push_str(&format!("{}\n", inline_value(v, false))),
        }
        out.item(indent, &body.text);
    }
}

/// A list of scalars (or empty collections), written in flow style.
fn is_flat(items: &[Value]) -> bool {
    items.iter().all(|i| match i {
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => true,
    })
}

/// A scalar, `[]`, `{}` or a flat list, on one line.
fn inline_value(v: &Value, flow: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float(*f),
        Value::String(t) => {
            let text = t.to_string();
            if flow { flow_scalar(&text) } else { scalar(&text) }
        }
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|i| inline_value(i, true)).collect();
            format!("[{}]", items.join(", "))
        }
        // Only empty maps are written inline.
        Value::Map(_) => "{}".into(),
    }
}

/// A float as YAML 1.2 reads it back: always with a point or an exponent, so it stays a float.
fn float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf".into() } else { "-.inf".into() }
    } else {
        format!("{f:?}")
    }
}

/// A string in block context: plain when that reads back as the same string, else quoted.
pub fn scalar(s: &str) -> String {
    if is_plain_safe(s, false) { s.to_string() } else { double_quoted(s) }
}

/// A string inside `[...]` or `{...}`, where `,[]{}` also end a plain scalar.
pub fn flow_scalar(s: &str) -> String {
    if is_plain_safe(s, true) { s.to_string() } else { double_quoted(s) }
}

/// Whether `s` written plain reads back as the string `s`. Deliberately conservative: quoting
/// a string that did not need it costs two characters; not quoting one that did changes it.
fn is_plain_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let last = s.chars().next_back().unwrap_or(first);
    // Indicators, and anything YAML might read as a number (`1`, `+1`, `.5`, `-1`).
    if "-?:,[]{}#&*!|>'\"%@`+.~=<0123456789".contains(first) || first.is_whitespace() {
        return false;
    }
    if last.is_whitespace() || last == ':' {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}', ':', '#']) {
        return false;
    }
    if s.chars().any(|c| c.is_control() || needs_escape(c)) {
        return false;
    }
    // Words YAML 1.2 (or, for tools that still speak it, 1.1) reads as null or a boolean.
    const WORDS: &[&str] = &[
        "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
        "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ];
    !WORDS.contains(&s)
}

/// Characters written as escapes in a double-quoted scalar: YAML does not allow them raw, or
/// folds them as line breaks.
fn needs_escape(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
        || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// A double-quoted YAML scalar, with escapes for everything that is not printable as is.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{ff}').contains(&c) && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) || c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text being built, line by line.
#[derive(Debug, Default)]
struct Out {
    text: String,
}

impl Out {
    /// `key: value` on one line.
    fn entry(&mut self, indent: usize, key: &str, value: &str) {
        let _ = writeln!(self.text, "{:indent$}{key}: {value}", "");
    }

    /// `key:` opening a nested block.
    fn key(&mut self, indent: usize, key: &str) {
        let _ = writeln!(self.text, "{:indent$}{key}:", "");
    }

    /// A sequence item: `body` (written at indentation 0) shifted to `indent`, its first line
    /// behind `- `.
    fn item(&mut self, indent: usize, body: &str) {
        for (i, line) in body.lines().enumerate() {
            let lead = if i == 0 { "- " } else { "  " };
            let _ = writeln!(self.text, "{:indent$}{lead}{line}", "");
        }
    }
}
