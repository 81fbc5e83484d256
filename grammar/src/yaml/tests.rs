use super::*;
use crate::ast::{Contiguity, Element, ExprKind, Literal, Skip, TemplatePart, Value};
use crate::source::SourceFile;

const HRV: &str = include_str!("../../tests/fixtures/ok/hrv_drop.yaml");

fn parse_ok(text: &str) -> Vec<Rule> {
    let (rules, diagnostics) = parse(text, SourceId(0));
    assert!(diagnostics.is_empty(), "unexpected diagnostics: {}", report(text, &diagnostics));
    rules
}

/// Each diagnostic as `CODE line:col message`, with its help when it has one.
fn report(text: &str, diagnostics: &[Diagnostic]) -> String {
    let file = SourceFile::new("t.yaml", text);
    diagnostics
        .iter()
        .map(|d| {
            let place = d.primary.as_ref().map_or("-".to_string(), |p| {
                let (l, c) = file.line_col(p.span.start as usize);
                format!("{l}:{c}")
            });
            match &d.help {
                Some(h) => format!("{} {place} {} (help: {h})", d.code, d.message),
                None => format!("{} {place} {}", d.code, d.message),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn errors(text: &str) -> String {
    let (rules, diagnostics) = parse(text, SourceId(0));
    assert!(rules.is_empty() || !diagnostics.is_empty(), "expected diagnostics for {text:?}");
    report(text, &diagnostics)
}

/// The text a span covers.
fn at(text: &str, span: Span) -> &str {
    &text[span.range()]
}

fn stage(e: &Element) -> &crate::ast::Stage {
    match e {
        Element::Stage(s) => s,
        Element::Group(g) => panic!("expected a stage, found group {}", g.name),
    }
}

#[test]
fn the_design_example_lowers_to_its_meaning() {
    let rules = parse_ok(HRV);
    assert_eq!(rules.len(), 1);
    let r = &rules[0];
    assert_eq!(r.name.text, "hrv_drop");
    assert_eq!(
        r.description.as_deref(),
        Some("HRV falls 25% below baseline on three readings within a day")
    );
    assert_eq!(
        r.source.topics.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["biometric-updates"]
    );
    assert_eq!(r.source.key.as_ref().map(|k| k.to_string()).as_deref(), Some("user_id"));
    assert_eq!(
        r.source.filter.as_ref().map(|f| f.to_string()).as_deref(),
        Some("event_type == \"hrv_measurement\"")
    );
    assert_eq!(r.source.max_out_of_orderness.map(|d| d.millis), Some(5_000));
    assert_eq!(r.within.map(|d| d.millis), Some(86_400_000));
    assert_eq!(r.skip, Skip::PastLastEvent);

    let [baseline, drop, recovered] = r.pattern.as_slice() else { panic!("three stages") };
    let (baseline, drop, recovered) = (stage(baseline), stage(drop), stage(recovered));
    assert_eq!(baseline.contiguity, None, "the first element has no contiguity unless written");
    assert!(baseline.quantifier.is_single());
    assert_eq!(drop.contiguity, Some(Contiguity::Relaxed));
    assert_eq!((drop.quantifier.min, drop.quantifier.max), (3, None));
    assert!(!drop.quantifier.optional && !drop.quantifier.greedy && !drop.quantifier.consecutive);
    assert_eq!(
        drop.quantifier.until.as_ref().map(|u| u.to_string()).as_deref(),
        Some("metadata.value > 60")
    );
    assert!(recovered.absent);
    assert_eq!(recovered.max_gap.map(|d| d.millis), Some(12 * 3_600_000));

    let emit = r.emit.as_ref().expect("emit");
    assert_eq!(emit.topic.as_ref().map(|t| t.text.as_str()), Some("alerts"));
    let fields: Vec<&str> = emit.fields.iter().map(|(n, _)| n.text.as_str()).collect();
    assert_eq!(fields, ["trigger_type", "severity", "message", "recommended_agents"]);
    assert!(matches!(&emit.fields[1].1, Value::Float(f) if *f == 0.8));
    let Value::String(message) = &emit.fields[2].1 else { panic!("message is a template") };
    assert_eq!(message.parts.len(), 4, "{message:?}");
    assert!(
        matches!(&message.parts[1], TemplatePart::Expr(e) if e.to_string() == "last(drop.metadata.value)")
    );
    assert!(matches!(&emit.fields[3].1, Value::List(items) if items.len() == 2));
    let timeout = r.on_timeout.as_ref().expect("on_timeout");
    assert_eq!(timeout.fields.len(), 1);
}

#[test]
fn spans_point_at_what_was_written() {
    let r = &parse_ok(HRV)[0];
    assert_eq!(at(HRV, r.name.span), "hrv_drop");
    assert!(at(HRV, r.span).starts_with("name: hrv_drop"));
    assert!(at(HRV, r.span).ends_with("{ trigger_type: hrv_drop_incomplete }"));
    let drop = stage(&r.pattern[1]);
    assert_eq!(at(HRV, drop.name.span), "drop");
    assert!(at(HRV, drop.span).starts_with("stage: drop"));
    assert!(at(HRV, drop.span).ends_with("baseline.metadata.value * 0.75"));
    assert_eq!(at(HRV, drop.contiguity_span.expect("written")), "contiguity: relaxed");
    assert_eq!(at(HRV, drop.quantifier.span.expect("times written")), "\"3..\"");
    assert_eq!(
        at(HRV, drop.condition.as_ref().expect("where").span),
        "metadata.value < baseline.metadata.value * 0.75"
    );
    assert_eq!(stage(&r.pattern[0]).quantifier.span, None);
    assert_eq!(at(HRV, r.within.expect("within").span), "24h");
    let emit = r.emit.as_ref().expect("emit");
    assert!(at(HRV, emit.span).starts_with("topic: alerts"));
    assert_eq!(at(HRV, emit.fields[0].0.span), "trigger_type");
    let Value::String(message) = &emit.fields[2].1 else { panic!("a template") };
    let TemplatePart::Expr(hole) = &message.parts[1] else { panic!("a hole") };
    assert_eq!(at(HRV, hole.span), "last(drop.metadata.value)");
    assert_eq!(
        at(HRV, r.source.filter.as_ref().expect("filter").span),
        "event_type == \"hrv_measurement\""
    );
}

#[test]
fn contiguity_is_none_only_on_a_first_element_that_does_not_write_it() {
    let text = "name: r\npattern:\n  - stage: a\n    contiguity: strict\n  - stage: b\n  - stage: c\n    contiguity: any\n  - group: g\n    pattern:\n      - stage: d\n      - stage: e\n";
    let r = &parse_ok(text)[0];
    let contiguities: Vec<_> = r.pattern.iter().map(Element::contiguity).collect();
    assert_eq!(
        contiguities,
        [
            Some(Contiguity::Strict),
            Some(Contiguity::Relaxed),
            Some(Contiguity::NonDeterministic),
            Some(Contiguity::Relaxed)
        ]
    );
    assert_eq!(
        at(text, stage(&r.pattern[0]).contiguity_span.expect("written")),
        "contiguity: strict"
    );
    assert_eq!(stage(&r.pattern[1]).contiguity_span, None);
    let Element::Group(g) = &r.pattern[3] else { panic!("a group") };
    assert_eq!(g.pattern[0].contiguity(), None, "first of a group");
    assert_eq!(g.pattern[1].contiguity(), Some(Contiguity::Relaxed));
    assert!(at(text, g.span).starts_with("group: g") && at(text, g.span).ends_with("stage: e"));
}

#[test]
fn a_contiguity_or_times_written_out_equals_its_default() {
    let implicit = &parse_ok("name: r\npattern:\n  - stage: a\n  - stage: b\n")[0];
    let explicit = &parse_ok(
        "name: r\npattern:\n  - stage: a\n  - stage: b\n    contiguity: relaxed\n    times: 1\n",
    )[0];
    assert_eq!(implicit, explicit);
    assert_ne!(
        stage(&implicit.pattern[1]).contiguity_span.is_some(),
        stage(&explicit.pattern[1]).contiguity_span.is_some()
    );
}

#[test]
fn a_file_holds_a_rule_a_list_or_documents_of_either() {
    let one = "name: a\npattern: [{stage: s}]\n";
    let list = "- name: a\n  pattern: [{stage: s}]\n- name: b\n  pattern: [{stage: s}]\n";
    let docs = "name: a\npattern: [{stage: s}]\n---\n- name: b\n  pattern: [{stage: s}]\n- name: c\n  pattern: [{stage: s}]\n---\n";
    let names = |t: &str| parse_ok(t).iter().map(|r| r.name.text.clone()).collect::<Vec<_>>();
    assert_eq!(names(one), ["a"]);
    assert_eq!(names(list), ["a", "b"]);
    assert_eq!(names(docs), ["a", "b", "c"]);
}

#[test]
fn times_forms() {
    let q = |times: &str| {
        let text = format!("name: r\npattern:\n  - stage: s\n    times: {times}\n");
        let r = &parse_ok(&text)[0];
        let q = &stage(&r.pattern[0]).quantifier;
        (q.min, q.max)
    };
    assert_eq!(q("\"3\""), (3, Some(3)));
    assert_eq!(q("3"), (3, Some(3)));
    assert_eq!(q("\"2..5\""), (2, Some(5)));
    assert_eq!(q("\"1..\""), (1, None));
    assert_eq!(q("2.."), (2, None));
    assert_eq!(q("\" 2 .. 4 \""), (2, Some(4)));
}

#[test]
fn times_errors() {
    let e = |times: &str| errors(&format!("name: r\npattern:\n  - stage: s\n    times: {times}\n"));
    let zero = e("\"0..\"");
    assert!(zero.starts_with("E0105 4:12 "), "{zero}");
    assert!(zero.contains("times: \"1..\"` with `optional: true`"), "{zero}");
    assert!(e("\"0..3\"").contains("times: \"1..3\"` with `optional: true`"));
    assert!(e("0").starts_with("E0105"));
    assert!(
        e("\"3..1\"").starts_with("E0105 4:12 `times` upper bound 1 is below its lower bound 3")
    );
    assert!(e("x").starts_with("E0105 4:12 invalid `times`: `x`"));
    assert!(e("\"-1\"").starts_with("E0105"));
    assert_eq!(
        e("1.5"),
        r#"E0103 4:12 `times` takes a count such as "3", "2..5" or "1..", found `1.5`"#
    );
    assert!(e("99999999999").starts_with("E0007 4:12"));
}

#[test]
fn skip_forms() {
    let skip = |s: &str| {
        parse_ok(&format!("name: r\npattern: [{{stage: a}}]\nskip: {s}\n"))[0].skip.clone()
    };
    assert_eq!(skip("no_skip"), Skip::NoSkip);
    assert_eq!(skip("to_next"), Skip::ToNext);
    assert_eq!(skip("past_last_event"), Skip::PastLastEvent);
    assert!(matches!(skip("{to_first: a}"), Skip::ToFirst(n) if n.text == "a"));
    assert!(matches!(skip("\n  to_last: a"), Skip::ToLast(n) if n.text == "a"));
    let e = |s: &str| errors(&format!("name: r\npattern: [{{stage: a}}]\nskip: {s}\n"));
    assert!(e("past_last").contains("did you mean `past_last_event`?"));
    assert!(e("to_first").contains("write `skip: {to_first: STAGE}`"));
    assert!(e("{to_first: a, to_last: a}").starts_with("E0103"));
}

#[test]
fn expression_errors_point_into_the_yaml_line() {
    let col = |value: &str| {
        let text = format!("name: r\npattern:\n  - stage: s\n    where: {value}\n");
        errors(&text)
    };
    // The value starts at column 12; the error is at the second `>`.
    assert_eq!(col("metadata.value >> 3"), "E0004 4:28 invalid expression: expected an expression");
    assert!(col("\"metadata.value >> 3\"").starts_with("E0004 4:29 "));
    assert!(col("'metadata.value >> 3'").starts_with("E0004 4:29 "));
    // Escapes and doubled quotes before the error shift it in the file, not in the value.
    assert!(
        col(r#""a == \"x\" && b >> 3""#).starts_with("E0004 4:30 "),
        "{}",
        col(r#""a == \"x\" && b >> 3""#)
    );
    assert!(
        col("'a == ''x'' && b >> 3'").starts_with("E0004 4:30 "),
        "{}",
        col("'a == ''x'' && b >> 3'")
    );
    assert!(col(r#""a\t>> 3""#).starts_with("E0004 4:17 "), "{}", col(r#""a\t>> 3""#));
}

#[test]
fn expression_errors_in_block_and_multi_line_scalars() {
    let text = "name: r\npattern:\n  - stage: s\n    where: |\n      a > 1 &&\n        b >> 2\n  - stage: t\n    where: >-\n      x\n      > > 3\n  - stage: u\n    where: a\n      > > 1\n";
    let report = errors(text);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("E0004 6:12 "), "{report}");
    assert!(lines[1].starts_with("E0004 10:9 "), "{report}");
    assert!(lines[2].starts_with("E0004 13:9 "), "{report}");
}

#[test]
fn template_and_path_errors_point_into_the_yaml_line() {
    let text = "name: r\nsource:\n  key: user..id\npattern: [{stage: s}]\nemit:\n  fields:\n    message: \"x {{ a + }}\"\n    nested:\n      - {deep: \"{{ ) }}\"}\n";
    let report = errors(text);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("E0004 3:13 invalid field path"), "{report}");
    assert!(lines[1].starts_with("E0005 7:24 invalid template"), "{report}");
    assert!(lines[2].starts_with("E0005 9:20 invalid template"), "{report}");
}

#[test]
fn unknown_keys_point_at_the_key_and_suggest() {
    let text =
        "name: r\npattern:\n  - stage: s\n    wher: a > 1\nwithn: 5m\nsource:\n  topic: [a]\n";
    let report = errors(text);
    assert_eq!(
        report,
        "E0101 4:5 unknown key `wher` in a pattern element (help: did you mean `where`?)\n\
         E0101 5:1 unknown key `withn` in a rule (help: did you mean `within`?)\n\
         E0101 7:3 unknown key `topic` in `source` (help: did you mean `topics`?)"
    );
}

#[test]
fn stage_keys_on_a_group_and_group_keys_on_a_stage() {
    let text = "name: r\npattern:\n  - group: g\n    where: a\n    absent: true\n    pattern: [{stage: x}]\n  - stage: s\n    pattern: [{stage: y}]\n";
    let report = errors(text);
    assert!(report.contains("E0101 4:5 `where` is not a key of a group"), "{report}");
    assert!(report.contains("E0101 5:5 `absent` is not a key of a group"), "{report}");
    assert!(report.contains("E0101 8:5 `pattern` is not a key of a stage"), "{report}");
}

#[test]
fn stage_or_group_and_missing_keys() {
    let report = errors(
        "- pattern:\n    - stage: a\n      group: b\n    - times: 2\n    - group: c\n- name: x\n",
    );
    assert_eq!(
        report,
        "E0102 1:3 missing key `name` in a rule (help: every rule needs a name, unique in the rule set: `name: my_rule`)\n\
         E0106 3:7 a pattern element is a stage or a group, not both (help: write the stage and the group as two elements, or make the stage part of the group's `pattern`)\n\
         E0106 4:7 a pattern element needs `stage: NAME` or `group: NAME` (help: name the stage: add `stage: NAME`)\n\
         E0102 5:7 missing key `pattern` in a group (help: a group holds a sub-pattern: `pattern:` with its `- stage: NAME` elements)\n\
         E0102 6:3 missing key `pattern` in a rule (help: a rule needs a `pattern` (a list of `- stage: NAME` elements), or a `window` to aggregate over time)"
    );
}

#[test]
fn the_values_of_a_broken_element_are_still_checked() {
    let report =
        errors("name: r\npattern:\n  - stage: a\n    group: b\n    where: x >\n  - times: \"0\"\n");
    let codes: Vec<&str> = report.lines().map(|l| &l[..5]).collect();
    assert_eq!(codes, ["E0106", "E0004", "E0106", "E0105"], "{report}");
}

#[test]
fn a_block_scalar_of_the_wrong_type_is_reported_once() {
    let report =
        errors("name: r\npattern:\n  - stage: a\n    optional: |\n      yes\n    where: x >\n");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 1, "{report}");
    assert!(lines[0].starts_with("E0103 5:7 `optional` takes `true` or `false`"), "{report}");
}

#[test]
fn wrong_values_name_the_accepted_ones() {
    let report = errors(
        "name: r\npattern:\n  - stage: a\n  - stage: b\n    contiguity: strictt\n    optional: yes\n    where: true\n",
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("E0103 5:17 unknown contiguity `strictt`"), "{report}");
    assert!(
        lines[0].contains("did you mean `strict`? (accepted: `strict`, `relaxed`, `any`)"),
        "{report}"
    );
    assert!(
        lines[1].starts_with("E0103 6:15 `optional` takes `true` or `false`, found `yes`"),
        "{report}"
    );
    assert!(lines[2].starts_with("E0103 7:12 `where` takes an expression as a string"), "{report}");
    // Quoted, it is an expression.
    parse_ok("name: r\npattern:\n  - stage: a\n    where: \"true\"\n");
}

#[test]
fn bad_durations() {
    let report = errors(
        "name: r\nsource:\n  max_out_of_orderness: 5\npattern:\n  - stage: a\n  - stage: b\n    max_gap: 10x\nwithin: -1s\n",
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("E0104 3:25 invalid duration: `5` has no unit"), "{report}");
    assert!(lines[1].starts_with("E0104 7:14 "), "{report}");
    assert!(lines[2].starts_with("E0104 8:9 "), "{report}");
}

#[test]
fn one_broken_rule_does_not_hide_the_others() {
    let text = "- name: a\n  pattern: [{stage: s, times: [1]}]\n- name: ok\n  pattern: [{stage: s}]\n- name: c\n  patern: []\n---\nname: d\npattern: [{stage: s, where: \"a >\"}]\n";
    let (rules, diagnostics) = parse(text, SourceId(0));
    assert_eq!(rules.iter().map(|r| r.name.text.as_str()).collect::<Vec<_>>(), ["ok"]);
    let report = report(text, &diagnostics);
    let places: Vec<String> =
        report.lines().map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(places, ["E0103 2:31", "E0101 6:3", "E0004 9:33"], "{report}");
}

#[test]
fn empty_files() {
    for text in ["", "\n\n", "# nothing\n", "---\n", "---\n...\n", "[]\n", "~\n"] {
        let report = errors(text);
        assert!(report.starts_with("E0107 1:1 the file holds no rule"), "{text:?}: {report}");
    }
}

#[test]
fn yaml_syntax_errors_have_their_position() {
    assert!(errors("name: r\n  bad: : x\n").starts_with("E0003 2:6 invalid YAML"));
    assert!(errors("name: 'r\n").starts_with("E0003 "));
    assert!(errors("name: [r\n").starts_with("E0003 "));
    let dup = errors("name: r\nname: s\npattern: []\n");
    assert!(dup.starts_with("E0003 2:1 duplicate key `name`"), "{dup}");
}

#[test]
fn things_that_are_not_rules() {
    assert_eq!(
        errors("hello\n"),
        "E0103 1:1 expected a rule (a mapping) or a list of rules, found a string"
    );
    let report = errors("- 5\n- [a]\n- ~\n- name: r\n  pattern: []\n");
    assert!(report.starts_with("E0103 1:3 expected a rule (a mapping with `name` and `pattern`), found a string\nE0103 2:3 "));
    assert!(report.contains("E0103 3:3 expected a rule, found nothing"), "{report}");
}

#[test]
fn emit_values_keep_their_types() {
    let text = "name: r\npattern: [{stage: s}]\nemit:\n  fields:\n    n: 3\n    big: -9223372036854775808\n    f: 2.5\n    b: true\n    z: ~\n    s: plain\n    q: \"{{ s.x }}\"\n    l: [1, two, [3]]\n    m: {a: {b: c}}\n    no: no\n";
    let r = &parse_ok(text)[0];
    let fields = &r.emit.as_ref().expect("emit").fields;
    let value = |k: &str| &fields.iter().find(|(n, _)| n.text == k).expect(k).1;
    assert_eq!(value("n"), &Value::Int(3));
    assert_eq!(value("big"), &Value::Int(i64::MIN));
    assert_eq!(value("f"), &Value::Float(2.5));
    assert_eq!(value("b"), &Value::Bool(true));
    assert_eq!(value("z"), &Value::Null);
    assert!(
        matches!(value("s"), Value::String(t) if t.as_plain_text().as_deref() == Some("plain"))
    );
    assert!(matches!(value("q"), Value::String(t) if t.as_single_expr().is_some()));
    assert!(
        matches!(value("l"), Value::List(items) if matches!(items.as_slice(), [Value::Int(1), Value::String(_), Value::List(_)]))
    );
    assert!(
        matches!(value("m"), Value::Map(m) if m[0].0.text == "a" && matches!(&m[0].1, Value::Map(_)))
    );
    // YAML 1.2: `no` is a string, not a boolean.
    assert!(matches!(value("no"), Value::String(t) if t.as_plain_text().as_deref() == Some("no")));
}

#[test]
fn integers_too_large_for_emit_are_refused() {
    let report =
        errors("name: r\npattern: [{stage: s}]\nemit:\n  fields:\n    n: 18446744073709551615\n");
    assert!(
        report.starts_with("E0103 5:8 integer 18446744073709551615 does not fit in 64 bits"),
        "{report}"
    );
}

#[test]
fn aliases_are_read_and_located_at_their_anchor() {
    let text =
        "- name: a\n  pattern: &p\n    - stage: s\n      where: x > 1\n- name: b\n  pattern: *p\n";
    let rules = parse_ok(text);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].pattern, rules[1].pattern);
    let condition = stage(&rules[1].pattern[0]).condition.as_ref().expect("where");
    assert_eq!(at(text, condition.span), "x > 1");
}

#[test]
fn placement_of_escaped_and_folded_values() {
    use super::scalar::Placement;
    let text = r#"k: "a\tbc""#;
    let p = Placement::new(text, 3, 10, "a\tbc");
    // `b` is value byte 2 and file byte 7; the tab sits, zero-width, on its escape.
    assert_eq!(p.span(SourceId(0), 2, 3).range(), 7..8);
    assert_eq!(p.span(SourceId(0), 1, 2).range(), 5..5);
    assert_eq!(p.whole(SourceId(0), "a\tbc").range(), 4..9);
    let plain = "k: abc";
    assert_eq!(Placement::new(plain, 3, 6, "abc"), Placement::Exact(3));
    assert_eq!(Placement::new("k: 'abc'", 3, 8, "abc"), Placement::Exact(4));
}

#[test]
fn errors_inside_a_rule_are_all_reported() {
    let text = "name: r\nsource:\n  filter: a ==\npattern:\n  - stage: a\n    where: (b\n  - stage: c\n    until: d >\n    max_gap: 1y\nwithin: 2w\n";
    let (rules, diagnostics) = parse(text, SourceId(0));
    assert!(rules.is_empty());
    assert_eq!(diagnostics.len(), 5, "{}", report(text, &diagnostics));
}

#[test]
fn the_printer_writes_canonical_yaml() {
    let r = &parse_ok(HRV)[0];
    let printed = print(r);
    assert_eq!(
        printed,
        "name: hrv_drop
description: HRV falls 25% below baseline on three readings within a day
source:
  topics: [biometric-updates]
  key: user_id
  time: timestamp
  filter: event_type == \"hrv_measurement\"
  max_out_of_orderness: 5s
pattern:
  - stage: baseline
    where: metadata.value >= 40
  - stage: drop
    contiguity: relaxed
    times: \"3..\"
    until: metadata.value > 60
    where: metadata.value < baseline.metadata.value * 0.75
  - stage: recovered
    absent: true
    contiguity: relaxed
    max_gap: 12h
    where: metadata.value >= baseline.metadata.value
within: 1d
skip: past_last_event
emit:
  topic: alerts
  fields:
    trigger_type: hrv_drop
    severity: 0.8
    message: HRV {{ last(drop.metadata.value) }} vs baseline {{ baseline.metadata.value }}
    recommended_agents: [neuroscientist, coach]
on_timeout:
  topic: alerts
  fields:
    trigger_type: hrv_drop_incomplete
"
    );
    assert_eq!(&parse_ok(&printed)[0], r);
}

#[test]
fn the_printer_quotes_what_would_read_differently() {
    for s in [
        "",
        " lead",
        "trail ",
        "true",
        "no",
        "null",
        "~",
        "12",
        "-1",
        ".5",
        "+1",
        "a: b",
        "a #b",
        "#c",
        "- x",
        "[x]",
        "{x}",
        "*x",
        "&x",
        "!x",
        "|x",
        ">x",
        "'x",
        "\"x",
        "%x",
        "@x",
        "`x",
        "x:",
        "line\nbreak",
        "tab\there",
        "nel\u{85}",
        "ls\u{2028}",
        "bom\u{feff}",
        "bell\u{7}",
        "del\u{7f}",
        "<<",
        "=",
        "?x",
        ":x",
        "back\\slash",
        "é",
    ] {
        let text = format!("name: {}\npattern: []\n", print::scalar(s));
        let rules = parse_ok(&text);
        assert_eq!(rules[0].name.text, s, "{text}");
        let flow =
            format!("name: r\nsource:\n  topics: [{}, x]\npattern: []\n", print::flow_scalar(s));
        let rules = parse_ok(&flow);
        assert_eq!(rules[0].source.topics[0].text, s, "{flow}");
    }
    assert_eq!(print::scalar("metadata.value >= 40"), "metadata.value >= 40");
    assert_eq!(print::scalar("\"a\" in tags"), "\"\\\"a\\\" in tags\"");
}

#[test]
fn the_raw_key_tables_are_the_keys_serde_accepts() {
    // serde lists a struct's keys in its unknown-key error: compare them with `KEYS`.
    let accepted = |text: &str| -> Vec<String> {
        let err = serde_saphyr::from_str_with_options::<raw::RawDocument>(text, recover::options())
            .expect_err("an unknown key");
        match err {
            serde_saphyr::Error::SerdeUnknownField { expected, .. } => {
                expected.iter().map(|s| s.to_string()).collect()
            }
            other => panic!("unexpected error {other:?}"),
        }
    };
    let keys = |k: &[raw::KeyDoc]| k.iter().map(|k| k.key.to_string()).collect::<Vec<_>>();
    assert_eq!(accepted("bogus: 1\n"), keys(raw::RawRule::KEYS));
    assert_eq!(accepted("source: {bogus: 1}\n"), keys(raw::RawSource::KEYS));
    assert_eq!(accepted("pattern: [{bogus: 1}]\n"), keys(raw::RawElement::KEYS));
    assert_eq!(accepted("emit: {bogus: 1}\n"), keys(raw::RawEmit::KEYS));
    assert_eq!(accepted("window: {bogus: 1}\n"), keys(raw::RawWindow::KEYS));
    assert_eq!(accepted("window: {sliding: {bogus: 1}}\n"), keys(raw::RawSliding::KEYS));
    assert_eq!(accepted("aggregates: {a: {bogus: 1}}\n"), keys(raw::RawAggregateLong::KEYS));
    for k in raw::RawRule::KEYS
        .iter()
        .chain(raw::RawSource::KEYS)
        .chain(raw::RawElement::KEYS)
        .chain(raw::RawEmit::KEYS)
        .chain(raw::RawWindow::KEYS)
        .chain(raw::RawSliding::KEYS)
        .chain(raw::RawSession::KEYS)
        .chain(raw::RawAggregateLong::KEYS)
        .chain(raw::RawWindows::KEYS)
    {
        assert!(!k.doc.trim().is_empty(), "`{}` has no doc comment", k.key);
        assert!(schema::has_value_schema(k.key), "`{}` has no value schema", k.key);
    }
}

#[test]
fn a_condition_that_is_a_literal_keeps_its_kind() {
    let r = &parse_ok("name: r\npattern:\n  - stage: a\n    where: '\"x\" == kind'\n")[0];
    let c = stage(&r.pattern[0]).condition.as_ref().expect("where");
    let ExprKind::Binary { lhs, .. } = &c.kind else { panic!("a comparison") };
    assert!(matches!(&lhs.kind, ExprKind::Literal(Literal::String(s)) if s == "x"));
}
