//! Semantic checks on parsed rules. Each pass returns every problem it finds.
//!
//! The front ends guarantee only that a rule is well-formed text; these passes decide whether
//! it means something the engine can run with Apache Flink CEP's semantics:
//!
//! - `names`: rule names unique in the loaded set, stage and group names unique in a rule,
//!   the `skip` target;
//! - `structure`: where contiguity, absent stages and `max_gap` may appear; empty patterns
//!   and groups, and patterns that could match no event;
//! - `quantifiers`: quantifier ranges and the loop options (`greedy`, `consecutive`,
//!   `allow_combinations`, `until`);
//! - `durations`: `within` and `max_gap` values;
//! - `references`: what `where`, `until` and `filter` expressions may refer to;
//! - `emit`: the same for the `{{ }}` holes of `emit` and `on_timeout` templates;
//! - `window`: a window rule's windows, aggregates, `having`, `emit` and `windows` (instead of
//!   every pass above but the filter's references).
//!
//! Diagnostics come back sorted by position, so a file's problems read top to bottom.

mod durations;
mod emit;
mod names;
mod quantifiers;
mod references;
mod structure;
mod window;

use crate::ast::{Element, Rule};
use crate::diagnostic::Diagnostic;
use crate::resolve::{self, StageInfo};

pub(crate) use window::pattern_and_window;

/// Checks a loaded rule set (names unique across it) and each rule in it.
pub fn check(rules: &[Rule]) -> Vec<Diagnostic> {
    let mut out = names::duplicate_rules(rules);
    for rule in rules {
        out.extend(check_rule(rule));
    }
    out.sort_by_key(|d| d.primary.as_ref().map(|l| (l.span.source, l.span.start, l.span.end)));
    out
}

/// Every check that concerns one rule alone.
fn check_rule(rule: &Rule) -> Vec<Diagnostic> {
    let stages = Stages::of(rule);
    if let Some(w) = &rule.window {
        // A window rule has no stages: the pattern passes have nothing to say about it.
        let mut out = window::check(rule, w, &stages);
        if let Some(filter) = &rule.source.filter {
            references::check_expr(filter, &references::Scope::Filter, &stages, &mut out);
        }
        return out;
    }
    let mut out = names::check(rule, &stages);
    out.extend(structure::check(rule));
    out.extend(quantifiers::check(rule));
    out.extend(durations::check(rule));
    out.extend(references::check(rule, &stages));
    out.extend(emit::check(rule, &stages));
    out
}

/// The stages and groups of a rule in pattern order, as [`resolve::stages`] sees them, each
/// with its AST element (for spans in messages).
#[derive(Debug)]
struct Stages<'r> {
    infos: Vec<StageInfo<'r>>,
    elements: Vec<&'r Element>,
}

impl<'r> Stages<'r> {
    fn of(rule: &'r Rule) -> Stages<'r> {
        fn flatten<'a>(elements: &'a [Element], out: &mut Vec<&'a Element>) {
            for el in elements {
                out.push(el);
                if let Element::Group(g) = el {
                    flatten(&g.pattern, out);
                }
            }
        }
        let infos = resolve::stages(rule);
        let mut elements = Vec::with_capacity(infos.len());
        flatten(&rule.pattern, &mut elements);
        debug_assert_eq!(infos.len(), elements.len(), "resolve::stages walks the same order");
        Stages { infos, elements }
    }

    /// The first stage or group with this name (the one resolution picks).
    fn find(&self, name: &str) -> Option<(&StageInfo<'r>, &'r Element)> {
        let i = self.infos.iter().position(|s| s.name == name)?;
        Some((&self.infos[i], self.elements[i]))
    }

    /// Names an expression may refer to (stages that take events), for "did you mean".
    fn referable_names(&self) -> impl Iterator<Item = &'r str> + '_ {
        self.infos.iter().filter(|s| !s.is_group && !s.absent).map(|s| s.name)
    }
}

/// "did you mean `x`?" as a help line, when a close name exists.
fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::diagnostic::did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests;
