//! The compiled form of a rule: an NFA program. Plain data, built by `compile`, read by the
//! NFA at every step.
//!
//! States have outgoing edges with an action and a condition, as in Flink CEP:
//! - `Take`: consume the event into the partial match and move to the target state;
//! - `Ignore`: skip the event, staying in (or moving to) the target state;
//! - `Proceed`: an epsilon move, evaluated on the same event.
//!
//! `Stop` states end a partial match (an absent stage's event was seen); `Pending` states end in
//! a match when their window runs out (a trailing `not followed by`); `Final` is the match.

use cepheus_grammar::ast::{BinaryOp, Contiguity};
use cepheus_grammar::resolve::{Aggregate, Function};

use crate::event::{FieldId, Keep, Val};

pub type StateId = u32;
pub type CondId = u32;
pub type ExprId = u32;
/// A stage or group of the rule, numbered depth first in pattern order (a group before its
/// members), so a group's members are the ids in `id+1..end`.
pub type StageId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Take,
    Ignore,
    Proceed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    Normal,
    Final,
    Stop,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub action: Action,
    pub target: StateId,
    pub cond: CondId,
}

#[derive(Debug, Clone)]
pub struct State {
    /// Unique display name (`drop`, `drop#2`, `$end`).
    pub name: String,
    /// The stage whose events this state takes (`None` for `$end`).
    pub stage: Option<StageId>,
    pub kind: StateKind,
    /// Edges in the order they are tried.
    pub edges: Vec<Edge>,
    /// The stage's `max_gap`: a partial match waiting here times out this long after its
    /// previous event.
    pub max_gap: Option<i64>,
}

/// A condition on an edge: compiled stage conditions combined with `not` and `and`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cond {
    True,
    Expr(ExprId),
    Not(CondId),
    And(CondId, CondId),
}

/// A compiled expression: paths resolved to field ids, stage references to stage ids.
#[derive(Debug, Clone)]
pub enum CExpr {
    Const(Val),
    /// A field of the current event.
    Field(FieldId),
    /// A field of the (one) event a single-event stage took.
    StageField {
        stage: StageId,
        field: FieldId,
    },
    /// An aggregate over the events a stage (or a group's stages) took so far.
    Agg {
        agg: Aggregate,
        stage: StageId,
        field: Option<FieldId>,
    },
    List(Box<[CExpr]>),
    Not(Box<CExpr>),
    Neg(Box<CExpr>),
    Binary(BinaryOp, Box<CExpr>, Box<CExpr>),
    Call(Function, Box<[CExpr]>),
}

impl CExpr {
    /// Reads a field of an event (the current one or one a stage took).
    pub fn reads_fields(&self) -> bool {
        match self {
            CExpr::Const(_) => false,
            CExpr::Field(_) | CExpr::StageField { .. } | CExpr::Agg { .. } => true,
            CExpr::List(items) | CExpr::Call(_, items) => items.iter().any(CExpr::reads_fields),
            CExpr::Not(e) | CExpr::Neg(e) => e.reads_fields(),
            CExpr::Binary(_, a, b) => a.reads_fields() || b.reads_fields(),
        }
    }

    /// Reads only the current event (no stage references): its value can be cached per event.
    pub fn is_event_local(&self) -> bool {
        match self {
            CExpr::Const(_) | CExpr::Field(_) => true,
            CExpr::StageField { .. } | CExpr::Agg { .. } => false,
            CExpr::List(items) | CExpr::Call(_, items) => items.iter().all(CExpr::is_event_local),
            CExpr::Not(e) | CExpr::Neg(e) => e.is_event_local(),
            CExpr::Binary(_, a, b) => a.is_event_local() && b.is_event_local(),
        }
    }
}

/// A stage or group as the program knows it.
#[derive(Debug, Clone)]
pub struct StageMeta {
    pub name: String,
    pub is_group: bool,
    /// One past the last member id (a stage: `id + 1`).
    pub end: StageId,
    pub absent: bool,
    pub contiguity: Option<Contiguity>,
}

/// The after-match skip strategy, with stage names resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipStrategy {
    NoSkip,
    ToNext,
    PastLastEvent,
    ToFirst(StageId),
    ToLast(StageId),
}

/// One compiled rule's NFA.
#[derive(Debug, Clone)]
pub struct Program {
    pub states: Vec<State>,
    pub start: StateId,
    pub conds: Vec<Cond>,
    pub exprs: Vec<CExpr>,
    /// Per expression: its source text (for `explain` and traces).
    pub expr_text: Vec<String>,
    /// Per expression: reads only the current event (cacheable per event).
    pub expr_local: Vec<bool>,
    pub stages: Vec<StageMeta>,
    /// `within`: first to last event, milliseconds.
    pub within: Option<i64>,
    pub skip: SkipStrategy,
    /// What an event taken by a partial match keeps (see [`Keep`]): [`Keep::Fields`] when a
    /// condition or an emitted field reads taken events, else [`Keep::Id`];
    /// [`crate::runtime::Pipeline::keeping_text`] makes it [`Keep::Text`].
    pub keep: Keep,
}

impl Program {
    pub fn state(&self, id: StateId) -> &State {
        &self.states[id as usize]
    }

    /// `stage` is `group` or one of its members.
    pub fn covers(&self, group: StageId, stage: StageId) -> bool {
        stage >= group && stage < self.stages[group as usize].end
    }

    /// A condition as text: `not (x > 1) and (y == 2)`.
    pub fn cond_text(&self, cond: CondId) -> String {
        match self.conds[cond as usize] {
            Cond::True => "true".into(),
            Cond::Expr(e) => format!("({})", self.expr_text[e as usize]),
            Cond::Not(c) => format!("not {}", self.cond_text(c)),
            Cond::And(a, b) => format!("{} and {}", self.cond_text(a), self.cond_text(b)),
        }
    }

    /// Whether any state has a `max_gap`, or the rule a `within`: timers are needed.
    pub fn has_timers(&self) -> bool {
        self.within.is_some() || self.states.iter().any(|s| s.max_gap.is_some())
    }
}
