//! AST -> canonical DSL text: one clause per line, one stage per line, two-space indents.
//!
//! The output parses back to an equal AST (the round-trip property tests hold it to that).
//! Defaults are left out (`no skip`, a quantifier of exactly one), expressions print with their
//! `Display`, durations with [`crate::duration::format`], strings double-quoted with escapes.
//! Names are printed as they are: a name that is not a DSL identifier (possible in YAML) gives
//! text the parser refuses, with a diagnostic at that name.

use std::fmt::Write as _;

use crate::ast::{
    Contiguity, Element, Emit, Group, Literal, Name, Quantifier, Rule, Skip, Stage, Value, Window,
    Windowed,
};
use crate::duration;

/// The whole rule, ending in a newline.
pub(super) fn rule(rule: &Rule) -> String {
    let mut out = String::new();
    out.push_str("rule ");
    out.push_str(&rule.name.text);
    if let Some(description) = &rule.description {
        out.push(' ');
        string(&mut out, description);
    }
    out.push('\n');

    let source = &rule.source;
    let mut line = Vec::new();
    if !source.topics.is_empty() {
        let topics: Vec<String> = source.topics.iter().map(topic).collect();
        line.push(format!("from {}", topics.join(", ")));
    }
    if let Some(key) = &source.key {
        line.push(format!("key {key}"));
    }
    if let Some(time) = &source.time {
        line.push(format!("time {time}"));
    }
    if let Some(d) = &source.max_out_of_orderness {
        line.push(format!("out of order {}", duration::format(d.millis)));
    }
    if !line.is_empty() {
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    if let Some(filter) = &source.filter {
        let _ = writeln!(out, "filter {filter}");
    }

    if !rule.pattern.is_empty() {
        out.push_str("pattern\n");
        elements(&mut out, &rule.pattern, 1);
    }
    if let Some(w) = &rule.window {
        windowed(&mut out, w);
    }
    if let Some(within) = &rule.within {
        let _ = writeln!(out, "within {}", duration::format(within.millis));
    }
    match &rule.skip {
        Skip::NoSkip => {}
        Skip::ToNext => out.push_str("skip to next\n"),
        Skip::PastLastEvent => out.push_str("skip past last event\n"),
        Skip::ToFirst(stage) => {
            let _ = writeln!(out, "skip to first {}", stage.text);
        }
        Skip::ToLast(stage) => {
            let _ = writeln!(out, "skip to last {}", stage.text);
        }
    }
    if let Some(e) = &rule.emit {
        emit(&mut out, e);
    }
    if let Some(e) = &rule.on_timeout {
        out.push_str("on timeout ");
        emit(&mut out, e);
    }
    if let Some(windows) = rule.window.as_ref().and_then(|w| w.windows.as_ref()) {
        let _ = writeln!(out, "emit windows to {}", topic(&windows.topic));
    }
    out
}

/// `window ...`, `aggregate ...` and `having ...` of a window rule.
fn windowed(out: &mut String, w: &Windowed) {
    let d = |d: &crate::ast::Duration| duration::format(d.millis);
    let _ = match &w.window {
        Window::Tumbling { size, .. } => writeln!(out, "window tumbling {}", d(size)),
        Window::Sliding { size, every, .. } => {
            writeln!(out, "window sliding {} every {}", d(size), d(every))
        }
        Window::Session { gap, .. } => writeln!(out, "window session gap {}", d(gap)),
    };
    if !w.aggregates.is_empty() {
        out.push_str("aggregate\n");
        for a in &w.aggregates {
            let _ = write!(out, "  {} = {}", a.name.text, a.of);
            if let Some(f) = &a.filter {
                let _ = write!(out, " where {f}");
            }
            if let Some(over) = &a.over {
                let _ = write!(out, " over {}", d(over));
            }
            out.push('\n');
        }
    }
    if let Some(having) = &w.having {
        let _ = writeln!(out, "having {having}");
    }
}

fn indent(out: &mut String, level: usize) {
    out.push_str(&"  ".repeat(level));
}

/// One element per line, the first without a connector.
fn elements(out: &mut String, elements: &[Element], level: usize) {
    for element in elements {
        indent(out, level);
        match element {
            Element::Stage(s) => stage(out, s),
            Element::Group(g) => group(out, g, level),
        }
        out.push('\n');
    }
}

/// The connector before an element (with its trailing space), from contiguity and absence.
fn connector(contiguity: Option<Contiguity>, absent: bool) -> &'static str {
    match (contiguity, absent) {
        (None, false) => "",
        (None, true) => "not ",
        (Some(Contiguity::Strict), false) => "next ",
        (Some(Contiguity::Relaxed), false) => "followed by ",
        (Some(Contiguity::NonDeterministic), false) => "followed by any ",
        (Some(Contiguity::Strict), true) => "not next ",
        (Some(Contiguity::Relaxed), true) => "not followed by ",
        (Some(Contiguity::NonDeterministic), true) => "not followed by any ",
    }
}

/// `followed by drop{3,} greedy where ... until ... max gap 12h`
fn stage(out: &mut String, s: &Stage) {
    out.push_str(connector(s.contiguity, s.absent));
    out.push_str(&s.name.text);
    quantifier(out, &s.quantifier);
    if let Some(condition) = &s.condition {
        let _ = write!(out, " where {condition}");
    }
    if let Some(until) = &s.quantifier.until {
        let _ = write!(out, " until {until}");
    }
    if let Some(gap) = &s.max_gap {
        let _ = write!(out, " max gap {}", duration::format(gap.millis));
    }
}

/// `followed by group visit (` members `){2}? until ...`
fn group(out: &mut String, g: &Group, level: usize) {
    out.push_str(connector(g.contiguity, false));
    let _ = write!(out, "group {} (", g.name.text);
    if !g.pattern.is_empty() {
        out.push('\n');
        elements(out, &g.pattern, level + 1);
        indent(out, level);
    }
    out.push(')');
    quantifier(out, &g.quantifier);
    if let Some(until) = &g.quantifier.until {
        let _ = write!(out, " until {until}");
    }
}

/// The count (`{n}`, `{n,m}`, `{n,}`, `+`, `*`), `?`, and the loop words; nothing for
/// "exactly one". `until` is printed by the caller, as a clause.
fn quantifier(out: &mut String, q: &Quantifier) {
    let mut optional_written = false;
    match (q.min, q.max) {
        (1, Some(1)) => {}
        (1, None) if q.optional => {
            out.push('*');
            optional_written = true;
        }
        (1, None) => out.push('+'),
        (n, Some(m)) if n == m => {
            let _ = write!(out, "{{{n}}}");
        }
        (n, Some(m)) => {
            let _ = write!(out, "{{{n},{m}}}");
        }
        (n, None) => {
            let _ = write!(out, "{{{n},}}");
        }
    }
    if q.optional && !optional_written {
        out.push('?');
    }
    for (on, word) in [
        (q.greedy, " greedy"),
        (q.consecutive, " consecutive"),
        (q.allow_combinations, " combinations"),
    ] {
        if on {
            out.push_str(word);
        }
    }
}

/// `emit to alerts {` one field per line `}`
fn emit(out: &mut String, e: &Emit) {
    out.push_str("emit ");
    if let Some(t) = &e.topic {
        let _ = write!(out, "to {} ", topic(t));
    }
    if e.fields.is_empty() {
        out.push_str("{}\n");
        return;
    }
    out.push_str("{\n");
    for (key, v) in &e.fields {
        indent(out, 1);
        field_key(out, key);
        out.push_str(": ");
        value(out, v);
        out.push_str(",\n");
    }
    out.push_str("}\n");
}

/// A topic bare when it is made of topic characters, else quoted.
fn topic(name: &Name) -> String {
    let t = &name.text;
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        t.clone()
    } else {
        let mut s = String::new();
        string(&mut s, t);
        s
    }
}

/// A field name bare when it is an identifier, else quoted.
fn field_key(out: &mut String, key: &Name) {
    let t = &key.text;
    let mut chars = t.chars();
    let bare = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare { out.push_str(t) } else { string(out, t) }
}

/// Values inline: `"text {{ expr }}"`, `1`, `0.5`, `[..]`, `{ k: v }`.
fn value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // `{:?}` keeps a `.0` on whole floats, so they read back as floats.
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::String(template) => string(out, &template.to_string()),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(out, item);
            }
            out.push(']');
        }
        Value::Map(fields) if fields.is_empty() => out.push_str("{}"),
        Value::Map(fields) => {
            out.push_str("{ ");
            for (i, (key, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                field_key(out, key);
                out.push_str(": ");
                value(out, v);
            }
            out.push_str(" }");
        }
    }
}

/// A double-quoted literal with escapes, as expressions write strings.
fn string(out: &mut String, s: &str) {
    let _ = write!(out, "{}", Literal::String(s.to_string()));
}
