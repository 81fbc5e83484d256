//! The shape of a pattern: where contiguity, absent stages and `max_gap` may stand, empty
//! patterns and groups, and patterns that could complete without taking an event.
//!
//! Groups are sub-patterns and follow the same rules as the whole pattern: their first element
//! follows nothing inside the group (Flink starts a group with `Pattern.begin`).

use crate::ast::{Contiguity, Element, Group, Rule};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

pub(super) fn check(rule: &Rule) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if rule.pattern.is_empty() {
        out.push(
            Diagnostic::error(
                codes::EMPTY_PATTERN,
                format!("rule `{}` has an empty pattern", rule.name),
            )
            .at(rule.name.span, "no stage in this rule's pattern")
            .with_help("a pattern needs at least one stage"),
        );
        return out;
    }
    sequence(&rule.pattern, None, true, &mut out);
    trailing_absent(rule, &mut out);
    if can_match_nothing(&rule.pattern) {
        out.push(
            matches_nothing(
                format!("rule `{}` can match without taking any event", rule.name),
                rule.name.span,
                "every element of its pattern may be skipped",
                &rule.pattern,
            )
            .with_help("make at least one stage required (neither optional nor absent)"),
        );
    }
    out
}

/// Checks one sequence of elements: the whole pattern (`group` = `None`) or a group's.
/// `at_rule_start`: nothing in the whole rule comes before this sequence.
fn sequence(
    elements: &[Element],
    group: Option<&Group>,
    at_rule_start: bool,
    out: &mut Vec<Diagnostic>,
) {
    let within = match group {
        Some(g) => format!("group `{}`", g.name),
        None => "the pattern".to_string(),
    };
    for (i, el) in elements.iter().enumerate() {
        let first = i == 0;
        contiguity(el, first, &within, out);
        match el {
            Element::Stage(s) => {
                if s.absent {
                    if first {
                        out.push(
                            Diagnostic::error(
                                codes::ABSENT_FIRST,
                                format!("absent stage `{}` begins {within}", s.name),
                            )
                            .at(s.name.span, "nothing before it to follow")
                            .with_help(
                                "an absent stage says what must not happen after an earlier \
                                 stage; put a stage before it",
                            ),
                        );
                    } else if let Some(prev) =
                        elements.get(i - 1).filter(|p| p.quantifier().optional)
                    {
                        // As Flink CEP: which event an absence is measured from would depend on
                        // whether the optional element took one.
                        let absence = if s.contiguity == Some(Contiguity::Strict) {
                            "not next"
                        } else {
                            "not followed by"
                        };
                        out.push(
                            Diagnostic::error(
                                codes::OPTIONAL_BEFORE_ABSENT,
                                format!(
                                    "`{absence} {}` follows optional `{}`",
                                    s.name,
                                    prev.name()
                                ),
                            )
                            .at(s.name.span, "an absence after an element that may be skipped")
                            .with_label(prev.name().span, "optional")
                            .with_help(format!(
                                "Flink CEP does not support an optional path to `{absence}`; \
                                 write two rules, one with and one without the optional element"
                            )),
                        );
                    }
                    if s.contiguity == Some(Contiguity::NonDeterministic) {
                        out.push(
                            Diagnostic::error(
                                codes::ABSENT_ANY_CONTIGUITY,
                                format!("absent stage `{}` has contiguity `any`", s.name),
                            )
                            .at(
                                s.contiguity_span.unwrap_or(s.name.span),
                                "no `not followed by any`",
                            )
                            .with_help(
                                "an absence is `strict` (not next) or `relaxed` (not followed by)",
                            ),
                        );
                    }
                    if let Some(g) = group.filter(|_| i + 1 == elements.len() && !first) {
                        out.push(
                            Diagnostic::error(
                                codes::ABSENT_ENDS_GROUP,
                                format!("absent stage `{}` ends group `{}`", s.name, g.name),
                            )
                            .at(s.name.span, "nothing in the group follows it")
                            .with_help(
                                "an absence is checked up to the next stage of its own sequence; \
                                 add a stage after it inside the group, or move it after the group",
                            ),
                        );
                    }
                }
                // A trailing `not followed by` waits out its `max_gap` (Flink's window on the
                // last pattern); an absence anywhere else has no waiting of its own, so a gap
                // there would be silently meaningless.
                let ends_rule = group.is_none() && i + 1 == elements.len();
                if let Some(gap) = s.max_gap.filter(|_| s.absent && !first && !ends_rule) {
                    out.push(
                        Diagnostic::error(
                            codes::MAX_GAP_ON_MIDDLE_ABSENCE,
                            format!(
                                "`max_gap` on absent stage `{}`, which does not end the pattern",
                                s.name
                            ),
                        )
                        .at(gap.span, "only a trailing `not followed by` waits for a time")
                        .with_help(
                            "bound the stage after the absence with its own `max_gap`, or the \
                             whole match with `within`",
                        ),
                    );
                }
                if let Some(gap) = s.max_gap.filter(|_| !s.absent && !first)
                    && let Some(prev) = elements.get(i - 1).filter(|p| p.quantifier().is_looping())
                {
                    out.push(
                        Diagnostic::warning(
                            codes::MAX_GAP_AFTER_LOOP,
                            format!(
                                "`max_gap` on `{}` right after the loop `{}`",
                                s.name,
                                prev.name()
                            ),
                        )
                        .at(gap.span, "not enforced while the loop may still take events")
                        .with_label(prev.name().span, "a loop")
                        .with_help(
                            "a partial match waits for this stage in the loop's state, where only \
                             the loop's own `max_gap` applies (as in Flink CEP); bound the match \
                             with `within`",
                        ),
                    );
                }
                if let Some(gap) = s.max_gap.filter(|_| first && at_rule_start) {
                    out.push(
                        Diagnostic::error(
                            codes::MAX_GAP_ON_FIRST,
                            format!("`max_gap` on `{}`, the first stage of the rule", s.name),
                        )
                        .at(gap.span, "no earlier event to measure the gap from")
                        .with_help("put `max_gap` on a later stage, or bound the whole match with `within`"),
                    );
                }
            }
            Element::Group(g) => {
                if g.pattern.is_empty() {
                    out.push(
                        Diagnostic::error(
                            codes::EMPTY_PATTERN,
                            format!("group `{}` is empty", g.name),
                        )
                        .at(g.name.span, "no stage in this group")
                        .with_help("a group needs at least one stage"),
                    );
                    continue;
                }
                sequence(&g.pattern, Some(g), at_rule_start && first, out);
                if can_match_nothing(&g.pattern) {
                    out.push(
                        matches_nothing(
                            format!("group `{}` can match without taking any event", g.name),
                            g.name.span,
                            "every element of this group may be skipped",
                            &g.pattern,
                        )
                        .with_help(
                            "make at least one of its stages required; to make the whole group \
                             optional, mark the group itself optional",
                        ),
                    );
                }
            }
        }
    }
}

/// Contiguity says how an element follows the one before it, so the first element has none.
fn contiguity(el: &Element, first: bool, within: &str, out: &mut Vec<Diagnostic>) {
    let written = match el {
        Element::Stage(s) => s.contiguity_span,
        Element::Group(g) => g.contiguity_span,
    };
    if first {
        if el.contiguity().is_some() {
            out.push(
                Diagnostic::error(
                    codes::CONTIGUITY_ON_FIRST,
                    format!("contiguity on `{}`, the first element of {within}", el.name()),
                )
                .at(written.unwrap_or(el.name().span), "nothing before it to follow")
                .with_help(
                    "contiguity says how an element follows the one before it; remove it from \
                     the first element",
                ),
            );
        }
    } else if el.contiguity().is_none() {
        // The front ends fill in `relaxed`; reaching this is a bug in one of them, but say what
        // is wrong rather than guess.
        out.push(
            Diagnostic::error(codes::UNSUPPORTED, format!("`{}` has no contiguity", el.name()))
                .at(el.name().span, "how does this follow the element before it?")
                .with_help("write `contiguity: strict`, `relaxed` or `any`"),
        );
    }
}

/// A trailing `not followed by` waits for an event that may never come: only a time limit can
/// confirm the absence (Flink: "NotFollowedBy is not supported without windowTime as a last
/// part of a Pattern").
fn trailing_absent(rule: &Rule, out: &mut Vec<Diagnostic>) {
    let Some(Element::Stage(last)) = rule.pattern.last() else { return };
    if !last.absent
        || last.contiguity != Some(Contiguity::Relaxed)
        || rule.within.is_some()
        || last.max_gap.is_some()
        || rule.pattern.len() < 2
    {
        return;
    }
    out.push(
        Diagnostic::error(
            codes::TRAILING_ABSENT_UNBOUNDED,
            format!(
                "rule `{}` ends with `not followed by {}` and no time limit",
                rule.name, last.name
            ),
        )
        .at(last.name.span, "the absence could never be confirmed")
        .with_help(format!(
            "add `within` to the rule or `max_gap` to `{}`: the match completes when that time \
             passes without such an event",
            last.name
        )),
    );
}

/// Every element may be skipped: optional, absent, or a group that can itself match nothing.
fn can_match_nothing(elements: &[Element]) -> bool {
    elements.iter().all(|el| match el {
        Element::Stage(s) => s.absent || s.quantifier.optional,
        Element::Group(g) => g.quantifier.optional || can_match_nothing(&g.pattern),
    })
}

fn matches_nothing(message: String, at: Span, label: &str, elements: &[Element]) -> Diagnostic {
    let mut d = Diagnostic::error(codes::PATTERN_MATCHES_NOTHING, message).at(at, label);
    for el in elements {
        let why = match el {
            Element::Stage(s) if s.absent => "absent",
            _ if el.quantifier().optional => "optional",
            _ => "a group that can match nothing",
        };
        d = d.with_label(el.name().span, why);
    }
    d
}
