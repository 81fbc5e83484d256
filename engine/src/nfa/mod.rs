//! The NFA: pure and synchronous. No tokio, no I/O, no wall clock.
//!
//! [`Program`] is a compiled rule; [`KeyNfa`] is one key's partial matches over it, stepped by
//! [`KeyNfa::process`] (an event) and [`KeyNfa::advance_time`] (the watermark). Everything a
//! step needs is passed in, so a step is a function of (program, state, event or time).

pub mod buffer;
pub mod eval;
pub mod program;
pub mod run;

pub use program::{
    Action, CExpr, Cond, Edge, Program, SkipStrategy, StageId, StageMeta, State, StateId, StateKind,
};
pub use run::{KeyNfa, Output, Run, Scratch, Trace};
