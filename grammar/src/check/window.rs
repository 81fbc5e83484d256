//! Window rules: their windows, aggregates, `having`, `emit` and `windows`.
//!
//! A window rule has no stages, so the pattern passes do not run on it; this pass checks
//! instead that
//!
//! - the pattern-only keys (`within`, `skip`, `on_timeout`) are absent;
//! - every duration is positive, a sliding window's `every` divides its `size`, and an
//!   aggregate's `over` is at least as long as the window it extends;
//! - every aggregate is a known aggregate function with the right arguments, and aggregate
//!   names are unique;
//! - `having` and the `emit` templates read only aggregate names, `key`, `window.start` and
//!   `window.end`;
//! - `emit` comes with `having` (and the other way round), and the rule writes something.

use std::collections::HashMap;

use crate::ast::{
    Emit, Expr, ExprKind, Literal, Path, Rule, Segment, TemplatePart, Value, Window, Windowed,
};
use crate::diagnostic::{Diagnostic, codes};
use crate::duration;
use crate::resolve::WindowAggregate;
use crate::source::Span;

use super::Stages;
use super::references::{Scope, check_expr};

/// Names `having` and templates may read besides the aggregates.
pub const WINDOW_NAMES: &[&str] = &["key", "window.start", "window.end"];

/// A rule written with both a `window` (at `window`) and a `pattern` (at `pattern`), found
/// while lowering either form.
pub(crate) fn pattern_and_window(window: Span, pattern: Span) -> Diagnostic {
    Diagnostic::error(codes::PATTERN_AND_WINDOW, "a rule has a `pattern` or a `window`, not both")
        .at(window, "a window rule")
        .with_label(pattern, "and a pattern rule")
        .with_help("write the pattern and the windowed aggregation as two rules")
}

pub(super) fn check(rule: &Rule, w: &Windowed, stages: &Stages<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    pattern_keys(rule, w, &mut out);
    durations(w, &mut out);
    let mut seen: HashMap<&str, &crate::ast::Aggregate> = HashMap::new();
    if w.aggregates.is_empty() {
        out.push(
            Diagnostic::error(codes::NO_AGGREGATES, "a window rule without aggregates")
                .at(w.window.span(), "windows of nothing")
                .with_help("add `aggregates:` (DSL: `aggregate`), such as `events: count()`"),
        );
    }
    for a in &w.aggregates {
        if let Some(first) = seen.get(a.name.text.as_str()) {
            out.push(
                Diagnostic::error(
                    codes::DUPLICATE_AGGREGATE,
                    format!("two aggregates are named `{}`", a.name),
                )
                .at(a.name.span, "named again here")
                .with_label(first.name.span, "first named here")
                .with_help("give each aggregate its own name"),
            );
        } else {
            seen.insert(&a.name.text, a);
        }
        call(&a.of, stages, &mut out);
        if let Some(filter) = &a.filter {
            inner_expr(filter, stages, &mut out);
        }
    }
    let names: Vec<&str> = w.aggregates.iter().map(|a| a.name.text.as_str()).collect();
    if let Some(having) = &w.having {
        reads(having, &names, "`having`", &mut out);
    }
    if let Some(emit) = &rule.emit {
        emit_reads(emit, &names, &mut out);
    }
    match (&w.having, &rule.emit) {
        (None, Some(emit)) => out.push(
            Diagnostic::error(
                codes::EMIT_WITHOUT_HAVING,
                "`emit` on a window rule without `having`",
            )
            .at(emit.span, "which windows trigger?")
            .with_help(
                "add `having: CONDITION` over the aggregates (`having: events >= 10`); to \
                     write every window, use `windows: {topic: TOPIC}` instead of `emit`",
            ),
        ),
        (Some(having), None) => out.push(
            Diagnostic::error(
                codes::HAVING_WITHOUT_EMIT,
                "`having` on a window rule without `emit`",
            )
            .at(having.span, "a trigger with nowhere to go")
            .with_help("add `emit:` with the trigger's topic and fields"),
        ),
        _ => {}
    }
    if rule.emit.is_none() && w.windows.is_none() {
        out.push(
            Diagnostic::error(codes::WINDOW_WRITES_NOTHING, "a window rule that writes nothing")
                .at(w.window.span(), "neither `emit` nor `windows`")
                .with_help(
                    "add `having` and `emit` (triggers), or `windows: {topic: TOPIC}` (every \
                     window's aggregates), or both",
                ),
        );
    }
    out
}

fn pattern_keys(rule: &Rule, w: &Windowed, out: &mut Vec<Diagnostic>) {
    let refuse = |key: &str, at: crate::Span| {
        Diagnostic::error(
            codes::PATTERN_KEY_ON_WINDOW_RULE,
            format!("`{key}` belongs to pattern rules, not to window rules"),
        )
        .at(at, "not valid on a window rule")
        .with_label(w.window.span(), "this is a window rule")
        .with_help("a window rule closes its windows by event time; remove it")
    };
    if let Some(within) = &rule.within {
        out.push(refuse("within", within.span));
    }
    match &rule.skip {
        crate::ast::Skip::NoSkip => {}
        crate::ast::Skip::ToFirst(n) | crate::ast::Skip::ToLast(n) => {
            out.push(refuse("skip", n.span))
        }
        // `to_next` and `past_last_event` keep no span: point at the window instead.
        _ => out.push(
            Diagnostic::error(
                codes::PATTERN_KEY_ON_WINDOW_RULE,
                "`skip` belongs to pattern rules, not to window rules",
            )
            .at(w.window.span(), "a window rule has no skip strategy")
            .with_help("a window rule closes its windows by event time; remove `skip`"),
        ),
    }
    if let Some(t) = &rule.on_timeout {
        out.push(refuse("on_timeout", t.span));
    }
}

fn durations(w: &Windowed, out: &mut Vec<Diagnostic>) {
    let zero = |what: &str, d: &crate::ast::Duration| {
        Diagnostic::error(codes::ZERO_DURATION, format!("`{what}` of zero"))
            .at(d.span, "zero")
            .with_help(format!("`{what}` needs a positive duration, such as `5m`"))
    };
    let mut positive = true;
    match &w.window {
        Window::Tumbling { size, .. } if size.millis == 0 => {
            out.push(zero("tumbling", size));
            positive = false;
        }
        Window::Sliding { size, every, .. } => {
            if size.millis == 0 {
                out.push(zero("size", size));
                positive = false;
            }
            if every.millis == 0 {
                out.push(zero("every", every));
                positive = false;
            }
            if positive && (every.millis > size.millis || size.millis % every.millis != 0) {
                let message = if every.millis > size.millis {
                    format!(
                        "a sliding window's `every: {}` is longer than its `size: {}`",
                        duration::format(every.millis),
                        duration::format(size.millis)
                    )
                } else {
                    format!(
                        "a sliding window's `size: {}` is not a multiple of its `every: {}`",
                        duration::format(size.millis),
                        duration::format(every.millis)
                    )
                };
                let label = if every.millis > size.millis {
                    "longer than the size"
                } else {
                    "does not divide the size"
                };
                out.push(
                    Diagnostic::error(codes::SLIDING_EVERY, message)
                        .at(every.span, label)
                        .with_label(size.span, "the size")
                        .with_help(
                            "every event belongs to size/every windows, so `every` must divide \
                             `size` (e.g. `size: 1h, every: 5m`); equal values are a tumbling \
                             window",
                        ),
                );
            }
        }
        Window::Session { gap, .. } if gap.millis == 0 => {
            out.push(zero("gap", gap));
            positive = false;
        }
        _ => {}
    }
    for a in &w.aggregates {
        let Some(over) = &a.over else { continue };
        if over.millis == 0 {
            out.push(zero("over", over));
            continue;
        }
        if let Some(size) = w.window.size().filter(|s| positive && over.millis < s.millis) {
            out.push(
                Diagnostic::error(
                    codes::OVER_SHORTER_THAN_WINDOW,
                    format!(
                        "`over: {}` of `{}` is shorter than the window ({})",
                        duration::format(over.millis),
                        a.name,
                        duration::format(size.millis)
                    ),
                )
                .at(over.span, "shorter than the window")
                .with_label(size.span, "the window")
                .with_help(
                    "`over` extends an aggregate back from the window's end; to aggregate the \
                     window itself, leave `over` out",
                ),
            );
        }
    }
}

/// An aggregate's `of`: a call of a window aggregate with the right arguments.
fn call(of: &Expr, stages: &Stages<'_>, out: &mut Vec<Diagnostic>) {
    let ExprKind::Call { name, args } = &of.kind else {
        out.push(
            Diagnostic::error(
                codes::UNKNOWN_AGGREGATE_FUNCTION,
                format!("`{of}` is not an aggregate"),
            )
            .at(of.span, "not an aggregate call")
            .with_help(format!("an aggregate is a call of {}", aggregate_list())),
        );
        return;
    };
    let Some(agg) = WindowAggregate::from_name(&name.text) else {
        let names = WindowAggregate::ALL.iter().map(|a| a.name());
        let help = crate::diagnostic::did_you_mean(&name.text, names)
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| format!("the aggregates are {}", aggregate_list()));
        out.push(
            Diagnostic::error(
                codes::UNKNOWN_AGGREGATE_FUNCTION,
                format!("unknown aggregate function `{name}`"),
            )
            .at(name.span, "not an aggregate function")
            .with_help(help),
        );
        return;
    };
    let (min, max) = agg.arity();
    if args.len() < min || args.len() > max {
        let takes = if min == max { format!("{min}") } else { format!("{min} or {max}") };
        out.push(
            Diagnostic::error(
                codes::AGGREGATE_ARITY,
                format!(
                    "`{}` takes {takes} argument{}, not {}",
                    agg.name(),
                    if max == 1 { "" } else { "s" },
                    args.len()
                ),
            )
            .at(
                of.span,
                format!("{} argument{}", args.len(), if args.len() == 1 { "" } else { "s" }),
            )
            .with_help(agg.usage()),
        );
        return;
    }
    if let Some(x) = args.first() {
        inner_expr(x, stages, out);
    }
    if agg == WindowAggregate::Percentile {
        let p = &args[1];
        let value = match &p.kind {
            ExprKind::Literal(Literal::Int(i)) => Some(*i as f64),
            ExprKind::Literal(Literal::Float(f)) => Some(*f),
            _ => None,
        };
        match value {
            None => out.push(
                Diagnostic::error(codes::AGGREGATE_ARITY, "a percentile is a number")
                    .at(p.span, "not a number")
                    .with_help(agg.usage()),
            ),
            Some(v) if !(v > 0.0 && v <= 100.0) => out.push(
                Diagnostic::error(
                    codes::PERCENTILE_RANGE,
                    format!("percentile {p} is out of range"),
                )
                .at(p.span, "not in (0, 100]")
                .with_help(
                    "a percentile is above 0 and at most 100: 50 is the median, 100 the maximum",
                ),
            ),
            Some(_) => {}
        }
    }
}

fn aggregate_list() -> String {
    WindowAggregate::ALL.iter().map(|a| format!("`{}`", a.name())).collect::<Vec<_>>().join(", ")
}

/// An expression evaluated on one event (an aggregate's argument or `where`): fields of the
/// event and scalar functions, but no aggregate.
fn inner_expr(e: &Expr, stages: &Stages<'_>, out: &mut Vec<Diagnostic>) {
    if let Some(inner) = find_aggregate_call(e) {
        out.push(
            Diagnostic::error(
                codes::MISPLACED_AGGREGATE,
                format!("`{inner}` aggregates, but this expression reads one event"),
            )
            .at(inner.span, "an aggregate inside an aggregate")
            .with_help("define it as an aggregate of its own and combine the two in `having`"),
        );
        return;
    }
    check_expr(e, &Scope::Filter, stages, out);
}

fn find_aggregate_call(e: &Expr) -> Option<&Expr> {
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Path(_) => None,
        ExprKind::List(items) => items.iter().find_map(find_aggregate_call),
        ExprKind::Unary { expr, .. } => find_aggregate_call(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            find_aggregate_call(lhs).or_else(|| find_aggregate_call(rhs))
        }
        ExprKind::Call { name, args } => {
            if WindowAggregate::from_name(&name.text).is_some()
                || crate::resolve::Aggregate::from_name(&name.text).is_some()
            {
                Some(e)
            } else {
                args.iter().find_map(find_aggregate_call)
            }
        }
    }
}

fn emit_reads(emit: &Emit, names: &[&str], out: &mut Vec<Diagnostic>) {
    fn value(v: &Value, names: &[&str], out: &mut Vec<Diagnostic>) {
        match v {
            Value::String(t) => {
                for part in &t.parts {
                    if let TemplatePart::Expr(e) = part {
                        reads(e, names, "`emit`", out);
                    }
                }
            }
            Value::List(items) => items.iter().for_each(|i| value(i, names, out)),
            Value::Map(entries) => entries.iter().for_each(|(_, i)| value(i, names, out)),
            _ => {}
        }
    }
    for (_, v) in &emit.fields {
        value(v, names, out);
    }
}

/// `having` and templates: computed from a fired window, they read its aggregates by name.
fn reads(e: &Expr, names: &[&str], place: &str, out: &mut Vec<Diagnostic>) {
    match &e.kind {
        ExprKind::Literal(_) => {}
        ExprKind::List(items) => items.iter().for_each(|i| reads(i, names, place, out)),
        ExprKind::Unary { expr, .. } => reads(expr, names, place, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            reads(lhs, names, place, out);
            reads(rhs, names, place, out);
        }
        ExprKind::Path(p) => path(p, names, place, out),
        ExprKind::Call { name, args } => {
            if WindowAggregate::from_name(&name.text).is_some() {
                out.push(
                    Diagnostic::error(
                        codes::MISPLACED_AGGREGATE,
                        format!("{place} of a window rule calls the aggregate `{}`", name),
                    )
                    .at(e.span, "an aggregate call")
                    .with_help(format!(
                        "define it under `aggregates` (`n: {e}`) and read it by its name here"
                    )),
                );
                return;
            }
            match crate::resolve::Function::from_name(&name.text) {
                Some(f) if f.arity() != args.len() => out.push(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!(
                            "`{}` takes {} argument(s), not {}",
                            f.name(),
                            f.arity(),
                            args.len()
                        ),
                    )
                    .at(e.span, "wrong number of arguments"),
                ),
                Some(_) => {}
                None => {
                    let functions = crate::resolve::Function::ALL.iter().map(|f| f.name());
                    let help = crate::diagnostic::did_you_mean(&name.text, functions)
                        .map_or_else(
                            || "the functions are contains, starts_with, ends_with, lower, upper, len, abs, exists".to_string(),
                            |c| format!("did you mean `{c}`?"),
                        );
                    out.push(
                        Diagnostic::error(
                            codes::UNKNOWN_FUNCTION,
                            format!("unknown function `{name}`"),
                        )
                        .at(name.span, "not a function")
                        .with_help(help),
                    );
                }
            }
            args.iter().for_each(|a| reads(a, names, place, out));
        }
    }
}

/// A path read by `having` or a template: an aggregate name, `key`, `window.start` or
/// `window.end`.
fn path(p: &Path, names: &[&str], place: &str, out: &mut Vec<Diagnostic>) {
    let text = p.to_string();
    if names.contains(&text.as_str()) || WINDOW_NAMES.contains(&text.as_str()) {
        return;
    }
    let head = match p.segments.first() {
        Some(Segment::Key(k)) => k.as_str(),
        _ => text.as_str(),
    };
    let candidates = names.iter().copied().chain(WINDOW_NAMES.iter().copied());
    let help = match crate::diagnostic::did_you_mean(&text, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None if names.contains(&head) => {
            format!("`{head}` is a number, not a record: read it as `{head}`")
        }
        None => format!(
            "{place} reads the window's aggregates by name ({}), `key`, `window.start` and \
             `window.end`; event fields are read inside aggregates",
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    out.push(
        Diagnostic::error(
            codes::UNKNOWN_AGGREGATE,
            format!("{place} reads `{text}`, which is not an aggregate of this rule"),
        )
        .at(p.span, "no aggregate of this name")
        .with_help(help),
    );
}
