//! The NFA of one key: its partial matches ("runs") and their shared buffer, stepped by events
//! and by time.
//!
//! The semantics are Flink CEP's (`NFA.process` / `NFA.advanceTime`): every run follows the
//! edges whose conditions hold (proceed edges are followed on the same event, depth first);
//! take edges extend the run's path, ignore edges keep it; the start run is always kept; a run
//! that reaches a stop state discards everything it produced on that event; runs that reach
//! the final state are matches. With a skip strategy other than `no_skip`, a match is held
//! until no run that started earlier is still open (that run might complete and prune it),
//! and every emitted match prunes the runs and matches its strategy discards.
//!
//! Hot path: `process` runs for every event of the key. It allocates only the vectors of
//! runs it builds (reused capacity would be the next step) and never logs.

use crate::event::Event;

use super::buffer::{NodeId, SharedBuffer, reserve_small};
use super::eval::{PathRef, Scope, holds};
use super::program::{
    Action, Cond, CondId, Edge, Program, SkipStrategy, StageId, StateId, StateKind,
};

/// A partial match: where it is in the NFA and the path of events it took.
///
/// 32 bytes: a key keeps its runs, and a partition may hold a million keys, so the optional
/// parts are stored with sentinels (a node index and a position never reach their maximum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub state: StateId,
    /// The path's newest node, or [`NO_NODE`].
    node: NodeId,
    /// The first event's position, or [`NO_START`] for the start run.
    start_seq: u64,
    /// The first event's time.
    start_ts: i64,
    /// Time of the run's last event (for `max_gap`).
    pub prev_ts: i64,
}

const NO_NODE: NodeId = NodeId::MAX;
const NO_START: u64 = u64::MAX;

impl Run {
    pub fn new(
        state: StateId,
        node: Option<NodeId>,
        start: Option<(i64, u64)>,
        prev_ts: i64,
    ) -> Run {
        let (start_ts, start_seq) = start.unwrap_or((i64::MIN, NO_START));
        Run { state, node: node.unwrap_or(NO_NODE), start_seq, start_ts, prev_ts }
    }

    fn start_run(program: &Program) -> Run {
        Run::new(program.start, None, None, i64::MIN)
    }

    /// The path's newest node; `None` for the start run.
    pub fn node(&self) -> Option<NodeId> {
        (self.node != NO_NODE).then_some(self.node)
    }

    /// The first event's (time, position); `None` for the start run.
    pub fn start(&self) -> Option<(i64, u64)> {
        (self.start_seq != NO_START).then_some((self.start_ts, self.start_seq))
    }

    /// Runs order by their first event; the start run comes last.
    fn order_key(&self) -> (i64, u64) {
        self.start().unwrap_or((i64::MAX, u64::MAX))
    }
}

/// What a step produced.
#[derive(Debug, Clone)]
pub enum Output {
    /// A complete match: the events taken, oldest first, with the stage that took each.
    Match(Vec<(StageId, Event)>),
    /// A partial match that ran out of time, and when it did.
    Timeout { path: Vec<(StageId, Event)>, at: i64 },
}

/// Per-event scratch space reused across steps (condition results that depend only on the
/// current event are computed once per event, whatever the number of runs).
#[derive(Debug, Default)]
pub struct Scratch {
    conds: CondCache,
    /// Take and ignore edges of one run, with the final state a take reaches by proceeding.
    edges: Vec<(Edge, StateId, Option<StateId>)>,
    stack: Vec<StateId>,
    /// The runs one run becomes.
    next: Vec<Run>,
    /// A run vector whose capacity the next step reuses.
    spare: Vec<Run>,
}

/// Results of event-local conditions for the current event (valid while `epoch` matches).
#[derive(Debug, Default)]
struct CondCache {
    epoch: u64,
    cache: Vec<(u64, bool)>,
}

impl Scratch {
    fn next_event(&mut self, exprs: usize) {
        self.conds.epoch += 1;
        if self.conds.cache.len() < exprs {
            self.conds.cache.resize(exprs, (0, false));
        }
    }
}

/// Optional step-by-step explanation (`cepheus replay --trace KEY`).
pub type Trace<'a> = Option<&'a mut Vec<String>>;

/// The NFA state of one key.
#[derive(Debug, Clone)]
pub struct KeyNfa {
    pub(super) runs: Vec<Run>,
    /// Matches held back by the skip strategy until no earlier run is open.
    pub(super) completed: Vec<Run>,
    pub(super) buffer: SharedBuffer,
}

impl KeyNfa {
    pub fn new(program: &Program) -> KeyNfa {
        KeyNfa {
            runs: vec![Run::start_run(program)],
            completed: Vec::new(),
            buffer: SharedBuffer::default(),
        }
    }

    /// Back to the state of [`KeyNfa::new`], keeping the vectors' capacity.
    pub fn reset(&mut self, program: &Program) {
        self.runs.clear();
        self.runs.push(Run::start_run(program));
        self.completed.clear();
        self.buffer.clear();
    }

    /// Nothing but the start run: the key's state can be dropped.
    pub fn is_idle(&self) -> bool {
        self.runs.len() <= 1 && self.completed.is_empty() && self.buffer.is_empty()
    }

    /// Open partial matches (the start run not counted).
    pub fn open_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.start().is_some()).count()
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    pub fn buffer(&self) -> &SharedBuffer {
        &self.buffer
    }

    /// Feeds one event (already known to be the key's next in event time).
    pub fn process(
        &mut self,
        program: &Program,
        event: &Event,
        scratch: &mut Scratch,
        out: &mut Vec<Output>,
        mut trace: Trace<'_>,
    ) {
        scratch.next_event(program.exprs.len());
        let mut old_runs = std::mem::take(&mut self.runs);
        // The vectors of a step are reused from step to step (and key to key): no allocation
        // per event once they have grown to the key's number of runs.
        let mut new_runs = std::mem::take(&mut scratch.spare);
        new_runs.clear();
        let mut next = std::mem::take(&mut scratch.next);
        let mut potential = Vec::new();
        for run in old_runs.drain(..) {
            next.clear();
            self.step_run(program, &run, event, scratch, &mut next, trace.as_deref_mut());
            let kept_from = new_runs.len();
            let mut stopped = false;
            for n in next.drain(..) {
                match program.state(n.state).kind {
                    StateKind::Final => potential.push(n),
                    StateKind::Stop => {
                        stopped = true;
                        self.buffer.release(n.node());
                    }
                    StateKind::Normal | StateKind::Pending => new_runs.push(n),
                }
            }
            if stopped {
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!(
                        "  run {} stopped: an absent stage's event was seen",
                        describe(program, &run)
                    ));
                }
                // A stop discards everything this run became on this event (matches aside).
                for r in new_runs.drain(kept_from..) {
                    self.buffer.release(r.node());
                }
            }
        }
        scratch.next = next;
        if !new_runs.is_sorted_by_key(Run::order_key) {
            new_runs.sort_by_key(Run::order_key);
        }
        potential.sort_by_key(Run::order_key);
        if program.skip == SkipStrategy::NoSkip {
            for m in potential {
                out.push(Output::Match(self.buffer.path(m.node())));
                self.buffer.release(m.node());
            }
        } else {
            self.completed.extend(potential);
            self.completed.sort_by_key(Run::order_key);
            self.emit_completed(program, &mut new_runs, out, trace);
        }
        // The key keeps its own vector, sized to its runs (most keys have one or two, and a
        // partition may hold a million keys); the step's vector goes back to the scratch space.
        reserve_small(&mut old_runs, new_runs.len());
        old_runs.append(&mut new_runs);
        self.runs = old_runs;
        scratch.spare = new_runs;
    }

    /// Moves time to `t`: runs whose `within` or `max_gap` has passed time out (a pending run,
    /// waiting out a trailing absence, completes instead).
    pub fn advance_time(
        &mut self,
        program: &Program,
        t: i64,
        out: &mut Vec<Output>,
        timeouts: bool,
        mut trace: Trace<'_>,
    ) {
        // Runs that stay are kept in place (no new vector per timer).
        let mut kept = std::mem::take(&mut self.runs);
        let mut pending = Vec::new();
        // As Flink's operator: the matches a time step completes come out before its timeouts.
        let mut timed_out = Vec::new();
        kept.retain(|run| match deadline(program, run) {
            Some((at, _)) if t >= at => {
                if program.state(run.state).kind == StateKind::Pending {
                    if let Some(tr) = trace.as_deref_mut() {
                        tr.push(format!(
                            "  run {} completes: nothing absent was seen until {at}",
                            describe(program, run)
                        ));
                    }
                    pending.push(run.clone());
                    return false;
                }
                if let Some(tr) = trace.as_deref_mut() {
                    tr.push(format!("  run {} timed out at {at}", describe(program, run)));
                }
                if timeouts {
                    timed_out.push(Output::Timeout { path: self.buffer.path(run.node()), at });
                }
                self.buffer.release(run.node());
                false
            }
            _ => true,
        });
        if !pending.is_empty() || !self.completed.is_empty() {
            self.completed.extend(pending);
            self.completed.sort_by_key(Run::order_key);
            self.emit_completed(program, &mut kept, out, trace);
        }
        out.extend(timed_out);
        self.runs = kept;
    }

    /// Keeps at most `max` open partial matches (the oldest), releasing the rest; returns how
    /// many were dropped. Bounds memory when a pattern (say a non-deterministic loop) would
    /// branch without end.
    pub fn enforce_limit(&mut self, max: usize) -> usize {
        let open = self.open_runs();
        if open <= max {
            return 0;
        }
        // Runs are ordered by their first event, the start run last: drop from the newest.
        let mut excess = open - max;
        let mut i = self.runs.len();
        while excess > 0 && i > 0 {
            i -= 1;
            if self.runs[i].start().is_some() {
                let r = self.runs.remove(i);
                self.buffer.release(r.node());
                excess -= 1;
            }
        }
        open - max
    }

    /// The earliest time at which `advance_time` would change something.
    pub fn next_deadline(&self, program: &Program) -> Option<i64> {
        self.runs.iter().filter_map(|r| deadline(program, r).map(|(at, _)| at)).min()
    }

    /// Follows one run's edges on `event`; returns the runs it becomes.
    fn step_run(
        &mut self,
        program: &Program,
        run: &Run,
        event: &Event,
        scratch: &mut Scratch,
        result: &mut Vec<Run>,
        mut trace: Trace<'_>,
    ) {
        let is_start = run.state == program.start;
        let scope =
            Scope { program, event: Some(event), path: PathRef::Buffer(&self.buffer, run.node()) };
        let mut edges = std::mem::take(&mut scratch.edges);
        edges.clear();
        decision_graph(
            program,
            run.state,
            scope,
            &mut scratch.conds,
            &mut scratch.stack,
            &mut edges,
            trace.as_deref_mut(),
        );
        // Which take edges also reach the final state by proceeding (an optional tail): found
        // before the buffer changes below, while the scope still reads it.
        for (e, _, fin) in &mut edges {
            if e.action == Action::Take {
                *fin = final_after_proceed(
                    program,
                    e.target,
                    scope,
                    &mut scratch.conds,
                    &mut scratch.stack,
                );
            }
        }
        for (edge, source, fin) in edges.iter() {
            let fin = *fin;
            match edge.action {
                // The start run is always kept below; it does not also ignore.
                Action::Ignore if is_start => {}
                Action::Ignore => {
                    self.buffer.retain(run.node());
                    result.push(Run::new(edge.target, run.node(), run.start(), run.prev_ts));
                }
                Action::Take => {
                    let stage = program
                        .state(*source)
                        .stage
                        .expect("a state with a take edge belongs to a stage");
                    let node = self.buffer.take(stage, event, run.node(), program.keep);
                    let start = if is_start { Some((event.ts, event.seq)) } else { run.start() };
                    if let Some(t) = trace.as_deref_mut() {
                        let what = if is_start { "starts a partial match" } else { "extends" };
                        t.push(format!(
                            "  {} takes the event as `{}` ({what} {})",
                            program.state(*source).name,
                            program.stages[stage as usize].name,
                            describe(program, run)
                        ));
                    }
                    result.push(Run::new(edge.target, Some(node), start, event.ts));
                    if let Some(f) = fin {
                        self.buffer.retain(Some(node));
                        result.push(Run::new(f, Some(node), start, event.ts));
                    }
                }
                Action::Proceed => unreachable!("decision_graph follows proceed edges itself"),
            }
        }
        if is_start {
            result.push(Run::start_run(program));
        }
        self.buffer.release(run.node());
        scratch.edges = edges;
    }

    /// Emits held matches that no open run started before, applying the skip strategy.
    fn emit_completed(
        &mut self,
        program: &Program,
        runs: &mut Vec<Run>,
        out: &mut Vec<Output>,
        mut trace: Trace<'_>,
    ) {
        while let Some(first) = self.completed.first() {
            if runs.first().is_some_and(|r| first.order_key() > r.order_key()) {
                break;
            }
            let m = self.completed.remove(0);
            let path = self.buffer.path(m.node());
            if let Some(pruning) = pruning_point(program.skip, program, &path) {
                for list in [&mut *runs, &mut self.completed] {
                    let before = list.len();
                    let buffer = &mut self.buffer;
                    list.retain(|r| {
                        let prune = r.start().is_some_and(|s| pruning.prunes(s));
                        if prune {
                            buffer.release(r.node());
                        }
                        !prune
                    });
                    if let Some(t) = trace.as_deref_mut()
                        && before != list.len()
                    {
                        t.push(format!(
                            "  skip strategy pruned {} partial match(es)",
                            before - list.len()
                        ));
                    }
                }
            }
            out.push(Output::Match(path));
            self.buffer.release(m.node());
        }
    }
}

/// When a run times out: (time, whether by `max_gap`).
fn deadline(program: &Program, run: &Run) -> Option<(i64, bool)> {
    let (start_ts, _) = run.start()?;
    let within = program.within.map(|w| (start_ts.saturating_add(w), false));
    let gap = program.state(run.state).max_gap.map(|g| (run.prev_ts.saturating_add(g), true));
    match (within, gap) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Runs started at or before (or strictly before) an event are pruned.
#[derive(Debug, Clone, Copy)]
struct Pruning {
    at: (i64, u64),
    inclusive: bool,
}

impl Pruning {
    fn prunes(self, start: (i64, u64)) -> bool {
        if self.inclusive { start <= self.at } else { start < self.at }
    }
}

fn pruning_point(
    skip: SkipStrategy,
    program: &Program,
    path: &[(StageId, Event)],
) -> Option<Pruning> {
    let id = |e: &Event| (e.ts, e.seq);
    let of_stage =
        |s: StageId| path.iter().filter(move |(st, _)| program.covers(s, *st)).map(|(_, e)| id(e));
    match skip {
        SkipStrategy::NoSkip => None,
        SkipStrategy::PastLastEvent => {
            path.iter().map(|(_, e)| id(e)).max().map(|at| Pruning { at, inclusive: true })
        }
        SkipStrategy::ToNext => {
            path.iter().map(|(_, e)| id(e)).min().map(|at| Pruning { at, inclusive: true })
        }
        SkipStrategy::ToFirst(s) => of_stage(s).min().map(|at| Pruning { at, inclusive: false }),
        SkipStrategy::ToLast(s) => of_stage(s).max().map(|at| Pruning { at, inclusive: false }),
    }
}

fn cond_holds(program: &Program, cond: CondId, scope: Scope<'_>, scratch: &mut CondCache) -> bool {
    match program.conds[cond as usize] {
        Cond::True => true,
        Cond::Not(c) => !cond_holds(program, c, scope, scratch),
        Cond::And(a, b) => {
            cond_holds(program, a, scope, scratch) && cond_holds(program, b, scope, scratch)
        }
        Cond::Expr(e) => {
            let local = program.expr_local[e as usize];
            if local {
                let (epoch, value) = scratch.cache[e as usize];
                if epoch == scratch.epoch {
                    return value;
                }
            }
            let value = holds(&program.exprs[e as usize], scope);
            if local {
                scratch.cache[e as usize] = (scratch.epoch, value);
            }
            value
        }
    }
}

/// The take and ignore edges a run can follow on this event, proceeding through epsilon edges
/// depth first, each with the state that owns it.
fn decision_graph(
    program: &Program,
    from: StateId,
    scope: Scope<'_>,
    conds: &mut CondCache,
    stack: &mut Vec<StateId>,
    edges: &mut Vec<(Edge, StateId, Option<StateId>)>,
    mut trace: Trace<'_>,
) {
    stack.clear();
    stack.push(from);
    // A proceed cycle cannot take an event; the checker refuses patterns that could build one,
    // and this bound keeps a step finite whatever the program.
    let mut budget = program.states.len() * 4 + 4;
    while let Some(state) = stack.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        for edge in &program.state(state).edges {
            let ok = cond_holds(program, edge.cond, scope, conds);
            if let Some(t) = trace.as_deref_mut() {
                t.push(format!(
                    "  {} --{:?}--> {}: {}",
                    program.state(state).name,
                    edge.action,
                    program.state(edge.target).name,
                    if ok { "condition holds" } else { "condition fails" }
                ));
            }
            if ok {
                match edge.action {
                    Action::Proceed => stack.push(edge.target),
                    Action::Take | Action::Ignore => edges.push((*edge, state, None)),
                }
            }
        }
    }
}

/// The final state, if `state` reaches it by proceed edges alone on this event.
fn final_after_proceed(
    program: &Program,
    state: StateId,
    scope: Scope<'_>,
    conds: &mut CondCache,
    stack: &mut Vec<StateId>,
) -> Option<StateId> {
    stack.clear();
    stack.push(state);
    let mut budget = program.states.len() * 4 + 4;
    while let Some(s) = stack.pop() {
        if budget == 0 {
            return None;
        }
        budget -= 1;
        for edge in &program.state(s).edges {
            if edge.action == Action::Proceed && cond_holds(program, edge.cond, scope, conds) {
                if program.state(edge.target).kind == StateKind::Final {
                    return Some(edge.target);
                }
                stack.push(edge.target);
            }
        }
    }
    None
}

fn describe(program: &Program, run: &Run) -> String {
    match run.start() {
        None => format!("[start at {}]", program.state(run.state).name),
        Some((ts, seq)) => {
            format!("[started by event #{seq} at {ts}, at {}]", program.state(run.state).name)
        }
    }
}
