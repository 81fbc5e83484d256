//! Evaluating compiled expressions against the current event and a partial match.
//!
//! Hot path: called for every edge condition of every partial match on every event. No
//! allocation except for string results of string functions; no logging.

use std::cmp::Ordering;
use std::sync::Arc;

use cepheus_grammar::ast::BinaryOp;
use cepheus_grammar::resolve::{Aggregate, Function};

use crate::event::{Event, Val};

use super::buffer::{NodeId, SharedBuffer};
use super::program::{CExpr, Program, StageId};

/// The events of a (partial) match: a path in a key's shared buffer, or a finished match.
#[derive(Debug, Clone, Copy)]
pub enum PathRef<'a> {
    Buffer(&'a SharedBuffer, Option<NodeId>),
    /// Oldest event first.
    Slice(&'a [(StageId, Event)]),
}

impl PathRef<'_> {
    /// Visits the events newest first.
    pub fn visit(&self, mut f: impl FnMut(StageId, &Event)) {
        match self {
            PathRef::Buffer(buffer, node) => buffer.visit(*node, f),
            PathRef::Slice(events) => events.iter().rev().for_each(|(s, e)| f(*s, e)),
        }
    }
}

/// What an expression can see: the current event and the partial match before it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub program: &'a Program,
    pub event: Option<&'a Event>,
    pub path: PathRef<'a>,
}

/// `true` only when the expression evaluates to the boolean `true`.
pub fn holds(e: &CExpr, scope: Scope<'_>) -> bool {
    matches!(eval(e, scope), Val::Bool(true))
}

pub fn eval(e: &CExpr, scope: Scope<'_>) -> Val {
    match e {
        CExpr::Const(v) => v.clone(),
        CExpr::Field(f) => scope.event.map_or(Val::Missing, |ev| ev.field(*f).clone()),
        CExpr::StageField { stage, field } => {
            let mut out = Val::Missing;
            let mut found = false;
            scope.path.visit(|s, ev| {
                if !found && scope.program.covers(*stage, s) {
                    out = ev.field(*field).clone();
                    found = true;
                }
            });
            out
        }
        CExpr::Agg { agg, stage, field } => aggregate(*agg, *stage, *field, scope),
        CExpr::List(items) => Val::List(items.iter().map(|i| eval(i, scope)).collect()),
        CExpr::Not(inner) => match eval(inner, scope) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Missing,
        },
        CExpr::Neg(inner) => match eval(inner, scope) {
            Val::Int(i) => i.checked_neg().map_or(Val::Missing, Val::Int),
            Val::Float(f) => Val::Float(-f),
            _ => Val::Missing,
        },
        CExpr::Binary(op, a, b) => binary(*op, a, b, scope),
        CExpr::Call(f, args) => call(*f, args, scope),
    }
}

fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

fn binary(op: BinaryOp, a: &CExpr, b: &CExpr, scope: Scope<'_>) -> Val {
    match op {
        BinaryOp::Or => Val::Bool(truthy(&eval(a, scope)) || truthy(&eval(b, scope))),
        BinaryOp::And => Val::Bool(truthy(&eval(a, scope)) && truthy(&eval(b, scope))),
        _ => {
            let (x, y) = (eval(a, scope), eval(b, scope));
            match op {
                BinaryOp::Eq => Val::Bool(x.equals(&y)),
                // A missing field makes every comparison false, `!=` included.
                BinaryOp::Ne => Val::Bool(!x.is_missing() && !y.is_missing() && !x.equals(&y)),
                BinaryOp::Lt => Val::Bool(x.compare(&y) == Some(Ordering::Less)),
                BinaryOp::Le => {
                    Val::Bool(matches!(x.compare(&y), Some(Ordering::Less | Ordering::Equal)))
                }
                BinaryOp::Gt => Val::Bool(x.compare(&y) == Some(Ordering::Greater)),
                BinaryOp::Ge => {
                    Val::Bool(matches!(x.compare(&y), Some(Ordering::Greater | Ordering::Equal)))
                }
                BinaryOp::In => Val::Bool(match &y {
                    Val::List(items) => items.iter().any(|i| x.equals(i)),
                    _ => false,
                }),
                _ => arithmetic(op, &x, &y),
            }
        }
    }
}

fn arithmetic(op: BinaryOp, x: &Val, y: &Val) -> Val {
    if let (Val::Int(a), Val::Int(b)) = (x, y) {
        let (a, b) = (*a, *b);
        let r = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            // Integer division stays an integer only when exact: 7 / 2 is 3.5, as users expect.
            BinaryOp::Div if b != 0 && a % b == 0 => a.checked_div(b),
            BinaryOp::Div if b != 0 => return Val::Float(a as f64 / b as f64),
            BinaryOp::Rem if b != 0 => a.checked_rem(b),
            _ => None,
        };
        // On overflow fall back to floating point rather than failing the condition.
        return r.map_or_else(|| float_op(op, a as f64, b as f64), Val::Int);
    }
    if let (BinaryOp::Add, Val::Str(a), Val::Str(b)) = (op, x, y) {
        return Val::Str(Arc::from(format!("{a}{b}")));
    }
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => float_op(op, a, b),
        _ => Val::Missing,
    }
}

fn float_op(op: BinaryOp, a: f64, b: f64) -> Val {
    let r = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Rem => a % b,
        _ => return Val::Missing,
    };
    if r.is_finite() { Val::Float(r) } else { Val::Missing }
}

fn call(f: Function, args: &[CExpr], scope: Scope<'_>) -> Val {
    let arg = |i: usize| args.get(i).map_or(Val::Missing, |a| eval(a, scope));
    match f {
        Function::Contains => match (arg(0), arg(1)) {
            (Val::Str(h), Val::Str(n)) => Val::Bool(h.contains(&*n)),
            (Val::List(items), x) => Val::Bool(items.iter().any(|i| i.equals(&x))),
            _ => Val::Bool(false),
        },
        Function::StartsWith => match (arg(0), arg(1)) {
            (Val::Str(h), Val::Str(n)) => Val::Bool(h.starts_with(&*n)),
            _ => Val::Bool(false),
        },
        Function::EndsWith => match (arg(0), arg(1)) {
            (Val::Str(h), Val::Str(n)) => Val::Bool(h.ends_with(&*n)),
            _ => Val::Bool(false),
        },
        Function::Lower => match arg(0) {
            Val::Str(s) => Val::Str(Arc::from(s.to_lowercase())),
            _ => Val::Missing,
        },
        Function::Upper => match arg(0) {
            Val::Str(s) => Val::Str(Arc::from(s.to_uppercase())),
            _ => Val::Missing,
        },
        Function::Len => match arg(0) {
            Val::Str(s) => Val::Int(s.chars().count() as i64),
            Val::List(items) => Val::Int(items.len() as i64),
            Val::Object(map) => Val::Int(map.len() as i64),
            _ => Val::Missing,
        },
        Function::Abs => match arg(0) {
            Val::Int(i) => i.checked_abs().map_or(Val::Missing, Val::Int),
            Val::Float(x) => Val::Float(x.abs()),
            _ => Val::Missing,
        },
        Function::Exists => Val::Bool(!arg(0).is_missing()),
    }
}

/// Folds the events `stage` (or a group's members) took, oldest first.
fn aggregate(
    agg: Aggregate,
    stage: StageId,
    field: Option<crate::event::FieldId>,
    scope: Scope<'_>,
) -> Val {
    // The buffer is walked newest first; collect the values, then fold in event order.
    let mut count: i64 = 0;
    let mut first = Val::Missing;
    let mut last = Val::Missing;
    let mut int_sum: Option<i64> = Some(0);
    let mut float_sum = 0.0f64;
    let mut numeric = 0i64;
    let mut min: Option<Val> = None;
    let mut max: Option<Val> = None;
    scope.path.visit(|s, ev| {
        if !scope.program.covers(stage, s) {
            return;
        }
        count += 1;
        let Some(f) = field else { return };
        let v = ev.field(f).clone();
        if last.is_missing() && count == 1 {
            last = v.clone();
        }
        match &v {
            Val::Int(i) => {
                int_sum = int_sum.and_then(|s| s.checked_add(*i));
                float_sum += *i as f64;
                numeric += 1;
            }
            Val::Float(x) => {
                int_sum = None;
                float_sum += x;
                numeric += 1;
            }
            _ => {}
        }
        if v.compare(&v).is_some() {
            if min.as_ref().is_none_or(|m| v.compare(m) == Some(Ordering::Less)) {
                min = Some(v.clone());
            }
            if max.as_ref().is_none_or(|m| v.compare(m) == Some(Ordering::Greater)) {
                max = Some(v.clone());
            }
        }
        first = v;
    });
    match agg {
        Aggregate::Count => Val::Int(count),
        Aggregate::Sum => match int_sum {
            Some(s) => Val::Int(s),
            None => Val::Float(float_sum),
        },
        Aggregate::Avg if numeric > 0 => Val::Float(float_sum / numeric as f64),
        Aggregate::Avg => Val::Missing,
        Aggregate::Min => min.unwrap_or_default(),
        Aggregate::Max => max.unwrap_or_default(),
        Aggregate::First => first,
        Aggregate::Last => last,
    }
}
