//! A window rule's `window`, `aggregates`, `having` and `windows`, compiled.
//!
//! Aggregate arguments and filters read the current event, so they compile against the rule
//! set's shared [`FieldTable`] like a `filter`. `having` and the `emit` templates read a fired
//! window instead: its aggregates by name, `key`, `window.start` and `window.end`. They compile
//! against a small table of their own ([`CompiledWindow::scope_event`] builds its values), whose
//! field `i` is aggregate `i` (then the key, the start and the end), so evaluating them needs no
//! decoding: the fired window's values are the "event" they read.

use std::collections::HashMap;

use cepheus_grammar::ast::{ExprKind, Literal, Rule, Segment, Window, Windowed};
use cepheus_grammar::resolve::WindowAggregate;

use crate::event::{Event, FieldTable, Keep, Val};
use crate::nfa::program::{CExpr, Program, SkipStrategy};

use super::expr::ExprCompiler;
use super::{CompileError, CompiledEmit};

/// How events are assigned to windows; milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size: i64 },
    Sliding { size: i64, every: i64 },
    Session { gap: i64 },
}

/// One named aggregate.
#[derive(Debug, Clone)]
pub struct CompiledAggregate {
    pub name: String,
    pub func: WindowAggregate,
    /// The argument (`None` for `count()`).
    pub arg: Option<CExpr>,
    /// `percentile(x, p)`: `p`.
    pub percentile: f64,
    /// `where`: only events for which this holds are aggregated.
    pub filter: Option<CExpr>,
    /// `over`: the trailing range `[end - over, end)`, milliseconds.
    pub over: Option<i64>,
}

/// A window rule, compiled.
#[derive(Debug, Clone)]
pub struct CompiledWindow {
    pub kind: WindowKind,
    pub aggregates: Vec<CompiledAggregate>,
    /// Over the fired window's scope (see the module docs); `None` = no trigger.
    pub having: Option<CExpr>,
    /// `windows.topic`: every fired window's aggregates go there.
    pub windows_topic: Option<String>,
    /// The longest `over`, if any aggregate has one: how much history a key keeps.
    pub max_over: Option<i64>,
}

impl CompiledWindow {
    /// Whether the rule keeps values beyond running totals (distinct values, percentile values,
    /// an `over` history): what the partition's bound applies to.
    pub fn keeps_values(&self) -> bool {
        self.max_over.is_some()
            || self.aggregates.iter().any(|a| {
                matches!(a.func, WindowAggregate::CountDistinct | WindowAggregate::Percentile)
            })
    }

    /// The "event" `having` and `emit` read: the aggregates in order, then key, start, end.
    pub fn scope_event(&self, key: &str, start: i64, end: i64, values: &[Val]) -> Event {
        let mut fields: Vec<Val> = values.to_vec();
        fields.push(Val::Str(key.into()));
        fields.push(Val::Int(start));
        fields.push(Val::Int(end));
        Event::new(0, end, "{}".into(), fields.into())
    }
}

/// An NFA program with no states: window rules evaluate their expressions in its scope.
pub(super) fn empty_program() -> Program {
    Program {
        states: Vec::new(),
        start: 0,
        conds: Vec::new(),
        exprs: Vec::new(),
        expr_text: Vec::new(),
        expr_local: Vec::new(),
        stages: Vec::new(),
        within: None,
        skip: SkipStrategy::NoSkip,
        keep: Keep::Id,
    }
}

/// Compiles `w` of `rule`, and the rule's `emit` over the fired window's scope; `shared` is
/// the rule set's field table.
pub(super) fn compile(
    rule: &Rule,
    w: &Windowed,
    shared: &mut FieldTable,
) -> Result<(CompiledWindow, Option<CompiledEmit>), CompileError> {
    let kind = match &w.window {
        Window::Tumbling { size, .. } => WindowKind::Tumbling { size: millis(size.millis)? },
        Window::Sliding { size, every, .. } => {
            let (size, every) = (millis(size.millis)?, millis(every.millis)?);
            if size % every != 0 {
                return Err(CompileError::new("a sliding window's `every` must divide its `size`"));
            }
            WindowKind::Sliding { size, every }
        }
        Window::Session { gap, .. } => WindowKind::Session { gap: millis(gap.millis)? },
    };
    let no_stages = HashMap::new();
    let mut aggregates = Vec::new();
    for a in &w.aggregates {
        let mut ec = ExprCompiler { fields: &mut *shared, stage_ids: &no_stages };
        let ExprKind::Call { name, args } = &a.of.kind else {
            return Err(CompileError::new(format!("`{}` is not an aggregate", a.of)));
        };
        let func = WindowAggregate::from_name(&name.text).ok_or_else(|| {
            CompileError::new(format!("unknown aggregate function `{}`", name.text))
        })?;
        let arg = args.first().map(|x| ec.expr(x)).transpose()?;
        let percentile = match (func, args.get(1).map(|p| &p.kind)) {
            (WindowAggregate::Percentile, Some(ExprKind::Literal(Literal::Int(i)))) => *i as f64,
            (WindowAggregate::Percentile, Some(ExprKind::Literal(Literal::Float(f)))) => *f,
            (WindowAggregate::Percentile, _) => {
                return Err(CompileError::new("`percentile` takes a number"));
            }
            _ => 0.0,
        };
        let filter = a.filter.as_ref().map(|f| ec.expr(f)).transpose()?;
        let over = a.over.map(|d| millis(d.millis)).transpose()?;
        aggregates.push(CompiledAggregate {
            name: a.name.text.clone(),
            func,
            arg,
            percentile,
            filter,
            over,
        });
    }

    // The scope of `having` and `emit`: aggregates first, then key, start, end, in this order.
    let mut scope = FieldTable::new();
    let mut names: Vec<Vec<Segment>> =
        aggregates.iter().map(|a| vec![Segment::Key(a.name.clone())]).collect();
    names.push(vec![Segment::Key("key".into())]);
    names.push(vec![Segment::Key("window".into()), Segment::Key("start".into())]);
    names.push(vec![Segment::Key("window".into()), Segment::Key("end".into())]);
    for (i, n) in names.iter().enumerate() {
        let id = scope.intern(n);
        if id as usize != i {
            return Err(CompileError::new(format!(
                "aggregate `{}` is defined twice",
                crate::event::path_text(n)
            )));
        }
    }
    let known = names.len();
    let mut ec = ExprCompiler { fields: &mut scope, stage_ids: &no_stages };
    let having = w.having.as_ref().map(|h| ec.expr(h)).transpose()?;
    let emit = super::compile_emit(&mut ec, rule.emit.as_ref())?;
    if scope.len() > known {
        let unknown: Vec<String> =
            (known..scope.len()).map(|i| crate::event::path_text(scope.path(i as u32))).collect();
        return Err(CompileError::new(format!(
            "`having` or `emit` reads {}, which is not an aggregate",
            unknown.join(", ")
        )));
    }
    let max_over = aggregates.iter().filter_map(|a| a.over).max();
    let window = CompiledWindow {
        kind,
        aggregates,
        having,
        windows_topic: w.windows.as_ref().map(|t| t.topic.text.clone()),
        max_over,
    };
    Ok((window, emit))
}

fn millis(ms: u64) -> Result<i64, CompileError> {
    match i64::try_from(ms) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(CompileError::new(format!("duration of {ms} ms is not positive or too long"))),
    }
}
