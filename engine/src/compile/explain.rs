//! A stable text (or Graphviz) dump of a compiled rule's NFA, for `cepheus explain`.

use std::fmt::Write as _;

use cepheus_grammar::duration;

use crate::nfa::program::{Action, Program, SkipStrategy, StateKind};

use super::CompiledRule;

/// The NFA as text: one block per state, its edges in the order they are tried.
pub fn text(rule: &CompiledRule) -> String {
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
