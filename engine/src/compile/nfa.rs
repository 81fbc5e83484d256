//! Pattern -> NFA states and edges, with Flink CEP's construction.
//!
//! The pattern is compiled backwards, from the final state to the start, as Flink's
//! `NFACompiler` does, so every construct gets exactly Flink's states and edges and therefore
//! its matching behaviour:
//! - a single stage: one state with `take` to the next state, `ignore` (relaxed: events that
//!   do not match; any: every event) and, when optional, `proceed` past it;
//! - `times(n, m)`: a chain of n mandatory states and m - n optional ones;
//! - loops (`n..`): the chain, then a looping state that takes to itself;
//! - greedy loops: the following state's edges are guarded by "the loop cannot take this";
//! - `until`: loop conditions are guarded by "not until";
//! - relaxed absence (`not followed by`): no state of its own; the next element's states get
//!   `proceed` edges into a stop state when the absent stage's condition holds; at the end of
//!   the pattern it becomes a pending state that completes when its window runs out;
//! - strict absence (`not next`): a state that proceeds (or, last, ignores into the final
//!   state) when the next event does not match and stops when it does;
//! - groups: their elements compiled the same way between the group's neighbours; a looping
//!   group proceeds from its end back to its head.

use std::collections::HashMap;

use cepheus_grammar::ast::{Contiguity, Element, Expr, Group};

use crate::nfa::program::{Action, Cond, CondId, Edge, ExprId, StageId, State, StateId, StateKind};

/// Builds the states and conditions of one rule's NFA.
pub(super) struct NfaBuilder<'a> {
    pub states: Vec<State>,
    pub conds: Vec<Cond>,
    /// Compiles an expression and returns its id (provided by the rule compiler).
    compile_expr: &'a mut dyn FnMut(&Expr, StageId) -> ExprId,
    stage_ids: &'a HashMap<&'a str, StageId>,
    within: bool,
    stop_states: HashMap<StageId, StateId>,
    original: HashMap<StateId, StateId>,
    first_of_loop: HashMap<StageId, bool>,
    current: Pat<'a>,
    following: Option<Pat<'a>>,
    group: Option<(&'a Group, Pat<'a>)>,
    cond_cache: HashMap<Cond, CondId>,
    where_cache: HashMap<StageId, CondId>,
}

/// An element and its place in its sequence (so it knows its neighbours).
#[derive(Clone, Copy)]
struct Pat<'a> {
    seq: &'a [Element],
    idx: usize,
}

impl<'a> Pat<'a> {
    fn el(self) -> &'a Element {
        &self.seq[self.idx]
    }

    fn previous(self) -> Option<Pat<'a>> {
        (self.idx > 0).then(|| Pat { seq: self.seq, idx: self.idx - 1 })
    }

    fn is_absent(self, contiguity: Contiguity) -> bool {
        matches!(self.el(), Element::Stage(s) if s.absent && s.contiguity.unwrap_or(Contiguity::Relaxed) == contiguity)
    }

    fn not_follow(self) -> bool {
        self.is_absent(Contiguity::Relaxed) || self.is_absent(Contiguity::NonDeterministic)
    }

    fn not_next(self) -> bool {
        self.is_absent(Contiguity::Strict)
    }

    fn optional(self) -> bool {
        self.el().quantifier().optional
    }

    fn looping(self) -> bool {
        self.el().quantifier().max.is_none()
    }

    fn greedy(self) -> bool {
        self.el().quantifier().greedy
    }

    fn group(self) -> Option<&'a Group> {
        match self.el() {
            Element::Group(g) => Some(g),
            Element::Stage(_) => None,
        }
    }
}

/// Outer consuming strategy of an element (how it follows its predecessor).
fn outer(el: &Element) -> Contiguity {
    el.contiguity().unwrap_or(Contiguity::Relaxed)
}

/// Inner consuming strategy of a loop (between its own events).
fn inner(el: &Element) -> Contiguity {
    inner_of(el.quantifier())
}

/// How a loop with quantifier `q` consumes events between its own.
fn inner_of(q: &cepheus_grammar::ast::Quantifier) -> Contiguity {
    if q.consecutive {
        Contiguity::Strict
    } else if q.allow_combinations {
        Contiguity::NonDeterministic
    } else {
        Contiguity::Relaxed
    }
}

impl<'a> NfaBuilder<'a> {
    pub fn new(
        pattern: &'a [Element],
        stage_ids: &'a HashMap<&'a str, StageId>,
        within: bool,
        compile_expr: &'a mut dyn FnMut(&Expr, StageId) -> ExprId,
    ) -> NfaBuilder<'a> {
        let last = Pat { seq: pattern, idx: pattern.len() - 1 };
        NfaBuilder {
            states: Vec::new(),
            conds: Vec::new(),
            compile_expr,
            stage_ids,
            within,
            stop_states: HashMap::new(),
            original: HashMap::new(),
            first_of_loop: HashMap::new(),
            current: last,
            following: None,
            group: None,
            cond_cache: HashMap::new(),
            where_cache: HashMap::new(),
        }
    }

    /// Builds the whole NFA; returns the start state.
    pub fn build(mut self) -> (Vec<State>, Vec<Cond>, StateId) {
        let end = self.new_state("$end".into(), None, StateKind::Final);
        let seq = self.current.seq;
        let sink = self.middle_states(seq, end);
        self.current = Pat { seq, idx: 0 };
        let start = self.convert(sink);
        (self.states, self.conds, start)
    }

    // --- states, edges, conditions ---------------------------------------------------------

    fn stage_of(&self, p: Pat<'a>) -> StageId {
        self.stage_ids[p.el().name().text.as_str()]
    }

    fn new_state(&mut self, base: String, stage: Option<StageId>, kind: StateKind) -> StateId {
        let taken = self
            .states
            .iter()
            .filter(|s| s.name == base || s.name.starts_with(&format!("{base}#")))
            .count();
        let name = if taken == 0 { base } else { format!("{base}#{}", taken + 1) };
        let max_gap = match self.current.el() {
            Element::Stage(s) if stage.is_some() => s.max_gap.map(|d| d.millis as i64),
            _ => None,
        };
        let id = StateId::try_from(self.states.len()).expect("fewer than 2^32 states");
        self.states.push(State { name, stage, kind, edges: Vec::new(), max_gap });
        id
    }

    /// A state for the current element.
    fn state_for_current(&mut self, kind: StateKind) -> StateId {
        let name = self.current.el().name().text.clone();
        let stage = self.stage_of(self.current);
        self.new_state(name, Some(stage), kind)
    }

    fn edge(&mut self, from: StateId, action: Action, target: StateId, cond: CondId) {
        self.states[from as usize].edges.push(Edge { action, target, cond });
    }

    fn cond(&mut self, c: Cond) -> CondId {
        if let Some(&id) = self.cond_cache.get(&c) {
            return id;
        }
        let id = CondId::try_from(self.conds.len()).expect("fewer than 2^32 conditions");
        self.conds.push(c);
        self.cond_cache.insert(c, id);
        id
    }

    fn truth(&mut self) -> CondId {
        self.cond(Cond::True)
    }

    fn not(&mut self, c: CondId) -> CondId {
        match self.conds[c as usize] {
            Cond::Not(inner) => inner,
            _ => self.cond(Cond::Not(c)),
        }
    }

    fn and(&mut self, a: CondId, b: CondId) -> CondId {
        match (self.conds[a as usize], self.conds[b as usize]) {
            (Cond::True, _) => b,
            (_, Cond::True) => a,
            _ => self.cond(Cond::And(a, b)),
        }
    }

    /// The stage's own `where` (true when absent); a group has none.
    fn where_of(&mut self, p: Pat<'a>) -> Option<CondId> {
        let Element::Stage(stage) = p.el() else { return None };
        let id = self.stage_of(p);
        if let Some(&c) = self.where_cache.get(&id) {
            return Some(c);
        }
        let c = match &stage.condition {
            Some(expr) => {
                let e = (self.compile_expr)(expr, id);
                self.cond(Cond::Expr(e))
            }
            None => self.truth(),
        };
        self.where_cache.insert(id, c);
        Some(c)
    }

    fn until_of(&mut self, el: &'a Element) -> Option<CondId> {
        let until = el.quantifier().until.as_ref()?;
        let stage = self.stage_ids[el.name().text.as_str()];
        let e = (self.compile_expr)(until, stage);
        Some(self.cond(Cond::Expr(e)))
    }

    fn group_until(&mut self) -> Option<CondId> {
        let (g, _) = self.group?;
        let until = g.quantifier.until.as_ref()?;
        let stage = self.stage_ids[g.name.text.as_str()];
        let e = (self.compile_expr)(until, stage);
        Some(self.cond(Cond::Expr(e)))
    }

    /// `cond` guarded by `not until`; for a take condition, `not until` even without a `cond`.
    fn with_until(
        &mut self,
        cond: Option<CondId>,
        until: Option<CondId>,
        is_take: bool,
    ) -> Option<CondId> {
        match (cond, until) {
            (Some(c), Some(u)) => {
                let nu = self.not(u);
                Some(self.and(nu, c))
            }
            (None, Some(u)) if is_take => Some(self.not(u)),
            (c, _) => c,
        }
    }

    fn take_cond(&mut self, p: Pat<'a>) -> Option<CondId> {
        let c = self.where_of(p);
        let gu = self.group_until();
        self.with_until(c, gu, true)
    }

    fn head_of_group(&self, p: Pat<'a>) -> bool {
        self.group.is_some() && p.idx == 0
    }

    fn group_first_of_loop(&self) -> bool {
        match self.group {
            Some((g, _)) => {
                *self.first_of_loop.get(&self.stage_ids[g.name.text.as_str()]).unwrap_or(&true)
            }
            None => true,
        }
    }

    fn set_first_of_loop(&mut self, value: bool) {
        if let Some(g) = self.current.group() {
            let id = self.stage_ids[g.name.text.as_str()];
            self.first_of_loop.insert(id, value);
        }
    }

    fn strategy_cond(&mut self, p: Pat<'a>, strategy: Contiguity) -> Option<CondId> {
        let c = match strategy {
            Contiguity::Strict => None,
            Contiguity::Relaxed => self.where_of(p).map(|w| self.not(w)),
            Contiguity::NonDeterministic => Some(self.truth()),
        };
        let gu = self.group_until();
        self.with_until(c, gu, false)
    }

    fn ignore_cond(&mut self, p: Pat<'a>) -> Option<CondId> {
        let mut strategy = outer(p.el());
        if self.head_of_group(p) {
            let (g, _) = self.group.expect("head_of_group implies a group");
            strategy = if self.group_first_of_loop() { outer_group(g) } else { inner_group(g) };
        }
        self.strategy_cond(p, strategy)
    }

    fn inner_ignore_cond(&mut self, p: Pat<'a>) -> Option<CondId> {
        let mut strategy = inner(p.el());
        if self.head_of_group(p) {
            let (g, _) = self.group.expect("head_of_group implies a group");
            strategy = inner_group(g);
        }
        self.strategy_cond(p, strategy)
    }

    // --- absence -----------------------------------------------------------------------------

    /// Relaxed absences reachable backwards from the current element through optional ones:
    /// their conditions stop the current element's states.
    fn current_not_conditions(&mut self) -> Vec<(CondId, StageId)> {
        let mut out = Vec::new();
        let mut p = self.current;
        while let Some(prev) = p.previous() {
            if !(prev.optional() || prev.not_follow()) {
                break;
            }
            p = prev;
            if p.not_follow() {
                let c = self.take_cond(p).expect("a stage has a take condition");
                out.push((c, self.stage_of(p)));
            }
        }
        out
    }

    fn stop_state(&mut self, cond: CondId, stage: StageId) -> StateId {
        if let Some(&s) = self.stop_states.get(&stage) {
            return s;
        }
        let name = format!("{}!stop", self.stage_name(stage));
        let s = self.new_state(name, Some(stage), StateKind::Stop);
        self.edge(s, Action::Take, s, cond);
        self.stop_states.insert(stage, s);
        s
    }

    fn stage_name(&self, stage: StageId) -> String {
        self.stage_ids
            .iter()
            .find(|(_, id)| **id == stage)
            .map(|(n, _)| n.to_string())
            .unwrap_or_default()
    }

    fn add_stop_states(&mut self, state: StateId) {
        for (cond, stage) in self.current_not_conditions() {
            let stop = self.stop_state(cond, stage);
            self.edge(state, Action::Proceed, stop, cond);
        }
    }

    fn add_stop_to_looping(&mut self, state: StateId) {
        if let Some(f) = self.following
            && f.not_follow()
        {
            let cond = self.take_cond(f).expect("a stage has a take condition");
            let stage = self.stage_of(f);
            let stop = self.stop_state(cond, stage);
            self.edge(state, Action::Proceed, stop, cond);
        }
    }

    /// A copy of `sink` without the stop edges of absences before an optional element, which
    /// taking that element cancels (`a not followed by b, c?, d`: `a c b d` matches).
    fn copy_without_transitive_nots(&mut self, sink: StateId) -> StateId {
        let nots = self.current_not_conditions();
        if nots.is_empty() || !self.current.optional() {
            return sink;
        }
        self.copy_without_nots(sink, &nots, &mut Vec::new())
    }

    fn copy_without_nots(
        &mut self,
        sink: StateId,
        nots: &[(CondId, StageId)],
        visiting: &mut Vec<StateId>,
    ) -> StateId {
        if visiting.contains(&sink) {
            return sink;
        }
        visiting.push(sink);
        let (copy, edges) = self.empty_copy(sink);
        for e in edges {
            if e.action == Action::Proceed {
                let target = &self.states[e.target as usize];
                if target.kind == StateKind::Stop {
                    if nots.iter().any(|(_, st)| target.stage == Some(*st)) {
                        continue;
                    }
                    self.edge(copy, e.action, e.target, e.cond);
                } else {
                    let t = self.copy_without_nots(e.target, nots, visiting);
                    self.edge(copy, e.action, t, e.cond);
                }
            } else {
                let target = if e.target == sink { copy } else { e.target };
                self.edge(copy, e.action, target, e.cond);
            }
        }
        visiting.pop();
        copy
    }

    /// A new state like `state` (name, stage, kind, gap) without edges, and `state`'s edges.
    fn empty_copy(&mut self, state: StateId) -> (StateId, Vec<Edge>) {
        let original = &self.states[state as usize];
        let (base, stage, kind, gap) = (
            original.name.split('#').next().unwrap_or("").to_string(),
            original.stage,
            original.kind,
            original.max_gap,
        );
        let edges = original.edges.clone();
        let copy = self.new_state(base, stage, kind);
        self.states[copy as usize].max_gap = gap;
        (copy, edges)
    }

    fn copy_state(&mut self, state: StateId) -> StateId {
        let (copy, edges) = self.empty_copy(state);
        for e in edges {
            let target = if e.target == state { copy } else { e.target };
            self.edge(copy, e.action, target, e.cond);
        }
        copy
    }

    /// Greedy loops: the state after the loop may not take what the loop can take.
    fn update_with_greedy(&mut self, state: StateId, take: CondId) {
        let not_take = self.not(take);
        let edges = std::mem::take(&mut self.states[state as usize].edges);
        let guarded = edges
            .into_iter()
            .map(|mut e| {
                e.cond = self.and(e.cond, not_take);
                e
            })
            .collect();
        self.states[state as usize].edges = guarded;
    }

    // --- elements ----------------------------------------------------------------------------

    /// Compiles elements `seq[1..]` backwards in front of `sink`; leaves `current` at `seq[0]`.
    fn middle_states(&mut self, seq: &'a [Element], sink: StateId) -> StateId {
        let mut last = sink;
        for idx in (1..seq.len()).rev() {
            self.current = Pat { seq, idx };
            let p = self.current;
            if p.not_follow() {
                let gap = matches!(p.el(), Element::Stage(s) if s.max_gap.is_some());
                if (gap || self.within) && self.states[last as usize].kind == StateKind::Final {
                    let pending = self.state_for_current(StateKind::Pending);
                    let not_cond = self.take_cond(p).expect("a stage has a take condition");
                    let stop = self.stop_state(not_cond, self.stage_of(p));
                    self.edge(pending, Action::Proceed, stop, not_cond);
                    let ignore = self.not(not_cond);
                    self.edge(pending, Action::Ignore, pending, ignore);
                    last = pending;
                }
            } else if p.not_next() {
                let not_next = self.state_for_current(StateKind::Normal);
                let not_cond = self.take_cond(p).expect("a stage has a take condition");
                let stop = self.stop_state(not_cond, self.stage_of(p));
                let pass = self.not(not_cond);
                if self.states[last as usize].kind == StateKind::Final {
                    // Ignore into the final state, so that the match completes on the next event
                    // (which it does not include) rather than on the one before it.
                    self.edge(not_next, Action::Ignore, last, pass);
                } else {
                    self.edge(not_next, Action::Proceed, last, pass);
                }
                self.edge(not_next, Action::Proceed, stop, not_cond);
                last = not_next;
            } else {
                last = self.convert(last);
            }
            self.following = Some(p);
        }
        self.current = Pat { seq, idx: 0 };
        last
    }

    /// Compiles the current element in front of `sink`.
    fn convert(&mut self, sink: StateId) -> StateId {
        let q = self.current.el().quantifier().clone();
        let last = if self.current.looping() {
            self.set_first_of_loop(false);
            let s = self.copy_without_transitive_nots(sink);
            let looping = self.looping_state(s);
            self.set_first_of_loop(true);
            self.times_states(looping, sink, q.min, q.min)
        } else if q.max.is_some_and(|m| m > 1) {
            self.times_states(sink, sink, q.min, q.max.unwrap_or(q.min))
        } else {
            let take = self.take_cond(self.current);
            let ignore = self.ignore_cond(self.current);
            let optional = self.current.optional();
            self.singleton(sink, Some(sink), take, ignore, optional)
        };
        self.add_stop_states(last);
        last
    }

    fn times_states(&mut self, sink: StateId, proceed: StateId, from: u32, to: u32) -> StateId {
        let mut last = sink;
        self.set_first_of_loop(false);
        let p = self.current;
        let until = match p.group() {
            Some(_) => None,
            None => self.until_of(p.el()),
        };
        let inner_ignore = self.inner_ignore_cond(p);
        let inner_ignore = self.with_until(inner_ignore, until, false);
        let take = self.take_cond(p);
        let take = self.with_until(take, until, true);
        if p.greedy() && from != to {
            if until.is_some() {
                let copy = self.copy_state(sink);
                self.original.insert(sink, copy);
            }
            if let Some(t) = take {
                self.update_with_greedy(sink, t);
            }
        }
        for _ in from..to {
            last = self.singleton(last, Some(proceed), take, inner_ignore, true);
            self.add_stop_to_looping(last);
        }
        for _ in 1..from {
            last = self.singleton(last, None, take, inner_ignore, false);
            self.add_stop_to_looping(last);
        }
        self.set_first_of_loop(true);
        let ignore = self.ignore_cond(p);
        let optional = p.optional();
        self.singleton(last, Some(proceed), take, ignore, optional)
    }

    fn singleton(
        &mut self,
        sink: StateId,
        proceed: Option<StateId>,
        take: Option<CondId>,
        ignore: Option<CondId>,
        optional: bool,
    ) -> StateId {
        if let Some(g) = self.current.group() {
            return self.group_states(g, sink, proceed, optional);
        }
        let state = self.state_for_current(StateKind::Normal);
        let s = self.copy_without_transitive_nots(sink);
        let take = take.expect("a stage has a take condition");
        self.edge(state, Action::Take, s, take);
        if optional
            && !self.head_of_group(self.current)
            && let Some(proceed) = proceed
        {
            let truth = self.truth();
            if self.current.greedy() {
                let until = self.until_of(self.current.el());
                if let Some(u) = until {
                    let target = *self.original.get(&proceed).unwrap_or(&proceed);
                    self.edge(state, Action::Proceed, target, u);
                    let nu = self.not(u);
                    self.edge(state, Action::Proceed, proceed, nu);
                } else {
                    self.edge(state, Action::Proceed, proceed, truth);
                }
            } else {
                self.edge(state, Action::Proceed, proceed, truth);
            }
        }
        if let Some(ignore) = ignore {
            let ignore_state = if optional {
                let i = self.state_for_current(StateKind::Normal);
                self.edge(i, Action::Take, s, take);
                self.edge(i, Action::Ignore, i, ignore);
                self.add_stop_states(i);
                i
            } else {
                state
            };
            self.edge(state, Action::Ignore, ignore_state, ignore);
        }
        state
    }

    fn looping_state(&mut self, sink: StateId) -> StateId {
        if let Some(g) = self.current.group() {
            return self.looping_group_states(g, sink);
        }
        let p = self.current;
        let until = self.until_of(p.el());
        let ignore = self.inner_ignore_cond(p);
        let ignore = self.with_until(ignore, until, false);
        let plain_take = self.take_cond(p).expect("a stage has a take condition");
        let take = self.with_until(Some(plain_take), until, true).expect("a take condition");
        let looping = self.state_for_current(StateKind::Normal);
        let truth = self.truth();
        if p.greedy() {
            if let Some(u) = until {
                let copy = self.copy_state(sink);
                self.edge(looping, Action::Proceed, copy, u);
                self.original.insert(sink, copy);
                let nu = self.not(u);
                self.edge(looping, Action::Proceed, sink, nu);
            } else {
                self.edge(looping, Action::Proceed, sink, truth);
            }
            self.update_with_greedy(sink, plain_take);
        } else {
            self.edge(looping, Action::Proceed, sink, truth);
        }
        self.edge(looping, Action::Take, looping, take);
        self.add_stop_to_looping(looping);
        if let Some(ignore) = ignore {
            let ignore_state = self.state_for_current(StateKind::Normal);
            self.edge(ignore_state, Action::Take, looping, take);
            self.edge(ignore_state, Action::Ignore, ignore_state, ignore);
            self.edge(looping, Action::Ignore, ignore_state, ignore);
            self.add_stop_to_looping(ignore_state);
        }
        looping
    }

    fn group_states(
        &mut self,
        g: &'a Group,
        sink: StateId,
        proceed: Option<StateId>,
        optional: bool,
    ) -> StateId {
        let saved = (self.current, self.following, self.group);
        self.group = Some((g, self.current));
        let mut last = self.middle_states(&g.pattern, sink);
        last = self.convert(last);
        if optional && let Some(p) = proceed {
            let truth = self.truth();
            self.edge(last, Action::Proceed, p, truth);
        }
        (self.current, self.following, self.group) = saved;
        last
    }

    fn looping_group_states(&mut self, g: &'a Group, sink: StateId) -> StateId {
        let saved = (self.current, self.following, self.group);
        let dummy = self.state_for_current(StateKind::Normal);
        self.group = Some((g, self.current));
        let mut last = self.middle_states(&g.pattern, dummy);
        last = self.convert(last);
        let truth = self.truth();
        self.edge(last, Action::Proceed, sink, truth);
        self.edge(dummy, Action::Proceed, last, truth);
        (self.current, self.following, self.group) = saved;
        last
    }
}

fn outer_group(g: &Group) -> Contiguity {
    g.contiguity.unwrap_or(Contiguity::Relaxed)
}

fn inner_group(g: &Group) -> Contiguity {
    inner_of(&g.quantifier)
}
