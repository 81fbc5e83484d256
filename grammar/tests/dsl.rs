//! The DSL through the public API: printing and parsing round-trip, hostile input never panics,
//! and `.cep` files load through `load_texts`.

mod support;

use cepheus_grammar::ast::{Element, Rule};
use cepheus_grammar::diagnostic::codes;
use cepheus_grammar::source::SourceMap;
use cepheus_grammar::{Diagnostic, SourceId, dsl, load_texts};
use proptest::prelude::*;
use support::arb::{arb_rule, forget_written_spans};

/// Parses text that must hold exactly one rule and no problem.
fn parse_one(text: &str) -> Rule {
    let (mut rules, diagnostics) = dsl::parse(text, SourceId(0));
    let mut sources = SourceMap::new();
    sources.add("rule.cep", text);
    assert!(
        diagnostics.is_empty(),
        "{text}\n{}",
        cepheus_grammar::diagnostic::render_all(&diagnostics, &sources)
    );
    assert_eq!(rules.len(), 1, "{text}");
    rules.remove(0)
}

/// Every diagnostic points inside the text, on character boundaries (so rendering can slice).
fn assert_spans_inside(text: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        for label in d.primary.iter().chain(&d.secondary) {
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(start <= end && end <= text.len(), "{d:?} outside {} bytes", text.len());
            assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "{d:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn printed_rules_parse_back_to_the_same_ast(rule in arb_rule()) {
        let text = dsl::print(&rule);
        let mut parsed = parse_one(&text);
        forget_written_spans(&mut parsed);
        prop_assert_eq!(&parsed, &rule, "printed as:\n{}", text);
        // Printing is canonical: the parsed rule prints the same text again.
        prop_assert_eq!(dsl::print(&parsed), text);
    }

    #[test]
    fn several_printed_rules_in_one_file_parse_back_in_order(rules in prop::collection::vec(arb_rule(), 1..4)) {
        let text: String = rules.iter().map(|r| dsl::print(r) + "\n").collect();
        let (mut parsed, diagnostics) = dsl::parse(&text, SourceId(0));
        prop_assert!(diagnostics.is_empty(), "{:?}", diagnostics);
        parsed.iter_mut().for_each(forget_written_spans);
        prop_assert_eq!(parsed, rules);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let (_, diagnostics) = dsl::parse(&text, SourceId(0));
        assert_spans_inside(&text, &diagnostics);
    }

    #[test]
    fn arbitrary_dsl_like_text_never_panics(
        text in "(rule|pattern|where|followed|by|not|next|group|within|skip|emit|on|timeout|\\{|\\}|\\(|\\)|\\[|\\]|\\{\\{|\"|'|\\\\|[a-z0-9]|[ \n:,.*+?!=<>-]|#){0,60}"
    ) {
        let (_, diagnostics) = dsl::parse(&text, SourceId(0));
        assert_spans_inside(&text, &diagnostics);
    }

    #[test]
    fn mutated_rules_never_panic(
        rule in arb_rule(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<char>()), 1..6),
    ) {
        let mut text = dsl::print(&rule);
        for (at, kind, c) in edits {
            let boundaries: Vec<usize> =
                text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let i = *at.get(&boundaries);
            let next = boundaries.iter().copied().find(|&b| b > i).unwrap_or(i);
            match kind {
                0 => text.insert(i, c),
                1 => text.replace_range(i..next, ""),
                _ => text.replace_range(i..next, c.encode_utf8(&mut [0; 4])),
            }
        }
        let (_, diagnostics) = dsl::parse(&text, SourceId(0));
        assert_spans_inside(&text, &diagnostics);
    }
}

#[test]
fn the_design_example_loads_as_a_rule_file() {
    let text = r#"
# HRV drop below the user's own baseline
rule hrv_drop "HRV falls 25% below baseline on three readings within a day"
from biometric-updates key user_id time timestamp out of order 5s
filter event_type == "hrv_measurement"
pattern
  baseline where metadata.value >= 40
  followed by drop{3,} where metadata.value < baseline.metadata.value * 0.75
  not followed by recovered where metadata.value >= baseline.metadata.value max gap 12h
within 24h
skip past last event
emit to alerts {
  trigger_type: "hrv_drop", severity: 0.8,
  message: "HRV {{ last(drop.metadata.value) }} vs baseline {{ baseline.metadata.value }}",
  recommended_agents: ["neuroscientist", "coach"],
}
on timeout emit to alerts { trigger_type: "hrv_drop_incomplete" }
"#;
    let loaded = load_texts(&[("rules/health/hrv_drop.cep", text)]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let [rule] = loaded.rules.as_slice() else { panic!("one rule, got {}", loaded.rules.len()) };
    assert_eq!(rule.name.text, "hrv_drop");
    assert_eq!(rule.source.topics[0].text, "biometric-updates");
    assert_eq!(rule.within.map(|d| d.millis), Some(86_400_000));
    let names: Vec<&str> = rule.pattern.iter().map(|e| e.name().text.as_str()).collect();
    assert_eq!(names, ["baseline", "drop", "recovered"]);
    let Element::Stage(recovered) = &rule.pattern[2] else { panic!("a stage") };
    assert!(recovered.absent);
    assert_eq!(recovered.max_gap.map(|d| d.millis), Some(12 * 3_600_000));
    // Spans point into the loaded file.
    assert_eq!(loaded.sources.snippet(rule.name.span), "hrv_drop");
    assert_eq!(loaded.sources.snippet(recovered.name.span), "recovered");
}

#[test]
fn a_camera_rule_with_a_group_round_trips_through_print() {
    let text = r#"rule intrusion "motion, then an unauthorized face on the same camera"
from motion.detection.events, face.recognition.events key camera_id time timestamp
pattern
  motion where event_type == "motion.detected" && total_objects > 0
  followed by group sighting (
    face where event_type == "face.recognized" && !is_authorized
    next confirm where event_type == "face.recognized" && face_id == face.face_id
  ){1,3} greedy
within 30s
skip to last sighting
emit to alert.events {
  trigger_type: "unauthorized_face",
  alert_level: "CRITICAL",
  camera: "{{ motion.camera_id }}",
  faces: "{{ count(face) }}",
}
"#;
    let rule = parse_one(text);
    let mut again = parse_one(&dsl::print(&rule));
    assert_eq!(again, rule);
    forget_written_spans(&mut again);
    let Element::Group(sighting) = &rule.pattern[1] else { panic!("a group") };
    assert_eq!((sighting.quantifier.min, sighting.quantifier.max), (1, Some(3)));
    assert!(sighting.quantifier.greedy);
    assert_eq!(sighting.pattern.len(), 2);
}

#[test]
fn broken_rules_each_get_a_diagnostic_and_intact_ones_still_load() {
    let text = "rule ok_one pattern a where x > 1\n\
                rule broken_one pattern a where x >\n\
                rule ok_two pattern b\n\
                rule broken_two pattern c followed by\n";
    let (rules, diagnostics) = dsl::parse(text, SourceId(0));
    let names: Vec<&str> = rules.iter().map(|r| r.name.text.as_str()).collect();
    assert_eq!(names, ["ok_one", "ok_two"]);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(diagnostics.iter().all(|d| d.code == codes::DSL_SYNTAX));
    let lines: Vec<usize> = diagnostics
        .iter()
        .map(|d| text[..d.primary.as_ref().unwrap().span.start as usize].lines().count())
        .collect();
    assert_eq!(lines, [2, 4], "each diagnostic is on its broken rule's line");
}

/// The guide's complete DSL examples (```cep blocks) load, and print back to equal rules.
#[test]
fn the_rule_language_guide_examples_parse() {
    let guide = include_str!("../../docs/rule-language.md");
    let mut blocks = 0;
    for block in guide.split("```cep\n").skip(1) {
        let text = block.split("```").next().expect("split yields at least one piece");
        let loaded = load_texts(&[("guide.cep", text)]);
        assert!(!loaded.has_errors(), "{text}\n{:?}", loaded.diagnostics);
        for rule in &loaded.rules {
            assert_eq!(&parse_one(&dsl::print(rule)), rule, "{text}");
        }
        blocks += 1;
    }
    assert!(blocks >= 6, "found {blocks} examples");
}

#[test]
fn an_empty_file_says_so() {
    let (rules, diagnostics) = dsl::parse("# only a comment\n", SourceId(0));
    assert!(rules.is_empty());
    assert_eq!(diagnostics[0].code, codes::EMPTY_FILE);
}
