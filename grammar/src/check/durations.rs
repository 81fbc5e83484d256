//! Durations: `within` and `max_gap` are positive, and a gap fits in the window.
//!
//! `max_out_of_orderness` may be zero (events arrive in order), so it needs no check here; the
//! front ends already refuse negative or unit-less durations.

use crate::ast::{Element, Rule, Stage};
use crate::diagnostic::{Diagnostic, codes};
use crate::duration;

pub(super) fn check(rule: &Rule) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(within) = rule.within.filter(|w| w.millis == 0) {
        out.push(zero("within", within.span, "a match must take no time at all, so none can"));
    }
    let mut stages = Vec::new();
    collect_stages(&rule.pattern, &mut stages);
    for stage in stages {
        let Some(gap) = stage.max_gap else { continue };
        if gap.millis == 0 {
            out.push(zero("max_gap", gap.span, "no event can follow in zero time"));
            continue;
        }
        if let Some(within) = rule.within.filter(|w| w.millis > 0 && gap.millis > w.millis) {
            out.push(
                Diagnostic::error(
                    codes::MAX_GAP_OVER_WITHIN,
                    format!(
                        "`max_gap: {}` on `{}` is longer than the rule's `within: {}`",
                        duration::format(gap.millis),
                        stage.name,
                        duration::format(within.millis)
                    ),
                )
                .at(gap.span, "longer than the whole match may take")
                .with_label(within.span, "the whole match's limit")
                .with_help(
                    "the gap between two events cannot exceed the time from first to last \
                     event; shorten `max_gap` or lengthen `within`",
                ),
            );
        }
    }
    out
}

fn zero(key: &str, span: crate::source::Span, why: &str) -> Diagnostic {
    Diagnostic::error(codes::ZERO_DURATION, format!("`{key}` is zero"))
        .at(span, why)
        .with_help(format!("`{key}` must be positive, such as `500ms`, `10s` or `5m`"))
}

fn collect_stages<'a>(elements: &'a [Element], out: &mut Vec<&'a Stage>) {
    for el in elements {
        match el {
            Element::Stage(s) => out.push(s),
            Element::Group(g) => collect_stages(&g.pattern, out),
        }
    }
}
