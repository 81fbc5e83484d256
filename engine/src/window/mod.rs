//! Windowed aggregation: one key's open windows, their accumulators, and firing.
//!
//! Pure and synchronous like `nfa/`: the runtime's partition feeds a key's events in event-time
//! order ([`KeyWindows::add`]) and, when its watermark reaches a window's end, fires it
//! ([`KeyWindows::fire_until`]). Windows are half-open `[start, end)`:
//!
//! - tumbling: `start = floor(t / size) * size` (aligned to the epoch);
//! - sliding: the `size / every` windows `[s, s + size)` with `s` a multiple of `every` and
//!   `s <= t < s + size`;
//! - session: an event opens `[t, t + gap)`; windows of the key that overlap merge (an event
//!   exactly `gap` after a session's last event starts a new session).
//!
//! Accumulators are incremental where they can be (`count`, `sum`, `avg`, `min`, `max`);
//! `count_distinct` keeps the distinct values and `percentile` the numeric values, counted by
//! [`KeyWindows::held`] so the partition can bound them. Aggregates with `over` are computed
//! at firing from a per-key history of `(time, value)` pairs kept for the longest `over`.

pub(crate) mod codec;

use std::collections::{BTreeSet, VecDeque};

use cepheus_grammar::resolve::WindowAggregate;

use crate::compile::window::{CompiledAggregate, CompiledWindow, WindowKind};
use crate::event::{Event, Val};
use crate::nfa::eval::{PathRef, Scope, eval, holds};
use crate::nfa::program::Program;

/// A window that fired: its range and its aggregates, in the rule's order.
#[derive(Debug, Clone)]
pub struct FiredWindow {
    pub start: i64,
    pub end: i64,
    /// Events in the window (after the rule's filter).
    pub events: u64,
    pub values: Vec<Val>,
}

/// One aggregate's running state over one window.
#[derive(Debug, Clone)]
pub(crate) enum Acc {
    Count(u64),
    /// Sum of the numeric values; `int` while every value was an integer and the sum fits.
    Sum {
        n: u64,
        float: f64,
        int: Option<i64>,
    },
    /// The least or greatest numeric value so far.
    Extreme(Option<Val>),
    /// Distinct values, as their JSON text.
    Distinct(BTreeSet<String>),
    /// Every numeric value.
    Values(Vec<Val>),
}

impl Acc {
    fn new(func: WindowAggregate) -> Acc {
        match func {
            WindowAggregate::Count => Acc::Count(0),
            WindowAggregate::Sum | WindowAggregate::Avg => {
                Acc::Sum { n: 0, float: 0.0, int: Some(0) }
            }
            WindowAggregate::Min | WindowAggregate::Max => Acc::Extreme(None),
            WindowAggregate::CountDistinct => Acc::Distinct(BTreeSet::new()),
            WindowAggregate::Percentile => Acc::Values(Vec::new()),
        }
    }

    /// Adds one value (`Val::Bool(true)` stands for an event of `count()`); returns how many
    /// values it now holds more.
    fn add(&mut self, func: WindowAggregate, v: &Val) -> usize {
        match self {
            Acc::Count(n) => {
                if !matches!(v, Val::Missing | Val::Null) {
                    *n += 1;
                }
                0
            }
            Acc::Sum { n, float, int } => {
                let Some(f) = v.as_f64() else { return 0 };
                *n += 1;
                *float += f;
                *int = match (*int, v) {
                    (Some(s), Val::Int(i)) => s.checked_add(*i),
                    _ => None,
                };
                0
            }
            Acc::Extreme(best) => {
                let Some(f) = v.as_f64() else { return 0 };
                let better = match best.as_ref().and_then(Val::as_f64) {
                    None => true,
                    Some(b) if func == WindowAggregate::Min => f < b,
                    Some(b) => f > b,
                };
                if better {
                    *best = Some(v.clone());
                }
                0
            }
            Acc::Distinct(set) => {
                if matches!(v, Val::Missing | Val::Null) {
                    return 0;
                }
                usize::from(set.insert(v.to_json().to_string()))
            }
            Acc::Values(values) => {
                if v.as_f64().is_none_or(f64::is_nan) {
                    return 0;
                }
                values.push(v.clone());
                1
            }
        }
    }

    /// How many values it holds (the bounded part of its state).
    fn held(&self) -> usize {
        match self {
            Acc::Distinct(set) => set.len(),
            Acc::Values(v) => v.len(),
            _ => 0,
        }
    }

    fn result(&self, a: &CompiledAggregate) -> Val {
        match self {
            Acc::Count(n) => Val::Int(*n as i64),
            Acc::Sum { n: 0, .. } => Val::Null,
            Acc::Sum { n, float, int } => match a.func {
                WindowAggregate::Avg => Val::Float(float / *n as f64),
                _ => int.map_or(Val::Float(*float), Val::Int),
            },
            Acc::Extreme(best) => best.clone().unwrap_or(Val::Null),
            Acc::Distinct(set) => Val::Int(set.len() as i64),
            Acc::Values(values) => percentile(values, a.percentile),
        }
    }
}

/// Nearest rank: the smallest value such that at least `p`% of the values are at most it, that
/// is the `ceil(p / 100 * n)`-th smallest (1-based). No values: null.
pub fn percentile(values: &[Val], p: f64) -> Val {
    if values.is_empty() {
        return Val::Null;
    }
    let mut sorted: Vec<&Val> = values.iter().collect();
    sorted
        .sort_by(|a, b| a.as_f64().unwrap_or(f64::NAN).total_cmp(&b.as_f64().unwrap_or(f64::NAN)));
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1].clone()
}

/// One open window of a key.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    pub start: i64,
    pub end: i64,
    pub events: u64,
    /// One per aggregate without `over` (aggregates with `over` have `None` here).
    pub accs: Vec<Option<Acc>>,
}

impl Open {
    fn new(w: &CompiledWindow, start: i64, end: i64) -> Open {
        let accs =
            w.aggregates.iter().map(|a| a.over.is_none().then(|| Acc::new(a.func))).collect();
        Open { start, end, events: 0, accs }
    }

    fn held(&self) -> usize {
        self.accs.iter().flatten().map(Acc::held).sum()
    }
}

/// One key's windows, and its history for aggregates with `over`.
#[derive(Debug, Clone, Default)]
pub struct KeyWindows {
    /// Open windows, by start (sessions never overlap once merged).
    pub(crate) open: Vec<Open>,
    /// `(time, one value per aggregate)`, oldest first: `Val::Missing` where the aggregate has
    /// no `over` or its `where` did not hold.
    pub(crate) history: VecDeque<(i64, Vec<Val>)>,
}

/// The value an event gives an aggregate: its argument, or `true` for `count()`; `Missing`
/// when the aggregate's `where` does not hold.
fn value_of(a: &CompiledAggregate, program: &Program, event: &Event) -> Val {
    let scope = Scope { program, event: Some(event), path: PathRef::Slice(&[]) };
    if let Some(f) = &a.filter
        && !holds(f, scope)
    {
        return Val::Missing;
    }
    match &a.arg {
        Some(x) => eval(x, scope),
        None => Val::Bool(true),
    }
}

impl KeyWindows {
    /// Adds one event (not late: no window it belongs to has fired). Returns how many values
    /// the key holds more (for the partition's bound); `keep_values` false drops values that
    /// would be held (the bound is reached), which the caller counts.
    pub fn add(
        &mut self,
        w: &CompiledWindow,
        program: &Program,
        event: &Event,
        keep_values: bool,
    ) -> usize {
        let values: Vec<Val> = w.aggregates.iter().map(|a| value_of(a, program, event)).collect();
        let t = event.ts;
        let mut added = 0;
        let targets: Vec<(i64, i64)> = match w.kind {
            WindowKind::Tumbling { size } => {
                let start = t.div_euclid(size) * size;
                vec![(start, start.saturating_add(size))]
            }
            WindowKind::Sliding { size, every } => {
                let mut out = Vec::new();
                let mut s = t.div_euclid(every) * every;
                // The windows `[s, s + size)` with `s <= t < s + size`, latest start first.
                while s > t.saturating_sub(size) {
                    out.push((s, s.saturating_add(size)));
                    match s.checked_sub(every) {
                        Some(earlier) => s = earlier,
                        None => break,
                    }
                }
                out.reverse();
                out
            }
            WindowKind::Session { gap } => vec![self.merge_session(w, t, t.saturating_add(gap))],
        };
        for (start, end) in targets {
            let i = match self.open.iter().position(|o| o.start == start && o.end == end) {
                Some(i) => i,
                None => {
                    let at = self.open.partition_point(|o| (o.start, o.end) < (start, end));
                    self.open.insert(at, Open::new(w, start, end));
                    at
                }
            };
            let open = &mut self.open[i];
            open.events += 1;
            for ((a, acc), v) in w.aggregates.iter().zip(&mut open.accs).zip(&values) {
                let Some(acc) = acc else { continue };
                if !keep_values && matches!(acc, Acc::Distinct(_) | Acc::Values(_)) {
                    continue;
                }
                added += acc.add(a.func, v);
            }
        }
        if w.max_over.is_some() {
            let kept: Vec<Val> = w
                .aggregates
                .iter()
                .zip(values)
                .map(|(a, v)| if a.over.is_some() { v } else { Val::Missing })
                .collect();
            if keep_values {
                self.history.push_back((t, kept));
                added += 1;
            }
        }
        added
    }

    /// Merges `[start, end)` with every open session it overlaps; returns the merged range.
    fn merge_session(&mut self, w: &CompiledWindow, start: i64, end: i64) -> (i64, i64) {
        let (mut start, mut end) = (start, end);
        let mut merged: Option<Open> = None;
        let mut i = 0;
        while i < self.open.len() {
            let o = &self.open[i];
            if o.start < end && start < o.end {
                let o = self.open.remove(i);
                start = start.min(o.start);
                end = end.max(o.end);
                merged = Some(match merged {
                    None => o,
                    Some(m) => merge_open(w, m, o),
                });
            } else {
                i += 1;
            }
        }
        if let Some(mut m) = merged {
            m.start = start;
            m.end = end;
            let at = self.open.partition_point(|o| (o.start, o.end) < (start, end));
            self.open.insert(at, m);
        }
        (start, end)
    }

    /// The earliest end of an open window: when the key next needs the watermark.
    pub fn next_deadline(&self) -> Option<i64> {
        self.open.iter().map(|o| o.end).min()
    }

    /// Fires every open window with `end <= t`, in order of end (then start).
    pub fn fire_until(&mut self, w: &CompiledWindow, t: i64, out: &mut Vec<FiredWindow>) {
        let mut due: Vec<Open> = Vec::new();
        self.open.retain(|o| {
            if o.end <= t {
                due.push(o.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|o| (o.end, o.start));
        for o in due {
            let values = w
                .aggregates
                .iter()
                .zip(&o.accs)
                .enumerate()
                .map(|(i, (a, acc))| match (acc, a.over) {
                    (Some(acc), _) => acc.result(a),
                    (None, Some(over)) => self.over_value(i, a, o.end, over),
                    (None, None) => Val::Null,
                })
                .collect();
            if let Some(max_over) = w.max_over {
                // Later windows end later: history before this end - max_over is never read.
                let keep_from = o.end.saturating_sub(max_over);
                while self.history.front().is_some_and(|(ts, _)| *ts < keep_from) {
                    self.history.pop_front();
                }
            }
            out.push(FiredWindow { start: o.start, end: o.end, events: o.events, values });
        }
    }

    /// Aggregate `i` (`a`, which has `over`) at a window's end: over the history in
    /// `[end - over, end)`.
    fn over_value(&self, i: usize, a: &CompiledAggregate, end: i64, over: i64) -> Val {
        let from = end.saturating_sub(over);
        let mut acc = Acc::new(a.func);
        for (ts, values) in &self.history {
            if *ts >= from
                && *ts < end
                && let Some(v) = values.get(i)
            {
                acc.add(a.func, v);
            }
        }
        acc.result(a)
    }

    /// Values held (distinct and percentile values, history entries).
    pub fn held(&self) -> usize {
        self.open.iter().map(Open::held).sum::<usize>() + self.history.len()
    }

    /// No open window and no history: the key's state can go.
    pub fn is_idle(&self) -> bool {
        self.open.is_empty() && self.history.is_empty()
    }
}

/// Two sessions' accumulators as one.
fn merge_open(w: &CompiledWindow, a: Open, b: Open) -> Open {
    let accs = w
        .aggregates
        .iter()
        .zip(a.accs.into_iter().zip(b.accs))
        .map(|(agg, pair)| match pair {
            (Some(x), Some(y)) => Some(merge_acc(agg.func, x, y)),
            (x, y) => x.or(y),
        })
        .collect();
    Open { start: a.start.min(b.start), end: a.end.max(b.end), events: a.events + b.events, accs }
}

fn merge_acc(func: WindowAggregate, x: Acc, y: Acc) -> Acc {
    match (x, y) {
        (Acc::Count(a), Acc::Count(b)) => Acc::Count(a + b),
        (Acc::Sum { n: n1, float: f1, int: i1 }, Acc::Sum { n: n2, float: f2, int: i2 }) => {
            let int = match (i1, i2) {
                (Some(a), Some(b)) => a.checked_add(b),
                _ => None,
            };
            Acc::Sum { n: n1 + n2, float: f1 + f2, int }
        }
        (mut e @ Acc::Extreme(_), Acc::Extreme(Some(v))) => {
            e.add(func, &v);
            e
        }
        (e @ Acc::Extreme(_), Acc::Extreme(None)) => e,
        (Acc::Distinct(mut a), Acc::Distinct(b)) => {
            a.extend(b);
            Acc::Distinct(a)
        }
        (Acc::Values(mut a), Acc::Values(b)) => {
            a.extend(b);
            Acc::Values(a)
        }
        (x, _) => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Vec<Val> {
        v.iter().map(|i| Val::Int(*i)).collect()
    }

    #[test]
    fn nearest_rank_percentile() {
        let v = ints(&[15, 20, 35, 40, 50]);
        assert!(percentile(&v, 5.0).equals(&Val::Int(15)));
        assert!(percentile(&v, 30.0).equals(&Val::Int(20)));
        assert!(percentile(&v, 40.0).equals(&Val::Int(20)));
        assert!(percentile(&v, 50.0).equals(&Val::Int(35)));
        assert!(percentile(&v, 100.0).equals(&Val::Int(50)));
        assert!(matches!(percentile(&[], 50.0), Val::Null));
    }

    #[test]
    fn sum_stays_integer_until_a_float() {
        let mut acc = Acc::new(WindowAggregate::Sum);
        acc.add(WindowAggregate::Sum, &Val::Int(2));
        acc.add(WindowAggregate::Sum, &Val::Str("x".into()));
        assert!(matches!(acc, Acc::Sum { n: 1, int: Some(2), .. }));
        acc.add(WindowAggregate::Sum, &Val::Float(0.5));
        assert!(matches!(acc, Acc::Sum { n: 2, int: None, .. }));
        let a = CompiledAggregate {
            name: "s".into(),
            func: WindowAggregate::Sum,
            arg: None,
            percentile: 0.0,
            filter: None,
            over: None,
        };
        assert!(acc.result(&a).equals(&Val::Float(2.5)));
    }
}
