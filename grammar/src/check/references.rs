//! What expressions may refer to: stages (by name, in paths and aggregates), functions and
//! their arities.
//!
//! - A `where` or `until` is evaluated while its element is being matched, so it may refer to
//!   earlier stages only, and to its own stage when that stage loops (the events it has taken
//!   so far). A looping group's `until` may also refer to the group's own stages.
//! - `filter` runs on each event alone, before any pattern: no stage exists there.
//! - Templates (see [`super::emit`]) run on a finished (or timed-out) match: any stage.
//!
//! Everywhere, a bare `stage.path` is only for a stage that takes exactly one event
//! ([`crate::resolve::StageInfo::single`]); other stages are read through aggregates. Groups
//! and absent stages hold no events, so nothing may refer to them.

use std::ops::Range;

use crate::ast::{Element, Expr, ExprKind, Name, Path, Rule, Stage};
use crate::diagnostic::{Diagnostic, codes};
use crate::resolve::{Aggregate, Function, StageInfo, all_call_names};
use crate::source::Span;

use super::{Stages, suggestion};

/// Where an expression is evaluated, which decides the stages it may see.
#[derive(Debug, Clone)]
pub(super) enum Scope {
    /// `source.filter`.
    Filter,
    /// The `where` or `until` of the element at position `owner` (pattern order); `own` are
    /// the positions that count as the element itself (empty unless it loops).
    Condition { owner: usize, own: Range<usize> },
    /// An `emit` or `on_timeout` template.
    Template,
}

pub(super) fn check(rule: &Rule, stages: &Stages<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(filter) = &rule.source.filter {
        check_expr(filter, &Scope::Filter, stages, &mut out);
    }
    for (order, el) in stages.elements.iter().enumerate() {
        let q = el.quantifier();
        let own = if !q.is_looping() {
            order..order
        } else if let Element::Group(_) = el {
            // A group and everything nested in it (they follow it in pattern order).
            let depth = stages.infos[order].depth;
            let end = stages.infos[order + 1..]
                .iter()
                .position(|s| s.depth <= depth)
                .map_or(stages.infos.len(), |p| order + 1 + p);
            order..end
        } else {
            order..order + 1
        };
        let scope = Scope::Condition { owner: order, own };
        if let Element::Stage(Stage { condition: Some(condition), .. }) = el {
            check_expr(condition, &scope, stages, &mut out);
        }
        if let Some(until) = &q.until {
            check_expr(until, &scope, stages, &mut out);
        }
    }
    out
}

/// Checks every name in `expr` against `scope`.
pub(super) fn check_expr(
    expr: &Expr,
    scope: &Scope,
    stages: &Stages<'_>,
    out: &mut Vec<Diagnostic>,
) {
    Checker { scope, stages, out }.expr(expr);
}

struct Checker<'a, 'r> {
    scope: &'a Scope,
    stages: &'a Stages<'r>,
    out: &'a mut Vec<Diagnostic>,
}

impl Checker<'_, '_> {
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Literal(_) => {}
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Path(p) => self.path(p),
            ExprKind::Unary { expr, .. } => self.expr(expr),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Call { name, args } => self.call(name, args, e.span),
        }
    }

    /// A path is a field of the current event unless its head names a stage.
    fn path(&mut self, p: &Path) {
        let Some(head) = p.head() else { return };
        let Some((info, element)) = self.stages.find(head) else {
            self.misspelt_stage(p, head);
            return;
        };
        if !self.visible(info, element, p.span) {
            return;
        }
        if !info.single {
            let name = info.name;
            let rest = p.to_string();
            let rest = rest.strip_prefix(name).unwrap_or(&rest);
            self.out.push(
                Diagnostic::error(
                    codes::BARE_REF_TO_LOOP,
                    format!("`{p}` reads one event, but `{name}` may take several or none"),
                )
                .at(p.span, format!("`{name}` is {}", why_not_single(element, info)))
                .with_label(element.name().span, format!("`{name}` is defined here"))
                .with_help(format!(
                    "use an aggregate: first({name}{rest}), last({name}{rest}), \
                     min/max/sum/avg({name}{rest}) or count({name})"
                )),
            );
        }
    }

    /// `baselin.metadata.value` reads a field `baselin` of the current event, which is legal
    /// but almost always a typo for the stage `baseline`: warn.
    fn misspelt_stage(&mut self, p: &Path, head: &str) {
        if p.segments.len() < 2 || head.len() < 3 || matches!(self.scope, Scope::Filter) {
            return;
        }
        let typo = |stage: &&str| {
            let allowed = if stage.len() <= 5 { 1 } else { 2 };
            strsim::damerau_levenshtein(head, stage) <= allowed
        };
        let Some(stage) = self.stages.referable_names().find(typo) else { return };
        let element = self.stages.find(stage).map(|(_, e)| e.name().span);
        let mut d = Diagnostic::warning(
            codes::LIKELY_MISSPELT_STAGE,
            format!("`{p}` reads the field `{head}` of the current event, not the stage `{stage}`"),
        )
        .at(p.span, format!("did you mean the stage `{stage}`?"))
        .with_help(format!(
            "to read the stage, write `{stage}{}`; to read a field named `{head}`, ignore this",
            p.to_string().strip_prefix(head).unwrap_or_default()
        ));
        if let Some(span) = element {
            d = d.with_label(span, format!("`{stage}` is defined here"));
        }
        self.out.push(d);
    }

    fn call(&mut self, name: &Name, args: &[Expr], span: Span) {
        if let Some(f) = Function::from_name(&name.text) {
            if args.len() != f.arity() {
                self.out.push(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!(
                            "`{}` takes {} argument{}, not {}",
                            f.name(),
                            f.arity(),
                            if f.arity() == 1 { "" } else { "s" },
                            args.len()
                        ),
                    )
                    .at(
                        span,
                        format!(
                            "{} argument{}",
                            args.len(),
                            if args.len() == 1 { "" } else { "s" }
                        ),
                    )
                    .with_help(function_usage(f)),
                );
            }
            args.iter().for_each(|a| self.expr(a));
        } else if let Some(agg) = Aggregate::from_name(&name.text) {
            self.aggregate(agg, args, span);
        } else {
            let help = suggestion(&name.text, all_call_names()).unwrap_or_else(|| {
                format!(
                    "the functions are {}",
                    all_call_names().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )
            });
            self.out.push(
                Diagnostic::error(codes::UNKNOWN_FUNCTION, format!("unknown function `{name}`"))
                    .at(name.span, "not a function")
                    .with_help(help),
            );
            args.iter().for_each(|a| self.expr(a));
        }
    }

    fn aggregate(&mut self, agg: Aggregate, args: &[Expr], span: Span) {
        let name = agg.name();
        if let Scope::Filter = self.scope {
            let message = format!("the filter uses `{name}`, which aggregates a stage's events");
            self.out.push(filter_sees_no_stage(span, message));
            return;
        }
        let wrong_kind = |found: &str| {
            Diagnostic::error(
                codes::WRONG_ARITY,
                format!("`{name}` takes {}", aggregate_argument(agg)),
            )
            .at(span, found.to_string())
            .with_help(aggregate_usage(agg))
        };
        let [arg] = args else {
            let found = format!("{} arguments", args.len());
            self.out.push(wrong_kind(&found));
            return;
        };
        let ExprKind::Path(path) = &arg.kind else {
            self.out.push(wrong_kind("not a stage"));
            return;
        };
        let Some(head) = path.head() else {
            self.out.push(wrong_kind("not a stage"));
            return;
        };
        let Some((info, element)) = self.stages.find(head) else {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_STAGE_REF,
                format!("`{name}` needs a stage, and `{head}` is not a stage of this rule"),
            )
            .at(path.span, "no stage with this name");
            if let Some(help) = suggestion(head, self.stages.referable_names()) {
                d = d.with_help(help);
            } else {
                d = d.with_help(aggregate_usage(agg));
            }
            self.out.push(d);
            return;
        };
        if !self.visible(info, element, path.span) {
            return;
        }
        let fields = path.segments.len() - 1;
        match agg {
            Aggregate::Count if fields > 0 => {
                self.out.push(wrong_kind("a field, not a stage name").with_help(format!(
                    "count({head}) counts the events `{head}` took; to count events with a \
                     field, put the condition in the stage's `where`"
                )));
            }
            Aggregate::Count => {}
            _ if fields == 0 => {
                self.out.push(wrong_kind("a stage without a field"));
            }
            _ => {}
        }
    }

    /// Whether this scope may see `info` at all; reports why not.
    fn visible(&mut self, info: &StageInfo<'_>, element: &Element, at: Span) -> bool {
        let name = info.name;
        let defined =
            |d: Diagnostic| d.with_label(element.name().span, format!("`{name}` is defined here"));
        if let Scope::Filter = self.scope {
            let d = filter_sees_no_stage(at, format!("the filter refers to stage `{name}`"));
            self.out.push(defined(d));
            return false;
        }
        if info.is_group || info.absent {
            let (kind, why, help) = if info.is_group {
                ("group", "holds no events of its own", "refer to one of the group's stages")
            } else {
                ("absent stage", "never holds an event", "refer to a stage that takes events")
            };
            let d = Diagnostic::error(
                codes::REF_TO_EVENTLESS,
                format!("reference to {kind} `{name}`, which {why}"),
            )
            .at(at, "no events to read here")
            .with_help(help);
            self.out.push(defined(d));
            return false;
        }
        let Scope::Condition { owner, own } = self.scope else { return true };
        if info.order < *owner || own.contains(&info.order) {
            return true;
        }
        let d = if info.order == *owner {
            Diagnostic::error(
                codes::UNKNOWN_STAGE_REF,
                format!("`{name}` refers to itself in its own condition"),
            )
            .at(at, format!("`{name}` does not repeat: it has no earlier events of its own"))
            .with_help(
                "the event being tested is the current event: use its fields directly \
                 (`metadata.value`, not `stage.metadata.value`)",
            )
        } else {
            let owner = self.stages.infos[*owner].name;
            defined(
                Diagnostic::error(
                    codes::UNKNOWN_STAGE_REF,
                    format!(
                        "the condition of `{owner}` refers to `{name}`, which comes later in the \
                         pattern"
                    ),
                )
                .at(at, "not matched yet when this condition is evaluated")
                .with_help(
                    "a condition can refer only to stages before it (and to itself when it loops)",
                ),
            )
        };
        self.out.push(d);
        false
    }
}

fn filter_sees_no_stage(at: Span, message: String) -> Diagnostic {
    Diagnostic::error(codes::STAGE_REF_OUTSIDE_PATTERN, message)
        .at(at, "no stage exists where the filter runs")
        .with_help(
            "the filter runs on each event alone, before the pattern; move this condition into \
             a stage's `where`",
        )
}

fn why_not_single(element: &Element, info: &StageInfo<'_>) -> &'static str {
    let q = element.quantifier();
    if q.is_looping() {
        "repeated"
    } else if q.optional {
        "optional"
    } else if !info.single {
        "inside a repeated or optional group"
    } else {
        "not a single-event stage"
    }
}

fn aggregate_argument(agg: Aggregate) -> &'static str {
    match agg {
        Aggregate::Count => "one stage name",
        _ => "one field of a stage",
    }
}

fn aggregate_usage(agg: Aggregate) -> String {
    match agg {
        Aggregate::Count => "write count(stage), for example count(drop)".to_string(),
        _ => format!("write {0}(stage.field), for example {0}(drop.metadata.value)", agg.name()),
    }
}

fn function_usage(f: Function) -> String {
    match f.arity() {
        1 => format!("write {}(x)", f.name()),
        _ => format!("write {}(x, y)", f.name()),
    }
}
