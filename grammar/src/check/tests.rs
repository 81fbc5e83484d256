//! Must-fail and must-pass cases for every check, on ASTs built directly (no front end), so a
//! check is tested on exactly the shape it looks at. Each builder call gets its own span, and
//! tests assert that diagnostics point at the node they are about.

use std::cell::Cell;

use super::check;
use crate::ast::{
    Contiguity, Duration, Element, Emit, Expr, Group, Name, Quantifier, Rule, Skip, Source, Stage,
    Template, TemplatePart, Value,
};
use crate::diagnostic::{Diagnostic, codes};
use crate::expr::{Ctx, parse_expr, parse_template};
use crate::source::{SourceId, Span};

// ---------------------------------------------------------------------------------------------
// A tiny AST builder.

thread_local! {
    static NEXT_OFFSET: Cell<u32> = const { Cell::new(0) };
}

/// A fresh span of `len` bytes, distinct from every other span of the test.
fn span(len: usize) -> Span {
    NEXT_OFFSET.with(|next| {
        let start = next.get();
        next.set(start + len as u32 + 1);
        Span::new(SourceId(0), start, start + len as u32)
    })
}

fn name(text: &str) -> Name {
    Name::new(text, span(text.len()))
}

fn expr(text: &str) -> Expr {
    let at = span(text.len());
    parse_expr(text, Ctx::new(at.source, at.start))
        .unwrap_or_else(|d| panic!("{text}: {}", d.message))
}

fn template(text: &str) -> Value {
    let at = span(text.len());
    Value::String(
        parse_template(text, Ctx::new(at.source, at.start))
            .unwrap_or_else(|d| panic!("{text}: {}", d.message)),
    )
}

fn duration(millis: u64) -> Duration {
    Duration { millis, span: span(3) }
}

/// Builds a stage or a group; the quantifier and contiguity methods apply to both.
struct B(Element);

fn stage(n: &str) -> B {
    B(Element::Stage(Stage {
        name: name(n),
        contiguity: None,
        contiguity_span: None,
        quantifier: Quantifier::default(),
        absent: false,
        condition: None,
        max_gap: None,
        span: span(1),
    }))
}

fn group(n: &str, pattern: Vec<B>) -> B {
    B(Element::Group(Group {
        name: name(n),
        contiguity: None,
        contiguity_span: None,
        quantifier: Quantifier::default(),
        pattern: fill_contiguity(pattern),
        span: span(1),
    }))
}

impl B {
    fn q(&mut self) -> &mut Quantifier {
        match &mut self.0 {
            Element::Stage(s) => &mut s.quantifier,
            Element::Group(g) => &mut g.quantifier,
        }
    }

    fn stage(&mut self) -> &mut Stage {
        match &mut self.0 {
            Element::Stage(s) => s,
            Element::Group(_) => panic!("a stage option on a group"),
        }
    }

    fn times(mut self, min: u32, max: Option<u32>) -> B {
        let q = self.q();
        q.min = min;
        q.max = max;
        q.span = Some(span(4));
        self
    }
    fn optional(mut self) -> B {
        self.q().optional = true;
        self
    }
    fn greedy(mut self) -> B {
        self.q().greedy = true;
        self
    }
    fn consecutive(mut self) -> B {
        self.q().consecutive = true;
        self
    }
    fn combinations(mut self) -> B {
        self.q().allow_combinations = true;
        self
    }
    fn until(mut self, e: &str) -> B {
        self.q().until = Some(expr(e));
        self
    }
    fn contiguity(mut self, c: Contiguity) -> B {
        let at = Some(span(6));
        match &mut self.0 {
            Element::Stage(s) => (s.contiguity, s.contiguity_span) = (Some(c), at),
            Element::Group(g) => (g.contiguity, g.contiguity_span) = (Some(c), at),
        }
        self
    }
    fn strict(self) -> B {
        self.contiguity(Contiguity::Strict)
    }
    fn absent(mut self) -> B {
        self.stage().absent = true;
        self
    }
    fn where_(mut self, e: &str) -> B {
        self.stage().condition = Some(expr(e));
        self
    }
    fn gap(mut self, millis: u64) -> B {
        self.stage().max_gap = Some(duration(millis));
        self
    }
}

/// What the front ends do: every element but the first gets `relaxed` unless written.
fn fill_contiguity(elements: Vec<B>) -> Vec<Element> {
    elements
        .into_iter()
        .enumerate()
        .map(|(i, B(mut el))| {
            if i > 0 {
                match &mut el {
                    Element::Stage(s) => {
                        s.contiguity.get_or_insert(Contiguity::Relaxed);
                    }
                    Element::Group(g) => {
                        g.contiguity.get_or_insert(Contiguity::Relaxed);
                    }
                }
            }
            el
        })
        .collect()
}

fn rule(n: &str, pattern: Vec<B>) -> Rule {
    Rule {
        name: name(n),
        description: None,
        source: Source::default(),
        pattern: fill_contiguity(pattern),
        window: None,
        within: None,
        skip: Skip::NoSkip,
        emit: None,
        on_timeout: None,
        span: span(1),
    }
}

fn emit(fields: Vec<(&str, Value)>) -> Option<Emit> {
    Some(Emit {
        topic: None,
        fields: fields.into_iter().map(|(k, v)| (name(k), v)).collect(),
        span: span(1),
    })
}

/// The element named `n`, however deeply nested.
fn el<'a>(r: &'a Rule, n: &str) -> &'a Element {
    fn find<'a>(elements: &'a [Element], n: &str) -> Option<&'a Element> {
        elements.iter().find_map(|e| match e {
            _ if e.name().text == n => Some(e),
            Element::Group(g) => find(&g.pattern, n),
            Element::Stage(_) => None,
        })
    }
    find(&r.pattern, n).unwrap_or_else(|| panic!("no element `{n}`"))
}

fn condition<'a>(r: &'a Rule, n: &str) -> &'a Expr {
    match el(r, n) {
        Element::Stage(s) => s.condition.as_ref().expect("a condition"),
        Element::Group(_) => panic!("`{n}` is a group"),
    }
}

fn codes_of(ds: &[Diagnostic]) -> Vec<&'static str> {
    ds.iter().map(|d| d.code.0).collect()
}

/// Checks `r` and expects exactly one diagnostic, of `code`; returns it.
fn one(r: &Rule, code: crate::diagnostic::Code) -> Diagnostic {
    let ds = check(std::slice::from_ref(r));
    assert_eq!(codes_of(&ds), vec![code.0], "{ds:#?}");
    ds.into_iter().next().expect("one diagnostic")
}

fn assert_at(d: &Diagnostic, at: Span) {
    let primary = d.primary.as_ref().expect("a primary label");
    assert!(
        primary.span.same_place(&at),
        "points at {:?}, expected {:?}: {d:#?}",
        primary.span,
        at
    );
    assert!(!primary.message.is_empty(), "a primary label says something: {d:#?}");
}

fn assert_clean(rules: &[Rule]) {
    let ds = check(rules);
    assert!(ds.is_empty(), "{ds:#?}");
}

fn sub_span(e: &Expr, text: &str) -> Span {
    let mut found = None;
    e.walk(&mut |x| {
        if found.is_none() && x.to_string() == text {
            found = Some(x.span);
        }
    });
    found.unwrap_or_else(|| panic!("no `{text}` in `{e}`"))
}

// ---------------------------------------------------------------------------------------------
// Must pass.

/// The design document's example rule, in full.
fn hrv_drop() -> Rule {
    let mut r = rule(
        "hrv_drop",
        vec![
            stage("baseline").where_("metadata.value >= 40"),
            stage("drop")
                .times(3, None)
                .until("metadata.value > 60")
                .where_("metadata.value < baseline.metadata.value * 0.75 && count(drop) < 10"),
            stage("recovered")
                .absent()
                .gap(12 * 3_600_000)
                .where_("metadata.value >= baseline.metadata.value"),
        ],
    );
    r.source.filter = Some(expr("event_type == \"hrv_measurement\""));
    r.source.max_out_of_orderness = Some(duration(0));
    r.within = Some(duration(24 * 3_600_000));
    r.skip = Skip::ToLast(name("drop"));
    r.emit = emit(vec![
        ("trigger_type", Value::String(Template::text("hrv_drop"))),
        ("severity", Value::Float(0.8)),
        (
            "message",
            template(
                "HRV {{ last(drop.metadata.value) }} vs baseline {{ baseline.metadata.value }}",
            ),
        ),
        ("events", Value::List(vec![template("{{ count(drop) }}")])),
    ]);
    r.on_timeout = emit(vec![("first", template("{{ first(drop.metadata.value) }}"))]);
    r
}

#[test]
fn the_design_example_is_valid() {
    assert_clean(&[hrv_drop()]);
}

#[test]
fn valid_groups_loops_and_absences_pass() {
    let mut r = rule(
        "visits",
        vec![
            stage("start").where_("kind == \"login\""),
            group(
                "visit",
                vec![
                    stage("enter").where_("kind == \"enter\" && user == start.user"),
                    stage("browse").times(1, None).consecutive().greedy(),
                    stage("leave").strict().where_("kind == \"leave\" && room == last(enter.room)"),
                ],
            )
            .times(2, Some(4)),
            stage("idle").times(2, None).combinations().until("kind == \"stop\"").optional(),
            stage("logout")
                .where_("count(browse) > 2 && sum(idle.x) > 0 && contains(lower(kind), \"out\")"),
            stage("no_login").strict().absent().where_("kind == \"login\""),
        ],
    );
    r.emit = emit(vec![("n", template("{{ count(enter) }} visits by {{ start.user }}"))]);
    assert_clean(&[r]);
}

#[test]
fn a_trailing_absence_bounded_by_its_own_gap_passes() {
    let r = rule("r", vec![stage("a"), stage("b").absent().gap(60_000)]);
    assert_clean(&[r]);
}

#[test]
fn a_loop_may_refer_to_itself_in_its_own_condition() {
    let r =
        rule("r", vec![stage("a").times(1, None).where_("value > avg(a.value) && count(a) < 5")]);
    assert_clean(&[r]);
}

#[test]
fn distinct_rules_in_one_set_pass() {
    assert_clean(&[rule("a", vec![stage("x")]), rule("b", vec![stage("x")])]);
}

// ---------------------------------------------------------------------------------------------
// Names.

#[test]
fn duplicate_rule_names_point_at_the_second_and_label_the_first() {
    let (a, b) = (rule("same", vec![stage("x")]), rule("same", vec![stage("y")]));
    let ds = check(&[a.clone(), b.clone()]);
    assert_eq!(codes_of(&ds), vec!["E0201"], "{ds:#?}");
    let d = &ds[0];
    assert_at(d, b.name.span);
    assert!(d.secondary[0].span.same_place(&a.name.span));
    assert_eq!(d.secondary[0].message, "first defined here");
}

#[test]
fn duplicate_stage_names_are_found_in_nested_groups() {
    let r = rule("r", vec![stage("a"), group("g", vec![stage("b"), group("h", vec![stage("a")])])]);
    let d = one(&r, codes::DUPLICATE_STAGE);
    let Element::Group(g) = &r.pattern[1] else { panic!("a group") };
    let Element::Group(h) = &g.pattern[1] else { panic!("a group") };
    assert_at(&d, h.pattern[0].name().span);
    assert!(d.secondary[0].span.same_place(&r.pattern[0].name().span));
}

#[test]
fn a_group_and_a_stage_may_not_share_a_name() {
    let r = rule("r", vec![stage("a"), group("a", vec![stage("b")])]);
    one(&r, codes::DUPLICATE_STAGE);
}

#[test]
fn skip_to_an_unknown_stage_suggests_a_close_name() {
    let mut r = rule("r", vec![stage("baseline"), stage("drop")]);
    r.skip = Skip::ToFirst(name("dorp"));
    let d = one(&r, codes::SKIP_UNKNOWN_STAGE);
    let Skip::ToFirst(target) = &r.skip else { unreachable!() };
    assert_at(&d, target.span);
    assert_eq!(d.help.as_deref(), Some("did you mean `drop`?"));
}

#[test]
fn skip_to_a_group_or_an_absent_stage_is_refused() {
    let mut r =
        rule("r", vec![stage("a"), group("g", vec![stage("b")]), stage("c").absent(), stage("d")]);
    r.skip = Skip::ToLast(name("g"));
    one(&r, codes::SKIP_TO_EVENTLESS);
    r.skip = Skip::ToLast(name("c"));
    one(&r, codes::SKIP_TO_EVENTLESS);
    r.skip = Skip::ToLast(name("b"));
    assert_clean(&[r]);
}

// ---------------------------------------------------------------------------------------------
// Structure.

#[test]
fn contiguity_on_the_first_stage_points_at_the_contiguity() {
    let r = rule("r", vec![stage("a").strict(), stage("b")]);
    let d = one(&r, codes::CONTIGUITY_ON_FIRST);
    let Element::Stage(a) = &r.pattern[0] else { panic!() };
    assert_at(&d, a.contiguity_span.expect("written"));
}

#[test]
fn contiguity_on_the_first_element_of_a_group_is_refused() {
    let r = rule("r", vec![stage("a"), group("g", vec![stage("b").strict(), stage("c")])]);
    let d = one(&r, codes::CONTIGUITY_ON_FIRST);
    assert!(d.message.contains("group `g`"), "{}", d.message);
}

#[test]
fn an_absent_first_stage_is_refused_in_a_pattern_and_in_a_group() {
    let r = rule("r", vec![stage("a").absent(), stage("b")]);
    let d = one(&r, codes::ABSENT_FIRST);
    assert_at(&d, el(&r, "a").name().span);
    let r = rule("r", vec![stage("a"), group("g", vec![stage("b").absent(), stage("c")])]);
    one(&r, codes::ABSENT_FIRST);
}

#[test]
fn a_trailing_relaxed_absence_needs_a_time_limit() {
    let r = rule("r", vec![stage("a"), stage("b").absent()]);
    let d = one(&r, codes::TRAILING_ABSENT_UNBOUNDED);
    assert_at(&d, el(&r, "b").name().span);
    let mut with_window = r.clone();
    with_window.within = Some(duration(1000));
    assert_clean(&[with_window]);
    // `not next` at the end is decided by the very next event: no limit needed.
    assert_clean(&[rule("r", vec![stage("a"), stage("b").absent().strict()])]);
}

#[test]
fn max_gap_on_the_first_stage_is_refused_even_inside_a_first_group() {
    let r = rule("r", vec![stage("a").gap(1000), stage("b")]);
    let d = one(&r, codes::MAX_GAP_ON_FIRST);
    let Element::Stage(a) = el(&r, "a") else { panic!() };
    assert_at(&d, a.max_gap.expect("a gap").span);
    one(
        &rule("r", vec![group("g", vec![stage("a").gap(1000)]), stage("b")]),
        codes::MAX_GAP_ON_FIRST,
    );
    // The first stage of a later group has an earlier event to measure from.
    assert_clean(&[rule("r", vec![stage("a"), group("g", vec![stage("b").gap(1000)])])]);
}

#[test]
fn empty_patterns_and_groups_are_refused() {
    let r = rule("r", vec![]);
    let d = one(&r, codes::EMPTY_PATTERN);
    assert_at(&d, r.name.span);
    let r = rule("r", vec![stage("a"), group("g", vec![])]);
    let d = one(&r, codes::EMPTY_PATTERN);
    assert_at(&d, el(&r, "g").name().span);
}

#[test]
fn a_pattern_of_optional_elements_matches_nothing() {
    let r = rule(
        "r",
        vec![stage("a").optional(), group("g", vec![stage("b").optional()]).times(1, None)],
    );
    let ds = check(std::slice::from_ref(&r));
    // The group on its own can match nothing, and so can the whole pattern.
    assert_eq!(codes_of(&ds), vec!["E0219", "E0219"], "{ds:#?}");
    let whole = ds.iter().find(|d| d.message.starts_with("rule")).expect("the rule's");
    assert_at(whole, r.name.span);
    assert_eq!(whole.secondary.len(), 2);
    let inner = ds.iter().find(|d| d.message.starts_with("group")).expect("the group's");
    assert_at(inner, el(&r, "g").name().span);
}

#[test]
fn an_absent_stage_may_not_end_a_group() {
    let r =
        rule("r", vec![stage("a"), group("g", vec![stage("b"), stage("c").absent()]), stage("d")]);
    let d = one(&r, codes::ABSENT_ENDS_GROUP);
    assert_at(&d, el(&r, "c").name().span);
}

#[test]
fn an_absent_stage_may_not_be_not_followed_by_any() {
    let r = rule(
        "r",
        vec![stage("a"), stage("b").absent().contiguity(Contiguity::NonDeterministic), stage("c")],
    );
    let d = one(&r, codes::ABSENT_ANY_CONTIGUITY);
    let Element::Stage(b) = el(&r, "b") else { panic!() };
    assert_at(&d, b.contiguity_span.expect("written"));
}

#[test]
fn an_optional_element_right_before_an_absence_is_refused() {
    let r = rule(
        "r",
        vec![stage("a"), stage("b").optional(), stage("c").absent().strict(), stage("d")],
    );
    let d = one(&r, codes::OPTIONAL_BEFORE_ABSENT);
    assert_at(&d, el(&r, "c").name().span);
    assert!(d.secondary[0].span.same_place(&el(&r, "b").name().span));
    // Flink refuses `not followed by` after an optional element too.
    let r = rule("r", vec![stage("a"), stage("b").optional(), stage("c").absent(), stage("d")]);
    let d = one(&r, codes::OPTIONAL_BEFORE_ABSENT);
    assert!(d.message.contains("not followed by"), "{}", d.message);
    // Not right before it: accepted.
    let r = rule(
        "r",
        vec![stage("a"), stage("b").optional(), stage("x"), stage("c").absent(), stage("d")],
    );
    assert_clean(&[r]);
}

// ---------------------------------------------------------------------------------------------
// Quantifiers.

#[test]
fn an_absent_stage_neither_loops_nor_is_optional() {
    let r = rule("r", vec![stage("a"), stage("b").absent().strict().times(2, Some(2)), stage("c")]);
    let d = one(&r, codes::ABSENT_QUANTIFIED);
    assert_at(&d, el(&r, "b").quantifier().span.expect("written"));
    let r = rule("r", vec![stage("a"), stage("b").absent().strict().optional(), stage("c")]);
    one(&r, codes::ABSENT_QUANTIFIED);
}

#[test]
fn loop_options_on_a_single_stage_are_refused_one_by_one() {
    let r = rule("r", vec![stage("a").greedy().consecutive().combinations().until("x > 1")]);
    let ds = check(std::slice::from_ref(&r));
    assert_eq!(codes_of(&ds), vec!["E0207"; 4], "{ds:#?}");
    let until = el(&r, "a").quantifier().until.as_ref().expect("until");
    assert!(ds.iter().any(|d| d.primary.as_ref().is_some_and(|p| p.span.same_place(&until.span))));
}

#[test]
fn consecutive_and_combinations_exclude_each_other() {
    one(
        &rule("r", vec![stage("a").times(2, None).consecutive().combinations()]),
        codes::CONSECUTIVE_AND_COMBINATIONS,
    );
}

#[test]
fn quantifier_ranges_start_at_one_and_do_not_decrease() {
    let r = rule("r", vec![stage("a").times(0, Some(3))]);
    let d = one(&r, codes::INVALID_QUANTIFIER);
    assert_at(&d, el(&r, "a").quantifier().span.expect("written"));
    one(&rule("r", vec![stage("a").times(3, Some(1))]), codes::INVALID_QUANTIFIER);
    one(&rule("r", vec![stage("a").times(0, Some(0))]), codes::INVALID_QUANTIFIER);
}

#[test]
fn flink_refusals_of_greedy() {
    one(
        &rule("r", vec![stage("a"), group("g", vec![stage("b")]).times(1, None).greedy()]),
        codes::GREEDY_GROUP,
    );
    one(
        &rule("r", vec![stage("a").times(1, None).greedy().combinations()]),
        codes::GREEDY_AND_COMBINATIONS,
    );
    let r = rule("r", vec![stage("a").times(1, None).greedy(), stage("b").optional(), stage("c")]);
    let d = one(&r, codes::OPTIONAL_AFTER_GREEDY);
    assert_at(&d, el(&r, "b").name().span);
}

#[test]
fn until_needs_an_unbounded_loop() {
    let r = rule("r", vec![stage("a").times(2, Some(5)).until("x > 1")]);
    let d = one(&r, codes::UNTIL_ON_BOUNDED_LOOP);
    assert_at(&d, el(&r, "a").quantifier().until.as_ref().expect("until").span);
}

// ---------------------------------------------------------------------------------------------
// Durations.

#[test]
fn within_and_max_gap_must_be_positive_but_out_of_orderness_may_be_zero() {
    let mut r = rule("r", vec![stage("a"), stage("b").gap(0)]);
    r.within = Some(duration(0));
    r.source.max_out_of_orderness = Some(duration(0));
    let ds = check(std::slice::from_ref(&r));
    assert_eq!(codes_of(&ds), vec!["E0212", "E0212"], "{ds:#?}");
}

#[test]
fn max_gap_may_not_exceed_within() {
    let mut r = rule("r", vec![stage("a"), stage("b").gap(120_000)]);
    r.within = Some(duration(60_000));
    let d = one(&r, codes::MAX_GAP_OVER_WITHIN);
    assert!(
        d.message.contains("`max_gap: 2m`") && d.message.contains("`within: 1m`"),
        "{}",
        d.message
    );
    assert!(d.secondary[0].span.same_place(&r.within.expect("within").span));
}

// ---------------------------------------------------------------------------------------------
// References.

#[test]
fn a_condition_may_not_refer_to_a_later_stage() {
    let r = rule("r", vec![stage("a").where_("x > b.x"), stage("b")]);
    let d = one(&r, codes::UNKNOWN_STAGE_REF);
    assert_at(&d, sub_span(condition(&r, "a"), "b.x"));
    assert!(d.secondary[0].span.same_place(&el(&r, "b").name().span));
}

#[test]
fn a_single_stage_may_not_refer_to_itself() {
    let r = rule("r", vec![stage("a").where_("a.x > 1")]);
    one(&r, codes::UNKNOWN_STAGE_REF);
    let r = rule("r", vec![stage("a").where_("count(a) > 1")]);
    one(&r, codes::UNKNOWN_STAGE_REF);
}

#[test]
fn a_bare_reference_to_a_loop_asks_for_an_aggregate() {
    let r = rule("r", vec![stage("a").times(2, None), stage("b").where_("x > a.metadata.value")]);
    let d = one(&r, codes::BARE_REF_TO_LOOP);
    assert_at(&d, sub_span(condition(&r, "b"), "a.metadata.value"));
    assert!(d.help.as_deref().is_some_and(|h| h.contains("last(a.metadata.value)")), "{d:#?}");
    // Also for optional stages and for single stages inside a repeated group.
    one(
        &rule("r", vec![stage("a").optional(), stage("b"), stage("c").where_("a.x > 1")]),
        codes::BARE_REF_TO_LOOP,
    );
    one(
        &rule("r", vec![group("g", vec![stage("a")]).times(2, None), stage("c").where_("a.x > 1")]),
        codes::BARE_REF_TO_LOOP,
    );
}

#[test]
fn aggregates_take_the_right_kind_of_argument() {
    let r = rule("r", vec![stage("a").times(2, None), stage("b").where_("count(a.x) > 1")]);
    one(&r, codes::WRONG_ARITY);
    let r = rule("r", vec![stage("a").times(2, None), stage("b").where_("sum(a) > 1")]);
    one(&r, codes::WRONG_ARITY);
    let r = rule("r", vec![stage("a").times(2, None), stage("b").where_("sum(a.x, 2) > 1")]);
    one(&r, codes::WRONG_ARITY);
    let r = rule("r", vec![stage("a").times(2, None), stage("b").where_("max(1) > 1")]);
    one(&r, codes::WRONG_ARITY);
}

#[test]
fn an_aggregate_over_an_unknown_stage_suggests_one() {
    let r = rule("r", vec![stage("drop").times(2, None), stage("b").where_("count(dorp) > 1")]);
    let d = one(&r, codes::UNKNOWN_STAGE_REF);
    assert_at(&d, sub_span(condition(&r, "b"), "dorp"));
    assert_eq!(d.help.as_deref(), Some("did you mean `drop`?"));
}

#[test]
fn unknown_functions_suggest_a_close_name_and_arity_is_checked() {
    let r = rule("r", vec![stage("a").where_("contians(name, \"x\")")]);
    let d = one(&r, codes::UNKNOWN_FUNCTION);
    assert_eq!(d.help.as_deref(), Some("did you mean `contains`?"));
    one(&rule("r", vec![stage("a").where_("lower(x, y) == \"x\"")]), codes::WRONG_ARITY);
    one(&rule("r", vec![stage("a").where_("contains(name)")]), codes::WRONG_ARITY);
}

#[test]
fn the_filter_may_not_refer_to_stages() {
    let mut r = rule("r", vec![stage("a"), stage("b")]);
    r.source.filter = Some(expr("a.x > 1 || count(b) > 0"));
    let ds = check(std::slice::from_ref(&r));
    assert_eq!(codes_of(&ds), vec!["E0218", "E0218"], "{ds:#?}");
    // A field that names no stage is just a field.
    r.source.filter = Some(expr("c.x > 1"));
    assert_clean(&[r]);
}

#[test]
fn references_to_groups_and_absent_stages_are_refused() {
    let r = rule(
        "r",
        vec![
            stage("a"),
            group("g", vec![stage("b")]),
            stage("n").absent(),
            stage("c").where_("count(g) > 0"),
        ],
    );
    one(&r, codes::REF_TO_EVENTLESS);
    let mut r = rule("r", vec![stage("a"), stage("n").absent(), stage("c")]);
    r.emit = emit(vec![("m", template("{{ n.x }}"))]);
    one(&r, codes::REF_TO_EVENTLESS);
}

#[test]
fn a_looping_group_until_may_read_its_own_stages() {
    let r = rule(
        "r",
        vec![
            stage("a"),
            group("g", vec![stage("b"), stage("c")]).times(1, None).until("count(c) > 3"),
        ],
    );
    assert_clean(&[r]);
}

#[test]
fn templates_see_every_stage_but_bare_references_only_to_single_ones() {
    let mut r = rule("r", vec![stage("a"), stage("b").times(2, None), stage("c")]);
    r.emit = emit(vec![
        ("ok", template("{{ a.x }} {{ c.y }} {{ count(b) }} {{ last(b.z) }}")),
        ("nested", Value::Map(vec![(name("k"), Value::List(vec![template("{{ b.z }}")]))])),
    ]);
    let d = one(&r, codes::BARE_REF_TO_LOOP);
    let Some(Emit { fields, .. }) = &r.emit else { panic!() };
    let Value::Map(entries) = &fields[1].1 else { panic!() };
    let Value::List(items) = &entries[0].1 else { panic!() };
    let Value::String(t) = &items[0] else { panic!() };
    let TemplatePart::Expr(e) = &t.parts[0] else { panic!() };
    assert_at(&d, e.span);
    r.emit = None;
    r.on_timeout = emit(vec![("m", template("{{ unknwn(a.x) }}"))]);
    one(&r, codes::UNKNOWN_FUNCTION);
}

#[test]
fn every_problem_is_reported_sorted_by_position() {
    let mut r = rule(
        "r",
        vec![stage("a").strict().greedy(), stage("b").times(0, None), stage("c").absent()],
    );
    r.skip = Skip::ToFirst(name("zzz"));
    let ds = check(std::slice::from_ref(&r));
    // `greedy` has no span of its own, so it points at the name, written before the contiguity.
    assert_eq!(codes_of(&ds), vec!["E0207", "E0203", "E0208", "E0206", "E0209"], "{ds:#?}");
}

#[test]
fn a_path_one_typo_from_a_stage_is_a_warning() {
    let r = rule("r", vec![stage("baseline"), stage("drop").where_("x < baselin.metadata.value")]);
    let d = one(&r, codes::LIKELY_MISSPELT_STAGE);
    assert!(!d.is_error());
    assert_at(&d, sub_span(condition(&r, "drop"), "baselin.metadata.value"));
    // Field names that merely resemble a stage, or plain one-segment fields, are left alone.
    assert_clean(&[rule(
        "r",
        vec![stage("face"), stage("b").where_("face_id.x == 1 && fac == 2")],
    )]);
}

#[test]
fn max_gap_right_after_a_loop_is_a_warning() {
    let r = rule("r", vec![stage("a").times(1, None), stage("b").gap(1000)]);
    let ds = check(std::slice::from_ref(&r));
    assert_eq!(codes_of(&ds), vec![codes::MAX_GAP_AFTER_LOOP.0], "{ds:#?}");
    assert!(!ds[0].is_error());
    // After a single stage the gap is enforced: nothing to say.
    assert_clean(&[rule("r", vec![stage("a"), stage("b").gap(1000)])]);
}
