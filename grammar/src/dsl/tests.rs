//! Per-grammar-rule parse tests (must-pass next to must-fail), spans, diagnostics, recovery,
//! depth limits and the printer's canonical form.

use super::*;
use crate::ast::{
    BinaryOp, Contiguity, Element, Expr, ExprKind, Group, Quantifier, Skip, Stage, TemplatePart,
    Value,
};
use crate::diagnostic::Code;
use crate::source::SourceMap;

const SRC: SourceId = SourceId(0);

/// The one rule in `text`; fails the test with the rendered diagnostics otherwise.
fn one(text: &str) -> Rule {
    let (mut rules, diagnostics) = parse(text, SRC);
    if !diagnostics.is_empty() {
        let mut sources = SourceMap::new();
        sources.add("test.cep", text);
        panic!("{text}\n{}", crate::diagnostic::render_all(&diagnostics, &sources));
    }
    assert_eq!(rules.len(), 1, "{text}");
    rules.remove(0)
}

/// A rule whose pattern is `pattern_text`.
fn pattern(pattern_text: &str) -> Vec<Element> {
    one(&format!("rule r pattern {pattern_text}")).pattern
}

fn stage(element: &Element) -> &Stage {
    match element {
        Element::Stage(s) => s,
        Element::Group(g) => panic!("expected a stage, got group {}", g.name),
    }
}

fn group(element: &Element) -> &Group {
    match element {
        Element::Group(g) => g,
        Element::Stage(s) => panic!("expected a group, got stage {}", s.name),
    }
}

/// The diagnostics of text that must not parse; no rule comes out of it.
fn errors(text: &str) -> Vec<Diagnostic> {
    let (rules, diagnostics) = parse(text, SRC);
    assert!(!diagnostics.is_empty(), "{text} parsed: {rules:?}");
    diagnostics
}

/// The single diagnostic of `text`, which must have `code`.
fn error(text: &str, code: Code) -> Diagnostic {
    let mut d = errors(text);
    assert_eq!(d.len(), 1, "{text}: {d:#?}");
    let d = d.remove(0);
    assert_eq!(d.code, code, "{text}: {d:#?}");
    d
}

/// The text a diagnostic's primary label underlines.
fn underlined<'a>(text: &'a str, d: &Diagnostic) -> &'a str {
    &text[d.primary.as_ref().expect("a primary label").span.range()]
}

fn snippet(text: &str, span: crate::source::Span) -> &str {
    &text[span.range()]
}

// -------------------------------------------------------------------------- rule header

#[test]
fn rule_header_name_and_description() {
    let r = one("rule hrv_drop \"HRV falls \\\"25%\\\"\"");
    assert_eq!(r.name.text, "hrv_drop");
    assert_eq!(r.description.as_deref(), Some("HRV falls \"25%\""));
    assert!(r.pattern.is_empty(), "a rule without `pattern` has an empty one (the checker's call)");
    assert_eq!(one("rule a 'single quoted'").description.as_deref(), Some("single quoted"));
    assert_eq!(one("rule a").description, None);
}

#[test]
fn rule_header_must_fail() {
    for text in ["rule", "rule 1abc", "rule a \"open", "rule a b", "pattern a", "rule a-b"] {
        assert_eq!(errors(text)[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let text = "rule within pattern a";
    let d = error(text, codes::DSL_SYNTAX);
    assert_eq!(underlined(text, &d), "within");
    assert!(d.help.as_deref().unwrap_or("").contains("reserved word"), "{d:?}");
}

#[test]
fn several_rules_per_file_with_comments_anywhere() {
    let text =
        "# first\nrule a # trailing\n  pattern x # c\n\n# second\nrule b pattern # mid\n y\n";
    let (rules, diagnostics) = parse(text, SRC);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let names: Vec<&str> = rules.iter().map(|r| r.name.text.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(snippet(text, rules[1].span), "rule b pattern # mid\n y");
}

// ------------------------------------------------------------------------------ source

#[test]
fn source_clauses() {
    let text = "rule r from biometric-updates, \"odd topic\", learning.events.v1 key user_id \
                time metadata.timestamp_iso out of order 1h30m filter event_type == \"hrv\"";
    let r = one(text);
    let topics: Vec<&str> = r.source.topics.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(topics, ["biometric-updates", "odd topic", "learning.events.v1"]);
    assert_eq!(snippet(text, r.source.topics[1].span), "\"odd topic\"");
    assert_eq!(r.source.key.as_ref().unwrap().to_string(), "user_id");
    assert_eq!(r.source.time.as_ref().unwrap().to_string(), "metadata.timestamp_iso");
    assert_eq!(r.source.max_out_of_orderness.unwrap().millis, 5_400_000);
    assert_eq!(r.source.filter.as_ref().unwrap().to_string(), "event_type == \"hrv\"");
    assert_eq!(
        one("rule r").source,
        crate::ast::Source::default(),
        "every source clause is optional"
    );
}

#[test]
fn clauses_come_in_any_order() {
    let a = one("rule r key k from t pattern a within 5m emit {} filter x skip to next");
    let b = one("rule r from t key k filter x pattern a within 5m skip to next emit {}");
    assert_eq!(a, b);
}

#[test]
fn source_must_fail() {
    for text in [
        "rule r from",
        "rule r from a,",
        "rule r key",
        "rule r key 1x",
        "rule r out of 5s",
        "rule r filter",
    ] {
        assert_eq!(errors(text)[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let text = "rule r from a key k from b";
    let d = error(text, codes::DSL_SYNTAX);
    assert!(d.message.contains("`from` is written twice"), "{}", d.message);
    assert_eq!(underlined(text, &d), "from b");
}

#[test]
fn a_filter_ends_where_no_operator_follows() {
    // `pattern` is a field of the event in the filter, then the clause keyword.
    let r = one("rule r filter pattern == 1 pattern a");
    assert_eq!(r.source.filter.unwrap().to_string(), "pattern == 1");
    assert_eq!(r.pattern.len(), 1);
}

// ------------------------------------------------------------------------- connectors

#[test]
fn connectors_set_contiguity_and_absence() {
    let text = "rule r pattern a next b followed by c followed by any d not next e \
                not followed by f not followed by any g";
    let r = one(text);
    let got: Vec<(Option<Contiguity>, bool)> =
        r.pattern.iter().map(|e| (stage(e).contiguity, stage(e).absent)).collect();
    use Contiguity::*;
    assert_eq!(
        got,
        [
            (None, false),
            (Some(Strict), false),
            (Some(Relaxed), false),
            (Some(NonDeterministic), false),
            (Some(Strict), true),
            (Some(Relaxed), true),
            (Some(NonDeterministic), true),
        ]
    );
    let spans: Vec<&str> = r
        .pattern
        .iter()
        .filter_map(|e| stage(e).contiguity_span)
        .map(|s| snippet(text, s))
        .collect();
    assert_eq!(spans[2], "followed by any");
    assert_eq!(spans[4], "not followed by");
    assert_eq!(r.pattern[0].span().start, r.pattern[0].name().span.start);
    assert_eq!(
        snippet(text, r.pattern[1].span()),
        "next b",
        "an element's span includes its connector"
    );
}

#[test]
fn spans_end_at_the_last_token_not_at_skipped_comments() {
    let text = "rule r pattern a where not x # why\n  followed by b{2} # more\n  next c where t == \"#x\"\nwithin 5m # c\n";
    let r = one(text);
    assert_eq!(snippet(text, r.pattern[0].span()), "a where not x");
    assert_eq!(snippet(text, stage(&r.pattern[0]).condition.as_ref().unwrap().span), "not x");
    assert_eq!(snippet(text, r.pattern[1].span()), "followed by b{2}");
    assert_eq!(snippet(text, stage(&r.pattern[1]).quantifier.span.unwrap()), "{2}");
    assert_eq!(snippet(text, r.pattern[2].span()), "next c where t == \"#x\"");
    assert!(snippet(text, r.span).ends_with("within 5m"));
    let deepest = format!(
        "rule r pattern a where {}x{}",
        "(".repeat(crate::expr::MAX_DEPTH),
        ")".repeat(crate::expr::MAX_DEPTH)
    );
    one(&deepest);
}

#[test]
fn the_first_element_may_carry_what_the_checker_refuses() {
    let first = pattern("followed by a next b");
    assert_eq!(stage(&first[0]).contiguity, Some(Contiguity::Relaxed));
    assert!(stage(&first[0]).contiguity_span.is_some());
    let absent = pattern("not a followed by b");
    assert!(stage(&absent[0]).absent);
    assert_eq!(stage(&absent[0]).contiguity, None);
}

#[test]
fn connectors_must_fail() {
    for text in [
        "rule r pattern a followed b",
        "rule r pattern a followed by",
        "rule r pattern a followed by any",
        "rule r pattern a not b",
        "rule r pattern a b",
        "rule r pattern a next next b",
    ] {
        assert_eq!(errors(text)[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let text = "rule r pattern a followed by within";
    let d = error(text, codes::DSL_SYNTAX);
    assert_eq!(underlined(text, &d), "within");
    assert!(d.help.unwrap().contains("reserved"));
}

// ------------------------------------------------------------------------- quantifiers

fn q(text: &str) -> Quantifier {
    stage(&pattern(text)[0]).quantifier.clone()
}

#[test]
fn quantifier_forms() {
    for (text, min, max, optional) in [
        ("a", 1, Some(1), false),
        ("a{3}", 3, Some(3), false),
        ("a{2,4}", 2, Some(4), false),
        ("a{2,}", 2, None, false),
        ("a+", 1, None, false),
        ("a*", 1, None, true),
        ("a?", 1, Some(1), true),
        ("a{2,4}?", 2, Some(4), true),
        ("a{3}?", 3, Some(3), true),
        ("a+?", 1, None, true),
        ("a optional", 1, Some(1), true),
        ("a{2} optional", 2, Some(2), true),
        ("a { 2 , 4 }", 2, Some(4), false),
        // Refused by the checker, not the grammar: the range is representable.
        ("a{3,1}", 3, Some(1), false),
    ] {
        let got = q(text);
        assert_eq!((got.min, got.max, got.optional), (min, max, optional), "{text}");
    }
    assert_eq!(q("a").span, None, "no quantifier written, no span");
}

#[test]
fn loop_options_and_the_quantifier_span() {
    let text = "rule r pattern a{2,4}? greedy consecutive combinations where x until y";
    let r = one(text);
    let quantifier = &stage(&r.pattern[0]).quantifier;
    assert!(quantifier.greedy && quantifier.consecutive && quantifier.allow_combinations);
    assert_eq!(quantifier.until.as_ref().unwrap().to_string(), "y");
    assert_eq!(snippet(text, quantifier.span.unwrap()), "{2,4}? greedy consecutive combinations");
    let words_only = "rule r pattern a greedy";
    let r = one(words_only);
    assert_eq!(snippet(words_only, stage(&r.pattern[0]).quantifier.span.unwrap()), "greedy");
}

#[test]
fn quantifiers_must_fail() {
    for text in ["a{}", "a{-1}", "a{x}", "a{1,2,3}", "a{2", "a??", "a{1}+"] {
        assert_eq!(errors(&format!("rule r pattern {text}"))[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let d = error("rule r pattern a greedy greedy", codes::DSL_SYNTAX);
    assert!(d.message.contains("`greedy` is written twice"), "{}", d.message);
    let d = error("rule r pattern a{99999999999}", codes::NUMBER_RANGE);
    assert!(d.message.contains("too large"));
}

#[test]
fn a_lower_bound_of_zero_is_refused_with_a_suggestion() {
    let text = "rule r pattern a{0,3}";
    let d = error(text, codes::INVALID_QUANTIFIER);
    assert_eq!(underlined(text, &d), "{0,3}");
    assert!(d.help.unwrap().contains("`{1,3}?`"));
    let d = error("rule r pattern a{0,}", codes::INVALID_QUANTIFIER);
    assert!(d.help.unwrap().contains("`*`"));
    let d = error("rule r pattern a{0}", codes::INVALID_QUANTIFIER);
    assert!(d.help.unwrap().contains("not followed by"));
}

// ----------------------------------------------------------------------- stage clauses

#[test]
fn stage_clauses_in_any_order() {
    let a = pattern("a where x > 1 until y max gap 5m");
    let b = pattern("a max gap 5m until y where x > 1");
    assert_eq!(a, b);
    let s = stage(&a[0]);
    assert_eq!(s.condition.as_ref().unwrap().to_string(), "x > 1");
    assert_eq!(s.max_gap.unwrap().millis, 300_000);
}

#[test]
fn expressions_end_where_no_operator_follows() {
    // `where a == b until c`: the condition stops before `until`.
    let s = pattern("a where a == b until c");
    assert_eq!(stage(&s[0]).condition.as_ref().unwrap().to_string(), "a == b");
    assert_eq!(stage(&s[0]).quantifier.until.as_ref().unwrap().to_string(), "c");
    // `where x > 1 followed by y`: the next stage starts after the condition.
    let p = pattern("x where x > 1 followed by y");
    assert_eq!(p.len(), 2);
    assert_eq!(stage(&p[0]).condition.as_ref().unwrap().to_string(), "x > 1");
    // A condition that is a bare path, then a connector, a clause, `max gap`, `not`.
    for (text, condition) in [
        ("a where active next b", "active"),
        ("a where active max gap 5m", "active"),
        ("a where x in [1, 2] not followed by b", "x in [1, 2]"),
        ("a where not x followed by any b", "!x"),
        ("a where a and b or c followed by b", "a && b || c"),
        ("a where max(drop.x) > 1 next b", "max(drop.x) > 1"),
    ] {
        let p = pattern(&format!("{text} within 5m"));
        assert_eq!(stage(&p[0]).condition.as_ref().unwrap().to_string(), condition, "{text}");
    }
    assert!(one("rule r pattern a where x > 1 within 5m skip to next").within.is_some());
}

#[test]
fn dsl_keywords_are_field_names_inside_expressions() {
    let p = pattern("a where within > 3 && skip == next.emit until pattern");
    let s = stage(&p[0]);
    assert_eq!(s.condition.as_ref().unwrap().to_string(), "within > 3 && skip == next.emit");
    assert_eq!(s.quantifier.until.as_ref().unwrap().to_string(), "pattern");
    let p = pattern("a where $[\"not\"] == 1");
    assert_eq!(stage(&p[0]).condition.as_ref().unwrap().to_string(), "$[\"not\"] == 1");
}

#[test]
fn stage_clauses_must_fail() {
    for text in [
        "a where",
        "a where x >",
        "a where x > 1 where y",
        "a until",
        "a max gap",
        "a max 5m",
        "a where x > 1 foo",
    ] {
        let d = errors(&format!("rule r pattern {text}"));
        assert_eq!(d[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let text = "rule r pattern a where x > 1 foo";
    let d = error(text, codes::DSL_SYNTAX);
    assert_eq!(underlined(text, &d), "foo");
    for expected in ["`until`", "a connector", "a clause", "an operator"] {
        assert!(d.message.contains(expected), "{expected} in {}", d.message);
    }
}

// ------------------------------------------------------------------------------ groups

#[test]
fn groups_nest_and_take_quantifiers() {
    let text = "rule r pattern arrive followed by group visit (enter where kind == \"enter\" \
                followed by leave where kind == \"leave\"){2}? greedy until kind == \"exit\" \
                next group outer (group inner (a next b)+ followed by c)";
    let r = one(text);
    let visit = group(&r.pattern[1]);
    assert_eq!(visit.name.text, "visit");
    assert_eq!(visit.contiguity, Some(Contiguity::Relaxed));
    assert_eq!(
        (visit.quantifier.min, visit.quantifier.max, visit.quantifier.optional),
        (2, Some(2), true)
    );
    assert!(visit.quantifier.greedy);
    assert_eq!(visit.quantifier.until.as_ref().unwrap().to_string(), "kind == \"exit\"");
    assert_eq!(visit.pattern.len(), 2);
    assert_eq!(stage(&visit.pattern[0]).contiguity, None, "first in its group");
    assert_eq!(stage(&visit.pattern[1]).contiguity, Some(Contiguity::Relaxed));
    let outer = group(&r.pattern[2]);
    let inner = group(&outer.pattern[0]);
    assert_eq!(inner.quantifier.max, None);
    assert_eq!(inner.pattern.len(), 2);
    assert!(snippet(text, visit.span).starts_with("followed by group visit ("));
    assert!(snippet(text, visit.span).ends_with("until kind == \"exit\""));
    let empty = pattern("group g ()");
    assert!(group(&empty[0]).pattern.is_empty(), "an empty group is the checker's to refuse");
}

#[test]
fn groups_must_fail() {
    for text in ["group (a)", "group g a", "group g (a", "group g (a) where x", "group g (a next)"]
    {
        assert_eq!(errors(&format!("rule r pattern {text}"))[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let text = "rule r pattern a not followed by group g (b)";
    let d = error(text, codes::DSL_SYNTAX);
    assert!(d.message.contains("a group cannot be absent"));
    assert_eq!(underlined(text, &d), "not followed by");
}

// ----------------------------------------------------------------------- within, skip

#[test]
fn within_and_skip_strategies() {
    let r = one("rule r pattern a within 1h30m");
    assert_eq!(r.within.unwrap().millis, 5_400_000);
    for (text, skip) in [
        ("", Skip::NoSkip),
        ("no skip", Skip::NoSkip),
        ("skip to next", Skip::ToNext),
        ("skip past last event", Skip::PastLastEvent),
        ("skip to first a", Skip::ToFirst(crate::ast::Name::new("a", Default::default()))),
        ("skip to last a", Skip::ToLast(crate::ast::Name::new("a", Default::default()))),
    ] {
        assert_eq!(one(&format!("rule r pattern a {text}")).skip, skip, "{text}");
    }
    let text = "rule r pattern a skip to last a";
    let Skip::ToLast(name) = one(text).skip else { panic!("to last") };
    assert_eq!(name.span.start as usize, text.len() - 1);
}

#[test]
fn within_and_skip_must_fail() {
    for text in [
        "within",
        "skip",
        "skip to",
        "skip past last",
        "skip to first",
        "skip next",
        "within 5m within 6m",
    ] {
        assert_eq!(
            errors(&format!("rule r pattern a {text}"))[0].code,
            codes::DSL_SYNTAX,
            "{text}"
        );
    }
    let d = error("rule r pattern a no skip skip to next", codes::DSL_SYNTAX);
    assert!(d.message.contains("skip strategy is written twice"), "{}", d.message);
}

#[test]
fn durations_and_their_errors() {
    for (text, millis) in
        [("500ms", 500), ("10s", 10_000), ("5m", 300_000), ("24h", 86_400_000), ("7d", 604_800_000)]
    {
        assert_eq!(one(&format!("rule r within {text}")).within.unwrap().millis, millis);
    }
    for bad in ["5", "5x", "10sec", "99999999999999999999d"] {
        let text = format!("rule r within {bad}");
        let d = error(&text, codes::INVALID_DURATION);
        assert_eq!(underlined(&text, &d), bad);
    }
    let text = "rule r within 24h";
    assert_eq!(snippet(text, one(text).within.unwrap().span), "24h");
}

// ------------------------------------------------------------------------------- emit

fn fields(text: &str) -> Vec<(String, Value)> {
    let r = one(&format!("rule r emit {{ {text} }}"));
    r.emit.unwrap().fields.into_iter().map(|(k, v)| (k.text, v)).collect()
}

#[test]
fn emit_values() {
    let got = fields(
        "trigger_type: \"hrv_drop\", severity: 0.8, count: 3, delta: -2, big: 1e3, \
         on: true, off: false, none: null, \"odd key\": 1, agents: [\"coach\", 1,], \
         nested: { a: { b: [] }, }, empty: {},",
    );
    let by_key = |k: &str| got.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(by_key("trigger_type"), Value::String(crate::ast::Template::text("hrv_drop")));
    assert_eq!(by_key("severity"), Value::Float(0.8));
    assert_eq!(by_key("count"), Value::Int(3));
    assert_eq!(by_key("delta"), Value::Int(-2));
    assert_eq!(by_key("big"), Value::Float(1000.0));
    assert_eq!(by_key("on"), Value::Bool(true));
    assert_eq!(by_key("off"), Value::Bool(false));
    assert_eq!(by_key("none"), Value::Null);
    assert_eq!(by_key("odd key"), Value::Int(1));
    assert!(matches!(by_key("agents"), Value::List(items) if items.len() == 2));
    assert!(matches!(by_key("nested"), Value::Map(m) if m.len() == 1));
    assert_eq!(by_key("empty"), Value::Map(vec![]));
}

#[test]
fn emit_topics_and_on_timeout() {
    let text = "rule r emit to alerts { a: 1 } on timeout emit { b: 2 }";
    let r = one(text);
    let emit = r.emit.unwrap();
    assert_eq!(emit.topic.unwrap().text, "alerts");
    assert_eq!(snippet(text, emit.span), "emit to alerts { a: 1 }");
    let timeout = r.on_timeout.unwrap();
    assert_eq!(timeout.topic, None, "no topic: the deployment's default");
    assert_eq!(snippet(text, timeout.span), "on timeout emit { b: 2 }");
    assert_eq!(
        one("rule r emit to \"odd topic\" {}").emit.unwrap().topic.unwrap().text,
        "odd topic"
    );
}

#[test]
fn emit_must_fail() {
    for text in [
        "emit { a: coach }",
        "emit { a 1 }",
        "emit { a: 1 b: 2 }",
        "emit to { a: 1 }",
        "emit { a: [1 2] }",
        "emit { 1: 2 }",
        "emit",
        "on timeout { a: 1 }",
    ] {
        assert_eq!(errors(&format!("rule r {text}"))[0].code, codes::DSL_SYNTAX, "{text}");
    }
    let d = error("rule r emit { a: coach }", codes::DSL_SYNTAX);
    assert_eq!(d.help.as_deref(), Some("text values are quoted: \"coach\""));
    let text = "rule r emit { a: 1 b: 2 }";
    let d = error(text, codes::DSL_SYNTAX);
    assert!(d.message.contains("expected `,` or `}`"), "{}", d.message);
    assert_eq!(underlined(text, &d), "b");
    let d = error("rule r emit { a: 1, a: 2 }", codes::DSL_SYNTAX);
    assert!(d.message.contains("field `a` is written twice"));
    error("rule r emit { a: 99999999999999999999 }", codes::NUMBER_RANGE);
}

#[test]
fn templates_in_strings() {
    let got = fields(
        "single: \"{{ count(drop) }}\", mixed: \"HRV {{ last(drop.metadata.value) }} low\", \
         escaped: \"{{ \\\"{{\\\" }} literal\", quoted: \"{{ lower(kind) == \\\"x\\\" }}\"",
    );
    let Value::String(single) = &got[0].1 else { panic!() };
    assert_eq!(single.as_single_expr().unwrap().to_string(), "count(drop)");
    let Value::String(mixed) = &got[1].1 else { panic!() };
    assert_eq!(mixed.parts.len(), 3);
    let Value::String(escaped) = &got[2].1 else { panic!() };
    assert_eq!(escaped.as_plain_text().as_deref(), Some("{{ literal"));
    let Value::String(quoted) = &got[3].1 else { panic!() };
    assert_eq!(quoted.as_single_expr().unwrap().to_string(), "lower(kind) == \"x\"");
}

#[test]
fn template_holes_point_into_the_file_even_after_escapes() {
    let text = r#"rule r emit { m: "a\"é\n{{ x.y }} and {{ f(z) }}" }"#;
    let r = one(text);
    let Value::String(t) = &r.emit.unwrap().fields[0].1 else { panic!("a string") };
    let holes: Vec<&Expr> = t
        .parts
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Expr(e) => Some(e),
            TemplatePart::Text(_) => None,
        })
        .collect();
    assert_eq!(snippet(text, holes[0].span), "x.y");
    assert_eq!(snippet(text, holes[1].span), "f(z)");
    let ExprKind::Call { name, args } = &holes[1].kind else { panic!("a call") };
    assert_eq!(snippet(text, name.span), "f");
    assert_eq!(snippet(text, args[0].span), "z");
    // An error inside a hole points there too.
    let text = r#"rule r emit { m: "\t{{ x > }}" }"#;
    let d = errors(text).remove(0);
    assert_eq!(d.code, codes::TEMPLATE_SYNTAX);
    assert_eq!(d.primary.unwrap().span.start as usize, text.find("}}").unwrap());
}

#[test]
fn unescaping_with_offsets_agrees_with_lower_string() {
    use pest::Parser as _;
    for literal in [
        r#""plain""#,
        r#""a\"b\\c\n\t\r""#,
        r#""\u{1F600} x \u{e9}""#,
        r#"'it\'s'"#,
        r#""\u{D800}""#,
    ] {
        let pair = CepParser::parse(R::string, literal).unwrap().next().unwrap();
        let raw = pair.clone().into_inner().next().unwrap().as_str();
        let (text, offsets) = lower::unescape_with_offsets(raw);
        assert_eq!(text, crate::expr::lower_string(pair), "{literal}");
        assert_eq!(offsets.len(), text.len() + 1);
        assert_eq!(*offsets.last().unwrap() as usize, raw.len());
    }
}

// -------------------------------------------------------------------- errors, recovery

#[test]
fn misspelt_keywords_get_a_suggestion() {
    let text = "rule r patern a";
    let d = error(text, codes::DSL_SYNTAX);
    assert_eq!(underlined(text, &d), "patern");
    assert_eq!(d.help.as_deref(), Some("did you mean `pattern`?"));
}

#[test]
fn a_missing_part_is_reported_after_the_last_token_not_at_the_next_rule() {
    let text = "rule a pattern x where\n\n\nrule b pattern y\n";
    let d = errors(text);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].primary.as_ref().unwrap().span.start as usize, "rule a pattern x where".len());
    assert!(d[0].message.contains("expected an expression"), "{}", d[0].message);
}

#[test]
fn recovery_reports_every_broken_rule_and_keeps_the_others() {
    let text =
        "rule a pattern x\nrule b pattern\nrule c pattern y within 5\nrule d pattern z emit {\n";
    let (rules, diagnostics) = parse(text, SRC);
    let names: Vec<&str> = rules.iter().map(|r| r.name.text.as_str()).collect();
    assert_eq!(names, ["a"], "b and d do not parse, c has a bad duration");
    let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [codes::DSL_SYNTAX, codes::INVALID_DURATION, codes::DSL_SYNTAX]);
}

#[test]
fn garbage_before_the_first_rule_is_reported() {
    let text = "hello\nrule a pattern x\n";
    let (rules, diagnostics) = parse(text, SRC);
    assert_eq!(rules.len(), 1);
    assert_eq!(underlined(text, &diagnostics[0]), "hello");
}

#[test]
fn a_rule_line_inside_a_string_does_not_cut_a_valid_file() {
    let text = "rule a \"two\nrule lines\" pattern x\n";
    assert_eq!(one(text).description.as_deref(), Some("two\nrule lines"));
}

#[test]
fn nesting_is_bounded_before_it_can_exhaust_the_stack() {
    let deep = |n: usize| format!("rule r pattern a where {}x{}", "(".repeat(n), ")".repeat(n));
    one(&deep(crate::expr::MAX_DEPTH - 1));
    assert_eq!(error(&deep(10_000), codes::TOO_DEEP).code, codes::TOO_DEEP);
    // Chains the text scan does not count still stop at the tree-depth check.
    let nots = format!("rule r pattern a where {}x", "not ".repeat(5_000));
    assert_eq!(errors(&nots)[0].code, codes::TOO_DEEP);
    let groups = format!("rule r pattern {}a{}", "group g (".repeat(5_000), ")".repeat(5_000));
    assert_eq!(errors(&groups)[0].code, codes::TOO_DEEP);
    // Closing brackets inside strings hide nesting from the text scan, not from the tree.
    let hidden =
        format!("rule r pattern a where {}x{}", "f(\")\", ".repeat(3_000), ")".repeat(3_000));
    assert_eq!(errors(&hidden)[0].code, codes::TOO_DEEP);
    let escaped = format!("rule r emit {{ m: \"{{{{ {}x }}}}\" }}", "\\u{21}".repeat(5_000));
    assert_eq!(errors(&escaped)[0].code, codes::TOO_DEEP);
}

// ---------------------------------------------------------------------------- printer

const HRV: &str = r#"rule hrv_drop "HRV falls 25% below baseline on three readings within a day"
from biometric-updates key user_id time timestamp out of order 5s
filter event_type == "hrv_measurement"
pattern
  baseline where metadata.value >= 40
  followed by drop{3,} where metadata.value < baseline.metadata.value * 0.75
  not followed by recovered where metadata.value >= baseline.metadata.value max gap 12h
within 1d
skip past last event
emit to alerts {
  trigger_type: "hrv_drop",
  severity: 0.8,
  message: "HRV {{ last(drop.metadata.value) }} vs baseline {{ baseline.metadata.value }}",
  recommended_agents: ["neuroscientist", "coach"],
}
on timeout emit to alerts {
  trigger_type: "hrv_drop_incomplete",
}
"#;

#[test]
fn the_printer_writes_the_canonical_form() {
    let written = "rule hrv_drop \"HRV falls 25% below baseline on three readings within a day\"\n\
        from biometric-updates key user_id time timestamp out of order 5s\n\
        filter event_type == \"hrv_measurement\"\npattern\n  baseline where metadata.value >= 40\n\
        followed by drop{3,} where metadata.value < baseline.metadata.value * 0.75\n\
        not followed by recovered where metadata.value >= baseline.metadata.value max gap 12h\n\
        within 24h skip past last event\n\
        emit to alerts { trigger_type: \"hrv_drop\", severity: 0.8,\n\
        message: \"HRV {{ last(drop.metadata.value) }} vs baseline {{ baseline.metadata.value }}\",\n\
        recommended_agents: [\"neuroscientist\", \"coach\"], }\n\
        on timeout emit to alerts { trigger_type: \"hrv_drop_incomplete\" }";
    assert_eq!(print(&one(written)), HRV);
    assert_eq!(print(&one(HRV)), HRV);
}

#[test]
fn the_printer_writes_groups_quantifiers_and_odd_names() {
    let text = "rule r\n\
        from \"odd topic\", alerts\n\
        pattern\n\
        \x20 a*\n\
        \x20 next group g (\n\
        \x20   b{2,4}? greedy consecutive combinations until x\n\
        \x20   followed by any group h (\n\
        \x20     c+\n\
        \x20   )\n\
        \x20 ){2,}\n\
        \x20 not next d\n\
        skip to first g\n\
        emit {\n\
        \x20 \"odd key\": { a: [1, 2.0, true, null], b: {} },\n\
        }\n";
    assert_eq!(print(&one(text)), text);
    let first = "rule r\npattern\n  not followed by a\n  followed by b?\n";
    assert_eq!(print(&one(first)), first, "what the checker refuses still prints faithfully");
}

#[test]
fn template_text_ending_in_a_brace_before_a_hole_reads_back() {
    let rule = one("rule r emit { m: \"a{{ \\\"{\\\" }}{{ x }}\" }");
    let Value::String(t) = &rule.emit.as_ref().unwrap().fields[0].1 else { panic!("a string") };
    assert!(matches!(&t.parts[0], TemplatePart::Text(s) if s == "a{"));
    assert_eq!(one(&print(&rule)), rule);
}

#[test]
fn printed_expressions_keep_their_operators() {
    let p = pattern("a where (x + 1) * 2 > y || !(z == 1)");
    let ExprKind::Binary { op, .. } = &stage(&p[0]).condition.as_ref().unwrap().kind else {
        panic!()
    };
    assert_eq!(*op, BinaryOp::Or);
    let printed =
        print(&one("rule r pattern a where (x + 1) * 2 > y || !(z == 1) emit { v: -1.5 }"));
    // `not` binds looser than `==`, so `!(z == 1)` needs no parentheses.
    assert!(printed.contains("where (x + 1) * 2 > y || !z == 1"), "{printed}");
    assert_eq!(
        one(&printed),
        one("rule r pattern a where (x + 1) * 2 > y || !(z == 1) emit { v: -1.5 }")
    );
    assert!(printed.contains("v: -1.5,"), "{printed}");
}

#[test]
fn every_grammar_rule_has_a_friendly_name() {
    // Silent rules (`_{ }`) never appear in pest's errors, so they need no name.
    let silent = [
        R::WHITESPACE,
        R::COMMENT,
        R::atom,
        R::path_segment,
        R::literal,
        R::number,
        R::ident_char,
        R::keyword,
        R::element,
        R::stage_clause,
    ];
    let unnamed: Vec<R> = R::all_rules()
        .iter()
        .copied()
        .filter(|r| !silent.contains(r) && parser::friendly_rule_name(*r) == "a rule")
        .collect();
    assert_eq!(unnamed, [], "rules without a name for error messages");
}

#[test]
fn long_runs_of_dashes_in_comments_and_text_are_not_nesting() {
    let line = "-".repeat(100);
    let bangs = "!".repeat(100);
    let text = format!(
        "# {line}\nrule r \"{line}\" # {bangs}\npattern a where m != \"{bangs}(((\" \
         emit {{ message: \"{line} {{{{ x }}}} {bangs}\" }}\n"
    );
    one(&text);
}

#[test]
fn reserved_words_are_exactly_the_listed_ones() {
    for word in RESERVED_WORDS {
        // As a rule name, where nothing else could start.
        let text = format!("rule {word} pattern a");
        let d = errors(&text);
        assert_eq!(underlined(&text, &d[0]), *word, "{word} is refused as a name");
        // A longer word that starts like it is an ordinary name.
        assert_eq!(pattern(&format!("{word}x")).len(), 1);
    }
    // Words that only follow other keywords stay free as names.
    for word in [
        "from", "key", "time", "out", "of", "order", "filter", "by", "gap", "to", "past", "last",
        "first", "event", "timeout",
    ] {
        let p = pattern(&format!("{word} next a skip to first {word}"));
        assert_eq!(p[0].name().text, word);
    }
}
