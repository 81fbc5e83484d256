//! The rule AST: plain data, shared by the YAML and DSL front ends.
//!
//! Both front ends lower to exactly these types, so a rule means the same whatever form it was
//! written in. Every node that a diagnostic may point at carries a [`Span`]; spans never take
//! part in equality (see [`Span`]), so "the YAML and DSL forms give the same AST" is `==`.
//!
//! The AST is syntax-level: a path such as `baseline.metadata.value` stays a [`Path`] and a call
//! such as `count(drop)` stays a [`ExprKind::Call`]. What a path or call refers to (a field of
//! the current event, a field of an earlier stage, an aggregate) is decided by
//! [`crate::resolve`], which the checker and the engine's compiler share.

mod expr;
mod template;

pub use expr::{BinaryOp, Expr, ExprKind, Literal, Path, Segment, UnaryOp};
pub use template::{Template, TemplatePart, Value};

use crate::source::Span;

/// A name written in a rule (rule, stage or group name), with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

impl Name {
    pub fn new(text: impl Into<String>, span: Span) -> Self {
        Name { text: text.into(), span }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One rule: a pattern (or windowed aggregation) over a keyed stream and what to emit when it
/// matches.
///
/// A rule is of one of two kinds: a pattern rule (`pattern` not empty, `window` `None`) or a
/// window rule (`window` set, `pattern` empty). The front ends read both kinds; the checker
/// refuses a rule that mixes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: Name,
    pub description: Option<String>,
    pub source: Source,
    /// The pattern's elements in order; never empty once checked (for a pattern rule).
    pub pattern: Vec<Element>,
    /// The windowed aggregation of a window rule.
    pub window: Option<Windowed>,
    /// First to last event of a match (Flink's `within`); half-open.
    pub within: Option<Duration>,
    pub skip: Skip,
    pub emit: Option<Emit>,
    pub on_timeout: Option<Emit>,
    /// The whole rule (the YAML mapping or the DSL `rule` block).
    pub span: Span,
}

/// Where events come from and how they are keyed and timed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    pub topics: Vec<Name>,
    /// Dotted path of the key field; `None` = one global key.
    pub key: Option<Path>,
    /// Dotted path of the event-time field (RFC 3339 or epoch millis); `None` = record time.
    pub time: Option<Path>,
    /// Events for which this is not true are not offered to the pattern at all.
    pub filter: Option<Expr>,
    /// Watermark = max event time seen - this. `None` = 0.
    pub max_out_of_orderness: Option<Duration>,
}

/// One element of a pattern: a single stage or a group (a sub-sequence).
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    Stage(Stage),
    Group(Group),
}

impl Element {
    pub fn name(&self) -> &Name {
        match self {
            Element::Stage(s) => &s.name,
            Element::Group(g) => &g.name,
        }
    }

    pub fn contiguity(&self) -> Option<Contiguity> {
        match self {
            Element::Stage(s) => s.contiguity,
            Element::Group(g) => g.contiguity,
        }
    }

    pub fn quantifier(&self) -> &Quantifier {
        match self {
            Element::Stage(s) => &s.quantifier,
            Element::Group(g) => &g.quantifier,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Element::Stage(s) => s.span,
            Element::Group(g) => g.span,
        }
    }
}

/// A stage: one pattern step that takes events satisfying its condition.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Name,
    /// How this stage follows the element before it. `None` only on the first element of a
    /// pattern or group, where contiguity has no meaning; the front ends fill in the default
    /// (`Relaxed`) on every other element, so `None` elsewhere is a checker error.
    pub contiguity: Option<Contiguity>,
    /// Where the contiguity was written, when it was (for "contiguity on the first stage").
    pub contiguity_span: Option<Span>,
    pub quantifier: Quantifier,
    /// A negated stage: `notNext` (strict) or `notFollowedBy` (relaxed).
    pub absent: bool,
    /// The stage's condition (`where`); `None` = every event.
    pub condition: Option<Expr>,
    /// At most this long after the previous matched event.
    pub max_gap: Option<Duration>,
    pub span: Span,
}

/// A group: a sub-sequence that is repeated, made optional or followed as one element.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: Name,
    pub contiguity: Option<Contiguity>,
    pub contiguity_span: Option<Span>,
    pub quantifier: Quantifier,
    pub pattern: Vec<Element>,
    pub span: Span,
}

/// How an element follows the one before it (Flink's next / followedBy / followedByAny).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contiguity {
    /// `next`: the very next event of the key.
    Strict,
    /// `followedBy`: skips events that do not match, takes the first that does.
    Relaxed,
    /// `followedByAny`: also branches past matching events.
    NonDeterministic,
}

impl Contiguity {
    pub const fn yaml_name(self) -> &'static str {
        match self {
            Contiguity::Strict => "strict",
            Contiguity::Relaxed => "relaxed",
            Contiguity::NonDeterministic => "any",
        }
    }
}

/// How often an element repeats, and how a loop behaves.
#[derive(Debug, Clone)]
pub struct Quantifier {
    /// At least this many (>= 1 once checked).
    pub min: u32,
    /// At most this many; `None` = unbounded.
    pub max: Option<u32>,
    /// The whole element may be skipped.
    pub optional: bool,
    /// Take as many as possible before trying the next element.
    pub greedy: bool,
    /// Strict contiguity between the loop's own events.
    pub consecutive: bool,
    /// Non-deterministic relaxed contiguity between the loop's own events.
    pub allow_combinations: bool,
    /// Stop condition of a loop: an event satisfying it ends the loop (and is not taken).
    pub until: Option<Expr>,
    /// Where the quantifier was written, when it was (`times: ...` or `{2,3}` etc.).
    pub span: Option<Span>,
}

impl Default for Quantifier {
    fn default() -> Self {
        Quantifier {
            min: 1,
            max: Some(1),
            optional: false,
            greedy: false,
            consecutive: false,
            allow_combinations: false,
            until: None,
            span: None,
        }
    }
}

impl Quantifier {
    /// More than one event may be taken: a loop in Flink's terms.
    pub fn is_looping(&self) -> bool {
        self.max != Some(1)
    }

    /// Exactly one event (neither looping nor optional).
    pub fn is_single(&self) -> bool {
        self.min == 1 && self.max == Some(1) && !self.optional
    }
}

// Stages, groups and quantifiers compare by meaning. Their spans are `Span`s, which never take
// part in equality, except the optional ones (`contiguity_span`, `Quantifier::span`): `Some`
// against `None` would make a contiguity or quantifier written out (`contiguity: relaxed`,
// `followed by`) differ from the same one left to its default. The destructuring makes a new
// field a compile error here until it is compared (or deliberately not).

impl PartialEq for Stage {
    fn eq(&self, other: &Stage) -> bool {
        let Stage {
            name,
            contiguity,
            contiguity_span: _,
            quantifier,
            absent,
            condition,
            max_gap,
            span: _,
        } = self;
        *name == other.name
            && *contiguity == other.contiguity
            && *quantifier == other.quantifier
            && *absent == other.absent
            && *condition == other.condition
            && *max_gap == other.max_gap
    }
}

impl PartialEq for Group {
    fn eq(&self, other: &Group) -> bool {
        let Group { name, contiguity, contiguity_span: _, quantifier, pattern, span: _ } = self;
        *name == other.name
            && *contiguity == other.contiguity
            && *quantifier == other.quantifier
            && *pattern == other.pattern
    }
}

impl PartialEq for Quantifier {
    fn eq(&self, other: &Quantifier) -> bool {
        let Quantifier {
            min,
            max,
            optional,
            greedy,
            consecutive,
            allow_combinations,
            until,
            span: _,
        } = self;
        *min == other.min
            && *max == other.max
            && *optional == other.optional
            && *greedy == other.greedy
            && *consecutive == other.consecutive
            && *allow_combinations == other.allow_combinations
            && *until == other.until
    }
}

/// A duration written with a unit (`500ms`, `10s`, `5m`, `24h`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub millis: u64,
    pub span: Span,
}

/// The after-match skip strategy (Flink's `AfterMatchSkipStrategy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Skip {
    #[default]
    NoSkip,
    ToNext,
    PastLastEvent,
    ToFirst(Name),
    ToLast(Name),
}

/// What to write when a rule matches (or a partial match times out).
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// Output topic; `None` = the deployment's default alerts topic.
    pub topic: Option<Name>,
    /// The trigger event's own fields, in the order written.
    pub fields: Vec<(Name, Value)>,
    pub span: Span,
}

/// A window rule's windows, aggregates, `having` condition and window output.
#[derive(Debug, Clone, PartialEq)]
pub struct Windowed {
    pub window: Window,
    /// Named aggregates in the order written; never empty once checked.
    pub aggregates: Vec<Aggregate>,
    /// An expression over the aggregate names: a window for which it holds is a trigger.
    pub having: Option<Expr>,
    /// Every fired window's aggregates go to this topic, whether `having` holds or not.
    pub windows: Option<WindowsOutput>,
}

/// How events are assigned to windows (per key, in event time, half-open).
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// Epoch-aligned windows of `size` that do not overlap.
    Tumbling { size: Duration, span: Span },
    /// Epoch-aligned windows of `size` that start every `every`; an event is in size/every of them.
    Sliding { size: Duration, every: Duration, span: Span },
    /// An event opens `[t, t + gap)`; overlapping windows of a key merge.
    Session { gap: Duration, span: Span },
}

impl Window {
    /// Where the window was written (the `window:` entry or the DSL clause).
    pub fn span(&self) -> Span {
        match self {
            Window::Tumbling { span, .. }
            | Window::Sliding { span, .. }
            | Window::Session { span, .. } => *span,
        }
    }

    /// The longest a window lasts (`None` for sessions, which grow).
    pub fn size(&self) -> Option<&Duration> {
        match self {
            Window::Tumbling { size, .. } | Window::Sliding { size, .. } => Some(size),
            Window::Session { .. } => None,
        }
    }
}

/// One named aggregate: `name: count()` or `name: {of: avg(x), where: ..., over: 1d}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub name: Name,
    /// The aggregate call (`count()`, `sum(x)`, `percentile(x, 95)`, ...), as an expression.
    pub of: Expr,
    /// Only events for which this holds are aggregated.
    pub filter: Option<Expr>,
    /// Aggregate over the trailing range `[window end - over, window end)` instead of the window.
    pub over: Option<Duration>,
    pub span: Span,
}

/// `windows: {topic: T}`: where every fired window's aggregates go.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowsOutput {
    pub topic: Name,
    pub span: Span,
}
