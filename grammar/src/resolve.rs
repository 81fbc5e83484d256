//! What names in expressions refer to: functions, aggregates and stage references.
//!
//! Shared by the checker (which reports what does not resolve) and the engine's compiler (which
//! turns resolved expressions into evaluable code), so both agree on the meaning of every name.
//!
//! - A call's name is a [`Function`] (`contains(a, b)`) or an [`Aggregate`] over a stage
//!   (`count(drop)`, `sum(drop.metadata.value)`).
//! - A path whose first segment is the name of a stage of the rule refers to that stage's event
//!   (`baseline.metadata.value`); any other path is a field of the current event. Stage names
//!   therefore shadow event fields of the same name.

use crate::ast::{Element, Path, Rule};

/// Scalar functions: name, and number of arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `contains(haystack, needle)`: substring, or list membership when `haystack` is a list.
    Contains,
    StartsWith,
    EndsWith,
    Lower,
    Upper,
    /// Length of a string (in characters), list or object.
    Len,
    Abs,
    /// `exists(path)`: the field is present (even if null).
    Exists,
}

impl Function {
    pub const ALL: &'static [Function] = &[
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::Lower,
        Function::Upper,
        Function::Len,
        Function::Abs,
        Function::Exists,
    ];

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.iter().copied().find(|f| f.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "starts_with",
            Function::EndsWith => "ends_with",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Len => "len",
            Function::Abs => "abs",
            Function::Exists => "exists",
        }
    }

    pub const fn arity(self) -> usize {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => 2,
            Function::Lower
            | Function::Upper
            | Function::Len
            | Function::Abs
            | Function::Exists => 1,
        }
    }
}

/// Aggregates over the events a stage has taken (so far, inside the stage's own loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// `count(stage)`: number of events taken; the only aggregate without a field path.
    Count,
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
}

impl Aggregate {
    pub const ALL: &'static [Aggregate] = &[
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::First,
        Aggregate::Last,
    ];

    pub fn from_name(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.iter().copied().find(|a| a.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::First => "first",
            Aggregate::Last => "last",
        }
    }
}

/// Aggregates of a window rule's `aggregates`, over the events of a window (or of `over`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowAggregate {
    /// `count()`: events; `count(x)`: events where `x` is present and not null.
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// Distinct values of `x` (present and not null).
    CountDistinct,
    /// `percentile(x, p)`: nearest rank over the numeric values of `x`.
    Percentile,
}

impl WindowAggregate {
    pub const ALL: &'static [WindowAggregate] = &[
        WindowAggregate::Count,
        WindowAggregate::Sum,
        WindowAggregate::Avg,
        WindowAggregate::Min,
        WindowAggregate::Max,
        WindowAggregate::CountDistinct,
        WindowAggregate::Percentile,
    ];

    pub fn from_name(name: &str) -> Option<WindowAggregate> {
        WindowAggregate::ALL.iter().copied().find(|a| a.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            WindowAggregate::Count => "count",
            WindowAggregate::Sum => "sum",
            WindowAggregate::Avg => "avg",
            WindowAggregate::Min => "min",
            WindowAggregate::Max => "max",
            WindowAggregate::CountDistinct => "count_distinct",
            WindowAggregate::Percentile => "percentile",
        }
    }

    /// The fewest and most arguments it takes.
    pub const fn arity(self) -> (usize, usize) {
        match self {
            WindowAggregate::Count => (0, 1),
            WindowAggregate::Percentile => (2, 2),
            _ => (1, 1),
        }
    }

    /// How to call it, for help lines.
    pub const fn usage(self) -> &'static str {
        match self {
            WindowAggregate::Count => {
                "`count()` counts events; `count(x)` counts non-null values of `x`"
            }
            WindowAggregate::Sum => "`sum(x)`: the sum of the numeric values of `x`",
            WindowAggregate::Avg => "`avg(x)`: the mean of the numeric values of `x`",
            WindowAggregate::Min => "`min(x)`: the least numeric value of `x`",
            WindowAggregate::Max => "`max(x)`: the greatest numeric value of `x`",
            WindowAggregate::CountDistinct => {
                "`count_distinct(x)`: how many distinct values `x` takes"
            }
            WindowAggregate::Percentile => "`percentile(x, p)` with a number `p`, 0 < p <= 100",
        }
    }
}

/// Every callable name, for "did you mean".
pub fn all_call_names() -> impl Iterator<Item = &'static str> {
    Function::ALL.iter().map(|f| f.name()).chain(Aggregate::ALL.iter().map(|a| a.name()))
}

/// A stage or group of a rule, flattened in pattern order with facts resolution needs.
#[derive(Debug, Clone)]
pub struct StageInfo<'a> {
    pub name: &'a str,
    /// Position in pattern order (depth first; a group comes before its members).
    pub order: usize,
    pub is_group: bool,
    /// Takes exactly one event in every match: neither looping nor optional, and not inside a
    /// looping or optional group. Only such stages may be referenced as `stage.path`.
    pub single: bool,
    pub absent: bool,
    /// Nesting depth (0 = top-level element).
    pub depth: usize,
}

/// The stages and groups of a rule in pattern order.
pub fn stages(rule: &Rule) -> Vec<StageInfo<'_>> {
    fn walk<'a>(
        elements: &'a [Element],
        depth: usize,
        single_ctx: bool,
        out: &mut Vec<StageInfo<'a>>,
    ) {
        for el in elements {
            let single = single_ctx && el.quantifier().is_single();
            match el {
                Element::Stage(s) => out.push(StageInfo {
                    name: &s.name.text,
                    order: out.len(),
                    is_group: false,
                    single,
                    absent: s.absent,
                    depth,
                }),
                Element::Group(g) => {
                    out.push(StageInfo {
                        name: &g.name.text,
                        order: out.len(),
                        is_group: true,
                        single,
                        absent: false,
                        depth,
                    });
                    walk(&g.pattern, depth + 1, single, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&rule.pattern, 0, true, &mut out);
    out
}

/// If `path` starts with a stage name, that stage and the rest of the path.
pub fn stage_ref<'s, 'r>(path: &'s Path, stages: &'s [StageInfo<'r>]) -> Option<&'s StageInfo<'r>> {
    let head = path.head()?;
    stages.iter().find(|s| s.name == head)
}
