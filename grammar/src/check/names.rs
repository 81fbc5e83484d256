//! Names: unique rule names across the loaded set, unique stage and group names in a rule, and
//! the stage a `skip: {to_first|to_last: S}` strategy names.

use std::collections::HashMap;

use crate::ast::{Name, Rule, Skip};
use crate::diagnostic::{Diagnostic, codes};

use super::{Stages, suggestion};

/// Rule names are unique across every loaded file: alerts, state and metrics are keyed by them.
pub(super) fn duplicate_rules(rules: &[Rule]) -> Vec<Diagnostic> {
    let names = rules.iter().map(|r| &r.name);
    duplicates(names, |dup, first| {
        Diagnostic::error(codes::DUPLICATE_RULE, format!("rule `{dup}` is defined twice"))
            .at(dup.span, "defined again here")
            .with_label(first.span, "first defined here")
            .with_help(
                "rule names must be unique across every loaded file (alerts, state and metrics \
                 are keyed by them); rename one of the rules",
            )
    })
}

/// Stage and group names of one rule, and the `skip` target.
pub(super) fn check(rule: &Rule, stages: &Stages<'_>) -> Vec<Diagnostic> {
    let names = stages.elements.iter().map(|e| e.name());
    let mut out = duplicates(names, |dup, first| {
        Diagnostic::error(
            codes::DUPLICATE_STAGE,
            format!("`{dup}` names two stages or groups of rule `{}`", rule.name),
        )
        .at(dup.span, "used again here")
        .with_label(first.span, "first used here")
        .with_help(
            "stage and group names must be unique within a rule, nested groups included: \
             expressions and matches refer to stages by name",
        )
    });
    out.extend(skip_target(rule, stages));
    out
}

/// For each name seen before, `report(repeat, first)`.
fn duplicates<'a>(
    names: impl Iterator<Item = &'a Name>,
    report: impl Fn(&Name, &Name) -> Diagnostic,
) -> Vec<Diagnostic> {
    let mut seen: HashMap<&str, &Name> = HashMap::new();
    let mut out = Vec::new();
    for name in names {
        match seen.get(name.text.as_str()) {
            Some(first) => out.push(report(name, first)),
            None => {
                seen.insert(&name.text, name);
            }
        }
    }
    out
}

fn skip_target(rule: &Rule, stages: &Stages<'_>) -> Option<Diagnostic> {
    let (target, key) = match &rule.skip {
        Skip::ToFirst(name) => (name, "to_first"),
        Skip::ToLast(name) => (name, "to_last"),
        Skip::NoSkip | Skip::ToNext | Skip::PastLastEvent => return None,
    };
    let Some((info, element)) = stages.find(&target.text) else {
        let mut d = Diagnostic::error(
            codes::SKIP_UNKNOWN_STAGE,
            format!("`skip: {{{key}: {target}}}` names no stage of rule `{}`", rule.name),
        )
        .at(target.span, "no stage with this name");
        d = match suggestion(&target.text, stages.referable_names()) {
            Some(help) => d.with_help(help),
            None => d.with_help(format!(
                "the stages of this rule are: {}",
                stages.referable_names().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )),
        };
        return Some(d);
    };
    let what = if info.is_group {
        "a group, which holds no events of its own"
    } else if info.absent {
        "an absent stage, which never holds an event"
    } else {
        return None;
    };
    Some(
        Diagnostic::error(
            codes::SKIP_TO_EVENTLESS,
            format!("`skip: {{{key}: {target}}}` names {what}"),
        )
        .at(target.span, "no event to skip to")
        .with_label(element.name().span, format!("`{target}` is defined here"))
        .with_help("skip to a stage that takes events"),
    )
}
