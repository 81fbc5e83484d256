//! One rule over one input partition: per-key NFAs in event-time order behind a watermark.
//!
//! Events are buffered until the partition's watermark (the largest event time seen minus the
//! rule's out-of-orderness) reaches them, then fed to their key's NFA in (time, input position)
//! order, so equal timestamps keep their input order. An event behind the watermark is late:
//! it is reported, never fed out of order. Timers (`within`, `max_gap`, trailing absences)
//! fire for every key when the watermark passes them; on a tie a timer fires before the events
//! of that instant, which is what makes windows half-open.
//!
//! A window rule's partition orders events and moves time the same way, but feeds each key's
//! [`KeyWindows`] instead of an NFA; its timer is the key's earliest window end, and firing
//! emits [`Emitted::Window`] with `having` already evaluated.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::compile::CompiledRule;
use crate::event::Event;
use crate::nfa::eval::{PathRef, Scope, holds};
use crate::nfa::{KeyNfa, Output, Scratch, StageId};
use crate::window::{FiredWindow, KeyWindows};

use super::timers::Timers;
use super::waiting::Waiting;

/// What a partition produced.
#[derive(Debug, Clone)]
pub enum Emitted {
    Match {
        key: Arc<str>,
        path: Vec<(StageId, Event)>,
    },
    Timeout {
        key: Arc<str>,
        path: Vec<(StageId, Event)>,
        at: i64,
    },
    /// An event behind the watermark, not fed to the NFA.
    Late {
        key: Arc<str>,
        event: Event,
        watermark: i64,
    },
    /// A line of `--trace` output.
    Trace(String),
    /// A window of a window rule closed (the watermark reached its end): its aggregates, and
    /// whether `having` holds for it (then it is a trigger).
    Window {
        key: Arc<str>,
        window: Box<FiredWindow>,
        triggered: bool,
    },
}

/// One key of a window rule: its windows, and the timer armed for the earliest end.
#[derive(Debug)]
struct WindowKeyState {
    windows: KeyWindows,
    timer: Timer,
}

#[derive(Debug)]
struct KeyState {
    nfa: KeyNfa,
    timer: Timer,
}

/// A key's armed timer: an event time, or none, in one word (a partition may hold a million
/// key states). `i64::MIN` stands for none; a deadline there is armed one millisecond later,
/// which no watermark of a partition that has seen an event can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timer(i64);

impl Timer {
    const NONE: Timer = Timer(i64::MIN);

    fn new(deadline: Option<i64>) -> Timer {
        deadline.map_or(Timer::NONE, |t| Timer(t.max(i64::MIN + 1)))
    }

    fn get(self) -> Option<i64> {
        (self != Timer::NONE).then_some(self.0)
    }
}

/// Idle key states kept for reuse (with their vectors' capacity), so that keys which come and
/// go (a match completes, the key's state is dropped, its next event starts it again) do not
/// allocate each time.
const SPARE_KEY_STATES: usize = 64;

/// Limits that keep a partition's memory bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Events waiting for the watermark, across the partition's keys.
    pub max_buffered_events: usize,
    /// Open partial matches per key; the newest beyond this are dropped (and counted).
    pub max_runs_per_key: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_buffered_events: 1_000_000, max_runs_per_key: 10_000 }
    }
}

/// Counters a partition keeps (reported by `replay` and the daemon's metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub events: u64,
    pub late: u64,
    pub matches: u64,
    pub timeouts: u64,
    /// Events fed early because the buffer limit was reached (out-of-order beyond the limit).
    pub forced: u64,
    /// Partial matches dropped because a key reached its limit.
    pub dropped_runs: u64,
    /// Window rules: events whose values (for `percentile`, `count_distinct`, `over`) were not
    /// kept because the partition held `max_buffered_events` values already.
    pub dropped_values: u64,
}

#[derive(Debug)]
pub struct Partition {
    rule: Arc<CompiledRule>,
    watermark: i64,
    max_ts: i64,
    /// Boxed: the map then holds a key and a pointer per slot, and its spare capacity (up to
    /// half of it, after growing) costs 24 bytes a slot rather than a whole state.
    keys: FxHashMap<Arc<str>, Box<KeyState>>,
    /// Idle states for new keys, at most [`SPARE_KEY_STATES`].
    #[expect(clippy::vec_box, reason = "the boxes move between `keys` and here unchanged")]
    spare_keys: Vec<Box<KeyState>>,
    /// A window rule's keys (a pattern rule's are in `keys`).
    windows: FxHashMap<Arc<str>, WindowKeyState>,
    /// Values the window keys hold, against `limits.max_buffered_events`.
    held: usize,
    /// Events waiting for the watermark, by (time, input position).
    ready: Waiting,
    /// Key deadlines, by (time, key).
    timers: Timers,
    scratch: Scratch,
    timeouts: bool,
    trace_key: Option<Arc<str>>,
    limits: Limits,
    pub counters: Counters,
}

impl Partition {
    /// Taken events keep their text (see [`crate::runtime::Pipeline::keeping_text`]).
    pub fn keep_text(&mut self) {
        Arc::make_mut(&mut self.rule).program.keep = crate::event::Keep::Text;
    }

    /// `timeouts`: report timed-out partial matches (the rule has `on_timeout`, or `--timeouts`).
    pub fn new(rule: Arc<CompiledRule>, timeouts: bool, limits: Limits) -> Partition {
        Partition {
            rule,
            watermark: i64::MIN,
            max_ts: i64::MIN,
            keys: FxHashMap::default(),
            spare_keys: Vec::new(),
            windows: FxHashMap::default(),
            held: 0,
            ready: Waiting::default(),
            timers: Timers::default(),
            scratch: Scratch::default(),
            timeouts,
            trace_key: None,
            limits,
            counters: Counters::default(),
        }
    }

    /// Explains every NFA step of this key as [`Emitted::Trace`] lines.
    pub fn trace(&mut self, key: Option<&str>) {
        self.trace_key = key.map(Arc::from);
    }

    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    pub fn rule(&self) -> &Arc<CompiledRule> {
        &self.rule
    }

    /// Keys with state (open partial matches, held matches or timers).
    pub fn live_keys(&self) -> usize {
        self.keys.len() + self.windows.len()
    }

    /// Offers one event of `key`; processes whatever the new watermark releases.
    pub fn offer(&mut self, key: Arc<str>, event: Event, out: &mut Vec<Emitted>) {
        if event.ts < self.watermark {
            self.counters.late += 1;
            out.push(Emitted::Late { key, event, watermark: self.watermark });
            return;
        }
        self.counters.events += 1;
        self.max_ts = self.max_ts.max(event.ts);
        self.ready.hold(key, event);
        let wm = self.max_ts.saturating_sub(self.rule.out_of_orderness).max(self.watermark);
        self.advance_to(wm, out);
        // Past the limit, feed the oldest buffered events even though the watermark has not
        // reached them: memory stays bounded, and the count says how often order was forced.
        while self.ready.len() > self.limits.max_buffered_events {
            let ts = self.ready.next_time().expect("non-empty");
            self.counters.forced += 1;
            self.advance_to(ts, out);
        }
    }

    /// Moves the watermark to `wm` (never backwards) and runs everything up to it.
    pub fn advance_to(&mut self, wm: i64, out: &mut Vec<Emitted>) {
        if wm > self.watermark {
            self.watermark = wm;
        }
        let w = self.watermark;
        loop {
            let next_event = self.ready.next_time().filter(|&t| t <= w);
            let (keys, windows) = (&self.keys, &self.windows);
            let next_timer = self.timers.due(w, |t, k| armed(keys, windows, t, k));
            match (next_event, next_timer) {
                (_, Some(tt)) if next_event.is_none_or(|te| tt <= te) => {
                    let (t, key) = self.timers.pop().expect("peeked");
                    self.fire_timer(t, key, out);
                }
                (Some(_), _) => {
                    let (key, event) = self.ready.pop().expect("peeked");
                    self.feed(key, event, out);
                }
                _ => break,
            }
        }
        self.ready.shrink();
        let (keys, windows) = (&self.keys, &self.windows);
        self.timers.compact(|t, k| armed(keys, windows, t, k));
    }

    /// End of input: the watermark becomes +infinity; every window closes.
    pub fn flush(&mut self, out: &mut Vec<Emitted>) {
        self.advance_to(i64::MAX, out);
    }

    fn feed(&mut self, key: Arc<str>, event: Event, out: &mut Vec<Emitted>) {
        let rule = Arc::clone(&self.rule);
        if let Some(w) = &rule.window {
            let keep = self.held < self.limits.max_buffered_events;
            let state = self.windows.entry(key.clone()).or_insert_with(|| WindowKeyState {
                windows: KeyWindows::default(),
                timer: Timer::NONE,
            });
            let added = state.windows.add(w, &rule.program, &event, keep);
            if !keep && w.keeps_values() {
                self.counters.dropped_values += 1;
            }
            self.held += added;
            if self.trace_key.as_deref() == Some(&*key) {
                out.push(Emitted::Trace(format!(
                    "event #{} at {} for key {key}: into windows {}",
                    event.seq,
                    crate::event::format_rfc3339(event.ts),
                    state
                        .windows
                        .open
                        .iter()
                        .map(|o| format!(
                            "[{}, {})",
                            crate::event::format_rfc3339(o.start),
                            crate::event::format_rfc3339(o.end)
                        ))
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
            self.rearm_window(key);
            return;
        }
        let program = &rule.program;
        let tracing = self.trace_key.as_deref() == Some(&*key);
        let mut lines = Vec::new();
        if tracing {
            lines.push(format!(
                "event #{} at {} for key {key}: {}",
                event.seq,
                crate::event::format_rfc3339(event.ts),
                event.raw().unwrap_or_default()
            ));
        }
        // A key without state runs on a spare state outside the map, and enters the map only
        // if the event leaves it something to keep: most events of a key with nothing open
        // start nothing, and would otherwise insert and at once remove the key.
        let mut fresh: Option<Box<KeyState>> = None;
        let state: &mut KeyState = match self.keys.get_mut(&key) {
            Some(state) => state,
            None => fresh.insert(match self.spare_keys.pop() {
                Some(mut state) => {
                    state.nfa.reset(program);
                    state.timer = Timer::NONE;
                    state
                }
                None => Box::new(KeyState { nfa: KeyNfa::new(program), timer: Timer::NONE }),
            }),
        };
        let mut outputs = Vec::new();
        state.nfa.process(
            program,
            &event,
            &mut self.scratch,
            &mut outputs,
            tracing.then_some(&mut lines),
        );
        let dropped = state.nfa.enforce_limit(self.limits.max_runs_per_key);
        if dropped > 0 {
            self.counters.dropped_runs += dropped as u64;
            if tracing {
                lines.push(format!(
                    "  {dropped} partial match(es) dropped: the key reached its limit"
                ));
            }
        }
        match fresh {
            None => self.finish_step(key, outputs, lines, out),
            Some(mut state) => {
                self.report(&key, outputs, lines, out);
                // As `finish_step` does for a key in the map, without the map.
                let deadline = state.nfa.next_deadline(program);
                if state.nfa.is_idle() && deadline.is_none() {
                    if self.spare_keys.len() < SPARE_KEY_STATES {
                        self.spare_keys.push(state);
                    }
                    return;
                }
                state.timer = Timer::new(deadline);
                if let Some(t) = state.timer.get() {
                    self.timers.arm(t, key.clone());
                }
                self.keys.insert(key, state);
            }
        }
    }

    fn fire_timer(&mut self, t: i64, key: Arc<str>, out: &mut Vec<Emitted>) {
        let rule = Arc::clone(&self.rule);
        if let Some(w) = &rule.window {
            let Some(state) = self.windows.get_mut(&key) else { return };
            state.timer = Timer::NONE;
            let before = state.windows.held();
            let mut fired = Vec::new();
            state.windows.fire_until(w, t, &mut fired);
            self.held = self.held.saturating_sub(before.saturating_sub(state.windows.held()));
            for f in fired {
                let triggered = w.having.as_ref().is_some_and(|h| {
                    let scope_event = w.scope_event(&key, f.start, f.end, &f.values);
                    let scope = Scope {
                        program: &rule.program,
                        event: Some(&scope_event),
                        path: PathRef::Slice(&[]),
                    };
                    holds(h, scope)
                });
                if triggered {
                    self.counters.matches += 1;
                }
                if self.trace_key.as_deref() == Some(&*key) {
                    out.push(Emitted::Trace(format!(
                        "window [{}, {}) for key {key} closes: {} event(s), having {}",
                        crate::event::format_rfc3339(f.start),
                        crate::event::format_rfc3339(f.end),
                        f.events,
                        if triggered { "holds" } else { "does not hold" }
                    )));
                }
                out.push(Emitted::Window { key: key.clone(), window: Box::new(f), triggered });
            }
            self.rearm_window(key);
            return;
        }
        let tracing = self.trace_key.as_deref() == Some(&*key);
        let mut lines = Vec::new();
        if tracing {
            lines.push(format!("time {} for key {key}", crate::event::format_rfc3339(t)));
        }
        let Some(state) = self.keys.get_mut(&key) else { return };
        state.timer = Timer::NONE;
        let mut outputs = Vec::new();
        state.nfa.advance_time(
            &rule.program,
            t,
            &mut outputs,
            self.timeouts,
            tracing.then_some(&mut lines),
        );
        self.finish_step(key, outputs, lines, out);
    }

    /// Reports a step's trace lines and outputs (matches and timeouts of `key`).
    fn report(
        &mut self,
        key: &Arc<str>,
        outputs: Vec<Output>,
        lines: Vec<String>,
        out: &mut Vec<Emitted>,
    ) {
        out.extend(lines.into_iter().map(Emitted::Trace));
        for o in outputs {
            match o {
                Output::Match(path) => {
                    self.counters.matches += 1;
                    out.push(Emitted::Match { key: key.clone(), path });
                }
                Output::Timeout { path, at } => {
                    self.counters.timeouts += 1;
                    out.push(Emitted::Timeout { key: key.clone(), path, at });
                }
            }
        }
    }

    /// Reports a step's outputs, re-arms the key's timer and drops an idle key's state.
    fn finish_step(
        &mut self,
        key: Arc<str>,
        outputs: Vec<Output>,
        lines: Vec<String>,
        out: &mut Vec<Emitted>,
    ) {
        self.report(&key, outputs, lines, out);
        let program = &self.rule.program;
        let Some(state) = self.keys.get_mut(&key) else { return };
        let deadline = state.nfa.next_deadline(program);
        rearm(&mut self.timers, &key, &mut state.timer, deadline);
        if state.nfa.is_idle()
            && state.timer.get().is_none()
            && let Some(state) = self.keys.remove(&key)
            && self.spare_keys.len() < SPARE_KEY_STATES
        {
            self.spare_keys.push(state);
        }
    }

    /// Re-arms a window key's timer at its earliest window end; drops an idle key's state.
    fn rearm_window(&mut self, key: Arc<str>) {
        let Some(state) = self.windows.get_mut(&key) else { return };
        let deadline = state.windows.next_deadline();
        rearm(&mut self.timers, &key, &mut state.timer, deadline);
        if state.windows.is_idle() {
            self.windows.remove(&key);
        }
    }

    /// Every key's windows of a window rule, for checkpoints.
    pub fn window_keys(&self) -> impl Iterator<Item = (&Arc<str>, &KeyWindows)> {
        self.windows.iter().map(|(k, s)| (k, &s.windows))
    }

    pub(super) fn insert_window_key(&mut self, key: Arc<str>, windows: KeyWindows) {
        let timer = Timer::new(windows.next_deadline());
        if let Some(t) = timer.get() {
            self.timers.arm(t, key.clone());
        }
        self.held += windows.held();
        self.windows.insert(key, WindowKeyState { windows, timer });
    }

    /// Events waiting for the watermark, with their keys, in processing order.
    pub fn buffered(&self) -> impl Iterator<Item = (&Arc<str>, &Event)> {
        self.ready.iter()
    }

    /// (watermark, largest event time seen, counters).
    pub fn clock(&self) -> (i64, i64, Counters) {
        (self.watermark, self.max_ts, self.counters)
    }

    pub(super) fn set_clock(&mut self, watermark: i64, max_ts: i64, counters: Counters) {
        self.watermark = watermark;
        self.max_ts = max_ts;
        self.counters = counters;
    }

    pub(super) fn insert_key(&mut self, key: Arc<str>, nfa: KeyNfa) {
        let timer = Timer::new(nfa.next_deadline(&self.rule.program));
        if let Some(t) = timer.get() {
            self.timers.arm(t, key.clone());
        }
        self.keys.insert(key, Box::new(KeyState { nfa, timer }));
    }

    pub(super) fn insert_buffered(&mut self, key: Arc<str>, event: Event) {
        self.ready.hold(key, event);
    }

    /// Every key's NFA, for invariant checks in tests.
    pub fn nfas(&self) -> impl Iterator<Item = (&Arc<str>, &KeyNfa)> {
        self.keys.iter().map(|(k, s)| (k, &s.nfa))
    }
}

/// Whether `key` (of a pattern or a window rule) is armed at `t`.
fn armed(
    keys: &FxHashMap<Arc<str>, Box<KeyState>>,
    windows: &FxHashMap<Arc<str>, WindowKeyState>,
    t: i64,
    key: &str,
) -> bool {
    let timer = match keys.get(key) {
        Some(state) => state.timer,
        None => windows.get(key).map_or(Timer::NONE, |state| state.timer),
    };
    timer.get() == Some(t)
}

/// Moves `key`'s timer from `*timer` to `deadline` (either may be none).
fn rearm(timers: &mut Timers, key: &Arc<str>, timer: &mut Timer, deadline: Option<i64>) {
    let new = Timer::new(deadline);
    if new == *timer {
        return;
    }
    if timer.get().is_some() {
        timers.disarm();
    }
    if let Some(t) = new.get() {
        timers.arm(t, key.clone());
    }
    *timer = new;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition may hold a million keys, each with a boxed state: its size is memory per
    /// key (BENCHMARKS.md, "Speed and memory targets", counts on these sizes).
    #[test]
    fn per_key_state_stays_small() {
        let state = std::mem::size_of::<KeyState>();
        assert!(state <= 128, "KeyState is {state} bytes (128 is an allocator size class)");
        let slot = std::mem::size_of::<(Arc<str>, Box<KeyState>)>();
        assert_eq!(slot, 24, "a key map slot is a key and a pointer");
        let run = std::mem::size_of::<crate::nfa::Run>();
        assert!(run <= 32, "Run is {run} bytes");
    }
}
