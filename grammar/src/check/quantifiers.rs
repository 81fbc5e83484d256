//! Quantifiers: valid ranges, and loop options only where there is a loop, in the combinations
//! Flink CEP accepts.

use crate::ast::{Element, Rule};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

pub(super) fn check(rule: &Rule) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    sequence(&rule.pattern, &mut out);
    out
}

fn sequence(elements: &[Element], out: &mut Vec<Diagnostic>) {
    for (i, el) in elements.iter().enumerate() {
        element(el, out);
        if let Some(prev) = i.checked_sub(1).map(|p| &elements[p]) {
            optional_after_greedy(prev, el, out);
        }
        if let Element::Group(g) = el {
            sequence(&g.pattern, out);
        }
    }
}

fn element(el: &Element, out: &mut Vec<Diagnostic>) {
    let q = el.quantifier();
    let name = el.name();
    // Where the quantifier was written; the element's name when it was not.
    let at = q.span.unwrap_or(name.span);

    if q.min == 0 || q.max.is_some_and(|max| max < q.min) {
        let range = match q.max {
            Some(max) if max == q.min => format!("{max}"),
            Some(max) => format!("{}..{max}", q.min),
            None => format!("{}..", q.min),
        };
        let why = if q.min == 0 { "at least one event" } else { "the upper bound below the lower" };
        out.push(
            Diagnostic::error(
                codes::INVALID_QUANTIFIER,
                format!("invalid repetition `{range}` on `{name}`"),
            )
            .at(at, format!("{why}: not a valid range"))
            .with_help(
                "repetitions are `N`, `N..M` or `N..` with 1 <= N <= M; to allow zero, \
                     make the element optional",
            ),
        );
    }

    let absent = matches!(el, Element::Stage(s) if s.absent);
    if absent && (q.is_looping() || q.optional) {
        let what = if q.optional { "optional" } else { "repeated" };
        out.push(
            Diagnostic::error(codes::ABSENT_QUANTIFIED, format!("absent stage `{name}` is {what}"))
                .at(at, format!("an absence cannot be {what}"))
                .with_help(
                    "an absent stage matches the absence of one event; remove the repetition and \
                     `optional`, and use a `where` condition to say which events must not occur",
                ),
        );
    }

    if !q.is_looping() {
        let why = if absent { "an absent stage takes no events" } else { "it takes one event" };
        let options = [
            ("greedy", q.greedy),
            ("consecutive", q.consecutive),
            ("allow_combinations", q.allow_combinations),
        ];
        for (option, set) in options {
            if set {
                out.push(loop_option_on_single(option, name, at, why));
            }
        }
        if let Some(until) = &q.until {
            out.push(loop_option_on_single("until", name, until.span, why));
        }
        return;
    }

    if q.consecutive && q.allow_combinations {
        out.push(
            Diagnostic::error(
                codes::CONSECUTIVE_AND_COMBINATIONS,
                format!("`{name}` is both `consecutive` and `allow_combinations`"),
            )
            .at(at, "the loop's events can follow each other in only one way")
            .with_help(
                "`consecutive` takes the loop's events strictly one after another; \
                 `allow_combinations` skips past matching ones; keep one",
            ),
        );
    }
    if q.greedy {
        if let Element::Group(_) = el {
            out.push(
                Diagnostic::error(codes::GREEDY_GROUP, format!("group `{name}` is `greedy`"))
                    .at(at, "a group cannot be greedy")
                    .with_help(
                        "Flink CEP applies `greedy` to single stages only; make a looping stage \
                         inside the group greedy instead",
                    ),
            );
        } else if q.allow_combinations {
            out.push(
                Diagnostic::error(
                    codes::GREEDY_AND_COMBINATIONS,
                    format!("`{name}` is both `greedy` and `allow_combinations`"),
                )
                .at(at, "greedy and combinations contradict each other")
                .with_help(
                    "`greedy` takes every matching event before moving on; `allow_combinations` \
                     also skips matching events to try every subset; keep one",
                ),
            );
        }
    }
    if let (Some(until), Some(max)) = (&q.until, q.max) {
        out.push(
            Diagnostic::error(
                codes::UNTIL_ON_BOUNDED_LOOP,
                format!("`until` on `{name}`, which stops by itself after {max} events"),
            )
            .at(until.span, "a stop condition on a bounded loop")
            .with_label(at, "bounded here")
            .with_help(format!(
                "`until` stops a loop without an upper bound (`{}..`); remove the bound or the \
                 `until`",
                q.min
            )),
        );
    }
}

fn loop_option_on_single(option: &str, name: &crate::ast::Name, at: Span, why: &str) -> Diagnostic {
    Diagnostic::error(
        codes::LOOP_OPTION_ON_SINGLE,
        format!("`{option}` on `{name}`, which does not repeat"),
    )
    .at(at, format!("`{option}` needs a loop; {why}"))
    .with_help("loop options apply to repeated elements (`times: \"2..\"`, `{2,}`, `+`, `*`)")
}

/// Flink CEP refuses `optional` right after a greedy element: the greedy loop would have to
/// give back events to the optional one, which its NFA cannot express.
fn optional_after_greedy(prev: &Element, el: &Element, out: &mut Vec<Diagnostic>) {
    let pq = prev.quantifier();
    if !(el.quantifier().optional && pq.greedy && pq.is_looping()) {
        return;
    }
    out.push(
        Diagnostic::error(
            codes::OPTIONAL_AFTER_GREEDY,
            format!("optional `{}` follows greedy `{}`", el.name(), prev.name()),
        )
        .at(el.quantifier().span.unwrap_or(el.name().span), "optional right after a greedy loop")
        .with_label(pq.span.unwrap_or(prev.name().span), "greedy here")
        .with_help("Flink CEP does not support an optional element after a greedy one; drop one of the two"),
    );
}
