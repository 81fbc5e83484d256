//! A stable text (or Graphviz) dump of a compiled rule's NFA, for `cepheus explain`.

use std::fmt::Write as _;

use cepheus_grammar::duration;

use crate::nfa::program::{Action, Program, SkipStrategy, StateKind};

use cepheus_grammar::resolve::WindowAggregate;

use super::CompiledRule;
use super::window::{CompiledWindow, WindowKind};

/// The NFA as text: one block per state, its edges in the order they are tried.
pub fn text(rule: &CompiledRule) -> String {
    if let Some(w) = &rule.window {
        return window_text(rule, w);
    }
    let p = &rule.program;
    let mut out = String::new();
    let _ = writeln!(out, "rule {}", rule.name);
    let _ = writeln!(
        out,
        "  within: {}",
        p.within.map_or("none".into(), |w| duration::format(w as u64))
    );
    let _ = writeln!(out, "  skip: {}", skip_text(p));
    let _ = writeln!(out, "  states: {}", p.states.len());
    for (i, s) in p.states.iter().enumerate() {
        let mut tags = Vec::new();
        if i as u32 == p.start {
            tags.push("start".to_string());
        }
        match s.kind {
            StateKind::Final => tags.push("final".into()),
            StateKind::Stop => tags.push("stop".into()),
            StateKind::Pending => tags.push("pending: matches when its window ends".into()),
            StateKind::Normal => {}
        }
        if let Some(g) = s.max_gap {
            tags.push(format!("max_gap {}", duration::format(g as u64)));
        }
        let tags = if tags.is_empty() { String::new() } else { format!(" ({})", tags.join(", ")) };
        let _ = writeln!(out, "  state {}{tags}", s.name);
        for e in &s.edges {
            let _ = writeln!(
                out,
                "    {:<7} -> {:<12} if {}",
                action_text(e.action),
                p.state(e.target).name,
                p.cond_text(e.cond)
            );
        }
    }
    out
}

/// A window rule: its windows, aggregates (with what each keeps), `having` and outputs.
fn window_text(rule: &CompiledRule, w: &CompiledWindow) -> String {
    let d = |ms: i64| duration::format(ms as u64);
    let mut out = String::new();
    let _ = writeln!(out, "rule {} (window rule)", rule.name);
    let kind = match w.kind {
        WindowKind::Tumbling { size } => format!("tumbling {} (epoch-aligned, half-open)", d(size)),
        WindowKind::Sliding { size, every } => format!(
            "sliding {} every {} (epoch-aligned, half-open; each event is in {} windows)",
            d(size),
            d(every),
            size / every
        ),
        WindowKind::Session { gap } => {
            format!("session gap {} (overlapping sessions merge)", d(gap))
        }
    };
    let _ = writeln!(out, "  window: {kind}");
    let _ = writeln!(
        out,
        "  fires: when the watermark reaches a window's end; empty windows never fire"
    );
    let _ = writeln!(out, "  aggregates: {}", w.aggregates.len());
    let asts = rule.ast.window.as_ref().map(|a| a.aggregates.as_slice()).unwrap_or_default();
    for (a, ast) in w.aggregates.iter().zip(asts) {
        let range = a.over.map_or("the window".to_string(), |o| format!("[end - {}, end)", d(o)));
        let state = match (a.func, a.over) {
            (_, Some(_)) => "history of the key",
            (WindowAggregate::CountDistinct, _) => "distinct values",
            (WindowAggregate::Percentile, _) => "every value",
            _ => "incremental",
        };
        let filter = ast.filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default();
        let _ = writeln!(out, "    {} = {}{filter} over {range} ({state})", a.name, ast.of);
    }
    let having = rule.ast.window.as_ref().and_then(|a| a.having.as_ref());
    let _ = writeln!(
        out,
        "  having: {}",
        having.map_or("none (no triggers)".to_string(), |h| h.to_string())
    );
    if let Some(t) = &w.windows_topic {
        let _ = writeln!(out, "  windows to: {t}");
    }
    out
}

/// The NFA as a Graphviz digraph.
pub fn dot(rule: &CompiledRule) -> String {
    let p = &rule.program;
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&rule.name));
    let _ = writeln!(out, "  rankdir=LR;");
    for (i, s) in p.states.iter().enumerate() {
        let shape = match s.kind {
            StateKind::Final => "doublecircle",
            StateKind::Stop => "octagon",
            StateKind::Pending => "doubleoctagon",
            StateKind::Normal if i as u32 == p.start => "box",
            StateKind::Normal => "ellipse",
        };
        let _ = writeln!(out, "  s{i} [label=\"{}\", shape={shape}];", escape(&s.name));
    }
    for (i, s) in p.states.iter().enumerate() {
        for e in &s.edges {
            let style = match e.action {
                Action::Take => "solid",
                Action::Ignore => "dashed",
                Action::Proceed => "dotted",
            };
            let _ = writeln!(
                out,
                "  s{i} -> s{} [label=\"{} if {}\", style={style}];",
                e.target,
                action_text(e.action),
                escape(&p.cond_text(e.cond))
            );
        }
    }
    out.push_str("}\n");
    out
}

fn action_text(a: Action) -> &'static str {
    match a {
        Action::Take => "take",
        Action::Ignore => "ignore",
        Action::Proceed => "proceed",
    }
}

fn skip_text(p: &Program) -> String {
    match p.skip {
        SkipStrategy::NoSkip => "no_skip".into(),
        SkipStrategy::ToNext => "to_next".into(),
        SkipStrategy::PastLastEvent => "past_last_event".into(),
        SkipStrategy::ToFirst(s) => format!("to_first {}", p.stages[s as usize].name),
        SkipStrategy::ToLast(s) => format!("to_last {}", p.stages[s as usize].name),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
